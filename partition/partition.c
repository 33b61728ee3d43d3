/* partition.c -- the slot-table partitioner: creation, lookup, and the
 * changes (exclude, restore, resize, weight) that move the fewest keys.
 *
 * A key's slot is the top `bits` bits of its 64-bit hash; owner[slot] is its
 * rank. Every change first decides, with integer arithmetic only, how many
 * slots each rank gives or receives (a "plan"), then walks the table once in
 * slot order and hands the first slots of each giver to the receivers in rank
 * order. Plans are greedy one slot at a time: the receiver is always the live
 * rank furthest below its exact share (deviation c*W - T*w smallest, ties to
 * the lower rank), the giver the one furthest above. Only the rank(s) the
 * change concerns trade with the others, so no key moves needlessly.
 */
#include "partition.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "mpimill/job.h"
#include "partition_internal.h"

/* Deviations c*W - T*w need up to ~2^73: use GCC/Clang's 128-bit integer. */
__extension__ typedef __int128 i128;

/* One candidate of a plan: its rank and its current deviation key. */
typedef struct heap_ent {
    i128 key;
    uint32_t rank;
} heap_ent;

uint64_t mill_key_hash(const void *key, size_t len) {
    return XXH3_64bits_withSeed(key, len, MILL_KEY_HASH_SEED);
}

/* Converts a user weight to fixed point 16.16, rounding to nearest with
 * halves up. w * 65536.0 is exact in binary floating point (a power-of-two
 * scale of a value far from overflow), so the result is the same on every
 * IEEE-754 machine and compiler. Returns 0 or MILL_EINVAL. */
static int weight_fixed(double w, uint32_t *out) {
    if (!(w > 0.0) || !(w <= MILL_PARTITION_MAX_WEIGHT)) return MILL_EINVAL; /* also NaN */
    double x = w * 65536.0;
    uint64_t t = (uint64_t)x; /* truncation, x < 2^32 */
    if (x - (double)t >= 0.5) t++;
    if (t == 0) return MILL_EINVAL;
    *out = (uint32_t)t;
    return 0;
}

mill_partition *mill_part_alloc(uint32_t n, uint32_t bits) {
    mill_partition *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->owner = malloc(sizeof(uint32_t) << bits);
    p->weight = calloc(n, sizeof *p->weight);
    p->excluded = calloc(n, sizeof *p->excluded);
    p->count = calloc(n, sizeof *p->count);
    if (!p->owner || !p->weight || !p->excluded || !p->count) {
        mill_partition_free(p);
        return NULL;
    }
    p->bits = bits;
    p->shift = 64 - bits;
    p->n = n;
    p->cap = n;
    return p;
}

void mill_partition_free(mill_partition *p) {
    if (!p) return;
    free(p->owner);
    free(p->weight);
    free(p->excluded);
    free(p->count);
    free(p);
}

/* Returns the smallest table size exponent >= cur (and >= MIN_BITS) giving
 * the lightest live rank (weight wmin) SLOTS_PER_UNIT slots out of total live
 * weight W, capped at MAX_BITS. */
static uint32_t needed_bits(uint32_t cur, uint64_t W, uint64_t wmin) {
    uint32_t b = cur < MILL_PART_MIN_BITS ? MILL_PART_MIN_BITS : cur;
    while (b < MILL_PART_MAX_BITS && (UINT64_C(1) << b) * wmin < MILL_PART_SLOTS_PER_UNIT * W) b++;
    return b;
}

/* Sums the weights of live ranks below limit, skipping rank skip, and
 * stores the smallest in *wmin (UINT64_MAX if none). */
static uint64_t live_weight(const mill_partition *p, uint32_t limit, uint32_t skip, uint64_t *wmin) {
    uint64_t W = 0, m = UINT64_MAX;
    for (uint32_t r = 0; r < limit; r++) {
        if (p->excluded[r] || r == skip) continue;
        W += p->weight[r];
        if (p->weight[r] < m) m = p->weight[r];
    }
    if (wmin) *wmin = m;
    return W;
}

