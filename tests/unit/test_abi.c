/* test_abi.c -- the layout of ABI 1.0 is frozen: a plugin built against 1.0
 * must load in every 1.x. A change below is an ABI break, caught at build
 * time; appending fields to mill_job or mill_record keeps these true. */
#include <stddef.h>

#include "mpimill/job.h"
#include "cunit_main.h"

#define P sizeof(void *)
_Static_assert(MILL_ABI_MAJOR == 1, "ABI major");
_Static_assert(offsetof(mill_job, abi_major) == 0, "mill_job.abi_major");
_Static_assert(offsetof(mill_job, abi_minor) == 4, "mill_job.abi_minor");
_Static_assert(offsetof(mill_job, struct_size) == 8, "mill_job.struct_size");
_Static_assert(offsetof(mill_job, name) == 16, "mill_job.name");
_Static_assert(offsetof(mill_job, description) == 16 + P, "mill_job.description");
_Static_assert(offsetof(mill_job, value_type) == 16 + 2 * P, "mill_job.value_type");
_Static_assert(offsetof(mill_job, combine_op) == 20 + 2 * P, "mill_job.combine_op");
_Static_assert(offsetof(mill_job, options) == 24 + 2 * P, "mill_job.options");
_Static_assert(offsetof(mill_job, setup) == 24 + 3 * P, "mill_job.setup");
_Static_assert(offsetof(mill_job, map) == 24 + 4 * P, "mill_job.map");
_Static_assert(offsetof(mill_job, combine) == 24 + 5 * P, "mill_job.combine");
_Static_assert(offsetof(mill_job, reduce) == 24 + 6 * P, "mill_job.reduce");
_Static_assert(offsetof(mill_job, teardown) == 24 + 7 * P, "mill_job.teardown");
_Static_assert(offsetof(mill_job, flags) == 24 + 8 * P, "mill_job.flags");
_Static_assert(offsetof(mill_job, map_done) == 32 + 8 * P, "mill_job.map_done");
_Static_assert(offsetof(mill_job, inputs) == 32 + 9 * P, "mill_job.inputs (1.4)");
_Static_assert(MILL_INPUT_TEXT == 1 && MILL_INPUT_CSV == 2 && MILL_INPUT_HDF5 == 4, "input kinds (1.4)");
_Static_assert(MILL_JOB_LINE_NUMBERS == 1 && MILL_JOB_TEXT_BLOCKS == 2, "flags");
_Static_assert(offsetof(mill_kv, key) == 0 && offsetof(mill_kv, key_len) == P &&
                   offsetof(mill_kv, value) == 2 * P && offsetof(mill_kv, value_len) == 3 * P,
               "mill_kv (1.1)");
_Static_assert(offsetof(mill_record, data) == 0, "mill_record.data");
_Static_assert(offsetof(mill_record, len) == P, "mill_record.len");
_Static_assert(offsetof(mill_record, file) == 2 * P, "mill_record.file");
_Static_assert(offsetof(mill_record, offset) == 3 * P, "mill_record.offset");
_Static_assert(offsetof(mill_record, line) == 3 * P + 8, "mill_record.line");
_Static_assert(MILL_COMBINE_CUSTOM == 0 && MILL_COMBINE_SUM == 1 && MILL_COMBINE_MIN == 2 &&
                   MILL_COMBINE_MAX == 3 && MILL_COMBINE_FIRST == 4, "combine ops");
_Static_assert(MILL_VALUE_BYTES == 0 && MILL_VALUE_U64 == 1 && MILL_VALUE_I64 == 2 && MILL_VALUE_F64 == 3,
               "value types");

/* The runtime accepts a 1.0 plugin from a later 1.x header: struct_size of
 * 1.0 and a larger minor both load; a 1.0 struct is what MILL_JOB makes. */
static int m(mill_ctx *ctx, const mill_record *r) { (void)ctx, (void)r; return 0; }
MILL_JOB(.name = "abi", .map = m, .combine_op = MILL_COMBINE_FIRST)

static void test_entry(void) {
    const mill_job *j = mill_job_entry();
    CU_ASSERT_EQUAL(j->abi_major, MILL_ABI_MAJOR);
    CU_ASSERT_EQUAL(j->abi_minor, MILL_ABI_MINOR);
    CU_ASSERT_EQUAL(j->struct_size, sizeof(mill_job));
    CU_ASSERT_EQUAL(sizeof(mill_job), 40 + 9 * P);
}

static CU_TestInfo tests[] = {
    {"MILL_JOB fills the version fields", test_entry},
    CU_TEST_INFO_NULL,
};

int main(void) {
    return mill_cunit_main("abi", tests);
}
