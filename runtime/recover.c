/* recover.c -- reading manifests back, `mpimill verify` and `mpimill recover`.
 *
 * The manifest reader is a small strict JSON parser: it accepts any JSON
 * object, picks out "attempt" and "files" (objects with "name", "size" and
 * "xxh3"), skips every other member, and refuses a file name that is not a
 * plain name before anyone acts on it. A torn manifest (killed mid-write)
 * is malformed JSON, which is MILL_EFORMAT, never a partial list.
 * The decisions of recovery live with the protocol in commit.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "commit.h"
#include "fault.h"
#include "mpimill/job.h"
#include "runtime.h"

int mill__commit_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= NAME_MAX || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/' || (unsigned char)name[i] < 0x20) return 0;
    return 1;
}

int mill__commit_hash_fd(int fd, uint64_t *hash, uint64_t *size) {
    XXH3_state_t *st = XXH3_createState();
    char *buf = malloc(1u << 20);
    if (!st || !buf) {
        XXH3_freeState(st);
        free(buf);
        errno = ENOMEM;
        return -1;
    }
    XXH3_64bits_reset(st);
    uint64_t off = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = mill__fault_pread(fd, buf, 1u << 20, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0) break;
        XXH3_64bits_update(st, buf, (size_t)n);
        off += (uint64_t)n;
    }
    int e = errno;
    if (rc == 0) {
        *hash = XXH3_64bits_digest(st);
        *size = off;
    }
    XXH3_freeState(st);
    free(buf);
    errno = e;
    return rc;
}

/* ---- a strict little JSON reader ---------------------------------------- */

typedef struct jp {
    const char *p, *end;
} jp;

static void ws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) j->p++;
}

static int eat(jp *j, char c) {
    ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* Parses a string into out (NUL-terminated, at most cap-1 bytes), or only
 * skips it when out is NULL (any length). Returns 0 or -1. \u escapes are accepted for ASCII only. A NUL from \u0000 makes the
 * string unusable as a name, which the name check then refuses. */
static int str(jp *j, char *out, size_t cap) {
    size_t n = 0;
    if (!eat(j, '"')) return -1;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20) return -1;
        if (c == '\\') {
            if (j->p >= j->end) return -1;
            char e = *j->p++;
            switch (e) {
            case '"': case '\\': case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                if (j->end - j->p < 4) return -1;
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *j->p++;
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) return -1;
                    v = v * 16 + (unsigned)d;
                }
                if (v >= 0x80 && out) return -1; /* names are ASCII; skipped strings may hold any */
                c = (char)(v ? v : 0x01); /* a control character: refused as a name */
                break;
            }
            default: return -1;
            }
        }
        if (!out) continue;
        if (n + 1 >= cap) return -1;
        out[n++] = c;
    }
    if (j->p >= j->end) return -1;
    j->p++;
    if (out) out[n] = '\0';
    return 0;
}

static int u64(jp *j, uint64_t *out) {
    ws(j);
    uint64_t v = 0;
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*j->p++ - '0');
    }
    if (j->p == s) return -1;
    *out = v;
    return 0;
}

static int skip(jp *j, int depth) {
    ws(j);
    if (j->p >= j->end || depth > 32) return -1;
    char c = *j->p;
    if (c == '"') return str(j, NULL, 0);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (eat(j, close)) return 0;
        do {
            if (c == '{' && (str(j, NULL, 0) || !eat(j, ':'))) return -1;
            if (skip(j, depth + 1)) return -1;
        } while (eat(j, ','));
        return eat(j, close) ? 0 : -1;
    }
    const char *s = j->p;
    while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') ||
                             (*j->p >= 'a' && *j->p <= 'z')))
        j->p++;
    if (j->p == s) return -1;
    size_t n = (size_t)(j->p - s);
    if ((n == 4 && !memcmp(s, "true", 4)) || (n == 4 && !memcmp(s, "null", 4)) || (n == 5 && !memcmp(s, "false", 5)))
        return 0;
    return (*s == '-' || (*s >= '0' && *s <= '9')) ? 0 : -1;
}

