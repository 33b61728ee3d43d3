/* newminor.c -- a plugin built against a later 1.x (a minor past this
 * header's, a longer struct). */
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx; (void)r; return 0; }
struct job_later { mill_job base; void *appended[4]; };
const mill_job *mill_job_entry(void) {
    static const struct job_later j = {.base = {.abi_major = 1, .abi_minor = MILL_ABI_MINOR + 1, .struct_size = sizeof(struct job_later),
                                              .name = "newminor", .map = m, .combine_op = MILL_COMBINE_FIRST}};
    return &j.base;
}
