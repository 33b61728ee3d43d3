/* test_split.c -- every line of the input is read by exactly one rank, for
 * any number of ranks, through mill__split and mill__text_read, a line or a
 * block of lines (MILL__TEXT_BLOCKS) at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "text.h"
#include "cunit_main.h"

static char dir[] = "/tmp/mill-split-XXXXXX";

typedef struct collected {
    char *buf;   /* lines read, each followed by '\n' */
    size_t len, cap;
} collected;

static int collect(void *arg, const mill_record *rec) {
    collected *c = arg;
    if (c->cap - c->len < rec->len + 1) {
        c->cap = (c->cap + rec->len + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, rec->data, rec->len);
    c->len += rec->len;
    c->buf[c->len++] = '\n';
    return 0;
}

static void write_file(const char *name, const char *data, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
    fclose(f);
}

/* Expected lines of a file body: the rule of text.h, done the naive way. */
static void expect_lines(const char *data, size_t len, collected *c) {
    size_t s = 0;
    while (s < len) {
        size_t e = s;
        while (e < len && data[e] != '\n') e++;
        size_t l = e - s;
        if (l > 0 && data[e - 1] == '\r') l--; /* CRLF, or a '\r' ending the data */
        mill_record r = {.data = data + s, .len = l};
        collect(c, &r);
        s = e + 1;
    }
}

/* Reads the whole input set with `ranks` ranks and compares with expected. */
static void check_ranks(char **paths, size_t npaths, const collected *want, int ranks) {
    mill__inputs in;
    char err[256];
    CU_ASSERT_FATAL(mill__inputs_collect(&in, paths, npaths, err, sizeof err) == 0);
    collected got = {0};
    for (int r = 0; r < ranks; r++) {
        mill__piece pcs[64];
        size_t n = mill__split(&in, r, ranks, pcs, 64);
        CU_ASSERT_FATAL(n <= 64);
        for (size_t i = 0; i < n; i++)
            CU_ASSERT(mill__text_read(in.files[pcs[i].file].path, pcs[i].start, pcs[i].end, collect,
                                      &got, err, sizeof err) == 0);
    }
    CU_ASSERT_EQUAL(got.len, want->len);
    if (got.len == want->len) CU_ASSERT(memcmp(got.buf, want->buf, got.len) == 0);
    free(got.buf);
    mill__inputs_free(&in);
}

static void test_edge_files(void) {
    static const struct { const char *name, *data; } files[] = {
        {"a-crlf", "one two\r\nthree\r\n\r\nfour"},
        {"b-empty", ""},
        {"c-tiny", "x"},
        {"d-nl-only", "\n\n\n"},
        {"e-no-final", "alpha beta\ngamma"},
        {"f-long", NULL},
    };
    collected want = {0};
    char *paths[8];
    char longline[5000];
    memset(longline, 'q', sizeof longline);
    longline[2500] = '\n';
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        const char *d = files[i].data ? files[i].data : longline;
        size_t l = files[i].data ? strlen(d) : sizeof longline;
        write_file(files[i].name, d, l);
        expect_lines(d, l, &want);
        paths[i] = malloc(256);
        snprintf(paths[i], 256, "%s/%s", dir, files[i].name);
    }
    for (int ranks = 1; ranks <= 40; ranks++) check_ranks(paths, 6, &want, ranks);
    /* The directory itself: the same files in sorted order. */
    char *d = dir;
    for (int ranks = 1; ranks <= 9; ranks++) check_ranks(&d, 1, &want, ranks);
    for (size_t i = 0; i < 6; i++) free(paths[i]);
    free(want.buf);
}

