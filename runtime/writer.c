/* writer.c -- the part-file writer: formats the reduce phase's records as
 * `key<TAB>value` lines into a buffer and writes full buffers to the part
 * file (through the gzip sink under --compress), or hands them to the HDF5
 * output under --format hdf5.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "fault.h"
#include "h5out.h"
#include "metrics.h"
#include "record.h"
#include "write.h"

int mill__writer_flush(mill__writer *w, char *err, size_t errlen) {
    double t = mill__now();
    int rc = 0;
    w->total += w->len;
    if (w->sink) { /* --compress: io/write.h */
        rc = mill__sink_write(w->sink, w->buf, w->len, err, errlen);
    } else if (mill__fault_write_all(MILL_FAULT_MID_WRITE, w->fd, w->buf, w->len) != 0) {
        snprintf(err, errlen, "write %s: %s", w->name, strerror(errno));
        rc = MILL_EIO;
    }
    w->len = 0;
    w->seconds += mill__now() - t;
    return rc;
}

static int writer_put(mill__writer *w, const void *p, size_t n) {
    if (w->cap - w->len < n) {
        if (w->len) return 1; /* caller flushes and retries */
        char *b = realloc(w->buf, n);
        if (!b) return MILL_ENOMEM;
        w->buf = b;
        w->cap = n;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

/* Appends one `key<TAB>value\n` line, the value formatted by the job's type. */
int mill__write_record(mill_ctx *ctx, mill__writer *w, const void *key, size_t klen, const void *value,
                        size_t vlen, char *err, size_t errlen) {
    char num[32];
    if (w->h5) { /* --format hdf5: collected, written at the end (io/h5out.h) */
        int rc = mill__h5out_add(w->h5, key, klen, value, vlen, err, errlen);
        if (rc == MILL_EJOB) snprintf(ctx->fail, sizeof ctx->fail, "a numeric job wrote a %zu-byte value", vlen);
        if (rc == 0) ctx->keys_out++, w->total += klen + vlen; /* the reduce phase's bytes: keys and raw values */
        return rc;
    }
    if (ctx->job->value_type != MILL_VALUE_BYTES) {
        if (vlen != 8) {
            snprintf(ctx->fail, sizeof ctx->fail, "a numeric job wrote a %zu-byte value", vlen);
            return MILL_EJOB;
        }
        union { uint64_t u; int64_t i; double f; } x;
        memcpy(&x, value, 8);
        int n = ctx->job->value_type == MILL_VALUE_U64   ? (int)mill__u64_text(num, x.u)
                : ctx->job->value_type == MILL_VALUE_I64 ? snprintf(num, sizeof num, "%" PRId64, x.i)
                : isnan(x.f)                             ? snprintf(num, sizeof num, "nan") /* never "-nan" */
                                                         : snprintf(num, sizeof num, "%.17g", x.f);
        value = num;
        vlen = (size_t)n;
    }
    if (w->cap - w->len >= klen + vlen + 2) { /* the common case: one line, room for it */
        char *p = w->buf + w->len;
        memcpy(p, key, klen);
        p[klen] = '\t';
        memcpy(p + klen + 1, value, vlen);
        p[klen + 1 + vlen] = '\n';
        w->len += klen + vlen + 2;
        ctx->keys_out++;
        return 0;
    }
    const void *parts[4] = {key, "\t", value, "\n"};
    size_t lens[4] = {klen, 1, vlen, 1};
    for (int i = 0; i < 4; i++) {
        int rc = writer_put(w, parts[i], lens[i]);
        if (rc == 1) {
            if ((rc = mill__writer_flush(w, err, errlen)) != 0) return rc;
            rc = writer_put(w, parts[i], lens[i]);
        }
        if (rc) return rc;
    }
    ctx->keys_out++;
    return 0;
}