/* Parses one element of "files". Unsafe names are kept and refused later. */
static int file_entry(jp *j, mill__manifest_file *f) {
    char key[64], name[NAME_MAX * 2], hex[64];
    int have_name = 0, have_size = 0;
    if (!eat(j, '{')) return -1;
    if (!eat(j, '}')) {
        do {
            if (str(j, key, sizeof key) || !eat(j, ':')) return -1;
            if (!strcmp(key, "name")) {
                if (str(j, name, sizeof name)) return -1;
                have_name = 1;
            } else if (!strcmp(key, "size")) {
                if (u64(j, &f->size)) return -1;
                have_size = 1;
            } else if (!strcmp(key, "xxh3")) {
                char *end;
                if (str(j, hex, sizeof hex)) return -1;
                f->xxh3 = strtoull(hex, &end, 16);
                if (*end || !*hex) return -1;
                f->has_xxh3 = 1;
            } else if (skip(j, 1)) {
                return -1;
            }
        } while (eat(j, ','));
        if (!eat(j, '}')) return -1;
    }
    if (!have_name || !have_size) return -1;
    return (f->name = strdup(name)) ? 0 : -2;
}

static int parse_manifest(const char *text, size_t len, mill__manifest *m) {
    jp j = {text, text + len};
    char key[256];
    if (!eat(&j, '{')) return -1;
    if (!eat(&j, '}')) {
        do {
            if (str(&j, key, sizeof key) || !eat(&j, ':')) return -1;
            if (!strcmp(key, "attempt")) {
                if (str(&j, m->attempt, sizeof m->attempt)) return -1;
            } else if (!strcmp(key, "files")) {
                if (!eat(&j, '[')) return -1;
                if (eat(&j, ']')) continue;
                size_t cap = m->nfiles;
                do {
                    if (m->nfiles == cap) {
                        cap = cap ? cap * 2 : 16;
                        mill__manifest_file *nf = realloc(m->files, cap * sizeof *nf);
                        if (!nf) return -2;
                        m->files = nf;
                    }
                    memset(&m->files[m->nfiles], 0, sizeof m->files[0]);
                    int r = file_entry(&j, &m->files[m->nfiles]);
                    if (r) return r;
                    m->nfiles++;
                } while (eat(&j, ','));
                if (!eat(&j, ']')) return -1;
            } else if (skip(&j, 1)) {
                return -1;
            }
        } while (eat(&j, ','));
        if (!eat(&j, '}')) return -1;
    }
    ws(&j);
    return j.p == j.end ? 0 : -1;
}

void mill__manifest_free(mill__manifest *m) {
    for (size_t i = 0; i < m->nfiles; i++) free(m->files[i].name);
    free(m->files);
    m->files = NULL;
    m->nfiles = 0;
}

int mill__manifest_text(int dirfd, const char *name, int nofollow, const char *label, char **text, size_t *len,
                        char *err, size_t errlen) {
    /* O_NONBLOCK: opening a FIFO planted there must not wait for a writer
     * (it is then refused as not a regular file). */
    int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s%s", label, strerror(e), e == ELOOP && nofollow ? " (a symbolic link)" : "");
        return e == ENOENT ? MILL_ENOENT : e == ELOOP && nofollow ? MILL_EINVAL : MILL_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MILL_MANIFEST_MAX) {
        snprintf(err, errlen, "%s: not a regular file of a sensible size", label);
        close(fd);
        return MILL_EINVAL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    int rc = 0;
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", label);
        rc = MILL_ENOMEM;
    }
    while (rc == 0 && got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: read: %s", label, n < 0 ? strerror(errno) : "short file");
            rc = MILL_EIO;
        } else {
            got += (size_t)n;
        }
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return 0;
}

