/* write.h -- the gzip sink behind a compressed text part file.
 *
 * The engine formats output records into a buffer and writes full buffers
 * straight to a plain part file; with --compress gzip it hands them to a
 * sink, which deflates them into one gzip member (valid for `gzip -t` and
 * `zcat`). The descriptor stays the caller's (the commit owns and syncs it).
 */
#ifndef MILL_IO_WRITE_H
#define MILL_IO_WRITE_H

#include <stddef.h>

typedef struct mill__sink mill__sink;

/* Writes all n bytes at p to fd, going on after EINTR and short writes.
 * Returns 0, or the errno of the write that failed. */
int mill__write_all(int fd, const void *p, size_t n);

/* Returns the file name suffix for compression `compress` ("none" or NULL:
 * "", "gzip": ".gz"), or NULL when it is not known. */
const char *mill__compress_suffix(const char *compress);

/* Opens a sink writing to fd; `name` is used in messages. compress must be
 * "gzip". Returns 0, MILL_EINVAL (any other compression), MILL_ENOMEM or
 * MILL_EIO (zlib failed otherwise) with a message in err. */
int mill__sink_open(mill__sink **out, int fd, const char *name, const char *compress, char *err,
                    size_t errlen);

/* Writes n bytes, compressed. Returns 0 or
 * MILL_EIO / MILL_ENOMEM with a message naming the file. */
int mill__sink_write(mill__sink *s, const void *p, size_t n, char *err, size_t errlen);

/* Finishes the stream (the gzip trailer) when ok is set, and frees s (NULL is
 * fine). Does not close the descriptor. Returns 0 or an error as
 * mill__sink_write. */
int mill__sink_close(mill__sink *s, int ok, char *err, size_t errlen);

#endif
