/* crash.c -- a job that dereferences NULL on a line containing "boom". */
#include <mpimill/job.h>
#include <string.h>

static int crash_map(mill_ctx *ctx, const mill_record *rec) {
    if (rec->len >= 4 && memmem(rec->data, rec->len, "boom", 4)) {
        volatile int *p = NULL;
        *p = 1;
    }
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

MILL_JOB(.name = "crash", .description = "crashes on 'boom'", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .map = crash_map)
