/* bench_partition.c -- the slot-table partitioner (mill) beside in-tree
 * baselines: Jump consistent hash, a ring with 1000 virtual nodes per unit of
 * weight, and rendezvous (HRW) hashing. For n in {2,16,128,1024} it prints
 * ns/lookup (median of several runs), max/mean load, keys moved over the
 * optimum (and moves that were not needed) on add, arbitrary removal,
 * weight change and N->M resize, the worst rank share against its weight
 * share, and lookups after excluding half of the ranks at random.
 *
 *   bench_partition [--keys K] [--runs R] [--sizes a,b,...]
 *   bench_partition --lookups-only K [--n N] [--null]
 *
 * --lookups-only runs only K mill lookups (or, with --null, the same loop
 * without the lookup) for counting instructions with callgrind; see
 * docs/partitioner.md. Never run as a test.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "partition.h"

enum { A_MILL, A_JUMP, A_RING, A_HRW, NALGO };
static const char *algo_name[NALGO] = {"mill", "jump", "ring1000", "hrw"};

enum { S_BASE, S_ADD, S_REMOVE, S_WEIGHT, S_RESIZE, S_WEIGHTED, S_EXCL50, NSCEN };

/* One scenario's placement. Unsupported scenarios have st == NULL. */
typedef struct placement {
    int algo;
    void *st;
} placement;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_partition: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- Jump consistent hash (Lamping & Veach 2014) ---------------------- */

typedef struct jump_st {
    uint32_t nb;           /* buckets */
    const uint32_t *map;   /* bucket -> rank (arbitrary removal), or NULL */
    const uint8_t *ex;     /* excluded buckets (rehash until live), or NULL */
} jump_st;

static uint32_t jump(uint64_t key, uint32_t n) {
    int64_t b = -1, j = 0;
    while (j < (int64_t)n) {
        b = j;
        key = key * UINT64_C(2862933555777941757) + 1;
        j = (int64_t)((double)(b + 1) * ((double)(INT64_C(1) << 31) / (double)((key >> 33) + 1)));
    }
    return (uint32_t)b;
}

static uint32_t jump_lookup(const jump_st *s, uint64_t h) {
    uint32_t b = jump(h, s->nb);
    if (s->ex)
        while (s->ex[b]) {
            h = mix64(h + UINT64_C(0x9e3779b97f4a7c15));
            b = jump(h, s->nb);
        }
    return s->map ? s->map[b] : b;
}

/* ---- Ring with virtual nodes ------------------------------------------- */

typedef struct ring_st {
    size_t len;
    uint64_t *point; /* sorted */
    uint32_t *rank;
} ring_st;

typedef struct ring_pt {
    uint64_t point;
    uint32_t rank;
} ring_pt;

static int ring_cmp(const void *a, const void *b) {
    const ring_pt *x = a, *y = b;
    if (x->point != y->point) return x->point < y->point ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Builds a ring: rank r gets round(1000 * w[r]) points unless excluded. */
static ring_st *ring_build(uint32_t n, const double *w, const uint8_t *ex) {
    size_t len = 0;
    for (uint32_t r = 0; r < n; r++)
        if (!ex[r]) len += (size_t)llround(1000 * w[r]);
    ring_pt *pt = xmalloc(len * sizeof *pt);
    size_t k = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (ex[r]) continue;
        size_t v = (size_t)llround(1000 * w[r]);
        for (size_t i = 0; i < v; i++) {
            uint64_t id[2] = {r, i};
            pt[k].point = XXH3_64bits_withSeed(id, sizeof id, 0x72696e67);
            pt[k++].rank = r;
        }
    }
    qsort(pt, len, sizeof *pt, ring_cmp);
    ring_st *s = xmalloc(sizeof *s);
    s->len = len;
    s->point = xmalloc(len * sizeof *s->point);
    s->rank = xmalloc(len * sizeof *s->rank);
    for (size_t i = 0; i < len; i++) {
        s->point[i] = pt[i].point;
        s->rank[i] = pt[i].rank;
    }
    free(pt);
    return s;
}

