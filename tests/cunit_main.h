/* cunit_main.h -- the main() of a CUnit test program with one suite. */
#ifndef MILL_CUNIT_MAIN_H
#define MILL_CUNIT_MAIN_H

#include <CUnit/Basic.h>

/* Runs the suite's tests (a CU_TEST_INFO_NULL-terminated array) verbosely.
 * Returns the exit status: 0 when every assertion held, else 1. */
static inline int mill_cunit_main(const char *suite, CU_TestInfo *tests) {
    CU_SuiteInfo suites[] = {{suite, NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
    if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(suites) != CUE_SUCCESS) return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

#endif
