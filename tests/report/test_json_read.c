/* test_json_read.c -- the JSON tree reader (json_read.c) that `mpimill
 * report` reads manifests with: values, escapes, and refusals of what is
 * not JSON, including truncated (torn) manifests. */
#include <CUnit/Basic.h>
#include <string.h>

#include "json_read.h"
#include "mpimill/job.h"

/* Parses s; returns the reader's status. */
static int parse(const char *s, mill__json *v) {
    char err[128];
    return mill__json_parse(s, strlen(s), v, err, sizeof err);
}

static void test_values(void) {
    mill__json v;
    const char *s = "{\"a\": [1, -2.5e3, 0, true, false, null], \"b\": {\"c\": \"x\\ty\"}, \"a\": 7}";
    CU_ASSERT_FATAL(parse(s, &v) == 0);
    CU_ASSERT_EQUAL(v.type, MILL_JSON_OBJECT);
    CU_ASSERT_EQUAL(v.len, 3);
    const mill__json *a = mill__json_get(&v, "a"); /* the first of a repeated name */
    CU_ASSERT_FATAL(a && a->type == MILL_JSON_ARRAY && a->len == 6);
    double d = 0;
    CU_ASSERT(mill__json_num(&a->items[1], &d) && d == -2500);
    CU_ASSERT(a->items[3].type == MILL_JSON_BOOL && a->items[3].num == 1);
    CU_ASSERT(a->items[5].type == MILL_JSON_NULL);
    CU_ASSERT(!mill__json_num(&a->items[5], &d));
    const mill__json *c = mill__json_get(mill__json_get(&v, "b"), "c");
    CU_ASSERT_FATAL(c && c->type == MILL_JSON_STRING);
    CU_ASSERT_STRING_EQUAL(c->str, "x\ty");
    CU_ASSERT_PTR_NULL(mill__json_get(&v, "nope"));
    CU_ASSERT_PTR_NULL(mill__json_get(a, "a")); /* not an object */
    CU_ASSERT_PTR_NULL(mill__json_get(NULL, "a"));
    mill__json_free(&v);
}

static void test_unicode(void) {
    mill__json v;
    CU_ASSERT_FATAL(parse("\"\\u00e9\\u20ac\\ud83d\\ude00\\u0041\xc3\xa9\"", &v) == 0);
    CU_ASSERT_EQUAL(v.len, 2 + 3 + 4 + 1 + 2);
    CU_ASSERT(!memcmp(v.str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A\xc3\xa9", v.len));
    mill__json_free(&v);
    CU_ASSERT_FATAL(parse("\"a\\u0000b\"", &v) == 0); /* a NUL inside: len tells */
    CU_ASSERT_EQUAL(v.len, 3);
    mill__json_free(&v);
}

static void test_refused(void) {
    static const char *const bad[] = {
        "", " ", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "+1", "-", "1e",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "tru", "nul", "[1] 2",
        "{\"metrics\": {\"ranks\": [{\"rank\": 0, \"phases\": {\"map\": {\"start\": 0.1", /* torn */
        "1e999", NULL};
    for (int i = 0; bad[i]; i++) {
        mill__json v;
        char err[128] = "";
        int rc = mill__json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err);
        CU_ASSERT_EQUAL(rc, MILL_EFORMAT);
        if (rc != MILL_EFORMAT) fprintf(stderr, "accepted: '%s'\n", bad[i]);
        CU_ASSERT(strstr(err, "malformed JSON at byte") != NULL);
    }
}

static void test_depth(void) {
    char deep[200];
    memset(deep, '[', 100); /* deeper than the reader allows */
    memset(deep + 100, ']', 99);
    deep[199] = ']';
    mill__json v;
    char err[128];
    CU_ASSERT_EQUAL(mill__json_parse(deep, sizeof deep, &v, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT_EQUAL(mill__json_parse(deep + 50, 100, &v, err, sizeof err), 0); /* 50 deep is fine */
    mill__json_free(&v);
}

int main(void) {
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("json_read", NULL, NULL);
    CU_add_test(s, "objects, arrays, numbers, literals, strings", test_values);
    CU_add_test(s, "\\u escapes and UTF-8", test_unicode);
    CU_add_test(s, "what is not JSON is refused", test_refused);
    CU_add_test(s, "nesting is limited", test_depth);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
