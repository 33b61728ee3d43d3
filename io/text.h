/* text.h -- reading the lines of one byte range of a text file.
 *
 * The rule that makes every line read by exactly one rank: a range
 * [start, end) owns the lines that *start* inside it. A line starts at
 * offset 0 and after every '\n'. The last line may lack its '\n'. A '\r'
 * before the '\n' (CRLF) is not part of the line.
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

/* Like mill__text_read; with count_lines set, records always carry their
 * line numbers (the lines before start are counted first). */
int mill__text_read_lines(const char *path, uint64_t start, uint64_t end, int count_lines,
                          mill__record_fn fn, void *arg, char *err, size_t errlen);

#endif
