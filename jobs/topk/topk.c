/* topk.c -- the K records with the largest values of one numeric column,
 * over all ranks, in descending order.
 *
 * Options: k=N (required, 1..1000000); column=NAME or column=#N for CSV
 * inputs, or field=N for text: the N-th field (1-based; negative counts from
 * the end, -1 the last) of the line split at spaces and tabs -- field=-1
 * reads the value of another job's `key<TAB>value` output.
 *
 * How: each rank keeps its local top K in a heap whose root is the K-th
 * best, so a record that does not beat it costs one comparison and one
 * that does costs O(log K); after its last record (map_done) the rank
 * emits its K best, sorted, as one list under the one key "top", and the
 * combiner on the owner keeps the K best of two lists. (Emitting every
 * record as a list of one entry made the combiner copy the whole list per
 * record: O(K^2) for K records, minutes for K = 40 000.)
 *
 * Output: K lines (fewer when there are fewer numeric records)
 * `POS<TAB>VALUE<TAB>RECORD`: POS 1..K zero-padded to K's width (so the keys
 * sort in rank order), VALUE the field as written, RECORD the whole line or
 * raw CSV row. Order: value descending, equal values by RECORD bytewise.
 * Records whose field is missing or not a number are skipped and counted in
 * the counter not_numeric.
 */
#include <mpimill/job.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"k", "column", "field", NULL};

/* A list is: u32 count, u32 offset of the last entry (0 when empty), then
 * per entry f64 value, u32 field length, u32 record length, the field
 * bytes, the record bytes. Entries are in output order. */
#define HEAD 8
typedef struct entry {
    double v;
    const char *field, *rec;
    uint32_t flen, rlen;
} entry;

typedef struct topk_state {
    uint32_t k;
    jk_cols *col;   /* column=, or NULL */
    long field;     /* field=, when col is NULL */
    entry *heap;    /* this rank's best, at most k; heap[0] comes after every other */
    uint32_t n;     /* entries in heap; each owns its field and record (one malloc at field) */
    jk_buf merged;  /* scratch for combine and map_done */
} topk_state;

/* Reads k, column and field; fails when k is missing or out of range, or
 * neither or both of column and field are given. */
static int topk_setup(mill_ctx *ctx) {
    int64_t k;
    if (!mill_opt(ctx, "k")) {
        mill_fail(ctx, "option k is required (e.g. --opt k=10)");
        return MILL_EINVAL;
    }
    int rc = mill_opt_i64(ctx, "k", 0, &k);
    if (rc) return rc;
    if (k < 1 || k > 1000000) {
        mill_fail(ctx, "option k=%lld: expected 1 to 1000000", (long long)k);
        return MILL_EINVAL;
    }
    const char *col = mill_opt(ctx, "column"), *field = mill_opt(ctx, "field");
    if (!col == !field) {
        mill_fail(ctx, "give one of option column=NAME (CSV) or field=N (text, 1-based, -1 the last)");
        return MILL_EINVAL;
    }
    int64_t f = 0;
    if (field && (rc = mill_opt_i64(ctx, "field", 0, &f)) != 0) return rc;
    if (field && (f == 0 || f > 1000000 || f < -64)) { /* text_field keeps the last 64 fields */
        mill_fail(ctx, "option field=%s: expected a field number, 1 to 1000000, or -1 (the last) to -64", field);
        return MILL_EINVAL;
    }
    if (col && strchr(col, ',')) {
        mill_fail(ctx, "option column=%s: expected one column name or #N", col);
        return MILL_EINVAL;
    }
    topk_state *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    s->k = (uint32_t)k;
    s->field = (long)f;
    if (col && !(s->col = jk_cols_parse(ctx, "column", col))) {
        free(s);
        return MILL_EINVAL;
    }
    mill_set_userdata(ctx, s);
    return 0;
}

/* Finds whitespace field n (1-based, negative from the end) of [p, p+len). */
static int text_field(const char *p, size_t len, long n, const char **fp, size_t *flen) {
    const char *st[64];
    size_t ln[64], count = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (p[i] == ' ' || p[i] == '\t')) i++;
        if (i == len) break;
        size_t s = i;
        while (i < len && p[i] != ' ' && p[i] != '\t') i++;
        if (n > 0 && (long)count + 1 == n) {
            *fp = p + s;
            *flen = i - s;
            return 0;
        }
        st[count % 64] = p + s; /* a ring of the last 64 fields, for n < 0 */
        ln[count % 64] = i - s;
        count++;
    }
    if (n > 0 || (size_t)-n > count || -n > 64) return -1;
    size_t k = (count - (size_t)-n) % 64;
    *fp = st[k];
    *flen = ln[k];
    return 0;
}

