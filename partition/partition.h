/* partition.h -- consistent-hash placement of keys on ranks.
 *
 * Pure C, no MPI. The runtime's shuffle asks mill_partition_lookup() for the
 * owner rank of every record. Placement depends only on the key hash and the
 * partitioner's state, never on the machine, compiler or run.
 *
 * The partitioner is a slot table: the top bits of the key hash select one of
 * 2^bits slots and each slot names its owner rank. Changes (exclude, restore,
 * resize, weight change) reassign the fewest slots that bring every live rank
 * to its weight share, and only between the ranks the change concerns, so a
 * key moves only when it must. A state saved with mill_partition_serialize()
 * and loaded with mill_partition_deserialize() reproduces the placement
 * exactly (`mpimill partition --state` reads a job's from its manifest; a
 * run does not load one); see docs/partitioner.md.
 *
 * All functions that can fail return 0 or a negative MILL_E* code
 * (see <mpimill/job.h>), like the rest of mpimill. A failed call leaves the
 * partitioner unchanged.
 */
#ifndef MILL_PARTITION_H
#define MILL_PARTITION_H

#include <stddef.h>
#include <stdint.h>

typedef struct mill_partition mill_partition;

/* Seed of the XXH3-64 key hash. Fixed forever: changing it moves every key. */
#define MILL_KEY_HASH_SEED UINT64_C(0x6d70696d696c6c31) /* "mpimill1" */

/* Largest number of ranks a partitioner accepts. */
#define MILL_PARTITION_MAX_RANKS UINT32_C(65536)

/* Largest serialized state: that many ranks and 2^24 slots. */
#define MILL_PARTITION_STATE_MAX ((size_t)32 + 5 * (size_t)MILL_PARTITION_MAX_RANKS + ((size_t)4 << 24) + 8)

/* Largest weight; weights are stored as fixed point with 16 fractional bits
 * (w * 65536 rounded to nearest, halves up), so the smallest is 2^-17. */
#define MILL_PARTITION_MAX_WEIGHT 65535.0

/* Parses the comma-separated list of exactly n weights ("1,2.5,1": decimal
 * numbers, no signs or spaces) into weights[0..n-1]. Returns 0, or
 * MILL_EINVAL with a one-line reason in err (naming the item, and for a
 * weight out of range, the range). */
int mill_partition_parse_weights(const char *list, uint32_t n, double *weights, char *err, size_t errlen);

/* Returns the XXH3-64 hash of a key with MILL_KEY_HASH_SEED. */
uint64_t mill_key_hash(const void *key, size_t len);

/* Creates a partitioner over ranks 0..n-1, none excluded. weights may be NULL
 * (all 1.0) or point to n weights, each in (0, MILL_PARTITION_MAX_WEIGHT].
 * The result is create(1) followed by adding ranks 1..n-1 one at a time, so
 * between create(N) and create(M) (same weights for the common ranks) only
 * the optimal |N-M|/max(N,M) share of keys changes owner, with no saved
 * state. Costs O(T log n) with equal weights, O(n^2 + T log n) otherwise,
 * T being the table size (about 256..512 slots per rank).
 * Returns 0, MILL_EINVAL (out NULL, n == 0 or above MILL_PARTITION_MAX_RANKS,
 * a weight out of range or NaN) or MILL_ENOMEM. */
int mill_partition_create(mill_partition **out, uint32_t n, const double *weights);

/* Creates an independent copy of p in *out. Returns 0, MILL_EINVAL or
 * MILL_ENOMEM. */
int mill_partition_clone(mill_partition **out, const mill_partition *p);

/* Frees a partitioner; NULL is allowed. */
void mill_partition_free(mill_partition *p);

/* Returns the owner rank of a key hash: always a rank that is not excluded. */
uint32_t mill_partition_lookup(const mill_partition *p, uint64_t hash);

/* Returns the number of ranks (including excluded ones). */
uint32_t mill_partition_size(const mill_partition *p);

