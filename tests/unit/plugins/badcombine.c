/* badcombine.c -- a SUM combiner over byte values. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
MILL_JOB(.name = "badcombine", .value_type = MILL_VALUE_BYTES, .combine_op = MILL_COMBINE_SUM, .map = m)
