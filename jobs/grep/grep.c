/* grep.c -- the lines that match a POSIX extended regular expression, with
 * their file and line number, like `grep -nE`.
 *
 * Options: pattern=RE (required; regcomp with REG_EXTENDED), icase=1
 * (REG_ICASE), invert=1 (the lines that do not match), count=1 (the number
 * of selected lines per file instead of the lines).
 *
 * Output: `FILE:LINE<TAB>TEXT`, LINE zero-padded to 10 digits so that the
 * keys sort as grep -n prints each file; with count=1, `FILE<TAB>N` for every
 * input file that has at least one line (N may be 0).
 *
 * Line numbers come with every record: the job sets MILL_JOB_LINE_NUMBERS.
 */
#include <mpimill/job.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"pattern", "icase", "invert", "count", NULL};

typedef struct grep_state {
    regex_t re;
    int invert, count;
    char *line;        /* the record as a C string for regexec */
    size_t linecap;
} grep_state;

/* Reads the options and compiles the pattern. Fails with a message when the
 * pattern is missing or invalid or a flag is not 0 or 1. */
static int grep_setup(mill_ctx *ctx) {
    const char *pat = mill_opt(ctx, "pattern");
    if (!pat) {
        mill_fail(ctx, "option pattern is required (e.g. --opt pattern='^ERROR')");
        return MILL_EINVAL;
    }
    int flags[3];
    const char *names[3] = {"icase", "invert", "count"};
    for (int i = 0; i < 3; i++) {
        const char *v = mill_opt(ctx, names[i]);
        flags[i] = v && !strcmp(v, "1");
        if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
            mill_fail(ctx, "option %s=%s: expected 0 or 1", names[i], v);
            return MILL_EINVAL;
        }
    }
    grep_state *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    int rc = regcomp(&s->re, pat, REG_EXTENDED | REG_NOSUB | (flags[0] ? REG_ICASE : 0));
    if (rc) {
        char why[256];
        regerror(rc, &s->re, why, sizeof why);
        mill_fail(ctx, "option pattern=%s: %s", pat, why);
        free(s);
        return MILL_EINVAL;
    }
    s->invert = flags[1];
    s->count = flags[2];
    mill_set_userdata(ctx, s);
    return 0;
}

/* Emits the record when it is selected: (FILE:LINE, text), or with count=1
 * (FILE, 1 or 0) as an 8-byte count. */
static int grep_map(mill_ctx *ctx, const mill_record *rec) {
    grep_state *s = mill_userdata(ctx);
    if (rec->len + 1 > s->linecap) {
        size_t cap = rec->len + 1 > 2 * s->linecap ? rec->len + 1 : 2 * s->linecap;
        char *p = realloc(s->line, cap);
        if (!p) return MILL_ENOMEM;
        s->line = p;
        s->linecap = cap;
    }
    memcpy(s->line, rec->data, rec->len);
    s->line[rec->len] = '\0';
    /* A NUL inside the line ends the C string: the text before it is matched. */
    int m = regexec(&s->re, s->line, 0, NULL, 0);
    if (m != 0 && m != REG_NOMATCH) { /* out of memory: not "no match", which invert would select */
        char why[128];
        regerror(m, &s->re, why, sizeof why);
        mill_fail(ctx, "matching the pattern failed: %s", why);
        return m == REG_ESPACE ? MILL_ENOMEM : MILL_EJOB;
    }
    int selected = (m == 0) != s->invert;
    if (s->count) {
        uint64_t one = (uint64_t)selected;
        int rc = mill_emit(ctx, rec->file, strlen(rec->file), &one, sizeof one);
        return rc == 0 && selected ? mill_count(ctx, "selected_lines", 1) : rc;
    }
    uint64_t line = rec->line;
    int rc = 0;
    if (!selected) return 0;
    size_t flen = strlen(rec->file);
    char *key = malloc(flen + 32);
    if (!key) return MILL_ENOMEM;
    int n = snprintf(key, flen + 32, "%s:%010" PRIu64, rec->file, line);
    rc = mill_emit(ctx, key, (size_t)n, rec->data, rec->len);
    free(key);
    if (rc == 0) rc = mill_count(ctx, "selected_lines", 1);
    return rc;
}

/* Merges two values of one key: counts add up; two lines of one FILE:LINE
 * (the same file given twice as input) are the same text, kept once. */
static int grep_combine(mill_ctx *ctx, const void *key, size_t key_len, const void *a, size_t a_len,
                        const void *b, size_t b_len) {
    (void)key, (void)key_len, (void)b, (void)b_len;
    grep_state *s = mill_userdata(ctx);
    if (!s->count) return mill_set_value(ctx, a, a_len);
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    x += y;
    return mill_set_value(ctx, &x, 8);
}

/* Writes each key with its line, or with count=1 its count in decimal. */
static int grep_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    grep_state *s = mill_userdata(ctx);
    if (!s->count) return mill_write(ctx, key, key_len, value, value_len);
    uint64_t n;
    memcpy(&n, value, 8);
    char num[24];
    int len = snprintf(num, sizeof num, "%" PRIu64, n);
    return mill_write(ctx, key, key_len, num, (size_t)len);
}

/* Frees the compiled pattern and buffers. */
static void grep_teardown(mill_ctx *ctx) {
    grep_state *s = mill_userdata(ctx);
    if (!s) return;
    regfree(&s->re);
    free(s->line);
    free(s);
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "grep",
         .flags = MILL_JOB_LINE_NUMBERS,
         .inputs = MILL_INPUT_TEXT | MILL_INPUT_CSV,
         .description = "lines matching a POSIX ERE as FILE:LINE<TAB>TEXT; --opt pattern=RE [icase=1 invert=1 count=1]",
         .value_type = MILL_VALUE_BYTES,
         .combine_op = MILL_COMBINE_CUSTOM,
         .options = options,
         .setup = grep_setup,
         .map = grep_map,
         .combine = grep_combine,
         .reduce = grep_reduce,
         .teardown = grep_teardown)
