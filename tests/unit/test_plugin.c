/* test_plugin.c -- the job loader accepts a valid plugin and refuses broken
 * ones with a clear message. PLUGIN_DIR holds the test plugins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "cunit_main.h"

static void expect(const char *name, int code, const char *needle) {
    mill__plugin p;
    char path[1024], err[512] = "";
    snprintf(path, sizeof path, "%s/%s.so", PLUGIN_DIR, name);
    int rc = mill__plugin_load(&p, path, err, sizeof err);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT(strstr(err, needle) != NULL);
    CU_ASSERT(strstr(err, path) != NULL); /* names the file */
    if (rc != code || !strstr(err, needle)) fprintf(stderr, "\n  %s: rc %d, '%s'\n", name, rc, err);
    if (rc == 0) mill__plugin_unload(&p);
}

static void test_broken(void) {
    expect("nosym", MILL_EABI, "no symbol mill_job_entry");
    expect("badmajor", MILL_EABI, "ABI 2.0");
    expect("short", MILL_EABI, "struct is 24 bytes");
    expect("halfptr", MILL_EABI, "ends inside a field");
    expect("nullmap", MILL_EINVAL, "map callback is NULL");
    expect("badcombine", MILL_EINVAL, "numeric value_type");
    expect("nocombine", MILL_EINVAL, "combine_op is CUSTOM (the default) but combine is NULL");
    expect("missing", MILL_ENOENT, "no such file");
}

static void test_good_by_path_and_name(void) {
    mill__plugin p;
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/good.so", PLUGIN_DIR);
    CU_ASSERT_FATAL(mill__plugin_load(&p, path, err, sizeof err) == 0);
    CU_ASSERT_STRING_EQUAL(p.job->name, "good");
    mill__plugin_unload(&p);

    /* A plugin of a later minor with a longer struct loads too. */
    snprintf(path, sizeof path, "%s/newminor.so", PLUGIN_DIR);
    CU_ASSERT(mill__plugin_load(&p, path, err, sizeof err) == 0);
    mill__plugin_unload(&p);

    /* A plugin of the first 1.0 header: its struct ends before flags, and
     * what lies past it is not read (no flags, no map_done). */
    snprintf(path, sizeof path, "%s/old10.so", PLUGIN_DIR);
    CU_ASSERT_FATAL(mill__plugin_load(&p, path, err, sizeof err) == 0);
    CU_ASSERT_EQUAL(p.job->flags, 0);
    CU_ASSERT_PTR_NULL(p.job->map_done);
    CU_ASSERT_PTR_NOT_NULL(p.job->map);
    mill__plugin_unload(&p);

    /* The entry is called once: one returning NULL on a second call loads. */
    snprintf(path, sizeof path, "%s/twice.so", PLUGIN_DIR);
    CU_ASSERT(mill__plugin_load(&p, path, err, sizeof err) == 0);
    CU_ASSERT_STRING_EQUAL(p.job->name, "twice");
    mill__plugin_unload(&p);

    setenv("MPIMILL_JOB_PATH", "/nonexistent:" PLUGIN_DIR, 1);
    CU_ASSERT(mill__plugin_load(&p, "good", err, sizeof err) == 0);
    mill__plugin_unload(&p);
}

static void test_never_from_cwd(void) {
    mill__plugin p;
    char err[512], cwd[1024];
    CU_ASSERT_FATAL(getcwd(cwd, sizeof cwd) != NULL);
    CU_ASSERT_FATAL(chdir(PLUGIN_DIR) == 0);
    unsetenv("MPIMILL_JOB_PATH");
    CU_ASSERT_EQUAL(mill__plugin_load(&p, "good", err, sizeof err), MILL_ENOENT);
    CU_ASSERT(strstr(err, "unknown job 'good'") != NULL);
    CU_ASSERT(strstr(err, "looked in") != NULL);
    CU_ASSERT_FATAL(chdir(cwd) == 0);
}

static CU_TestInfo tests[] = {
    {"broken plugins are refused", test_broken},
    {"a good plugin loads by path and by name", test_good_by_path_and_name},
    {"names are never resolved in the current directory", test_never_from_cwd},
    CU_TEST_INFO_NULL,
};

int main(void) {
    return mill_cunit_main("plugin", tests);
}
