/* table.c -- arena-backed open-addressing hash table (see table.h). */
#include "table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xxhash.h>

#include "mpimill/job.h"

/* Slots and arena are read at random: with 4 KiB pages most look-ups of a
 * table of a few MiB also miss the TLB. Allocations of HUGE bytes or more
 * are therefore mapped HUGE-aligned and advised to use transparent huge
 * pages; the kernel hands them out zeroed, so slot arrays need no memset. */
#define HUGE ((size_t)2 << 20)
#define ARENA_BLOCK HUGE

/* Returns n zeroed bytes, or NULL. Free with table_release(p, n). */
static void *table_alloc(size_t n) {
    if (n < HUGE) return calloc(1, n);
    size_t size = (n + HUGE - 1) & ~(HUGE - 1);
    char *m = mmap(NULL, size + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    /* Unmapping the unaligned ends cannot fail for a range just mapped;
     * were it to, the pages would only stay mapped until exit. */
    if (p > m) (void)munmap(m, (size_t)(p - m));
    if (p + size < m + size + HUGE) (void)munmap(p + size, (size_t)(m + size + HUGE - (p + size)));
    /* Advice only: a kernel without THP (EINVAL) gets 4 KiB pages, which work. */
    (void)madvise(p, size, MADV_HUGEPAGE);
    return p;
}

static void table_release(void *p, size_t n) {
    if (!p) return;
    if (n < HUGE) free(p);
    else (void)munmap(p, (n + HUGE - 1) & ~(HUGE - 1)); /* a mapping of ours: cannot fail */
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
        b = t->spare; /* a block a clear emptied, if it is big enough */
        if (b) {
            t->spare = b->next;
            if (b->cap < n) {
                table_release(b, sizeof *b + b->cap);
                b = NULL;
            }
        }
        size_t cap = n + sizeof *b > ARENA_BLOCK ? n : ARENA_BLOCK - sizeof *b;
        if (!b) b = table_alloc(sizeof *b + cap);
        else cap = b->cap;
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

/* Set by mill__table_salt: tables of different ranks get different seeds. */
static uint64_t salt;

void mill__table_salt(uint64_t s) { salt = s; }

/* Returns a seed no other table of this process had (mill__table_home). */
static uint64_t new_seed(void) {
    static uint64_t tables;
    tables++;
    return XXH3_64bits_withSeed(&tables, sizeof tables, salt);
}

int mill__table_init(mill__table *t) {
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->shift = 64 - 10;
    t->seed = new_seed();
    t->slots = table_alloc(t->cap * sizeof *t->slots);
    return t->slots ? 0 : MILL_ENOMEM;
}

/* Releases a list of arena blocks. */
static void release_blocks(mill__arena_block **list) {
    while (*list) {
        mill__arena_block *n = (*list)->next;
        table_release(*list, sizeof **list + (*list)->cap);
        *list = n;
    }
}

void mill__table_clear(mill__table *t) {
    memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->n = 0;
    t->bytes = 0;
    t->seed = new_seed();
    while (t->blocks) {
        mill__arena_block *b = t->blocks;
        t->blocks = b->next;
        b->used = 0;
        b->next = t->spare;
        t->spare = b;
    }
}

void mill__table_free(mill__table *t) {
    table_release(t->slots, t->cap * sizeof *t->slots);
    release_blocks(&t->blocks);
    release_blocks(&t->spare);
    memset(t, 0, sizeof *t);
}

int mill__table_can_take(const mill__table *t, const mill__table *from) {
    return t->n == 0 && from->cap >= t->cap && (!t->max_cap || from->cap <= t->max_cap);
}

void mill__table_take(mill__table *t, mill__table *from, int keep) {
    if (!mill__table_can_take(t, from)) {
        mill__table_free(from);
        return;
    }
    size_t max_cap = t->max_cap;
    mill__table_free(t);
    release_blocks(&from->spare); /* never used: the arena blocks in use are enough */
    if (!keep) mill__table_clear(from);
    *t = *from;
    t->max_cap = max_cap;
    memset(from, 0, sizeof *from);
}

size_t mill__table_filter(mill__table *t, int (*keep)(void *arg, const mill__entry *e), void *arg) {
    size_t mask = t->cap - 1, start = 0;
    while (t->slots[start].key) start++; /* there is an empty slot: n < cap */
    /* Every entry's probe path runs from its home to it without an empty
     * slot, so none crosses `start`. Walking on from there, each entry is
     * lifted and put back at the first empty slot from its home: the slots
     * before it are settled already, and emptying it breaks no path of
     * theirs (none reaches past it). */
    for (size_t k = 1; k < t->cap; k++) {
        size_t i = (start + k) & mask;
        mill__table_prefetch(t, (i + MILL__AHEAD) & mask); /* keep() mostly reads the key */
        mill__entry e = t->slots[i];
        if (!e.key) continue;
        t->slots[i].key = NULL;
        if (!keep(arg, &e)) {
            t->n--;
            continue;
        }
        size_t j = mill__table_home(t, e.hash);
        while (t->slots[j].key) j = (j + 1) & mask;
        t->slots[j] = e;
    }
    return t->n;
}

/* Releases the n bytes at p, a slot array t no longer uses, after making
 * spare arena blocks of up to t->bytes of them: pages already faulted in,
 * where keys would otherwise go to fresh ones that the kernel must zero (and
 * a VM's host first back: ~3.6 ms per huge page on the test machine).
 * Until the next doubling the arena grows by about as much as it holds now,
 * so that is what is kept; blocks not used by then stay until the table is
 * cleared or freed, uncounted by mill__table_memory like every spare block.
 * A slot array under HUGE came from calloc, and is freed. */
static void recycle(mill__table *t, void *p, size_t n) {
    size_t keep = 0;
    if (n >= HUGE) {
        keep = t->bytes < n ? (size_t)t->bytes & ~(HUGE - 1) : n & ~(HUGE - 1);
        for (size_t off = 0; off < keep; off += HUGE) {
            mill__arena_block *b = (mill__arena_block *)((char *)p + off);
            *b = (mill__arena_block){.next = t->spare, .cap = ARENA_BLOCK - sizeof *b};
            t->spare = b;
        }
    }
    if (keep < n) table_release((char *)p + keep, n - keep);
}

static int grow(mill__table *t) {
    size_t ncap = t->cap * 2;
    mill__entry *ns = table_alloc(ncap * sizeof *ns);
    if (!ns) return MILL_ENOMEM;
    mill__table bigger = {.slots = ns, .cap = ncap, .shift = t->shift - 1, .seed = t->seed};
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key) continue;
        size_t j = mill__table_home(&bigger, t->slots[i].hash);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    recycle(t, t->slots, t->cap * sizeof *t->slots);
    t->slots = ns;
    t->cap = ncap;
    t->shift--;
    return 0;
}

mill__entry *mill__table_insert(mill__table *t, uint64_t hash, const void *key, uint32_t klen,
                                const void *value, uint32_t vlen) {
    size_t mask = t->cap - 1, i;
    /* At max_cap, the table holds on to 15/16 rather than double: the
     * caller spills it (mill__table_full) before that, unless a single map
     * call emits the difference. */
    if ((t->n + 1) * 4 > t->cap * 3 && (!t->max_cap || t->cap < t->max_cap || (t->n + 1) * 16 > t->cap * 15)) {
        if (grow(t)) return NULL;
        mask = t->cap - 1;
    }
    for (i = mill__table_home(t, hash); t->slots[i].key; i = (i + 1) & mask) {}
    char *kv = arena_alloc(t, (size_t)klen + vlen + 1); /* +1: a key is never a NULL pointer */
    if (!kv) return NULL;
    memcpy(kv, key, klen);
    if (vlen == 8) memcpy(kv + klen, value, 8); /* numeric values: one move, no call */
    else if (vlen) memcpy(kv + klen, value, vlen);
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

/* The room a value moved out of its key's allocation gets: a power of two
 * (at least 8), so a value that grows a little at a time (a top-K list, a
 * posting list) moves O(log n) times, not every time, and leaves O(n)
 * garbage in the arena instead of O(n^2) (which made small budgets spill
 * again and again). */
static size_t value_room(size_t vlen) {
    size_t r = 8;
    while (r < vlen) r *= 2;
    return r;
}

/* Gives e's value room for vlen bytes: when it has less, moves it (its
 * first keep bytes) to new room of value_room(vlen). The old bytes stay
 * where they were until the table is cleared. */
static int value_fit(mill__table *t, mill__entry *e, uint32_t vlen, uint32_t keep) {
    if (vlen <= e->vlen) return 0;
    /* Invariant: a value stored with its key has exactly its length of
     * room; one moved out has value_room(its length when it moved), which
     * is at least value_room(its length now). */
    size_t room = e->value == e->key + e->klen ? e->vlen : value_room(e->vlen);
    if (vlen <= room) return 0;
    char *v = arena_alloc(t, value_room(vlen));
    if (!v) return MILL_ENOMEM;
    if (keep) memcpy(v, e->value, keep);
    e->value = v;
    return 0;
}

int mill__table_set_value(mill__table *t, mill__entry *e, const void *value, uint32_t vlen) {
    int rc = value_fit(t, e, vlen, 0);
    if (rc) return rc;
    memmove(e->value, value, vlen);
    e->vlen = vlen;
    return 0;
}

int mill__table_resize_value(mill__table *t, mill__entry *e, uint32_t vlen) {
    int rc = value_fit(t, e, vlen, e->vlen < vlen ? e->vlen : vlen);
    if (rc == 0) e->vlen = vlen;
    return rc;
}

static int cmp_entry(const void *a, const void *b) {
    const mill__entry *x = a, *y = b;
    return mill__key_cmp(x->key, x->klen, y->key, y->klen);
}

/* A sort item: the key's first 8 bytes as a big-endian number (zero
 * padded), and its entry. Items in prefix order are in key order except
 * among equal prefixes. */
typedef struct sort_item {
    uint64_t prefix;
    uint64_t index;
} sort_item;

/* Sorts n items by prefix, least significant digit first: six digits of
 * 11 bits, whose counts (zeroed, in count) are taken in one pass; a digit
 * every item shares takes no pass. Passes go back and forth between a and
 * tmp (n items); the result ends in a. */
#define DIGIT_BITS 11
#define DIGITS ((64 + DIGIT_BITS - 1) / DIGIT_BITS)
typedef size_t digit_counts[DIGITS][1 << DIGIT_BITS];

static void radix_sort(sort_item *a, sort_item *tmp, size_t n, digit_counts count) {
    if (n < 2) return; /* sorted; and an empty a has no a[0] to read */
    const uint64_t mask = (1u << DIGIT_BITS) - 1;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DIGITS; d++) count[d][(a[i].prefix >> (d * DIGIT_BITS)) & mask]++;
    sort_item *src = a, *dst = tmp;
    for (int d = 0; d < DIGITS; d++) {
        unsigned shift = (unsigned)d * DIGIT_BITS;
        if (count[d][(src[0].prefix >> shift) & mask] == n) continue;
        size_t pos = 0;
        for (size_t v = 0; v <= mask; v++) {
            size_t c = count[d][v];
            count[d][v] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[d][(src[i].prefix >> shift) & mask]++] = src[i];
        sort_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

/* Sorts the n items at a by prefix into tmp (n items; a is then scratch).
 * A first pass scatters them by the prefix's top byte, then radix_sort
 * sorts each such bucket, mostly small enough to stay in the cache. The
 * scatters into a big array are what a radix sort spends its time on: this
 * makes one instead of six. */
static void msd_sort(sort_item *a, sort_item *tmp, size_t n, digit_counts count) {
    size_t start[257] = {0}, pos[256];
    for (size_t i = 0; i < n; i++) start[(a[i].prefix >> 56) + 1]++;
    for (int b = 0; b < 256; b++) start[b + 1] += start[b];
    memcpy(pos, start, sizeof pos);
    for (size_t i = 0; i < n; i++) tmp[pos[a[i].prefix >> 56]++] = a[i];
    for (int b = 0; b < 256; b++) {
        size_t len = start[b + 1] - start[b];
        if (len < 2) continue;
        memset(count, 0, sizeof(digit_counts));
        radix_sort(tmp + start[b], a + start[b], len, count);
    }
}

static int cmp_item(const void *a, const void *b, void *slots) {
    const mill__entry *s = slots;
    return cmp_entry(&s[((const sort_item *)a)->index], &s[((const sort_item *)b)->index]);
}

/* Sorts the used entries of t by key into *out, a malloc'd array of sort
 * items (free it), and sets *n to their count. Returns 0 or MILL_ENOMEM. */
static int sort_items(const mill__table *t, sort_item **out, size_t *n) {
    const mill__entry *s = t->slots;
    sort_item *items = malloc((t->n ? t->n : 1) * sizeof *items);
    sort_item *tmp = items ? malloc((t->n ? t->n : 1) * sizeof *tmp) : NULL;
    digit_counts *count = tmp ? calloc(1, sizeof *count) : NULL;
    if (!count) {
        free(items);
        free(tmp);
        return MILL_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < t->cap; i++) {
        mill__table_prefetch(t, i + MILL__AHEAD);
        if (s[i].key) items[m++] = (sort_item){mill__key_prefix(s[i].key, s[i].klen), i};
    }
    if (m < (1u << 16)) { /* small: it all stays in the cache anyway */
        radix_sort(items, tmp, m, *count);
    } else { /* the result is in tmp: it becomes items */
        msd_sort(items, tmp, m, *count);
        sort_item *a = items;
        items = tmp;
        tmp = a;
    }
    free(count);
    free(tmp);
    /* Entries with equal prefixes sit together: order each such run by
     * the whole key. */
    for (size_t i = 0, j; i < m; i = j) {
        for (j = i + 1; j < m && items[j].prefix == items[i].prefix; j++) {}
        if (j - i > 1) qsort_r(items + i, j - i, sizeof *items, cmp_item, (void *)s);
    }
    *out = items;
    *n = m;
    return 0;
}

size_t mill__table_order(const mill__table *t, uint64_t **order) {
    sort_item *items;
    size_t n;
    if (sort_items(t, &items, &n) != 0) return SIZE_MAX;
    uint64_t *idx = (uint64_t *)(void *)items; /* in place: item i's index goes where it cannot overwrite a later one */
    for (size_t i = 0; i < n; i++) idx[i] = items[i].index;
    *order = idx;
    return n;
}

size_t mill__table_sort(mill__table *t) {
    mill__entry *s = t->slots;
    sort_item *items = NULL;
    size_t n = 0;
    mill__entry *tmp = sort_items(t, &items, &n) == 0 ? malloc((n ? n : 1) * sizeof *tmp) : NULL;
    if (!tmp) { /* no room for the radix sort: sort in place */
        free(items);
        n = 0;
        for (size_t i = 0; i < t->cap; i++)
            if (s[i].key) s[n++] = s[i];
        qsort(s, n, sizeof *s, cmp_entry);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        __builtin_prefetch(i + MILL__AHEAD < n ? &s[items[i + MILL__AHEAD].index] : NULL); /* see table.h */
        tmp[i] = s[items[i].index];
    }
    memcpy(s, tmp, n * sizeof *s);
    free(tmp);
    free(items);
    return n;
}
