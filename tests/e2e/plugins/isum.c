/* isum.c -- the built-in i64 SUM combiner: each line "KEY NUMBER" emits
 * NUMBER (strtoll: negative numbers too) for KEY with mill_emit_i64; "KEY
 * uNUMBER" with mill_emit_u64, the same bits; "KEY fNUMBER" with
 * mill_emit_f64, the wrong type, which fails the job. */
#include <stdlib.h>

#include "keynum.h"

static int isum_map(mill_ctx *ctx, const mill_record *rec) {
    char num[32];
    size_t klen;
    if (keynum(rec, &klen, num, sizeof num)) return 0;
    if (num[0] == 'f') return mill_emit_f64(ctx, rec->data, klen, strtod(num + 1, NULL));
    if (num[0] == 'u') return mill_emit_u64(ctx, rec->data, klen, strtoull(num + 1, NULL, 10));
    return mill_emit_i64(ctx, rec->data, klen, strtoll(num, NULL, 10));
}

MILL_JOB(.name = "isum", .description = "the sum of signed numbers per key", .value_type = MILL_VALUE_I64,
         .combine_op = MILL_COMBINE_SUM, .map = isum_map)
