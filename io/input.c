/* input.c -- expanding input paths into files and splitting them among ranks.
 * See input.h for the contract. */
#include "input.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agree.h"
#include "hdf5in.h"
#include "mpimill/job.h"

/* Returns whether s ends with suf, in any case: a.GZ is gzip too. */
static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

mill__kind mill__kind_of(const char *path) {
    if (has_suffix(path, ".csv.gz")) return MILL__CSV_GZ;
    if (has_suffix(path, ".gz")) return MILL__GZIP;
    if (has_suffix(path, ".csv")) return MILL__CSV;
    return MILL__TEXT;
}

int mill__whole_file(const mill__file *f, int csv_quoted_newlines) {
    return f->kind == MILL__GZIP || f->kind == MILL__CSV_GZ || (f->kind == MILL__CSV && csv_quoted_newlines);
}

/* Returns what a listing keeps of a file's statx: size, identity, times. */
static mill__file file_of(const struct statx *sx) {
    return (mill__file){.size = sx->stx_size, .ino = sx->stx_ino,
                        .dev = (uint64_t)makedev(sx->stx_dev_major, sx->stx_dev_minor),
                        .birth_ns = mill__statx_birth(sx), .mtime_s = sx->stx_mtime.tv_sec,
                        .mtime_ns = sx->stx_mtime.tv_nsec};
}

/* Stats path (following links) for a listing: one call gives the type, the
 * identity, the size and the times. Returns 0, or -1 with errno set. */
static int stat_path(const char *path, struct statx *sx) {
    return statx(AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_BTIME, sx);
}

/* Appends one input named path, with f's size, identity and times; kind
 * and dsoff are set by the caller afterwards. */
static int add_file(mill__inputs *in, size_t *cap, const char *path, mill__file f) {
    if (in->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        mill__file *nf = realloc(in->files, ncap * sizeof *nf);
        if (!nf) return MILL_ENOMEM;
        in->files = nf;
        *cap = ncap;
    }
    if (!(f.path = strdup(path))) return MILL_ENOMEM;
    f.kind = (uint32_t)mill__kind_of(path);
    in->files[in->n++] = f;
    in->total += f.size;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories being listed, innermost first: a link back to one of
 * them is a loop, not more input. */
typedef struct dir_up {
    dev_t dev;
    ino_t ino;
    const struct dir_up *up;
} dir_up;

static int add_path(mill__inputs *in, size_t *cap, const char *path, const dir_up *up, char *err, size_t errlen);

/* A missing top-level path holding one of these is tried as a glob pattern. */
#define GLOB_CHARS "*?["

/* Writes an HDF5 dataset's name (from its leading '/') in one form, in
 * place: "/g//d/" and "/g/d" name one dataset (messages give one form). */
static void dataset_tidy(char *name) {
    char *w = name;
    for (const char *r = name; *r; r++)
        if (*r != '/' || w == name || w[-1] != '/') *w++ = *r;
    if (w - name > 1 && w[-1] == '/') w--;
    *w = '\0';
}

/* Returns the last name of a path (trailing '/'s aside) and its length. */
static const char *last_name(const char *path, size_t *len) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    *len = n - s;
    return path + s;
}

/* Returns whether glob's match m is to be read for pattern p: not "." or
 * "..", and not named with a leading '_' or '.' (skipped as in a
 * directory's listing, and in Hadoop's globs: a glob of every name in an
 * earlier output reads its parts, not its _SUCCESS) unless p's last name
 * asks for that character itself ('logs/_*', 'logs/[_.]*'). Only the last
 * name is checked: a wildcard in an earlier one may match a '_' directory. */
