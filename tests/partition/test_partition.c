/* test_partition.c -- CUnit tests of the consistent-hash partitioner:
 * golden placements, random change sequences checked against the definition
 * of minimal movement, balance and weight shares, state round trips and
 * refusal of bad states and bad arguments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "mpimill/job.h"
#include "partition.h"
#include "cunit_main.h"

/* splitmix64: the tests' own fixed-seed random source. */
static uint64_t rng_state;
static uint64_t rng(void) {
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Returns the owner of every slot of p's table at the finer of p's and
 * q's granularity, by looking up a representative hash per slot. */
static uint32_t *slot_owners(const mill_partition *p, uint64_t T) {
    uint32_t *o = malloc(T * sizeof *o);
    CU_ASSERT_FATAL(o != NULL);
    int bits = 0;
    while ((UINT64_C(1) << bits) < T) bits++;
    for (uint64_t s = 0; s < T; s++) o[s] = mill_partition_lookup(p, s << (64 - bits));
    return o;
}

/* Serializes p into a new buffer. */
static unsigned char *save(const mill_partition *p, size_t *len) {
    *len = mill_partition_state_size(p);
    unsigned char *b = malloc(*len);
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT_FATAL(mill_partition_serialize(p, b, *len) == 0);
    return b;
}

/* Returns 1 when p and q have byte-identical states. */
static int same_state(const mill_partition *p, const mill_partition *q) {
    size_t a, b;
    unsigned char *x = save(p, &a), *y = save(q, &b);
    int same = a == b && memcmp(x, y, a) == 0;
    free(x);
    free(y);
    return same;
}

/* Checks the invariants visible through the API: owners live, slot counts
 * consistent, every live rank's slot share within 1% (relative) of its
 * weight share. Returns the largest relative share error. */
static double check_balance(const mill_partition *p) {
    uint32_t n = mill_partition_size(p);
    uint64_t T = mill_partition_slots(p), sum = 0;
    double W = 0;
    uint32_t live = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (mill_partition_is_excluded(p, r)) {
            CU_ASSERT(mill_partition_owned(p, r) == 0);
            continue;
        }
        live++;
        W += mill_partition_weight(p, r);
        sum += mill_partition_owned(p, r);
    }
    CU_ASSERT(live == mill_partition_live(p));
    CU_ASSERT(sum == T);
    double worst = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (mill_partition_is_excluded(p, r)) continue;
        double want = mill_partition_weight(p, r) / W;
        double got = (double)mill_partition_owned(p, r) / (double)T;
        double err = fabs(got / want - 1.0);
        if (err > worst) worst = err;
        if (err > 0.01 && getenv("MILL_DEBUG"))
            printf("rank %u owns %llu of %llu, ideal %.2f\n", r, (unsigned long long)mill_partition_owned(p, r),
                   (unsigned long long)T, want * (double)T);
    }
    CU_ASSERT(worst <= 0.01);
    return worst;
}

/* ---- golden placements ---------------------------------------------- */

static const char *golden_keys[20] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"};

/* Builds golden configuration c (0..4). */
static mill_partition *golden_config(int c) {
    mill_partition *p = NULL;
    static const double w16[16] = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4};
    switch (c) {
    case 0: CU_ASSERT_FATAL(mill_partition_create(&p, 3, NULL) == 0); break;
    case 1: CU_ASSERT_FATAL(mill_partition_create(&p, 16, w16) == 0); break;
    case 2:
        CU_ASSERT_FATAL(mill_partition_create(&p, 16, NULL) == 0);
        CU_ASSERT_FATAL(mill_partition_exclude(p, 3) == 0);
        CU_ASSERT_FATAL(mill_partition_exclude(p, 7) == 0);
        break;
    case 3:
        CU_ASSERT_FATAL(mill_partition_create(&p, 5, NULL) == 0);
        CU_ASSERT_FATAL(mill_partition_resize(p, 8, NULL) == 0);
        CU_ASSERT_FATAL(mill_partition_set_weight(p, 2, 2.5) == 0);
        break;
    default:
        CU_ASSERT_FATAL(mill_partition_create(&p, 1000, NULL) == 0);
        CU_ASSERT_FATAL(mill_partition_resize(p, 999, NULL) == 0);
        break;
    }
    return p;
}

