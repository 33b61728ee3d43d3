/* halfptr.c -- a plugin whose struct_size ends half way into map_done: a
 * loader that copied struct_size bytes would call half a pointer. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
static int done(mill_ctx *ctx) { (void)ctx; return 0; }
static const mill_job j = {.abi_major = 1, .abi_minor = 0, .struct_size = offsetof(mill_job, map_done) + 4,
                           .name = "halfptr", .map = m, .combine_op = MILL_COMBINE_FIRST, .map_done = done};
const mill_job *mill_job_entry(void) { return &j; }
