/* histogram.c -- equal-width bins over the values of an HDF5 numeric
 * dataset (input FILE.h5:/DATASET: a record is one row of doubles).
 *
 * Options: bins=N (required, 1..1000000), min=X and max=X (required, finite,
 * min < max), column=N (2-D datasets: only the N-th value of each row,
 * 1-based; default every value).
 *
 * min and max must be given: choosing them from the data needs the global
 * minimum and maximum before the first value is binned, and a job has no
 * collective step between reading its input and mapping it (setup runs
 * before the input is read; see docs/writing-jobs.md).
 *
 * Value x goes to bin i = floor((x - min) / (max - min) * N) (x == max to
 * the last bin); values below min or above max, and NaNs, are not binned
 * but counted in the counters below_min, above_max and nan.
 *
 * Output: one line per bin, also empty ones, `I<TAB>LO<TAB>HI<TAB>COUNT`: I
 * from 0, zero-padded to the width of N-1; LO = min + i*((max-min)/N) (at most max) and HI
 * the next bin's LO (max for the last), both the shortest of
 * %.15g/%.16g/%.17g that reads back exactly. No input values: no lines.
 *
 * How: the key emitted is I alone (zero-padded, so keys sort as bins), and
 * reduce writes I, LO and HI: a million bins take no memory of the job's
 * own (their names took 80 MiB per rank, above --memory).
 */
#include <mpimill/job.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"bins", "min", "max", "column", NULL};

typedef struct histogram_state {
    int64_t bins, column;
    double min, max;
    int width;      /* digits of bins - 1: the keys' width */
    int started;    /* this rank has emitted every bin with 0 */
} histogram_state;

/* Writes bin i's key, i zero-padded to s->width digits, into key. */
static void bin_key(const histogram_state *s, int64_t i, char key[24]) {
    for (int d = s->width - 1; d >= 0; d--, i /= 10) key[d] = (char)('0' + i % 10);
}

/* Reads the options; fails naming a missing, malformed or inconsistent one. */
static int hist_setup(mill_ctx *ctx) {
    histogram_state s = {0};
    const char *need[] = {"bins", "min", "max"};
    for (int i = 0; i < 3; i++) {
        if (!mill_opt(ctx, need[i])) {
            mill_fail(ctx, "option %s is required (e.g. --opt bins=10 --opt min=0 --opt max=1); "
                      "min and max are not chosen from the data", need[i]);
            return MILL_EINVAL;
        }
    }
    int rc = mill_opt_i64(ctx, "bins", 0, &s.bins);
    if (rc == 0) rc = mill_opt_f64(ctx, "min", 0, &s.min);
    if (rc == 0) rc = mill_opt_f64(ctx, "max", 0, &s.max);
    if (rc == 0) rc = mill_opt_i64(ctx, "column", 0, &s.column);
    if (rc) return rc;
    if (s.bins < 1 || s.bins > 1000000) {
        mill_fail(ctx, "option bins=%lld: expected 1 to 1000000", (long long)s.bins);
        return MILL_EINVAL;
    }
    if (!isfinite(s.min) || !isfinite(s.max) || !(s.min < s.max)) {
        mill_fail(ctx, "options min=%s max=%s: expected finite numbers with min < max", mill_opt(ctx, "min"),
                  mill_opt(ctx, "max"));
        return MILL_EINVAL;
    }
    if (!isfinite(s.max - s.min)) {
        mill_fail(ctx, "options min=%s max=%s: max - min is too large for a double (at most about 1.8e308)",
                  mill_opt(ctx, "min"), mill_opt(ctx, "max"));
        return MILL_EINVAL;
    }
    if (mill_opt(ctx, "column") && s.column < 1) {
        mill_fail(ctx, "option column=%s: expected a column number from 1", mill_opt(ctx, "column"));
        return MILL_EINVAL;
    }
    histogram_state *p = malloc(sizeof *p);
    if (!p) return MILL_ENOMEM;
    s.width = snprintf(NULL, 0, "%lld", (long long)(s.bins - 1));
    *p = s;
    mill_set_userdata(ctx, p);
    return 0;
}