/* Expected owner of golden_keys[k] under configuration c: computed once by
 * this implementation and frozen; any change here moves users' data. */
static const uint32_t golden_rank[5][20] = {
    {0, 2, 2, 0, 1, 2, 2, 1, 1, 0, 0, 2, 1, 1, 1, 1, 2, 2, 2, 1},
    {11, 6, 14, 11, 3, 11, 1, 7, 9, 9, 7, 11, 3, 5, 6, 11, 13, 1, 11, 15},
    {0, 9, 15, 9, 1, 9, 2, 14, 6, 4, 14, 11, 1, 1, 5, 9, 12, 2, 11, 12},
    {0, 7, 2, 3, 1, 2, 2, 7, 6, 3, 3, 7, 1, 1, 5, 1, 5, 2, 7, 6},
    {26, 230, 974, 438, 484, 469, 143, 810, 841, 191, 108, 784, 457, 420, 427, 468, 789, 371, 786, 795},
};

static void test_golden(void) {
    /* XXH3-64 with the fixed seed: the hash itself must never change. */
    CU_ASSERT(mill_key_hash("", 0) == UINT64_C(0x077b30efedb5b58e));
    CU_ASSERT(mill_key_hash("alpha", 5) == UINT64_C(0xf675c97bfcfcaecc));
    /* Hand check of config 0 ("alpha" is slot 985 of 1024, 0x3d9) is in
     * docs/partitioner.md. */
    for (int c = 0; c < 5; c++) {
        mill_partition *p = golden_config(c);
        for (int k = 0; k < 20; k++) {
            uint32_t r = mill_partition_lookup(p, mill_key_hash(golden_keys[k], strlen(golden_keys[k])));
            if (getenv("MILL_PRINT_GOLDEN")) printf("%s%u%s", k ? " " : "    {", r, k == 19 ? "},\n" : ",");
            CU_ASSERT(r == golden_rank[c][k]);
        }
        mill_partition_free(p);
    }
}

/* ---- random change sequences against the definition ------------------ */

enum op { OP_EXCLUDE, OP_RESTORE, OP_RESIZE, OP_WEIGHT, OP_COUNT };

#define SAMPLE_KEYS 100000