/* Returns the number of ranks that are not excluded (at least 1). */
uint32_t mill_partition_live(const mill_partition *p);

/* Returns 1 if rank is excluded, 0 if it is live, MILL_EINVAL if rank is out
 * of range. */
int mill_partition_is_excluded(const mill_partition *p, uint32_t rank);

/* Returns the stored weight of rank (after fixed-point rounding), also for an
 * excluded rank; 0.0 if rank is out of range. */
double mill_partition_weight(const mill_partition *p, uint32_t rank);

/* Returns the number of slots in the table (a power of two). */
uint64_t mill_partition_slots(const mill_partition *p);

/* Returns the number of slots rank owns (0 when excluded or out of range).
 * The rank's share of uniformly hashed keys is owned / slots. */
uint64_t mill_partition_owned(const mill_partition *p, uint32_t rank);

/* Excludes rank: its slots go to the other live ranks, most under their
 * weight share first, and no other key moves. Returns 0, MILL_EINVAL (rank
 * out of range) or MILL_ESTATE (already excluded, or the last live rank),
 * or MILL_ENOMEM. */
int mill_partition_exclude(mill_partition *p, uint32_t rank);

/* Excludes the n ranks of the list, in ascending order (the list is sorted
 * in place): which ranks take an excluded rank's slots depends on the
 * exclusions before it, so a set of ranks listed in another order would
 * place keys differently. Returns 0 or the error of the first rank that
 * cannot be excluded, whose number goes to *failed (when not NULL); the
 * ranks before it stay excluded. */
int mill_partition_exclude_list(mill_partition *p, uint32_t *ranks, size_t n, uint32_t *failed);

/* Restores an excluded rank with its stored weight: it takes its weight share
 * from the ranks most over their share, and no other key moves. Returns 0,
 * MILL_EINVAL (rank out of range), MILL_ESTATE (rank not excluded) or
 * MILL_ENOMEM. */
int mill_partition_restore(mill_partition *p, uint32_t rank);

/* Changes the number of ranks to m. Growing adds live ranks n..m-1, one at
 * a time, with weights new_weights[0..m-n-1] (or 1.0 each when new_weights
 * is NULL); each takes its share from the ranks most over their share, so
 * create(N) then resize(M) is exactly create(M). Shrinking drops
 * ranks m..n-1; their slots go to the remaining live ranks most under their
 * share. Either way, only keys to a new or from a dropped rank move. Returns
 * 0, MILL_EINVAL (m == 0, m above MILL_PARTITION_MAX_RANKS, bad weight),
 * MILL_ESTATE (every remaining rank excluded) or MILL_ENOMEM. */
int mill_partition_resize(mill_partition *p, uint32_t m, const double *new_weights);

/* Sets rank's weight. For a live rank, slots move only between rank and the
 * others (most over, or most under, their share first). An excluded rank
 * just keeps the weight for mill_partition_restore(). Returns 0, MILL_EINVAL
 * (rank out of range, weight out of range or NaN) or MILL_ENOMEM. */
int mill_partition_set_weight(mill_partition *p, uint32_t rank, double weight);

/* Returns the number of bytes mill_partition_serialize() writes for p. */
size_t mill_partition_state_size(const mill_partition *p);

/* Writes p's state (versioned, little-endian, with magic and checksum; see
 * docs/partitioner.md) to buf. Returns 0, or MILL_EINVAL when p or buf is
 * NULL or len is smaller than mill_partition_state_size(p). */
int mill_partition_serialize(const mill_partition *p, void *buf, size_t len);

/* Creates a partitioner from len bytes written by mill_partition_serialize().
 * Returns 0, MILL_EINVAL (out or buf NULL), MILL_EFORMAT (truncated, foreign,
 * other version, corrupted or inconsistent state) or MILL_ENOMEM. */
int mill_partition_deserialize(mill_partition **out, const void *buf, size_t len);

#endif
