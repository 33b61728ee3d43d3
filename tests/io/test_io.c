/* test_io.c -- CUnit tests of the io/ readers without MPI: gzip lines (round
 * trips, members, corrupt and truncated data), CSV parsing and rows (quotes,
 * headers, columns, quoted newlines, bad rows), globs, the part-file sink,
 * and the split: every record read exactly once at 1-4 ranks, with gzip and
 * quoted-newline CSV files assigned whole and balanced. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "csv.h"
#include "gzip.h"
#include "input.h"
#include "read.h"
#include "metrics.h"
#include "text.h"
#include "write.h"
#include "cunit_main.h"

static char dir[] = "/tmp/mill-io-XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

/* Records read, as "data\n" each, plus their positions. */
typedef struct collected {
    char *buf;
    size_t len, cap;
    uint64_t n, last_line, bad_offsets, bad_lines;
    uint64_t expect_off; /* for contiguous single-file reads: next expected offset */
    size_t fields;       /* CSV: fields seen via mill_csv_field (sum) */
} collected;

static void append(collected *c, const char *p, size_t n) {
    if (c->cap - c->len < n + 1) {
        c->cap = (c->cap + n + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
        CU_ASSERT_FATAL(c->buf != NULL);
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

static int collect(void *arg, const mill_record *rec) {
    collected *c = arg;
    append(c, rec->data, rec->len);
    append(c, "\n", 1);
    c->n++;
    if (rec->line && rec->line <= c->last_line) c->bad_lines++;
    if (rec->line) c->last_line = rec->line;
    return 0;
}

static char *path_of(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void write_file(const char *name, const void *data, size_t len) {
    FILE *f = fopen(path_of(name), "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(len == 0 || fwrite(data, 1, len, f) == len);
    CU_ASSERT_FATAL(fclose(f) == 0);
}

/* Writes data as a gzip file of `members` members (appended with gzopen "ab"). */
static void write_gz(const char *name, const char *data, size_t len, int members) {
    unlink(path_of(name));
    size_t at = 0;
    for (int m = 0; m < members; m++) {
        size_t end = m == members - 1 ? len : len * (size_t)(m + 1) / (size_t)members;
        gzFile g = gzopen(path_of(name), "ab");
        CU_ASSERT_FATAL(g != NULL);
        if (end > at) CU_ASSERT_FATAL(gzwrite(g, data + at, (unsigned)(end - at)) == (int)(end - at));
        CU_ASSERT_FATAL(gzclose(g) == Z_OK);
        at = end;
    }
}

/* The lines of data by the rule of text.h, each followed by '\n'. */
static char *expect_lines(const char *data, size_t len, size_t *outlen) {
    char *o = malloc(len * 2 + 2);
    size_t n = 0;
    for (size_t s = 0; s < len;) {
        size_t e = s;
        while (e < len && data[e] != '\n') e++;
        size_t l = e - s;
        if (l > 0 && data[e - 1] == '\r') l--; /* CRLF, or a '\r' ending the data */
        memcpy(o + n, data + s, l);
        n += l;
        o[n++] = '\n';
        s = e + 1;
    }
    *outlen = n;
    return o;
}

static char *read_all_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = NULL;
    size_t cap = 0, n = 0, k;
    do {
        if (cap - n < 65536) b = realloc(b, cap = cap * 2 + 65536);
        k = fread(b + n, 1, cap - n, f);
        n += k;
    } while (k > 0);
    fclose(f);
    *len = n;
    return b;
}

/* Sorts the lines of buf (for comparing multisets of records). */
static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static char *sorted_lines(const char *buf, size_t len) {
    char *copy = malloc(len + 1), *out = malloc(len + 1);
    memcpy(copy, buf, len);
    copy[len] = '\0';
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    for (char *s = copy; *s;) {
        char *nl = strchr(s, '\n');
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = s;
        *nl = '\0';
        s = nl + 1;
    }
    qsort(v, n, sizeof *v, cmp_line);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += (size_t)sprintf(out + o, "%s\n", v[i]);
    free(v);
    free(copy);
    return out;
}

/* A body of text lines with the awkward cases. */
static char *make_text(unsigned seed, size_t len) {
    char *b = malloc(len + 1);
    srand(seed);
    for (size_t i = 0; i < len; i++) {
        int r = rand() % 20;
        b[i] = r == 0 ? '\n' : r == 1 ? '\r' : r == 2 ? ' ' : (char)('a' + r);
    }
    b[len] = '\0';
    return b;
}

/* ---- gzip ----------------------------------------------------------------- */

static void check_gz_roundtrip(const char *data, size_t len, int members) {
    write_gz("rt.gz", data, len, members);
    size_t wlen;
    char *want = expect_lines(data, len, &wlen);
    collected c = {0};
    char err[512] = "";
    uint64_t skipped = 0;
    int rc = mill__gzip_read(&(mill__file){.path = path_of("rt.gz"), .size = UINT64_MAX},
                             0, &skipped, collect, &c, err, sizeof err);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc) fprintf(stderr, "gzip: %s\n", err);
    CU_ASSERT_EQUAL(c.len, wlen);
    CU_ASSERT(c.len == wlen && (wlen == 0 || memcmp(c.buf, want, wlen) == 0));
    CU_ASSERT_EQUAL(c.bad_lines, 0);
    CU_ASSERT_EQUAL(skipped, 0);
    free(want);
    free(c.buf);
}

static void test_gzip_roundtrip(void) {
    check_gz_roundtrip("", 0, 1);
    check_gz_roundtrip("one line", 8, 1);
    check_gz_roundtrip("a\r\nb\n\n\nc\n", 9, 1);
    for (int m = 1; m <= 5; m += 2) {
        char *t = make_text(7u + (unsigned)m, 3u << 20);
        check_gz_roundtrip(t, 3u << 20, m);
        free(t);
    }
    /* One line longer than the reader's buffer. */
    size_t big = (5u << 20) + 3;
    char *t = malloc(big);
    memset(t, 'x', big);
    t[10] = '\n';
    t[big - 1] = '\n';
    check_gz_roundtrip(t, big, 2);
    free(t);
    /* An empty file has no lines (and no error). */
    write_file("empty.gz", "", 0);
    collected c = {0};
    char err[256];
    uint64_t sk = 0;
    CU_ASSERT_EQUAL(mill__gzip_read(&(mill__file){.path = path_of("empty.gz"), .size = UINT64_MAX},
                                    0, &sk, collect, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 0);
}

/* Offsets are uncompressed offsets; line numbers count from 1. */
typedef struct posn { uint64_t off[8], line[8]; int n; } posn;
static int take_pos(void *arg, const mill_record *r) {
    posn *p = arg;
    if (p->n < 8) p->off[p->n] = r->offset, p->line[p->n] = r->line, p->n++;
    return 0;
}

static void test_gzip_positions(void) {
    write_gz("pos.gz", "ab\ncd\r\n\nefg", 11, 2);
    posn p = {0};
    char err[256];
    uint64_t sk = 0;
    CU_ASSERT_EQUAL(mill__gzip_read(&(mill__file){.path = path_of("pos.gz"), .size = UINT64_MAX},
                                    0, &sk, take_pos, &p, err, sizeof err), 0);
    CU_ASSERT_EQUAL(p.n, 4);
    uint64_t off[] = {0, 3, 7, 8};
    for (int i = 0; i < 4 && i < p.n; i++) {
        CU_ASSERT_EQUAL(p.off[i], off[i]);
        CU_ASSERT_EQUAL(p.line[i], (uint64_t)i + 1);
    }
}

static void test_gzip_bad(void) {
    char *t = make_text(99, 1u << 20);
    write_gz("bad.gz", t, 1u << 20, 2);
    size_t len = 0;
    char *z = read_all_file(path_of("bad.gz"), &len);
    CU_ASSERT_FATAL(z != NULL && len > 1000);
    char err[512];
    uint64_t sk = 0;
    collected c = {0};
    /* Truncated: the last 100 bytes are missing. */
    int rc = mill__gzip_read_mem("trunc.gz", z, len - 100, 0, &sk, collect, &c, err, sizeof err);
    CU_ASSERT_EQUAL(rc, MILL_EFORMAT);
    CU_ASSERT(strstr(err, "trunc.gz") && strstr(err, "truncated") && strstr(err, "offset"));
    /* Corrupt: bytes in the middle of the first member's data. */
    char *bad = malloc(len);
    memcpy(bad, z, len);
    for (size_t i = 200; i < 260; i++) bad[i] ^= 0x5a;
    rc = mill__gzip_read_mem("corrupt.gz", bad, len, 0, &sk, collect, &c, err, sizeof err);
    CU_ASSERT_EQUAL(rc, MILL_EFORMAT);
    CU_ASSERT(strstr(err, "corrupt.gz") && strstr(err, "offset"));
    /* Not gzip at all. */
    rc = mill__gzip_read_mem("plain.gz", "hello\n", 6, 0, &sk, collect, &c, err, sizeof err);
    CU_ASSERT_EQUAL(rc, MILL_EFORMAT);
    /* Skipped: the rest of the file is one bad record; lines before stay. */
    collected c2 = {0};
    sk = 0;
    rc = mill__gzip_read_mem("trunc.gz", z, len - 100, 1, &sk, collect, &c2, err, sizeof err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(sk, 1);
    CU_ASSERT(c2.n > 0);
    /* A bad CRC, found at the member's end: as zcat, every line inflated
     * before it is delivered, then the error is one skipped record. */
    size_t slen = 20000, wlen;
    write_gz("crc.gz", t, slen, 1);
    char *crc = read_all_file(path_of("crc.gz"), &len), *want = expect_lines(t, slen, &wlen);
    crc[len - 8] ^= 1;
    collected c3 = {0};
    sk = 0;
    rc = mill__gzip_read_mem("crc.gz", crc, len, 1, &sk, collect, &c3, err, sizeof err);
    CU_ASSERT(rc == 0 && sk == 1);
    wlen = (size_t)((char *)memrchr(want, '\n', wlen - 1) - want) + 1; /* the partial last line is dropped */
    CU_ASSERT(c3.len == wlen && memcmp(c3.buf, want, wlen) == 0);
    rc = mill__gzip_read_mem("crc.gz", crc, len, 0, &sk, collect, &c3, err, sizeof err);
    CU_ASSERT(rc == MILL_EFORMAT && strstr(err, "crc.gz"));
    /* Zero bytes after the last member (tar, dd) are padding, as for gzip
     * -t; anything else there is not. */
    char *pad = calloc(1, len + 512);
    crc[len - 8] ^= 1;
    memcpy(pad, crc, len);
    collected c4 = {0};
    sk = 0;
    rc = mill__gzip_read_mem("pad.gz", pad, len + 512, 0, &sk, collect, &c4, err, sizeof err);
    CU_ASSERT(rc == 0 && sk == 0);
    wlen = 0;
    free(want);
    want = expect_lines(t, slen, &wlen);
    CU_ASSERT(c4.len == wlen && memcmp(c4.buf, want, wlen) == 0);
    pad[len + 300] = 'x';
    rc = mill__gzip_read_mem("pad.gz", pad, len + 512, 0, &sk, collect, &c4, err, sizeof err);
    CU_ASSERT(rc == MILL_EFORMAT && strstr(err, "offset"));
    /* Padding ends the stream: a whole member after it is not read, as by
     * zcat, and is an error rather than lines zcat would not give. */
    char *pad2 = calloc(1, 2 * len + 512);
    memcpy(pad2, crc, len);
    memcpy(pad2 + len + 512, crc, len);
    rc = mill__gzip_read_mem("pad2.gz", pad2, 2 * len + 512, 0, &sk, collect, &c4, err, sizeof err);
    CU_ASSERT(rc == MILL_EFORMAT && strstr(err, "after the zero padding"));
    free(pad2);
    free(pad);
    free(want);
    free(crc);
    free(c3.buf);
    free(c4.buf);
    free(bad);
    free(z);
    free(t);
    free(c.buf);
    free(c2.buf);
}

/* ---- CSV -------------------------------------------------------------------- */

static int parse(const char *row, size_t *nf, mill__csv_field **f) {
    static char *buf;
    static size_t bufcap, fcap;
    const char *why;
    size_t at;
    return mill__csv_parse(row, strlen(row), &buf, &bufcap, f, &fcap, nf, &why, &at);
}

static void test_csv_parse(void) {
    mill__csv_field *f = NULL;
    size_t nf;
    CU_ASSERT_EQUAL(parse("a,b,c", &nf, &f), 0);
    CU_ASSERT_EQUAL(nf, 3);
    CU_ASSERT(f[2].len == 1 && f[2].p[0] == 'c');
    CU_ASSERT_EQUAL(parse("", &nf, &f), 0);
    CU_ASSERT_EQUAL(nf, 1);
    CU_ASSERT_EQUAL(parse(",,", &nf, &f), 0);
    CU_ASSERT(nf == 3 && f[0].len == 0 && f[2].len == 0);
    CU_ASSERT_EQUAL(parse("\"x,y\",\"he said \"\"hi\"\"\",\"\"", &nf, &f), 0);
    CU_ASSERT_EQUAL(nf, 3);
    CU_ASSERT(f[0].len == 3 && !memcmp(f[0].p, "x,y", 3));
    CU_ASSERT(f[1].len == 12 && !memcmp(f[1].p, "he said \"hi\"", 12));
    CU_ASSERT_EQUAL(f[2].len, 0);
    CU_ASSERT_EQUAL(parse("\"multi\nline\",2", &nf, &f), 0);
    CU_ASSERT(nf == 2 && f[0].len == 10);
    CU_ASSERT_EQUAL(parse("a,\"open", &nf, &f), MILL__CSV_OPEN);
    CU_ASSERT_EQUAL(parse("a,\"x\"\"", &nf, &f), MILL__CSV_OPEN);
    CU_ASSERT_EQUAL(parse("a,\"x\"y", &nf, &f), MILL_EFORMAT);
    CU_ASSERT_EQUAL(parse("a,b\"c", &nf, &f), MILL_EFORMAT);
    CU_ASSERT_EQUAL(parse("\"\"\"\"", &nf, &f), 0);
    CU_ASSERT(nf == 1 && f[0].len == 1 && f[0].p[0] == '"');
    free(f);
}

/* Collects "field|field|..." per row via mill_csv_field. */
static int collect_fields(void *arg, const mill_record *rec) {
    collected *c = arg;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(mill_csv_nfields(NULL, rec, &n), 0);
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t l;
        CU_ASSERT_EQUAL_FATAL(mill_csv_field(NULL, rec, i, &p, &l), 0);
        if (i) append(c, "|", 1);
        append(c, p, l);
    }
    const char *p;
    size_t l;
    CU_ASSERT_EQUAL(mill_csv_field(NULL, rec, n, &p, &l), MILL_ENOENT);
    append(c, "\n", 1);
    c->n++;
    c->fields += n;
    return 0;
}

static int csv_mem(const char *text, mill__read_opts *o, collected *c, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    int rc = mill__csv_read_mem("t.csv", text, strlen(text), o, collect_fields, c, err, errlen);
    append(c, "", 0);
    c->buf[c->len] = '\0';
    return rc;
}

static void test_csv_rows(void) {
    char err[512];
    collected c;
    mill__read_opts o = {0};
    const char *t = "id,name,note\r\n1,\"Smith, J\",\"say \"\"hi\"\"\"\r\n\r\n2,x,\r\n";
    CU_ASSERT_EQUAL(csv_mem(t, &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "1|Smith, J|say \"hi\"\n2|x|\n");
    free(c.buf);
    /* Column selection by name, in the order given. */
    o.csv_columns = "note,id";
    CU_ASSERT_EQUAL(csv_mem(t, &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "say \"hi\"|1\n|2\n");
    free(c.buf);
    o.csv_columns = "id,nope";
    CU_ASSERT_EQUAL(csv_mem(t, &o, &c, err, sizeof err), MILL_EINVAL);
    CU_ASSERT(strstr(err, "no column 'nope'") != NULL);
    free(c.buf);
    /* No header: line 1 is data. */
    o = (mill__read_opts){.csv_no_header = 1};
    CU_ASSERT_EQUAL(csv_mem("a,b\nc,d\n", &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "a|b\nc|d\n");
    free(c.buf);
    /* A UTF-8 byte-order mark (Excel's CSV UTF-8) is not part of the first
     * column's name, even a quoted one. */
    o = (mill__read_opts){.csv_columns = "a"};
    CU_ASSERT_EQUAL(csv_mem("\xEF\xBB\xBF\"a\",b\n1,2\n", &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "1\n");
    free(c.buf);
    /* Header only, and empty input. */
    o = (mill__read_opts){0};
    CU_ASSERT_EQUAL(csv_mem("a,b\n", &o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 0);
    free(c.buf);
    CU_ASSERT_EQUAL(csv_mem("", &o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 0);
    free(c.buf);
}

/* Collects each row's header names ("h:" then names, or "h:-" without a
 * header) before its fields. */
static int collect_header(void *arg, const mill_record *rec) {
    collected *c = arg;
    const char *p;
    size_t l, i = 0;
    append(c, "h:", 2);
    for (; mill_csv_header(NULL, rec, i, &p, &l) == 0; i++) {
        if (i) append(c, "|", 1);
        append(c, p, l);
    }
    if (!i) append(c, "-", 1);
    append(c, " ", 1);
    return collect_fields(arg, rec);
}

static char *read_ranks(const mill__inputs *in, int ranks, int qnl);

/* Blank lines are not rows, the first ones included: the header is the
 * first line that is not blank (a blank line 1 was a header of one empty
 * name, or with --csv-no-header a record of one empty field). Its names
 * come through mill_csv_header, quotes removed. */
static void test_csv_header(void) {
    char err[512];
    collected c = {0};
    mill__read_opts o = {0};
    const char *t = "\n\r\n\"k\",\"v \"\"x\"\"\"\n\na,1\nb\n";
    CU_ASSERT_EQUAL(mill__csv_read_mem("t.csv", t, strlen(t), &o, collect_header, &c, err, sizeof err), MILL_EFORMAT);
    append(&c, "", 0);
    c.buf[c.len] = '\0';
    CU_ASSERT_STRING_EQUAL(c.buf, "h:k|v \"x\" a|1\n");
    CU_ASSERT(strstr(err, "t.csv:6:") && strstr(err, "1 fields, expected 2 (as in line 3)"));
    free(c.buf);
    o.csv_no_header = 1;
    memset(&c, 0, sizeof c);
    CU_ASSERT_EQUAL(mill__csv_read_mem("t.csv", "\na\n\nb\n", 6, &o, collect_header, &c, err, sizeof err), 0);
    append(&c, "", 0);
    c.buf[c.len] = '\0';
    CU_ASSERT_STRING_EQUAL(c.buf, "h:- a\nh:- b\n");
    free(c.buf);
    /* A rank whose byte range starts among the blank lines before the
     * header finds it in its range; one starting past it reads up to it. */
    size_t len = 0, cap = 8000;
    char *f = malloc(cap);
    CU_ASSERT_FATAL(f != NULL);
    memset(f, '\n', 3000);
    len = 3000 + (size_t)sprintf(f + 3000, "k,v\n");
    for (int i = 0; i < 300; i++) len += (size_t)sprintf(f + len, "r%d,%d\n", i, i);
    write_file("blank.csv", f, len);
    char *path = path_of("blank.csv");
    mill__inputs in;
    CU_ASSERT_FATAL(mill__inputs_collect(&in, &path, 1, err, sizeof err) == 0);
    for (int ranks = 1; ranks <= 8; ranks++) {
        char *got = read_ranks(&in, ranks, 0);
        size_t rows = 0;
        for (char *q = got; (q = strchr(q, '\n')); q++) rows++;
        CU_ASSERT_EQUAL(rows, 300);
        CU_ASSERT(strstr(got, ":k,v") == NULL);
        free(got);
    }
    mill__inputs_free(&in);
    free(f);
}

static void test_csv_bad_rows(void) {
    char err[512];
    collected c;
    mill__read_opts o = {0};
    const char *t = "a,b\n1,2\n3\n4,5,6\n9,10\n\"x\"y,1\nq\"r,2\n11,12\n7,\"8\n";
    CU_ASSERT_EQUAL(csv_mem(t, &o, &c, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "t.csv:3:") && strstr(err, "1 fields, expected 2"));
    free(c.buf);
    o.skip_bad = 1;
    CU_ASSERT_EQUAL(csv_mem(t, &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "1|2\n9|10\n11|12\n");
    CU_ASSERT_EQUAL(o.skipped, 5);
    free(c.buf);
    /* A quote left open is skipped only on the last row: the lines after
     * it may be inside the field ("9,10" would be read as a row). */
    CU_ASSERT_EQUAL(csv_mem("a,b\n1,2\n7,\"8\n9,10\n", &o, &c, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "t.csv:3:") && strstr(err, "not skipped"));
    free(c.buf);
    /* Byte-split mode: a quoted newline is an unterminated quote at its line. */
    o = (mill__read_opts){0};
    CU_ASSERT_EQUAL(csv_mem("a,b\n1,2\n3,\"x\ny\"\n", &o, &c, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "t.csv:3:") && strstr(err, "--csv-quoted-newlines"));
    free(c.buf);
    /* Quoted-newline mode: the row spans lines; an open quote at EOF is bad. */
    o.csv_quoted_newlines = 1;
    CU_ASSERT_EQUAL(csv_mem("a,b\n1,2\n3,\"x\ny\"\n4,\"\"\n", &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "1|2\n3|x\ny\n4|\n");
    free(c.buf);
    CU_ASSERT_EQUAL(csv_mem("a,b\n1,2\n3,\"x\ny\n", &o, &c, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "t.csv:3:") && strstr(err, "end of the file"));
    free(c.buf);
    /* A bad header is never skipped. */
    o = (mill__read_opts){.skip_bad = 1};
    CU_ASSERT_EQUAL(csv_mem("a,\"b\n1,2\n", &o, &c, err, sizeof err), MILL_EFORMAT);
    free(c.buf);
}

/* Line ends: a '\r' ending the file is a line end, as Python's csv reads it
 * (it was kept as data: "2\r" was not a number); a bare '\r' ending rows
 * (classic Mac) is an error naming line 1, not one header of every row. */
static void test_csv_line_ends(void) {
    char err[512];
    collected c;
    mill__read_opts o = {0};
    CU_ASSERT_EQUAL(csv_mem("k,v\r\na,1\r\nb,\"2\"\r", &o, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, "a|1\nb|2\n");
    free(c.buf);
    o.skip_bad = 1;
    CU_ASSERT_EQUAL(csv_mem("region,qty\rn,1\rs,2\r", &o, &c, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "t.csv:1:") && strstr(err, "carriage return inside an unquoted field"));
    free(c.buf);
    CU_ASSERT_EQUAL(csv_mem("a,b\n1,x\ry\n2,3\n", &o, &c, err, sizeof err), 0); /* a data row: skipped, counted */
    CU_ASSERT_STRING_EQUAL(c.buf, "2|3\n");
    CU_ASSERT_EQUAL(o.skipped, 1);
    free(c.buf);
    /* The text and gzip readers: the same rule for every job. */
    write_file("cr.txt", "a\r\nb\r", 5);
    collected t = {0};
    CU_ASSERT_EQUAL(mill__text_read(path_of("cr.txt"), 0, 5, collect, &t, err, sizeof err), 0);
    CU_ASSERT(t.len == 4 && !memcmp(t.buf, "a\nb\n", 4));
    free(t.buf);
    write_gz("cr.gz", "a\r\nb\r", 5, 1);
    collected g = {0};
    uint64_t sk = 0;
    CU_ASSERT_EQUAL(mill__gzip_read(&(mill__file){.path = path_of("cr.gz"), .size = UINT64_MAX},
                                    0, &sk, collect, &g, err, sizeof err), 0);
    CU_ASSERT(g.len == 4 && !memcmp(g.buf, "a\nb\n", 4));
    free(g.buf);
    /* Inside quotes (--csv-quoted-newlines) a CRLF is data, kept whole, as
     * Python's csv reads it: in memory, from a file and from gzip. */
    const char *q = "k,v\r\n\"d\r\ne\",1\r\n\"f\ng\r\r\nh\",2\r\n", *want = "d\r\ne|1\nf\ng\r\r\nh|2\n";
    mill__read_opts qo = {.csv_quoted_newlines = 1};
    CU_ASSERT_EQUAL(csv_mem(q, &qo, &c, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(c.buf, want);
    free(c.buf);
    write_file("q.csv", q, strlen(q));
    write_gz("q.csv.gz", q, strlen(q), 1);
    for (int gz = 0; gz < 2; gz++) {
        memset(&c, 0, sizeof c);
        CU_ASSERT_EQUAL(mill__csv_read(&(mill__file){.path = path_of(gz ? "q.csv.gz" : "q.csv"), .size = UINT64_MAX,
                                                      .kind = gz ? MILL__CSV_GZ : MILL__CSV},
                                       0, strlen(q), &qo, collect_fields, &c, err, sizeof err), 0);
        append(&c, "", 0);
        c.buf[c.len] = '\0';
        CU_ASSERT_STRING_EQUAL(c.buf, want);
        free(c.buf);
    }
}

/* Rows of many lines (--csv-quoted-newlines) against the fields they were
 * made of: quoted fields holding newlines, commas and "" (also at a line's
 * end or start), several on one row. The row assembler searches only each
 * new line (a field of n lines was parsed n times over: 27 s for 300,000
 * lines), so this checks that it still finds every row's end. */
static void test_csv_quoted_newlines(void) {
    static const char pieces[][4] = {"a", "b", ",", "\"\"", "\n", "\n\n", "z"};
    size_t cap = 1 << 20, n = 0, wn = 0;
    char *text = malloc(cap), *want = malloc(cap);
    CU_ASSERT_FATAL(text && want);
    n += (size_t)sprintf(text, "x,y,z\n");
    srand(7);
    for (int row = 0; row < 3000; row++) {
        for (int fld = 0; fld < 3; fld++) {
            if (fld) text[n++] = ',', want[wn++] = '|';
            if (rand() % 3 == 0) { /* plain */
                for (int k = rand() % 3; k > 0; k--) text[n++] = want[wn++] = 'p';
                continue;
            }
            text[n++] = '"';
            for (int k = rand() % 6; k > 0; k--) {
                const char *pc = pieces[rand() % 7];
                size_t l = strlen(pc);
                memcpy(text + n, pc, l);
                n += l;
                if (pc[0] == '"') want[wn++] = '"';
                else memcpy(want + wn, pc, l), wn += l;
            }
            text[n++] = '"';
        }
        text[n++] = '\n';
        want[wn++] = '\n';
    }
    text[n] = want[wn] = '\0';
    char err[512];
    collected c;
    mill__read_opts o = {.csv_quoted_newlines = 1};
    CU_ASSERT_EQUAL(csv_mem(text, &o, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 3000);
    CU_ASSERT(c.len == wn && memcmp(c.buf, want, wn) == 0);
    free(c.buf);
    /* A field closed on a later line and then broken is reported at its row. */
    CU_ASSERT_EQUAL(csv_mem("a,b\n1,\"x\n\"\"y\"z\n2,3\n", &o, &c, err, sizeof err), MILL_EFORMAT);
    CU_ASSERT(strstr(err, "t.csv:2:") && strstr(err, "after a closing quote"));
    free(c.buf);
    free(text);
    free(want);
}

/* A .csv.gz cut inside a quoted field of many lines is one bad record (the
 * break), not two (the break and the row it cut). */
static void test_csv_gz_break_once(void) {
    size_t cap = 400000, n = 0;
    char *text = malloc(cap + 64);
    n += (size_t)sprintf(text, "a,b\n1,2\n3,\"");
    srand(3);
    while (n < cap) text[n++] = rand() % 9 ? (char)('a' + rand() % 26) : '\n';
    write_gz("cut.csv.gz", text, n, 1);
    free(text);
    size_t zlen;
    char *z = read_all_file(path_of("cut.csv.gz"), &zlen);
    CU_ASSERT_FATAL(z != NULL);
    write_file("cut.csv.gz", z, zlen / 2);
    free(z);
    collected c = {0};
    char err[512] = "";
    mill__read_opts o = {.csv_quoted_newlines = 1, .skip_bad = 1};
    CU_ASSERT_EQUAL(mill__csv_read(&(mill__file){.path = path_of("cut.csv.gz"), .size = zlen / 2,
                                                  .kind = MILL__CSV_GZ},
                                   0, zlen / 2, &o, collect, &c, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_EQUAL(o.skipped, 1);
    free(c.buf);
}

/* ---- the split --------------------------------------------------------------- */

/* Reads every rank's share at `ranks` ranks; returns all records sorted, each
 * prefixed by its file so that equal lines of different files differ. */
typedef struct tagged { collected c; const char *file; } tagged;
static int collect_tagged(void *arg, const mill_record *rec) {
    tagged *t = arg;
    append(&t->c, rec->file, strlen(rec->file));
    append(&t->c, ":", 1);
    append(&t->c, rec->data, rec->len);
    append(&t->c, "\n", 1);
    return 0;
}

static char *read_ranks(const mill__inputs *in, int ranks, int qnl) {
    tagged t = {0};
    for (int r = 0; r < ranks; r++) {
        mill__read_opts o = {.csv_quoted_newlines = qnl, .comm = MPI_COMM_SELF};
        char err[512] = "";
        int rc = mill__read_all(in, &o, r, ranks, collect_tagged, &t, err, sizeof err);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc) fprintf(stderr, "read_all: %s\n", err);
    }
    append(&t.c, "", 0);
    char *s = sorted_lines(t.c.buf, t.c.len);
    free(t.c.buf);
    return s;
}

static void test_split_mixed(void) {
    /* Text and CSV files are byte-split; .gz and (with qnl) CSV whole. */
    static const char *names[] = {"m/a.txt", "m/b.gz", "m/c.csv", "m/d.gz", "m/e.txt", "m/f.csv.gz", "m/g.gz"};
    char m[600];
    snprintf(m, sizeof m, "%s/m", dir);
    CU_ASSERT_FATAL(mkdir(m, 0700) == 0);
    tagged want = {0};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t len = 1000 + 37000 * i;
        char *t = make_text(100 + (unsigned)i, len);
        const char *n = names[i];
        if (strstr(n, ".csv")) { /* a header and rows of two fields, some blank, some CRLF */
            size_t o = (size_t)sprintf(t, "h1,h2\n");
            for (unsigned k = 0; o + 40 < len; k++)
                o += (size_t)sprintf(t + o, k % 11 == 5 ? "\n" : k % 5 == 1 ? "r%u,\"q,%u\"\r\n" : "r%u,v%u\n", k, k * 7);
            len = o;
        }
        if (strstr(n, ".gz")) write_gz(n, t, len, 1 + (int)i % 3);
        else write_file(n, t, len);
        /* Expected: every line, or every non-blank CSV row after the header. */
        size_t wl;
        char *lines = expect_lines(t, len, &wl);
        int csv = strstr(n, ".csv") != NULL, first = 1;
        for (char *s = lines; s < lines + wl;) {
            char *nl = memchr(s, '\n', (size_t)(lines + wl - s));
            if (!(csv && (first || nl == s))) {
                append(&want.c, path_of(n), strlen(path_of(n)));
                append(&want.c, ":", 1);
                append(&want.c, s, (size_t)(nl - s) + 1);
            }
            first = 0;
            s = nl + 1;
        }
        free(lines);
        free(t);
    }
    append(&want.c, "", 0);
    char *w = sorted_lines(want.c.buf, want.c.len);
    char *p = m;
    mill__inputs in;
    char err[512];
    CU_ASSERT_FATAL(mill__inputs_collect(&in, &p, 1, err, sizeof err) == 0);
    for (int qnl = 0; qnl <= 1; qnl++)
        for (int ranks = 1; ranks <= 4; ranks++) {
            char *got = read_ranks(&in, ranks, qnl);
            CU_ASSERT_STRING_EQUAL(got, w);
            free(got);
        }
    mill__inputs_free(&in);
    free(w);
    free(want.c.buf);
}

/* Whole files go largest first to the least loaded rank. */
static void test_split_whole_balance(void) {
    mill__file f[] = {{"a.gz", 40, MILL__GZIP, 0, 0, 0, 0, 0, 0}, {"b.gz", 100, MILL__GZIP, 0, 0, 0, 0, 0, 0}, {"c.gz", 60, MILL__GZIP, 0, 0, 0, 0, 0, 0},
                      {"d.gz", 50, MILL__GZIP, 0, 0, 0, 0, 0, 0}, {"e.txt", 10, MILL__TEXT, 0, 0, 0, 0, 0, 0}};
    mill__inputs in = {.files = f, .n = 5, .total = 260};
    mill__piece p[8];
    /* 2 ranks: b(100)->0, c(60)->1, d(50)->1, a(40)->0. */
    size_t n0 = mill__split(&in, 0, 2, p, 8);
    CU_ASSERT_EQUAL(n0, 3); /* a, b, and half of e */
    CU_ASSERT(p[0].file == 0 && p[1].file == 1 && p[2].file == 4 && p[2].start == 0 && p[2].end == 5);
    size_t n1 = mill__split(&in, 1, 2, p, 8);
    CU_ASSERT_EQUAL(n1, 3);
    CU_ASSERT(p[0].file == 2 && p[1].file == 3 && p[2].file == 4 && p[2].start == 5 && p[2].end == 10);
    /* More ranks than files: one each, the rest get none. */
    size_t whole = 0;
    for (int r = 0; r < 7; r++) {
        size_t k = mill__split(&in, r, 7, p, 8);
        for (size_t i = 0; i < k; i++) whole += p[i].file < 4;
        CU_ASSERT(k <= 2);
    }
    CU_ASSERT_EQUAL(whole, 4);
    /* HDF5 datasets: one piece on every rank, first. */
    mill__file h[] = {{"x.txt", 10, MILL__TEXT, 0, 0, 0, 0, 0, 0}, {"d.h5:/a", 999, MILL__HDF5, 4, 0, 0, 0, 0, 0}};
    mill__inputs hin = {.files = h, .n = 2, .total = 1009};
    for (int r = 0; r < 3; r++) {
        size_t k = mill__split(&hin, r, 3, p, 8);
        CU_ASSERT(k >= 1 && p[0].file == 1);
    }
}

/* ---- inputs: globs and HDF5 names ---------------------------------------------- */

/* The kind of an input follows from its suffix, in any case. */
static void test_kind_of(void) {
    CU_ASSERT_EQUAL(mill__kind_of("a.gz"), MILL__GZIP);
    CU_ASSERT_EQUAL(mill__kind_of("A.GZ"), MILL__GZIP);
    CU_ASSERT_EQUAL(mill__kind_of("t.Csv"), MILL__CSV);
    CU_ASSERT_EQUAL(mill__kind_of("t.CSV.gz"), MILL__CSV_GZ);
    CU_ASSERT_EQUAL(mill__kind_of("t.csv.GZ"), MILL__CSV_GZ);
    CU_ASSERT_EQUAL(mill__kind_of("gz"), MILL__TEXT);
    CU_ASSERT_EQUAL(mill__kind_of("t.csvx"), MILL__TEXT);
}

static void test_globs(void) {
    char g[600];
    snprintf(g, sizeof g, "%s/gl", dir);
    CU_ASSERT_FATAL(mkdir(g, 0700) == 0);
    write_file("gl/x1.txt", "a\n", 2);
    write_file("gl/x2.txt", "b\n", 2);
    write_file("gl/y.txt", "c\n", 2);
    write_file("gl/z.h5", "not really", 10);
    snprintf(g, sizeof g, "%s/gl/x*.txt", dir);
    char *p = g;
    mill__inputs in;
    char err[512];
    CU_ASSERT_FATAL(mill__inputs_collect(&in, &p, 1, err, sizeof err) == 0);
    CU_ASSERT_EQUAL(in.n, 2);
    CU_ASSERT(in.n == 2 && strstr(in.files[0].path, "x1.txt") && strstr(in.files[1].path, "x2.txt"));
    mill__inputs_free(&in);
    snprintf(g, sizeof g, "%s/gl/nomatch*.txt", dir);
    CU_ASSERT_EQUAL(mill__inputs_collect(&in, &p, 1, err, sizeof err), MILL_ENOENT);
    CU_ASSERT(strstr(err, "nomatch") != NULL && strstr(err, "no file matches") != NULL);
    /* FILE:/DATASET names an HDF5 dataset of an existing file. */
    snprintf(g, sizeof g, "%s/gl/z.h5:/grp/ds", dir);
    CU_ASSERT_FATAL(mill__inputs_collect(&in, &p, 1, err, sizeof err) == 0);
    CU_ASSERT(in.n == 1 && in.files[0].kind == MILL__HDF5 && !strcmp(in.files[0].path + in.files[0].dsoff, ":/grp/ds"));
    /* ...and survives pack/unpack. */
    char *buf;
    size_t len;
    mill__inputs out;
    CU_ASSERT_FATAL(mill__inputs_pack(&in, &buf, &len) == 0);
    CU_ASSERT_FATAL(mill__inputs_unpack(&out, buf, len) == 0);
    CU_ASSERT(out.n == 1 && out.files[0].kind == MILL__HDF5 && out.files[0].dsoff == in.files[0].dsoff);
    free(buf);
    mill__inputs_free(&out);
    mill__inputs_free(&in);
    snprintf(g, sizeof g, "%s/gl/missing.h5:/ds", dir);
    CU_ASSERT_EQUAL(mill__inputs_collect(&in, &p, 1, err, sizeof err), MILL_ENOENT);
}

/* A text input truncated after it was listed fails its read: reading up to
 * the new end instead would drop records without a word. */
static int count_rec(void *arg, const mill_record *r) {
    (void)r;
    ++*(int *)arg;
    return 0;
}

static void test_text_truncated(void) {
    write_file("tr.txt", "one\ntwo\nthree\n", 14);
    char err[512] = "";
    int n = 0;
    CU_ASSERT_EQUAL(mill__text_read(path_of("tr.txt"), 0, 14, count_rec, &n, err, sizeof err), 0);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_FATAL(truncate(path_of("tr.txt"), 8) == 0);
    n = 0;
    CU_ASSERT_EQUAL(mill__text_read(path_of("tr.txt"), 4, 14, count_rec, &n, err, sizeof err), MILL_EIO);
    CU_ASSERT(strstr(err, "tr.txt: 8 bytes, shorter than when the job listed it") != NULL);
    CU_ASSERT_EQUAL(n, 0);
}

/* A range that starts inside a 256 MiB line skips to its end holding a
 * window of it, not the whole line (which the previous range reads). The
 * line is a hole: no disk space, but each page read is resident. */
static void test_long_line_skip(void) {
    const uint64_t long_line = (uint64_t)256 << 20;
    write_file("ll.txt", "", 0);
    CU_ASSERT_FATAL(truncate(path_of("ll.txt"), (off_t)long_line) == 0);
    FILE *f = fopen(path_of("ll.txt"), "ab");
    CU_ASSERT_FATAL(f && fputs("\nlast\n", f) >= 0 && fclose(f) == 0);
    char err[512] = "";
    collected c = {0};
    mill__peak_rss_reset();
    double before = mill__peak_rss();
    CU_ASSERT_EQUAL(mill__text_read(path_of("ll.txt"), 1, long_line + 6, collect, &c, err, sizeof err), 0);
    long grown = (long)((mill__peak_rss() - before) / 1024); /* KiB */
    CU_ASSERT(c.len == 5 && !memcmp(c.buf, "last\n", 5));
    CU_ASSERT(grown < 32 << 10); /* KiB: a few 4 MiB windows */
    if (grown >= 32 << 10) fprintf(stderr, "\nskipping a 256 MiB line grew VmHWM by %ld KiB\n", grown);
    free(c.buf);
    unlink(path_of("ll.txt"));
}

/* A file that grew after it was listed is read as it was: the line being
 * written then ends where it ended ("b", not "bcd"), and a gzip member
 * appended since is not read. */
static void test_grown_input(void) {
    write_file("gr.txt", "a\nb", 3);
    write_gz("gr.gz", "one\n", 4, 1);
    char p[2][600], *pp[2] = {p[0], p[1]}, err[512] = "";
    snprintf(p[0], sizeof p[0], "%s", path_of("gr.txt"));
    snprintf(p[1], sizeof p[1], "%s", path_of("gr.gz"));
    mill__inputs in;
    CU_ASSERT_FATAL(mill__inputs_collect(&in, pp, 2, err, sizeof err) == 0);
    FILE *f = fopen(p[0], "ab");
    CU_ASSERT_FATAL(f && fputs("cd\ne\n", f) >= 0 && fclose(f) == 0);
    gzFile g = gzopen(p[1], "ab");
    CU_ASSERT_FATAL(g && gzputs(g, "two\n") == 4 && gzclose(g) == Z_OK);
    for (size_t k = 0; k < 2; k++) {
        const mill__file *fl = &in.files[k];
        mill__piece pc = {.file = k, .start = 0, .end = fl->size};
        collected c = {0};
        CU_ASSERT_EQUAL(mill__read_piece(&in, &pc, collect, &c, err, sizeof err), 0);
        const char *want = strstr(fl->path, "gr.txt") ? "a\nb\n" : "one\n";
        CU_ASSERT(c.len == strlen(want) && !memcmp(c.buf, want, c.len));
        free(c.buf);
    }
    mill__inputs_free(&in);
}

/* A record callback that counts the records and, at the first, replaces
 * the file being read by a copy. */
typedef struct replacer {
    const char *path;
    int records;
    char last[8]; /* the last record read */
} replacer;

/* Replaces the file being read by another after its first record. */
static int replace_rec(void *arg, const mill_record *r) {
    replacer *x = arg;
    if (x->records++ == 0) {
        write_file("rp.new", "uno\ndos\n", 8);
        CU_ASSERT(rename(path_of("rp.new"), x->path) == 0);
    }
    snprintf(x->last, sizeof x->last, "%.*s", (int)r->len, r->data);
    return 0;
}

/* A file replaced (renamed over) after it was listed is refused when it is
 * opened: the job would mix two versions of an output another job
 * replaced. The listed identity survives the broadcast's pack and unpack. */
static void test_replaced_input(void) {
    write_file("rp.txt", "one\ntwo\n", 8);
    char p[600], *pp = p, err[512] = "";
    snprintf(p, sizeof p, "%s", path_of("rp.txt"));
    mill__inputs in, out;
    CU_ASSERT_FATAL(mill__inputs_collect(&in, &pp, 1, err, sizeof err) == 0);
    char *buf;
    size_t len;
    CU_ASSERT_FATAL(mill__inputs_pack(&in, &buf, &len) == 0);
    CU_ASSERT_FATAL(mill__inputs_unpack(&out, buf, len) == 0);
    free(buf);
    CU_ASSERT(out.files[0].ino != 0 && out.files[0].ino == in.files[0].ino);
    mill__piece pc = {.file = 0, .start = 0, .end = 8};
    int n = 0;
    CU_ASSERT_EQUAL(mill__read_piece(&out, &pc, count_rec, &n, err, sizeof err), 0);
    CU_ASSERT_EQUAL(n, 2);
    write_file("rp.new", "one\ntwo\n", 8);
    CU_ASSERT_FATAL(rename(path_of("rp.new"), p) == 0);
    n = 0;
    CU_ASSERT_EQUAL(mill__read_piece(&out, &pc, count_rec, &n, err, sizeof err), MILL_EIO);
    CU_ASSERT(strstr(err, "replaced by another file since the job listed its inputs") != NULL);
    CU_ASSERT_EQUAL(n, 0);
    /* The new file with the old one's inode number, as ext4 hands a freed
     * one out again: its birth time tells them apart. */
    struct stat st;
    CU_ASSERT_FATAL(stat(p, &st) == 0);
    out.files[0].ino = (uint64_t)st.st_ino;
    if (out.files[0].birth_ns) { /* where the filesystem keeps birth times (not NFS) */
        CU_ASSERT_EQUAL(mill__read_piece(&out, &pc, count_rec, &n, err, sizeof err), MILL_EIO);
        CU_ASSERT(strstr(err, "replaced by another file") != NULL);
    }
    /* Replaced while being read: the reader checked the file it opened, and
     * reads that one to its end (the listed version, whole); the next
     * read, which opens the name again, finds the new file. */
    struct statx sx;
    CU_ASSERT_FATAL(statx(AT_FDCWD, p, 0, STATX_BTIME, &sx) == 0);
    out.files[0].birth_ns =
        sx.stx_mask & STATX_BTIME ? (uint64_t)sx.stx_btime.tv_sec * 1000000000u + sx.stx_btime.tv_nsec : 0;
    replacer r = {.path = p};
    CU_ASSERT_EQUAL(mill__read_piece(&out, &pc, replace_rec, &r, err, sizeof err), 0);
    CU_ASSERT(r.records == 2 && strcmp(r.last, "two") == 0);
    CU_ASSERT_EQUAL(mill__read_piece(&out, &pc, count_rec, &n, err, sizeof err), MILL_EIO);
    CU_ASSERT(strstr(err, "replaced by another file") != NULL);
    mill__inputs_free(&in);
    mill__inputs_free(&out);
}

/* ---- the gzip sink ---------------------------------------------------------------- */

static void test_sink_gzip(void) {
    FILE *f = fopen(path_of("out.gz"), "wb");
    CU_ASSERT_FATAL(f != NULL);
    mill__sink *s;
    char err[256];
    CU_ASSERT_FATAL(mill__sink_open(&s, fileno(f), "out.gz", "gzip", err, sizeof err) == 0);
    char *t = make_text(5, 1u << 20);
    for (size_t off = 0; off < (1u << 20); off += 4096)
        CU_ASSERT(mill__sink_write(s, t + off, 4096, err, sizeof err) == 0);
    CU_ASSERT(mill__sink_close(s, 1, err, sizeof err) == 0);
    fclose(f);
    gzFile g = gzopen(path_of("out.gz"), "rb");
    CU_ASSERT_FATAL(g != NULL);
    char *back = malloc((1u << 20) + 1);
    CU_ASSERT_EQUAL(gzread(g, back, (1u << 20) + 1), 1 << 20);
    CU_ASSERT(memcmp(back, t, 1u << 20) == 0);
    gzclose(g);
    CU_ASSERT_EQUAL(mill__sink_open(&s, 1, "x", "lz4", err, sizeof err), MILL_EINVAL);
    CU_ASSERT_STRING_EQUAL(mill__compress_suffix("gzip"), ".gz");
    CU_ASSERT_STRING_EQUAL(mill__compress_suffix("none"), "");
    free(back);
    free(t);
}

static CU_TestInfo tests[] = {
    {"gzip round trips (members, CRLF, long lines, empty)", test_gzip_roundtrip},
    {"gzip offsets and line numbers", test_gzip_positions},
    {"gzip corrupt, truncated, skipped", test_gzip_bad},
    {"CSV field parsing", test_csv_parse},
    {"CSV rows, header, columns", test_csv_rows},
    {"CSV header after blank lines, mill_csv_header", test_csv_header},
    {"CSV bad rows and quoted newlines", test_csv_bad_rows},
    {"CSV, text and gzip line ends (a final or bare CR)", test_csv_line_ends},
    {"CSV rows of many lines against their fields", test_csv_quoted_newlines},
    {"a cut .csv.gz is one bad record", test_csv_gz_break_once},
    {"mixed inputs read once at 1-4 ranks", test_split_mixed},
    {"whole files balanced, HDF5 on every rank", test_split_whole_balance},
    {"input kinds by suffix, in any case", test_kind_of},
    {"globs and FILE:/DATASET", test_globs},
    {"a text input truncated while listed fails", test_text_truncated},
    {"an input replaced since it was listed fails", test_replaced_input},
    {"an input grown since it was listed is read as listed", test_grown_input},
    {"a range starting inside a long line holds a window of it", test_long_line_skip},
    {"gzip part sink", test_sink_gzip},
    CU_TEST_INFO_NULL,
};

int main(void) {
    if (!mkdtemp(dir)) return 1;
    int rc = mill_cunit_main("io", tests);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return rc;
}