static void test_random_sequences(void) {
    rng_state = getenv("MILL_SEED") ? strtoull(getenv("MILL_SEED"), NULL, 10) : 20240611;
    uint64_t *keys = malloc(SAMPLE_KEYS * sizeof *keys);
    uint32_t *before = malloc(SAMPLE_KEYS * sizeof *before);
    CU_ASSERT_FATAL(keys && before);
    for (int i = 0; i < SAMPLE_KEYS; i++) keys[i] = rng();

    mill_partition *p;
    CU_ASSERT_FATAL(mill_partition_create(&p, 8, NULL) == 0);
    double worst_share = 0, worst_excess = 0;
    int steps = 0, applied[OP_COUNT] = {0};
    for (steps = 0; steps < 300; steps++) {
        uint32_t n = mill_partition_size(p);
        /* Old state: weights, exclusion, ideal shares, owners. */
        double *oldw = calloc(n, sizeof *oldw), oldW = 0;
        for (uint32_t r = 0; r < n; r++)
            if (!mill_partition_is_excluded(p, r)) oldW += oldw[r] = mill_partition_weight(p, r);
        for (int i = 0; i < SAMPLE_KEYS; i++) before[i] = mill_partition_lookup(p, keys[i]);
        mill_partition *old;
        CU_ASSERT_FATAL(mill_partition_clone(&old, p) == 0);
        uint64_t oldT = mill_partition_slots(p);

        int op = (int)(rng() % OP_COUNT);
        uint32_t x = (uint32_t)(rng() % n), m = n;
        double w = 0;
        int rc;
        switch (op) {
        case OP_EXCLUDE:
            rc = mill_partition_exclude(p, x);
            CU_ASSERT(rc == 0 || (rc == MILL_ESTATE && (mill_partition_is_excluded(p, x) ||
                                                         mill_partition_live(p) == 1)));
            break;
        case OP_RESTORE:
            for (uint32_t k = 0; k < n; k++) /* prefer an excluded rank */
                if (mill_partition_is_excluded(p, (x + k) % n) == 1) {
                    x = (x + k) % n;
                    break;
                }
            rc = mill_partition_restore(p, x);
            CU_ASSERT(rc == 0 || (rc == MILL_ESTATE && !mill_partition_is_excluded(p, x)));
            break;
        case OP_RESIZE: {
            m = 1 + (uint32_t)(rng() % 200);
            double nw[200];
            for (int k = 0; k < 200; k++) nw[k] = 0.5 + (double)(rng() % 8) * 0.25;
            rc = mill_partition_resize(p, m, rng() % 2 ? nw : NULL);
            if (rc == MILL_ESTATE) m = n;
            break;
        }
        default:
            w = 0.25 + (double)(rng() % 16) * 0.25;
            rc = mill_partition_set_weight(p, x, w);
            break;
        }
        CU_ASSERT(rc == 0 || rc == MILL_ESTATE);
        if (getenv("MILL_DEBUG")) printf("step %d op %d x %u m %u w %.2f rc %d\n", steps, op, x, m, w, rc);
        if (rc != 0) CU_ASSERT(same_state(old, p)); /* a refused change changes nothing */
        if (rc == 0) applied[op]++;

        /* Every key: owner live; a move is allowed only by the definition. */
        uint32_t nn = mill_partition_size(p);
        CU_ASSERT(nn == m || rc != 0);
        long bad = 0, moved = 0;
        for (int i = 0; i < SAMPLE_KEYS; i++) {
            uint32_t o = before[i], r = mill_partition_lookup(p, keys[i]);
            if (r >= nn || mill_partition_is_excluded(p, r)) bad++;
            if (o == r) continue;
            moved++;
            int ok = 0;
            if (rc == 0 && op == OP_EXCLUDE) ok = o == x;
            if (rc == 0 && op == OP_RESTORE) ok = r == x;
            if (rc == 0 && op == OP_RESIZE) ok = m > n ? r >= n : o >= m;
            if (rc == 0 && op == OP_WEIGHT) ok = w > oldw[x] ? r == x : o == x;
            bad += !ok;
        }
        CU_ASSERT(bad == 0);

        /* Moved share (exact, over slots) against the optimum, which is
         * sum over ranks of max(0, old ideal share - new ideal share). */
        double newW = 0, opt = 0;
        for (uint32_t r = 0; r < nn; r++)
            if (!mill_partition_is_excluded(p, r)) newW += mill_partition_weight(p, r);
        for (uint32_t r = 0; r < n; r++) {
            double was = oldw[r] / oldW;
            double now = r < nn && !mill_partition_is_excluded(p, r) ? mill_partition_weight(p, r) / newW : 0;
            if (was > now) opt += was - now;
        }
        uint64_t T = mill_partition_slots(p);
        uint32_t *so = slot_owners(old, T), *sn = slot_owners(p, T);
        uint64_t mv = 0;
        for (uint64_t s = 0; s < T; s++) mv += so[s] != sn[s];
        /* Whole slots: each rank's count is within ~1 slot (of the old table,
         * so 2^k slots after the table grew by 2^k) of its ideal, so the
         * excess over the optimum is a few slots per rank the change concerns. */
        uint64_t changed = op == OP_RESIZE ? (n > nn ? n - nn : nn - n) : 1;
        double grow = (double)T / (double)oldT;
        double excess = fabs((double)mv - opt * (double)T);
        double allowed = 2.0 * grow * (double)changed + 1.0;
        if (excess / (double)changed / grow > worst_excess) worst_excess = excess / (double)changed / grow;
        CU_ASSERT(excess <= allowed);
        if (rc != 0) CU_ASSERT(mv == 0 && moved == 0);
        free(so);
        free(sn);

        double ws = check_balance(p);
        if (ws > worst_share) worst_share = ws;
        mill_partition_free(old);
        free(oldw);
    }
    for (int k = 0; k < OP_COUNT; k++) CU_ASSERT(applied[k] >= 20); /* the sequence exercised every op */
    printf("\n    300 steps (exclude %d, restore %d, resize %d, weight %d): worst share error %.5f, "
           "worst |moved-optimal| %.2f slots per changed rank\n",
           applied[0], applied[1], applied[2], applied[3], worst_share, worst_excess);
    mill_partition_free(p);
    free(keys);
    free(before);
}

