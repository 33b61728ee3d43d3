/* commit.c -- the output commit protocol and its recovery (see commit.h).
 *
 * Presumed abort: an attempt's output counts only once rank 0 has renamed
 * its staging directory onto the output name. Everything before that rename
 * is undone by removing the staging directory; everything after it is
 * finished by removing what the rename left at the staging name.
 *
 * Names, all in the output's parent directory P, for an output P/NAME:
 *
 *   P/NAME                       the published output (or absent)
 *   P/.NAME.mill-staging-ATTEMPT one attempt's staging directory (mode 0700)
 *   P/.NAME.mill-lock            the lock file; rank 0 of the attempt holds
 *                                flock(LOCK_EX) on it from begin to end
 *   P/.NAME.mill-old-ATTEMPT     the old output, set aside by an --overwrite
 *                                where rename takes no flags (see below)
 *
 * ATTEMPT is "sJOB[_TASK]-rRESTART-" from SLURM_JOB_ID, SLURM_ARRAY_TASK_ID
 * and SLURM_RESTART_COUNT when present, then 16 random hex digits from rank
 * 0 (two runs in one Slurm job differ). The manifest P/NAME/_SUCCESS
 * records its ATTEMPT.
 *
 * State machine of one attempt A (what is durable on disk, in order):
 *
 *   S0 locked      lock file held; staging absent.
 *   S1 staging     P/.NAME.mill-staging-A exists (0700), parts being written.
 *   S2 prepared    every part fsynced and hashed; staging dir fsynced.
 *   S3 manifested  staging/_SUCCESS (attempt A) complete and fsynced,
 *                  staging chmod'ed to the umask's mode and fsynced.
 *   S4 committed   renameat2(staging -> NAME): NOREPLACE when NAME is
 *                  absent, EXCHANGE under --overwrite when it exists (and,
 *                  checked again just before, is still replaceable). This
 *                  one rename is the commit point. After EXCHANGE the OLD
 *                  output sits at the staging name.
 *   S5 durable     P fsynced; only now is success reported.
 *   S6 clean       staging name removed (the old output, after EXCHANGE),
 *                  P fsynced, lock file unlinked and released.
 *   Abort (any NO vote, any error before S4): staging removed; NAME untouched.
 *
 * Recovery (under the lock, from disk only) looks at every
 * P/.NAME.mill-staging-X and removes it. That single action is right in
 * every state, which is the invariant the protocol is built on:
 *
 *   - before S4, the staging name holds attempt X's uncommitted output
 *     (complete manifest or not: S1..S3 all roll back, presumed abort);
 *   - at or after S4, it holds nothing (NOREPLACE) or the output that X
 *     replaced (EXCHANGE), whose removal finishes X's commit.
 *
 * So the staging name never holds the only copy of a committed result. To
 * report which case it was, recovery compares X with the attempt recorded
 * in P/NAME/_SUCCESS: equal means X committed and the directory is the old
 * output; otherwise X did not commit. Removal is idempotent and may be
 * interrupted anywhere; a rerun removes the rest.
 *
 * Filesystems whose rename takes no flags (NFS, FUSE, CephFS: EINVAL). S4
 * is then a plain rename. For a fresh output it can replace only an empty
 * directory, never a file or a non-empty one. Under --overwrite it takes two
 * renames: NAME to P/.NAME.mill-old-X (S3b: no output at NAME for that
 * instant), then staging to NAME (S4, the commit point). Recovery handles
 * the old-X name first: with NAME absent, X stopped between the two
 * renames and did not commit, so old-X goes back to NAME; with NAME from
 * attempt X, X committed and old-X is removed like an exchanged staging
 * directory. Any other NAME is left alone and reported.
 *
 * Stale attempts: rank 0 takes the lock before creating its staging
 * directory and keeps it until after its last rename, and the lock dies
 * with the process. Recovery and new attempts take the same lock, so they
 * run only when the previous attempt's rank 0 is dead or done: a dying
 * attempt can never rename over a newer one. Other ranks of a dying attempt
 * may still write for a second or two; they only ever create files inside
 * their own staging directory (which recovery removes, retrying when a late
 * file appears). Before renaming, rank 0 also checks that the lock file and
 * the staging directory by name are still the ones it holds open.
 *
 * Safety: everything works relative to directory descriptors with
 * O_NOFOLLOW; recovery refuses a staging entry that is a symbolic link or
 * not a directory, or whose tree holds a symbolic link, or whose manifest
 * names anything but a plain file name -- it reports an error and leaves it.
 *
 * File operations go through fault.h's wrappers (countdown injection) and
 * the numbered fault points mark every state transition.
 */
#include "commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include "fault.h"
#include "json.h"
#include "metrics.h"
#include "mpimill/job.h"
#include "runtime.h"

#define STAGING_TAG ".mill-staging-"
#define LOCK_TAG ".mill-lock"
#define ASIDE_TAG ".mill-old-"
/* Longest output name: "." NAME STAGING_TAG ATTEMPT must fit in NAME_MAX. */
#define BASE_MAX 160
#define ATTEMPT_MAX 64
/* The characters of an attempt id (make_attempt), by which recovery knows its own names. */
#define ATTEMPT_CHARS "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-"

typedef struct staged {
    char name[NAME_MAX + 1];
    int fd; /* owned by the commit until mill__commit_end */
} staged;

/* One attempt. Invariants: parent_fd/staging_fd are open on every rank
 * between begin and end; lock_fd >= 0 only on rank 0, and then the lock is
 * held; committed is set on rank 0 right after the rename succeeded. */
struct mill__commit {
    MPI_Comm comm;
    int rank, size;
    int overwrite;
    int parent_fd;
    int staging_fd;
    int lock_fd;
    int committed, exchanged; /* exchanged: the old output is at the staging (or aside) name */
    int unsynced; /* the parent's fsync after the rename failed: cleanup is left to recovery */
    mode_t umask;
    char base[BASE_MAX + 1];        /* the output's name in its parent */
    char staging[NAME_MAX + 1];     /* the staging directory's name in the parent */
    char aside[NAME_MAX + 1];       /* where a plain-rename --overwrite puts the old output; "" if unused */
    char lockname[NAME_MAX + 1];    /* the lock file's name in the parent */
    char attempt[ATTEMPT_MAX + 1];  /* this attempt's id */
    staged *files;
    size_t nfiles, cap;
    char *list;       /* set by the prepare: this rank's files as manifest JSON entries */
    double prepare_s; /* the prepare's seconds on this rank */
};

