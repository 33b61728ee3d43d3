/* combinewrite.c -- counts lines with a custom combine that also tries
 * mill_write, which is not allowed there: the job fails if the call is ever
 * accepted (it was, when the owner's table spilled and combine ran inside
 * reduce's merge, and the stray records were committed). The combine adds
 * in place with mill_value_resize, which map must not be allowed to call. */
#include <mpimill/job.h>
#include <stdint.h>
#include <string.h>

static int cw_map(mill_ctx *ctx, const mill_record *rec) {
    void *v;
    if (mill_value_resize(ctx, 8, &v) != MILL_ESTATE) {
        mill_fail(ctx, "mill_value_resize in map did not return MILL_ESTATE");
        return MILL_EJOB;
    }
    uint64_t one = 1;
    return mill_emit(ctx, rec->data, rec->len, &one, sizeof one);
}

static int cw_combine(mill_ctx *ctx, const void *key, size_t key_len, const void *a, size_t a_len, const void *b,
                      size_t b_len) {
    (void)key, (void)key_len, (void)a_len, (void)b_len;
    int rc = mill_write(ctx, "stray", 5, a, 8);
    if (rc != MILL_ESTATE) {
        mill_fail(ctx, "mill_write in combine returned %d, not MILL_ESTATE", rc);
        return MILL_EJOB;
    }
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    x += y;
    void *v;
    if ((rc = mill_value_resize(ctx, 8, &v)) != 0) return rc;
    memcpy(v, &x, 8);
    return 0;
}

static int cw_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    uint64_t n;
    memcpy(&n, value, 8);
    (void)value_len;
    return mill_write(ctx, key, key_len, &n, 8) == 0 ? 0 : MILL_EJOB;
}

MILL_JOB(.name = "combinewrite", .description = "counts lines; tries mill_write in combine",
         .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_CUSTOM, .map = cw_map, .combine = cw_combine,
         .reduce = cw_reduce)
