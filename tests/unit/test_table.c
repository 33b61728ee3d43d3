/* test_table.c -- the combining table (runtime/table.c): keys sort in
 * bytewise order (shorter first on a common prefix), in place or as an
 * order of slot indexes; a table filled in another table's slot order --
 * as the shuffle fills the reduce table -- keeps its probe runs short; a
 * table at its max_cap fills to 15/16 and reports itself full instead of
 * doubling; a table can take over another's storage; a doubling hands its
 * old slot array on to the arena. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "partition.h"
#include "table.h"
#include "cunit_main.h"

static int ref_cmp(const void *a, const void *b) {
    const mill__entry *x = a, *y = b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static void insert(mill__table *t, const char *k, uint32_t kl) {
    uint64_t h = mill_key_hash(k, kl);
    int ins;
    CU_ASSERT_FATAL(mill__table_upsert(t, h, k, kl, "v", 1, &ins) != NULL);
}

static void test_sort(void) {
    srand(17);
    for (int round = 0; round < 20; round++) {
        mill__table t;
        CU_ASSERT_FATAL(mill__table_init(&t) == 0);
        size_t want = (size_t)(round == 0 ? 1 : round == 1 ? 70000 : rand() % 20000); /* 70000: the MSD pass */
        char k[40];
        for (size_t i = 0; i < want; i++) {
            /* Short keys, keys with a shared 12-byte prefix (long runs of
             * equal 8-byte prefixes), NUL and 0xff bytes, and the empty key. */
            uint32_t kl;
            if (i % 3 == 0) kl = (uint32_t)snprintf(k, sizeof k, "shared-prefix-%zu", i);
            else {
                kl = (uint32_t)(rand() % 12);
                for (uint32_t j = 0; j < kl; j++) k[j] = (char)(rand() % 4 == 0 ? 0 : rand() % 4 == 0 ? 0xff : 'a' + rand() % 3);
            }
            insert(&t, k, kl);
        }
        uint64_t *order = NULL; /* mill__table_order: the same order, entries left in place */
        size_t n = mill__table_order(&t, &order);
        CU_ASSERT_FATAL(n == t.n);
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        for (size_t i = 0; i < n; i++) keys[i] = t.slots[order[i]].key;
        free(order);
        CU_ASSERT_EQUAL(mill__table_sort(&t), n);
        for (size_t i = 0; i < n; i++) CU_ASSERT(keys[i] == t.slots[i].key);
        free(keys);
        mill__entry *copy = malloc((n ? n : 1) * sizeof *copy);
        memcpy(copy, t.slots, n * sizeof *copy);
        qsort(copy, n, sizeof *copy, ref_cmp);
        for (size_t i = 0; i < n; i++) CU_ASSERT(copy[i].key == t.slots[i].key);
        for (size_t i = 1; i < n; i++) CU_ASSERT(ref_cmp(&t.slots[i - 1], &t.slots[i]) < 0);
        free(copy);
        mill__table_free(&t);
    }
}

/* Mean distance of the entries from their home slots. */
static double mean_displacement(const mill__table *t) {
    double sum = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key) sum += (double)((i - mill__table_home(t, t->slots[i].hash)) & (t->cap - 1));
    return sum / (double)t->n;
}

static void test_max_cap(void) {
    mill__table t;
    CU_ASSERT_FATAL(mill__table_init(&t) == 0);
    t.max_cap = 4096;
    char k[32];
    size_t i = 0;
    for (; i < 4096 * 3 / 4; i++) insert(&t, k, (uint32_t)snprintf(k, sizeof k, "key%zu", i));
    CU_ASSERT_EQUAL(t.cap, 4096);
    CU_ASSERT_FALSE(mill__table_full(&t));
    insert(&t, k, (uint32_t)snprintf(k, sizeof k, "key%zu", i++)); /* past 3/4: holds on, full */
    CU_ASSERT_EQUAL(t.cap, 4096);
    CU_ASSERT_TRUE(mill__table_full(&t));
    for (; i < 4096 * 15 / 16; i++) insert(&t, k, (uint32_t)snprintf(k, sizeof k, "key%zu", i));
    CU_ASSERT_EQUAL(t.cap, 4096);
    insert(&t, k, (uint32_t)snprintf(k, sizeof k, "key%zu", i++)); /* past 15/16: grows after all */
    CU_ASSERT_EQUAL(t.cap, 8192);
    CU_ASSERT_FALSE(mill__table_full(&t));
    for (size_t j = 0; j < i; j++) { /* every key is still there once */
        uint32_t kl = (uint32_t)snprintf(k, sizeof k, "key%zu", j);
        CU_ASSERT_PTR_NOT_NULL(mill__table_find(&t, mill_key_hash(k, kl), k, kl));
    }
    CU_ASSERT_EQUAL(t.n, i);
    mill__table_free(&t);
}

