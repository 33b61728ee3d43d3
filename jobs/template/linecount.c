/* linecount.c -- a template job: counts the lines of each input file.
 * Copy this folder to start a job of your own (see docs/writing-jobs.md). */
#include <mpimill/job.h>
#include <string.h>

/* map: called once per input line; emits (file name, 1). The runtime sums the
 * ones per key on each rank, shuffles each key to its owner rank, sums again
 * and writes `file<TAB>lines`. */
static int linecount_map(mill_ctx *ctx, const mill_record *rec) {
    return mill_emit_u64(ctx, rec->file, strlen(rec->file), 1);
}

MILL_JOB(.name = "linecount",
         .description = "count the lines of each input file",
         .inputs = MILL_INPUT_TEXT | MILL_INPUT_CSV,
         .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM,
         .map = linecount_map)