static int glob_keeps(const char *p, const char *m) {
    size_t pl, ml;
    const char *pn = last_name(p, &pl), *mn = last_name(m, &ml);
    if ((ml == 1 && mn[0] == '.') || (ml == 2 && mn[0] == '.' && mn[1] == '.')) return 0;
    char c = mn[0];
    if (c != '_' && c != '.') return 1;
    if (pl && pn[0] == c) return 1;
    if (pl > 1 && pn[0] == '\\' && pn[1] == c) return 1; /* escaped: 'logs/\_*' */
    if (pl && pn[0] == '[') { /* a bracket expression that names c */
        const char *end = memchr(pn + 2, ']', pl > 2 ? pl - 2 : 0);
        return end && memchr(pn + 1, c, (size_t)(end - pn - 1)) != NULL && pn[1] != '!' && pn[1] != '^';
    }
    return 0;
}

/* Returns 1 when the first n bytes of path name a regular file (its stat
 * in *st), 0 when not, or MILL_ENOMEM: whether a FILE:NAME is meant as a
 * dataset. */
static int regular_prefix(const char *path, size_t n, struct statx *sx) {
    char *file = strndup(path, n);
    if (!file) return MILL_ENOMEM;
    int ok = stat_path(file, sx) == 0 && S_ISREG(sx->stx_mode);
    free(file);
    return ok;
}

/* Tries a missing top-level path as a glob pattern, then as FILE:/DATASET.
 * Returns 1 when it is neither (the caller reports the missing path). A
 * glob's matches are read as glob_keeps says. */
static int add_special(mill__inputs *in, size_t *cap, const char *path, char *err, size_t errlen) {
    /* FILE:NAME with FILE a regular file is meant as a dataset: say what is
     * wrong with it rather than "no such file" or a failed glob. */
    const char *colon = strchr(path, ':');
    struct statx sx;
    if (colon) {
        int is_file = regular_prefix(path, (size_t)(colon - path), &sx);
        if (is_file < 0) return is_file;
        if (is_file && colon[1] != '/') {
            snprintf(err, errlen, "input %s: an HDF5 dataset is named from the file's root: %.*s:/%s", path,
                     (int)(colon - path), path, colon + 1);
            return MILL_ENOENT;
        }
        if (is_file && strpbrk(colon, GLOB_CHARS)) {
            snprintf(err, errlen, "input %s: HDF5 dataset names are not patterns: name each dataset", path);
            return MILL_ENOENT;
        }
    }
    if (strpbrk(path, GLOB_CHARS)) {
        glob_t g;
        int grc = glob(path, GLOB_ERR, NULL, &g);
        if (grc == 0) {
            int rc = 0;
            size_t added = 0;
            for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
                if (!glob_keeps(path, g.gl_pathv[i])) continue;
                rc = add_path(in, cap, g.gl_pathv[i], NULL, err, errlen);
                added++;
            }
            if (rc == 0 && added == 0) {
                snprintf(err, errlen, "input %s: matches only names starting with '_' or '.', which are skipped "
                         "as in a directory (a pattern whose last name starts with that character reads them: "
                         "DIR/_*)", path);
                rc = MILL_ENOENT;
            }
            globfree(&g);
            return rc;
        }
        if (grc != GLOB_NOMATCH) {
            snprintf(err, errlen, "input %s: glob failed (%s)", path, grc == GLOB_NOSPACE ? "out of memory" : "read error");
            globfree(&g); /* glob may have allocated before it failed */
            return grc == GLOB_NOSPACE ? MILL_ENOMEM : MILL_EIO;
        }
        globfree(&g);
    }
    for (const char *c = strstr(path, ":/"); c; c = strstr(c + 1, ":/")) {
        int ok = regular_prefix(path, (size_t)(c - path), &sx);
        if (ok < 0) return ok;
        if (!ok) continue;
        int rc = add_file(in, cap, path, file_of(&sx));
        if (rc) return rc;
        in->files[in->n - 1].kind = MILL__HDF5;
        in->files[in->n - 1].dsoff = (uint32_t)(c - path);
        dataset_tidy(in->files[in->n - 1].path + (c - path) + 1);
        return 0;
    }
    return 1;
}

/* Adds `path` (a file or a directory, recursively; at the top level, up
 * NULL, also a glob pattern or an HDF5 dataset) to `in`. A directory link
 * back to one being listed is skipped with a warning. */
