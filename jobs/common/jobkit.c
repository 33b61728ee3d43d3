/* jobkit.c -- helpers shared by the built-in jobs (see jobkit.h). */
#include "jobkit.h"

#include <errno.h>
#include <math.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jk_buf_reserve(jk_buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) return MILL_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return MILL_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int jk_buf_add(jk_buf *b, const void *p, size_t n) {
    if (jk_buf_reserve(b, n)) return MILL_ENOMEM;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int jk_buf_add_escaped(jk_buf *b, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *esc = p[i] == '\t' ? "\\t" : p[i] == '\n' ? "\\n" : p[i] == '\r' ? "\\r" : p[i] == '\\' ? "\\\\" : NULL;
        if (esc ? jk_buf_add(b, esc, 2) : jk_buf_add(b, p + i, 1)) return MILL_ENOMEM;
    }
    return 0;
}

void jk_buf_free(jk_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int jk_opt_bool(mill_ctx *ctx, const char *key, int def, int *out) {
    const char *v = mill_opt(ctx, key);
    *out = def;
    if (!v) return 0;
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
        mill_fail(ctx, "option %s=%s: expected 0 or 1", key, v);
        return MILL_EINVAL;
    }
    *out = v[0] == '1';
    return 0;
}

const char *jk_opt_required(mill_ctx *ctx, const char *key, const char *hint) {
    const char *v = mill_opt(ctx, key);
    if (!v || !*v) {
        mill_fail(ctx, "option %s is required (e.g. --opt %s=%s)", key, key, hint);
        return NULL;
    }
    return v;
}

int jk_parse_double(const char *p, size_t len, double *out) {
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    char buf[64], *tmp = len < sizeof buf ? buf : malloc(len + 1); /* long numbers are numbers too */
    if (len == 0 || !tmp) return -1;
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    int bad = end != tmp + len || isnan(x) || (errno == ERANGE && isinf(x)) || strpbrk(tmp, "xX");
    if (tmp != buf) free(tmp);
    if (bad) return -1;
    *out = x;
    return 0;
}

size_t jk_fmt_double(char *out, double x) {
    if (isnan(x)) return (size_t)snprintf(out, 32, "nan"); /* inf + -inf: never "-nan" */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, x);
        if (strtod(out, NULL) == x) break;
    }
    return (size_t)n;
}

/* ---- CSV columns ------------------------------------------------------ */

/* The resolved indexes of the columns for one input file. */
typedef struct jk_file {
    char *name;
    size_t *idx;
} jk_file;

struct jk_cols {
    size_t n, cap;
    char **spec;     /* as written */
    long *pos;       /* >= 0: "#N" as index N-1; -1: by name */
    void *files;     /* tsearch tree of jk_file by name: one per file seen */
    jk_file *last;   /* the last file resolved: records come file by file */
    const size_t *cur;
};

static int file_cmp(const void *a, const void *b) {
    return strcmp(((const jk_file *)a)->name, ((const jk_file *)b)->name);
}

static void file_free(void *p) {
    jk_file *f = p;
    if (!f) return;
    free(f->name);
    free(f->idx);
    free(f);
}

jk_cols *jk_cols_new(void) { return calloc(1, sizeof(jk_cols)); }

size_t jk_cols_count(const jk_cols *c) { return c->n; }

const char *jk_cols_name(const jk_cols *c, size_t i) { return c->spec[i]; }

long jk_cols_add(mill_ctx *ctx, jk_cols *c, const char *opt, const char *spec, size_t len) {
    if (len == 0) {
        mill_fail(ctx, "option %s: empty column name", opt);
        return -1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        char **s = realloc(c->spec, cap * sizeof *s);
        if (s) c->spec = s;
        long *p = s ? realloc(c->pos, cap * sizeof *p) : NULL;
        if (!p) {
            mill_fail(ctx, "out of memory");
            return -1;
        }
        c->pos = p;
        c->cap = cap;
    }
    char *name = malloc(len + 1);
    if (!name) {
        mill_fail(ctx, "out of memory");
        return -1;
    }
    memcpy(name, spec, len);
    name[len] = '\0';
    long pos = -1;
    if (name[0] == '#') {
        char *end;
        errno = 0;
        long v = strtol(name + 1, &end, 10);
        if (name[1] < '0' || name[1] > '9' || *end || errno || v < 1) {
            mill_fail(ctx, "option %s: column '%s': expected a header name or #N with N >= 1", opt, name);
            free(name);
            return -1;
        }
        pos = v - 1;
    }
    c->spec[c->n] = name;
    c->pos[c->n] = pos;
    return (long)c->n++;
}

