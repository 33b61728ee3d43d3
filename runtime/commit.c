/* commit.c -- the output commit protocol (see commit.h).
 *
 * Staging: PARENT/.BASE.mill-staging-ID, created exclusively with mode 0700.
 * Prepare: each rank fsyncs its files; votes are combined with MPI_Allreduce.
 * Decide:  rank 0 fsyncs the staging directory, writes and fsyncs _SUCCESS,
 *          renames staging onto the output (RENAME_NOREPLACE, or
 *          RENAME_EXCHANGE under --overwrite) and fsyncs the parent. The
 *          rename is the commit point; a failure before it leaves the old
 *          output untouched.
 */
#include "commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpimill/job.h"
#include "runtime.h"

typedef struct staged {
    char name[64];
    int fd; /* owned by the commit until mill__commit_end */
} staged;

struct mill__commit {
    MPI_Comm comm;
    int rank;
    int overwrite;
    int parent_fd;        /* the output's parent directory */
    int staging_fd;       /* the staging directory */
    char base[256];       /* the output's name in its parent */
    char staging[300];    /* the staging directory's name in the parent */
    staged *files;
    size_t nfiles, cap;
};

/* Removes `name` in dirfd and everything below it, never following links. */
static int rmtree_at(int dfd, const char *name) {
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP) return unlinkat(dfd, name, 0) ? -errno : 0;
        return errno == ENOENT ? 0 : -errno;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        int r = rmtree_at(dirfd(d), de->d_name);
        if (r && !rc) rc = r;
    }
    closedir(d);
    if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && !rc) rc = -errno;
    return rc;
}

static void free_commit(mill__commit *c) {
    for (size_t i = 0; i < c->nfiles; i++)
        if (c->files[i].fd >= 0) close(c->files[i].fd);
    if (c->staging_fd >= 0) close(c->staging_fd);
    if (c->parent_fd >= 0) close(c->parent_fd);
    free(c->files);
    free(c);
}