/* Splits outdir into its parent directory (written to parent) and its last
 * component (to base). Returns 0, or MILL_EINVAL with a message when the
 * last component is not a usable name. */
static int split_output(const char *outdir, char *parent, size_t plen, char *base, char *err,
                        size_t errlen) {
    char a[PATH_MAX], b[PATH_MAX];
    if (!outdir || !*outdir || strlen(outdir) >= sizeof a) {
        snprintf(err, errlen, "output %s: not a usable path", outdir ? outdir : "(null)");
        return MILL_EINVAL;
    }
    snprintf(a, sizeof a, "%s", outdir);
    size_t l = strlen(a);
    while (l > 1 && a[l - 1] == '/') a[--l] = '\0';
    memcpy(b, a, l + 1);
    const char *p = dirname(a), *n = basename(b);
    if (!mill__commit_name_ok(n) || strlen(n) > BASE_MAX) {
        snprintf(err, errlen, "output %s: not a usable directory name", outdir);
        return MILL_EINVAL;
    }
    /* Names of the commit's own entries: the recovery of another output
     * would take such an output for its leftovers, and remove or move it. */
    size_t nl = strlen(n), tl = strlen(LOCK_TAG);
    int lock = nl > tl && !strcmp(n + nl - tl, LOCK_TAG);
    if (n[0] == '.' && (strstr(n, STAGING_TAG) || strstr(n, ASIDE_TAG) || lock)) {
        snprintf(err, errlen, "output %s: a name of the form .NAME" STAGING_TAG "*, .NAME" ASIDE_TAG "* or .NAME"
                 LOCK_TAG " is kept for mpimill's own entries beside output NAME", outdir);
        return MILL_EINVAL;
    }
    snprintf(parent, plen, "%s", p);
    snprintf(base, BASE_MAX + 1, "%s", n);
    return 0;
}

/* ---- the lock ----------------------------------------------------------- */

/* Takes flock(LOCK_EX) on parent/name, creating the file, waiting up to
 * MPIMILL_LOCK_WAIT_MS. Retries when the file it locked is no longer the one
 * at that name (a holder unlinks it before releasing). Refuses a link.
 * Returns 0 with *fd holding the lock, or an error with a message. */
static int lock_acquire(int parent_fd, const char *name, const char *what, int *fd, char *err,
                        size_t errlen) {
    const char *w = getenv("MPIMILL_LOCK_WAIT_MS");
    long wait_ms = w && *w ? strtol(w, NULL, 10) : 30000;
    double deadline = mill__now() + (double)wait_ms / 1000.0;
    for (;;) {
        int f = mill__fault_openat(parent_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0) {
            int e = errno;
            snprintf(err, errlen, "%s: lock file %s: %s%s", what, name, strerror(e),
                     e == ELOOP ? " (a symbolic link: refused)"
                     : e == EACCES || e == EROFS ? " (the output's parent directory must be writable)" : "");
            return e == ELOOP ? MILL_EINVAL : MILL_EIO;
        }
        struct stat a, b;
        if (fstat(f, &a) != 0) {
            snprintf(err, errlen, "%s: lock file %s: %s", what, name, strerror(errno));
            close(f);
            return MILL_EIO;
        }
        if (!S_ISREG(a.st_mode)) {
            snprintf(err, errlen, "%s: lock file %s is not a regular file: refused", what, name);
            close(f);
            return MILL_EINVAL;
        }
        if (flock(f, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(f);
            if (e != EWOULDBLOCK && e != EINTR) {
                snprintf(err, errlen, "%s: flock %s: %s", what, name, strerror(e));
                return MILL_EIO;
            }
            if (mill__now() > deadline) {
                snprintf(err, errlen, "%s is in use by another job (waited %ld ms for its lock %s; "
                         "MPIMILL_LOCK_WAIT_MS sets how long)", what, wait_ms, name);
                return MILL_ETIMEOUT;
            }
            mill__sleep_ms(50);
            continue;
        }
        int gone = fstatat(parent_fd, name, &b, AT_SYMLINK_NOFOLLOW) != 0;
        if (!gone && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            *fd = f;
            return 0;
        }
        if (gone && errno != ENOENT) { /* an error, not a holder's unlink: retried at once, for ever */
            snprintf(err, errlen, "%s: lock file %s: %s", what, name, strerror(errno));
            close(f);
            return MILL_EIO;
        }
        close(f); /* unlinked by its last holder: lock the new one */
    }
}

/* Returns 1 while the file at parent/name is still the one fd locks. */
static int lock_still_ours(int parent_fd, const char *name, int fd) {
    struct stat a, b;
    return fstat(fd, &a) == 0 && fstatat(parent_fd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Removes the lock file (while still holding it) and releases it. A failure
 * to unlink leaves a harmless lock file that the next holder removes. */
static void lock_release(int parent_fd, const char *name, int *fd) {
    if (*fd < 0) return;
    if (lock_still_ours(parent_fd, name, *fd)) (void)mill__fault_unlinkat(parent_fd, name, 0);
    close(*fd);
    *fd = -1;
}

/* ---- removing trees safely ---------------------------------------------- */

/* Checks that dfd/name, when a directory, holds no symbolic link at any
 * depth (and is none itself). Returns 0 or MILL_EINVAL/MILL_EIO. */
static int tree_check(int dfd, const char *name, const char *top, char *err, size_t errlen, int depth) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "checking %s: %s: %s", top, name, strerror(errno));
        return MILL_EIO;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "refusing to clean %s: %s is a symbolic link", top, name);
        return MILL_EINVAL;
    }
    if (!S_ISDIR(st.st_mode)) return 0;
    if (depth > 64) {
        snprintf(err, errlen, "refusing to clean %s: nested too deeply", top);
        return MILL_EINVAL;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "refusing to clean %s: %s: %s", top, name, strerror(errno));
        return errno == ELOOP ? MILL_EINVAL : MILL_EIO;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        snprintf(err, errlen, "refusing to clean %s: %s: %s", top, name, strerror(errno));
        close(fd);
        return MILL_EIO;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        rc = tree_check(dirfd(d), de->d_name, top, err, errlen, depth + 1);
    }
    if (rc == 0 && errno != 0) { /* a listing cut short must not pass for a clean one */
        snprintf(err, errlen, "refusing to clean %s: listing %s: %s", top, name, strerror(errno));
        rc = MILL_EIO;
    }
    closedir(d);
    return rc;
}