static uint32_t ring_lookup(const ring_st *s, uint64_t h) {
    /* Branch-free lower bound: first point >= h, wrapping to 0. */
    const uint64_t *base = s->point;
    size_t len = s->len;
    while (len > 1) {
        size_t half = len / 2;
        base = base[half - 1] < h ? base + half : base;
        len -= half;
    }
    size_t i = (size_t)(base - s->point) + (*base < h);
    return s->rank[i == s->len ? 0 : i];
}

/* ---- Rendezvous / highest random weight --------------------------------- */

typedef struct hrw_st {
    uint32_t live;
    uint32_t *rank;
    uint64_t *salt;
    double *w;
    int weighted; /* 0: integer max of the score; 1: w / -ln(u) */
} hrw_st;

static hrw_st *hrw_build(uint32_t n, const double *w, const uint8_t *ex) {
    hrw_st *s = xmalloc(sizeof *s);
    s->rank = xmalloc(n * sizeof *s->rank);
    s->salt = xmalloc(n * sizeof *s->salt);
    s->w = xmalloc(n * sizeof *s->w);
    s->live = 0;
    s->weighted = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (ex[r]) continue;
        s->rank[s->live] = r;
        s->salt[s->live] = mix64(r + UINT64_C(0x68727721));
        s->w[s->live++] = w[r];
        if (w[r] != 1.0) s->weighted = 1;
    }
    return s;
}

static uint32_t hrw_lookup(const hrw_st *s, uint64_t h) {
    uint32_t best = 0;
    if (!s->weighted) {
        uint64_t top = 0;
        for (uint32_t i = 0; i < s->live; i++) {
            uint64_t v = mix64(h ^ s->salt[i]);
            if (v >= top) {
                top = v;
                best = i;
            }
        }
    } else {
        double top = -1;
        for (uint32_t i = 0; i < s->live; i++) {
            double u = ((double)(mix64(h ^ s->salt[i]) >> 11) + 0.5) * 0x1p-53;
            double v = s->w[i] / -log(u);
            if (v >= top) {
                top = v;
                best = i;
            }
        }
    }
    return s->rank[best];
}

/* ---- scenarios ------------------------------------------------------------ */

typedef struct bench_cfg {
    uint32_t n, m;        /* ranks; resize target */
    uint32_t victim;      /* removed / reweighted rank */
    uint8_t *ex50;        /* [n] half the ranks excluded at random */
    double *wmix;         /* [n] weights 1,2,3,4,1,2,... */
} bench_cfg;

/* Builds algorithm a's placement for scenario sc, or st == NULL when the
 * algorithm cannot express it. mill's scenarios are changes applied to the
 * base state, as the runtime would do. */
static placement make(int a, int sc, const bench_cfg *c) {
    placement pl = {a, NULL};
    uint32_t n = c->n, nn = sc == S_ADD ? n + 1 : sc == S_RESIZE ? c->m : n;
    double *w = xmalloc(nn * sizeof *w);
    uint8_t *ex = calloc(nn, 1);
    for (uint32_t r = 0; r < nn; r++) w[r] = sc == S_WEIGHTED ? c->wmix[r] : 1.0;
    if (sc == S_WEIGHT) w[c->victim] = 2.0;
    if (sc == S_REMOVE) ex[c->victim] = 1;
    if (sc == S_EXCL50) memcpy(ex, c->ex50, n);
    if (a == A_MILL) {
        mill_partition *p;
        if (mill_partition_create(&p, n, sc == S_WEIGHTED ? w : NULL) != 0) exit(1);
        int rc = 0;
        if (sc == S_ADD || sc == S_RESIZE) rc = mill_partition_resize(p, nn, NULL);
        if (sc == S_REMOVE) rc = mill_partition_exclude(p, c->victim);
        if (sc == S_WEIGHT) rc = mill_partition_set_weight(p, c->victim, 2.0);
        for (uint32_t r = 0; sc == S_EXCL50 && r < n; r++)
            if (ex[r]) rc |= mill_partition_exclude(p, r);
        if (rc != 0) exit(1);
        pl.st = p;
    } else if (a == A_JUMP) {
        if (sc == S_WEIGHT || sc == S_WEIGHTED) goto out; /* unweighted */
        jump_st *s = calloc(1, sizeof *s);
        s->nb = nn;
        if (sc == S_REMOVE) { /* the usual trick: last bucket takes the victim's id */
            uint32_t *map = xmalloc(n * sizeof *map);
            for (uint32_t r = 0; r < n; r++) map[r] = r;
            map[c->victim] = n - 1;
            s->nb = n - 1;
            s->map = map;
        }
        if (sc == S_EXCL50) s->ex = ex, ex = NULL;
        pl.st = s;
    } else if (a == A_RING) {
        pl.st = ring_build(nn, w, ex);
    } else {
        pl.st = hrw_build(nn, w, ex);
    }
out:
    free(w);
    free(ex);
    return pl;
}