/* Rank 0's part of begin: check the output and create the staging directory. */
static int begin_root(mill__commit *c, const char *outdir, char *err, size_t errlen) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", outdir);
    snprintf(b, sizeof b, "%s", outdir);
    size_t l = strlen(a);
    while (l > 1 && a[l - 1] == '/') {
        l--;
        a[l] = b[l] = '\0';
    }
    const char *parent = dirname(a), *base = basename(b);
    if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
        snprintf(err, errlen, "output %s: not a usable directory name", outdir);
        return MILL_EINVAL;
    }
    snprintf(c->base, sizeof c->base, "%s", base);
    c->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->parent_fd < 0) {
        snprintf(err, errlen, "output %s: parent directory %s: %s", outdir, parent, strerror(errno));
        return MILL_EIO;
    }
    struct stat st;
    if (fstatat(c->parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!c->overwrite) {
            snprintf(err, errlen, "output %s exists (use --overwrite to replace it)", outdir);
            return MILL_EEXIST;
        }
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "output %s exists and is not a directory", outdir);
            return MILL_EEXIST;
        }
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "output %s: %s", outdir, strerror(errno));
        return MILL_EIO;
    }
    uint64_t id;
    if (getrandom(&id, sizeof id, 0) != sizeof id) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return MILL_EIO;
    }
    snprintf(c->staging, sizeof c->staging, ".%s.mill-staging-%016" PRIx64, base, id);
    if (mkdirat(c->parent_fd, c->staging, 0700) != 0) {
        snprintf(err, errlen, "output %s: cannot create staging directory: %s", outdir, strerror(errno));
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
        c->parent_fd = c->staging_fd = -1;
        MPI_Comm_rank(comm, &c->rank);
        if (c->rank == 0) rc = begin_root(c, outdir, err, errlen);
    }
    rc = mill__agree(comm, rc, err, errlen);
    if (rc == 0) {
        /* Every rank opens the parent and the staging directory by name. */
        int mr = MPI_Bcast(c->staging, sizeof c->staging, MPI_CHAR, 0, comm);
        if (mr == MPI_SUCCESS) mr = MPI_Bcast(c->base, sizeof c->base, MPI_CHAR, 0, comm);
        if (mr != MPI_SUCCESS) rc = mill__mpi_error(mr, "MPI_Bcast", err, errlen);
        if (rc == 0 && c->rank != 0) {
            char a[4096];
            snprintf(a, sizeof a, "%s", outdir);
            size_t l = strlen(a);
            while (l > 1 && a[l - 1] == '/') a[--l] = '\0';
            c->parent_fd = open(dirname(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (c->parent_fd < 0) {
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
        if (rc && c->rank == 0) (void)rmtree_at(c->parent_fd, c->staging);
    }
    if (rc) {
        if (c) free_commit(c);
        return rc;
    }
    *out = c;
    return 0;
}

int mill__commit_create(mill__commit *c, const char *name, int *fd, char *err, size_t errlen) {
    if (c->nfiles == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 4;
        staged *f = realloc(c->files, ncap * sizeof *f);
        if (!f) return MILL_ENOMEM;
        c->files = f;
        c->cap = ncap;
    }
    int f = openat(c->staging_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0) {
        snprintf(err, errlen, "staging file %s/%s: %s", c->staging, name, strerror(errno));
        return MILL_EIO;
    }
    snprintf(c->files[c->nfiles].name, sizeof c->files[c->nfiles].name, "%s", name);
    c->files[c->nfiles++].fd = f;
    *fd = f;
    return 0;
}

/* Prepare: makes this rank's files durable and lists them as JSON objects. */
static int prepare(mill__commit *c, char **list, char *err, size_t errlen) {
    size_t cap = 64 + c->nfiles * 128, len = 0;
    char *s = malloc(cap);
    if (!s) return MILL_ENOMEM;
    s[0] = '\0';
    for (size_t i = 0; i < c->nfiles; i++) {
        struct stat st;
        if (fsync(c->files[i].fd) != 0 || fstat(c->files[i].fd, &st) != 0) {
            snprintf(err, errlen, "fsync %s/%s: %s", c->staging, c->files[i].name, strerror(errno));
            free(s);
            return MILL_EIO;
        }
        len += (size_t)snprintf(s + len, cap - len, "{\"name\": \"%s\", \"size\": %lld},\n",
                                c->files[i].name, (long long)st.st_size);
    }
    *list = s;
    return 0;
}

/* Decide, on rank 0: manifest, rename, directory fsyncs. */
static int publish(mill__commit *c, const char *members, const char *files, char *err, size_t errlen) {
    if (fsync(c->staging_fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", c->staging, strerror(errno));
        return MILL_EIO;
    }
    int fd = openat(c->staging_fd, "_SUCCESS", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "manifest %s/_SUCCESS: %s", c->staging, strerror(errno));
        return MILL_EIO;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return MILL_ENOMEM;
    }
    size_t fl = strlen(files);
    while (fl > 0 && (files[fl - 1] == '\n' || files[fl - 1] == ',')) fl--;
    fprintf(f, "{\n\"mpimill\": \"%s\",\n%s,\n\"files\": [\n%.*s\n]\n}\n", MILL_VERSION, members,
            (int)fl, files);
    int rc = (fflush(f) != 0 || fsync(fd) != 0) ? MILL_EIO : 0;
    if (rc) snprintf(err, errlen, "manifest %s/_SUCCESS: %s", c->staging, strerror(errno));
    if (fclose(f) != 0 && !rc) {
        snprintf(err, errlen, "manifest %s/_SUCCESS: %s", c->staging, strerror(errno));
        rc = MILL_EIO;
    }
    if (rc) return rc;
    /* Published output follows the user's umask, not staging's 0700. */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(c->staging_fd, 0777 & ~um) != 0) {
        snprintf(err, errlen, "chmod %s: %s", c->staging, strerror(errno));
        return MILL_EIO;
    }
    unsigned flags = RENAME_NOREPLACE;
    struct stat st;
    if (c->overwrite && fstatat(c->parent_fd, c->base, &st, AT_SYMLINK_NOFOLLOW) == 0)
        flags = RENAME_EXCHANGE;
    if (renameat2(c->parent_fd, c->staging, c->parent_fd, c->base, flags) != 0) {
        snprintf(err, errlen, "output %s: rename: %s", c->base, strerror(errno));
        return errno == EEXIST ? MILL_EEXIST : MILL_EIO;
    }
    /* Committed. The old output, when replaced, now sits at the staging name. */
    if (fsync(c->parent_fd) != 0) {
        snprintf(err, errlen, "fsync of the output's parent directory: %s", strerror(errno));
        return MILL_EIO;
    }
    if (flags == RENAME_EXCHANGE) (void)rmtree_at(c->parent_fd, c->staging);
    return 0;
}

int mill__commit_end(mill__commit *c, int status, const char *manifest_json, char *err, size_t errlen) {
    char *list = NULL;
    int rc = status;
    if (rc == 0) rc = prepare(c, &list, err, errlen);
    rc = mill__agree(c->comm, rc, err, errlen); /* the vote */
    char *all = NULL;
    if (rc == 0) rc = mill__gather_str(c->comm, list, &all, err, errlen);
    if (rc == 0 && c->rank == 0) rc = publish(c, manifest_json, all, err, errlen);
    rc = mill__agree(c->comm, rc, err, errlen);
    if (rc && c->rank == 0) (void)rmtree_at(c->parent_fd, c->staging);
    free(list);
    free(all);
    free_commit(c);
    return rc;
}