static int add_path(mill__inputs *in, size_t *cap, const char *path, const dir_up *up, char *err, size_t errlen) {
    int top = up == NULL;
    struct statx sx;
    if (stat_path(path, &sx) != 0) {
        int e = errno;
        if (top && e == ENOENT) {
            int rc = add_special(in, cap, path, err, errlen);
            if (rc <= 0) return rc;
            if (strpbrk(path, GLOB_CHARS)) {
                snprintf(err, errlen, "input %s: no file matches this pattern", path);
                return MILL_ENOENT;
            }
        }
        snprintf(err, errlen, "input %s: %s", path, strerror(e));
        return e == ENOENT ? MILL_ENOENT : MILL_EIO;
    }
    if (S_ISREG(sx.stx_mode)) {
        if (access(path, R_OK) != 0) {
            snprintf(err, errlen, "input %s: %s", path, strerror(errno));
            return MILL_EIO;
        }
        return add_file(in, cap, path, file_of(&sx));
    }
    if (!S_ISDIR(sx.stx_mode)) {
        if (top) {
            snprintf(err, errlen, "input %s: not a regular file or directory", path);
            return MILL_EINVAL;
        }
        mill__eprintf("warning: input %s: not a regular file or directory: skipped", path);
        return 0;
    }
    for (const dir_up *a = up; a; a = a->up) {
        if (a->dev == makedev(sx.stx_dev_major, sx.stx_dev_minor) && a->ino == sx.stx_ino) {
            mill__eprintf("warning: input %s: a link back to a directory it is in: skipped", path);
            return 0;
        }
    }
    dir_up here = {makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino, up};
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        return MILL_EIO;
    }
    /* `logs/` and `logs` name the same files: `logs/a.log`, never `logs//a.log`. */
    int dir_len = (int)strlen(path);
    while (dir_len > 1 && path[dir_len - 1] == '/') dir_len--;
    if (dir_len == 1 && path[0] == '/') dir_len = 0;
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_') continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 32;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) { rc = MILL_ENOMEM; break; }
            names = nn;
        }
        if (asprintf(&names[n], "%.*s/%s", dir_len, path, de->d_name) < 0) { rc = MILL_ENOMEM; break; }
        n++;
        errno = 0;
    }
    if (rc == 0 && errno != 0) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        rc = MILL_EIO;
    }
    closedir(d);
    if (rc == MILL_ENOMEM) snprintf(err, errlen, "out of memory listing %s", path);
    if (rc == 0 && n > 1) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when n is 0 */
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = add_path(in, cap, names[i], &here, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* A file's identity: device, inode and, for HDF5, the dataset's address
 * in the file (one for all its names) or, where it cannot be found, its
 * name (the reader then fails on it). */
typedef struct ident {
    uint64_t dev, ino;
    int named;           /* HDF5, by name: addr unknown */
    uint64_t addr;
    const char *dataset; /* "" for a file */
    size_t i;            /* its place in the list */
} ident;

/* Compares identities. */
static int ident_cmp(const ident *x, const ident *y) {
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    if (x->named != y->named) return x->named - y->named;
    if (!x->named) return (x->addr > y->addr) - (x->addr < y->addr);
    return strcmp(x->dataset, y->dataset);
}

/* Orders by identity, then by place in the list. */
static int cmp_ident(const void *a, const void *b) {
    const ident *x = a, *y = b;
    int c = ident_cmp(x, y);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Drops each input that is a file (or HDF5 dataset) listed before it, with
 * a warning naming both: read twice, its records would count twice. */
static int drop_twice(mill__inputs *in, char *err, size_t errlen) {
    ident *id = malloc((in->n ? in->n : 1) * sizeof *id);
    unsigned char *drop = calloc(in->n ? in->n : 1, 1);
    if (!id || !drop) {
        free(id), free(drop);
        snprintf(err, errlen, "out of memory listing the inputs");
        return MILL_ENOMEM;
    }
    for (size_t i = 0; i < in->n; i++) {
        const mill__file *f = &in->files[i];
        id[i] = (ident){f->dev, f->ino, 0, 0, f->kind == MILL__HDF5 ? f->path + f->dsoff + 1 : "", i};
        if (f->kind != MILL__HDF5) continue;
        char *file = strndup(f->path, f->dsoff);
        id[i].named = !file || mill__hdf5_address(file, id[i].dataset, &id[i].addr) != 0;
        free(file);
    }
    qsort(id, in->n, sizeof *id, cmp_ident);
    /* The first ten get a line each, the rest one line: a directory named
     * twice would print one per file. */
    size_t ndup = 0;
    for (size_t i = 1, first = 0; i < in->n; i++) {
        if (ident_cmp(&id[i], &id[first]) != 0) {
            first = i;
            continue;
        }
        const char *a = in->files[id[first].i].path, *b = in->files[id[i].i].path;
        char msg[2 * PATH_MAX + 128];
        if (strcmp(a, b) == 0) snprintf(msg, sizeof msg, "input %s is listed twice: read once", a);
        else snprintf(msg, sizeof msg, "input %s is the same %s as %s: read once", b, *id[i].dataset ? "dataset" : "file", a);
        if (ndup++ < 10) mill__eprintf("warning: %s", msg);
        drop[id[i].i] = 1;
    }
    if (ndup > 10) mill__eprintf("warning: %zu more inputs reached twice: each read once", ndup - 10);
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (drop[i]) {
            in->total -= in->files[i].size;
            free(in->files[i].path);
        } else {
            in->files[k++] = in->files[i];
        }
    }
    in->n = k;
    free(id);
    free(drop);
    return 0;
}

int mill__inputs_list_read(const char *what, const char *spec, char ***out, char *err, size_t errlen) {
    FILE *f = fopen(spec + 1, "r");
    if (!f) {
        snprintf(err, errlen, "%s %s: %s", what, spec, strerror(errno));
        return errno == ENOENT ? MILL_ENOENT : MILL_EIO;
    }
    char **v = calloc(1, sizeof *v), *line = NULL;
    size_t n = 0, cap = 1, lcap = 0;
    int rc = v ? 0 : MILL_ENOMEM;
    ssize_t len;
    while (rc == 0 && (errno = 0, len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        if (n + 2 > cap) {
            cap = cap < 64 ? 64 : cap * 2;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) rc = MILL_ENOMEM;
            else v = nv;
        }
        if (rc == 0 && !(v[n] = strdup(line))) rc = MILL_ENOMEM;
        if (rc == 0) v[++n] = NULL;
    }
    if (rc == 0 && errno != 0) rc = errno == ENOMEM ? MILL_ENOMEM : MILL_EIO; /* EISDIR for a directory */
    if (rc) snprintf(err, errlen, "%s %s: %s", what, spec, rc == MILL_ENOMEM ? "out of memory" : strerror(errno));
    free(line);
    (void)fclose(f); /* read only: what was read is checked above */
    if (rc) {
        mill__inputs_list_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void mill__inputs_list_free(char **v) {
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

int mill__inputs_collect(mill__inputs *in, char *const *paths, size_t npaths, char *err, size_t errlen) {
    memset(in, 0, sizeof *in);
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < npaths && rc == 0; i++) {
        char **list = NULL;
        if (paths[i][0] != '@') rc = add_path(in, &cap, paths[i], NULL, err, errlen);
        else if ((rc = mill__inputs_list_read("input", paths[i], &list, err, errlen)) == 0 && !list[0]) {
            snprintf(err, errlen, "input %s: the list names no input", paths[i]);
            rc = MILL_ENOENT;
        } else if (rc == 0) {
            for (char **p = list; *p && rc == 0; p++) rc = add_path(in, &cap, *p, NULL, err, errlen);
        }
        mill__inputs_list_free(list);
    }
    if (rc == 0) rc = drop_twice(in, err, errlen);
    if (rc) mill__inputs_free(in);
    return rc;
}

/* mill__inputs_check_output for one input path, with out the output's
 * real path. */
static int output_under(const char *out, const char *path, const char *output, char *err, size_t errlen) {
    char dir[PATH_MAX], first[NAME_MAX + 1] = "";
    struct stat st;
    const char *wild = strpbrk(path, GLOB_CHARS);
    int exists = stat(path, &st) == 0;
    if (wild && !exists) {
        /* A glob: its fixed directory, and the pattern of the next name
         * ("logs/2024-*" reads logs/2024-x/..., so no output there). */
        const char *cut = wild;
        while (cut > path && cut[-1] != '/') cut--;
        size_t dl = (size_t)(cut - path), pl = strcspn(cut, "/");
        if (dl >= sizeof dir || pl >= sizeof first) return 0;
        memcpy(dir, path, dl);
        dir[dl] = '\0';
        memcpy(first, cut, pl);
        first[pl] = '\0';
        if (!realpath(dl ? dir : ".", dir)) return 0;
    } else if (!exists || !S_ISDIR(st.st_mode) || !realpath(path, dir)) {
        return 0;
    }
    size_t n = strlen(dir);
    if (n == 1) n = 0; /* "/" */
    if (strncmp(out, dir, n) != 0 || out[n] != '/') return 0;
    if (first[0]) { /* the output's name under dir must not match the glob */
        char comp[NAME_MAX + 1];
        size_t cl = strcspn(out + n + 1, "/");
        if (cl >= sizeof comp) return 0;
        memcpy(comp, out + n + 1, cl);
        comp[cl] = '\0';
        if (fnmatch(first, comp, FNM_PERIOD) != 0) return 0;
    }
    snprintf(err, errlen, "output %s is %s %s: a later run would read it as input (write it elsewhere)", output,
             first[0] ? "under the input pattern" : "inside the input directory", path);
    return MILL_EINVAL;
}

int mill__inputs_check_output(char *const *paths, size_t npaths, const char *output, char *err, size_t errlen) {
    /* The output's real path: its parent resolved, its own name kept (it may not exist yet). */
    char *copy = strdup(output);
    if (!copy) return MILL_ENOMEM;
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    const char *name = slash ? slash + 1 : copy;
    char parent[PATH_MAX], out[PATH_MAX + NAME_MAX + 2];
    if (slash) *slash = '\0';
    int ok = realpath(slash ? (slash == copy ? "/" : copy) : ".", parent) != NULL;
    if (ok) snprintf(out, sizeof out, "%s/%s", strcmp(parent, "/") ? parent : "", name);
    free(copy);
    if (!ok) return 0;
    int rc = 0;
    for (size_t i = 0; i < npaths && rc == 0; i++) {
        char **list = NULL;
        if (paths[i][0] != '@') rc = output_under(out, paths[i], output, err, errlen);
        else if (mill__inputs_list_read("input", paths[i], &list, err, errlen) == 0) /* a bad list: the listing's */
            for (char **p = list; *p && rc == 0; p++) rc = output_under(out, *p, output, err, errlen);
        mill__inputs_list_free(list);
    }
    return rc;
}

int mill__input_kind_bit(const mill__file *f) {
    mill__kind k = (mill__kind)f->kind;
    return k == MILL__HDF5 ? 2 : k == MILL__CSV || k == MILL__CSV_GZ ? 1 : 0;
}

int mill__inputs_check_kinds(const mill__inputs *in, uint64_t kinds, const char *job, char *err, size_t errlen) {
    static const char *const what[] = {"text", "CSV", "an HDF5 dataset"};
    static const char *const read[] = {"text", "CSV (*.csv, *.csv.gz)", "HDF5 datasets (FILE.h5:/DATASET)"};
    for (size_t i = 0; kinds && i < in->n; i++) {
        int b = mill__input_kind_bit(&in->files[i]);
        if (kinds & (UINT64_C(1) << b)) continue;
        int n = snprintf(err, errlen, "input %s is %s: job %s reads", in->files[i].path, what[b], job);
        for (int j = 0, first = 1; j < 3 && n >= 0 && (size_t)n < errlen; j++) {
            if (!(kinds & (UINT64_C(1) << j))) continue;
            n += snprintf(err + n, errlen - (size_t)n, "%s%s", first ? " " : " and ", read[j]);
            first = 0;
        }
        return MILL_EINVAL;
    }
    return 0;
}

void mill__inputs_free(mill__inputs *in) {
    for (size_t i = 0; i < in->n; i++) free(in->files[i].path);
    free(in->files);
    memset(in, 0, sizeof *in);
}

/* Wire format: u64 n, then per file: u64 size, u32 kind, u32 dsoff,
 * u64 ino, u64 birth_ns, u64 path length, path bytes. */
int mill__inputs_pack(const mill__inputs *in, char **buf, size_t *len) {
    size_t need = 8;
    for (size_t i = 0; i < in->n; i++) need += 40 + strlen(in->files[i].path);
    char *b = malloc(need), *p = b;
    if (!b) return MILL_ENOMEM;
    uint64_t n = in->n;
    memcpy(p, &n, 8), p += 8;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t pl = strlen(in->files[i].path);
        memcpy(p, &in->files[i].size, 8), p += 8;
        memcpy(p, &in->files[i].kind, 4), p += 4;
        memcpy(p, &in->files[i].dsoff, 4), p += 4;
        memcpy(p, &in->files[i].ino, 8), p += 8;
        memcpy(p, &in->files[i].birth_ns, 8), p += 8;
        memcpy(p, &pl, 8), p += 8;
        memcpy(p, in->files[i].path, pl), p += pl;
    }
    *buf = b;
    *len = need;
    return 0;
}

int mill__inputs_unpack(mill__inputs *in, const char *buf, size_t len) {
    memset(in, 0, sizeof *in);
    size_t cap = 0, off = 8;
    uint64_t n;
    if (len < 8) return MILL_EFORMAT;
    memcpy(&n, buf, 8);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t size, pl, ino, ct;
        uint32_t kind, dsoff;
        if (len - off < 40) goto bad;
        memcpy(&size, buf + off, 8);
        memcpy(&kind, buf + off + 8, 4);
        memcpy(&dsoff, buf + off + 12, 4);
        memcpy(&ino, buf + off + 16, 8);
        memcpy(&ct, buf + off + 24, 8);
        memcpy(&pl, buf + off + 32, 8);
        off += 40;
        if (len - off < pl || kind > MILL__HDF5 || (kind == MILL__HDF5 && dsoff >= pl)) goto bad;
        char *path = strndup(buf + off, pl);
        if (!path) { mill__inputs_free(in); return MILL_ENOMEM; }
        int rc = add_file(in, &cap, path, (mill__file){.size = size, .ino = ino, .birth_ns = ct});
        free(path);
        if (rc) { mill__inputs_free(in); return rc; }
        in->files[in->n - 1].kind = kind;
        in->files[in->n - 1].dsoff = dsoff;
        off += pl;
    }
    return 0;
bad:
    mill__inputs_free(in);
    return MILL_EFORMAT;
}

/* Returns floor(total * k / size) without overflow. */
static uint64_t cut(uint64_t total, int k, int size) {
    __extension__ typedef unsigned __int128 u128;
    return (uint64_t)(((u128)total * (unsigned)k) / (unsigned)size);
}

/* Emits piece pc into out[*n] when there is room; counts it either way. */
static void put(mill__piece *out, size_t max, size_t *n, mill__piece pc) {
    if (*n < max) out[*n] = pc;
    (*n)++;
}

/* A whole file to place: its size and index in the inputs. */
typedef struct {
    uint64_t size;
    size_t file;
} whole;

/* Orders whole files by size descending, then input order: a total order,
 * so qsort (not stable) gives every rank the same sequence. */
static int whole_cmp(const void *pa, const void *pb) {
    const whole *a = pa, *b = pb;
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    return (a->file > b->file) - (a->file < b->file);
}

/* A rank's load in the placement heap. */
typedef struct {
    uint64_t load;
    int rank;
} slot;

/* Returns whether a goes before b: less loaded, then lower rank. */
static int slot_less(slot a, slot b) {
    return a.load < b.load || (a.load == b.load && a.rank < b.rank);
}

/* Restores the min-heap h[0..n) after h[0] grew. */
static void slot_sift(slot *h, size_t n) {
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && slot_less(h[c + 1], h[c])) c++;
        if (!slot_less(h[c], h[i])) return;
        slot t = h[i];
        h[i] = h[c], h[c] = t, i = c;
    }
}