/* ---- balance and weights --------------------------------------------- */

static void test_balance(void) {
    static const uint32_t sizes[] = {1, 2, 3, 16, 100, 128, 1000, 1024, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        mill_partition *p;
        CU_ASSERT_FATAL(mill_partition_create(&p, sizes[i], NULL) == 0);
        uint64_t T = mill_partition_slots(p), mx = 0;
        for (uint32_t r = 0; r < sizes[i]; r++)
            if (mill_partition_owned(p, r) > mx) mx = mill_partition_owned(p, r);
        CU_ASSERT((double)mx / ((double)T / sizes[i]) <= 1.05);
        check_balance(p);
        mill_partition_free(p);
    }
    /* Real keys at n = 16: counted load max/mean <= 1.05. */
    mill_partition *p;
    CU_ASSERT_FATAL(mill_partition_create(&p, 16, NULL) == 0);
    uint64_t load[16] = {0};
    char key[32];
    for (int i = 0; i < 1000000; i++) {
        int len = snprintf(key, sizeof key, "user:%d", i);
        load[mill_partition_lookup(p, mill_key_hash(key, (size_t)len))]++;
    }
    uint64_t mx = 0;
    for (int r = 0; r < 16; r++) mx = load[r] > mx ? load[r] : mx;
    CU_ASSERT((double)mx / (1000000.0 / 16) <= 1.05);
    mill_partition_free(p);
}

static void test_weights(void) {
    double w[50];
    for (int r = 0; r < 50; r++) w[r] = 1 + r % 10;
    mill_partition *p;
    CU_ASSERT_FATAL(mill_partition_create(&p, 50, w) == 0);
    check_balance(p);
    /* Uneven weights from the user are rounded to 1/65536, deterministically. */
    CU_ASSERT(mill_partition_weight(p, 3) == 4.0);
    CU_ASSERT(mill_partition_set_weight(p, 3, 0.1) == 0);
    CU_ASSERT(mill_partition_weight(p, 3) == 6554.0 / 65536.0);
    check_balance(p);
    /* A rank of tiny weight next to heavy ones still gets its exact share. */
    CU_ASSERT(mill_partition_set_weight(p, 4, 0.01) == 0);
    check_balance(p);
    /* Sample keys follow the slot shares: within 1% of the weight share
     * (plus sampling noise at 10^6 keys). */
    uint64_t load[50] = {0};
    rng_state = 7;
    for (int i = 0; i < 1000000; i++) load[mill_partition_lookup(p, rng())]++;
    double W = 0;
    for (int r = 0; r < 50; r++) W += mill_partition_weight(p, r);
    for (int r = 0; r < 50; r++) {
        if (r == 4) continue; /* 0.01/W share: too few sample keys for 1% */
        double want = mill_partition_weight(p, r) / W, got = (double)load[r] / 1e6;
        CU_ASSERT(fabs(got / want - 1) <= 0.01 + 4 * sqrt(want * 1e6) / (want * 1e6));
    }
    mill_partition_free(p);
}

/* ---- determinism, state ---------------------------------------------- */

