/* text.c -- line reader over a memory-mapped byte range, or a small file
 * read whole (see text.h). */
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpimill/job.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define TEXT_WINDOW ((size_t)4 << 20)

double mill__read_seconds; /* read.h; here, as every build of the readers has this file */
uint64_t mill__read_bytes;
uint64_t mill__max_record;

/* The newlines of the mapping from some point on, found a block at a time:
 * one pass marks every '\n' of a 16 KiB block (SSE2: 64 bytes per step),
 * and lines are then cut from the list, with no call per line. */
#define NL_BLOCK 16384u
typedef struct nl_index {
    const char *base;          /* the block's first byte */
    const char *next;          /* where the next block starts */
    const char *eof;
    uint16_t pos[NL_BLOCK];    /* newline offsets in the block */
    size_t n, i;
} nl_index;

/* Fills x->pos with the newlines of [x->next, x->next + NL_BLOCK). */
static void nl_scan(nl_index *x) {
    const char *b = x->next;
    size_t len = (size_t)(x->eof - b) < NL_BLOCK ? (size_t)(x->eof - b) : NL_BLOCK, i = 0, n = 0;
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n');
    for (; i + 64 <= len; i += 64) {
        uint64_t m = (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + i)), nl)) |
                     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + i + 16)), nl)) << 16 |
                     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + i + 32)), nl)) << 32 |
                     (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + i + 48)), nl)) << 48;
        while (m) {
            x->pos[n++] = (uint16_t)(i + (size_t)__builtin_ctzll(m));
            m &= m - 1;
        }
    }
#endif
    for (; i < len; i++)
        if (b[i] == '\n') x->pos[n++] = (uint16_t)i;
    x->base = b;
    x->next = b + len;
    x->n = n;
    x->i = 0;
}

/* Returns the next newline (each once, in order), or NULL at the end. */
static const char *nl_next(nl_index *x) {
    while (x->i == x->n) {
        if (x->next >= x->eof) return NULL;
        nl_scan(x);
    }
    return x->base + x->pos[x->i++];
}

uint64_t mill__text_count_newlines(const char *p, size_t len) {
    uint64_t n = 0;
    size_t i = 0;
#ifdef __SSE2__
    /* Each byte lane counts its newlines (a match is -1), for at most 255
     * steps before the lanes are summed: no popcount, which baseline
     * x86-64 lacks. */
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (len - i >= 16) {
        __m128i lanes = zero;
        for (int k = 0; k < 255 && len - i >= 16; k++, i += 16)
            lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), nl));
        __m128i sums = _mm_sad_epu8(lanes, zero);
        n += (uint64_t)_mm_cvtsi128_si64(sums) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; i < len; i++) n += p[i] == '\n';
    return n;
}

/* Returns the end of the block record that starts at p, a line start
 * before stop: the most whole lines starting before stop that fit in
 * MILL__TEXT_BLOCK bytes, or the first line alone when it is longer. */
static const char *block_end(const char *p, const char *stop, const char *eof) {
    const char *nl;
    if ((size_t)(stop - p) <= MILL__TEXT_BLOCK) {
        /* The end of the line that starts last before stop, when it is
         * within the block: looked for no further (a line of gigabytes
         * across stop is not scanned again for every block). */
        size_t room = MILL__TEXT_BLOCK - (size_t)(stop - p) + 1, left = (size_t)(eof - (stop - 1));
        nl = memchr(stop - 1, '\n', room < left ? room : left);
        if (nl) return nl + 1;
        if (left <= room) return eof;
    }
    nl = memrchr(p, '\n', MILL__TEXT_BLOCK);
    if (!nl) nl = memchr(p, '\n', (size_t)(eof - p));
    return nl ? nl + 1 : eof;
}

/* Prefaults [p, p+n) of a read-only mapping, reading it when it is not
 * cached, on the read clock; failures are harmless. */
