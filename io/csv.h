/* csv.h -- RFC 4180 CSV rows as records.
 *
 * A CSV file's rows come from the line readers (text.c, or gzip.c for
 * .csv.gz) through a row assembler: a row is one line, or with
 * --csv-quoted-newlines several lines joined by '\n' while a quoted field is
 * open. Blank lines are not rows. The first row is the header (unless
 * --csv-no-header) and fixes the number of fields every row must have. The
 * record handed to the job is the raw row; its parsed fields, and its
 * file's header, are available while it is mapped through
 * mill_csv_nfields(), mill_csv_field(), mill_csv_column() and
 * mill_csv_header() (job.h).
 */
#ifndef MILL_IO_CSV_H
#define MILL_IO_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "read.h"

/* One parsed field: bytes (quotes removed, "" turned into ") and length. */
typedef struct mill__csv_field {
    const char *p;
    size_t len;
} mill__csv_field;

/* Returned by mill__csv_parse when the row ends inside a quoted field. */
#define MILL__CSV_OPEN 1

/* Parses one row (data, len; no line terminator at the end) into fields.
 * Unescaped bytes go to *buf (grown with realloc, capacity *bufcap) and
 * fields into *f (grown, capacity *fcap); *nf receives the count. Returns 0,
 * MILL__CSV_OPEN (unterminated quoted field, whose opening quote is at
 * *at), MILL_EFORMAT with a reason in *why and the byte position in *at (a
 * character after a closing quote, or a quote or a carriage return inside
 * an unquoted field), or MILL_ENOMEM. */
int mill__csv_parse(const char *data, size_t len, char **buf, size_t *bufcap, mill__csv_field **f,
                    size_t *fcap, size_t *nf, const char **why, size_t *at);

/* Reads the CSV rows of input f (opened and checked by mill__file_open)
 * whose first line starts in [start, end) (whole file: start = 0, end =
 * f->size; a MILL__CSV_GZ file is gzip-compressed and read whole; no byte
 * at or past f->size, the file's size when listed, is read) and calls fn for each data row. Bad rows (wrong field count,
 * unterminated quote, stray quote) fail with MILL_EFORMAT and a message
 * naming the file and line, or with o->skip_bad are skipped and counted in
 * o->skipped. A column of o->csv_columns missing from the header always
 * fails (MILL_EINVAL). */
int mill__csv_read(const mill__file *f, uint64_t start, uint64_t end, mill__read_opts *o, mill__record_fn fn,
                   void *arg, char *err, size_t errlen);

/* Like mill__csv_read over the rows of an in-memory CSV text (the whole
 * file), for tests and fuzzers. */
int mill__csv_read_mem(const char *name, const char *data, size_t len, mill__read_opts *o,
                       mill__record_fn fn, void *arg, char *err, size_t errlen);

#endif
