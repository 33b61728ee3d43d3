/* crash.c -- a job that crashes where it is told to:
 *   on a line containing "boom": SIGSEGV, or SIGABRT with --opt how=abort,
 *   or exit(0) with --opt how=exit;
 *   --opt how=teardown: in teardown, after the output was committed;
 *   environment CRASH_AT_LOAD=1: while the plugin loads (a constructor);
 *   CRASH_AT_LOAD=exit: exit(0) there instead.
 */
#include <mpimill/job.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const options[] = {"how", NULL};

/* The SIGSEGV a stray pointer gets (a store through NULL would be
 * stopped first by UndefinedBehaviorSanitizer in the asan preset). */
static void segv(void) { raise(SIGSEGV); }

__attribute__((constructor)) static void crash_at_load(void) {
    const char *e = getenv("CRASH_AT_LOAD");
    if (e && !strcmp(e, "1")) segv();
    if (e && !strcmp(e, "exit")) exit(0);
}

static int crash_map(mill_ctx *ctx, const mill_record *rec) {
    const char *how = mill_opt(ctx, "how");
    if (rec->len >= 4 && memmem(rec->data, rec->len, "boom", 4)) {
        if (how && !strcmp(how, "abort")) abort();
        if (how && !strcmp(how, "exit")) exit(0);
        if (!how) segv();
    }
    return mill_emit_u64(ctx, rec->data, rec->len, 1);
}

static void crash_teardown(mill_ctx *ctx) {
    const char *how = mill_opt(ctx, "how");
    if (how && !strcmp(how, "teardown")) segv();
}

MILL_JOB(.name = "crash", .description = "crashes on 'boom'", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .options = options, .map = crash_map, .teardown = crash_teardown)
