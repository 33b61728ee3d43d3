/* test_merge.c -- the k-way merge of sorted runs (runtime/merge.c): keys
 * come out once each, in order, their values summed across inputs, through
 * read buffers far smaller than a record; a run cut inside a record is an
 * error, never a silent end. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "ctx.h"
#include "merge.h"
#include "metrics.h"
#include "record.h"

static mill_job job = {.name = "test", .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_SUM};

/* Writes the records (key, count) of keys[] to an unlinked file, in the
 * order given, and returns its descriptor; *len gets its size. */
static int run_file(const char *const *keys, size_t n, uint64_t count, uint64_t *len) {
    FILE *f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);
    int fd = dup(fileno(f));
    fclose(f);
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        char rec[4096];
        size_t k = mill__record_put(MILL_VALUE_U64, rec, keys[i], (uint32_t)strlen(keys[i]), &count, 8);
        CU_ASSERT_FATAL(pwrite(fd, rec, k, (off_t)*len) == (ssize_t)k);
        *len += k;
    }
    return fd;
}

static void ctx_init(mill_ctx *ctx, mill__table *scratch) {
    memset(ctx, 0, sizeof *ctx);
    ctx->job = &job;
    ctx->merge = mill__merge_for(&job); /* u64_sum 0: equal keys combine in the scratch table */
    CU_ASSERT_FATAL(mill__table_init(scratch) == 0);
}

/* With u64_sum set, as the engine sets it for this job, equal keys are
 * added up without the scratch table (merge.c). */
