/* slow.c -- a job that sleeps 1 ms per record, so tests can signal it mid-run. */
#include <mpimill/job.h>
#include <time.h>

static int slow_map(mill_ctx *ctx, const mill_record *rec) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

MILL_JOB(.name = "slow", .description = "counts lines, 1 ms per line",
         .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_SUM, .map = slow_map)
