/* jobkit.h -- small helpers shared by the built-in jobs (not part of the
 * public API: each job compiles jobkit.c into its own plugin).
 *
 * Growable buffers, strict option and number parsing, the shortest
 * round-trip formatting of doubles, and CSV columns named by header name
 * (through mill_csv_header; see docs/jobs.md).
 */
#ifndef MILL_JOBKIT_H
#define MILL_JOBKIT_H

#include <mpimill/job.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; {0} is an empty one. */
typedef struct jk_buf {
    char *p;
    size_t len, cap;
} jk_buf;

/* Makes room for `extra` more bytes. Returns 0 or MILL_ENOMEM. */
int jk_buf_reserve(jk_buf *b, size_t extra);
/* Appends n bytes. Returns 0 or MILL_ENOMEM. */
int jk_buf_add(jk_buf *b, const void *p, size_t n);
/* Appends n bytes of a field taken from input, with tab, newline, CR and
 * backslash written as \t, \n, \r and \\, so that it stays one field of one
 * output line. Returns 0 or MILL_ENOMEM. */
int jk_buf_add_escaped(jk_buf *b, const char *p, size_t n);
/* Frees the bytes and empties the buffer. */
void jk_buf_free(jk_buf *b);

/* Reads option `key` as 0 or 1 into *out (def when absent). Returns 0, or
 * MILL_EINVAL after mill_fail naming the option. */
int jk_opt_bool(mill_ctx *ctx, const char *key, int def, int *out);
/* Returns the non-empty value of option `key`, or NULL after mill_fail
 * saying that the job needs it (`hint` shows an example value). */
const char *jk_opt_required(mill_ctx *ctx, const char *key, const char *hint);

/* Parses the len bytes at p as a decimal double with strtod, allowing
 * spaces and tabs around it. Returns 0, or -1 when the bytes are empty, are
 * not one whole number, are NaN, or are hexadecimal ("0x10": a number to
 * strtod, not to a CSV reader or Spark). */
int jk_parse_double(const char *p, size_t len, double *out);
/* Formats x with the fewest of 15, 16 or 17 significant digits ("%.Ng")
 * that read back as x; NaN as "nan". Returns the length written (out holds >= 32 bytes). */
size_t jk_fmt_double(char *out, double x);

/* The CSV columns a job reads, named by header name or as "#N" (the N-th,
 * 1-based, of the fields mill_csv_field gives), resolved to field indexes
 * per input file. */
typedef struct jk_cols jk_cols;

/* Parses a comma-separated list of columns (at least one), for setup.
 * Returns a new list, or NULL after mill_fail naming the option `opt`, or
 * the first of the job's inputs that is not CSV (mill_input). */
jk_cols *jk_cols_parse(mill_ctx *ctx, const char *opt, const char *list);
/* Like jk_cols_parse but starts with no columns; add with jk_cols_add. */
jk_cols *jk_cols_new(void);
/* Adds one column spec (a name or "#N") and returns its position in the
 * list, or -1 after mill_fail (malformed #N, or out of memory). */
long jk_cols_add(mill_ctx *ctx, jk_cols *c, const char *opt, const char *spec, size_t len);
/* Returns how many columns the list has. */
size_t jk_cols_count(const jk_cols *c);
/* Returns column i's spec as the user wrote it. */
const char *jk_cols_name(const jk_cols *c, size_t i);
/* Frees the list and its cache of headers. */
void jk_cols_free(jk_cols *c);

/* Resolves the columns for the CSV record rec being mapped: *idx receives
 * one field index per column, valid until the next call. Looks names up in
 * the header of rec->file once per file. Returns 0, MILL_ENOMEM, or
 * MILL_EINVAL after mill_fail when rec is not a CSV record, a name is not
 * in the header, names are used without a header row, a name is a column
 * --csv-columns does not select, or #N is beyond the row. */
int jk_cols_resolve(mill_ctx *ctx, jk_cols *c, const mill_record *rec, const size_t **idx);
/* Gives the bytes of column i (after jk_cols_resolve for rec). */
int jk_cols_field(mill_ctx *ctx, const jk_cols *c, const mill_record *rec, size_t i, const char **p,
                  size_t *len);



#endif