/* Removes dfd/name and everything below it, never following a link (links
 * are refused, not removed). Reaches fault point `point` after each entry
 * removed. Returns 0 (also when name is absent) or an error with a message;
 * when a removal fails, its errno is stored in *last_errno (ENOTEMPTY means
 * a late writer added a file: the caller may retry). */
static int rmtree_at(int dfd, const char *name, int point, const char *top, int *last_errno, char *err,
                     size_t errlen) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cleaning %s: %s: %s", top, name, strerror(errno));
        return MILL_EIO;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "refusing to clean %s: %s is a symbolic link", top, name);
        return MILL_EINVAL;
    }
    int rc = 0;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) return 0;
            snprintf(err, errlen, "cleaning %s: %s: %s", top, name, strerror(errno));
            return errno == ELOOP ? MILL_EINVAL : MILL_EIO;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
            snprintf(err, errlen, "cleaning %s: %s: %s", top, name, strerror(errno));
            close(fd);
            return MILL_EIO;
        }
        struct dirent *de;
        while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            rc = rmtree_at(dirfd(d), de->d_name, point, top, last_errno, err, errlen);
        }
        if (rc == 0 && errno != 0) {
            snprintf(err, errlen, "cleaning %s: listing %s: %s", top, name, strerror(errno));
            rc = MILL_EIO;
        }
        closedir(d);
        if (rc) return rc;
    }
    if (mill__fault_unlinkat(dfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) {
        *last_errno = errno;
        snprintf(err, errlen, "cleaning %s: remove %s: %s", top, name, strerror(errno));
        return MILL_EIO;
    }
    MILL_FAULT(point);
    return 0;
}

/* Removes the staging-area entry parent/name after checking it (see the
 * safety rules above). Retries a few times when a late writer of a dying
 * attempt adds a file meanwhile. */
static int remove_staging(int parent_fd, const char *name, int point, char *err, size_t errlen) {
    int rc = tree_check(parent_fd, name, name, err, errlen, 0);
    for (int tries = 0; rc == 0; tries++) {
        int e = 0;
        rc = rmtree_at(parent_fd, name, point, name, &e, err, errlen);
        if (rc == 0 || e != ENOTEMPTY || tries == 20) break;
        rc = 0;
        mill__sleep_ms(100);
    }
    return rc;
}

int mill__commit_output_ok(const char *outdir, char *err, size_t errlen) {
    char parent[PATH_MAX], base[BASE_MAX + 1];
    return split_output(outdir, parent, sizeof parent, base, err, errlen);
}

/* ---- recovery ------------------------------------------------------------- */

/* Returns 1 when s has the form of an attempt id (make_attempt): letters,
 * digits, '_' and '-', at most ATTEMPT_MAX of them. So ".NAME" TAG "x.y"
 * is not one of NAME's entries (it may be another output's, such as the
 * staging directory of an output called NAME.mill-old-x). */
static int attempt_like(const char *s) {
    size_t n = strspn(s, ATTEMPT_CHARS);
    return n > 0 && n <= ATTEMPT_MAX && s[n] == '\0';
}

/* Lists the entries of the parent named ".BASE" TAG ATTEMPT, with ATTEMPT
 * of an attempt id's form, into *names (*n of them, malloc'ed). Returns 0
 * or MILL_EIO/MILL_ENOMEM with a message. */
static int list_tagged(int parent_fd, const char *base, const char *tag, char ***names, size_t *n, char *err,
                       size_t errlen) {
    char prefix[NAME_MAX + 1];
    snprintf(prefix, sizeof prefix, ".%s%s", base, tag);
    size_t plen = strlen(prefix), cap = 0;
    *names = NULL;
    *n = 0;
    int dfd = dup(parent_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0) close(dfd);
        snprintf(err, errlen, "recover %s: cannot list its parent: %s", base, strerror(errno));
        return MILL_EIO;
    }
    rewinddir(d);
    int rc = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0 || !attempt_like(de->d_name + plen)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nn = realloc(*names, cap * sizeof *nn);
            if (!nn) {
                rc = MILL_ENOMEM;
                break;
            }
            *names = nn;
        }
        if (!((*names)[*n] = strdup(de->d_name))) {
            rc = MILL_ENOMEM;
            break;
        }
        (*n)++;
    }
    if (rc == 0 && errno != 0) { /* a short list would leave entries unrecovered */
        snprintf(err, errlen, "recover %s: listing its parent: %s", base, strerror(errno));
        rc = MILL_EIO;
    } else if (rc) {
        snprintf(err, errlen, "recover %s: out of memory", base);
    }
    closedir(d);
    return rc;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Writes the attempt recorded in parent/base/_SUCCESS to out ("" when there
 * is no readable output). Returns 0, or MILL_EINVAL with a message when
 * that manifest is one recovery must not act on: a link, or naming unsafe
 * files (as a staging manifest would be refused). */
static int output_attempt(int parent_fd, const char *base, char *out, size_t len, char *err, size_t errlen) {
    out[0] = '\0';
    int ofd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ofd < 0) return 0;
    mill__manifest om;
    char e2[256];
    int rc = mill__manifest_read(ofd, &om, e2, sizeof e2);
    if (rc == 0) {
        snprintf(out, len, "%s", om.attempt);
        mill__manifest_free(&om);
    }
    close(ofd);
    if (rc != MILL_EINVAL) return 0;
    snprintf(err, errlen, "recover: refusing %s: %s", base, e2);
    return rc;
}

/* Recovers the old outputs set aside by plain-rename overwrites (see the
 * top of this file): put back when NAME is absent, removed when NAME is
 * that attempt's. An entry that is not a directory is not one of ours and
 * is left alone; one whose tree holds a link is refused (an error, as for
 * staging entries); one that is neither case is left, with a warning
 * (the output was replaced by hand since). With NAME absent and more than
 * one such directory, which one to put back is a guess: refused (an error
 * naming them), nothing changed. Counts what it changed in *changed. */
