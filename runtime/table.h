/* table.h -- the combining hash table: key -> value, bytes in an arena.
 *
 * Open addressing with linear probing over 64-bit XXH3 key hashes; keys and
 * values live in an append-only arena, so an entry's bytes never move while
 * the table lives (a value that grows is copied to new arena space).
 */
#ifndef MILL_TABLE_H
#define MILL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct mill__entry {
    uint64_t hash;
    char *key;   /* key bytes, then the value at key + klen until it outgrows that room (value_fit) */
    char *value;
    uint32_t klen, vlen;
} mill__entry;

typedef struct mill__arena_block mill__arena_block;

typedef struct mill__table {
    mill__entry *slots; /* cap slots; slot.key == NULL means empty */
    size_t cap;         /* a power of two, 2^(64 - shift) */
    unsigned shift;
    uint64_t seed;      /* differs between tables (mill__table_home) */
    size_t n;           /* used slots; invariant: n <= cap * 3 / 4, or n <= cap * 15 / 16 at max_cap */
    size_t max_cap;     /* 0, or the cap past which the table grows only when 15/16 full */
    mill__arena_block *blocks; /* in use, the newest first */
    mill__arena_block *spare;  /* emptied by mill__table_clear, or cut from an old slot array by a
                                * doubling; reused before new ones */
    uint64_t bytes;     /* arena bytes in use, for memory accounting */
} mill__table;

int mill__table_init(mill__table *t);

/* Returns whether t is fuller than its usual load: it reached max_cap and
 * did not grow. A table with a budget must then be spilled and cleared. */
static inline int mill__table_full(const mill__table *t) { return t->n * 4 > t->cap * 3; }
void mill__table_free(mill__table *t);
/* Makes the seeds of the tables created from now on (mill__table_home)
 * differ from those of another process with another salt: the engine
 * passes its rank + 1. A rank's reduce table that keeps its map table's seed
 * (mill__table_take with keep) then receives other ranks' records in an
 * order unrelated to its own placement (with equal seeds, in its home
 * order: the bunching mill__table_home describes). Deterministic, so runs
 * combine values in the same order. */
void mill__table_salt(uint64_t salt);

/* Returns whether t is empty and from's slot array is at least t's but
 * within t's max_cap: whether mill__table_take gives t from's storage. */
int mill__table_can_take(const mill__table *t, const mill__table *from);
/* When mill__table_can_take(t, from), gives t from's slot array and arena
 * blocks: with its entries and seed when keep is set, else emptied, with a
 * new seed; otherwise frees from. t keeps its budget. So a table that
 * follows another (the reduce table after the map table) starts at its
 * size: no doubling, no rehashing, no fresh pages to fault in and zero. */
void mill__table_take(mill__table *t, mill__table *from, int keep);
/* Drops the entries for which keep(arg, entry) returns 0, in place, and
 * moves the others so that look-ups find them again; returns how many are
 * left. The dropped entries' arena bytes stay, counted in t->bytes, until
 * the table is cleared or freed. */
size_t mill__table_filter(mill__table *t, int (*keep)(void *arg, const mill__entry *e), void *arg);
/* Empties t but keeps its slot array (no regrowth) and its arena blocks
 * (no new pages) for the keys to come. Pointers into it become invalid. */
void mill__table_clear(mill__table *t);

/* Returns the home slot of a hash: the top bits of (hash ^ seed) times
 * 2^64/phi. The table's own seed matters: a table is often filled in the
 * slot order of another (the shuffle sends a map table's records in slot
 * order), and were both tables to place keys alike, a small table growing
 * from such a stream would receive its keys bunched together (same top or
 * low bits), in runs that linear probing walks for every insert -- minutes
 * for millions of keys. Not the hash's own top bits either: they choose the
 * owner rank, so one rank's keys share them. */
static inline size_t mill__table_home(const mill__table *t, uint64_t hash) {
    return (size_t)(((hash ^ t->seed) * UINT64_C(0x9E3779B97F4A7C15)) >> t->shift);
}

