/* isum.c -- the built-in i64 SUM combiner: each line "KEY NUMBER" emits
 * NUMBER (strtoll: negative numbers too) for KEY with mill_emit_i64. */
#include <mpimill/job.h>
#include <stdlib.h>
#include <string.h>

static int isum_map(mill_ctx *ctx, const mill_record *rec) {
    const char *sp = memchr(rec->data, ' ', rec->len);
    if (!sp) return 0;
    char num[32];
    size_t n = rec->len - (size_t)(sp + 1 - rec->data);
    if (n >= sizeof num) n = sizeof num - 1;
    memcpy(num, sp + 1, n);
    num[n] = '\0';
    return mill_emit_i64(ctx, rec->data, (size_t)(sp - rec->data), strtoll(num, NULL, 10));
}

MILL_JOB(.name = "isum", .description = "the sum of signed numbers per key", .value_type = MILL_VALUE_I64,
         .combine_op = MILL_COMBINE_SUM, .map = isum_map)