static int recover_aside(int parent_fd, const char *base, FILE *report, int *changed, char *err, size_t errlen) {
    char **names;
    size_t n, dirs = 0;
    int rc = list_tagged(parent_fd, base, ASIDE_TAG, &names, &n, err, errlen);
    size_t plen = strlen(base) + 1 + strlen(ASIDE_TAG);
    struct stat st;
    for (size_t i = 0; i < n; i++)
        if (fstatat(parent_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) dirs++;
    if (rc == 0 && dirs > 1 && fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
        snprintf(err, errlen, "recover %s: the output is absent and %zu earlier outputs are set aside (.%s%s*): "
                 "rename the right one back to %s by hand", base, dirs, base, ASIDE_TAG, base);
        rc = MILL_EEXIST;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *name = names[i], *attempt = name + plen;
        char committed[sizeof ((mill__manifest *)0)->attempt];
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
        if ((rc = tree_check(parent_fd, name, name, err, errlen, 0)) != 0) break;
        if (fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
            if (report)
                fprintf(report, "mpimill: recover: attempt %s stopped while replacing the output; putting the "
                        "previous output back\n", attempt);
            if (mill__fault_renameat2(parent_fd, name, parent_fd, base, 0) != 0) {
                snprintf(err, errlen, "recover: %s: rename to %s: %s", name, base, strerror(errno));
                rc = MILL_EIO;
            }
        } else if ((rc = output_attempt(parent_fd, base, committed, sizeof committed, err, errlen)) != 0) {
            break;
        } else if (!strcmp(committed, attempt)) {
            if (report) fprintf(report, "mpimill: recover: attempt %s committed; removing the output it replaced\n",
                                attempt);
            rc = remove_staging(parent_fd, name, MILL_FAULT_IN_RECOVERY, err, errlen);
        } else {
            fprintf(report ? report : stderr, "mpimill: warning: recover: left %s: the output %s is not attempt %s's "
                    "(remove it by hand if it is not needed)\n", name, base, attempt);
            continue;
        }
        if (rc == 0) (*changed)++;
    }
    free_names(names, n);
    return rc;
}

/* Recovers the staging area of parent/base; the caller holds the lock.
 * Implements the decision described at the top of this file. Returns 0, or
 * the first error (after handling every other entry) with its message; an
 * output manifest recovery must not read (output_attempt) is refused
 * before any entry is handled. */
static int recover_locked(int parent_fd, const char *base, FILE *report, char *err, size_t errlen) {
    int removed = 0;
    int rc = recover_aside(parent_fd, base, report, &removed, err, errlen);
    if (rc) return rc;
    char **names;
    size_t n;
    rc = list_tagged(parent_fd, base, STAGING_TAG, &names, &n, err, errlen);
    size_t plen = strlen(base) + 1 + strlen(STAGING_TAG);

    /* Which attempt does the published output come from? */
    char committed[sizeof ((mill__manifest *)0)->attempt] = "";
    if (rc == 0 && n > 0 && (rc = output_attempt(parent_fd, base, committed, sizeof committed, err, errlen)) != 0) {
        free_names(names, n);
        return rc;
    }

    for (size_t i = 0; i < n; i++) {
        const char *name = names[i], *attempt = name + plen;
        char e[MILL__ERRLEN] = "";
        int r = 0;
        struct stat st;
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            snprintf(e, sizeof e, "recover: %s: %s", name, strerror(errno));
            r = MILL_EIO;
        } else if (S_ISLNK(st.st_mode)) {
            snprintf(e, sizeof e, "recover: refusing %s: staging entry is a symbolic link", name);
            r = MILL_EINVAL;
        } else if (!S_ISDIR(st.st_mode)) {
            snprintf(e, sizeof e, "recover: refusing %s: staging entry is not a directory", name);
            r = MILL_EINVAL;
        }
        const char *what = NULL;
        if (r == 0) {
            int sfd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd < 0) {
                int oe = errno;
                if (oe == ENOENT) continue; /* removed meanwhile */
                snprintf(e, sizeof e, "recover: refusing %s: %s", name, strerror(oe));
                r = MILL_EINVAL;
            } else {
                mill__manifest sm;
                char e2[512];
                int mr = mill__manifest_read(sfd, &sm, e2, sizeof e2);
                close(sfd);
                if (mr == MILL_EINVAL) {
                    snprintf(e, sizeof e, "recover: refusing %s: %s", name, e2);
                    r = MILL_EINVAL;
                } else if (committed[0] && !strcmp(committed, attempt)) {
                    what = "committed; removing the output it replaced";
                } else if (mr == 0 && !strcmp(sm.attempt, attempt)) {
                    what = "prepared but not committed (manifest durable, no rename); rolling back";
                } else {
                    what = "not committed; removing its staging directory";
                }
                if (mr == 0) mill__manifest_free(&sm);
            }
        }
        if (r == 0) {
            if (report) fprintf(report, "mpimill: recover: attempt %s %s\n", attempt, what);
            r = remove_staging(parent_fd, name, MILL_FAULT_IN_RECOVERY, e, sizeof e);
            if (r == 0) removed++;
        }
        if (r && !rc) {
            rc = r;
            snprintf(err, errlen, "%s", e);
        }
    }
    free_names(names, n);
    if (removed && mill__fault_fsync(parent_fd) != 0 && !rc) {
        snprintf(err, errlen, "recover %s: fsync of the parent directory: %s", base, strerror(errno));
        rc = MILL_EIO;
    }
    if (rc == 0 && report && removed == 0) fprintf(report, "mpimill: recover: %s: nothing to recover\n", base);
    return rc;
}