static void populate(const char *p, size_t n) {
#ifdef MADV_POPULATE_READ
    double t = mill__read_clock();
    (void)madvise((void *)(uintptr_t)p, n, MADV_POPULATE_READ);
    mill__read_seconds += mill__read_clock() - t;
#else
    (void)p, (void)n;
#endif
}

/* Returns the start of the line after the one p is in (eof when none), and
 * drops the pages passed over, a window at a time: a rank whose range
 * starts inside a line of hundreds of MiB keeps a window of it resident,
 * not the whole line. */
static const char *skip_line(const char *map, const char *p, const char *eof) {
    for (;;) {
        size_t n = (size_t)(eof - p) < TEXT_WINDOW ? (size_t)(eof - p) : TEXT_WINDOW;
        const char *nl = memchr(p, '\n', n);
        if (nl) return nl + 1;
        if ((p += n) >= eof) return eof;
        const char *from = map + ((size_t)(p - n - map) & ~(size_t)4095);
        (void)madvise((void *)(uintptr_t)from, (size_t)(p - from) & ~(size_t)4095, MADV_DONTNEED);
    }
}

mill__text_mapping mill__text_mapped;

/* Files up to TEXT_SMALL bytes are read into small_buf instead of mapped:
 * for a file of a few lines, mapping, advising and unmapping it (a TLB
 * flush across the process's MPI threads) cost more than the read. */
#define TEXT_SMALL ((size_t)64 << 10)
static char small_buf[TEXT_SMALL];

/* Reads the first n bytes (n <= TEXT_SMALL) of fd into small_buf. Returns
 * small_buf, or NULL with errno set (0: the file ended before n bytes). */
static const char *read_small(int fd, size_t n) {
    for (size_t got = 0; got < n;) {
        ssize_t k = pread(fd, small_buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = 0;
            return NULL;
        }
        got += (size_t)k;
    }
    return small_buf;
}

int mill__text_read(const char *path, uint64_t start, uint64_t end, mill__record_fn fn, void *arg,
                    char *err, size_t errlen) {
    const mill__file f = {.path = (char *)(uintptr_t)path, .size = UINT64_MAX};
    return mill__text_read_lines(&f, start, end, 0, NULL, fn, arg, err, errlen);
}

