/* test_words.c -- the 64-byte word splitter (jobs/common/words.c) finds the
 * same words as a byte-at-a-time split, wherever words and block edges
 * fall, and resumes correctly when its output array is full. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "words.h"
#include "cunit_main.h"

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Checks jk_words on text[0, len) against the naive split, with output
 * arrays of `max` pairs. */
static void check(const char *text, size_t len, size_t max) {
    mill_kv *out = malloc(max * sizeof *out);
    size_t pos = 0, i = 0, calls = 0;
    while (pos < len) {
        size_t before = pos, n = jk_words(text, len, &pos, out, max);
        CU_ASSERT_FATAL(n <= max);
        CU_ASSERT_FATAL(pos > before || n > 0);
        for (size_t k = 0; k < n; k++) {
            while (i < len && is_space((unsigned char)text[i])) i++;
            size_t w = i;
            while (i < len && !is_space((unsigned char)text[i])) i++;
            CU_ASSERT_FATAL(i > w); /* the naive split has a word here too */
            CU_ASSERT_EQUAL(out[k].key, text + w);
            CU_ASSERT_EQUAL(out[k].key_len, i - w);
        }
        CU_ASSERT_FATAL(++calls < 100000);
    }
    while (i < len && is_space((unsigned char)text[i])) i++;
    CU_ASSERT_EQUAL(i, len); /* no word missed at the end */
    free(out);
}

static void test_edges(void) {
    static const char *cases[] = {"", " ", "a", "a ", " a", "\t\n\v\f\r x \r\n", "one two  three",
                                  "\x80\xff\x01 \x1f\x7f", "x\x08y\x0ez"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) check(cases[c], strlen(cases[c]), JK_WORDS_MIN);
    char buf[300];
    for (size_t w = 1; w <= 200; w += 7) { /* one word of every length across block edges */
        for (size_t at = 0; at + w < sizeof buf; at += 13) {
            memset(buf, ' ', sizeof buf);
            memset(buf + at, 'w', w);
            check(buf, at + w, JK_WORDS_MIN); /* ends inside the word */
            check(buf, sizeof buf, JK_WORDS_MIN);
        }
    }
}

static void test_random(void) {
    srand(3);
    static char buf[20000];
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t)rand() % sizeof buf;
        int density = 1 + rand() % 12;
        for (size_t i = 0; i < len; i++) {
            int r = rand() % density;
            buf[i] = r == 0 ? " \t\n\v\f\r"[rand() % 6] : (char)(33 + rand() % 200);
        }
        check(buf, len, JK_WORDS_MIN + (size_t)(rand() % 3) * 50);
    }
}

int main(void) {
    static CU_TestInfo tests[] = {
        {"edges and block boundaries", test_edges},
        {"random text, small output arrays", test_random},
        CU_TEST_INFO_NULL};
    return mill_cunit_main("words", tests);
}
