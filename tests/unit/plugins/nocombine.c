/* nocombine.c -- a job that sets only map: combine_op defaults to CUSTOM,
 * which needs a combine. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
MILL_JOB(.name = "nocombine", .map = m)