/* mill__commit_recover, through at most `links` more symbolic links. */
static int recover_path(const char *outdir, int links, FILE *report, char *err, size_t errlen) {
    char parent[PATH_MAX], base[BASE_MAX + 1], lockname[NAME_MAX + 1];
    int rc = split_output(outdir, parent, sizeof parent, base, err, errlen);
    if (rc) return rc;
    /* A link to an output (latest -> run42/out): what a job left is beside
     * the target, under its name, so recovery goes there, as verify does.
     * The target itself may be missing (killed while the old output was
     * set aside): its name is what counts, so the link is read, not resolved. */
    char link[PATH_MAX + BASE_MAX + 2], to[PATH_MAX], target[2 * PATH_MAX + 2];
    struct stat st;
    snprintf(link, sizeof link, "%s/%s", parent, base);
    if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(link, to, sizeof to - 1);
        if (n <= 0 || links == 0) {
            snprintf(err, errlen, "recover %s: %s", outdir, n <= 0 ? strerror(errno) : "too many levels of links");
            return MILL_EIO;
        }
        to[n] = '\0';
        snprintf(target, sizeof target, "%s%s%s", to[0] == '/' ? "" : parent, to[0] == '/' ? "" : "/", to);
        if (report) fprintf(report, "mpimill: recover: %s is a link to %s\n", outdir, target);
        return recover_path(target, links - 1, report, err, errlen);
    }
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        snprintf(err, errlen, "recover %s: parent directory %s: %s", outdir, parent, strerror(errno));
        return MILL_EIO;
    }
    snprintf(lockname, sizeof lockname, ".%s" LOCK_TAG, base);
    int lfd = -1;
    rc = lock_acquire(pfd, lockname, outdir, &lfd, err, errlen);
    struct statvfs vfs;
    int ro = rc == MILL_EIO && fstatvfs(pfd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
    int denied = rc == MILL_EIO && !ro && faccessat(pfd, ".", W_OK | X_OK, AT_EACCESS) != 0 && errno == EACCES;
    if (ro || denied) {
        /* No lock on a read-only filesystem or in a directory this user
         * cannot write: fine when nothing is left to recover (an archived
         * output, another user's). What is left may be a running job's
         * when others can write there, so it is only counted. */
        char **names[2] = {NULL, NULL};
        size_t n[2] = {0, 0};
        int lr = list_tagged(pfd, base, STAGING_TAG, &names[0], &n[0], err, errlen);
        if (lr == 0) lr = list_tagged(pfd, base, ASIDE_TAG, &names[1], &n[1], err, errlen);
        for (int k = 0; k < 2; k++) free_names(names[k], n[k]);
        if (lr == 0 && n[0] + n[1] == 0) {
            if (report)
                fprintf(report, "mpimill: recover: %s: nothing to recover (%s)\n", base,
                        ro ? "read-only filesystem" : "its parent directory is not writable here");
            rc = 0;
        } else if (lr == 0) {
            snprintf(err, errlen, "recover %s: %zu entr%s left by %s", outdir, n[0] + n[1],
                     n[0] + n[1] == 1 ? "y" : "ies",
                     ro ? "interrupted jobs, on a read-only filesystem: remount it writable to recover"
                        : "jobs, interrupted or running, in a directory this user cannot write: recover as a user "
                          "who can");
        } else {
            rc = lr;
        }
    } else if (rc == 0) {
        rc = recover_locked(pfd, base, report, err, errlen);
        lock_release(pfd, lockname, &lfd);
    }
    close(pfd);
    return rc;
}

int mill__commit_recover(const char *outdir, FILE *report, char *err, size_t errlen) {
    return recover_path(outdir, 40, report, err, errlen);
}

/* ---- begin ------------------------------------------------------------------ */

/* Writes this attempt's id: the Slurm job, task and restart when present
 * (for people reading the manifest), then random digits (for uniqueness:
 * one Slurm job can run several jobs on the same output). */
static int make_attempt(char *out, size_t len, char *err, size_t errlen) {
    const char *job = getenv("SLURM_JOB_ID"), *task = getenv("SLURM_ARRAY_TASK_ID"),
               *restart = getenv("SLURM_RESTART_COUNT");
    uint64_t id;
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return MILL_EIO;
    }
    if (job && *job) {
        snprintf(out, len, "s%.12s%s%.10s-r%.6s-%016" PRIx64, job, task && *task ? "_" : "", task && *task ? task : "",
                 restart && *restart ? restart : "0", id);
        for (char *p = out; *p; p++) /* keep it a plain file-name part */
            if (!strchr(ATTEMPT_CHARS, *p)) *p = '_';
    } else {
        snprintf(out, len, "%016" PRIx64, id);
    }
    return 0;
}

/* Closes this rank's staged files (their data is fsynced by the prepare,
 * or abandoned on abort). */
static void close_files(mill__commit *c) {
    for (size_t i = 0; i < c->nfiles; i++) {
        if (c->files[i].fd >= 0) close(c->files[i].fd);
        c->files[i].fd = -1;
    }
}

static void free_commit(mill__commit *c) {
    close_files(c);
    if (c->staging_fd >= 0) close(c->staging_fd);
    if (c->lock_fd >= 0) lock_release(c->parent_fd, c->lockname, &c->lock_fd);
    if (c->parent_fd >= 0) close(c->parent_fd);
    free(c->files);
    free(c->list);
    free(c);
}

/* Returns 0 when --overwrite may replace the directory `base` of parent:
 * it is empty, or an output (it holds _SUCCESS: mpimill's, or Hadoop's).
 * Otherwise MILL_EEXIST: a directory of other files (data, the job's own
 * input) is not deleted on a mistyped --output. */
static int replaceable(int parent_fd, const char *base, const char *outdir, char *err, size_t errlen) {
    struct stat st;
    char path[BASE_MAX + 16];
    snprintf(path, sizeof path, "%s/_SUCCESS", base);
    if (fstatat(parent_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) return 0;
    int fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        snprintf(err, errlen, "output %s: %s", outdir, strerror(errno));
        if (fd >= 0) close(fd);
        return MILL_EIO;
    }
    struct dirent *de;
    const char *other = NULL;
    errno = 0;
    while (!other && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) other = de->d_name;
    int rc = other ? MILL_EEXIST : errno ? MILL_EIO : 0;
    if (other)
        snprintf(err, errlen, "output %s exists and is not an output (no _SUCCESS; it holds %.200s): --overwrite "
                 "replaces only outputs and empty directories (remove it yourself, or write elsewhere)",
                 outdir, other);
    else if (rc)
        snprintf(err, errlen, "output %s: %s", outdir, strerror(errno));
    closedir(d);
    return rc;
}

/* Checks what is at the output's name, on rank 0 under the lock: nothing
 * (*exists = 0), or a directory that --overwrite may replace (*exists = 1:
 * an earlier output or an empty directory, not a mount point). Returns 0,
 * MILL_EEXIST for anything else, or MILL_EIO, with a message naming outdir.
 * Run at begin and again just before the rename: the lock keeps out other
 * jobs, not a user who puts files at the name while the job runs. */