static mill_partition *busy_partition(void) {
    mill_partition *p;
    double w[6] = {1, 1, 2, 0.5, 3, 1};
    CU_ASSERT_FATAL(mill_partition_create(&p, 6, w) == 0);
    CU_ASSERT_FATAL(mill_partition_exclude(p, 2) == 0);
    CU_ASSERT_FATAL(mill_partition_resize(p, 9, NULL) == 0);
    CU_ASSERT_FATAL(mill_partition_set_weight(p, 0, 4) == 0);
    CU_ASSERT_FATAL(mill_partition_exclude(p, 7) == 0);
    return p;
}

static void test_determinism(void) {
    mill_partition *a = busy_partition(), *b = busy_partition();
    CU_ASSERT(same_state(a, b));
    mill_partition_free(a);
    mill_partition_free(b);
}

/* Excluding a set of ranks gives one placement, whatever the list's order. */
static void test_exclude_list(void) {
    double w[5] = {1, 2, 1, 3, 0.5};
    uint32_t x31[2] = {3, 1}, x13[2] = {1, 3}, bad[3] = {4, 9, 0}, failed = 0;
    mill_partition *a, *b;
    CU_ASSERT_FATAL(mill_partition_create(&a, 5, w) == 0);
    CU_ASSERT_FATAL(mill_partition_create(&b, 5, w) == 0);
    CU_ASSERT(mill_partition_exclude_list(a, x31, 2, NULL) == 0);
    CU_ASSERT(mill_partition_exclude_list(b, x13, 2, NULL) == 0);
    CU_ASSERT(x31[0] == 1 && x31[1] == 3); /* sorted in place */
    CU_ASSERT(same_state(a, b));
    CU_ASSERT(mill_partition_exclude_list(a, bad, 3, &failed) == MILL_EINVAL && failed == 9);
    CU_ASSERT(mill_partition_is_excluded(a, 0) == 1 && mill_partition_is_excluded(a, 4) == 1);
    CU_ASSERT(mill_partition_exclude_list(a, NULL, 0, NULL) == 0);
    mill_partition_free(a);
    mill_partition_free(b);
}

static void test_round_trip(void) {
    mill_partition *p = busy_partition(), *q = NULL;
    size_t len;
    unsigned char *buf = save(p, &len);
    CU_ASSERT_FATAL(mill_partition_deserialize(&q, buf, len) == 0);
    CU_ASSERT(mill_partition_size(q) == 9 && mill_partition_live(q) == 7);
    CU_ASSERT(mill_partition_is_excluded(q, 2) == 1 && mill_partition_is_excluded(q, 7) == 1);
    CU_ASSERT(mill_partition_weight(q, 0) == 4.0 && mill_partition_weight(q, 3) == 0.5);
    CU_ASSERT(same_state(p, q));
    rng_state = 99;
    for (int i = 0; i < 100000; i++) {
        uint64_t h = rng();
        CU_ASSERT_FATAL(mill_partition_lookup(p, h) == mill_partition_lookup(q, h));
    }
    /* The loaded state evolves exactly like the original. */
    CU_ASSERT(mill_partition_restore(p, 2) == 0 && mill_partition_restore(q, 2) == 0);
    CU_ASSERT(mill_partition_resize(p, 4, NULL) == 0 && mill_partition_resize(q, 4, NULL) == 0);
    CU_ASSERT(same_state(p, q));
    /* A too-small buffer is refused. */
    CU_ASSERT(mill_partition_serialize(p, buf, 10) == MILL_EINVAL);
    free(buf);
    mill_partition_free(p);
    mill_partition_free(q);
}

