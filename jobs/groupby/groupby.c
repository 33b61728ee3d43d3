/* groupby.c -- groups CSV rows by one or more columns and aggregates
 * others: SQL's SELECT by..., aggs... GROUP BY by...
 *
 * Options: by=COL[,COL...] (required), agg=AGG[,AGG...] (default count)
 * where AGG is count, sum:COL, min:COL, max:COL or mean:COL. A column is a
 * header name or #N (the N-th field, 1-based).
 *
 * Values: a fixed binary struct per group -- the row count, then for each
 * aggregate {u64 n, long double sum, f64 min, f64 max} over the rows whose field is
 * not empty -- merged by a custom combiner; reduce formats it.
 *
 * Output: `BY1<TAB>BY2...<TAB>AGG1<TAB>AGG2...`: the group's values (a tab,
 * newline, carriage return or backslash inside one is written \t, \n, \r,
 * \\), then the aggregates in the order given. count is an integer; sum,
 * min, max and mean are the shortest of %.15g/%.16g/%.17g that reads back
 * exactly; an aggregate over no non-empty field is empty. A non-empty field
 * that is not a number fails the job naming the line and column.
 * Sums add up in a long double, rounded to a double when written: exact for
 * integers while partial sums stay below 2^64; others depend on the order
 * of additions, which varies from run to run (docs/jobs.md).
 */
#include <mpimill/job.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"by", "agg", NULL};

enum { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_MEAN };
static const char *const agg_names[] = {"count", "sum", "min", "max", "mean"};

/* The accumulator of one aggregate. The sum is a long double (x86-64:
 * 64-bit mantissa, exponent to 1e4932): doubles add up in it without
 * overflowing midway -- in a double, 1e308 + 1e308 - 1e308 - 1e308 made inf
 * or 0 by the order of the combines, so by the rank count -- and with
 * less rounding; it is rounded to a double only when written. */
typedef struct acc {
    uint64_t n;
    long double sum;
    double min, max;
} acc;

typedef struct groupby_state {
    jk_cols *cols;   /* the by columns, then one column per aggregate (count: none) */
    size_t nby, nagg;
    int *op;         /* per aggregate: AGG_* */
    long *col;       /* per aggregate: its position in cols, or -1 for count */
    jk_buf key, val; /* map's emit */
    jk_buf merged;   /* combine's result (b may point into val) */
} groupby_state;

static void state_free(groupby_state *s) {
    if (!s) return;
    jk_cols_free(s->cols);
    free(s->op);
    free(s->col);
    jk_buf_free(&s->key);
    jk_buf_free(&s->val);
    jk_buf_free(&s->merged);
    free(s);
}

/* Parses by= and agg=. Fails naming the option when by= is missing, an
 * aggregate is unknown, or a column is malformed. */
static int groupby_setup(mill_ctx *ctx) {
    const char *by = jk_opt_required(ctx, "by", "region,product");
    if (!by) return MILL_EINVAL;
    const char *agg = mill_opt(ctx, "agg");
    if (!agg) agg = "count";
    groupby_state *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    if (!(s->cols = jk_cols_parse(ctx, "by", by))) {
        state_free(s);
        return MILL_EINVAL;
    }
    s->nby = jk_cols_count(s->cols);
    size_t cap = 1;
    for (const char *c = agg; *c; c++) cap += *c == ',';
    s->op = calloc(cap, sizeof *s->op);
    s->col = calloc(cap, sizeof *s->col);
    if (!s->op || !s->col) {
        state_free(s);
        return MILL_ENOMEM;
    }
    for (const char *a = agg;;) {
        const char *e = strchr(a, ','), *colon = memchr(a, ':', e ? (size_t)(e - a) : strlen(a));
        size_t len = e ? (size_t)(e - a) : strlen(a), nlen = colon ? (size_t)(colon - a) : len;
        int op = -1;
        for (int i = 0; i < 5; i++)
            if (strlen(agg_names[i]) == nlen && !memcmp(agg_names[i], a, nlen)) op = i;
        if (op < 0 || (op == AGG_COUNT) != !colon) {
            mill_fail(ctx, "option agg=%s: '%.*s' is not count, sum:COL, min:COL, max:COL or mean:COL", agg,
                      (int)len, a);
            state_free(s);
            return MILL_EINVAL;
        }
        s->op[s->nagg] = op;
        s->col[s->nagg] = -1;
        if (colon && (s->col[s->nagg] = jk_cols_add(ctx, s->cols, "agg", colon + 1, len - nlen - 1)) < 0) {
            state_free(s);
            return MILL_EINVAL;
        }
        s->nagg++;
        if (!e) break;
        a = e + 1;
    }
    mill_set_userdata(ctx, s);
    return 0;
}

