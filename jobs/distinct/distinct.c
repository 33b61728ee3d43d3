/* distinct.c -- the distinct lines of the input, or the distinct values of
 * one CSV column, each with the number of records that had it (like
 * `sort | uniq -c`).
 *
 * Options: column=NAME or column=#N (CSV inputs: a header name, or the N-th
 * field, 1-based, as mill_csv_field gives it). Without it a record's whole
 * bytes are the value (for CSV, the raw row).
 *
 * Output: `VALUE<TAB>COUNT`, sorted by VALUE within each part. A column's
 * value is escaped as groupby's (jk_buf_add_escaped), so that one with a
 * quoted newline stays on one line and `column=X` writes what groupby's
 * `by=X` does; a whole record is written as it is, like `uniq -c`.
 */
#include <mpimill/job.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"column", NULL};

/* The userdata under column=: the column, and its escaped value. */
typedef struct distinct_state {
    jk_cols *cols;
    jk_buf value;
} distinct_state;

/* Reads column= into a one-column list (userdata), or leaves NULL. */
static int distinct_setup(mill_ctx *ctx) {
    const char *col = mill_opt(ctx, "column");
    if (!col) return 0;
    if (!*col || strchr(col, ',')) {
        mill_fail(ctx, "option column=%s: expected one column name or #N", col);
        return MILL_EINVAL;
    }
    distinct_state *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    if (!(s->cols = jk_cols_parse(ctx, "column", col))) {
        free(s);
        return MILL_EINVAL;
    }
    mill_set_userdata(ctx, s);
    return 0;
}

/* Emits (value, 1): the record, or its column's value escaped. */
static int distinct_map(mill_ctx *ctx, const mill_record *rec) {
    distinct_state *s = mill_userdata(ctx);
    if (!s) return mill_emit_u64(ctx, rec->data, rec->len, 1);
    const size_t *idx;
    const char *p;
    size_t len;
    int rc = jk_cols_resolve(ctx, s->cols, rec, &idx);
    if (rc == 0) rc = jk_cols_field(ctx, s->cols, rec, 0, &p, &len);
    if (rc) return rc;
    s->value.len = 0;
    if (jk_buf_add_escaped(&s->value, p, len)) return MILL_ENOMEM;
    return mill_emit_u64(ctx, s->value.p ? s->value.p : "", s->value.len, 1);
}

/* Frees the column list and the value buffer. */
static void distinct_teardown(mill_ctx *ctx) {
    distinct_state *s = mill_userdata(ctx);
    if (s) {
        jk_cols_free(s->cols);
        jk_buf_free(&s->value);
        free(s);
    }
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "distinct",
         .description = "distinct lines, or values of a CSV column (--opt column=NAME), with their counts",
         .inputs = MILL_INPUT_TEXT | MILL_INPUT_CSV,
         .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM,
         .options = options,
         .setup = distinct_setup,
         .map = distinct_map,
         .teardown = distinct_teardown)