static void test_random_files(void) {
    srand(7);
    for (int round = 0; round < 30; round++) {
        size_t len = (size_t)(rand() % 3000);
        char *data = malloc(len + 1);
        for (size_t i = 0; i < len; i++) {
            int r = rand() % 10;
            data[i] = r == 0 ? '\n' : r == 1 ? '\r' : (char)('a' + r);
        }
        write_file("rand", data, len);
        collected want = {0};
        expect_lines(data, len, &want);
        char path[256];
        snprintf(path, sizeof path, "%s/rand", dir);
        char *p = path;
        for (int ranks = 1; ranks <= 12; ranks++) check_ranks(&p, 1, &want, ranks);
        free(want.buf);
        free(data);
    }
}

/* Appends a block record's bytes as they are, after checking its shape:
 * whole lines, at most MILL__TEXT_BLOCK bytes unless it is one line. */
static int collect_block(void *arg, const mill_record *rec) {
    collected *c = arg;
    CU_ASSERT(rec->len > 0);
    const char *nl = memchr(rec->data, '\n', rec->len);
    CU_ASSERT(rec->len <= MILL__TEXT_BLOCK || !nl || nl == rec->data + rec->len - 1);
    if (c->cap - c->len < rec->len) {
        c->cap = (c->cap + rec->len) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, rec->data, rec->len);
    c->len += rec->len;
    return 0;
}

static void test_blocks(void) {
    /* 3 MiB: lines of 0..200 bytes, and a few longer than a block. */
    srand(11);
    size_t len = (size_t)3 << 20;
    char *data = malloc(len);
    for (size_t i = 0; i < len; i++) {
        int r = rand();
        data[i] = r % 97 == 0 ? '\n' : (char)('a' + r % 26);
        if (i % (1u << 20) == 1000) { /* a 300 KiB line */
            memset(data + i, 'L', 300u << 10);
            i += 300u << 10;
        }
    }
    data[len - 1] = 'z'; /* no final newline */
    write_file("blocks", data, len);
    char path[256];
    snprintf(path, sizeof path, "%s/blocks", dir);
    char *p = path, err[256];
    for (int ranks = 1; ranks <= 7; ranks++) {
        mill__inputs in;
        CU_ASSERT_FATAL(mill__inputs_collect(&in, &p, 1, err, sizeof err) == 0);
        collected got = {0};
        uint64_t lines = 0;
        for (int r = 0; r < ranks; r++) {
            mill__piece pcs[4];
            size_t n = mill__split(&in, r, ranks, pcs, 4);
            for (size_t i = 0; i < n; i++)
                CU_ASSERT(mill__text_read_lines(&(mill__file){.path = path, .size = UINT64_MAX}, pcs[i].start, pcs[i].end,
                                                MILL__TEXT_BLOCKS, NULL, collect_block, &got, err, sizeof err) == 0);
        }
        CU_ASSERT_EQUAL(got.len, len); /* the blocks of all ranks are the file, in order */
        if (got.len == len) CU_ASSERT(memcmp(got.buf, data, len) == 0);
        lines = mill__text_count_newlines(got.buf, got.len);
        CU_ASSERT_EQUAL(lines, mill__text_count_newlines(data, len));
        free(got.buf);
        mill__inputs_free(&in);
    }
    free(data);
}

static void test_count_newlines(void) {
    srand(5);
    char buf[9000];
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)rand() % sizeof buf, want = 0;
        int dense = round % 3 == 0; /* all newlines: a lane's count passes 255 */
        for (size_t i = 0; i < n; i++) {
            buf[i] = dense || rand() % 5 == 0 ? '\n' : (char)rand();
            want += buf[i] == '\n';
        }
        CU_ASSERT_EQUAL(mill__text_count_newlines(buf, n), want);
    }
}