int *mill__split_place(const mill__inputs *in, int csv_quoted_newlines, int size) {
    size_t n = in->n ? in->n : 1, nwhole = 0;
    int *owner = malloc(n * sizeof *owner);
    whole *order = malloc(n * sizeof *order);
    slot *heap = malloc((size_t)size * sizeof *heap);
    if (!owner || !order || !heap) {
        free(owner), free(order), free(heap);
        return NULL;
    }
    for (size_t i = 0; i < in->n; i++) {
        owner[i] = -1;
        if (in->files[i].kind != MILL__HDF5 && mill__whole_file(&in->files[i], csv_quoted_newlines))
            order[nwhole++] = (whole){in->files[i].size, i};
    }
    qsort(order, nwhole, sizeof *order, whole_cmp);
    /* Ranks in order with no load are a heap already. Its root is always
     * the least loaded rank, the lowest of equals: the one a scan of all
     * ranks would pick. */
    for (int r = 0; r < size; r++) heap[r] = (slot){0, r};
    for (size_t a = 0; a < nwhole; a++) {
        owner[order[a].file] = heap[0].rank;
        heap[0].load += order[a].size + 1; /* +1: empty files spread too */
        slot_sift(heap, (size_t)size);
    }
    free(order);
    free(heap);
    return owner;
}

