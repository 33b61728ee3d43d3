// cxx.cpp -- a job written in C++: MILL_JOB must export mill_job_entry
// unmangled (the header declares it inside extern "C").
#include <mpimill/job.h>
static int m(mill_ctx *ctx, const mill_record *r) { return mill_emit_u64(ctx, r->data, r->len, 1); }
MILL_JOB(.name = "cxx", .description = "a C++ job", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .map = m)
