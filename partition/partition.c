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
 *
 * Adding ranks (create and resize up) adds one rank at a time and uses
 * sorted per-rank slot lists instead of table walks; create(n) is create(1)
 * plus n-1 adds, so create(N) + resize(M) == create(M) exactly.
 */
#include "partition.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_hash.h"
#include "mpimill/job.h"
#include "partition_internal.h"

/* Deviations c*W - T*w need up to ~2^73: use GCC/Clang's 128-bit integer. */
__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/* One candidate of a plan: its rank and its current deviation key. */
typedef struct heap_ent {
    i128 key;
    uint32_t rank;
} heap_ent;

uint64_t mill_key_hash(const void *key, size_t len) { return mill__key_hash(key, len); }

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

int mill_partition_parse_weights(const char *list, uint32_t n, double *weights, char *err, size_t errlen) {
    uint32_t k = 0;
    for (const char *s = list;; k++) {
        size_t len = strcspn(s, ",");
        if (k == n && len > 0) {
            snprintf(err, errlen, "more than %" PRIu32 " weight%s (one per rank)", n, n == 1 ? "" : "s");
            return MILL_EINVAL;
        }
        char *end;
        double w = 0;
        int ok = len > 0 && strspn(s, "0123456789.eE+-") >= len && (isdigit((unsigned char)*s) || *s == '.');
        if (ok) {
            errno = 0;
            w = strtod(s, &end);
            ok = end == s + len && errno != ERANGE;
        }
        uint32_t fixed;
        if (!ok) {
            snprintf(err, errlen, "weight %" PRIu32 " ('%.*s') is not a decimal number", k, (int)len, s);
            return MILL_EINVAL;
        }
        if (weight_fixed(w, &fixed) != 0) {
            snprintf(err, errlen, "weight %" PRIu32 " (%.*s) is out of range: from 2^-17 (about 0.0000077) to %.0f",
                     k, (int)len, s, MILL_PARTITION_MAX_WEIGHT);
            return MILL_EINVAL;
        }
        weights[k] = w;
        if (!s[len]) break;
        s += len + 1;
    }
    if (k + 1 != n) {
        snprintf(err, errlen, "%" PRIu32 " weight%s for %" PRIu32 " rank%s (one per rank)", k + 1, k ? "s" : "",
                 n, n == 1 ? "" : "s");
        return MILL_EINVAL;
    }
    return 0;
}

