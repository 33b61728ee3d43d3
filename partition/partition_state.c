/* partition_state.c -- saving and loading a partitioner's state, so that a
 * later reader (on any machine; `mpimill partition --state`) places keys
 * exactly as the job that saved it.
 *
 * Format version 1, every integer little-endian:
 *   off  0  8 bytes  magic "MILLPART"
 *   off  8  u32      version (1)
 *   off 12  u32      bits (table has 2^bits slots)
 *   off 16  u32      n (ranks)
 *   off 20  u32      reserved, 0
 *   off 24  u64      key hash seed (MILL_KEY_HASH_SEED)
 *   off 32  n x u32  weights, fixed point 16.16
 *           n x u8   excluded flags (0 or 1)
 *           2^bits x u32 owner rank of each slot
 *           u64      XXH3-64 (seed 0) of every byte before it
 */
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "mpimill/job.h"
#include "partition.h"

#include "partition_internal.h"

#define STATE_MAGIC "MILLPART"
#define STATE_VERSION 1u
#define STATE_HEADER 32u
#define STATE_MAX_WEIGHT ((uint64_t)(MILL_PARTITION_MAX_WEIGHT * 65536.0))

static void put32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *b) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static uint64_t get64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* Returns the state size for n ranks and 2^bits slots. */
static uint64_t state_size(uint32_t n, uint32_t bits) {
    return STATE_HEADER + UINT64_C(5) * n + (UINT64_C(4) << bits) + 8;
}

_Static_assert(MILL_PARTITION_STATE_MAX == STATE_HEADER + 5 * (size_t)MILL_PARTITION_MAX_RANKS +
                                               ((size_t)4 << MILL_PART_MAX_BITS) + 8,
               "MILL_PARTITION_STATE_MAX is state_size(MAX_RANKS, MAX_BITS)");

size_t mill_partition_state_size(const mill_partition *p) {
    return (size_t)state_size(p->n, p->bits);
}

int mill_partition_serialize(const mill_partition *p, void *buf, size_t len) {
    if (!p || !buf || len < mill_partition_state_size(p)) return MILL_EINVAL;
    unsigned char *b = buf;
    memcpy(b, STATE_MAGIC, 8);
    put32(b + 8, STATE_VERSION);
    put32(b + 12, p->bits);
    put32(b + 16, p->n);
    put32(b + 20, 0);
    put64(b + 24, MILL_KEY_HASH_SEED);
    unsigned char *q = b + STATE_HEADER;
    for (uint32_t r = 0; r < p->n; r++, q += 4) put32(q, p->weight[r]);
    for (uint32_t r = 0; r < p->n; r++) *q++ = p->excluded[r];
    uint64_t T = UINT64_C(1) << p->bits;
    for (uint64_t s = 0; s < T; s++, q += 4) put32(q, p->owner[s]);
    put64(q, XXH3_64bits(b, (size_t)(q - b)));
    return 0;
}

int mill_partition_deserialize(mill_partition **out, const void *buf, size_t len) {
    if (!out || !buf) return MILL_EINVAL;
    const unsigned char *b = buf;
    if (len < STATE_HEADER + 8 || memcmp(b, STATE_MAGIC, 8) != 0) return MILL_EFORMAT;
    uint32_t bits = get32(b + 12), n = get32(b + 16);
    if (get32(b + 8) != STATE_VERSION || get32(b + 20) != 0 || get64(b + 24) != MILL_KEY_HASH_SEED)
        return MILL_EFORMAT;
    if (bits < MILL_PART_MIN_BITS || bits > MILL_PART_MAX_BITS || n == 0 ||
        n > MILL_PARTITION_MAX_RANKS || (uint64_t)len != state_size(n, bits))
        return MILL_EFORMAT;
    if (get64(b + len - 8) != XXH3_64bits(b, len - 8)) return MILL_EFORMAT;

    mill_partition *p = mill__partition_alloc(n, bits);
    if (!p) return MILL_ENOMEM;
    const unsigned char *q = b + STATE_HEADER;
    for (uint32_t r = 0; r < n; r++, q += 4) {
        p->weight[r] = get32(q);
        if (p->weight[r] == 0 || p->weight[r] > STATE_MAX_WEIGHT) goto bad;
    }
    for (uint32_t r = 0; r < n; r++) {
        if (*q > 1) goto bad;
        p->excluded[r] = *q++;
        p->live += !p->excluded[r];
    }
    if (p->live == 0) goto bad;
    uint64_t T = UINT64_C(1) << bits;
    for (uint64_t s = 0; s < T; s++, q += 4) {
        uint32_t r = get32(q);
        if (r >= n || p->excluded[r]) goto bad;
        p->owner[s] = r;
        p->count[r]++;
    }
    /* The table agrees with the weights, as every change keeps it: each
     * live rank owns at least one slot, and about its share (within a slot
     * or two, more only where the table is at its cap and quotas clamp). A
     * table edited against its weights (its checksum made again) is refused. */
    double W = 0;
    for (uint32_t r = 0; r < n; r++) W += p->excluded[r] ? 0 : (double)p->weight[r];
    for (uint32_t r = 0; r < n; r++) {
        if (p->excluded[r]) continue;
        double exact = (double)T * p->weight[r] / W;
        if (p->count[r] == 0 || fabs((double)p->count[r] - exact) > 2 + exact / 100) goto bad;
    }
    *out = p;
    return 0;
bad:
    mill_partition_free(p);
    return MILL_EFORMAT;
}
