/* shuffle.h -- the shuffle: the bounded exchange that moves every record
 * to its owner rank, and the merge of the reduce side's sorted runs. Spill
 * files and the memory budget: spill.h. */
#ifndef MILL_SHUFFLE_H
#define MILL_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "spill.h"

/* Collective. Sends every record of the map runs and of `mapped` (then
 * freed) to its owner rank. When no rank spilled, what arrives is combined
 * into ctx->table (the reduce table), which spills sorted runs when it
 * passes its share of the budget; otherwise each rank sends the merge of
 * its runs, each distinct key once, and what arrives from each source is
 * kept as a sorted run. Ends the shuffle phase's metrics. */
int mill__shuffle(mill_ctx *ctx, mill__table *mapped, char *err, size_t errlen);

/* Called once per key, in key order, with the key's combined value. */
typedef int (*mill__key_fn)(void *arg, const void *key, size_t klen, const void *value, size_t vlen);

/* Merges the sorted reduce runs with the table t (sorted here), combining
 * equal keys with the job's combiner, and calls fn once per key in key
 * order. t can then only be freed. */
int mill__shuffle_merge(mill_ctx *ctx, mill__table *t, mill__key_fn fn, void *arg, char *err, size_t errlen);

#endif