static void test_split_covers_bytes(void) {
    /* The pieces of all ranks tile the input exactly, in order. */
    mill__file files[3] = {{.path = "a", .size = 10}, {.path = "b", .size = 0}, {.path = "c", .size = 7}};
    mill__inputs in = {.files = files, .n = 3, .total = 17};
    for (int ranks = 1; ranks <= 20; ranks++) {
        uint64_t covered = 0;
        for (int r = 0; r < ranks; r++) {
            mill__piece pcs[4];
            size_t n = mill__split(&in, r, ranks, pcs, 4);
            for (size_t i = 0; i < n; i++) {
                CU_ASSERT(pcs[i].file != 1); /* empty files get no piece */
                CU_ASSERT(pcs[i].start < pcs[i].end);
                covered += pcs[i].end - pcs[i].start;
            }
        }
        CU_ASSERT_EQUAL(covered, 17);
    }
}

/* Whole files are placed largest first, ties in input order, in
 * n log n: 800000 gzip files of rising sizes took an insertion sort
 * minutes (40000 took a 2-rank job 22 s instead of 1.4 s). glibc's qsort
 * is stable at this size, so the ties check the result, not whole_cmp. */
static void test_split_many_whole(void) {
    enum { N = 800000, HALF = N / 2 };
    mill__file *f = calloc(N, sizeof *f);
    mill__piece *p = calloc(N, sizeof *p);
    unsigned char *seen = calloc(N, 1);
    CU_ASSERT_FATAL(f && p && seen);
    mill__inputs in = {.files = f, .n = N};
    for (size_t i = 0; i < N; i++) {
        f[i] = (mill__file){.path = "x.gz", .size = i < HALF ? i / 2 : 7, .kind = MILL__GZIP};
        in.total += f[i].size;
    }
    uint64_t load[2] = {0, 0};
    for (int r = 0; r < 2; r++) {
        size_t n = mill__split(&in, r, 2, p, N);
        CU_ASSERT_FATAL(n <= N);
        for (size_t i = 0; i < n; i++) {
            CU_ASSERT(p[i].start == 0 && p[i].end == f[p[i].file].size && !seen[p[i].file]);
            seen[p[i].file] = 1;
            load[r] += f[p[i].file].size;
            /* Pairs of equal sizes (2k, 2k+1) go to ranks 0 and 1 in input
             * order, as do the files of size 7 past HALF. */
            if (p[i].file >= HALF) CU_ASSERT_EQUAL((int)(p[i].file % 2), r);
            if (p[i].file < HALF && f[p[i].file].size > 7) CU_ASSERT_EQUAL((int)(p[i].file % 2), r);
        }
    }
    for (size_t i = 0; i < N; i++) CU_ASSERT(seen[i]);
    CU_ASSERT_EQUAL(load[0] + load[1], in.total);
    free(seen), free(p), free(f);
}

/* The placement the contract states, done the naive way: repeatedly the
 * largest unplaced whole file (ties: input order) onto the least loaded
 * rank (ties: the lowest), each file adding its size + 1. */
static void place_by_scan(const mill__inputs *in, int cqn, int size, int *owner) {
    uint64_t *load = calloc((size_t)size, sizeof *load);
    CU_ASSERT_FATAL(load != NULL);
    for (size_t i = 0; i < in->n; i++) owner[i] = -1;
    for (;;) {
        size_t pick = in->n;
        for (size_t i = 0; i < in->n; i++)
            if (owner[i] < 0 && in->files[i].kind != MILL__HDF5 && mill__whole_file(&in->files[i], cqn) &&
                (pick == in->n || in->files[i].size > in->files[pick].size))
                pick = i;
        if (pick == in->n) break;
        int best = 0;
        for (int r = 1; r < size; r++)
            if (load[r] < load[best]) best = r;
        owner[pick] = best;
        load[best] += in->files[pick].size + 1;
    }
    free(load);
}

