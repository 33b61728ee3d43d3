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

#endif
