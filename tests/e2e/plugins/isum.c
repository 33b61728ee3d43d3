/* isum.c -- the built-in i64 SUM combiner: each line "KEY NUMBER" emits
 * NUMBER (strtoll: negative numbers too) for KEY with mill_emit_i64. */
#include <stdlib.h>

#include "keynum.h"

static int isum_map(mill_ctx *ctx, const mill_record *rec) {
    char num[32];
    size_t klen;
    return keynum(rec, &klen, num, sizeof num) ? 0 : mill_emit_i64(ctx, rec->data, klen, strtoll(num, NULL, 10));
}

MILL_JOB(.name = "isum", .description = "the sum of signed numbers per key", .value_type = MILL_VALUE_I64,
         .combine_op = MILL_COMBINE_SUM, .map = isum_map)
