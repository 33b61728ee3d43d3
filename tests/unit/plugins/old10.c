/* old10.c -- a plugin from the first 1.0 header, whose mill_job ended before
 * flags. What lies past its struct_size must not be read: here it is a
 * flags word and a map_done that fails the job. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
static int done(mill_ctx *ctx) { (void)ctx; return MILL_EJOB; }
static const mill_job j = {.abi_major = 1, .abi_minor = 0, .struct_size = offsetof(mill_job, flags),
                           .name = "old10", .map = m, .combine_op = MILL_COMBINE_FIRST,
                           .flags = MILL_JOB_TEXT_BLOCKS, .map_done = done};
const mill_job *mill_job_entry(void) { return &j; }
