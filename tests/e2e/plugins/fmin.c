/* fmin.c -- the built-in f64 MIN combiner: each line "KEY NUMBER" emits
 * NUMBER (strtod, so "nan" and "-0" too) for KEY. */
#include <mpimill/job.h>
#include <stdlib.h>
#include <string.h>

static int fmin_map(mill_ctx *ctx, const mill_record *rec) {
    const char *sp = memchr(rec->data, ' ', rec->len);
    if (!sp) return 0;
    char num[64];
    size_t n = rec->len - (size_t)(sp + 1 - rec->data);
    if (n >= sizeof num) n = sizeof num - 1;
    memcpy(num, sp + 1, n);
    num[n] = '\0';
    return mill_emit_f64(ctx, rec->data, (size_t)(sp - rec->data), strtod(num, NULL));
}

MILL_JOB(.name = "fmin", .description = "the least number per key", .value_type = MILL_VALUE_F64,
         .combine_op = MILL_COMBINE_MIN, .map = fmin_map)