static void unmake(placement pl) {
    if (!pl.st) return;
    if (pl.algo == A_MILL) {
        mill_partition_free(pl.st);
    } else if (pl.algo == A_JUMP) {
        jump_st *s = pl.st;
        free((void *)s->map);
        free((void *)s->ex);
        free(s);
    } else if (pl.algo == A_RING) {
        ring_st *s = pl.st;
        free(s->point);
        free(s->rank);
        free(s);
    } else {
        hrw_st *s = pl.st;
        free(s->rank);
        free(s->salt);
        free(s->w);
        free(s);
    }
}

/* Looks up keys[0..k-1] into out (if not NULL); returns elapsed ns. Each
 * algorithm gets its own direct-call loop. */
static double run(placement pl, const uint64_t *keys, size_t k, uint32_t *out) {
    uint64_t acc = 0;
    double t0 = now_ns();
#define LOOP(CALL)                                                                                 \
    for (size_t i = 0; i < k; i++) {                                                               \
        uint32_t r = CALL;                                                                         \
        if (out) out[i] = r;                                                                       \
        acc += r;                                                                                  \
    }
    switch (pl.algo) {
    case A_MILL: LOOP(mill_partition_lookup(pl.st, keys[i])) break;
    case A_JUMP: LOOP(jump_lookup(pl.st, keys[i])) break;
    case A_RING: LOOP(ring_lookup(pl.st, keys[i])) break;
    default: LOOP(hrw_lookup(pl.st, keys[i])) break;
    }
#undef LOOP
    double t = now_ns() - t0;
    static volatile uint64_t sink;
    sink += acc;
    return t;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median ns/lookup over runs timed passes (without storing owners). */
static double time_lookups(placement pl, const uint64_t *keys, size_t k, int runs) {
    double t[32];
    for (int i = 0; i < runs; i++) t[i] = run(pl, keys, k, NULL) / (double)k;
    qsort(t, (size_t)runs, sizeof *t, dbl_cmp);
    return t[runs / 2];
}

/* Max over live ranks of load / mean load. */
static double max_mean(const uint32_t *own, size_t k, uint32_t n, const uint8_t *ex) {
    uint64_t *load = calloc(n, sizeof *load);
    for (size_t i = 0; i < k; i++) load[own[i]]++;
    uint64_t mx = 0;
    uint32_t live = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (ex && ex[r]) continue;
        live++;
        if (load[r] > mx) mx = load[r];
    }
    free(load);
    return (double)mx / ((double)k / live);
}

#define NROWS 16
typedef struct table {
    const char *label[NROWS];
    double v[NROWS][NALGO];
    int ratio[NROWS]; /* print baseline/mill ratios */
    int rows;
} table;

static void put(table *t, int row, const char *label, int a, double v, int ratio) {
    t->label[row] = label;
    t->v[row][a] = v;
    t->ratio[row] = ratio;
    if (row >= t->rows) t->rows = row + 1;
}