static int check_target(mill__commit *c, const char *outdir, int *exists, char *err, size_t errlen) {
    struct stat st, pst;
    *exists = 0;
    if (fstatat(c->parent_fd, c->base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "output %s: %s", outdir, strerror(errno));
        return MILL_EIO;
    }
    *exists = 1;
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "output %s exists and is %s", outdir,
                 S_ISLNK(st.st_mode) ? "a symbolic link (name the directory itself)" : "not a directory");
        return MILL_EEXIST;
    }
    if (!c->overwrite) {
        snprintf(err, errlen, "output %s exists (use --overwrite to replace it)", outdir);
        return MILL_EEXIST;
    }
    int rc = replaceable(c->parent_fd, c->base, outdir, err, errlen);
    if (rc) return rc;
    if (fstat(c->parent_fd, &pst) != 0) {
        snprintf(err, errlen, "output %s: parent directory: %s", outdir, strerror(errno));
        return MILL_EIO;
    }
    if (pst.st_dev != st.st_dev) { /* a rename cannot replace a mount point (EBUSY): say so before the work */
        snprintf(err, errlen, "output %s is a mount point: it cannot be replaced (write inside it)", outdir);
        return MILL_EEXIST;
    }
    /* The rename that swaps it out needs no permission on it, but removing
     * its files afterwards does: without it the old output would stay at
     * the staging name, and block every later job on this output. */
    if (faccessat(c->parent_fd, c->base, W_OK | X_OK, AT_EACCESS) != 0 && errno == EACCES) { /* not EPERM: seccomp */
        snprintf(err, errlen, "output %s cannot be replaced: its files cannot be removed (%s)", outdir,
                 strerror(errno));
        return MILL_EIO;
    }
    return 0;
}

/* Rank 0's part of begin: lock, recover, check the output, create staging. */
static int begin_root(mill__commit *c, const char *outdir, char *err, size_t errlen) {
    char parent[PATH_MAX];
    int rc = split_output(outdir, parent, sizeof parent, c->base, err, errlen);
    if (rc) return rc;
    c->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->parent_fd < 0) {
        snprintf(err, errlen, "output %s: parent directory %s: %s", outdir, parent, strerror(errno));
        return MILL_EIO;
    }
    snprintf(c->lockname, sizeof c->lockname, ".%s" LOCK_TAG, c->base);
    if ((rc = lock_acquire(c->parent_fd, c->lockname, outdir, &c->lock_fd, err, errlen)) != 0) return rc;
    if ((rc = recover_locked(c->parent_fd, c->base, NULL, err, errlen)) != 0) return rc;
    int exists;
    if ((rc = check_target(c, outdir, &exists, err, errlen)) != 0) return rc;
    if ((rc = make_attempt(c->attempt, sizeof c->attempt, err, errlen)) != 0) return rc;
    snprintf(c->staging, sizeof c->staging, ".%s" STAGING_TAG "%s", c->base, c->attempt);
    MILL_FAULT(MILL_FAULT_BEFORE_STAGING);
    /* Exclusive: EEXIST means someone else made it, and it is not reused. */
    if (mill__fault_mkdirat(c->parent_fd, c->staging, 0700) != 0) {
        snprintf(err, errlen, "output %s: cannot create staging directory %s: %s", outdir, c->staging,
                 strerror(errno));
        c->staging[0] = '\0';
        return MILL_EIO;
    }
    return 0;
}