/* Returns rank's slot quota: T * w / W rounded to nearest (halves up). */
static uint64_t quota(uint64_t T, uint64_t w, uint64_t W) {
    return (T * w + W / 2) / W;
}

/* Doubles the table until it has 2^bits slots; each slot s becomes slots
 * s<<k .. (s<<k) + 2^k - 1 with the same owner, so no key moves. Returns 0
 * or MILL_ENOMEM (p unchanged). */
static int grow(mill_partition *p, uint32_t bits) {
    if (bits <= p->bits) return 0;
    uint32_t k = bits - p->bits;
    uint32_t *o = realloc(p->owner, sizeof(uint32_t) << bits);
    if (!o) return MILL_ENOMEM;
    uint64_t T = UINT64_C(1) << p->bits, fan = UINT64_C(1) << k;
    for (uint64_t s = T; s-- > 0;) { /* downward: children of s lie at >= s */
        uint32_t r = o[s];
        for (uint64_t c = 0; c < fan; c++) o[(s << k) + c] = r;
    }
    for (uint32_t r = 0; r < p->n; r++) p->count[r] <<= k;
    p->owner = o;
    p->bits = bits;
    p->shift = 64 - bits;
    return 0;
}

static int heap_before(const heap_ent *a, const heap_ent *b) {
    return a->key < b->key || (a->key == b->key && a->rank < b->rank);
}

static void heap_down(heap_ent *h, size_t len, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && heap_before(&h[l], &h[m])) m = l;
        if (r < len && heap_before(&h[r], &h[m])) m = r;
        if (m == i) return;
        heap_ent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Plans the transfer of amount slots to (give > 0) or from (give < 0) the
 * live ranks below limit other than skip, one slot at a time, always to the
 * rank with the smallest deviation c*W - T*w (from the largest when taking),
 * ties to the lower rank. When taking, a rank keeps at least one slot.
 * Updates delta. Returns 0, or MILL_ESTATE when no rank can give (callers
 * clamp amounts so this does not happen). */
static int plan(const mill_partition *p, int give, uint64_t amount, uint64_t W, uint32_t limit,
                uint32_t skip, int64_t *delta, heap_ent *h) {
    uint64_t T = UINT64_C(1) << p->bits;
    size_t len = 0;
    for (uint32_t r = 0; r < limit; r++) {
        if (p->excluded[r] || r == skip) continue;
        i128 c = (i128)p->count[r] + delta[r];
        i128 dev = c * (i128)W - (i128)T * p->weight[r];
        if (give < 0 && c <= 1) continue;
        h[len].key = give > 0 ? dev : -dev;
        h[len].rank = r;
        len++;
    }
    for (size_t i = len / 2; i-- > 0;) heap_down(h, len, i);
    for (uint64_t a = 0; a < amount; a++) {
        if (len == 0) return MILL_ESTATE;
        uint32_t r = h[0].rank;
        delta[r] += give > 0 ? 1 : -1;
        h[0].key += (i128)W; /* c moves one slot away from this side */
        if (give < 0 && (int64_t)p->count[r] + delta[r] <= 1) h[0] = h[--len];
        heap_down(h, len, 0);
    }
    return 0;
}

/* Applies a plan: walks the slots in order; each slot of a rank with
 * delta < 0 goes to the lowest rank with delta > 0. The deltas sum to 0. */
static void apply(mill_partition *p, int64_t *delta) {
    uint64_t T = UINT64_C(1) << p->bits;
    uint32_t to = 0;
    for (uint64_t s = 0; s < T; s++) {
        uint32_t o = p->owner[s];
        if (delta[o] >= 0) continue;
        while (delta[to] <= 0) to++;
        p->owner[s] = to;
        delta[o]++;
        delta[to]--;
        p->count[o]--;
        p->count[to]++;
    }
}

/* Scratch for one change: deltas and heap for n ranks. */
typedef struct scratch {
    int64_t *delta;
    heap_ent *heap;
} scratch;

static int scratch_init(scratch *s, uint32_t n) {
    s->delta = calloc(n, sizeof *s->delta);
    s->heap = malloc((size_t)n * sizeof *s->heap);
    if (!s->delta || !s->heap) {
        free(s->delta);
        free(s->heap);
        return MILL_ENOMEM;
    }
    return 0;
}