static void bench_n(uint32_t n, const uint64_t *keys, size_t K, int runs) {
    bench_cfg c = {.n = n, .m = n + (n / 2 ? n / 2 : 1), .victim = n / 3};
    c.ex50 = calloc(n, 1);
    c.wmix = xmalloc(c.m * sizeof *c.wmix);
    for (uint32_t r = 0; r < c.m; r++) c.wmix[r] = 1 + r % 4;
    uint32_t *perm = xmalloc(n * sizeof *perm);
    uint64_t seed = 42;
    for (uint32_t r = 0; r < n; r++) perm[r] = r;
    for (uint32_t r = n; r > 1; r--) { /* Fisher-Yates with a fixed seed */
        uint32_t j = (uint32_t)(mix64(seed++) % r), t = perm[r - 1];
        perm[r - 1] = perm[j];
        perm[j] = t;
    }
    for (uint32_t r = 0; r < n / 2; r++) c.ex50[perm[r]] = 1;
    free(perm);

    uint32_t *base = xmalloc(K * sizeof *base), *now = xmalloc(K * sizeof *now);
    table t;
    memset(&t, 0, sizeof t);
    char hk[64] = "";
    for (int a = 0; a < NALGO; a++) {
        /* HRW costs n hashes per key: fewer keys for large n (noted below). */
        size_t k = a == A_HRW && n > 16 ? K * 16 / n : K;
        size_t kt = k; /* keys per timing pass */
        placement b = make(a, S_BASE, &c);
        run(b, keys, k, base);
        put(&t, 0, "ns/lookup (median)", a, time_lookups(b, keys, kt, runs), 1);
        put(&t, 1, "max/mean load", a, max_mean(base, k, n, NULL), 0);
        unmake(b);
        static const struct { int sc, row; const char *moved, *extra; } ch[] = {
            {S_ADD, 2, "add 1: moved/optimal", "add 1: unneeded moves"},
            {S_REMOVE, 4, "remove r=n/3: moved/opt", "remove: unneeded moves"},
            {S_WEIGHT, 6, "weight r 1->2: moved/opt", "weight: unneeded moves"},
            {S_RESIZE, 8, "resize N->M: moved/opt", "resize: unneeded moves"}};
        for (int i = 0; i < 4; i++) {
            placement p = make(a, ch[i].sc, &c);
            put(&t, ch[i].row, ch[i].moved, a, NAN, 0);
            put(&t, ch[i].row + 1, ch[i].extra, a, NAN, 0);
            if (!p.st) continue;
            run(p, keys, k, now);
            uint64_t moved = 0, unneeded = 0;
            double opt;
            for (size_t j = 0; j < k; j++) {
                if (base[j] == now[j]) continue;
                moved++;
                switch (ch[i].sc) {
                case S_ADD: unneeded += now[j] != n; break;
                case S_REMOVE: unneeded += base[j] != c.victim; break;
                case S_WEIGHT: unneeded += now[j] != c.victim; break;
                default: unneeded += now[j] < n; break;
                }
            }
            switch (ch[i].sc) {
            case S_ADD: opt = 1.0 / (n + 1); break;
            case S_REMOVE: opt = 1.0 / n; break;
            case S_WEIGHT: opt = 2.0 / (n + 1) - 1.0 / n; break;
            default: opt = (double)(c.m - n) / c.m; break;
            }
            put(&t, ch[i].row, ch[i].moved, a, (double)moved / (opt * (double)k), 0);
            put(&t, ch[i].row + 1, ch[i].extra, a, (double)unneeded, 0);
            unmake(p);
        }
        /* Weighted 1,2,3,4,...: worst |key share / weight share - 1|. */
        placement p = make(a, S_WEIGHTED, &c);
        put(&t, 10, "weights 1..4: max|share/w-1|", a, NAN, 0);
        put(&t, 11, "  same, exact (slot shares)", a, NAN, 0);
        if (p.st) {
            run(p, keys, k, now);
            uint64_t *load = calloc(n, sizeof *load);
            double W = 0, worst = 0, exact = 0;
            for (size_t j = 0; j < k; j++) load[now[j]]++;
            for (uint32_t r = 0; r < n; r++) W += c.wmix[r];
            for (uint32_t r = 0; r < n; r++) {
                double e = fabs((double)load[r] / (double)k / (c.wmix[r] / W) - 1);
                if (e > worst) worst = e;
                if (a == A_MILL) {
                    double s = (double)mill_partition_owned(p.st, r) / (double)mill_partition_slots(p.st);
                    e = fabs(s / (c.wmix[r] / W) - 1);
                    if (e > exact) exact = e;
                }
            }
            put(&t, 10, t.label[10], a, worst, 0);
            if (a == A_MILL) put(&t, 11, t.label[11], a, exact, 0);
            free(load);
            unmake(p);
        }
        /* Half of the ranks excluded at random. */
        p = make(a, S_EXCL50, &c);
        run(p, keys, k, now);
        put(&t, 12, "excl 50%: ns/lookup", a, time_lookups(p, keys, kt, runs), 1);
        put(&t, 13, "excl 50%: max/mean load", a, max_mean(now, k, n, c.ex50), 0);
        unmake(p);
        if (a == A_HRW && k != K) snprintf(hk, sizeof hk, "hrw used %zu keys", k);
    }
    printf("\nn = %u (resize %u -> %u, victim rank %u, %zu keys%s%s)\n", n, n, c.m, c.victim, K,
           K * 16 / n < K && n > 16 ? "; " : "", n > 16 ? hk : "");
    printf("%-30s", "metric");
    for (int a = 0; a < NALGO; a++) printf(" %10s", algo_name[a]);
    printf("   jump/mill  ring/mill   hrw/mill\n");
    for (int r = 0; r < t.rows; r++) {
        printf("%-30s", t.label[r]);
        for (int a = 0; a < NALGO; a++) {
            if (isnan(t.v[r][a])) printf(" %10s", "n/a");
            else if (t.v[r][a] >= 1000) printf(" %10.0f", t.v[r][a]);
            else printf(" %10.4f", t.v[r][a]);
        }
        if (t.ratio[r])
            for (int a = 1; a < NALGO; a++) printf(" %10.1f", t.v[r][a] / t.v[r][A_MILL]);
        printf("\n");
    }
    free(base);
    free(now);
    free(c.ex50);
    free(c.wmix);
}