size_t mill__split_pieces(const mill__inputs *in, const int *owner, int rank, int size, mill__piece *out,
                          size_t max) {
    size_t n = 0;
    uint64_t split_total = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (in->files[i].kind == MILL__HDF5) put(out, max, &n, (mill__piece){.file = i});
        else if (owner[i] < 0) split_total += in->files[i].size;
    }
    uint64_t lo = cut(split_total, rank, size), hi = cut(split_total, rank + 1, size);
    uint64_t base = 0;
    for (size_t i = 0; i < in->n; i++) {
        const mill__file *f = &in->files[i];
        if (f->kind == MILL__HDF5) continue;
        if (owner[i] >= 0) {
            if (owner[i] == rank) put(out, max, &n, (mill__piece){.file = i, .start = 0, .end = f->size});
            continue;
        }
        uint64_t fs = f->size, fe = base + fs;
        if (base < hi) {
            uint64_t s = lo > base ? lo - base : 0, e = (hi < fe ? hi : fe) - base;
            if (fe > lo && s < e) put(out, max, &n, (mill__piece){.file = i, .start = s, .end = e});
        }
        base = fe;
    }
    return n;
}

size_t mill__split_list(const mill__inputs *in, const int *owner, int rank, int size, mill__piece **out) {
    size_t n = mill__split_pieces(in, owner, rank, size, NULL, 0);
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out) return SIZE_MAX;
    mill__split_pieces(in, owner, rank, size, *out, n);
    return n;
}

size_t mill__split(const mill__inputs *in, int rank, int size, mill__piece *out, size_t max) {
    int *owner = mill__split_place(in, 0, size);
    size_t n = owner ? mill__split_pieces(in, owner, rank, size, out, max) : SIZE_MAX;
    free(owner);
    return n;
}

uint64_t mill__split_bytes(const mill__inputs *in, int csv_quoted_newlines, int rank, int size) {
    int *owner = mill__split_place(in, csv_quoted_newlines, size);
    mill__piece *pc = NULL;
    size_t n = owner ? mill__split_list(in, owner, rank, size, &pc) : SIZE_MAX;
    free(owner);
    if (n == SIZE_MAX) return 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += in->files[pc[i].file].kind == MILL__HDF5 ? in->files[pc[i].file].size / (uint64_t)size
                                                          : pc[i].end - pc[i].start;
    free(pc);
    return bytes;
}
