/* emit.c -- batched emits: hash, prefetch, then combine (see emit.h). The
 * shuffle combines the records it receives through the same pipeline. */
#include <string.h>

#include "ctx.h"
#include "key_hash.h"
#include "spill.h"

/* Spills the map table when it passed its share of --memory, as the engine
 * does after each map call: a map call that emits much (a 10 MB line, a
 * histogram's million bins) then stays within the budget too. The reason of
 * a failure goes to ctx->emit_err: it is the runtime's, not the job's. */
static int spill_maybe(mill_ctx *ctx) {
    char err[sizeof ctx->emit_err] = ""; /* an allocation failure leaves it unset */
    int rc = mill__spill_map_maybe(ctx, err, sizeof err);
    if (rc && !ctx->emit_err[0])
        snprintf(ctx->emit_err, sizeof ctx->emit_err, "%s", err[0] ? err : mill_strerror(rc));
    return rc;
}

/* Prefetches the keys held by the slots of n hashes (their slots were
 * prefetched when the hashes were computed). */
static void prefetch_keys(const mill__table *t, const uint64_t *hash, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const mill__entry *e = &t->slots[mill__table_home(t, hash[i])];
        /* Written as one unconditional prefetch: GCC 12 at -O2 drops a
         * prefetch that sits alone in a branch. NULL never faults. */
        __builtin_prefetch(e->hash == hash[i] ? e->key : NULL);
    }
}

/* Combines n pairs into ctx->table, in order. Returns 0 or the first error
 * (later pairs are dropped: the job fails). */
static int combine(mill_ctx *ctx, const uint64_t *hash, const mill_kv *kv, size_t n) {
    mill__table *t = ctx->table;
    const int u64_sum = ctx->u64_sum;
    /* A copy of the table's placement: the value stores below may alias
     * anything, so reading t itself would reload it for every pair. It is
     * taken again after an insert, which may grow the table. */
    mill__table view = *t;
    for (size_t i = 0; i < n; i++) {
        if (u64_sum && kv[i].value_len == 8 && kv[i].key_len <= UINT32_MAX) { /* the common case, inline */
            mill__entry *e = mill__table_find(&view, hash[i], kv[i].key, (uint32_t)kv[i].key_len);
            if (e && e->vlen == 8) {
                uint64_t x, y;
                memcpy(&x, e->value, 8), memcpy(&y, kv[i].value, 8);
                x += y;
                memcpy(e->value, &x, 8);
                continue;
            }
        }
        int rc = mill__upsert(ctx, t, hash[i], kv[i].key, kv[i].key_len, kv[i].value, kv[i].value_len);
        if (rc) return rc;
        view = *t;
    }
    return 0;
}

static inline uint64_t hash_prefetch(const mill__table *t, const mill_kv *kv) {
    uint64_t h = mill__key_hash(kv->key, kv->key_len);
    __builtin_prefetch(&t->slots[mill__table_home(t, h)]);
    return h;
}

int mill__emit_flush(mill_ctx *ctx) {
    mill__emit_batch *b = &ctx->batch;
    prefetch_keys(ctx->table, b->hash, b->n);
    int rc = combine(ctx, b->hash, b->kv, b->n);
    b->n = 0;
    b->used = 0;
    return rc;
}

int mill__emit_add(mill_ctx *ctx, const mill_kv *kv) {
    mill__emit_batch *b = &ctx->batch;
    size_t need = kv->key_len + kv->value_len;
    if (need > MILL_EMIT_BYTES / 4 || b->n == MILL_EMIT_BATCH || need > MILL_EMIT_BYTES - b->used) {
        int rc = mill__emit_flush(ctx);
        if (rc == 0) rc = spill_maybe(ctx);
        if (rc) return rc;
    }
    if (need > MILL_EMIT_BYTES / 4)
        return mill__upsert(ctx, ctx->table, mill__key_hash(kv->key, kv->key_len), kv->key, kv->key_len,
                            kv->value, kv->value_len);
    char *k = b->bytes + b->used;
    if (kv->key_len) memcpy(k, kv->key, kv->key_len);
    if (kv->value_len) memcpy(k + kv->key_len, kv->value, kv->value_len);
    b->kv[b->n] = (mill_kv){k, kv->key_len, k + kv->key_len, kv->value_len};
    b->hash[b->n] = hash_prefetch(ctx->table, &b->kv[b->n]);
    b->used += (uint32_t)need;
    b->n++;
    return 0;
}

/* A software pipeline over chunks of MILL_EMIT_BATCH pairs: while chunk k
 * is hashed (its slots prefetched), chunk k-1 combines (its keys were
 * prefetched in the step before), and only then are chunk k's keys
 * prefetched, so each load has a chunk's work to arrive. With check set,
 * each pair is checked as it is hashed; a pair that fails stops the
 * pipeline after the pairs before it, and its error is returned. */
static int pipeline(mill_ctx *ctx, const mill_kv *kv, size_t n, int check) {
    int rc = 0, bad = 0;
    uint64_t hash[2][MILL_EMIT_BATCH];
    size_t prev = 0, prev_m = 0; /* chunk k-1: first pair, size */
    for (size_t i = 0, cur = 0; rc == 0 && (i < n || prev_m); i += MILL_EMIT_BATCH, cur ^= 1) {
        size_t m = i < n ? (n - i < MILL_EMIT_BATCH ? n - i : MILL_EMIT_BATCH) : 0;
        for (size_t j = 0; j < m; j++) {
            if (check && (bad = mill__emit_check(ctx, &kv[i + j])) != 0) {
                m = j;
                n = i + j;
                break;
            }
            hash[cur][j] = hash_prefetch(ctx->table, &kv[i + j]);
        }
        if (prev_m) rc = combine(ctx, hash[cur ^ 1], kv + prev, prev_m);
        prefetch_keys(ctx->table, hash[cur], m);
        prev = i;
        prev_m = m;
    }
    return rc ? rc : bad;
}

int mill__emit_many(mill_ctx *ctx, const mill_kv *kv, size_t n) {
    int rc = mill__emit_flush(ctx);
    for (size_t i = 0; rc == 0 && i < n; i += 4096) { /* the budget is checked every 4096 pairs */
        rc = pipeline(ctx, kv + i, n - i < 4096 ? n - i : 4096, 1);
        if (rc == 0) rc = spill_maybe(ctx);
    }
    return rc;
}

int mill__combine_many(mill_ctx *ctx, const mill_kv *kv, size_t n) {
    return pipeline(ctx, kv, n, 0);
}
