/* twice.c -- an entry that returns its job once, then NULL: the loader
 * must call it once and keep what it checked. */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
static const mill_job j = {.abi_major = MILL_ABI_MAJOR, .abi_minor = MILL_ABI_MINOR, .struct_size = sizeof(mill_job),
                           .name = "twice", .map = m, .combine_op = MILL_COMBINE_FIRST};
const mill_job *mill_job_entry(void) {
    static int calls;
    return calls++ ? NULL : &j;
}