/* Emits every bin with count 0 (empty bins are written too). */
static int start(mill_ctx *ctx, histogram_state *s) {
    for (int64_t i = 0; i < s->bins; i++) {
        char key[24];
        bin_key(s, i, key);
        int rc = mill_emit_u64(ctx, key, (size_t)s->width, 0);
        if (rc) return rc;
    }
    s->started = 1;
    return 0;
}

/* Returns bin i's lower edge, min + i*((max-min)/bins), and for i = bins the
 * last bin's upper edge, max. An edge is never past max: where the width
 * rounds up (bins finer than the doubles' spacing, subnormal spans) the
 * last edges would pass it, and the last bin's LO would exceed its HI. */
static double edge(const histogram_state *s, int64_t i) {
    double e = s->min + (double)i * ((s->max - s->min) / (double)s->bins);
    return i >= s->bins || e > s->max ? s->max : e;
}

/* Bins one value. */
static int bin(mill_ctx *ctx, histogram_state *s, double x) {
    if (isnan(x)) return mill_count(ctx, "nan", 1);
    if (x < s->min) return mill_count(ctx, "below_min", 1);
    if (x > s->max) return mill_count(ctx, "above_max", 1);
    double f = floor((x - s->min) / (s->max - s->min) * (double)s->bins);
    int64_t i = f >= (double)s->bins ? s->bins - 1 : (int64_t)f;
    /* The division rounds: a value on an edge can land a bin off, and where
     * bins are narrower than the doubles' spacing (several edges equal)
     * many. The printed edges decide, as numpy.histogram's do: LO <= x <
     * HI, so the bin is the last whose edge is at or below x. */
    if ((i > 0 && x < edge(s, i)) || (i + 1 < s->bins && x >= edge(s, i + 1))) {
        int64_t lo = 0, hi = s->bins - 1; /* edge 0 is min <= x */
        while (lo < hi) {
            int64_t m = lo + (hi - lo + 1) / 2;
            if (edge(s, m) <= x) lo = m;
            else hi = m - 1;
        }
        i = lo;
    }
    char key[24];
    bin_key(s, i, key);
    return mill_emit_u64(ctx, key, (size_t)s->width, 1);
}

/* Bins the row's values (or its column=N value): a row of doubles, as the
 * job reads only HDF5 datasets (mill_job.inputs). */
static int hist_map(mill_ctx *ctx, const mill_record *rec) {
    histogram_state *s = mill_userdata(ctx);
    size_t n = rec->len / 8;
    int rc = s->started ? 0 : start(ctx, s);
    if (rc) return rc;
    if (s->column) {
        if ((size_t)s->column > n) {
            mill_fail(ctx, "option column=%lld: rows of %s have %zu values", (long long)s->column, rec->file, n);
            return MILL_EINVAL;
        }
        double x;
        memcpy(&x, rec->data + 8 * (size_t)(s->column - 1), 8);
        return bin(ctx, s, x);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        double x;
        memcpy(&x, rec->data + 8 * i, 8);
        rc = bin(ctx, s, x);
    }
    return rc;
}

/* Writes bin I's line: I, its edges LO and HI, and the count. */
static int hist_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    histogram_state *s = mill_userdata(ctx);
    int64_t i = 0;
    for (size_t k = 0; k < key_len; k++) i = i * 10 + (((const char *)key)[k] - '0');
    char lo[32], hi[32], line[112];
    jk_fmt_double(lo, edge(s, i));
    jk_fmt_double(hi, edge(s, i + 1));
    int n = snprintf(line, sizeof line, "%.*s\t%s\t%s", (int)key_len, (const char *)key, lo, hi);
    return mill_write(ctx, line, (size_t)n, value, value_len);
}

/* Frees the options. */
static void hist_teardown(mill_ctx *ctx) {
    free(mill_userdata(ctx));
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "histogram",
         .description = "equal-width histogram of an HDF5 dataset: --opt bins=N --opt min=X --opt max=X [column=N]",
         .inputs = MILL_INPUT_HDF5,
         .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM,
         .options = options,
         .setup = hist_setup,
         .map = hist_map,
         .reduce = hist_reduce,
         .teardown = hist_teardown)
