/* fmin.c -- the built-in f64 MIN combiner: each line "KEY NUMBER" emits
 * NUMBER (strtod, so "nan" and "-0" too) for KEY. */
#include <stdlib.h>

#include "keynum.h"

static int fmin_map(mill_ctx *ctx, const mill_record *rec) {
    char num[64];
    size_t klen;
    return keynum(rec, &klen, num, sizeof num) ? 0 : mill_emit_f64(ctx, rec->data, klen, strtod(num, NULL));
}

MILL_JOB(.name = "fmin", .description = "the least number per key", .value_type = MILL_VALUE_F64,
         .combine_op = MILL_COMBINE_MIN, .map = fmin_map)