jk_cols *jk_cols_parse(mill_ctx *ctx, const char *opt, const char *list) {
    const char *path;
    uint64_t kind;
    for (size_t i = 0; mill_input(ctx, i, &path, &kind) == 0; i++)
        if (kind != MILL_INPUT_CSV) {
            mill_fail(ctx, "input %s is not CSV: option %s=%s names CSV columns (name files *.csv or *.csv.gz)", path, opt, list);
            return NULL;
        }
    jk_cols *c = jk_cols_new();
    if (!c) {
        mill_fail(ctx, "out of memory");
        return NULL;
    }
    for (const char *s = list;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (jk_cols_add(ctx, c, opt, s, len) < 0) {
            jk_cols_free(c);
            return NULL;
        }
        if (!e) break;
        s = e + 1;
    }
    return c;
}

void jk_cols_free(jk_cols *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->spec[i]);
    free(c->spec);
    free(c->pos);
    tdestroy(c->files, file_free);
    free(c);
}

/* Finds the column of rec's file whose header name is name (mill_csv_header).
 * Returns its index, -1 when absent, or -2 when the file has no header. */
static long header_find(mill_ctx *ctx, const mill_record *rec, const char *name) {
    size_t nlen = strlen(name), len;
    const char *p;
    long k = 0;
    for (; mill_csv_header(ctx, rec, (size_t)k, &p, &len) == 0; k++)
        if (len == nlen && memcmp(p, name, nlen) == 0) return k;
    return k ? -1 : -2;
}

/* Sets *field to the field of rec (of nf) that is the file's column col:
 * with --csv-columns, fields are the selected columns, in their order.
 * Returns 0, or MILL_EINVAL when no field is that column. */
static int header_field(mill_ctx *ctx, const mill_record *rec, size_t nf, size_t col, size_t *field) {
    for (size_t j = 0; j < nf; j++) {
        size_t k;
        if (mill_csv_column(ctx, rec, j, &k) == 0 && k == col) {
            *field = j;
            return 0;
        }
    }
    return MILL_EINVAL;
}

int jk_cols_resolve(mill_ctx *ctx, jk_cols *c, const mill_record *rec, const size_t **idx) {
    size_t nf;
    if (mill_csv_nfields(ctx, rec, &nf) != 0) {
        mill_fail(ctx, "input %s is not CSV: this job reads CSV columns (name files *.csv or *.csv.gz)", rec->file);
        return MILL_EINVAL;
    }
    jk_file *f = c->last;
    if (f && strcmp(f->name, rec->file) != 0) {
        jk_file key = {.name = (char *)rec->file};
        void *hit = tfind(&key, &c->files, file_cmp);
        f = hit ? *(jk_file **)hit : NULL;
    }
    if (!f) {
        f = calloc(1, sizeof *f);
        if (f) f->name = strdup(rec->file);
        if (f && f->name) f->idx = calloc(c->n ? c->n : 1, sizeof *f->idx);
        if (!f || !f->name || !f->idx) {
            if (f) free(f->name);
            free(f);
            mill_fail(ctx, "out of memory");
            return MILL_ENOMEM;
        }
        int rc = 0;
        for (size_t i = 0; i < c->n && rc == 0; i++) {
            if (c->pos[i] >= 0) {
                f->idx[i] = (size_t)c->pos[i];
                continue;
            }
            long k = header_find(ctx, rec, c->spec[i]);
            if (k == -2) {
                mill_fail(ctx, "column '%s' is named but %s has no header row (--csv-no-header): name it as #N",
                          c->spec[i], rec->file);
                rc = MILL_EINVAL;
            } else if (k < 0) {
                mill_fail(ctx, "no column '%s' in the header of %s", c->spec[i], rec->file);
                rc = MILL_EINVAL;
            } else if ((rc = header_field(ctx, rec, nf, (size_t)k, &f->idx[i])) != 0) {
                mill_fail(ctx, "column '%s' of %s is not among the columns --csv-columns selects", c->spec[i],
                          rec->file);
            }
        }
        if (!rc && !tsearch(f, &c->files, file_cmp)) {
            mill_fail(ctx, "out of memory");
            rc = MILL_ENOMEM;
        }
        if (rc) {
            file_free(f);
            return rc;
        }
    }
    c->last = f;
    for (size_t i = 0; i < c->n; i++) {
        if (f->idx[i] >= nf) {
            mill_fail(ctx, "column '%s': the row has only %zu fields", c->spec[i], nf);
            return MILL_EINVAL;
        }
    }
    c->cur = f->idx;
    *idx = f->idx;
    return 0;
}

int jk_cols_field(mill_ctx *ctx, const jk_cols *c, const mill_record *rec, size_t i, const char **p,
                  size_t *len) {
    if (!c->cur || i >= c->n) return MILL_ESTATE;
    return mill_csv_field(ctx, rec, c->cur[i], p, len);
}

/* ---- line numbers ----------------------------------------------------- */

