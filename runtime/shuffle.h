/* shuffle.h -- the shuffle and the memory budget: spilling to local disk
 * on both sides, the bounded exchange, and the merge of sorted runs. */
#ifndef MILL_SHUFFLE_H
#define MILL_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

/* Returns the bytes a table holds (arena and slot array). */
uint64_t mill__table_memory(const mill__table *t);

/* The shares of the budget the tables may use before they spill: half
 * each, as only one of them fills at a time. During the map phase the
 * reduce table is empty; during the exchange the map table is gone. The
 * rest is for the packed map table or the merges' read buffers (an
 * eighth), the round buffers and staged records (three sixteenths) during
 * the exchange, and the input reader's windows. A spill's sort
 * briefly takes 48 bytes per key more (table.c); with --memory 256M the
 * peak RSS measured 208 MiB (bench/outofcore), within the budget + 64 MiB. */
static inline uint64_t mill__map_share(uint64_t budget) { return budget / 2; }
static inline uint64_t mill__reduce_share(uint64_t budget) { return budget / 2; }

/* Gives t a share of the budget: its slot array grows to at most half of
 * it (max_cap), so that it is never doubled just before a spill, and is
 * kept from one run to the next. */
void mill__table_budget(mill__table *t, uint64_t share);

/* Returns whether t must be spilled: it passed its share, or its slot
 * array reached its most and is full. */
static inline int mill__table_over(const mill__table *t, uint64_t share) {
    return mill__table_memory(t) > share || mill__table_full(t);
}

/* Creates the run's spill state; spill files go to tmpdir. */
int mill__spill_init(mill__spill **out, const char *tmpdir);
/* Closes (and so deletes) every spill file. NULL is allowed. */
void mill__spill_free(mill__spill *s);

/* Opens an unlinked temporary file in the spill directory. */
int mill__spill_temp(const mill__spill *s, int *fd, char *err, size_t errlen);

/* Map side: when ctx->table passes its share of ctx->memory, writes its
 * records to a spill file, grouped by owner rank and sorted by key within
 * each owner's part, and empties it. */
int mill__spill_map_maybe(mill_ctx *ctx, char *err, size_t errlen);

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
