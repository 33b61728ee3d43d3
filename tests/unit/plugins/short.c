/* short.c -- a plugin whose struct is shorter than ABI 1.0's. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
const mill_job *mill_job_entry(void) {
    static const mill_job j = {.abi_major = 1, .abi_minor = 0, .struct_size = 24,
                               .name = "short", .map = m, .combine_op = MILL_COMBINE_FIRST};
    return &j;
}
