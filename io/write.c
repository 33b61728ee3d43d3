/* write.c -- writing whole buffers, and the gzip sink for part files (see write.h). */
#include "write.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fault.h"
#include "mpimill/job.h"

#define ZBUF (1u << 18)

struct mill__sink {
    int fd;
    const char *name;
    z_stream z;
    unsigned char *zbuf;
};

const char *mill__compress_suffix(const char *compress) {
    if (!compress || !strcmp(compress, "none")) return "";
    if (!strcmp(compress, "gzip")) return ".gz";
    return NULL;
}

int mill__write_all(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int mill__sink_open(mill__sink **out, int fd, const char *name, const char *compress, char *err,
                    size_t errlen) {
    *out = NULL;
    if (!compress || strcmp(compress, "gzip") != 0) {
        snprintf(err, errlen, "unknown --compress '%s' (a sink writes gzip)", compress ? compress : "(null)");
        return MILL_EINVAL;
    }
    mill__sink *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->fd = fd;
    s->name = name;
    s->zbuf = malloc(ZBUF);
    if (!s->zbuf) goto nomem;
    int zrc = deflateInit2(&s->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK) {
        free(s->zbuf);
        free(s);
        snprintf(err, errlen, "%s: deflateInit2 failed (%d)", name, zrc);
        return zrc == Z_MEM_ERROR ? MILL_ENOMEM : MILL_EIO;
    }
    *out = s;
    return 0;
nomem:
    if (s) free(s);
    snprintf(err, errlen, "%s: out of memory", name);
    return MILL_ENOMEM;
}

/* Runs deflate over the pending input with `flush` and writes what it makes. */
static int pump(mill__sink *s, int flush, char *err, size_t errlen) {
    for (;;) {
        s->z.next_out = s->zbuf;
        s->z.avail_out = ZBUF;
        int zrc = deflate(&s->z, flush);
        if (zrc == Z_STREAM_ERROR) {
            snprintf(err, errlen, "%s: deflate failed", s->name);
            return MILL_EIO;
        }
        if (mill__fault_write_all(MILL_FAULT_MID_WRITE, s->fd, s->zbuf, ZBUF - s->z.avail_out) != 0) {
            snprintf(err, errlen, "write %s: %s", s->name, strerror(errno));
            return MILL_EIO;
        }
        if (flush == Z_FINISH ? zrc == Z_STREAM_END : (s->z.avail_in == 0 && s->z.avail_out != 0)) return 0;
    }
}

int mill__sink_write(mill__sink *s, const void *p, size_t n, char *err, size_t errlen) {
    const unsigned char *b = p;
    while (n > 0) {
        size_t k = n < UINT32_MAX ? n : UINT32_MAX;
        s->z.next_in = (unsigned char *)(uintptr_t)b;
        s->z.avail_in = (uInt)k;
        int rc = pump(s, Z_NO_FLUSH, err, errlen);
        if (rc) return rc;
        b += k;
        n -= k;
    }
    return 0;
}

int mill__sink_close(mill__sink *s, int ok, char *err, size_t errlen) {
    if (!s) return 0;
    int rc = 0;
    if (ok) {
        s->z.next_in = NULL;
        s->z.avail_in = 0;
        rc = pump(s, Z_FINISH, err, errlen);
    }
    deflateEnd(&s->z);
    free(s->zbuf);
    free(s);
    return rc;
}
