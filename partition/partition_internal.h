/* partition_internal.h -- the partitioner's state, shared by partition.c
 * (placement and changes) and partition_state.c (serialization). Not
 * installed; callers use partition.h.
 */
#ifndef MILL_PARTITION_INTERNAL_H
#define MILL_PARTITION_INTERNAL_H

#include <stdint.h>

#include "partition.h"

/* Weights are fixed point: MILL_PART_WEIGHT_ONE is 1.0. */
#define MILL_PART_WEIGHT_ONE UINT32_C(65536)

/* The table aims at MILL_PART_SLOTS_PER_UNIT slots for the live rank of
 * smallest weight, so that rounding a share to whole slots costs at most
 * 1/256 of that rank's share. */
#define MILL_PART_SLOTS_PER_UNIT UINT64_C(256)

/* Table sizes: 2^MIN_BITS .. 2^MAX_BITS slots (the cap is 64 MiB of table;
 * beyond it, shares are as exact as the cap allows). */
#define MILL_PART_MIN_BITS 8u
#define MILL_PART_MAX_BITS 24u

/* Invariants, true after every public call returns:
 *   1 <= n <= MILL_PARTITION_MAX_RANKS, 1 <= live <= n
 *   live == number of r < n with excluded[r] == 0
 *   MIN_BITS <= bits <= MAX_BITS, shift == 64 - bits, table has 2^bits slots
 *   for every slot s: owner[s] < n and excluded[owner[s]] == 0
 *   count[r] == number of slots s with owner[s] == r (0 for excluded r)
 *   1 <= weight[r] <= MILL_PARTITION_MAX_WEIGHT * 65536 for every r < n
 *   bits never decreases (doubling splits a slot into two children with the
 *   same owner, which moves no key; halving would move keys)
 * The state is a pure function of the sequence of calls that built it, and
 * create(n, w) equals create(1, w) followed by resize(2), ..., resize(n).
 */
struct mill_partition {
    uint32_t *owner;   /* [2^bits] owner rank of each slot */
    uint32_t shift;    /* 64 - bits: slot = hash >> shift */
    uint32_t bits;     /* log2 of the number of slots */
    uint32_t n;        /* ranks 0..n-1, excluded or not */
    uint32_t live;     /* ranks not excluded */
    uint32_t cap;      /* allocated length of weight, excluded, count */
    uint32_t *weight;  /* [n] fixed-point weight, kept while excluded */
    uint8_t *excluded; /* [n] 1 if excluded */
    uint64_t *count;   /* [n] slots owned */
};

/* Allocates a partitioner with room for n ranks and 2^bits slots; the
 * contents are zero. Returns NULL when out of memory. */
mill_partition *mill__partition_alloc(uint32_t n, uint32_t bits);

#endif
