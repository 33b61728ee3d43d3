/* wordcount.c -- counts words: maximal runs of bytes that are not ASCII
 * whitespace (space, \t, \n, \v, \f, \r). --opt lower=1 folds ASCII case. */
#include <mpimill/job.h>
#include <stdint.h>

static const char *const options[] = {"lower", NULL};

/* space[c] is 1 for the ASCII whitespace bytes: one load per byte. */
static const unsigned char space[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1};

static int wc_setup(mill_ctx *ctx) {
    int64_t lower;
    int rc = mill_opt_i64(ctx, "lower", 0, &lower);
    if (rc) return rc;
    if (lower != 0 && lower != 1) {
        mill_fail(ctx, "option lower=%lld: expected 0 or 1", (long long)lower);
        return MILL_EINVAL;
    }
    mill_set_userdata(ctx, lower ? (void *)1 : NULL);
    return 0;
}

static int wc_map(mill_ctx *ctx, const mill_record *rec) {
    const unsigned char *p = (const unsigned char *)rec->data, *end = p + rec->len;
    int lower = mill_userdata(ctx) != NULL;
    unsigned char buf[256];
    while (p < end) {
        while (p < end && space[*p]) p++;
        const unsigned char *w = p;
        while (p < end && !space[*p]) p++;
        if (p == w) break;
        size_t n = (size_t)(p - w);
        const void *key = w;
        if (lower && n <= sizeof buf) {
            for (size_t i = 0; i < n; i++) buf[i] = (w[i] >= 'A' && w[i] <= 'Z') ? w[i] + 32 : w[i];
            key = buf;
        } else if (lower) {
            mill_fail(ctx, "word of %zu bytes is too long for lower=1 (at most %zu)", n, sizeof buf);
            return MILL_EINVAL;
        }
        int rc = mill_emit_u64(ctx, key, n, 1);
        if (rc) return rc;
    }
    return 0;
}

MILL_JOB(.name = "wordcount",
         .description = "count words (runs of non-whitespace bytes); --opt lower=1 folds ASCII case",
         .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM,
         .options = options,
         .setup = wc_setup,
         .map = wc_map)
