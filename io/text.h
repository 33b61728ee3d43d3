/* text.h -- reading the lines of one byte range of a text file.
 *
 * The rule that makes every line read by exactly one rank: a range
 * [start, end) owns the lines that *start* inside it. A line starts at
 * offset 0 and after every '\n'. The last line may lack its '\n'. A '\r'
 * before the '\n' (CRLF), or ending the file, is not part of the line.
 */
#ifndef MILL_IO_TEXT_H
#define MILL_IO_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "read.h"

/* Calls fn for every line of `path` that starts in [start, end), in order.
 * Records carry line numbers when start is 0 (else line = 0).
 * Returns 0, fn's non-zero return, or MILL_EIO with a message naming the file. */
int mill__text_read(const char *path, uint64_t start, uint64_t end, mill__record_fn fn, void *arg,
                    char *err, size_t errlen);

/* Flags of mill__text_read_lines. */
#define MILL__TEXT_LINE_NUMBERS 1 /* records always carry their line numbers (the lines before start are counted first) */
#define MILL__TEXT_BLOCKS 2       /* one record per block of whole lines (MILL_JOB_TEXT_BLOCKS) */

/* The most bytes of whole lines a block record holds (more only when one
 * line is longer). */
#define MILL__TEXT_BLOCK ((size_t)256 << 10)

/* Like mill__text_read over input f (opened and checked by
 * mill__file_open) with MILL__TEXT_* flags, reading no byte at or past
 * f->size (the file's size when the job listed it: what was appended since
 * is not read; UINT64_MAX: no limit). A block record holds the bytes of one
 * or more whole lines that start in [start, end), their '\n' (and any '\r')
 * included; its line is its first line's number under
 * MILL__TEXT_LINE_NUMBERS, else 0.
 * lines, when not NULL, carries the line count from one piece to the next
 * that starts where it ended: in, the lines up to start (what the previous
 * call left there), or 0 when not known; out, the lines up to end, or 0
 * when not known (blocks without MILL__TEXT_LINE_NUMBERS count none). So a
 * rank reading a file's pieces in order numbers all their lines. */
int mill__text_read_lines(const mill__file *f, uint64_t start, uint64_t end, int flags, uint64_t *lines,
                          mill__record_fn fn, void *arg, char *err, size_t errlen);

/* The text file this process has mapped for reading, while it reads it: a
 * SIGBUS at an address inside means the file was truncated under the
 * reader (the crash handler says so, rather than blaming the plugin). */
typedef struct mill__text_mapping {
    const char *volatile start;
    volatile size_t len;
    const char *volatile path;
} mill__text_mapping;
extern mill__text_mapping mill__text_mapped;

/* Returns the number of '\n' bytes in [p, p + len). */
uint64_t mill__text_count_newlines(const char *p, size_t len);

#endif
