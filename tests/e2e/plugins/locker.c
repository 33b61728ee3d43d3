/* locker.c -- exercises the plugin's named locks.
 *   mode=count: per record, a non-atomic read-modify-write of the number in
 *               --opt file=PATH under mill_lock_fenced; tokens must grow.
 *   mode=leak:  takes a lock and never releases it.
 *   mode=hold:  rank 0 holds "x" from setup to teardown; others take "x".
 *   mode=fail:  rank 0 takes "x" at its first record and fails holding it;
 *               the others take and release "x" for every record.
 */
#include <mpimill/job.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const options[] = {"file", "mode", NULL};

static int locker_map(mill_ctx *ctx, const mill_record *rec) {
    const char *mode = mill_opt(ctx, "mode");
    int rc;
    if (!strcmp(mode, "leak")) return mill_count(ctx, "records", 1) || (rec->offset == 0 && mill_lock(ctx, "leaked"));
    if (!strcmp(mode, "fail") && mill_rank(ctx) == 0) {
        if ((rc = mill_lock(ctx, "x")) != 0) return rc;
        mill_fail(ctx, "failing while holding x");
        return MILL_EJOB;
    }
    if (!strcmp(mode, "hold") || !strcmp(mode, "fail")) {
        if (mill_rank(ctx) == 0) return 0;
        if ((rc = mill_lock(ctx, "x")) != 0) return rc;
        return mill_unlock(ctx, "x");
    }
    uint64_t token;
    static uint64_t last;
    if ((rc = mill_lock_fenced(ctx, "counter", &token)) != 0) return rc;
    if (token <= last) {
        mill_fail(ctx, "fencing token %llu after %llu", (unsigned long long)token, (unsigned long long)last);
        return MILL_EJOB;
    }
    last = token;
    FILE *f = fopen(mill_opt(ctx, "file"), "r+");
    long n = 0;
    if (!f || fscanf(f, "%ld", &n) != 1) {
        mill_fail(ctx, "cannot read the counter file");
        if (f) fclose(f);
        return MILL_EJOB;
    }
    rewind(f);
    fprintf(f, "%ld\n", n + 1);
    if (fclose(f) != 0) return MILL_EIO;
    if ((rc = mill_unlock(ctx, "counter")) != 0) return rc;
    (void)rec;
    return mill_count(ctx, "records", 1);
}

static int locker_setup(mill_ctx *ctx) {
    const char *mode = mill_opt(ctx, "mode");
    if (!mode || (strcmp(mode, "count") && strcmp(mode, "leak") && strcmp(mode, "hold") && strcmp(mode, "fail"))) {
        mill_fail(ctx, "option mode must be count, leak, hold or fail");
        return MILL_EINVAL;
    }
    if (!strcmp(mode, "hold") && mill_rank(ctx) == 0) return mill_lock(ctx, "x");
    return 0;
}

static void locker_teardown(mill_ctx *ctx) {
    if (!strcmp(mill_opt(ctx, "mode"), "hold") && mill_rank(ctx) == 0) (void)mill_unlock(ctx, "x");
}

MILL_JOB(.name = "locker", .description = "named-lock exercises", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .options = options, .setup = locker_setup,
         .map = locker_map, .teardown = locker_teardown)
