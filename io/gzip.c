/* gzip.c -- line reader over a gzip stream with zlib (see gzip.h).
 *
 * inflate() runs with windowBits 15+32 (gzip or zlib header, detected) and
 * is reset at the end of each member while input remains; zero bytes after
 * a member (padding, as tar and dd leave) end the stream, as for gzip: they
 * are skipped, and anything but zeros after them is an error (gzip would
 * ignore it, member or not).
 * Decompressed bytes go to a buffer from which whole lines are delivered; a
 * partial line moves to the front and the buffer grows only when one line
 * does not fit.
 */
#include "gzip.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mpimill/job.h"

#define GZ_IN_SIZE (1u << 18)
#define GZ_OUT_SIZE (1u << 20)

/* Where the compressed bytes come from: a descriptor, or memory. */
typedef struct gz_src {
    int fd;                  /* -1: memory */
    const unsigned char *mem;
    size_t memlen, mempos;
    unsigned char *buf;      /* for fd */
    uint64_t left;           /* for fd: bytes it may still read (the size as listed) */
} gz_src;

/* Reads more input into strm; returns bytes made available (0 at EOF) or -errno. */
static ssize_t src_fill(gz_src *s, z_stream *strm) {
    if (s->fd < 0) {
        size_t n = s->memlen - s->mempos;
        if (n > UINT32_MAX) n = UINT32_MAX;
        strm->next_in = (unsigned char *)(uintptr_t)(s->mem + s->mempos);
        strm->avail_in = (uInt)n;
        s->mempos += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = read(s->fd, s->buf, s->left < GZ_IN_SIZE ? (size_t)s->left : GZ_IN_SIZE);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        s->left -= (uint64_t)n;
        strm->next_in = s->buf;
        strm->avail_in = (uInt)n;
        return n;
    }
}

/* deliver's return for a line longer than mill__max_record, at *pos. */
#define GZ_LONG (-1000) /* no MILL_E* code */

/* Delivers the complete lines of buf[*pos, have); *pos moves past them.
 * uoff is the uncompressed offset of buf[0]; *line the last line number. */
static int deliver(const char *name, const char *buf, size_t *pos, size_t have, uint64_t uoff,
                   uint64_t *line, int final, mill__record_fn fn, void *arg) {
    const char *p = buf + *pos, *end = buf + have;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl && !final) break;
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len > 0 && le[-1] == '\r') len--; /* CRLF, or a '\r' ending the stream (final) */
        if (mill__max_record && len > mill__max_record) {
            *pos = (size_t)(p - buf);
            return GZ_LONG;
        }
        mill_record rec = {.data = p, .len = len, .file = name, .offset = uoff + (uint64_t)(p - buf),
                           .line = ++*line};
        int rc = fn(arg, &rec);
        p = nl ? nl + 1 : end;
        *pos = (size_t)(p - buf);
        if (rc) return rc;
    }
    *pos = (size_t)(p - buf);
    return 0;
}

/* Fails naming line `line`, longer than mill__max_record, or with
 * MILL__GZ_SKIP_LONG in skip counts it and returns 0. */
static int too_long(const char *name, uint64_t line, int skip, uint64_t *skipped, char *err, size_t errlen) {
    if (skip & MILL__GZ_SKIP_LONG) {
        ++*skipped;
        return 0;
    }
    snprintf(err, errlen, "input %s:%" PRIu64 ": a line longer than %" PRIu64 " bytes (--max-record; %s)", name, line,
             mill__max_record, skip ? "not skipped: in CSV with quoted newlines, the rows around it could not be "
             "told apart" : "--bad-records skip skips it");
    return MILL_EFORMAT;
}

/* Delivers the lines of buf[*pos, have) as deliver does, and each line
 * longer than mill__max_record among them goes to too_long. */
static int deliver_all(const char *name, const char *buf, size_t *pos, size_t have, uint64_t uoff,
                       uint64_t *line, int final, mill__record_fn fn, void *arg, int skip, uint64_t *skipped,
                       char *err, size_t errlen) {
    int rc;
    while ((rc = deliver(name, buf, pos, have, uoff, line, final, fn, arg)) == GZ_LONG) {
        if ((rc = too_long(name, ++*line, skip, skipped, err, errlen)) != 0) return rc;
        const char *nl = memchr(buf + *pos, '\n', have - *pos);
        *pos = nl ? (size_t)(nl - buf) + 1 : have;
    }
    return rc;
}

