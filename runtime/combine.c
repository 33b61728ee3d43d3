/* combine.c -- the job's combiners: merging a value into a key's entry of a
 * combining table, by the job's combine_op and value type, and inserting a
 * key the table does not hold yet (the slow path of mill__upsert, ctx.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"

/* The job's combiner, chosen once per run (mill__merge_for): each merges
 * value b into entry e's value and returns 0 or MILL_EJOB (reason in
 * ctx->fail). Typed combiners are separate functions so that the common
 * case (a u64 sum) costs one add per record. */
static int merge_first(mill_ctx *ctx, mill__entry *e, const void *b, size_t blen) {
    (void)ctx, (void)e, (void)b, (void)blen;
    return 0;
}

static int merge_custom(mill_ctx *ctx, mill__entry *e, const void *b, size_t blen) {
    if (!ctx->can_emit) ctx->fail[0] = '\0'; /* a callback of its own (not inside map): no stale message */
    ctx->combining = e;
    ctx->value_set = 0;
    int rc = ctx->job->combine(ctx, e->key, e->klen, e->value, e->vlen, b, blen);
    ctx->combining = NULL;
    if (rc) {
        if (!ctx->fail[0]) snprintf(ctx->fail, sizeof ctx->fail, "combine returned %d (%s)", rc, mill_strerror(rc));
        return MILL_EJOB;
    }
    if (!ctx->value_set) {
        snprintf(ctx->fail, sizeof ctx->fail, "combine returned without mill_set_value()");
        return MILL_EJOB;
    }
    return 0;
}

static int bad_width(mill_ctx *ctx, size_t blen) {
    snprintf(ctx->fail, sizeof ctx->fail, "a numeric job emitted a %zu-byte value", blen);
    return MILL_EJOB;
}

static int merge_u64_sum(mill_ctx *ctx, mill__entry *e, const void *b, size_t blen) {
    uint64_t x, y;
    if (blen != 8 || e->vlen != 8) return bad_width(ctx, blen);
    memcpy(&x, e->value, 8);
    memcpy(&y, b, 8);
    x += y;
    memcpy(e->value, &x, 8);
    return 0;
}

/* The min and max of two doubles, the same in either order: NaN wins (as
 * in numpy), and -0 is below +0. */
static double f64_min(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b || (a == b && signbit(a)) ? a : b; }
static double f64_max(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b || (a == b && !signbit(a)) ? a : b; }

/* Every other typed combiner: min/max of u64, i64, f64 and sums of i64, f64. */
static int merge_typed(mill_ctx *ctx, mill__entry *e, const void *b, size_t blen) {
    if (blen != 8 || e->vlen != 8) return bad_width(ctx, blen);
    union { uint64_t u; int64_t i; double f; } x, y;
    memcpy(&x, e->value, 8);
    memcpy(&y, b, 8);
    int op = ctx->job->combine_op;
    switch (ctx->job->value_type) {
    case MILL_VALUE_U64:
        x.u = op == MILL_COMBINE_SUM ? x.u + y.u : op == MILL_COMBINE_MIN ? (y.u < x.u ? y.u : x.u)
                                                                          : (y.u > x.u ? y.u : x.u);
        break;
    case MILL_VALUE_I64:
        x.i = op == MILL_COMBINE_SUM ? (int64_t)((uint64_t)x.i + (uint64_t)y.i)
              : op == MILL_COMBINE_MIN ? (y.i < x.i ? y.i : x.i)
                                       : (y.i > x.i ? y.i : x.i);
        break;
    default:
        x.f = op == MILL_COMBINE_SUM ? x.f + y.f : op == MILL_COMBINE_MIN ? f64_min(x.f, y.f) : f64_max(x.f, y.f);
        break;
    }
    memcpy(e->value, &x, 8);
    return 0;
}

mill__merge_fn mill__merge_for(const mill_job *job) {
    switch (job->combine_op) {
    case MILL_COMBINE_FIRST: return merge_first;
    case MILL_COMBINE_CUSTOM: return merge_custom;
    default:
        return job->combine_op == MILL_COMBINE_SUM && job->value_type == MILL_VALUE_U64 ? merge_u64_sum
                                                                                       : merge_typed;
    }
}

int mill__upsert_new(mill_ctx *ctx, mill__table *t, uint64_t hash, const void *key, size_t klen,
                     const void *value, size_t vlen) {
    if (klen > UINT32_MAX || vlen > UINT32_MAX) {
        snprintf(ctx->fail, sizeof ctx->fail, "key or value larger than 4 GiB");
        return MILL_EJOB;
    }
    if (!mill__table_insert(t, hash, key, (uint32_t)klen, value, (uint32_t)vlen)) {
        snprintf(ctx->fail, sizeof ctx->fail, "out of memory in the combining table");
        return MILL_ENOMEM;
    }
    return 0;
}

void mill__merge_choose(mill_ctx *ctx) {
    ctx->merge = mill__merge_for(ctx->job);
    ctx->u64_sum = ctx->merge == merge_u64_sum;
}
