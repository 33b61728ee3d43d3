/* good.c -- a valid job for the loader test. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
MILL_JOB(.name = "good", .description = "valid", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .map = m)