static void test_take(void) {
    mill__table a, b, c;
    CU_ASSERT_FATAL(mill__table_init(&a) == 0 && mill__table_init(&b) == 0 && mill__table_init(&c) == 0);
    b.max_cap = 1 << 20;
    char k[32];
    for (int i = 0; i < 100000; i++) insert(&a, k, (uint32_t)snprintf(k, sizeof k, "key%d", i));
    size_t cap = a.cap;
    uint64_t seed = a.seed;
    mill__table_take(&b, &a, 0); /* b, empty and smaller, takes a's storage, emptied */
    CU_ASSERT(a.slots == NULL && a.cap == 0 && a.blocks == NULL && a.spare == NULL);
    CU_ASSERT_EQUAL(b.cap, cap);
    CU_ASSERT_EQUAL(b.n, 0);
    CU_ASSERT_EQUAL(b.max_cap, 1 << 20);
    CU_ASSERT(b.seed != seed);
    CU_ASSERT(b.blocks == NULL && b.spare != NULL); /* a's arena, for b's keys */
    for (int i = 0; i < 120000; i++) insert(&b, k, (uint32_t)snprintf(k, sizeof k, "new%d", i));
    CU_ASSERT_EQUAL(b.cap, cap); /* no doubling on the way */
    CU_ASSERT_EQUAL(b.n, 120000);
    CU_ASSERT(mill__table_find(&b, mill_key_hash("key7", 4), "key7", 4) == NULL);
    CU_ASSERT(mill__table_find(&b, mill_key_hash("new7", 4), "new7", 4) != NULL);
    mill__table_take(&b, &c, 0); /* b is not empty (and c smaller): b keeps its own, c is freed */
    CU_ASSERT(c.slots == NULL && b.cap == cap && b.n == 120000);
    CU_ASSERT_FATAL(mill__table_init(&c) == 0);
    c.max_cap = cap / 2;
    mill__table_take(&c, &b, 0); /* b is bigger than c may grow: c keeps its own */
    CU_ASSERT(b.slots == NULL && c.cap == 1024 && c.n == 0);
    mill__table_free(&c);
}

/* Keeps the entries whose hash is odd (drop ~half, as a shuffle drops the
 * keys other ranks own). */
static int odd_hash(void *arg, const mill__entry *e) {
    (void)arg;
    return (int)(e->hash & 1);
}

static void test_filter_and_keep(void) {
    mill__table a, b;
    CU_ASSERT_FATAL(mill__table_init(&a) == 0 && mill__table_init(&b) == 0);
    char k[32];
    size_t odd = 0;
    for (int i = 0; i < 190000; i++) { /* dense: 190000 of 262144 slots, long probe runs */
        uint32_t kl = (uint32_t)snprintf(k, sizeof k, "key%d", i);
        insert(&a, k, kl);
        odd += mill_key_hash(k, kl) & 1;
    }
    uint64_t seed = a.seed;
    CU_ASSERT_EQUAL(mill__table_filter(&a, odd_hash, NULL), odd);
    CU_ASSERT_FATAL(mill__table_can_take(&b, &a));
    mill__table_take(&b, &a, 1); /* b takes a's storage with its entries */
    CU_ASSERT(b.n == odd && b.seed == seed && a.slots == NULL);
    for (int i = 0; i < 190000; i++) { /* every kept key is found, no dropped one is */
        uint32_t kl = (uint32_t)snprintf(k, sizeof k, "key%d", i);
        uint64_t h = mill_key_hash(k, kl);
        mill__entry *e = mill__table_find(&b, h, k, kl);
        CU_ASSERT((e != NULL) == (int)(h & 1));
        if (e) CU_ASSERT(e->klen == kl && !memcmp(e->key, k, kl));
    }
    mill__table_free(&b);
}

