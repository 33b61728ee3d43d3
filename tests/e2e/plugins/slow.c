/* slow.c -- a job that sleeps 1 ms per record, so tests can signal it mid-run.
 * With --opt log=N, rank 0 logs a line (mill_log) at its N-th record. */
#include <mpimill/job.h>
#include <time.h>

static const char *const options[] = {"log", NULL};

static int slow_map(mill_ctx *ctx, const mill_record *rec) {
    static int64_t seen;
    int64_t at = 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    if (mill_opt_i64(ctx, "log", 0, &at) == 0 && ++seen == at && mill_rank(ctx) == 0) mill_log(ctx, "halfway note");
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

MILL_JOB(.name = "slow", .description = "counts lines, 1 ms per line",
         .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_SUM, .options = options, .map = slow_map)
