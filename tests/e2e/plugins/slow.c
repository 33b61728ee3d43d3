/* slow.c -- a job that sleeps 1 ms per record, so tests can signal it mid-run.
 * With --opt log=N, rank 0 logs a line (mill_log) at its N-th record; with
 * --opt only=R, only rank R sleeps (a straggler for the others to help). */
#include <mpimill/job.h>
#include <time.h>

static const char *const options[] = {"log", "only", NULL};

static int slow_map(mill_ctx *ctx, const mill_record *rec) {
    static int64_t seen;
    int64_t at = 0, only = -1;
    struct timespec ts = {0, 1000000};
    if (mill_opt_i64(ctx, "only", -1, &only) != 0 || only < 0 || only == mill_rank(ctx)) nanosleep(&ts, NULL);
    if (mill_opt_i64(ctx, "log", 0, &at) == 0 && ++seen == at && mill_rank(ctx) == 0) mill_log(ctx, "halfway note");
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

MILL_JOB(.name = "slow", .description = "counts lines, 1 ms per line",
         .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_SUM, .options = options, .map = slow_map)
