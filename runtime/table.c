/* table.c -- arena-backed open-addressing hash table (see table.h). */
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mpimill/job.h"

/* Slots and arena are read at random: with 4 KiB pages most look-ups of a
 * table of a few MiB also miss the TLB. Allocations of HUGE bytes or more
 * are therefore HUGE-aligned and advised to use transparent huge pages. */
#define HUGE (2u << 20)
#define ARENA_BLOCK HUGE

/* Returns n bytes (zeroed when zero is set), or NULL. */
static void *table_alloc(size_t n, int zero) {
    if (n < HUGE) return zero ? calloc(1, n) : malloc(n);
    size_t size = (n + HUGE - 1) & ~(size_t)(HUGE - 1);
    void *p = aligned_alloc(HUGE, size);
    if (!p) return NULL;
    /* Advice only: a kernel without THP (EINVAL) gets 4 KiB pages, which work. */
    (void)madvise(p, size, MADV_HUGEPAGE);
    if (zero) memset(p, 0, n);
    return p;
}

struct mill__arena_block {
    mill__arena_block *next;
    size_t used, cap;
    char data[];
};

static void *arena_alloc(mill__table *t, size_t n) {
    mill__arena_block *b = t->blocks;
    n = (n + 7) & ~(size_t)7;
    if (!b || b->cap - b->used < n) {
        size_t cap = n + sizeof *b > ARENA_BLOCK ? n : ARENA_BLOCK - sizeof *b;
        b = table_alloc(sizeof *b + cap, 0);
        if (!b) return NULL;
        b->next = t->blocks;
        b->used = 0;
        b->cap = cap;
        t->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    t->bytes += n;
    return p;
}

int mill__table_init(mill__table *t) {
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->slots = table_alloc(t->cap * sizeof *t->slots, 1);
    return t->slots ? 0 : MILL_ENOMEM;
}

void mill__table_free(mill__table *t) {
    free(t->slots);
    while (t->blocks) {
        mill__arena_block *n = t->blocks->next;
        free(t->blocks);
        t->blocks = n;
    }
    memset(t, 0, sizeof *t);
}

static int grow(mill__table *t) {
    size_t ncap = t->cap * 2;
    mill__entry *ns = table_alloc(ncap * sizeof *ns, 1);
    if (!ns) return MILL_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key) continue;
        size_t j = t->slots[i].hash & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

mill__entry *mill__table_insert(mill__table *t, uint64_t hash, const void *key, uint32_t klen,
                                const void *value, uint32_t vlen) {
    size_t mask = t->cap - 1, i;
    if ((t->n + 1) * 4 > t->cap * 3) {
        if (grow(t)) return NULL;
        mask = t->cap - 1;
    }
    for (i = hash & mask; t->slots[i].key; i = (i + 1) & mask) {}
    char *kv = arena_alloc(t, (size_t)klen + vlen + 1); /* +1: a key is never a NULL pointer */
    if (!kv) return NULL;
    memcpy(kv, key, klen);
    if (vlen) memcpy(kv + klen, value, vlen);
    mill__entry *e = &t->slots[i];
    *e = (mill__entry){.hash = hash, .key = kv, .value = kv + klen, .klen = klen, .vlen = vlen};
    t->n++;
    return e;
}

mill__entry *mill__table_upsert(mill__table *t, uint64_t hash, const void *key, uint32_t klen,
                                const void *value, uint32_t vlen, int *inserted) {
    mill__entry *e = mill__table_find(t, hash, key, klen);
    *inserted = e == NULL;
    return e ? e : mill__table_insert(t, hash, key, klen, value, vlen);
}

int mill__table_set_value(mill__table *t, mill__entry *e, const void *value, uint32_t vlen) {
    if (vlen > e->vlen) {
        char *v = arena_alloc(t, vlen);
        if (!v) return MILL_ENOMEM;
        e->value = v;
    }
    memmove(e->value, value, vlen);
    e->vlen = vlen;
    return 0;
}

static int cmp_entry(const void *a, const void *b) {
    const mill__entry *x = a, *y = b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

size_t mill__table_sort(mill__table *t) {
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key) t->slots[n++] = t->slots[i];
    for (size_t i = n; i < t->cap; i++) t->slots[i].key = NULL;
    qsort(t->slots, n, sizeof *t->slots, cmp_entry);
    return n;
}