/* Rewrites the trailing checksum so that only the content check can fail. */
static void reseal(unsigned char *b, size_t len) {
    uint64_t h = XXH3_64bits(b, len - 8);
    for (int i = 0; i < 8; i++) b[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void test_bad_state(void) {
    mill_partition *p = busy_partition(), *q = NULL;
    size_t len;
    unsigned char *buf = save(p, &len);
    unsigned char *c = malloc(len + 1);
    CU_ASSERT_FATAL(c != NULL);
    /* Every truncation. */
    for (size_t l = 0; l < len; l++) CU_ASSERT(mill_partition_deserialize(&q, buf, l) == MILL_EFORMAT);
    /* Trailing garbage. */
    memcpy(c, buf, len);
    c[len] = 0;
    CU_ASSERT(mill_partition_deserialize(&q, c, len + 1) == MILL_EFORMAT);
    /* Every single flipped bit in the header and some in the body. */
    for (size_t i = 0; i < len; i += i < 64 ? 1 : 97)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(c, buf, len);
            c[i] ^= (unsigned char)(1u << bit);
            CU_ASSERT(mill_partition_deserialize(&q, c, len) == MILL_EFORMAT);
        }
    /* Foreign: other magic, version or seed, even with a valid checksum. */
    static const size_t fields[] = {0, 8, 20, 24};
    for (size_t i = 0; i < 4; i++) {
        memcpy(c, buf, len);
        c[fields[i]] ^= 1;
        reseal(c, len);
        CU_ASSERT(mill_partition_deserialize(&q, c, len) == MILL_EFORMAT);
    }
    /* Inconsistent content with a valid checksum: owner out of range, owner
     * excluded, excluded flag 2, zero weight, every rank excluded. */
    size_t n = 9, tab = 32 + 5 * n;
    struct { size_t off; unsigned char v; } bad[] = {
        {tab, 9}, {tab, 2}, {32 + 4 * n, 2}, {32, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(c, buf, len);
        if (bad[i].off == 32) memset(c + 32, 0, 4);
        else c[bad[i].off] = bad[i].v;
        reseal(c, len);
        CU_ASSERT(mill_partition_deserialize(&q, c, len) == MILL_EFORMAT);
    }
    memcpy(c, buf, len);
    memset(c + 32 + 4 * n, 1, n);
    reseal(c, len);
    CU_ASSERT(mill_partition_deserialize(&q, c, len) == MILL_EFORMAT);
    /* A table that contradicts its weights: every slot rank 0's (the
     * others, live, own none); rank 0 given five times its weight. */
    memcpy(c, buf, len);
    for (size_t s = 0; s < (len - tab - 8) / 4; s++) memset(c + tab + 4 * s, 0, 4);
    reseal(c, len);
    CU_ASSERT(mill_partition_deserialize(&q, c, len) == MILL_EFORMAT);
    memcpy(c, buf, len);
    uint32_t w0;
    memcpy(&w0, c + 32, 4);
    w0 *= 5;
    memcpy(c + 32, &w0, 4);
    reseal(c, len);
    CU_ASSERT(mill_partition_deserialize(&q, c, len) == MILL_EFORMAT);
    /* The unmodified state still loads (the checks above are not vacuous). */
    memcpy(c, buf, len);
    reseal(c, len);
    CU_ASSERT(mill_partition_deserialize(&q, c, len) == 0);
    mill_partition_free(q);
    CU_ASSERT(mill_partition_deserialize(NULL, buf, len) == MILL_EINVAL);
    free(c);
    free(buf);
    mill_partition_free(p);
}

/* ---- bad arguments ------------------------------------------------------ */

static void test_bad_arguments(void) {
    mill_partition *p = NULL;
    double w3[3] = {1, 1, 1};
    CU_ASSERT(mill_partition_create(NULL, 3, NULL) == MILL_EINVAL);
    CU_ASSERT(mill_partition_create(&p, 0, NULL) == MILL_EINVAL);
    CU_ASSERT(mill_partition_create(&p, MILL_PARTITION_MAX_RANKS + 1, NULL) == MILL_EINVAL);
    const double badw[] = {0.0, -1.0, NAN, INFINITY, -INFINITY, 1e-9, 65536.0};
    for (size_t i = 0; i < sizeof badw / sizeof *badw; i++) {
        w3[1] = badw[i];
        CU_ASSERT(mill_partition_create(&p, 3, w3) == MILL_EINVAL);
    }
    CU_ASSERT(p == NULL);
    w3[1] = MILL_PARTITION_MAX_WEIGHT;
    CU_ASSERT_FATAL(mill_partition_create(&p, 3, w3) == 0);
    check_balance(p);
    mill_partition_free(p);

    CU_ASSERT_FATAL(mill_partition_create(&p, 4, NULL) == 0);
    mill_partition *orig;
    CU_ASSERT_FATAL(mill_partition_clone(&orig, p) == 0);
    CU_ASSERT(mill_partition_exclude(p, 4) == MILL_EINVAL);
    CU_ASSERT(mill_partition_restore(p, 4) == MILL_EINVAL);
    CU_ASSERT(mill_partition_restore(p, 1) == MILL_ESTATE);
    CU_ASSERT(mill_partition_set_weight(p, 4, 1.0) == MILL_EINVAL);
    CU_ASSERT(mill_partition_set_weight(p, 0, NAN) == MILL_EINVAL);
    CU_ASSERT(mill_partition_set_weight(p, 0, 0.0) == MILL_EINVAL);
    CU_ASSERT(mill_partition_set_weight(p, 0, -2.0) == MILL_EINVAL);
    CU_ASSERT(mill_partition_resize(p, 0, NULL) == MILL_EINVAL);
    CU_ASSERT(mill_partition_resize(p, MILL_PARTITION_MAX_RANKS + 1, NULL) == MILL_EINVAL);
    double nw[2] = {1, NAN};
    CU_ASSERT(mill_partition_resize(p, 6, nw) == MILL_EINVAL);
    CU_ASSERT(mill_partition_is_excluded(p, 4) == MILL_EINVAL);
    CU_ASSERT(same_state(orig, p)); /* refused calls changed nothing */

    CU_ASSERT(mill_partition_exclude(p, 1) == 0);
    CU_ASSERT(mill_partition_exclude(p, 1) == MILL_ESTATE); /* twice */
    CU_ASSERT(mill_partition_exclude(p, 0) == 0);
    CU_ASSERT(mill_partition_resize(p, 2, NULL) == MILL_ESTATE); /* only excluded ranks left */
    CU_ASSERT(mill_partition_exclude(p, 2) == 0);
    CU_ASSERT(mill_partition_live(p) == 1);
    mill_partition *one;
    CU_ASSERT_FATAL(mill_partition_clone(&one, p) == 0);
    CU_ASSERT(mill_partition_exclude(p, 3) == MILL_ESTATE); /* every rank */
    CU_ASSERT(same_state(one, p));
    for (int i = 0; i < 1000; i++) CU_ASSERT(mill_partition_lookup(p, rng()) == 3);
    /* Weight of an excluded rank is kept for its restore. */
    CU_ASSERT(mill_partition_set_weight(p, 0, 3.0) == 0);
    CU_ASSERT(mill_partition_restore(p, 0) == 0);
    CU_ASSERT(mill_partition_owned(p, 0) == mill_partition_slots(p) * 3 / 4);
    mill_partition_free(one);
    mill_partition_free(orig);
    mill_partition_free(p);
    mill_partition_free(NULL);
}

/* Exclude then restore returns to a balanced table and moves only the
 * restored rank's share; growing the table moves nothing. */
static void test_restore_and_growth(void) {
    mill_partition *p, *q;
    CU_ASSERT_FATAL(mill_partition_create(&p, 2, NULL) == 0);
    uint64_t T0 = mill_partition_slots(p);
    CU_ASSERT_FATAL(mill_partition_clone(&q, p) == 0);
    CU_ASSERT(mill_partition_resize(p, 64, NULL) == 0); /* needs a larger table */
    CU_ASSERT(mill_partition_slots(p) > T0);
    check_balance(p);
    /* Growing the table moved no key: the keys still on ranks 0 and 1 are
     * the ones they had. */
    rng_state = 5;
    long kept = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t h = rng();
        uint32_t r = mill_partition_lookup(p, h);
        if (r < 2) {
            kept++;
            CU_ASSERT_FATAL(r == mill_partition_lookup(q, h));
        }
    }
    CU_ASSERT(kept > 100000 * 2 / 64 * 0.9);
    CU_ASSERT(mill_partition_resize(p, 2, NULL) == 0);
    CU_ASSERT(mill_partition_slots(p) > T0); /* the table never shrinks */
    check_balance(p);
    /* Exclude then restore: balanced again, only rank 1's share moved. */
    CU_ASSERT(mill_partition_exclude(p, 1) == 0);
    CU_ASSERT(mill_partition_owned(p, 0) == mill_partition_slots(p));
    CU_ASSERT(mill_partition_restore(p, 1) == 0);
    CU_ASSERT(mill_partition_owned(p, 1) == mill_partition_slots(p) / 2);
    check_balance(p);
    mill_partition_free(p);
    mill_partition_free(q);
}

/* Stateless runs: create(N) then resize(M) is exactly create(M), and
 * between create(N) and create(M) only the keys of ranks >= min(N, M) move,
 * the optimal |N-M|/max(N,M) share. Also with weights sharing a prefix. */
static void test_create_consistency(void) {
    static const uint32_t pairs[][2] = {{1, 2}, {2, 3}, {3, 4}, {16, 24}, {100, 101}, {128, 192}, {500, 1024}};
    double w[1024];
    for (int i = 0; i < 1024; i++) w[i] = 1 + i % 5 * 0.5;
    rng_state = 11;
    uint64_t *keys = malloc(200000 * sizeof *keys);
    CU_ASSERT_FATAL(keys != NULL);
    for (int i = 0; i < 200000; i++) keys[i] = rng();
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        for (int weighted = 0; weighted < 2; weighted++) {
            uint32_t N = pairs[i][0], M = pairs[i][1];
            mill_partition *a, *b;
            CU_ASSERT_FATAL(mill_partition_create(&a, N, weighted ? w : NULL) == 0);
            CU_ASSERT_FATAL(mill_partition_create(&b, M, weighted ? w : NULL) == 0);
            uint64_t T = mill_partition_slots(b);
            uint32_t *sa = slot_owners(a, T), *sb = slot_owners(b, T);
            uint64_t moved = 0, bad = 0;
            for (uint64_t s = 0; s < T; s++) {
                if (sa[s] == sb[s]) continue;
                moved++;
                bad += sb[s] < N; /* may only move to a rank that N lacks */
            }
            CU_ASSERT(bad == 0);
            double W = 0, Wn = 0;
            for (uint32_t r = 0; r < M; r++) W += weighted ? w[r] : 1;
            for (uint32_t r = N; r < M; r++) Wn += weighted ? w[r] : 1;
            CU_ASSERT(fabs((double)moved - (double)T * Wn / W) <= 2.0 * (M - N) + 1);
            check_balance(a);
            check_balance(b);
            /* On real keys too, both directions. */
            long kb = 0;
            for (int k = 0; k < 200000; k++) {
                uint32_t ra = mill_partition_lookup(a, keys[k]), rb = mill_partition_lookup(b, keys[k]);
                kb += ra != rb && rb < N;
            }
            CU_ASSERT(kb == 0);
            CU_ASSERT(mill_partition_resize(a, M, weighted ? w + N : NULL) == 0);
            CU_ASSERT(same_state(a, b));
            free(sa);
            free(sb);
            mill_partition_free(a);
            mill_partition_free(b);
        }
    }
    free(keys);
}

static CU_TestInfo tests[] = {
    {"golden placements", test_golden},
    {"random change sequences", test_random_sequences},
    {"balance", test_balance},
    {"weights", test_weights},
    {"determinism", test_determinism},
    {"round trip", test_round_trip},
    {"exclusion lists", test_exclude_list},
    {"bad states refused", test_bad_state},
    {"bad arguments", test_bad_arguments},
    {"restore and growth", test_restore_and_growth},
    {"create(N) vs create(M)", test_create_consistency},
    CU_TEST_INFO_NULL,
};

int main(void) {
    return mill_cunit_main("partition", tests);
}
