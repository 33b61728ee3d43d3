/* distinct.c -- the distinct lines of the input, or the distinct values of
 * one CSV column, each with the number of records that had it (like
 * `sort | uniq -c`).
 *
 * Options: column=NAME or column=#N (CSV inputs: a header name, or the N-th
 * field, 1-based, as mill_csv_field gives it). Without it a record's whole
 * bytes are the value (for CSV, the raw row).
 *
 * Output: `VALUE<TAB>COUNT`, sorted by VALUE within each part.
 */
#include <mpimill/job.h>
#include <stdint.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"column", NULL};

/* Reads column= into a one-column list (userdata), or leaves NULL. */
static int distinct_setup(mill_ctx *ctx) {
    const char *col = mill_opt(ctx, "column");
    if (!col) return 0;
    if (!*col || strchr(col, ',')) {
        mill_fail(ctx, "option column=%s: expected one column name or #N", col);
        return MILL_EINVAL;
    }
    jk_cols *c = jk_cols_parse(ctx, "column", col);
    if (!c) return MILL_EINVAL;
    mill_set_userdata(ctx, c);
    return 0;
}

/* Emits (value, 1): the record, or its column. */
static int distinct_map(mill_ctx *ctx, const mill_record *rec) {
    jk_cols *c = mill_userdata(ctx);
    if (!c) return mill_emit_u64(ctx, rec->data, rec->len, 1);
    const size_t *idx;
    const char *p;
    size_t len;
    int rc = jk_cols_resolve(ctx, c, rec, &idx);
    if (rc == 0) rc = jk_cols_field(ctx, c, rec, 0, &p, &len);
    if (rc == 0) rc = mill_emit_u64(ctx, p, len, 1);
    return rc;
}

/* Frees the column list. */
static void distinct_teardown(mill_ctx *ctx) {
    jk_cols_free(mill_userdata(ctx));
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