/* The callgrind mode: K lookups at n ranks of hashes mixed from the index. */
static int lookups_only(uint64_t k, uint32_t n, int null) {
    mill_partition *p;
    if (mill_partition_create(&p, n, NULL) != 0) return 1;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < k; i++) {
        uint64_t h = mix64(i);
        acc += null ? (uint32_t)h : mill_partition_lookup(p, h);
    }
    printf("%llu lookups at n=%u%s: checksum %llu\n", (unsigned long long)k, n, null ? " (null)" : "",
           (unsigned long long)acc);
    mill_partition_free(p);
    return 0;
}

int main(int argc, char **argv) {
    size_t K = 10000000;
    int runs = 5, null = 0;
    uint64_t lookups = 0;
    uint32_t n1 = 1024;
    char sizes[256] = "2,16,128,1024";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--null")) null = 1;
        else if (v && !strcmp(a, "--keys")) K = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(a, "--runs")) runs = atoi(argv[++i]);
        else if (v && !strcmp(a, "--sizes")) snprintf(sizes, sizeof sizes, "%s", argv[++i]);
        else if (v && !strcmp(a, "--lookups-only")) lookups = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(a, "--n")) n1 = (uint32_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_partition [--keys K] [--runs R] [--sizes a,b,...] | "
                            "--lookups-only K [--n N] [--null]\n");
            return 2;
        }
    }
    if (lookups) return lookups_only(lookups, n1, null);
    if (runs < 1 || runs > 31 || K < 1000) return 2;
    uint64_t *keys = xmalloc(K * sizeof *keys);
    for (size_t i = 0; i < K; i++) {
        uint64_t id = i;
        keys[i] = mill_key_hash(&id, sizeof id); /* keys are the integers 0..K-1 */
    }
    printf("bench_partition: %zu keys, ns/lookup = median of %d passes over the keys;\n"
           "moved/optimal = keys whose owner changed / (optimal share * keys); unneeded moves =\n"
           "moved keys neither leaving the removed/reweighted rank nor joining the new one.\n",
           K, runs);
    for (char *s = strtok(sizes, ","); s; s = strtok(NULL, ",")) bench_n((uint32_t)atoi(s), keys, K, runs);
    free(keys);
    return 0;
}
