/* spill.h -- spill files and the memory budget: the sorted runs a rank
 * writes to --tmp to stay within --memory, and the budget's shares. */
#ifndef MILL_SPILL_H
#define MILL_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "merge.h"

/* A map run: records grouped by owner, each owner's in key order; owner
 * r's bytes are [off[r], off[r+1]). */
typedef struct mill__map_run {
    int fd;
    uint64_t *off;
    int level;       /* 0: a spilled table; L + 1: a merge of runs of level L */
} mill__map_run;

/* A reduce run: records in key order, each key once. */
typedef struct mill__reduce_run {
    int fd;
    uint64_t size;
} mill__reduce_run;

struct mill__spill {
    const char *tmpdir;
    mill__map_run *map;
    size_t nmap;
    mill__reduce_run *reduce;
    size_t nreduce;
};

/* Returns the bytes a table holds (arena and slot array). */
uint64_t mill__table_memory(const mill__table *t);

/* The shares of the budget the tables may use before they spill: half
 * each, as only one of them fills at a time. During the map phase the
 * reduce table is empty; during the exchange the map table is gone. The
 * rest is for the packed map table or the merges' read buffers (an
 * eighth), the round buffers and staged records (three sixteenths) during
 * the exchange, and the input reader's windows. A spill's sort briefly
 * takes 32 bytes per key more (a reduce run's 48: table.c); with --memory
 * 256M the peak RSS measured 190 MiB (bench/outofcore), within the budget
 * + 64 MiB. */
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

/* Opens an unlinked temporary file in the spill directory: it vanishes
 * with the process. */
int mill__spill_temp(const mill__spill *s, int *fd, char *err, size_t errlen);

/* Map side: when ctx->table passes its share of ctx->memory, writes its
 * records to a spill file, grouped by owner rank and sorted by key within
 * each owner's part, and empties it. */
int mill__spill_map_maybe(mill_ctx *ctx, char *err, size_t errlen);

/* Writes t's records as a map run -- sorted by key, grouped by owner rank
 * -- and empties t; then merges the newest --merge-factor runs into one
 * whenever they share a level. */
int mill__spill_map(mill_ctx *ctx, mill__table *t, char *err, size_t errlen);

/* Writes the reduce table t, sorted by key, as a reduce run, and empties it. */
int mill__spill_reduce(mill_ctx *ctx, mill__table *t, char *err, size_t errlen);

/* Writes all n bytes at p to the spill file fd, one of s's. Returns 0 or
 * MILL_EIO, with a message naming the spill directory (a full disk is
 * mended there, not in the input). */
int mill__spill_write(const mill__spill *s, int fd, const char *p, size_t n, char *err, size_t errlen);

/* Returns the read buffer of each of `inputs` merge inputs: an eighth of
 * the budget `memory` shared, between 4 and 64 KiB each. */
size_t mill__spill_buffer(uint64_t memory, uint64_t inputs);

/* Adds destination r's segment of map runs [first, nmap) to the merge m,
 * each read through a buffer of buf bytes. */
int mill__spill_segments(mill__merge *m, const mill__spill *s, size_t first, int r, size_t buf);

#endif