static void test_place_matches_scan(void) {
    enum { N = 300 };
    static const mill__kind kinds[] = {MILL__TEXT, MILL__GZIP, MILL__CSV, MILL__CSV_GZ, MILL__HDF5};
    mill__file f[N];
    int want[N];
    srand(7);
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(rand() % N) + 1;
        for (size_t i = 0; i < n; i++) /* few distinct sizes: many ties */
            f[i] = (mill__file){.path = "x", .size = (uint64_t)(rand() % 9) * (uint64_t)(rand() % 5),
                                .kind = kinds[rand() % 5]};
        mill__inputs in = {.files = f, .n = n};
        int size = rand() % 37 + 1, cqn = round % 2;
        place_by_scan(&in, cqn, size, want);
        int *got = mill__split_place(&in, cqn, size);
        CU_ASSERT_FATAL(got != NULL);
        CU_ASSERT(memcmp(got, want, n * sizeof *got) == 0);
        free(got);
    }
}

static void test_place_many_ranks(void) {
    /* 800000 files onto 200000 ranks: a scan of every rank per file (1.6e11
     * steps) would pass the test's timeout many times over. */
    enum { N = 800000, RANKS = 200000 };
    mill__file *f = calloc(N, sizeof *f);
    uint64_t *load = calloc(RANKS, sizeof *load);
    CU_ASSERT_FATAL(f && load);
    mill__inputs in = {.files = f, .n = N};
    for (size_t i = 0; i < N; i++) f[i] = (mill__file){.path = "x.gz", .size = i % 1000, .kind = MILL__GZIP};
    int *owner = mill__split_place(&in, 0, RANKS);
    CU_ASSERT_FATAL(owner != NULL);
    int ok = 1;
    for (size_t i = 0; i < N; i++) {
        ok &= owner[i] >= 0 && owner[i] < RANKS;
        if (ok) load[owner[i]] += f[i].size + 1;
    }
    CU_ASSERT(ok);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int r = 0; r < RANKS; r++) lo = load[r] < lo ? load[r] : lo, hi = load[r] > hi ? load[r] : hi;
    CU_ASSERT(hi - lo <= 1000); /* greedy largest-first: within the largest file (999 + 1) */
    free(owner), free(load), free(f);
}

static void test_missing_input(void) {
    mill__inputs in;
    char err[256] = "";
    char *p = "/nonexistent/mill-input";
    CU_ASSERT_EQUAL(mill__inputs_collect(&in, &p, 1, err, sizeof err), MILL_ENOENT);
    CU_ASSERT(strstr(err, "/nonexistent/mill-input") != NULL);
}

static void test_pack_roundtrip(void) {
    mill__file files[2] = {{.path = "x/y", .size = 10}, {.path = "z", .size = 77}};
    mill__inputs in = {.files = files, .n = 2, .total = 87}, out;
    char *buf;
    size_t len;
    CU_ASSERT_FATAL(mill__inputs_pack(&in, &buf, &len) == 0);
    CU_ASSERT_FATAL(mill__inputs_unpack(&out, buf, len) == 0);
    CU_ASSERT_EQUAL(out.n, 2);
    CU_ASSERT_EQUAL(out.total, 87);
    CU_ASSERT_STRING_EQUAL(out.files[1].path, "z");
    mill__inputs_free(&out);
    CU_ASSERT(mill__inputs_unpack(&out, buf, len - 1) == MILL_EFORMAT); /* truncated */
    free(buf);
    mill__inputs_free(&out);
}

static CU_TestInfo tests[] = {
    {"edge files at 1..40 ranks", test_edge_files},
    {"random files at 1..12 ranks", test_random_files},
    {"blocks of whole lines at 1..7 ranks", test_blocks},
    {"newline count", test_count_newlines},
    {"pieces tile the input", test_split_covers_bytes},
    {"800000 whole files placed in n log n, ties in input order", test_split_many_whole},
    {"placement is the naive largest-first scan's", test_place_matches_scan},
    {"800000 whole files onto 200000 ranks", test_place_many_ranks},
    {"missing input names the path", test_missing_input},
    {"input list pack/unpack", test_pack_roundtrip},
    CU_TEST_INFO_NULL,
};

int main(void) {
    if (!mkdtemp(dir)) return 1;
    int rc = mill_cunit_main("split", tests);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return rc;
}