static void merge_sums(int u64_sum) {
    char big[3000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *a[] = {"", "apple", big, "pear"}, *b[] = {"apple", "fig", big, "zebra"}, *c[] = {"apple", "kiwi"};
    uint64_t la, lb, lc;
    int fa = run_file(a, 4, 1, &la), fb = run_file(b, 4, 10, &lb), fc = run_file(c, 2, 100, &lc);
    mill_ctx ctx;
    mill__table scratch;
    ctx_init(&ctx, &scratch);
    ctx.u64_sum = u64_sum;
    mill__merge *m;
    CU_ASSERT_FATAL(mill__merge_new(&m, &ctx, &scratch) == 0);
    /* 64-byte buffers: every record crosses a refill, the big key grows one. */
    CU_ASSERT(mill__merge_file(m, fa, 0, la, 64) == 0);
    CU_ASSERT(mill__merge_file(m, fb, 0, lb, 64) == 0);
    CU_ASSERT(mill__merge_file(m, fc, 0, lc, 64) == 0);
    const char *want[] = {"", "apple", "fig", "kiwi", big, "pear", "zebra"};
    uint64_t sums[] = {1, 111, 10, 100, 11, 1, 10};
    char err[256] = "";
    mill_kv kv;
    size_t i = 0;
    int rc;
    while ((rc = mill__merge_next(m, &kv, err, sizeof err)) == 1) {
        CU_ASSERT_FATAL(i < 7);
        CU_ASSERT(kv.key_len == strlen(want[i]) && memcmp(kv.key, want[i], kv.key_len) == 0);
        uint64_t v;
        memcpy(&v, kv.value, 8);
        CU_ASSERT_EQUAL(v, sums[i]);
        i++;
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(i, 7);
    mill__merge_free(m);
    mill__table_free(&scratch);
    close(fa), close(fb), close(fc);
}

static void test_merge_sums(void) { merge_sums(0); }
static void test_merge_sums_u64(void) { merge_sums(1); }

static void test_merge_entries(void) {
    const char *a[] = {"b", "d"};
    uint64_t la, one = 1;
    int fa = run_file(a, 2, 5, &la);
    mill_ctx ctx;
    mill__table scratch, t;
    ctx_init(&ctx, &scratch);
    CU_ASSERT_FATAL(mill__table_init(&t) == 0);
    const char *keys[] = {"d", "a", "c"};
    for (int i = 0; i < 3; i++)
        CU_ASSERT(mill__table_insert(&t, mill_key_hash(keys[i], 1), keys[i], 1, &one, 8) != NULL);
    size_t n = mill__table_sort(&t);
    mill__merge *m;
    CU_ASSERT_FATAL(mill__merge_new(&m, &ctx, &scratch) == 0);
    CU_ASSERT(mill__merge_file(m, fa, 0, la, 1 << 16) == 0);
    CU_ASSERT(mill__merge_entries(m, t.slots, n) == 0);
    char err[256], got[8] = "";
    uint64_t d = 0;
    mill_kv kv;
    size_t i = 0;
    while (mill__merge_next(m, &kv, err, sizeof err) == 1 && i < sizeof got - 1) {
        got[i++] = *(const char *)kv.key;
        if (*(const char *)kv.key == 'd') memcpy(&d, kv.value, 8);
    }
    CU_ASSERT_STRING_EQUAL(got, "abcd");
    CU_ASSERT_EQUAL(d, 6);
    mill__merge_free(m);
    mill__table_free(&t);
    mill__table_free(&scratch);
    close(fa);
}

static void test_merge_truncated(void) {
    const char *a[] = {"alpha", "beta"};
    uint64_t la;
    int fa = run_file(a, 2, 7, &la);
    mill_ctx ctx;
    mill__table scratch;
    ctx_init(&ctx, &scratch);
    mill__merge *m;
    CU_ASSERT_FATAL(mill__merge_new(&m, &ctx, &scratch) == 0);
    CU_ASSERT(mill__merge_file(m, fa, 0, la - 2, 64) == 0); /* "beta" loses its last bytes */
    char err[256] = "";
    mill_kv kv;
    CU_ASSERT_EQUAL(mill__merge_next(m, &kv, err, sizeof err), 1);
    CU_ASSERT_EQUAL(mill__merge_next(m, &kv, err, sizeof err), MILL_EIO);
    CU_ASSERT(strstr(err, "spill file") != NULL);
    mill__merge_free(m);
    mill__table_free(&scratch);
    close(fa);
}

/* A run whose big key is followed by a cut record: the error leaves the
 * heap without comparing the big key's bytes, which its buffer shrinking
 * freed (an input of the same 8-byte prefix makes the merge compare them).
 * Fails by a crash or, under ASan or valgrind, a use after free. */
static void test_merge_truncated_after_big(void) {
    const size_t big = (size_t)4 << 20;
    char *rec = malloc(big + 64), *key = malloc(big + 1);
    CU_ASSERT_FATAL(rec && key);
    memset(key, 'x', big);
    key[big] = 'z';
    uint64_t one = 1, len[2] = {0, 0};
    int fd[2];
    for (int i = 0; i < 2; i++) {
        FILE *f = tmpfile();
        CU_ASSERT_FATAL(f != NULL);
        fd[i] = dup(fileno(f));
        fclose(f);
        size_t k = mill__record_put(MILL_VALUE_U64, rec, key, (uint32_t)(big + (size_t)i), &one, 8);
        CU_ASSERT_FATAL(pwrite(fd[i], rec, k, 0) == (ssize_t)k);
        len[i] = k;
    }
    size_t k = mill__record_put(MILL_VALUE_U64, rec, "y", 1, &one, 8); /* after the big key in run 0, cut */
    CU_ASSERT_FATAL(pwrite(fd[0], rec, k, (off_t)len[0]) == (ssize_t)k);
    len[0] += k - 2;
    mill_ctx ctx;
    mill__table scratch;
    ctx_init(&ctx, &scratch);
    mill__merge *m;
    CU_ASSERT_FATAL(mill__merge_new(&m, &ctx, &scratch) == 0);
    CU_ASSERT(mill__merge_file(m, fd[0], 0, len[0], 64) == 0);
    CU_ASSERT(mill__merge_file(m, fd[1], 0, len[1], 64) == 0);
    char err[256] = "";
    mill_kv kv;
    int rc;
    while ((rc = mill__merge_next(m, &kv, err, sizeof err)) == 1) {
    }
    CU_ASSERT_EQUAL(rc, MILL_EIO);
    CU_ASSERT(strstr(err, "spill file") != NULL);
    mill__merge_free(m);
    mill__table_free(&scratch);
    close(fd[0]), close(fd[1]);
    free(rec), free(key);
}

/* Eight inputs hold a big key each, current one after another: "cI",
 * "cI" + 8 MiB, then "dI", which waits until every c key is out. An input
 * gives back the room it grew for its big key once past it, so the merge
 * holds about one big key's room at a time, not eight. */
#define BIG_KEYS 8
static void test_merge_big_shrinks(void) {
    const size_t big = (size_t)8 << 20;
    char *rec = malloc(big + 64), *key = malloc(big);
    CU_ASSERT_FATAL(rec && key);
    memset(key, 'x', big);
    int fd[BIG_KEYS];
    uint64_t len[BIG_KEYS], one = 1;
    for (int i = 0; i < BIG_KEYS; i++) {
        FILE *f = tmpfile();
        CU_ASSERT_FATAL(f != NULL);
        fd[i] = dup(fileno(f));
        fclose(f);
        char small[2][3] = {{'c', (char)('0' + i), 0}, {'d', (char)('0' + i), 0}};
        size_t k = mill__record_put(MILL_VALUE_U64, rec, small[0], 2, &one, 8);
        key[0] = 'c', key[1] = (char)('0' + i);
        k += mill__record_put(MILL_VALUE_U64, rec + k, key, (uint32_t)big, &one, 8);
        CU_ASSERT_FATAL(pwrite(fd[i], rec, k, 0) == (ssize_t)k);
        size_t d = mill__record_put(MILL_VALUE_U64, rec, small[1], 2, &one, 8);
        CU_ASSERT_FATAL(pwrite(fd[i], rec, d, (off_t)k) == (ssize_t)d);
        len[i] = k + d;
    }
    free(rec);
    free(key);
    mill_ctx ctx;
    mill__table scratch;
    ctx_init(&ctx, &scratch);
    ctx.u64_sum = 1;
    mill__merge *m;
    CU_ASSERT_FATAL(mill__merge_new(&m, &ctx, &scratch) == 0);
    for (int i = 0; i < BIG_KEYS; i++) CU_ASSERT(mill__merge_file(m, fd[i], 0, len[i], 64 << 10) == 0);
    mill__peak_rss_reset();
    double before = mill__peak_rss();
    char err[256] = "";
    mill_kv kv;
    size_t n = 0, bigs = 0;
    while (mill__merge_next(m, &kv, err, sizeof err) == 1) n++, bigs += kv.key_len == big;
    long grown = (long)((mill__peak_rss() - before) / 1024); /* KiB */
#ifdef __SANITIZE_ADDRESS__
    grown = 0; /* AddressSanitizer keeps freed memory in quarantine: no figure to check */
#endif
    CU_ASSERT_EQUAL(n, 3 * BIG_KEYS);
    CU_ASSERT_EQUAL(bigs, BIG_KEYS);
    CU_ASSERT(grown < 40 << 10); /* KiB: 17 MiB with the room given back, 74 MiB without */
    if (grown >= 40 << 10) fprintf(stderr, "\nmerging %d big keys grew VmHWM by %ld KiB\n", BIG_KEYS, grown);
    mill__merge_free(m);
    mill__table_free(&scratch);
    for (int i = 0; i < BIG_KEYS; i++) close(fd[i]);
}

int main(void) {
    CU_TestInfo tests[] = {
        {"files merge in key order, equal keys summed", test_merge_sums},
        {"the same, a u64 sum added up as it goes", test_merge_sums_u64},
        {"a sorted table merges with a file", test_merge_entries},
        {"a run cut inside a record is an error", test_merge_truncated},
        {"a run cut after a big key is an error, not a use after free", test_merge_truncated_after_big},
        {"room grown for a big key is given back", test_merge_big_shrinks},
        CU_TEST_INFO_NULL,
    };
    return mill_cunit_main("merge", tests);
}
