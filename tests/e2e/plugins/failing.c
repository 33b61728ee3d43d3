/* failing.c -- a job whose map fails on a line that says "bad". */
#include <mpimill/job.h>
#include <string.h>

static int failing_map(mill_ctx *ctx, const mill_record *rec) {
    if (rec->len == 3 && !memcmp(rec->data, "bad", 3)) {
        mill_fail(ctx, "cannot map a bad record");
        return MILL_EJOB;
    }
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

MILL_JOB(.name = "failing", .description = "fails on 'bad'", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .map = failing_map)