/* Output order: larger value first, then the record bytewise. */
static int before(const entry *x, const entry *y) {
    if (x->v != y->v) return x->v > y->v;
    size_t n = x->rlen < y->rlen ? x->rlen : y->rlen;
    int c = memcmp(x->rec, y->rec, n);
    return c ? c < 0 : x->rlen <= y->rlen;
}

/* Moves heap[i] down to its place: every parent comes after its children. */
static void sift_down(entry *h, uint32_t n, uint32_t i) {
    for (;;) {
        uint32_t w = i, l = 2 * i + 1, r = l + 1;
        if (l < n && before(&h[w], &h[l])) w = l;
        if (r < n && before(&h[w], &h[r])) w = r;
        if (w == i) return;
        entry t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Keeps the record in the rank's top K: added while there are fewer than
 * K, else in place of the K-th best when it comes before it. */
static int keep(topk_state *s, double v, const char *fp, size_t flen, const mill_record *rec) {
    entry e = {.v = v, .field = fp, .rec = rec->data, .flen = (uint32_t)flen, .rlen = (uint32_t)rec->len};
    if (s->n == s->k && !before(&e, &s->heap[0])) return 0;
    char *copy = malloc(flen + rec->len + 1);
    if (!copy) return MILL_ENOMEM;
    memcpy(copy, fp, flen);
    memcpy(copy + flen, rec->data, rec->len);
    e.field = copy;
    e.rec = copy + flen;
    if (s->n == s->k) { /* the K-th best leaves */
        free((char *)s->heap[0].field);
        s->heap[0] = e;
        sift_down(s->heap, s->n, 0);
        return 0;
    }
    if (!s->heap && !(s->heap = malloc((size_t)s->k * sizeof *s->heap))) {
        free(copy);
        return MILL_ENOMEM;
    }
    uint32_t i = s->n++;
    for (; i > 0 && before(&s->heap[(i - 1) / 2], &e); i = (i - 1) / 2) s->heap[i] = s->heap[(i - 1) / 2];
    s->heap[i] = e;
    return 0;
}

/* Keeps the record in the rank's top K when its field is a number; else
 * counts it in not_numeric. */
static int topk_map(mill_ctx *ctx, const mill_record *rec) {
    topk_state *s = mill_userdata(ctx);
    const char *fp = NULL;
    size_t flen = 0;
    int found;
    if (s->col) {
        const size_t *idx;
        int rc = jk_cols_resolve(ctx, s->col, rec, &idx);
        if (rc) return rc;
        found = jk_cols_field(ctx, s->col, rec, 0, &fp, &flen) == 0;
    } else {
        found = text_field(rec->data, rec->len, s->field, &fp, &flen) == 0;
    }
    double v;
    if (!found || jk_parse_double(fp, flen, &v) != 0) return mill_count(ctx, "not_numeric", 1);
    if (rec->len > UINT32_MAX) { /* a value holds a record's length in 32 bits */
        mill_fail(ctx, "a record of %zu bytes: topk keeps records of at most 4 GiB", rec->len);
        return MILL_EINVAL;
    }
    while (*fp == ' ' || *fp == '\t') fp++, flen--; /* VALUE as parsed: a tab around it would split the line */
    while (fp[flen - 1] == ' ' || fp[flen - 1] == '\t') flen--;
    return keep(s, v, fp, flen, rec);
}

static int after_cmp(const void *x, const void *y) {
    return before(x, y) ? -1 : 1; /* distinct records never tie; equal ones are interchangeable */
}

/* Appends entry e to list buffer b. */
static int add_entry(jk_buf *b, const entry *e) {
    return jk_buf_add(b, &e->v, 8) || jk_buf_add(b, &e->flen, 4) || jk_buf_add(b, &e->rlen, 4) ||
                   jk_buf_add(b, e->field, e->flen) || jk_buf_add(b, e->rec, e->rlen)
               ? MILL_ENOMEM
               : 0;
}

/* Emits this rank's top K, best first, as one list under "top". */
static int topk_map_done(mill_ctx *ctx) {
    topk_state *s = mill_userdata(ctx);
    if (s->n == 0) return 0;
    qsort(s->heap, s->n, sizeof *s->heap, after_cmp);
    s->merged.len = 0;
    if (jk_buf_reserve(&s->merged, HEAD)) return MILL_ENOMEM;
    s->merged.len = HEAD;
    uint32_t last = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        last = (uint32_t)s->merged.len;
        if (add_entry(&s->merged, &s->heap[i])) return MILL_ENOMEM;
    }
    memcpy(s->merged.p, &s->n, 4);
    memcpy(s->merged.p + 4, &last, 4);
    return mill_emit(ctx, "top", 3, s->merged.p, s->merged.len);
}

/* Reads entry *e at *pos of list [p, p+len). Returns -1 when malformed. */
static int next_entry(const char *p, size_t len, size_t *pos, entry *e) {
    if (len - *pos < 16) return -1;
    memcpy(&e->v, p + *pos, 8);
    memcpy(&e->flen, p + *pos + 8, 4);
    memcpy(&e->rlen, p + *pos + 12, 4);
    *pos += 16;
    if (len - *pos < (size_t)e->flen + e->rlen) return -1;
    e->field = p + *pos;
    e->rec = e->field + e->flen;
    *pos += (size_t)e->flen + e->rlen;
    return 0;
}

/* Merges two sorted lists, keeping the first K entries. When a is full
 * and b's best entry does not come before a's last, a stays as it is (the
 * usual case once the top K has filled). */
static int topk_combine(mill_ctx *ctx, const void *key, size_t key_len, const void *a, size_t a_len,
                        const void *b, size_t b_len) {
    (void)key, (void)key_len;
    topk_state *s = mill_userdata(ctx);
    uint32_t na, nb, alast;
    if (a_len < HEAD || b_len < HEAD) goto bad;
    memcpy(&na, a, 4);
    memcpy(&alast, (const char *)a + 4, 4);
    memcpy(&nb, b, 4);
    size_t pa = HEAD, pb = HEAD;
    entry ea, eb;
    int ha = na > 0, hb = nb > 0;
    if ((ha && next_entry(a, a_len, &pa, &ea)) || (hb && next_entry(b, b_len, &pb, &eb))) goto bad;
    if (na >= s->k && hb) {
        size_t pl = alast;
        entry el;
        if (alast < HEAD || next_entry(a, a_len, &pl, &el)) goto bad;
        if (!before(&eb, &el)) return mill_set_value(ctx, a, a_len);
    }
    s->merged.len = 0;
    if (jk_buf_reserve(&s->merged, HEAD)) return MILL_ENOMEM;
    s->merged.len = HEAD;
    uint32_t n = 0, ia = 1, ib = 1, last = 0;
    while (n < s->k && (ha || hb)) {
        int take_a = ha && (!hb || before(&ea, &eb));
        entry *e = take_a ? &ea : &eb;
        last = (uint32_t)s->merged.len;
        if (add_entry(&s->merged, e)) return MILL_ENOMEM;
        n++;
        if (take_a) {
            ha = ia++ < na;
            if (ha && next_entry(a, a_len, &pa, &ea)) goto bad;
        } else {
            hb = ib++ < nb;
            if (hb && next_entry(b, b_len, &pb, &eb)) goto bad;
        }
    }
    if (s->merged.len > UINT32_MAX) { /* the list's offsets are 32 bits */
        mill_fail(ctx, "the top %u records pass 4 GiB, which topk keeps at most", n);
        return MILL_EINVAL;
    }
    memcpy(s->merged.p, &n, 4);
    memcpy(s->merged.p + 4, &last, 4);
    return mill_set_value(ctx, s->merged.p, s->merged.len);
bad:
    mill_fail(ctx, "malformed top-K list");
    return MILL_EFORMAT;
}

/* Writes the list as POS<TAB>VALUE<TAB>RECORD lines. */
static int topk_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    (void)key, (void)key_len;
    topk_state *s = mill_userdata(ctx);
    uint32_t n;
    if (value_len < HEAD) return MILL_EFORMAT;
    memcpy(&n, value, 4);
    int width = snprintf(NULL, 0, "%u", s->k);
    size_t pos = HEAD;
    jk_buf line = {0};
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        entry e;
        if (next_entry(value, value_len, &pos, &e)) {
            mill_fail(ctx, "malformed top-K list");
            rc = MILL_EFORMAT;
            break;
        }
        char k[16];
        int kl = snprintf(k, sizeof k, "%0*u", width, i + 1);
        line.len = 0;
        if (jk_buf_add(&line, e.field, e.flen) || jk_buf_add(&line, "\t", 1) || jk_buf_add(&line, e.rec, e.rlen))
            rc = MILL_ENOMEM;
        if (rc == 0) rc = mill_write(ctx, k, (size_t)kl, line.p, line.len);
    }
    jk_buf_free(&line);
    return rc;
}

/* Frees the options and buffers. */
static void topk_teardown(mill_ctx *ctx) {
    topk_state *s = mill_userdata(ctx);
    if (!s) return;
    jk_cols_free(s->col);
    for (uint32_t i = 0; i < s->n; i++) free((char *)s->heap[i].field);
    free(s->heap);
    jk_buf_free(&s->merged);
    free(s);
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "topk",
         .description = "the K records with the largest values; --opt k=N and column=NAME (CSV) or field=N (text)",
         .inputs = MILL_INPUT_TEXT | MILL_INPUT_CSV,
         .value_type = MILL_VALUE_BYTES,
         .combine_op = MILL_COMBINE_CUSTOM,
         .options = options,
         .setup = topk_setup,
         .map = topk_map,
         .map_done = topk_map_done,
         .combine = topk_combine,
         .reduce = topk_reduce,
         .teardown = topk_teardown)