/* Returns whether the n bytes at a and b are equal. Keys are mostly short
 * words: up to 16 bytes compare with two overlapping loads per side, no call. */
static inline int mill__key_eq(const char *a, const char *b, uint32_t n) {
    if (n > 16) return memcmp(a, b, n) == 0;
    if (n >= 8) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8), memcpy(&a1, a + n - 8, 8), memcpy(&b0, b, 8), memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4), memcpy(&a1, a + n - 4, 4), memcpy(&b0, b, 4), memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/* Compares two keys bytewise, a shorter key first on a common prefix: the
 * order of sorted tables and runs. */
static inline int mill__key_cmp(const char *a, uint32_t al, const char *b, uint32_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Returns a key's first 8 bytes as a big-endian number, zero padded: keys
 * with different prefixes are in the order of their prefixes. */
static inline uint64_t mill__key_prefix(const char *key, uint32_t klen) {
    uint64_t x = 0;
    memcpy(&x, key, klen < 8 ? klen : 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(x); /* the first byte, lowest in memory, on top */
#else
    return x;
#endif
}

/* Returns the entry of (hash, key), or NULL. Inline: it is on the path of
 * every emitted record. */
static inline mill__entry *mill__table_find(const mill__table *t, uint64_t hash, const void *key,
                                            uint32_t klen) {
    size_t mask = t->cap - 1;
    for (size_t i = mill__table_home(t, hash);; i = (i + 1) & mask) {
        mill__entry *e = &t->slots[i];
        if (!e->key) return NULL;
        if (e->hash == hash && e->klen == klen && mill__key_eq(e->key, key, klen)) return e;
    }
}

/* Walks over the slots read each entry's key, somewhere in the arena: a
 * cache miss per key in a big table. They prefetch the key of the slot
 * MILL__AHEAD places ahead, so that the misses overlap. */
#define MILL__AHEAD 64

static inline void mill__table_prefetch(const mill__table *t, size_t i) {
    /* Unconditional: GCC 12 at -O2 drops a prefetch alone in a branch.
     * Prefetching NULL is harmless: prefetches never fault. */
    __builtin_prefetch(i < t->cap ? t->slots[i].key : NULL);
}

/* Inserts (hash, key), known to be absent, with a copy of value. Returns the
 * entry or NULL when out of memory. */
mill__entry *mill__table_insert(mill__table *t, uint64_t hash, const void *key, uint32_t klen,
                                const void *value, uint32_t vlen);

/* Finds the entry of (hash, key). When absent, inserts it with a copy of
 * value and sets *inserted = 1. Returns the entry or NULL when out of memory. */
mill__entry *mill__table_upsert(mill__table *t, uint64_t hash, const void *key, uint32_t klen,
                                const void *value, uint32_t vlen, int *inserted);

/* Replaces an entry's value with a copy of (value, vlen); a longer value
 * moves to room of the next power of two, so growing values move rarely.
 * Returns 0 or MILL_ENOMEM. */
int mill__table_set_value(mill__table *t, mill__entry *e, const void *value, uint32_t vlen);

/* Resizes an entry's value to vlen bytes, keeping its first bytes, in
 * place when its room allows, else moved like mill__table_set_value's.
 * Returns 0 or MILL_ENOMEM. */
int mill__table_resize_value(mill__table *t, mill__entry *e, uint32_t vlen);

/* Moves the used entries to the front of the slot array, sorted by key bytes
 * (shorter first on a common prefix), and returns how many there are, n.
 * The slots past the n-th are left undefined: the table can then only be
 * read up to n, cleared and freed. */
size_t mill__table_sort(mill__table *t);

/* Sorts the used entries like mill__table_sort, but leaves them where they
 * are: sets *order to a malloc'd array (free it) of their slot indexes in
 * key order, and returns their count. Returns SIZE_MAX when out of memory
 * (*order is then unset). It needs 32 bytes per entry while it sorts, and
 * keeps 8; mill__table_sort needs 48. */
size_t mill__table_order(const mill__table *t, uint64_t **order);

#endif