/* Emits (group, accumulators of this one row). */
static int groupby_map(mill_ctx *ctx, const mill_record *rec) {
    groupby_state *s = mill_userdata(ctx);
    const size_t *idx;
    int rc = jk_cols_resolve(ctx, s->cols, rec, &idx);
    if (rc) return rc;
    s->key.len = 0;
    for (size_t i = 0; i < s->nby; i++) {
        const char *p;
        size_t len;
        if ((rc = jk_cols_field(ctx, s->cols, rec, i, &p, &len)) != 0) return rc;
        if ((i && jk_buf_add(&s->key, "\t", 1)) || jk_buf_add_escaped(&s->key, p, len)) return MILL_ENOMEM;
    }
    s->val.len = 0;
    uint64_t one = 1;
    if (jk_buf_add(&s->val, &one, 8)) return MILL_ENOMEM;
    for (size_t i = 0; i < s->nagg; i++) {
        acc a;
        memset(&a, 0, sizeof a); /* the padding too: values are compared and written as bytes */
        a.min = INFINITY, a.max = -INFINITY;
        if (s->col[i] >= 0) {
            const char *p;
            size_t len;
            if ((rc = jk_cols_field(ctx, s->cols, rec, (size_t)s->col[i], &p, &len)) != 0) return rc;
            double x;
            if (len && jk_parse_double(p, len, &x) != 0) {
                mill_fail(ctx, "column %s: '%.*s' is not a number",
                          jk_cols_name(s->cols, (size_t)s->col[i]), (int)(len > 40 ? 40 : len), p);
                return MILL_EFORMAT;
            }
            if (len) a.n = 1, a.sum = x, a.min = a.max = x;
        }
        if (jk_buf_add(&s->val, &a, sizeof a)) return MILL_ENOMEM;
    }
    return mill_emit(ctx, s->key.p, s->key.len, s->val.p, s->val.len);
}

/* Merges the accumulators of b into a's: counts and sums add, min and max. */
static int groupby_combine(mill_ctx *ctx, const void *key, size_t key_len, const void *a, size_t a_len,
                           const void *b, size_t b_len) {
    (void)key, (void)key_len;
    groupby_state *s = mill_userdata(ctx);
    if (a_len != b_len || a_len != 8 + s->nagg * sizeof(acc)) {
        mill_fail(ctx, "malformed group value (%zu bytes)", a_len);
        return MILL_EFORMAT;
    }
    s->merged.len = 0;
    if (jk_buf_add(&s->merged, a, a_len)) return MILL_ENOMEM;
    uint64_t n, m;
    memcpy(&n, s->merged.p, 8);
    memcpy(&m, b, 8);
    n += m;
    memcpy(s->merged.p, &n, 8);
    for (size_t i = 0; i < s->nagg; i++) {
        acc x, y;
        memcpy(&x, s->merged.p + 8 + i * sizeof x, sizeof x);
        memcpy(&y, (const char *)b + 8 + i * sizeof y, sizeof y);
        /* A side without values adds nothing, not its +0: -0 stays -0. */
        x.sum = !y.n ? x.sum : !x.n ? y.sum : x.sum + y.sum;
        x.n += y.n;
        x.min = y.min < x.min || (y.min == x.min && signbit(y.min)) ? y.min : x.min; /* -0 below +0, in any order */
        x.max = y.max > x.max || (y.max == x.max && !signbit(y.max)) ? y.max : x.max;
        memcpy(s->merged.p + 8 + i * sizeof x, &x, sizeof x);
    }
    return mill_set_value(ctx, s->merged.p, s->merged.len);
}

/* Writes the group with its aggregates as text. */
static int groupby_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    groupby_state *s = mill_userdata(ctx);
    if (value_len != 8 + s->nagg * sizeof(acc)) return MILL_EFORMAT;
    jk_buf out = {0};
    uint64_t rows;
    memcpy(&rows, value, 8);
    int rc = 0;
    for (size_t i = 0; i < s->nagg && rc == 0; i++) {
        acc a;
        memcpy(&a, (const char *)value + 8 + i * sizeof a, sizeof a);
        char num[40];
        size_t len = 0;
        if (s->op[i] == AGG_COUNT) len = (size_t)snprintf(num, sizeof num, "%" PRIu64, rows);
        else if (a.n == 0) len = 0;
        else
            len = jk_fmt_double(num, s->op[i] == AGG_SUM   ? (double)a.sum
                                     : s->op[i] == AGG_MIN ? a.min
                                     : s->op[i] == AGG_MAX ? a.max
                                                           : (double)(a.sum / (long double)a.n));
        if ((i && jk_buf_add(&out, "\t", 1)) || jk_buf_add(&out, num, len)) rc = MILL_ENOMEM;
    }
    if (rc == 0) rc = mill_write(ctx, key, key_len, out.p ? out.p : "", out.len);
    jk_buf_free(&out);
    return rc;
}

/* Frees the parsed options and buffers. */
static void groupby_teardown(mill_ctx *ctx) {
    state_free(mill_userdata(ctx));
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "groupby",
         .description = "group CSV rows by columns and aggregate: --opt by=A,B --opt agg=count,sum:C,min:C,max:C,mean:C",
         .inputs = MILL_INPUT_CSV,
         .value_type = MILL_VALUE_BYTES,
         .combine_op = MILL_COMBINE_CUSTOM,
         .options = options,
         .setup = groupby_setup,
         .map = groupby_map,
         .combine = groupby_combine,
         .reduce = groupby_reduce,
         .teardown = groupby_teardown)