/* Fills t with keys with 40-byte values until its slot array doubles from
 * 2 MiB (65536 slots) to 4; by then the arena holds more than 2 MiB, so the
 * old array must have become a spare arena block. Returns the old array
 * and sets *next to the number of keys inserted. */
static const char *fill_past_2mib(mill__table *t, int *next) {
    char k[32], v[40] = {0};
    const char *old = NULL;
    int i = 0;
    for (; t->cap <= 65536; i++) {
        if (t->cap == 65536) old = (const char *)t->slots;
        uint32_t kl = (uint32_t)snprintf(k, sizeof k, "key%d", i);
        int ins;
        CU_ASSERT_FATAL(mill__table_upsert(t, mill_key_hash(k, kl), k, kl, v, sizeof v, &ins) != NULL);
    }
    CU_ASSERT_FATAL(old != NULL);
    CU_ASSERT(t->bytes >= (2u << 20));
    CU_ASSERT((const char *)t->spare == old);
    *next = i;
    return old;
}

/* The keys that follow a doubling go into the old slot array. */
static void test_grow_recycles(void) {
    mill__table t;
    CU_ASSERT_FATAL(mill__table_init(&t) == 0);
    char k[32], v[40] = {0};
    int i;
    const char *old = fill_past_2mib(&t, &i);
    int inside = 0;
    for (int j = 0; j < 45000; j++, i++) { /* short of the next doubling */
        uint32_t kl = (uint32_t)snprintf(k, sizeof k, "key%d", i);
        int ins;
        mill__entry *e = mill__table_upsert(&t, mill_key_hash(k, kl), k, kl, v, sizeof v, &ins);
        CU_ASSERT_FATAL(e != NULL);
        inside += e->key >= old && e->key < old + (2u << 20);
    }
    /* 45000 such records fill 2.4 MiB: the rest of the block in use, then
     * the spare one. */
    CU_ASSERT(inside > 5000);
    CU_ASSERT(t.spare == NULL);
    for (int j = 0; j < i; j++) { /* every key is still there */
        uint32_t kl = (uint32_t)snprintf(k, sizeof k, "key%d", j);
        if (!mill__table_find(&t, mill_key_hash(k, kl), k, kl)) {
            CU_FAIL("a key is missing");
            break;
        }
    }
    mill__table_free(&t);
}

/* A table that takes another's storage leaves the spare blocks the other
 * never used to be unmapped (mill__table_take): only the arena blocks in
 * use come, emptied. */
static void test_take_drops_unused_spare(void) {
    mill__table a, b;
    CU_ASSERT_FATAL(mill__table_init(&a) == 0 && mill__table_init(&b) == 0);
    int n;
    const char *old = fill_past_2mib(&a, &n);
    mill__table_take(&b, &a, 0);
    CU_ASSERT(b.cap == 131072 && b.spare != NULL);
    unsigned char vec;
    errno = 0;
    CU_ASSERT(mincore((void *)old, 4096, &vec) == -1 && errno == ENOMEM); /* unmapped */
    mill__table_free(&b);
}

static void test_fill_in_slot_order(void) {
    mill__table a, b;
    CU_ASSERT_FATAL(mill__table_init(&a) == 0 && mill__table_init(&b) == 0);
    char k[32];
    for (int i = 0; i < 300000; i++) insert(&a, k, (uint32_t)snprintf(k, sizeof k, "key%d", i));
    /* Stop when b is as full as it gets, before a growth lays it out anew. */
    for (size_t i = 0; i < a.cap && !(b.n > 50000 && (b.n + 1) * 4 > b.cap * 3); i++)
        if (a.slots[i].key) CU_ASSERT_FATAL(mill__table_insert(&b, a.slots[i].hash, a.slots[i].key, a.slots[i].klen, "", 0) != NULL);
    CU_ASSERT(b.n > 50000);
    double d = mean_displacement(&b);
    printf("mean displacement %.2f ", d);
    CU_ASSERT(d < 4.0); /* linear probing at load <= 0.75 averages under 2 */
    mill__table_free(&a);
    mill__table_free(&b);
}

