/* badmajor.c -- a plugin built for ABI 2. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
const mill_job *mill_job_entry(void) {
    static const mill_job j = {.abi_major = 2, .abi_minor = 0, .struct_size = sizeof(mill_job),
                               .name = "badmajor", .map = m, .combine_op = MILL_COMBINE_FIRST};
    return &j;
}
