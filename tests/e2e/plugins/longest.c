/* longest.c -- exercises the plugin API: a custom combiner (the longest word
 * per first letter, or first --opt prefix=N bytes, ties to the smaller
 * word), a reduce that writes with mill_write, counters, a float option,
 * mill_log, a setup that calls setlocale (--opt setlocale=1), and map_done
 * making a collective call on mill_comm(). Records at even offsets emit their words
 * with mill_emit_batch, the others word by word with mill_emit. */
#include <mpi.h>
#include <mpimill/job.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static const char *const options[] = {"scale", "counter", "prefix", "setlocale", "fill", NULL};
static int64_t prefix = 1; /* key bytes: the word's first ones */

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int longest_setup(mill_ctx *ctx) {
    double scale;
    if (mill_opt(ctx, "setlocale")) (void)setlocale(LC_ALL, ""); /* as a job using ICU or GLib might */
    int rc = mill_opt_f64(ctx, "scale", 1.0, &scale);
    if (rc == 0) rc = mill_opt_i64(ctx, "prefix", 1, &prefix);
    int64_t fill; /* counters to add beside the job's four: 60 makes the 64 job.h allows */
    if (rc == 0) rc = mill_opt_i64(ctx, "fill", 0, &fill);
    for (int64_t i = 0; rc == 0 && i < fill; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%02d", (int)i);
        rc = mill_count(ctx, name, 1);
    }
    if (rc == 0 && prefix < 1) rc = MILL_EINVAL;
    if (rc == 0 && mill_rank(ctx) == 0) mill_log(ctx, "scale %g on %d ranks", scale, mill_size(ctx));
    return rc;
}

static size_t klen(const char *w, const char *end) {
    return (size_t)(end - w) < (uint64_t)prefix ? (size_t)(end - w) : (size_t)prefix;
}

static int longest_map(mill_ctx *ctx, const mill_record *rec) {
    const char *p = rec->data, *end = p + rec->len;
    mill_kv kv[64];
    size_t n = 0;
    int batch = rec->offset % 2 == 0, rc = mill_count(ctx, "lines", 1);
    while (rc == 0 && p < end) {
        while (p < end && is_space((unsigned char)*p)) p++;
        const char *w = p;
        while (p < end && !is_space((unsigned char)*p)) p++;
        if (p > w) {
            if (batch) {
                kv[n++] = (mill_kv){w, klen(w, p), w, (size_t)(p - w)};
                if (n == 64) rc = mill_emit_batch(ctx, kv, n), n = 0;
            } else {
                rc = mill_emit(ctx, w, klen(w, p), w, (size_t)(p - w));
            }
            if (rc == 0) rc = mill_count(ctx, "words", 1);
        }
    }
    return rc ? rc : mill_emit_batch(ctx, kv, n);
}

static int longest_combine(mill_ctx *ctx, const void *key, size_t klen, const void *a, size_t alen,
                           const void *b, size_t blen) {
    (void)key, (void)klen;
    mill_kv kv = {a, alen, b, blen};
    if (mill_emit(ctx, a, alen, b, blen) != MILL_ESTATE || mill_emit_batch(ctx, &kv, 1) != MILL_ESTATE) {
        /* emitting is for map and map_done */
        mill_fail(ctx, "mill_emit inside combine was not refused");
        return MILL_EJOB;
    }
    int b_wins = blen > alen || (blen == alen && memcmp(b, a, alen) < 0);
    return b_wins ? mill_set_value(ctx, b, blen) : mill_set_value(ctx, a, alen);
}

static int longest_reduce(mill_ctx *ctx, const void *key, size_t klen, const void *v, size_t vlen) {
    mill_kv kv = {key, klen, v, vlen};
    if (mill_emit(ctx, key, klen, v, vlen) != MILL_ESTATE || mill_emit_batch(ctx, &kv, 1) != MILL_ESTATE) {
        mill_fail(ctx, "mill_emit inside reduce was not refused");
        return MILL_EJOB;
    }
    int rc = mill_count(ctx, "letters", 1);
    return rc ? rc : mill_write(ctx, key, klen, v, vlen);
}

/* After the last record, on every rank: a collective on the job's
 * communicator (the total of lines) and a counter. */
static int longest_map_done(mill_ctx *ctx) {
    long one = 1, ranks = 0;
    if (MPI_Allreduce(&one, &ranks, 1, MPI_LONG, MPI_SUM, mill_comm(ctx)) != MPI_SUCCESS) return MILL_EJOB;
    if (ranks != mill_size(ctx)) {
        mill_fail(ctx, "map_done saw %ld ranks of %d", ranks, mill_size(ctx));
        return MILL_EJOB;
    }
    const char *extra = mill_opt(ctx, "counter"); /* a counter of any name, counted once per rank */
    if (extra && mill_count(ctx, extra, 1) != 0) return MILL_EINVAL;
    return mill_count(ctx, "map_done_calls", 1);
}

/* Counting is over by teardown: the call must be refused, not lost. */
static void longest_teardown(mill_ctx *ctx) {
    int rc = mill_count(ctx, "in_teardown", 1);
    if (mill_rank(ctx) == 0) mill_log(ctx, "mill_count in teardown: %s", rc ? mill_strerror(rc) : "accepted");
}

MILL_JOB(.name = "longest",
         .map_done = longest_map_done, .description = "longest word per first byte",
         .value_type = MILL_VALUE_BYTES, .combine_op = MILL_COMBINE_CUSTOM, .options = options,
         .setup = longest_setup, .map = longest_map, .combine = longest_combine,
         .reduce = longest_reduce, .teardown = longest_teardown)