static void scratch_done(scratch *s) {
    free(s->delta);
    free(s->heap);
}

/* Returns the number of live ranks below limit other than skip. */
static uint64_t members(const mill_partition *p, uint32_t limit, uint32_t skip) {
    uint64_t k = 0;
    for (uint32_t r = 0; r < limit; r++) k += !p->excluded[r] && r != skip;
    return k;
}

/* Clamps a taking rank's quota to [1, T - m], m being the ranks that keep
 * at least one slot each. Only matters when the table is at its cap. */
static uint64_t clamp_quota(uint64_t q, uint64_t T, uint64_t m) {
    if (q < 1) q = 1;
    if (q > T - m) q = T - m;
    return q;
}

typedef struct rem_ent {
    uint64_t rem;
    uint32_t rank;
} rem_ent;

static int rem_cmp(const void *a, const void *b) {
    const rem_ent *x = a, *y = b;
    if (x->rem != y->rem) return x->rem > y->rem ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

int mill_partition_create(mill_partition **out, uint32_t n, const double *weights) {
    if (!out || n == 0 || n > MILL_PARTITION_MAX_RANKS) return MILL_EINVAL;
    uint32_t *w = malloc((size_t)n * sizeof *w);
    if (!w) return MILL_ENOMEM;
    uint64_t W = 0, wmin = UINT64_MAX;
    for (uint32_t r = 0; r < n; r++) {
        w[r] = MILL_PART_WEIGHT_ONE;
        if (weights && weight_fixed(weights[r], &w[r]) != 0) {
            free(w);
            return MILL_EINVAL;
        }
        W += w[r];
        if (w[r] < wmin) wmin = w[r];
    }
    uint32_t bits = needed_bits(MILL_PART_MIN_BITS, W, wmin);
    mill_partition *p = mill_part_alloc(n, bits);
    rem_ent *rem = malloc((size_t)n * sizeof *rem);
    if (!p || !rem) {
        mill_partition_free(p);
        free(rem);
        free(w);
        return MILL_ENOMEM;
    }
    memcpy(p->weight, w, (size_t)n * sizeof *w);
    free(w);
    p->live = n;
    /* Largest remainder: floor(T*w/W) each, then one more slot to the ranks
     * with the largest remainders (ties to the lower rank). */
    uint64_t T = UINT64_C(1) << bits, given = 0;
    for (uint32_t r = 0; r < n; r++) {
        uint64_t tw = T * p->weight[r];
        p->count[r] = tw / W;
        given += p->count[r];
        rem[r].rem = tw % W;
        rem[r].rank = r;
    }
    qsort(rem, n, sizeof *rem, rem_cmp); /* total order: same result everywhere */
    for (uint64_t i = 0; i < T - given; i++) p->count[rem[i].rank]++;
    free(rem);
    /* Contiguous ranges: rank 0 owns the first slots, and so on. */
    uint64_t s = 0;
    for (uint32_t r = 0; r < n; r++)
        for (uint64_t c = 0; c < p->count[r]; c++) p->owner[s++] = r;
    *out = p;
    return 0;
}

int mill_partition_clone(mill_partition **out, const mill_partition *p) {
    if (!out || !p) return MILL_EINVAL;
    mill_partition *q = mill_part_alloc(p->n, p->bits);
    if (!q) return MILL_ENOMEM;
    memcpy(q->owner, p->owner, sizeof(uint32_t) << p->bits);
    memcpy(q->weight, p->weight, (size_t)p->n * sizeof *p->weight);
    memcpy(q->excluded, p->excluded, (size_t)p->n * sizeof *p->excluded);
    memcpy(q->count, p->count, (size_t)p->n * sizeof *p->count);
    q->live = p->live;
    *out = q;
    return 0;
}

uint32_t mill_partition_lookup(const mill_partition *p, uint64_t hash) {
    return p->owner[hash >> p->shift];
}

uint32_t mill_partition_size(const mill_partition *p) { return p->n; }

uint32_t mill_partition_live(const mill_partition *p) { return p->live; }

int mill_partition_is_excluded(const mill_partition *p, uint32_t rank) {
    if (rank >= p->n) return MILL_EINVAL;
    return p->excluded[rank];
}

double mill_partition_weight(const mill_partition *p, uint32_t rank) {
    if (rank >= p->n) return 0.0;
    return (double)p->weight[rank] / 65536.0;
}

uint64_t mill_partition_slots(const mill_partition *p) { return UINT64_C(1) << p->bits; }

uint64_t mill_partition_owned(const mill_partition *p, uint32_t rank) {
    return rank < p->n ? p->count[rank] : 0;
}

int mill_partition_exclude(mill_partition *p, uint32_t rank) {
    if (!p || rank >= p->n) return MILL_EINVAL;
    if (p->excluded[rank] || p->live == 1) return MILL_ESTATE;
    scratch s;
    if (scratch_init(&s, p->n) != 0) return MILL_ENOMEM;
    /* Shares only grow, so the table needs no more slots. */
    uint64_t W = live_weight(p, p->n, rank, NULL);
    s.delta[rank] = -(int64_t)p->count[rank];
    int rc = plan(p, +1, p->count[rank], W, p->n, rank, s.delta, s.heap);
    if (rc == 0) {
        apply(p, s.delta);
        p->excluded[rank] = 1;
        p->live--;
    }
    scratch_done(&s);
    return rc;
}

int mill_partition_restore(mill_partition *p, uint32_t rank) {
    if (!p || rank >= p->n) return MILL_EINVAL;
    if (!p->excluded[rank]) return MILL_ESTATE;
    scratch s;
    if (scratch_init(&s, p->n) != 0) return MILL_ENOMEM;
    uint64_t wmin;
    uint64_t W = live_weight(p, p->n, rank, &wmin) + p->weight[rank];
    if (p->weight[rank] < wmin) wmin = p->weight[rank];
    int rc = grow(p, needed_bits(p->bits, W, wmin));
    if (rc == 0) {
        uint64_t T = UINT64_C(1) << p->bits;
        uint64_t q = clamp_quota(quota(T, p->weight[rank], W), T, members(p, p->n, rank));
        s.delta[rank] = (int64_t)q;
        rc = plan(p, -1, q, W, p->n, rank, s.delta, s.heap);
    }
    if (rc == 0) {
        apply(p, s.delta);
        p->excluded[rank] = 0;
        p->live++;
    }
    scratch_done(&s);
    return rc;
}

/* Makes room for m ranks in the per-rank arrays. Returns 0 or MILL_ENOMEM;
 * on failure the arrays may have moved but keep their contents. */
static int reserve(mill_partition *p, uint32_t m) {
    if (m <= p->cap) return 0;
    uint32_t *w = realloc(p->weight, (size_t)m * sizeof *w);
    if (!w) return MILL_ENOMEM;
    p->weight = w;
    uint8_t *e = realloc(p->excluded, (size_t)m * sizeof *e);
    if (!e) return MILL_ENOMEM;
    p->excluded = e;
    uint64_t *c = realloc(p->count, (size_t)m * sizeof *c);
    if (!c) return MILL_ENOMEM;
    p->count = c;
    p->cap = m;
    return 0;
}

/* Grows from n to m ranks: the new ranks take their quotas from the old
 * live ranks most over their share. */
static int resize_up(mill_partition *p, uint32_t m, const double *new_weights) {
    uint32_t n = p->n;
    uint32_t *w = malloc((size_t)(m - n) * sizeof *w);
    if (!w) return MILL_ENOMEM;
    for (uint32_t k = 0; k < m - n; k++) {
        w[k] = MILL_PART_WEIGHT_ONE;
        if (new_weights && weight_fixed(new_weights[k], &w[k]) != 0) {
            free(w);
            return MILL_EINVAL;
        }
    }
    scratch s = {0};
    int rc = reserve(p, m);
    if (rc == 0) rc = scratch_init(&s, m);
    if (rc != 0) {
        free(w);
        return rc;
    }
    uint64_t wmin;
    uint64_t W = live_weight(p, n, UINT32_MAX, &wmin);
    for (uint32_t k = 0; k < m - n; k++) {
        W += w[k];
        if (w[k] < wmin) wmin = w[k];
    }
    rc = grow(p, needed_bits(p->bits, W, wmin));
    if (rc == 0) {
        uint64_t T = UINT64_C(1) << p->bits, keep = members(p, n, UINT32_MAX), total = 0;
        for (uint32_t k = 0; k < m - n; k++) {
            uint64_t q = quota(T, w[k], W);
            if (q < 1) q = 1;
            s.delta[n + k] = (int64_t)q;
            total += q;
        }
        /* At the table cap, trim the largest quotas so old ranks keep a slot. */
        while (total > T - keep) {
            uint32_t big = n;
            for (uint32_t k = n; k < m; k++)
                if (s.delta[k] > s.delta[big]) big = k;
            s.delta[big]--;
            total--;
        }
        rc = plan(p, -1, total, W, n, UINT32_MAX, s.delta, s.heap);
    }
    if (rc == 0) {
        for (uint32_t k = 0; k < m - n; k++) {
            p->weight[n + k] = w[k];
            p->excluded[n + k] = 0;
            p->count[n + k] = 0;
        }
        p->n = m;
        p->live += m - n;
        apply(p, s.delta);
    }
    free(w);
    scratch_done(&s);
    return rc;
}

/* Shrinks from n to m ranks: the slots of ranks m..n-1 go to the remaining
 * live ranks most under their share. */
static int resize_down(mill_partition *p, uint32_t m) {
    uint32_t left = (uint32_t)members(p, m, UINT32_MAX);
    if (left == 0) return MILL_ESTATE;
    scratch s;
    if (scratch_init(&s, p->n) != 0) return MILL_ENOMEM;
    uint64_t W = live_weight(p, m, UINT32_MAX, NULL), amount = 0;
    for (uint32_t r = m; r < p->n; r++) {
        s.delta[r] = -(int64_t)p->count[r];
        amount += p->count[r];
    }
    int rc = plan(p, +1, amount, W, m, UINT32_MAX, s.delta, s.heap);
    if (rc == 0) {
        apply(p, s.delta);
        p->n = m;
        p->live = left;
    }
    scratch_done(&s);
    return rc;
}

int mill_partition_resize(mill_partition *p, uint32_t m, const double *new_weights) {
    if (!p || m == 0 || m > MILL_PARTITION_MAX_RANKS) return MILL_EINVAL;
    if (m == p->n) return 0;
    return m > p->n ? resize_up(p, m, new_weights) : resize_down(p, m);
}

int mill_partition_set_weight(mill_partition *p, uint32_t rank, double weight) {
    if (!p || rank >= p->n) return MILL_EINVAL;
    uint32_t w;
    if (weight_fixed(weight, &w) != 0) return MILL_EINVAL;
    if (p->excluded[rank] || w == p->weight[rank]) {
        p->weight[rank] = w;
        return 0;
    }
    scratch s;
    if (scratch_init(&s, p->n) != 0) return MILL_ENOMEM;
    uint64_t wmin;
    uint64_t W = live_weight(p, p->n, rank, &wmin) + w;
    if (w < wmin) wmin = w;
    int rc = grow(p, needed_bits(p->bits, W, wmin));
    if (rc == 0) {
        uint64_t T = UINT64_C(1) << p->bits, c = p->count[rank];
        uint32_t old = p->weight[rank];
        p->weight[rank] = w;
        uint64_t q = clamp_quota(quota(T, w, W), T, members(p, p->n, rank));
        if (q > c) {
            s.delta[rank] = (int64_t)(q - c);
            rc = plan(p, -1, q - c, W, p->n, rank, s.delta, s.heap);
        } else if (q < c) {
            s.delta[rank] = -(int64_t)(c - q);
            rc = plan(p, +1, c - q, W, p->n, rank, s.delta, s.heap);
        }
        if (rc == 0)
            apply(p, s.delta);
        else
            p->weight[rank] = old;
    }
    scratch_done(&s);
    return rc;
}
