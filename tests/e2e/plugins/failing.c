/* failing.c -- a job whose map fails on a line that says "bad", and on a
 * line that says "narrow" emits a batch whose second value is 4 bytes
 * (with --opt ignore=1, it then ignores the failure and returns 0); on
 * "quiet" map fails without saying why; on "null" it emits a NULL key with
 * a length and returns 0. Reduce writes each key with mill_write, the key
 * "short" with a 4-byte value (failing; ignored with --opt ignore=1). */
#include <mpimill/job.h>
#include <stdint.h>
#include <string.h>

static int failing_map(mill_ctx *ctx, const mill_record *rec) {
    if (rec->len == 3 && !memcmp(rec->data, "bad", 3)) {
        mill_fail(ctx, "cannot map a bad record");
        return MILL_EJOB;
    }
    if (rec->len == 5 && !memcmp(rec->data, "quiet", 5)) return MILL_EIO; /* no mill_fail */
    if (rec->len == 4 && !memcmp(rec->data, "null", 4)) return mill_emit_u64(ctx, NULL, 3, 1) == MILL_EINVAL ? 0 : -1;
    if (rec->len == 6 && !memcmp(rec->data, "narrow", 6)) {
        uint64_t one = 1;
        uint32_t small = 1;
        mill_kv kv[3] = {{"a", 1, &one, 8}, {"b", 1, &small, 4}, {"c", 1, &one, 8}};
        int64_t ignore;
        int rc = mill_opt_i64(ctx, "ignore", 0, &ignore);
        if (rc == 0) rc = mill_emit_batch(ctx, kv, 3);
        return ignore ? 0 : rc;
    }
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

static int failing_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    int64_t ignore;
    int rc = mill_opt_i64(ctx, "ignore", 0, &ignore);
    if (rc) return rc;
    if (key_len == 5 && !memcmp(key, "short", 5)) value_len = 4;
    rc = mill_write(ctx, key, key_len, value, value_len);
    return ignore ? 0 : rc;
}

/* With --opt setup_fail_rank=R, setup fails on rank R only. --opt ratio
 * may be an integer or not: a failure the job handles (mill_opt_i64's). */
static int failing_setup(mill_ctx *ctx) {
    int64_t r;
    double ratio;
    if (mill_opt_i64(ctx, "ratio", 1, &r) != 0 && mill_opt_f64(ctx, "ratio", 1, &ratio) != 0) return MILL_EINVAL;
    int rc = mill_opt_i64(ctx, "setup_fail_rank", -1, &r);
    if (rc == 0 && r == mill_rank(ctx)) {
        mill_fail(ctx, "setup refuses on this rank");
        return MILL_EJOB;
    }
    return rc;
}

static const char *const options[] = {"setup_fail_rank", "ignore", "ratio", NULL};

MILL_JOB(.name = "failing", .setup = failing_setup, .options = options, .description = "fails on 'bad'", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .map = failing_map, .reduce = failing_reduce)
