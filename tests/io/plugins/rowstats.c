/* rowstats.c -- a test job for HDF5 inputs: a record is a row of native
 * doubles; emits "rows" (1 per row), "values" (1 per value) and "sum" (the
 * values' sum), summed as f64. */
#include <mpimill/job.h>
#include <string.h>

static int rs_map(mill_ctx *ctx, const mill_record *rec) {
    double sum = 0;
    size_t n = rec->len / sizeof(double);
    for (size_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, rec->data + i * sizeof d, sizeof d);
        sum += d;
    }
    int rc = mill_emit_f64(ctx, "rows", 4, 1.0);
    if (rc == 0) rc = mill_emit_f64(ctx, "values", 6, (double)n);
    if (rc == 0) rc = mill_emit_f64(ctx, "sum", 3, sum);
    return rc;
}

MILL_JOB(.name = "rowstats", .description = "rows, values and their sum (HDF5 rows of doubles)",
         .value_type = MILL_VALUE_F64, .combine_op = MILL_COMBINE_SUM, .map = rs_map)