int mill__manifest_read(int dirfd, mill__manifest *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    char *text = NULL;
    size_t len = 0;
    int rc = mill__manifest_text(dirfd, "_SUCCESS", 1, "manifest _SUCCESS", &text, &len, err, errlen);
    if (rc == 0) {
        const char *self = NULL;
        for (const char *p = text; (p = strstr(p, MILL_MANIFEST_SELF)) != NULL; p++) self = p;
        if (self) { /* present: exactly HEX16 MILL_MANIFEST_END to the end, or the manifest was changed */
            const char *h = self + strlen(MILL_MANIFEST_SELF);
            char want[17 + sizeof MILL_MANIFEST_END];
            snprintf(want, sizeof want, "%016" PRIx64 MILL_MANIFEST_END, (uint64_t)XXH3_64bits(text, (size_t)(self - text)));
            m->self = (size_t)(text + len - h) == strlen(want) && !memcmp(h, want, strlen(want)) ? 1 : -1;
        }
        int r = parse_manifest(text, len, m);
        if (r == -2) rc = MILL_ENOMEM;
        else if (r) {
            snprintf(err, errlen, "manifest _SUCCESS: malformed or incomplete");
            rc = MILL_EFORMAT;
        }
    }
    free(text);
    for (size_t i = 0; rc == 0 && i < m->nfiles; i++) {
        if (!mill__commit_name_ok(m->files[i].name) || !strcmp(m->files[i].name, "_SUCCESS")) {
            snprintf(err, errlen, "manifest _SUCCESS names an unsafe file '%s' (absolute, '..', a path or "
                                  "control characters): refused", m->files[i].name);
            rc = MILL_EINVAL;
        }
    }
    if (rc) mill__manifest_free(m);
    return rc;
}

/* ---- verify -------------------------------------------------------------------- */

int mill__commit_verify(const char *outdir, FILE *out, char *err, size_t errlen) {
    /* Read only: a link naming the output (latest -> run-42/out) is
     * followed; the files inside are not. */
    int dfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "verify %s: %s", outdir, strerror(errno));
        return errno == ENOENT ? MILL_ENOENT : MILL_EIO;
    }
    mill__manifest m;
    char e[512];
    int rc = mill__manifest_read(dfd, &m, e, sizeof e);
    if (rc) {
        snprintf(err, errlen, "verify %s: %s", outdir, e);
        close(dfd);
        return rc;
    }
    MILL_FAULT(MILL_FAULT_VERIFY_READ);
    int differ = m.self < 0;
    if (differ) fprintf(out, "differs: _SUCCESS: its text does not match its manifest_xxh3 (it was changed)\n");
    for (size_t i = 0; i < m.nfiles; i++) {
        const mill__manifest_file *f = &m.files[i];
        int fd = openat(dfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        uint64_t h = 0, size = 0;
        if (fd < 0 && errno == ENOENT) {
            fprintf(out, "missing: %s\n", f->name);
            differ = 1;
            continue;
        }
        if (fd < 0) {
            fprintf(out, "differs: %s: %s%s\n", f->name, strerror(errno),
                    errno == ELOOP ? " (a symbolic link: refused)" : "");
            differ = 1;
            continue;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(out, "differs: %s: not a regular file\n", f->name);
            differ = 1;
        } else if (mill__commit_hash_fd(fd, &h, &size) != 0) {
            fprintf(out, "differs: %s: read: %s\n", f->name, strerror(errno));
            differ = 1;
        } else if (size != f->size) {
            fprintf(out, "differs: %s: %" PRIu64 " bytes, manifest says %" PRIu64 "\n", f->name, size, f->size);
            differ = 1;
        } else if (f->has_xxh3 && h != f->xxh3) {
            fprintf(out, "differs: %s: xxh3 %016" PRIx64 ", manifest says %016" PRIx64 "\n", f->name, h, f->xxh3);
            differ = 1;
        }
        close(fd);
    }
    /* Files the manifest does not list are differences too; a listing that
     * fails part way is an error, not a match. */
    DIR *d = fdopendir(dfd);
    if (!d) {
        snprintf(err, errlen, "verify %s: listing it: %s", outdir, strerror(errno));
        close(dfd);
        mill__manifest_free(&m);
        return MILL_EIO;
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "_SUCCESS")) continue;
        int listed = 0;
        for (size_t i = 0; i < m.nfiles && !listed; i++) listed = !strcmp(m.files[i].name, de->d_name);
        if (!listed) {
            fputs("unlisted: ", out);
            mill__fputs_visible(out, de->d_name); /* a newline in a name must not forge a line */
            fputs(": not in the manifest\n", out);
            differ = 1;
        }
    }
    int lerr = errno;
    /* A job's --overwrite that swapped this output out and removed it
     * meanwhile is not damage: say so. */
    struct stat ds, ps;
    int replaced = differ && fstat(dirfd(d), &ds) == 0 &&
                   (ds.st_nlink == 0 || stat(outdir, &ps) != 0 || ps.st_ino != ds.st_ino || ps.st_dev != ds.st_dev);
    closedir(d);
    if (replaced) {
        snprintf(err, errlen, "verify %s: the output was replaced or removed while being verified (another job's "
                 "--overwrite?): the lines above are not damage; verify it again", outdir);
        mill__manifest_free(&m);
        return MILL_EIO;
    }
    if (lerr != 0) {
        snprintf(err, errlen, "verify %s: listing it: %s", outdir, strerror(lerr));
        mill__manifest_free(&m);
        return MILL_EIO;
    }
    if (!differ)
        fprintf(out, "mpimill: verify: %s: %s %zu file%s match%s the manifest\n", outdir, m.nfiles == 1 ? "its" : "all",
                m.nfiles, m.nfiles == 1 ? "" : "s", m.nfiles == 1 ? "es" : "");
    mill__manifest_free(&m);
    return differ;
}

