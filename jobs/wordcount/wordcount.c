/* wordcount.c -- counts words: maximal runs of bytes that are not ASCII
 * whitespace (space, \t, \n, \v, \f, \r). --opt lower=1 folds ASCII case.
 *
 * Text comes in blocks of whole lines (MILL_JOB_TEXT_BLOCKS; a newline is
 * whitespace like any other), is split 64 bytes at a time
 * (jobs/common/words.c), and its words go to the runtime 256 at a time with
 * mill_emit_batch. */
#include <mpimill/job.h>
#include <stdint.h>
#include <stdlib.h>

#include "../common/jobkit.h"
#include "../common/words.h"

static const char *const options[] = {"lower", NULL};

#define WC_BATCH 256

typedef struct wc_state {
    int lower;
    jk_buf folded;       /* the line in lower case, for lower=1 */
    mill_kv kv[WC_BATCH]; /* every value is `one` */
} wc_state;

static const uint64_t one = 1;

static int wc_setup(mill_ctx *ctx) {
    wc_state *st = calloc(1, sizeof *st);
    if (!st) return MILL_ENOMEM;
    mill_set_userdata(ctx, st);
    for (size_t i = 0; i < WC_BATCH; i++) st->kv[i] = (mill_kv){.value = &one, .value_len = sizeof one};
    return jk_opt_bool(ctx, "lower", 0, &st->lower);
}

static int wc_map(mill_ctx *ctx, const mill_record *rec) {
    wc_state *st = mill_userdata(ctx);
    const char *text = rec->data;
    if (st->lower) {
        st->folded.len = 0;
        if (jk_buf_reserve(&st->folded, rec->len)) return MILL_ENOMEM;
        for (size_t i = 0; i < rec->len; i++) {
            unsigned char c = (unsigned char)rec->data[i];
            st->folded.p[i] = (char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
        }
        text = st->folded.p;
    }
    size_t pos = 0;
    while (pos < rec->len) {
        size_t n = jk_words(text, rec->len, &pos, st->kv, WC_BATCH);
        int rc = mill_emit_batch(ctx, st->kv, n);
        if (rc) return rc;
    }
    return 0;
}

static void wc_teardown(mill_ctx *ctx) {
    wc_state *st = mill_userdata(ctx);
    if (!st) return;
    jk_buf_free(&st->folded);
    free(st);
}

MILL_JOB(.name = "wordcount",
         .description = "count words (runs of non-whitespace bytes); --opt lower=1 folds ASCII case",
         .inputs = MILL_INPUT_TEXT | MILL_INPUT_CSV,
         .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM,
         .flags = MILL_JOB_TEXT_BLOCKS,
         .options = options,
         .setup = wc_setup,
         .map = wc_map,
         .teardown = wc_teardown)