int mill__text_read_lines(const mill__file *f, uint64_t start, uint64_t end, int flags, uint64_t *lines,
                          mill__record_fn fn, void *arg, char *err, size_t errlen) {
    const char *path = f->path;
    const uint64_t listed = f->size;
    int count_lines = (flags & MILL__TEXT_LINE_NUMBERS) != 0;
    uint64_t size;
    int fd = mill__file_open(f, &size, err, errlen);
    if (fd < 0) return fd;
    if (end > size) { /* truncated since it was listed: reading less would drop records unseen */
        snprintf(err, errlen, "input %s: %" PRIu64 " bytes, shorter than when the job listed it (%" PRIu64
                 " or more): it was truncated while the job ran", path, size, end);
        close(fd);
        return MILL_EIO;
    }
    if (start >= end) {
        close(fd);
        return 0;
    }
    const int small = size <= TEXT_SMALL;
    double t = mill__read_clock();
    const char *map = small ? read_small(fd, size) : mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    if (small) mill__read_seconds += mill__read_clock() - t;
    close(fd);
    if (small && !map) {
        if (saved) snprintf(err, errlen, "input %s: %s", path, strerror(saved));
        else snprintf(err, errlen, "input %s: shorter than when the job listed it: it was truncated while the job "
                      "ran", path);
        return MILL_EIO;
    }
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "input %s: mmap: %s", path, strerror(saved));
        return MILL_EIO;
    }
    if (!small) {
        (void)madvise((void *)map, size, MADV_SEQUENTIAL);
        mill__text_mapped.path = path;
        mill__text_mapped.len = size;
        mill__text_mapped.start = map;
    }

    /* eof: the end as listed. A line that was still being written then
     * ends there, as if the file had not grown. */
    const char *p = map + start, *stop = map + end, *eof = map + (listed < size ? listed : size);
    if (start > 0 && p[-1] != '\n') p = skip_line(map, p, eof); /* the line in progress is the previous range's */
    uint64_t line = 0; /* the number of the previous line; 0: not known */
    if (start > 0 && count_lines) { /* the number of the line before p: newlines in [0, p) */
        /* A window at a time, each dropped once counted: resident memory
         * stays at a window however far into the file the range starts. */
        for (const char *q = map; q < p;) {
            size_t n = (size_t)(p - q) < TEXT_WINDOW ? (size_t)(p - q) : TEXT_WINDOW;
            line += mill__text_count_newlines(q, n);
            q += n;
            if (n == TEXT_WINDOW) (void)madvise((void *)(q - n), n, MADV_DONTNEED);
        }
    }
    /* Blocks without line numbers count no lines: their records carry none. */
    int tracked = count_lines || !(flags & MILL__TEXT_BLOCKS);
    if (start > 0 && !count_lines && lines && *lines) line = *lines; /* the previous piece's count */
    int known = tracked && (start == 0 || count_lines || line > 0);
    if (lines) *lines = 0; /* until the lines are read: a failure leaves no count */
    int rc = 0;
    /* Page tables are filled a window ahead (one call instead of a fault
     * per page); kernels without MADV_POPULATE_READ fault as usual. */
    const char *populated = small ? eof : p;
    /* Pages behind the reader are dropped from this process (they stay in
     * the page cache), so resident memory stays near two windows whatever
     * the file's size. Records never outlive the callback. */
    const char *released = map;
    nl_index *idx = NULL; /* lines are found through it; blocks need none */
    if (!(flags & MILL__TEXT_BLOCKS)) {
        if (!(idx = malloc(sizeof *idx))) {
            mill__text_mapped.start = NULL;
            if (!small) munmap((void *)map, size);
            snprintf(err, errlen, "input %s: out of memory", path);
            return MILL_ENOMEM;
        }
        idx->next = p;
        idx->eof = eof;
        idx->n = idx->i = 0;
    }
    const char *first = p; /* the bytes from here to p are this range's lines */
    while (p < stop) {
        if (p >= populated && populated < eof) {
            const char *from = map + ((size_t)(p - map) & ~(size_t)4095); /* p >= populated */
            size_t n = (size_t)(eof - from) < TEXT_WINDOW ? (size_t)(eof - from) : TEXT_WINDOW;
            populate(from, n);
            populated = from + n;
            const char *below = map + ((size_t)(p - map) & ~(size_t)4095);
            if (below - released >= (ptrdiff_t)TEXT_WINDOW) {
                (void)madvise((void *)released, (size_t)(below - released), MADV_DONTNEED);
                released = below;
            }
        }
        if (flags & MILL__TEXT_BLOCKS) {
            const char *be = block_end(p, stop, eof);
            mill_record rec = {.data = p, .len = (size_t)(be - p), .file = path,
                               .offset = (uint64_t)(p - map), .line = count_lines ? line + 1 : 0};
            if (count_lines) line += mill__text_count_newlines(p, rec.len);
            if ((rc = fn(arg, &rec)) != 0) break;
            p = be;
            continue;
        }
        const char *nl = nl_next(idx);
        const char *le = nl ? nl : eof;
        size_t len = (size_t)(le - p);
        if (len > 0 && le[-1] == '\r') len--; /* CRLF, or a '\r' ending the file */
        mill_record rec = {.data = p, .len = len, .file = path, .offset = (uint64_t)(p - map),
                           .line = known ? ++line : 0};
        rc = fn(arg, &rec);
        if (rc) break;
        p = nl ? nl + 1 : eof;
    }
    free(idx);
    mill__read_bytes += (uint64_t)(p - first);
    mill__text_mapped.start = NULL;
    if (!small) munmap((void *)map, size);
    if (lines && rc == 0 && known) *lines = line;
    return rc;
}
