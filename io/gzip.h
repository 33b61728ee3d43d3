/* gzip.h -- reading the lines of a gzip file (one or more members).
 *
 * gzip is not splittable: one rank reads a whole file. Lines are records as
 * in text.h (a '\r' before '\n' is dropped); offsets are offsets in the
 * uncompressed stream and line numbers are known.
 */
#ifndef MILL_IO_GZIP_H
#define MILL_IO_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "read.h"

/* What a gzip read skips (counting each in *skipped) rather than fails on:
 * corrupt or truncated data, lines longer than mill__max_record. */
#define MILL__GZ_SKIP_CORRUPT 1
#define MILL__GZ_SKIP_LONG 2

/* Calls fn for every line of the decompressed contents of input f (opened
 * and checked by mill__file_open), in order, reading no compressed byte at
 * or past f->size (its size when the job listed it: members appended since
 * are not read; UINT64_MAX: no limit). Members
 * follow each other (as `zcat` reads them); an empty file has no lines. Returns 0, fn's non-zero return, MILL_EIO (the file cannot be
 * read) or MILL_EFORMAT (corrupt or truncated data) with a message naming
 * the file and the compressed byte offset. With MILL__GZ_SKIP_CORRUPT in
 * skip, corrupt or truncated data instead ends the file quietly: the lines
 * before it are delivered, the partial line at the break is dropped, and
 * *skipped grows by one. A line longer than mill__max_record (read.h) is
 * never held whole: it fails the read with MILL_EFORMAT naming its line,
 * or with MILL__GZ_SKIP_LONG is passed over and *skipped grows by one. */
int mill__gzip_read(const mill__file *f, int skip, uint64_t *skipped, mill__record_fn fn, void *arg, char *err,
                    size_t errlen);

/* Like mill__gzip_read over an in-memory gzip stream (for tests and
 * fuzzers); `name` is used in messages and records. */
int mill__gzip_read_mem(const char *name, const void *data, size_t len, int skip, uint64_t *skipped,
                        mill__record_fn fn, void *arg, char *err, size_t errlen);

#endif