int mill__commit_begin(mill__commit **out, MPI_Comm comm, const char *outdir, int overwrite,
                       char *err, size_t errlen) {
    mill__commit *c = calloc(1, sizeof *c);
    int rc = c ? 0 : MILL_ENOMEM;
    if (c) {
        c->comm = comm;
        c->overwrite = overwrite;
        c->parent_fd = c->staging_fd = c->lock_fd = -1;
        int mr = MPI_Comm_rank(comm, &c->rank);
        if (mr == MPI_SUCCESS) mr = MPI_Comm_size(comm, &c->size);
        if (mr != MPI_SUCCESS) rc = mill__mpi_error(mr, "MPI_Comm_rank", err, errlen);
        mill__fault_init(c->rank, c->size);
        c->umask = umask(0);
        umask(c->umask);
        if (rc == 0 && c->rank == 0) rc = begin_root(c, outdir, err, errlen);
    }
    rc = mill__agree_root(comm, rc, err, errlen);
    if (rc == 0) {
        /* Every rank opens the parent and the staging directory by name. */
        int mr = MPI_Bcast(c->staging, sizeof c->staging, MPI_CHAR, 0, comm);
        if (mr == MPI_SUCCESS) mr = MPI_Bcast(c->base, sizeof c->base, MPI_CHAR, 0, comm);
        if (mr == MPI_SUCCESS) mr = MPI_Bcast(c->attempt, sizeof c->attempt, MPI_CHAR, 0, comm);
        if (mr != MPI_SUCCESS) rc = mill__mpi_error(mr, "MPI_Bcast", err, errlen);
        if (rc == 0 && c->rank != 0) {
            char parent[PATH_MAX], base[BASE_MAX + 1];
            rc = split_output(outdir, parent, sizeof parent, base, err, errlen);
            if (rc == 0 && (c->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                snprintf(err, errlen, "output %s: parent directory: %s", outdir, strerror(errno));
                rc = MILL_EIO;
            }
        }
        if (rc == 0) {
            c->staging_fd = openat(c->parent_fd, c->staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (c->staging_fd < 0) {
                snprintf(err, errlen, "staging directory %s: %s", c->staging, strerror(errno));
                rc = MILL_EIO;
            }
        }
        rc = mill__agree(comm, rc, err, errlen);
    }
    if (rc) {
        if (c) {
            if (c->rank == 0 && c->staging[0] && c->parent_fd >= 0) {
                char e2[512];
                if (remove_staging(c->parent_fd, c->staging, MILL_FAULT_MID_CLEANUP, e2, sizeof e2) != 0)
                    fprintf(stderr, "mpimill: warning: %s\n", e2);
            }
            free_commit(c);
        }
        return rc;
    }
    *out = c;
    return 0;
}

int mill__commit_create(mill__commit *c, const char *name, int *fd, char *err, size_t errlen) {
    if (!mill__commit_name_ok(name) || !strcmp(name, "_SUCCESS")) {
        snprintf(err, errlen, "staging file name '%s' is not allowed", name);
        return MILL_EINVAL;
    }
    if (c->nfiles == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 4;
        staged *f = realloc(c->files, ncap * sizeof *f);
        if (!f) return MILL_ENOMEM;
        c->files = f;
        c->cap = ncap;
    }
    int f = mill__fault_openat(c->staging_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (f < 0) {
        snprintf(err, errlen, "staging file %s/%s: %s", c->staging, name, strerror(errno));
        return MILL_EIO;
    }
    snprintf(c->files[c->nfiles].name, sizeof c->files[c->nfiles].name, "%s", name);
    c->files[c->nfiles++].fd = f;
    *fd = f;
    return 0;
}

/* ---- end: prepare, vote, decide -------------------------------------------- */

int mill__commit_open_shared(mill__commit *c, const char *name, int *fd, char *err, size_t errlen) {
    if (!mill__commit_name_ok(name)) {
        snprintf(err, errlen, "staging file name '%s' is not allowed", name);
        return MILL_EINVAL;
    }
    int f = mill__fault_openat(c->staging_fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (f < 0) {
        snprintf(err, errlen, "staging file %s/%s: %s", c->staging, name, strerror(errno));
        return MILL_EIO;
    }
    *fd = f;
    return 0;
}

int mill__commit_prepare(mill__commit *c, uint64_t *bytes, uint64_t *files, char *err, size_t errlen) {
    double t0 = mill__now();
    *bytes = *files = 0;
    if (c->list) return 0;
    MILL_FAULT(MILL_FAULT_WRITTEN);
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return MILL_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < c->nfiles && rc == 0; i++) {
        /* Read back through a new descriptor: opening revalidates the size
         * and cached pages on NFS (close-to-open), so rank 0 hashes what
         * other nodes wrote into a shared file, not a stale view of it. */
        uint64_t h, size;
        int rfd = -1;
        if (mill__fault_fsync(c->files[i].fd) != 0) {
            snprintf(err, errlen, "fsync %s/%s: %s", c->staging, c->files[i].name, strerror(errno));
            rc = MILL_EIO;
        } else if ((rfd = openat(c->staging_fd, c->files[i].name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
                   mill__commit_hash_fd(rfd, &h, &size) != 0) {
            snprintf(err, errlen, "read back %s/%s: %s", c->staging, c->files[i].name, strerror(errno));
            rc = MILL_EIO;
        } else {
            fprintf(f, "  {\"name\": ");
            mill__json_str(f, c->files[i].name, strlen(c->files[i].name));
            fprintf(f, ", \"size\": %" PRIu64 ", \"xxh3\": \"%016" PRIx64 "\"},\n", size, h);
            *bytes += size;
            ++*files;
        }
        if (rfd >= 0) close(rfd);
    }
    if (rc == 0 && mill__fault_fsync(c->staging_fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", c->staging, strerror(errno));
        rc = MILL_EIO;
    }
    if (fclose(f) != 0 && rc == 0) rc = MILL_ENOMEM;
    if (rc) {
        free(s);
        return rc;
    }
    c->list = s;
    c->prepare_s = mill__now() - t0;
    MILL_FAULT(MILL_FAULT_PREPARED);
    return 0;
}

/* S4 where renameat2 refused its flags (EINVAL): a plain rename for a fresh
 * output; for --overwrite, NAME aside to .NAME.mill-old-ATTEMPT, then
 * staging onto NAME (see the top of this file). Returns 0, or -1 with errno
 * set and, when the old output could not be put back, a message in err. */
static int rename_plain(mill__commit *c, unsigned flags, char *err, size_t errlen) {
    if (flags == RENAME_NOREPLACE) return mill__fault_renameat2(c->parent_fd, c->staging, c->parent_fd, c->base, 0);
    snprintf(c->aside, sizeof c->aside, ".%s" ASIDE_TAG "%s", c->base, c->attempt);
    if (mill__fault_renameat2(c->parent_fd, c->base, c->parent_fd, c->aside, 0) != 0) {
        c->aside[0] = '\0';
        return -1;
    }
    MILL_FAULT(MILL_FAULT_SET_ASIDE);
    if (mill__fault_renameat2(c->parent_fd, c->staging, c->parent_fd, c->base, 0) != 0) {
        int e = errno;
        if (renameat(c->parent_fd, c->aside, c->parent_fd, c->base) == 0)
            c->aside[0] = '\0';
        else
            snprintf(err, errlen, "output %s: rename: %s; the previous output is at %s (mpimill recover puts it "
                     "back)", c->base, strerror(e), c->aside);
        errno = e;
        return -1;
    }
    return 0;
}

/* Decide, on rank 0, after every rank voted yes: manifest, the rename (the
 * commit point), the parent's fsync. Sets c->committed at the commit point. */
static int publish(mill__commit *c, const char *members, const char *files, double prepare_s, char *err,
                   size_t errlen) {
    MILL_FAULT(MILL_FAULT_BEFORE_MANIFEST);
    char *m = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&m, &mlen);
    if (!f) return MILL_ENOMEM;
    size_t fl = strlen(files);
    while (fl > 0 && (files[fl - 1] == '\n' || files[fl - 1] == ',')) fl--;
    const char *mem = members && *members ? members : "\"job\": null";
    fprintf(f, "{\n\"mpimill\": \"%s\",\n\"attempt\": \"%s\",\n%s,\n", MILL_VERSION, c->attempt, mem);
    if (!strstr(mem, "\"partitioner\"")) fprintf(f, "\"partitioner\": null,\n");
    fprintf(f, "\"commit\": {\"prepare_seconds\": %.6f},\n\"files\": [\n%.*s\n],\n", prepare_s, (int)fl,
            files);
    if (fflush(f) != 0) {
        fclose(f);
        free(m);
        return MILL_ENOMEM;
    }
    fprintf(f, MILL_MANIFEST_SELF "%016" PRIx64 MILL_MANIFEST_END, (uint64_t)XXH3_64bits(m, mlen)); /* verify checks it */
    if (fclose(f) != 0) {
        free(m);
        return MILL_ENOMEM;
    }
    int rc = 0;
    int fd = mill__fault_openat(c->staging_fd, "_SUCCESS", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                                0666);
    if (fd < 0 || mill__fault_write_all(MILL_FAULT_MID_MANIFEST, fd, m, mlen) != 0 || mill__fault_fsync(fd) != 0) {
        snprintf(err, errlen, "manifest %s/_SUCCESS: %s", c->staging, strerror(errno));
        rc = MILL_EIO;
    }
    free(m);
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "manifest %s/_SUCCESS: close: %s", c->staging, strerror(errno));
        rc = MILL_EIO;
    }
    if (rc) return rc;
    /* Published output follows the user's umask, not staging's 0700. */
    if (mill__fault_fchmod(c->staging_fd, 0777 & ~c->umask) != 0 || mill__fault_fsync(c->staging_fd) != 0) {
        snprintf(err, errlen, "staging directory %s: %s", c->staging, strerror(errno));
        return MILL_EIO;
    }
    MILL_FAULT(MILL_FAULT_MANIFEST_DURABLE);
    /* A stop signal that came since the vote (mpirun's SIGTERM reaches the
     * ranks a second late) still decides no: the job stopped before its
     * commit point, as it says, and exits 128+N with nothing committed. */
    if (mill__stop_signal()) return mill__stop_error(err, errlen);
    /* Never rename a directory that is not ours, or without the lock. */
    struct stat a, b;
    if (!lock_still_ours(c->parent_fd, c->lockname, c->lock_fd) || fstat(c->staging_fd, &a) != 0 ||
        fstatat(c->parent_fd, c->staging, &b, AT_SYMLINK_NOFOLLOW) != 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino) {
        snprintf(err, errlen, "output %s: lost the lock or the staging directory %s; not committing", c->base,
                 c->staging);
        return MILL_ESTATE;
    }
    int exists, crc = check_target(c, c->base, &exists, err, errlen);
    if (crc) return crc;
    unsigned flags = exists ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    int r = mill__fault_renameat2(c->parent_fd, c->staging, c->parent_fd, c->base, flags);
    if (r != 0 && errno == EINVAL) r = rename_plain(c, flags, err, errlen); /* NFS, FUSE, CephFS */
    if (r != 0) {
        int e = errno;
        if (!c->aside[0]) snprintf(err, errlen, "output %s: rename: %s", c->base, strerror(e)); /* else said */
        return e == EEXIST || e == ENOTEMPTY ? MILL_EEXIST : MILL_EIO;
    }
    c->committed = 1; /* the commit point: the new output is visible */
    c->exchanged = flags == RENAME_EXCHANGE;
    MILL_FAULT(MILL_FAULT_RENAMED);
    if (mill__fault_fsync(c->parent_fd) != 0) {
        c->unsynced = 1; /* fatal, never retried: nothing more is changed */
        snprintf(err, errlen,
                 "output %s committed, but fsync of its parent directory failed: %s; the commit may not "
                 "survive a system crash (mpimill recover removes what it replaced)",
                 c->base, strerror(errno));
        return MILL_EIO;
    }
    MILL_FAULT(MILL_FAULT_COMMITTED);
    return 0;
}

int mill__commit_end(mill__commit *c, int status, const char *manifest_json, char *err, size_t errlen) {
    /* The stats count an earlier prepare in, not the time since it. */
    double t0 = mill__now() - (c->list ? c->prepare_s : 0), t_prep = 0, t_pub = 0, t_clean = 0;
    char *all = NULL;
    uint64_t bytes, files;
    int rc = status;
    if (rc == 0) rc = mill__commit_prepare(c, &bytes, &files, err, errlen);
    double mine = c->prepare_s, most = mine;
    rc = mill__agree(c->comm, rc, err, errlen); /* the vote */
    MILL_FAULT(MILL_FAULT_VOTED);
    if (rc == 0) {
        int mr = MPI_Reduce(&mine, &most, 1, MPI_DOUBLE, MPI_MAX, 0, c->comm);
        if (mr != MPI_SUCCESS) rc = mill__mpi_error(mr, "MPI_Reduce", err, errlen);
        rc = mill__agree(c->comm, rc, err, errlen); /* else the ranks disagree on the next collective */
    }
    if (rc == 0) rc = mill__gather_str(c->comm, c->list, &all, err, errlen);
    t_prep = mill__now() - t0;
    if (rc == 0 && c->rank == 0) {
        rc = all ? publish(c, manifest_json, all, most, err, errlen) : MILL_ENOMEM;
        if (rc == MILL_ENOMEM && !err[0]) snprintf(err, errlen, "out of memory writing the manifest");
    }
    t_pub = mill__now() - t0 - t_prep;
    /* Every rank closes its files before rank 0 removes the staging name:
     * on NFS and FUSE an open file that is unlinked lingers as a hidden
     * file, and the directory could not be removed. */
    close_files(c);
    rc = mill__agree_root(c->comm, rc, err, errlen);
    if (c->rank == 0) {
        /* After the commit point the staging name holds nothing or the old
         * output; before it, the uncommitted new one: remove it either way.
         * The aside name is removed only once committed (else recovery
         * puts it back). */
        double t1 = mill__now();
        if (!c->committed) MILL_FAULT(MILL_FAULT_ABORTING);
        char e2[MILL__ERRLEN] = "";
        int cr = 0;
        if (!c->unsynced) { /* else recovery cleans: a failed fsync is not retried */
            cr = remove_staging(c->parent_fd, c->staging, MILL_FAULT_MID_CLEANUP, e2, sizeof e2);
            if (cr == 0 && c->committed && c->aside[0])
                cr = remove_staging(c->parent_fd, c->aside, MILL_FAULT_MID_CLEANUP, e2, sizeof e2);
            if (cr == 0 && c->exchanged && mill__fault_fsync(c->parent_fd) != 0) {
                snprintf(e2, sizeof e2, "fsync of the output's parent directory: %s", strerror(errno));
                cr = MILL_EIO;
            }
        }
        if (cr) fprintf(stderr, "mpimill: warning: cleanup (mpimill recover finishes it): %s\n", e2);
        MILL_FAULT(MILL_FAULT_BEFORE_UNLOCK);
        lock_release(c->parent_fd, c->lockname, &c->lock_fd);
        t_clean = mill__now() - t1;
        if (getenv("MPIMILL_COMMIT_STATS"))
            fprintf(stderr,
                    "mpimill: commit: prepare+vote %.6f s (slowest rank's fsync+hash %.6f s), publish %.6f s, "
                    "cleanup %.6f s, total %.6f s\n",
                    t_prep, most, t_pub, t_clean, mill__now() - t0);
    }
    free(all);
    free_commit(c);
    return rc;
}