mill_partition *mill__partition_alloc(uint32_t n, uint32_t bits) {
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

/* Returns a slot quota: T * w / W rounded to nearest (halves up). */
static uint64_t quota(uint64_t T, uint64_t w, uint64_t W) {
    return (uint64_t)(((u128)T * w + W / 2) / W);
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

/* Creates the one-rank partitioner every partitioner grows from: rank 0
 * with fixed-point weight w owns all 2^MIN_BITS slots. */
static mill_partition *create_one(uint32_t w) {
    mill_partition *p = mill__partition_alloc(1, MILL_PART_MIN_BITS);
    if (!p) return NULL;
    uint64_t T = UINT64_C(1) << MILL_PART_MIN_BITS;
    memset(p->owner, 0, T * sizeof *p->owner);
    p->weight[0] = w;
    p->count[0] = T;
    p->live = 1;
    return p;
}

static int add_ranks(mill_partition *p, uint32_t m, const uint32_t *w);

int mill_partition_create(mill_partition **out, uint32_t n, const double *weights) {
    if (!out || n == 0 || n > MILL_PARTITION_MAX_RANKS) return MILL_EINVAL;
    uint32_t *w = malloc((size_t)n * sizeof *w);
    if (!w) return MILL_ENOMEM;
    for (uint32_t r = 0; r < n; r++) {
        w[r] = MILL_PART_WEIGHT_ONE;
        if (weights && weight_fixed(weights[r], &w[r]) != 0) {
            free(w);
            return MILL_EINVAL;
        }
    }
    /* create(n) is defined as create(1) followed by adding ranks 1..n-1 one
     * at a time, so create(N) then resize(M) is exactly create(M), and
     * create(M) differs from create(N) only by the keys of ranks >= N. */
    mill_partition *p = create_one(w[0]);
    int rc = p ? add_ranks(p, n, w + 1) : MILL_ENOMEM;
    free(w);
    if (rc != 0) {
        mill_partition_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int mill_partition_clone(mill_partition **out, const mill_partition *p) {
    if (!out || !p) return MILL_EINVAL;
    mill_partition *q = mill__partition_alloc(p->n, p->bits);
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

static int cmp_rank(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int mill_partition_exclude_list(mill_partition *p, uint32_t *ranks, size_t n, uint32_t *failed) {
    if (!p || (!ranks && n)) return MILL_EINVAL;
    if (n > 1) qsort(ranks, n, sizeof *ranks, cmp_rank);
    for (size_t i = 0; i < n; i++) {
        int rc = mill_partition_exclude(p, ranks[i]);
        if (rc) {
            if (failed) *failed = ranks[i];
            return rc;
        }
    }
    return 0;
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

static int u32_cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted slot lists, one per rank, used while adding ranks. list[r] holds
 * len[r] slots from index first[r] on; a list only loses a prefix (taken
 * by a new rank) or is refined when the table doubles. */
typedef struct slot_lists {
    uint32_t **list;
    uint64_t *first;
} slot_lists;

/* Refines every live list below limit from 2^from to 2^to slots: slot s
 * becomes s<<k .. (s<<k) + 2^k - 1, which keeps the lists sorted. Returns 0
 * or MILL_ENOMEM. */
static int refine_lists(slot_lists *sl, const mill_partition *q, uint32_t limit, uint32_t from, uint32_t to) {
    uint32_t k = to - from, fan = UINT32_C(1) << k;
    for (uint32_t r = 0; r < limit; r++) {
        if (q->excluded[r]) continue;
        uint64_t len = q->count[r] >> k; /* counts are already refined */
        uint32_t *l = malloc((size_t)(len << k) * sizeof *l + 1);
        if (!l) return MILL_ENOMEM;
        const uint32_t *old = sl->list[r] + sl->first[r];
        for (uint64_t i = 0; i < len; i++)
            for (uint32_t c = 0; c < fan; c++) l[(i << k) + c] = (old[i] << k) + c;
        free(sl->list[r]);
        sl->list[r] = l;
        sl->first[r] = 0;
    }
    return 0;
}

/* With equal weights, "most over its share" is "most slots" (ties to the
 * lower rank) whatever W and T are, so adding ranks can keep one heap of
 * ranks across the adds instead of rebuilding it for every add. */
static int more_slots(const mill_partition *q, uint32_t a, uint32_t b) {
    return q->count[a] > q->count[b] || (q->count[a] == q->count[b] && a < b);
}

static void cheap_down(const mill_partition *q, uint32_t *h, size_t len, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && more_slots(q, h[l], h[m])) m = l;
        if (r < len && more_slots(q, h[r], h[m])) m = r;
        if (m == i) return;
        uint32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void cheap_up(const mill_partition *q, uint32_t *h, size_t i) {
    while (i > 0 && more_slots(q, h[i], h[(i - 1) / 2])) {
        uint32_t t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Rebuilds the equal-weight heap of live ranks below limit that have more
 * than one slot (the ranks plan() would take from). Returns its length. */
static size_t cheap_build(const mill_partition *q, uint32_t *h, uint32_t limit) {
    size_t len = 0;
    for (uint32_t r = 0; r < limit; r++)
        if (!q->excluded[r] && q->count[r] > 1) h[len++] = r;
    for (size_t i = len / 2; i-- > 0;) cheap_down(q, h, len, i);
    return len;
}

/* Adds ranks n..m-1 (fixed-point weights w[0..m-n-1]) one at a time. Each
 * new rank gets T*w/W slots (rounded), taken one by one from the live ranks
 * most over their share (plan()); from each giver it takes the giver's
 * lowest-numbered slots. The table doubles first whenever the lightest live
 * rank would get fewer than SLOTS_PER_UNIT slots. Works on a copy and
 * commits at the end: returns 0, or MILL_ENOMEM with p unchanged. */
static int add_ranks(mill_partition *p, uint32_t m, const uint32_t *w) {
    uint32_t n = p->n;
    if (m <= n) return 0;
    mill_partition *q = NULL;
    slot_lists sl = {calloc(m, sizeof *sl.list), calloc(m, sizeof *sl.first)};
    scratch s = {0};
    int rc = sl.list && sl.first ? mill_partition_clone(&q, p) : MILL_ENOMEM;
    if (rc == 0) rc = reserve(q, m);
    if (rc == 0) rc = scratch_init(&s, m);
    /* Lists of the current owners, in slot order. */
    uint64_t T = rc == 0 ? UINT64_C(1) << q->bits : 0;
    for (uint32_t r = 0; rc == 0 && r < n; r++) {
        sl.list[r] = malloc((size_t)q->count[r] * sizeof **sl.list + 1);
        if (!sl.list[r]) rc = MILL_ENOMEM;
        q->count[r] = 0; /* recounted below */
    }
    for (uint64_t i = 0; rc == 0 && i < T; i++) {
        uint32_t r = q->owner[i];
        sl.list[r][q->count[r]++] = (uint32_t)i;
    }
    /* Equal weights everywhere: the cheap heap gives the same plan as
     * plan() (same order, same ties, same skip of ranks with one slot) in
     * O(q log k) per add instead of O(k). */
    uint64_t Wlive = 0, wmin = UINT64_MAX, live = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (q && !q->excluded[r]) {
            Wlive += q->weight[r];
            wmin = q->weight[r] < wmin ? q->weight[r] : wmin;
            live++;
        }
    }
    int cheap = 1;
    for (uint32_t r = 0; q && r < n; r++) cheap &= q->excluded[r] || q->weight[r] == wmin;
    for (uint32_t k = 0; k < m - n; k++) cheap &= w[k] == wmin;
#ifdef MILL_PART_NO_FASTPATH
    cheap = 0; /* to check that both paths give the same states */
#endif
    uint32_t *heap = cheap ? (uint32_t *)s.heap : NULL; /* heap_ent is larger */
    uint32_t *givers = malloc((size_t)m * sizeof *givers + 1);
    if (!givers) rc = MILL_ENOMEM;
    size_t hlen = cheap && rc == 0 ? cheap_build(q, heap, n) : 0;
    for (uint32_t k = n; rc == 0 && k < m; k++) {
        uint64_t wk = w[k - n];
        uint64_t W = Wlive + wk;
        if (wk < wmin) wmin = wk;
        uint32_t bits = needed_bits(q->bits, W, wmin);
        if (bits > q->bits) {
            for (uint32_t r = 0; r < k; r++) q->count[r] <<= bits - q->bits;
            rc = refine_lists(&sl, q, k, q->bits, bits);
            if (rc != 0) break;
            q->bits = bits;
            q->shift = 64 - bits;
            T = UINT64_C(1) << bits;
            if (cheap) hlen = cheap_build(q, heap, k);
        }
        uint64_t qk = clamp_quota(quota(T, wk, W), T, live);
        size_t ng = 0;
        if (cheap) {
            for (uint64_t a = 0; a < qk; a++) {
                if (hlen == 0) {
                    rc = MILL_ESTATE;
                    break;
                }
                uint32_t g = heap[0];
                if (s.delta[g] == 0) givers[ng++] = g;
                s.delta[g]--;
                q->count[g]--;
                if (q->count[g] <= 1) heap[0] = heap[--hlen];
                cheap_down(q, heap, hlen, 0);
            }
            for (size_t i = 0; i < ng; i++) q->count[givers[i]] -= (uint64_t)s.delta[givers[i]]; /* undo */
        } else {
            memset(s.delta, 0, (size_t)k * sizeof *s.delta);
            rc = plan(q, -1, qk, W, k, UINT32_MAX, s.delta, s.heap);
            for (uint32_t g = 0; g < k; g++)
                if (s.delta[g] < 0) givers[ng++] = g;
        }
        if (rc == 0 && !(sl.list[k] = malloc((size_t)qk * sizeof **sl.list + 1))) rc = MILL_ENOMEM;
        if (rc != 0) break;
        uint64_t got = 0;
        for (size_t i = 0; i < ng; i++) {
            uint32_t g = givers[i];
            uint64_t d = (uint64_t)-s.delta[g];
            memcpy(sl.list[k] + got, sl.list[g] + sl.first[g], (size_t)d * sizeof **sl.list);
            sl.first[g] += d;
            q->count[g] -= d;
            got += d;
            s.delta[g] = 0;
        }
        qsort(sl.list[k], (size_t)qk, sizeof **sl.list, u32_cmp);
        q->weight[k] = (uint32_t)wk;
        q->excluded[k] = 0;
        q->count[k] = qk;
        q->n = k + 1;
        q->live++;
        Wlive += wk;
        live++;
        if (cheap && qk > 1) {
            heap[hlen++] = k;
            cheap_up(q, heap, hlen - 1);
        }
    }
    free(givers);
    /* Commit: write the owner table from the lists, then swap q into p. */
    if (rc == 0) {
        uint32_t *o = realloc(q->owner, (size_t)T * sizeof *o);
        if (!o) rc = MILL_ENOMEM;
        else q->owner = o;
    }
    if (rc == 0) {
        for (uint32_t r = 0; r < m; r++)
            for (uint64_t i = 0; !q->excluded[r] && i < q->count[r]; i++) q->owner[sl.list[r][sl.first[r] + i]] = r;
        mill_partition t = *p;
        *p = *q;
        *q = t;
    }
    for (uint32_t r = 0; sl.list && r < m; r++) free(sl.list[r]);
    free(sl.list);
    free(sl.first);
    scratch_done(&s);
    mill_partition_free(q);
    return rc;
}

/* Grows from n to m ranks by adding them one at a time (add_ranks), so that
 * resize(N -> M) on create(N) is exactly create(M). */
static int resize_up(mill_partition *p, uint32_t m, const double *new_weights) {
    uint32_t *w = malloc((size_t)(m - p->n) * sizeof *w);
    int rc = w ? 0 : MILL_ENOMEM;
    for (uint32_t k = 0; rc == 0 && k < m - p->n; k++) {
        w[k] = MILL_PART_WEIGHT_ONE;
        if (new_weights) rc = weight_fixed(new_weights[k], &w[k]);
    }
    if (rc == 0) rc = add_ranks(p, m, w);
    free(w);
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