static int gz_run(const char *name, gz_src *src, int skip, uint64_t *skipped, mill__record_fn fn,
                  void *arg, char *err, size_t errlen) {
    z_stream strm;
    memset(&strm, 0, sizeof strm);
    int zrc = inflateInit2(&strm, 15 + 32);
    if (zrc != Z_OK) {
        snprintf(err, errlen, "input %s: inflateInit2 failed (%d)", name, zrc);
        return zrc == Z_MEM_ERROR ? MILL_ENOMEM : MILL_EIO;
    }
    size_t cap = GZ_OUT_SIZE, have = 0;
    char *out = malloc(cap);
    if (!out) {
        inflateEnd(&strm);
        snprintf(err, errlen, "input %s: out of memory", name);
        return MILL_ENOMEM;
    }
    uint64_t uoff = 0, line = 0, consumed = 0; /* consumed: compressed bytes before next_in's buffer */
    int rc = 0, eof = 0, in_member = 0, any = 0, padded = 0;
    int dropping = 0; /* skipping the rest of a line longer than mill__max_record */
    const char *why = NULL;
    for (;;) {
        if (strm.avail_in == 0 && !eof) {
            double t = mill__read_clock();
            ssize_t n = src_fill(src, &strm);
            mill__read_seconds += mill__read_clock() - t;
            if (n < 0) {
                snprintf(err, errlen, "input %s: %s", name, strerror((int)-n));
                rc = MILL_EIO;
                break;
            }
            if (n == 0) eof = 1;
            consumed += (uint64_t)n;
        }
        if (strm.avail_in == 0 && eof) {
            if (in_member) why = "truncated gzip data (unexpected end of file)";
            break;
        }
        if (!in_member && any && (padded || strm.next_in[0] == 0)) { /* no member starts with 0: padding */
            while (strm.avail_in > 0 && strm.next_in[0] == 0) strm.next_in++, strm.avail_in--;
            padded = 1; /* it ends the stream: gzip reads no member after it */
            if (strm.avail_in == 0) continue;
            why = "data after the zero padding that ends the gzip stream";
            break;
        }
        if (!in_member) { /* a new member starts here */
            if (any && (zrc = inflateReset(&strm)) != Z_OK) {
                snprintf(err, errlen, "input %s: inflateReset failed (%d)", name, zrc);
                rc = MILL_EIO;
                break;
            }
            in_member = any = 1;
        }
        if (have == cap && mill__max_record && have - (out[have - 1] == '\r') > mill__max_record) {
            /* The line in the buffer (all of it: whole lines were taken)
             * is longer than records may be (a last \r may end it as \r\n:
             * not counted): it never grows past that. */
            if ((rc = too_long(name, line + 1, skip, skipped, err, errlen)) != 0) break;
            uoff += have; /* its end is looked for, the line counted there */
            have = 0;
            dropping = 1;
        }
        if (have == cap) { /* one line fills the buffer: grow it */
            char *nb = cap < SIZE_MAX / 2 ? realloc(out, cap * 2) : NULL;
            if (!nb) {
                snprintf(err, errlen, "input %s: out of memory for a line of %zu bytes", name, cap);
                rc = MILL_ENOMEM;
                break;
            }
            out = nb;
            cap *= 2;
        }
        size_t room = cap - have;
        if (room > UINT32_MAX) room = UINT32_MAX;
        strm.next_out = (unsigned char *)out + have;
        strm.avail_out = (uInt)room;
        double t = mill__read_clock();
        zrc = inflate(&strm, Z_NO_FLUSH);
        mill__read_seconds += mill__read_clock() - t;
        have += room - strm.avail_out;
        if (zrc == Z_STREAM_END) {
            in_member = 0;
        } else if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT) {
            why = strm.msg ? strm.msg : "corrupt gzip data"; /* after the whole lines inflated so far */
        } else if (zrc == Z_MEM_ERROR) {
            snprintf(err, errlen, "input %s: out of memory in inflate", name);
            rc = MILL_ENOMEM;
            break;
        } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            snprintf(err, errlen, "input %s: inflate failed (%d)", name, zrc);
            rc = MILL_EIO;
            break;
        }
        size_t pos = 0;
        if (dropping) { /* up to the end of the line skipped */
            const char *nl = memchr(out, '\n', have);
            pos = nl ? (size_t)(nl - out) + 1 : have;
            dropping = !nl;
            line += !dropping;
        }
        if (!dropping) rc = deliver_all(name, out, &pos, have, uoff, &line, 0, fn, arg, skip, skipped, err, errlen);
        if (pos > 0) {
            memmove(out, out + pos, have - pos);
            have -= pos;
            uoff += pos;
        }
        if (rc || why) break;
    }
    if (rc == 0 && why) {
        uint64_t at = consumed - strm.avail_in;
        if (skip & MILL__GZ_SKIP_CORRUPT) {
            ++*skipped;
        } else {
            snprintf(err, errlen, "input %s: %s at compressed byte offset %" PRIu64 " (after line %" PRIu64 ")",
                     name, why, at, line);
            rc = MILL_EFORMAT;
        }
    } else if (rc == 0 && have > 0 && !dropping) { /* the last line without '\n' */
        size_t pos = 0;
        rc = deliver_all(name, out, &pos, have, uoff, &line, 1, fn, arg, skip, skipped, err, errlen);
        uoff += pos;
    }
    mill__read_bytes += uoff; /* the lines delivered; not a line cut by corrupt data */
    free(out);
    inflateEnd(&strm);
    return rc;
}

int mill__gzip_read(const mill__file *f, int skip, uint64_t *skipped, mill__record_fn fn, void *arg, char *err,
                    size_t errlen) {
    const char *path = f->path;
    gz_src src = {.fd = mill__file_open(f, NULL, err, errlen), .left = f->size};
    if (src.fd < 0) return src.fd;
    (void)posix_fadvise(src.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    src.buf = malloc(GZ_IN_SIZE);
    int rc;
    if (!src.buf) {
        snprintf(err, errlen, "input %s: out of memory", path);
        rc = MILL_ENOMEM;
    } else {
        rc = gz_run(path, &src, skip, skipped, fn, arg, err, errlen);
    }
    free(src.buf);
    close(src.fd);
    return rc;
}

int mill__gzip_read_mem(const char *name, const void *data, size_t len, int skip, uint64_t *skipped,
                        mill__record_fn fn, void *arg, char *err, size_t errlen) {
    gz_src src = {.fd = -1, .mem = data, .memlen = len};
    return gz_run(name, &src, skip, skipped, fn, arg, err, errlen);
}