/* A value that grows a byte at a time moves to power-of-two room: the
 * arena ends near twice its final size, not the sum of every size (a
 * top-K list grown this way filled a small budget with copies). Shrinking
 * and growing back within the room does not move it. */
static void test_value_growth(void) {
    mill__table t;
    CU_ASSERT_FATAL(mill__table_init(&t) == 0);
    static char v[8192];
    memset(v, 'x', sizeof v);
    int ins;
    mill__entry *e = mill__table_upsert(&t, mill_key_hash("k", 1), "k", 1, v, 1, &ins);
    CU_ASSERT_FATAL(e != NULL && ins);
    uint64_t base = t.bytes;
    for (uint32_t n = 2; n <= sizeof v; n++) {
        v[n - 1] = (char)('a' + n % 26);
        CU_ASSERT_FATAL(mill__table_set_value(&t, e, v, n) == 0);
    }
    CU_ASSERT_EQUAL(e->vlen, sizeof v);
    CU_ASSERT(memcmp(e->value, v, sizeof v) == 0);
    printf("arena %llu bytes for an 8 KiB value ", (unsigned long long)(t.bytes - base));
    CU_ASSERT(t.bytes - base < 4 * sizeof v);
    char *at = e->value;
    CU_ASSERT_FATAL(mill__table_set_value(&t, e, v, 5000) == 0);
    CU_ASSERT_FATAL(mill__table_set_value(&t, e, v, 8000) == 0);
    CU_ASSERT(e->value == at && memcmp(e->value, v, 8000) == 0);
    mill__table_free(&t);
}

/* resize_value (mill_value_resize): a value appended to a byte at a time
 * keeps its bytes, stays in place while its room allows, and moves only to
 * power-of-two room: the arena ends near twice its final size, and it
 * moved about log2(n) times. */
static void test_value_resize(void) {
    mill__table t;
    CU_ASSERT_FATAL(mill__table_init(&t) == 0);
    static char want[8192];
    int ins, moves = 0;
    mill__entry *e = mill__table_upsert(&t, mill_key_hash("k", 1), "k", 1, "a", 1, &ins);
    CU_ASSERT_FATAL(e != NULL && ins);
    want[0] = 'a';
    uint64_t base = t.bytes;
    for (uint32_t n = 2; n <= sizeof want; n++) {
        char *at = e->value;
        CU_ASSERT_FATAL(mill__table_resize_value(&t, e, n) == 0);
        moves += e->value != at;
        want[n - 1] = e->value[n - 1] = (char)('a' + n % 26);
    }
    CU_ASSERT(e->vlen == sizeof want && memcmp(e->value, want, sizeof want) == 0);
    CU_ASSERT(moves <= 12);
    CU_ASSERT(t.bytes - base < 4 * sizeof want);
    char *at = e->value; /* shrinking keeps the first bytes, in place */
    CU_ASSERT_FATAL(mill__table_resize_value(&t, e, 100) == 0);
    CU_ASSERT(e->value == at && e->vlen == 100 && memcmp(e->value, want, 100) == 0);
    mill__table_free(&t);
}

int main(void) {
    static CU_TestInfo tests[] = {
        {"resize_value: appends in place, moving log(n) times", test_value_resize},
        {"set_value: a growing value moves to power-of-two room", test_value_growth},
        {"sort: bytewise, shorter first", test_sort},
        {"filled in another table's slot order", test_fill_in_slot_order},
        {"max_cap: full at 3/4, grows past 15/16", test_max_cap},
        {"take: the next table starts with the storage of the last", test_take},
        {"filter, then take keeping: the kept keys are found, the dropped not", test_filter_and_keep},
        {"grow: the old slot array becomes arena", test_grow_recycles},
        {"take: spare blocks never used are unmapped", test_take_drops_unused_spare},
        CU_TEST_INFO_NULL};
    return mill_cunit_main("table", tests);
}
