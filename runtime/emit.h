/* emit.h -- the emit path: batches between the plugin and the table.
 *
 * A combining table the size of a rank's distinct keys does not fit in the
 * cache, so an emit of a cold key waits for two memory loads (the slot, then
 * the key bytes). Emits are therefore combined in batches: hash every key
 * and prefetch its slot, then prefetch the keys those slots hold, then
 * combine in emit order, so that the waits of a batch overlap.
 * mill_emit_batch gives a whole batch at once; single mill_emit calls are
 * copied into ctx->batch and combined when it fills or the phase ends.
 */
#ifndef MILL_EMIT_H
#define MILL_EMIT_H

#include <stdint.h>

#include "mpimill/job.h"

/* Emits combined in one pass, and the key and value bytes ctx->batch can
 * copy. A single emit larger than a quarter of them bypasses the batch,
 * after a flush (the table sees emits in order: FIRST and custom combiners
 * care). */
#define MILL_EMIT_BATCH 32
#define MILL_EMIT_BYTES 2048

typedef struct mill__emit_batch {
    unsigned n;    /* emits held; invariant: n <= MILL_EMIT_BATCH */
    uint32_t used; /* bytes held; invariant: used <= MILL_EMIT_BYTES */
    uint64_t hash[MILL_EMIT_BATCH];
    mill_kv kv[MILL_EMIT_BATCH]; /* keys and values point into bytes */
    char bytes[MILL_EMIT_BYTES];
} mill__emit_batch;

/* Adds one emit (checked by mill_emit) to ctx->batch, flushing it first
 * when full. Returns 0, MILL_ENOMEM, MILL_EJOB (with the reason in
 * ctx->fail) or MILL_EIO (a spill failed; the reason in ctx->emit_err);
 * the error can also come from an earlier emit of the batch. */
int mill__emit_add(mill_ctx *ctx, const mill_kv *kv);

/* Flushes ctx->batch, then checks (mill__emit_check) and combines the n
 * pairs at kv into ctx->table, in order; a pair that fails its check is
 * not emitted, nor those after it, and its error is returned. Returns 0,
 * MILL_EINVAL, MILL_ENOMEM, MILL_EJOB or MILL_EIO (as mill__emit_add). */
int mill__emit_many(mill_ctx *ctx, const mill_kv *kv, size_t n);

/* Combines the n pairs at kv, which need no checks (they come from the
 * shuffle), into ctx->table, in order, through the emit pipeline. Returns
 * 0, MILL_ENOMEM or MILL_EJOB (reason in ctx->fail). */
int mill__combine_many(mill_ctx *ctx, const mill_kv *kv, size_t n);

/* Combines every emit of ctx->batch into ctx->table, in emit order, and
 * empties the batch. Called before anything reads the map table and after
 * each map callback of a job with a custom combiner (so its failures name
 * the record). Returns 0, MILL_ENOMEM or MILL_EJOB (reason in ctx->fail). */
int mill__emit_flush(mill_ctx *ctx);

#endif
