/* test_json_read.c -- the JSON tree reader (json_read.c) that `mpimill
 * report` reads manifests with: values, escapes, and refusals of what is
 * not JSON, including truncated (torn) manifests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_read.h"
#include "mpimill/job.h"
#include "cunit_main.h"

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

/* Manifests hold input paths and options as given: bytes that are not
 * UTF-8 (a Latin-1 file name) made _SUCCESS invalid JSON for Python's json.
 * They are written as \udcXX (surrogateescape) and read back as the byte. */
static void test_not_utf8(void) {
    static const char *const cases[] = {
        "plain", "caf\xe9.txt", "\xff\xfe", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "tab\tnl\n\x7f\"q\"\\", "\xf0\x9f\x98", NULL};
    for (int i = 0; cases[i]; i++) {
        char *text = NULL;
        size_t tlen = 0;
        FILE *f = open_memstream(&text, &tlen);
        CU_ASSERT_FATAL(f != NULL);
        mill__json_str(f, cases[i], strlen(cases[i]));
        CU_ASSERT_FATAL(fclose(f) == 0);
        /* Every byte above 0x7f written is part of well-formed UTF-8. */
        for (size_t k = 0; k < tlen; k++) {
            unsigned char c = (unsigned char)text[k];
            if (c < 0x80) continue;
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            CU_ASSERT(c >= 0xc2 && c <= 0xf4 && k + n <= tlen);
            k += n - 1;
        }
        mill__json v;
        CU_ASSERT_FATAL(parse(text, &v) == 0);
        CU_ASSERT(v.len == strlen(cases[i]) && !memcmp(v.str, cases[i], v.len));
        if (strchr(cases[i], '\xff')) CU_ASSERT(strstr(text, "\\udcff\\udcfe") != NULL);
        mill__json_free(&v);
        free(text);
    }
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
        CU_ASSERT(strstr(err, i == 0 || strcmp(bad[i], "1e999") ? "malformed JSON at byte" : "a number out of range at byte") != NULL);
    }
}

static void test_long_number(void) {
    /* Valid, however long (refused as "malformed" past 63 characters). */
    char num[200] = "0.008";
    memset(num + 5, '0', 150);
    num[155] = '1';
    mill__json v;
    CU_ASSERT_FATAL(parse(num, &v) == 0);
    CU_ASSERT(v.type == MILL_JSON_NUMBER && v.num == 0.008);
    mill__json_free(&v);
}

static void test_values_limit(void) {
    mill__json v;
    char err[128] = "";
    size_t saved = mill__json_max_values;
    mill__json_max_values = 4;
    CU_ASSERT(parse("[1,2,3]", &v) == 0); /* 4 values: the array and its 3 */
    mill__json_free(&v);
    CU_ASSERT_EQUAL(mill__json_parse("[1,2,3,4]", 9, &v, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "too many JSON values at byte") != NULL);
    mill__json_max_values = saved;
}

static void test_depth(void) {
    char deep[200];
    memset(deep, '[', 100); /* deeper than the reader allows */
    memset(deep + 100, ']', 99);
    deep[199] = ']';
    mill__json v;
    char err[128];
    CU_ASSERT_EQUAL(mill__json_parse(deep, sizeof deep, &v, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "JSON nested deeper than 64 levels at byte") != NULL);
    CU_ASSERT_EQUAL(mill__json_parse(deep + 36, 128, &v, err, sizeof err), 0); /* 64 levels: the most */
    mill__json_free(&v);
    CU_ASSERT_EQUAL(mill__json_parse(deep + 35, 130, &v, err, sizeof err), MILL_EFORMAT); /* 65 */
}

static CU_TestInfo tests[] = {
    {"objects, arrays, numbers, literals, strings", test_values},
    {"\\u escapes and UTF-8", test_unicode},
    {"bytes that are not UTF-8 round-trip as \\udcXX", test_not_utf8},
    {"what is not JSON is refused", test_refused},
    {"nesting is limited", test_depth},
    {"long numbers are numbers", test_long_number},
    {"values are limited", test_values_limit},
    CU_TEST_INFO_NULL,
};

int main(void) {
    return mill_cunit_main("json_read", tests);
}