/* ---- the commands -------------------------------------------------------- */

/* Checks that the command `cmd` got one DIR: returns 0; or -1 after
 * printing usage for --help; or -2 after one line saying what is wrong. */
static int one_dir_arg(int argc, char **argv, const char *cmd, const char *usage) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return -1;
    }
    if (argc == 2 && argv[1][0] != '-') return 0;
    if (argc < 2) mill__eprintf("%s: no DIR given (see mpimill %s --help)", cmd, cmd);
    else if (argv[1][0] == '-') mill__eprintf("%s: unknown option '%s' (see mpimill %s --help)", cmd, argv[1], cmd);
    else mill__eprintf("%s: one DIR only ('%s' and '%s')", cmd, argv[1], argv[2]);
    return -2;
}

int mill__recover_main(int argc, char **argv) {
    static const char usage[] =
        "usage: mpimill recover DIR\n"
        "  Finishes or undoes whatever interrupted jobs left beside the output DIR\n"
        "  (staging directories, a replaced old output, the lock file). Safe to run\n"
        "  at any time and more than once; jobs writing DIR do it on their own.\n";
    int a = one_dir_arg(argc, argv, "recover", usage);
    if (a) return a == -1 ? MILL_EXIT_OK : MILL_EXIT_USAGE;
    char err[MILL__ERRLEN] = "";
    mill__fault_init(0, 1);
    int rc = mill__commit_recover(argv[1], stdout, err, sizeof err);
    if (rc) mill__eprintf("error: %s", err);
    return rc ? MILL_EXIT_RUNTIME : MILL_EXIT_OK;
}

int mill__verify_main(int argc, char **argv) {
    static const char usage[] =
        "usage: mpimill verify DIR\n"
        "  Re-checks every file of the output DIR against its manifest _SUCCESS\n"
        "  (size and XXH3-64) and prints the ones that differ, are missing or are\n"
        "  not listed. Exit status 0 when all match, 1 otherwise, 2 on a usage error.\n";
    int a = one_dir_arg(argc, argv, "verify", usage);
    if (a) return a == -1 ? MILL_EXIT_OK : MILL_EXIT_USAGE;
    char err[MILL__ERRLEN] = "";
    mill__fault_init(0, 1);
    int rc = mill__commit_verify(argv[1], stdout, err, sizeof err);
    if (rc < 0) mill__eprintf("error: %s", err);
    return rc ? MILL_EXIT_RUNTIME : MILL_EXIT_OK;
}
