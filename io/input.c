/* input.c -- expanding input paths into files and splitting them among ranks.
 * See input.h for the contract. */
#include "input.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpimill/job.h"

static int add_file(mill__inputs *in, size_t *cap, const char *path, uint64_t size) {
    if (in->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        mill__file *f = realloc(in->files, ncap * sizeof *f);
        if (!f) return MILL_ENOMEM;
        in->files = f;
        *cap = ncap;
    }
    char *p = strdup(path);
    if (!p) return MILL_ENOMEM;
    in->files[in->n].path = p;
    in->files[in->n].size = size;
    in->n++;
    in->total += size;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds `path` (a file or a directory, recursively) to `in`. */
static int add_path(mill__inputs *in, size_t *cap, const char *path, int top, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        return errno == ENOENT ? MILL_ENOENT : MILL_EIO;
    }
    if (S_ISREG(st.st_mode)) {
        if (access(path, R_OK) != 0) {
            snprintf(err, errlen, "input %s: %s", path, strerror(errno));
            return MILL_EIO;
        }
        return add_file(in, cap, path, (uint64_t)st.st_size);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (top) {
            snprintf(err, errlen, "input %s: not a regular file or directory", path);
            return MILL_EINVAL;
        }
        return 0; /* sockets, fifos inside directories are skipped */
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        return MILL_EIO;
    }
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
        if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0) { rc = MILL_ENOMEM; break; }
        n++;
        errno = 0;
    }
    if (rc == 0 && errno != 0) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        rc = MILL_EIO;
    }
    closedir(d);
    if (rc == MILL_ENOMEM) snprintf(err, errlen, "out of memory listing %s", path);
    if (rc == 0) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = add_path(in, cap, names[i], 0, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

int mill__inputs_collect(mill__inputs *in, char *const *paths, size_t npaths, char *err, size_t errlen) {
    memset(in, 0, sizeof *in);
    size_t cap = 0;
    for (size_t i = 0; i < npaths; i++) {
        int rc = add_path(in, &cap, paths[i], 1, err, errlen);
        if (rc) {
            mill__inputs_free(in);
            return rc;
        }
    }
    return 0;
}

void mill__inputs_free(mill__inputs *in) {
    for (size_t i = 0; i < in->n; i++) free(in->files[i].path);
    free(in->files);
    memset(in, 0, sizeof *in);
}

/* Wire format: u64 n, then per file: u64 size, u64 path length, path bytes. */
int mill__inputs_pack(const mill__inputs *in, char **buf, size_t *len) {
    size_t need = 8;
    for (size_t i = 0; i < in->n; i++) need += 16 + strlen(in->files[i].path);
    char *b = malloc(need), *p = b;
    if (!b) return MILL_ENOMEM;
    uint64_t n = in->n;
    memcpy(p, &n, 8), p += 8;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t pl = strlen(in->files[i].path);
        memcpy(p, &in->files[i].size, 8), p += 8;
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
        uint64_t size, pl;
        if (len - off < 16) goto bad;
        memcpy(&size, buf + off, 8);
        memcpy(&pl, buf + off + 8, 8);
        off += 16;
        if (len - off < pl) goto bad;
        char *path = strndup(buf + off, pl);
        if (!path) { mill__inputs_free(in); return MILL_ENOMEM; }
        int rc = add_file(in, &cap, path, size);
        free(path);
        if (rc) { mill__inputs_free(in); return rc; }
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

size_t mill__split(const mill__inputs *in, int rank, int size, mill__piece *out, size_t max) {
    uint64_t lo = cut(in->total, rank, size), hi = cut(in->total, rank + 1, size);
    uint64_t base = 0;
    size_t n = 0;
    for (size_t i = 0; i < in->n && base < hi; i++) {
        uint64_t fs = in->files[i].size, fe = base + fs;
        uint64_t s = lo > base ? lo - base : 0, e = (hi < fe ? hi : fe) - base;
        if (fe > lo && s < e) {
            if (n < max) out[n] = (mill__piece){.file = i, .start = s, .end = e};
            n++;
        }
        base = fe;
    }
    return n;
}
