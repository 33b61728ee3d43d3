/* test_args.c -- the command line of `mpimill run`. */
#include <string.h>

#include "args.h"
#include "mpimill/job.h"
#include "cunit_main.h"

static int parse(mill__run_args *a, char *err, const char *const *argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    return mill__run_args_parse(a, argc, (char **)argv, err, 256);
}

static void test_full(void) {
    mill__run_args a;
    char err[256];
    const char *argv[] = {"run", "wordcount", "--input", "a", "--input=b", "--output", "out",
                          "--overwrite", "--opt", "lower=1", "--opt=k=v=w", "--format=text", NULL};
    CU_ASSERT_FATAL(parse(&a, err, argv) == 0);
    CU_ASSERT_STRING_EQUAL(a.job, "wordcount");
    CU_ASSERT_EQUAL(a.ninputs, 2);
    CU_ASSERT_STRING_EQUAL(a.inputs[1], "b");
    CU_ASSERT_STRING_EQUAL(a.output, "out");
    CU_ASSERT_EQUAL(a.overwrite, 1);
    CU_ASSERT_STRING_EQUAL(mill__run_args_opt(&a, "lower"), "1");
    CU_ASSERT_STRING_EQUAL(mill__run_args_opt(&a, "k"), "v=w");
    CU_ASSERT_PTR_NULL(mill__run_args_opt(&a, "nope"));
    mill__run_args_free(&a);
}

static void test_later_opt_wins(void) {
    mill__run_args a;
    char err[256];
    const char *argv[] = {"run", "j", "-i", "x", "--input", "x", "--output", "o", "--opt", "n=1",
                          "--opt", "n=2", NULL};
    /* -i is not an option of ours: refused by name. */
    CU_ASSERT(parse(&a, err, argv) == MILL_EINVAL);
    CU_ASSERT(strstr(err, "'-i'") != NULL);
    mill__run_args_free(&a);
    const char *argv2[] = {"run", "j", "--input", "x", "--output", "o", "--opt", "n=1", "--opt", "n=2", NULL};
    CU_ASSERT_FATAL(parse(&a, err, argv2) == 0);
    CU_ASSERT_STRING_EQUAL(mill__run_args_opt(&a, "n"), "2");
    mill__run_args_free(&a);
}

static void expect_error(const char *const *argv, const char *needle) {
    mill__run_args a;
    char err[256] = "";
    CU_ASSERT(parse(&a, err, argv) == MILL_EINVAL);
    CU_ASSERT(strstr(err, needle) != NULL);
    if (!strstr(err, needle)) fprintf(stderr, "\n  got '%s', wanted '%s'\n", err, needle);
    mill__run_args_free(&a);
}

static void test_errors(void) {
    expect_error((const char *[]){"run", NULL}, "no JOB");
    expect_error((const char *[]){"run", "j", "--output", "o", NULL}, "no --input");
    expect_error((const char *[]){"run", "j", "--input", "x", NULL}, "no --output");
    expect_error((const char *[]){"run", "j", "--input", NULL}, "--input needs a value");
    expect_error((const char *[]){"run", "j", "--input", "--output", "o", NULL}, "--input needs a value");
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "--quiet", NULL}, "--output needs a value");
    expect_error((const char *[]){"run", "j", "--input=--x", "--output", "-", "--memory", "-1", NULL}, "--memory '-1'");
    expect_error((const char *[]){"run", "j", "--input=", "--output", "o", NULL}, "non-empty");
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--opt", "novalue", NULL},
                 "key=value");
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--opt", "=v", NULL},
                 "key=value");
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--format", "xml", NULL},
                 "unknown --format");
    expect_error((const char *[]){"run", "j", "k", "--input", "x", "--output", "o", NULL},
                 "unexpected argument 'k'");
    expect_error((const char *[]){"run", "j", "--inputs", "x", "--output", "o", NULL}, "'--inputs'");
    /* A single-valued option given twice is refused, not silently the last. */
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--output=p", NULL},
                 "--output given twice");
    expect_error((const char *[]){"run", "j", "--input", "x", "--memory", "1G", "--output", "o", "--memory", "1G",
                                  NULL},
                 "--memory given twice");
    /* Values past what is kept are refused, not wrapped around (they were
     * taken as the default budget, and as no lock deadline at all). */
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--memory", "99999999999G", NULL},
                 "at least 16M, in bytes or with a K, M, G or T suffix");
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--memory", "inf", NULL},
                 "at least 16M, in bytes or with a K, M, G or T suffix");
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--lock-timeout", "3000000", NULL},
                 "at most 2147483");
    /* Numbers are plain decimals: strtod's signs, spaces, hex and
     * exponents are refused, and so is a size that is a fraction of a
     * byte (it became 0, which means something else). */
    const char *bad[][2] = {{"--memory", "0x1p30"}, {"--memory", " 1G"}, {"--memory", "+1G"},
                            {"--memory", "1e9"}, {"--split-size", "0.5"}, {"--split-size", "-0"},
                            {"--split-size", "0.00001"}, {"--lock-timeout", "0x10"},
                            {"--lock-timeout", " 5"}, {"--merge-factor", " 16"}, {"--merge-factor", "+16"},
                            {"--merge-factor", "16.0"}, {"--split-size", "65536.7"},
                            {"--memory", "64.0000001M"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", bad[i][0], bad[i][1], NULL},
                     bad[i][0]);
    expect_error((const char *[]){"run", "j", "--input", "x", "--output", "o", "--csv-columns", "a,,b", NULL},
                 "--csv-columns 'a,,b': an empty column name");
    /* A value that looks like an option is given with '=' (as a separate
     * word it is taken for a forgotten value, above). */
    mill__run_args a;
    char err[256];
    CU_ASSERT(parse(&a, err, (const char *[]){"run", "j", "--input=--output", "--output", "o", NULL}) == 0);
    CU_ASSERT(a.ninputs == 1 && !strcmp(a.inputs[0], "--output") && !strcmp(a.output, "o"));
    mill__run_args_free(&a);
    /* Sizes take K, M, G and T. */
    CU_ASSERT(parse(&a, err, (const char *[]){"run", "j", "--input", "x", "--output", "o", "--memory", "2T", NULL}) == 0);
    CU_ASSERT_EQUAL(a.memory, (uint64_t)2 << 40);
    mill__run_args_free(&a);
    CU_ASSERT(parse(&a, err, (const char *[]){"run", "j", "--input", "x", "--output", "o", "--memory", "1.5G",
                                              "--split-size", "0", "--lock-timeout", "0.5", "--merge-factor", "2",
                                              NULL}) == 0);
    CU_ASSERT(a.memory == (uint64_t)3 << 29 && a.split_size == 0 && a.lock_timeout_ms == 500 && a.merge_factor == 2);
    mill__run_args_free(&a);
}

static void test_help(void) {
    mill__run_args a;
    char err[256];
    const char *argv[] = {"run", "--help", NULL};
    CU_ASSERT(parse(&a, err, argv) == 0);
    CU_ASSERT(a.help == 1);
    mill__run_args_free(&a);
}

static CU_TestInfo tests[] = {
    {"all options", test_full},
    {"last --opt wins, unknown flags refused", test_later_opt_wins},
    {"usage errors name the problem", test_errors},
    {"--help", test_help},
    CU_TEST_INFO_NULL,
};

int main(void) {
    return mill_cunit_main("args", tests);
}
