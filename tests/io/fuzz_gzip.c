/* fuzz_gzip.c -- libFuzzer target for the gzip line reader (io/gzip.c).
 * Byte 0 picks the mode: even, the rest is read as a gzip stream (any bytes:
 * 0 or a clean error); odd, the rest is compressed in one or two members and
 * must read back as exactly its lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct acc {
    const uint8_t *want; /* the expected text, consumed line by line */
    size_t wlen, pos;
    int bad;
} acc;

static int on_line(void *arg, const mill_record *rec) {
    acc *a = arg;
    if (!a->want) return 0;
    /* The next expected line: up to '\n', without a '\r' before it (or ending the data). */
    size_t e = a->pos;
    while (e < a->wlen && a->want[e] != '\n') e++;
    size_t l = e - a->pos;
    if (l > 0 && a->want[e - 1] == '\r') l--;
    if (rec->offset != a->pos || rec->len != l || memcmp(rec->data, a->want + a->pos, l) != 0) a->bad = 1;
    a->pos = e + 1;
    return 0;
}

/* Appends one gzip member of p[0, n) to out. */
static size_t gz_member(const uint8_t *p, size_t n, uint8_t *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    z.next_in = (uint8_t *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char err[256];
    uint64_t skipped = 0;
    if (!(data[0] & 1)) {
        acc a = {0};
        int rc = mill__gzip_read_mem("fuzz.gz", data + 1, size - 1, (data[0] >> 1) & 1, &skipped, on_line, &a,
                                     err, sizeof err);
        if (rc != 0 && rc != MILL_EFORMAT && rc != MILL_ENOMEM) __builtin_trap();
        return 0;
    }
    const uint8_t *t = data + 1;
    size_t n = size - 1, cut = n ? data[0] % (n + 1) : 0, cap = 2 * n + 256;
    uint8_t *z = malloc(cap);
    size_t zl = gz_member(t, cut, z, cap);
    if (data[0] & 2) zl += gz_member(t + cut, n - cut, z + zl, cap - zl);
    else n = cut; /* one member holds only the first part */
    acc a = {.want = t, .wlen = n};
    int rc = mill__gzip_read_mem("fuzz.gz", z, zl, 0, &skipped, on_line, &a, err, sizeof err);
    /* Every expected line was seen: the reader stops at n, or one past it. */
    if (rc != 0 || a.bad || (n > 0 && a.pos < n)) __builtin_trap();
    free(z);
    return 0;
}
