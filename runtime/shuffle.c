/* shuffle.c -- moving every (key, value) to its owner rank, within --memory.
 *
 * Map side: records combine in a hash table. When the table would pass its
 * share of the memory budget, it is sorted by key and written to an
 * unlinked temporary file ("map run"), grouped by owner rank, each owner's
 * records in key order; the table then starts empty again.
 *
 * Exchange: bytes move in rounds of MPI_Alltoallv whose buffers are bounded
 * by the budget; each round first swaps its counts. What a rank sends to a
 * destination is
 *   - in memory (no rank spilled): its table's records for it, packed;
 *     the receiver combines them into its reduce table as they arrive (a
 *     record cut by a round waits in a per-source carry buffer), and sorts
 *     that table into a reduce run whenever it passes its share;
 *   - sorted (some rank spilled; its last table is spilled too): the merge
 *     of its map runs' segments for that destination, equal keys combined,
 *     so that each of its distinct keys crosses once, in key order. The
 *     receiver appends each source's bytes to a reduce run of their own.
 *
 * Reduce side: mill__shuffle_merge merges the reduce runs with the sorted
 * reduce table, combining equal keys, and hands every key once, in key
 * order, to the writer.
 *
 * Record format everywhere: record.h. Merging: merge.c.
 */
#include "shuffle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "merge.h"
#include "record.h"
#include "runtime.h"

/* A map run: records grouped by owner, each owner's in key order; owner
 * r's bytes are [off[r], off[r+1]). */
typedef struct map_run {
    int fd;
    uint64_t *off;
    int level;       /* 0: a spilled table; L + 1: a merge of runs of level L */
} map_run;

/* A reduce run: records in key order, each key once. */
typedef struct reduce_run {
    int fd;
    uint64_t size;
} reduce_run;

struct mill__spill {
    const char *tmpdir;
    map_run *map;
    size_t nmap;
    reduce_run *reduce;
    size_t nreduce;
};

uint64_t mill__table_memory(const mill__table *t) {
    return t->bytes + (uint64_t)t->cap * sizeof(mill__entry);
}

/* Opens an unlinked temporary file in dir: it vanishes with the process. */
static int temp_file(const char *dir, int *fd, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/mpimill-spill-XXXXXX", dir);
    int f = mkstemp(path);
    if (f < 0) {
        snprintf(err, errlen, "spill file in %s: %s", dir, strerror(errno));
        return MILL_EIO;
    }
    if (unlink(path) != 0) {
        snprintf(err, errlen, "spill file %s: unlink: %s", path, strerror(errno));
        close(f);
        return MILL_EIO;
    }
    *fd = f;
    return 0;
}

/* Writes all n bytes at p to a spill file. */
static int write_all(int fd, const char *p, size_t n, char *err, size_t errlen) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            snprintf(err, errlen, "writing a spill file: %s", strerror(errno));
            return MILL_EIO;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Buffered appends to a spill file. */
typedef struct out_buf {
    int fd;
    char buf[1 << 16];
    size_t len;
    uint64_t written;
} out_buf;

static int out_flush(out_buf *o, char *err, size_t errlen) {
    int rc = write_all(o->fd, o->buf, o->len, err, errlen);
    o->written += o->len;
    o->len = 0;
    return rc;
}

static int out_put(out_buf *o, const void *p, size_t n, char *err, size_t errlen) {
    while (n > 0) {
        if (o->len == sizeof o->buf) {
            int rc = out_flush(o, err, errlen);
            if (rc) return rc;
        }
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p = (const char *)p + k;
        n -= k;
    }
    return 0;
}

static int out_record(out_buf *o, int vt, const mill__entry *e, char *err, size_t errlen) {
    if (sizeof o->buf - o->len >= MILL__RECORD_OVERHEAD + (size_t)e->klen + e->vlen) { /* the usual case */
        o->len += mill__record_put(vt, o->buf + o->len, e->key, e->klen, e->value, e->vlen);
        return 0;
    }
    char h[MILL__RECORD_OVERHEAD];
    int rc = out_put(o, h, mill__record_head(vt, h, e->klen, e->vlen), err, errlen);
    if (rc == 0) rc = out_put(o, e->key, e->klen, err, errlen);
    if (rc == 0 && vt == MILL_VALUE_BYTES) rc = out_put(o, e->value, e->vlen, err, errlen);
    else if (rc == 0) rc = out_put(o, h, mill__record_value(vt, h, e->value, e->vlen), err, errlen);
    return rc;
}

int mill__spill_init(mill__spill **out, const char *tmpdir) {
    mill__spill *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    /* A rank holds up to --merge-factor map runs and a run per source rank
     * open: the soft limit on open files (often 1024) is raised to the hard
     * one. Advice only: where that fails, a spill past the limit fails with
     * a message naming the spill file. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    s->tmpdir = tmpdir;
    *out = s;
    return 0;
}

void mill__spill_free(mill__spill *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nmap; i++) {
        close(s->map[i].fd);
        free(s->map[i].off);
    }
    for (size_t i = 0; i < s->nreduce; i++) close(s->reduce[i].fd);
    free(s->map);
    free(s->reduce);
    free(s);
}

void mill__table_budget(mill__table *t, uint64_t share) {
    size_t cap = 1024;
    while ((uint64_t)cap * 2 * sizeof(mill__entry) <= share / 2) cap *= 2;
    t->max_cap = cap;
}

/* Empties t after its records went to disk, keeping its slot array and
 * arena blocks for the next run -- unless a single map call made it grow
 * past max_cap, in which case it starts small again. */
static int table_empty(mill__table *t) {
    size_t max_cap = t->max_cap;
    if (t->cap <= max_cap) {
        mill__table_clear(t);
        return 0;
    }
    mill__table_free(t);
    int rc = mill__table_init(t);
    t->max_cap = max_cap;
    return rc;
}

/* The read buffer of each of `inputs` merge inputs: an eighth of the
 * budget shared, between 4 and 64 KiB each. */
static size_t read_buffer(uint64_t memory, uint64_t inputs) {
    uint64_t b = memory / 8 / (inputs ? inputs : 1);
    return b > (64u << 10) ? 64u << 10 : b < (4u << 10) ? 4u << 10 : (size_t)b;
}

/* Adds destination r's segment of map runs [first, nmap) to the merge m. */
static int add_segments(mill__merge *m, const mill__spill *s, size_t first, int r, size_t buf) {
    int rc = 0;
    for (size_t i = first; i < s->nmap && rc == 0; i++) {
        const map_run *run = &s->map[i];
        rc = mill__merge_file(m, run->fd, run->off[r], run->off[r + 1] - run->off[r], buf);
    }
    return rc;
}

/* Merges map runs [first, nmap) into one of the next level, destination
 * by destination, combining equal keys. */
static int compact_map_runs(mill_ctx *ctx, size_t first, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    int P = ctx->size, fd = -1, vt = ctx->job->value_type;
    uint64_t *off = calloc((size_t)P + 1, sizeof *off);
    out_buf *o = malloc(sizeof *o);
    mill__table scratch = {0};
    int rc = off && o ? mill__table_init(&scratch) : MILL_ENOMEM;
    if (rc == 0) rc = temp_file(s->tmpdir, &fd, err, errlen);
    if (rc == 0) *o = (out_buf){.fd = fd};
    size_t buf = read_buffer(ctx->memory, s->nmap - first);
    for (int r = 0; r < P && rc == 0; r++) {
        off[r] = o->written + o->len;
        mill__merge *m = NULL;
        if ((rc = mill__merge_new(&m, ctx, &scratch)) == 0) rc = add_segments(m, s, first, r, buf);
        mill_kv kv;
        while (rc == 0 && (rc = mill__merge_next(m, &kv, err, errlen)) == 1) {
            mill__entry e = {.key = (char *)kv.key, .value = (char *)kv.value,
                             .klen = (uint32_t)kv.key_len, .vlen = (uint32_t)kv.value_len};
            rc = out_record(o, vt, &e, err, errlen);
        }
        mill__merge_free(m);
    }
    if (rc == 0) rc = out_flush(o, err, errlen);
    uint64_t size = o ? o->written : 0;
    free(o);
    mill__table_free(&scratch);
    if (rc) {
        if (fd >= 0) close(fd);
        free(off);
        return rc;
    }
    off[P] = size;
    ctx->metrics.spill_bytes += size;
    int level = s->map[first].level + 1;
    for (size_t i = first; i < s->nmap; i++) {
        close(s->map[i].fd);
        free(s->map[i].off);
    }
    s->map[first] = (map_run){.fd = fd, .off = off, .level = level};
    s->nmap = first + 1;
    return 0;
}

/* Writes t's records as a map run -- sorted by key, then grouped by owner
 * with a stable counting sort -- and empties t. */
static int spill_map(mill_ctx *ctx, mill__table *t, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    int P = ctx->size;
    map_run *m = realloc(s->map, (s->nmap + 1) * sizeof *m);
    if (!m) return MILL_ENOMEM;
    s->map = m;
    map_run *run = &s->map[s->nmap];
    size_t n = mill__table_sort(t);
    run->off = calloc((size_t)P + 1, sizeof *run->off);
    size_t *at = calloc((size_t)P + 1, sizeof *at);
    uint32_t *owner = malloc((n ? n : 1) * sizeof *owner), *order = malloc((n ? n : 1) * sizeof *order);
    out_buf *o = malloc(sizeof *o);
    int rc = run->off && at && owner && order && o ? temp_file(s->tmpdir, &run->fd, err, errlen) : MILL_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            owner[i] = mill_partition_lookup(ctx->part, t->slots[i].hash);
            at[owner[i] + 1]++;
        }
        for (int r = 0; r < P; r++) at[r + 1] += at[r]; /* at[r]: where owner r's entries start */
        for (size_t i = 0; i < n; i++) order[at[owner[i]]++] = (uint32_t)i; /* now at[r]: where they end */
        *o = (out_buf){.fd = run->fd};
        size_t j = 0;
        for (int r = 0; r < P && rc == 0; r++) {
            run->off[r] = o->written + o->len;
            for (; j < at[r] && rc == 0; j++) {
                /* Entries are visited out of slot order: prefetch the
                 * entry, then (once it is in) its key; see table.h. */
                __builtin_prefetch(j + 2 * MILL__AHEAD < n ? &t->slots[order[j + 2 * MILL__AHEAD]] : NULL);
                __builtin_prefetch(j + MILL__AHEAD < n ? t->slots[order[j + MILL__AHEAD]].key : NULL);
                rc = out_record(o, ctx->job->value_type, &t->slots[order[j]], err, errlen);
            }
        }
        if (rc == 0) rc = out_flush(o, err, errlen);
        run->off[P] = o->written;
        ctx->metrics.spill_bytes += o->written;
        if (rc) close(run->fd);
    }
    free(o);
    free(order);
    free(owner);
    free(at);
    if (rc) {
        free(run->off);
        return rc;
    }
    run->level = 0;
    s->nmap++;
    /* Tiered merging: whenever the newest --merge-factor runs share a level
     * (levels never grow along the array), they become one run of the next
     * level. A run is thus merged again about log_F(runs) times, and a
     * rank keeps at most F - 1 runs per level. */
    size_t F = (size_t)ctx->args->merge_factor;
    rc = table_empty(t);
    while (rc == 0 && s->nmap >= F && s->map[s->nmap - F].level == s->map[s->nmap - 1].level)
        rc = compact_map_runs(ctx, s->nmap - F, err, errlen);
    return rc;
}

int mill__spill_map_maybe(mill_ctx *ctx, char *err, size_t errlen) {
    mill__table *t = ctx->table;
    if (!mill__table_over(t, mill__map_share(ctx->memory)) || t->n == 0) return 0;
    return spill_map(ctx, t, err, errlen);
}

/* Writes the reduce table, sorted by key, as a reduce run, and empties it. */
static int spill_reduce(mill_ctx *ctx, mill__table *t, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    reduce_run *r = realloc(s->reduce, (s->nreduce + 1) * sizeof *r);
    if (!r) return MILL_ENOMEM;
    s->reduce = r;
    out_buf *o = malloc(sizeof *o);
    int fd, rc = o ? temp_file(s->tmpdir, &fd, err, errlen) : MILL_ENOMEM;
    if (rc) {
        free(o);
        return rc;
    }
    *o = (out_buf){.fd = fd};
    size_t n = mill__table_sort(t);
    for (size_t i = 0; i < n && rc == 0; i++) {
        mill__table_prefetch(t, i + MILL__AHEAD);
        rc = out_record(o, ctx->job->value_type, &t->slots[i], err, errlen);
    }
    if (rc == 0) rc = out_flush(o, err, errlen);
    ctx->metrics.spill_bytes += o->written;
    s->reduce[s->nreduce] = (reduce_run){.fd = fd, .size = o->written};
    free(o);
    if (rc) {
        close(fd);
        return rc;
    }
    s->nreduce++;
    return table_empty(t);
}

/* ---- the exchange: sending ---------------------------------------------- */

/* Makes room for n bytes past the len used in a growable buffer (*buf of
 * *cap bytes), doubling it. Returns 0 or MILL_ENOMEM. */
static int reserve(char **buf, size_t *cap, size_t len, size_t n) {
    if (*cap - len >= n) return 0;
    char *b = realloc(*buf, (len + n) * 2);
    if (!b) return MILL_ENOMEM;
    *buf = b;
    *cap = (len + n) * 2;
    return 0;
}

/* What a rank sends to one destination: packed records in memory, or the
 * records a merge of the map runs stages. */
typedef struct dest {
    char *buf;            /* in memory: the packed records; sorted: staged ones */
    uint64_t len, pos;    /* bytes in buf, and bytes of them sent (in memory) */
    size_t cap;           /* of buf, sorted */
    mill__merge *merge;   /* sorted: the merge of the map runs' segments */
    int ended;            /* sorted: the merge has no more keys */
    uint64_t records;     /* sorted: records staged */
} dest;

/* Packs the table's records by owner into one buffer, which d[0].buf owns;
 * d[r] gets r's part. Adds the bytes for other ranks, and their keys' and
 * values' bytes alone (the ideal), to the metrics. */
static int pack_by_owner(mill_ctx *ctx, const mill__table *t, dest *d) {
    int vt = ctx->job->value_type;
    for (size_t i = 0; i < t->cap; i++) {
        const mill__entry *e = &t->slots[i];
        if (!e->key) continue;
        uint32_t r = mill_partition_lookup(ctx->part, e->hash);
        d[r].len += mill__record_size(vt, e->klen, e->value, e->vlen);
        if ((int)r != ctx->rank) ctx->metrics.payload_remote += (uint64_t)e->klen + e->vlen;
    }
    uint64_t total = 0;
    for (int r = 0; r < ctx->size; r++) total += d[r].len;
    char *b = malloc(total ? total : 1);
    if (!b) return MILL_ENOMEM;
    for (int r = 0; r < ctx->size; r++) {
        d[r].buf = b;
        b += d[r].len;
    }
    for (size_t i = 0; i < t->cap; i++) {
        const mill__entry *e = &t->slots[i];
        mill__table_prefetch(t, i + MILL__AHEAD);
        if (!e->key) continue;
        dest *x = &d[mill_partition_lookup(ctx->part, e->hash)];
        x->pos += mill__record_put(vt, x->buf + x->pos, e->key, e->klen, e->value, e->vlen);
    }
    for (int r = 0; r < ctx->size; r++) d[r].pos = 0;
    return 0;
}

/* Sets up one merge per destination over the map runs' segments for it,
 * after spilling the last map table t as a run too. */
static int merge_runs(mill_ctx *ctx, mill__table *t, mill__table *scratch, dest *d, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    int rc = t->n ? spill_map(ctx, t, err, errlen) : 0;
    size_t buf = read_buffer(ctx->memory, (uint64_t)ctx->size * s->nmap);
    for (int r = 0; r < ctx->size && rc == 0; r++)
        if ((rc = mill__merge_new(&d[r].merge, ctx, scratch)) == 0) rc = add_segments(d[r].merge, s, 0, r, buf);
    return rc;
}

/* Copies the next at most `chunk` bytes for destination r into dst and
 * sets *n to their count; a record may be cut, the receiver joins it
 * again. Sets *more when bytes remain for r after these. */
static int fill(mill_ctx *ctx, dest *d, int r, char *dst, size_t chunk, size_t *n, int *more, char *err,
                size_t errlen) {
    int rc = 0, vt = ctx->job->value_type;
    if (d->merge) { /* stage merged records until a round's worth */
        while (!d->ended && d->len < chunk) {
            mill_kv kv;
            int got = mill__merge_next(d->merge, &kv, err, errlen);
            if (got <= 0) {
                d->ended = 1;
                rc = got;
                break;
            }
            size_t size = mill__record_size(vt, (uint32_t)kv.key_len, kv.value, (uint32_t)kv.value_len);
            if ((rc = reserve(&d->buf, &d->cap, (size_t)d->len, size)) != 0) break;
            d->len += mill__record_put(vt, d->buf + d->len, kv.key, (uint32_t)kv.key_len, kv.value,
                                       (uint32_t)kv.value_len);
            d->records++;
            if (r != ctx->rank) ctx->metrics.payload_remote += kv.key_len + kv.value_len;
        }
    }
    uint64_t k = d->len - d->pos < chunk ? d->len - d->pos : chunk;
    if (rc) k = 0;
    if (k) memcpy(dst, d->buf + d->pos, (size_t)k);
    d->pos += k;
    if (d->merge && d->pos) { /* the staged bytes left move to the front */
        memmove(d->buf, d->buf + d->pos, (size_t)(d->len - d->pos));
        d->len -= d->pos;
        d->pos = 0;
    }
    *n = (size_t)k;
    *more = d->pos < d->len || (d->merge && !d->ended);
    return rc;
}

/* ---- the exchange: receiving -------------------------------------------- */

/* A source's bytes not yet parsed into records. */
typedef struct carry {
    char *buf;
    size_t len, cap;
} carry;

/* Appends n bytes to a carry buffer. Returns 0 or MILL_ENOMEM. */
static int carry_add(carry *c, const char *p, size_t n) {
    if (reserve(&c->buf, &c->cap, c->len, n) != 0) return MILL_ENOMEM;
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return 0;
}

/* Records combined into the reduce table in one call of the emit pipeline. */
#define TAKE_BATCH 256

/* Combines the whole records at the start of [p, p + n) into the reduce
 * table (ctx->table), a batch at a time, spilling it when it passes its
 * share, and sets *used to their bytes: a record cut by the end of the
 * range is left. Returns 0 or an error. */
static int take_records(mill_ctx *ctx, const char *p, size_t n, size_t *used, uint64_t *records, char *err,
                        size_t errlen) {
    mill_kv kv[TAKE_BATCH];
    char val[TAKE_BATCH][8];
    size_t off = 0, got = 1;
    int rc = 0;
    while (rc == 0 && got) {
        size_t m = 0;
        for (; m < TAKE_BATCH; m++) {
            const char *k, *v;
            uint32_t kl, vl;
            if ((got = mill__record_get(ctx->job->value_type, p + off, n - off, &k, &kl, &v, &vl, val[m])) == 0)
                break;
            if (got == SIZE_MAX) {
                snprintf(err, errlen, "shuffle: a malformed record in a round");
                return MILL_EIO;
            }
            kv[m] = (mill_kv){k, kl, v, vl};
            off += got;
        }
        *records += m;
        if ((rc = mill__combine_many(ctx, kv, m)) != 0) rc = mill__job_error(ctx, "combine", rc, err, errlen);
        else if (mill__table_over(ctx->table, mill__reduce_share(ctx->memory)))
            rc = spill_reduce(ctx, ctx->table, err, errlen);
    }
    *used = off;
    return rc;
}

/* Combines the records of a source's round [p, p + n) into the reduce
 * table where they lie. A record cut by the round's end waits in the
 * carry buffer, and the next round first completes it, 64 bytes at a time. */
static int take(mill_ctx *ctx, carry *c, const char *p, size_t n, uint64_t *records, char *err, size_t errlen) {
    int rc = 0;
    size_t used;
    while (rc == 0 && c->len && n) {
        size_t k = n < 64 ? n : 64;
        if ((rc = carry_add(c, p, k)) != 0) break;
        p += k, n -= k;
        if ((rc = take_records(ctx, c->buf, c->len, &used, records, err, errlen)) != 0 || used == 0) continue;
        p -= c->len - used, n += c->len - used; /* bytes past the records go back to p */
        c->len = 0;
    }
    if (rc == 0 && (rc = take_records(ctx, p, n, &used, records, err, errlen)) == 0 && used < n)
        rc = carry_add(c, p + used, n - used); /* c is empty here */
    return rc;
}

/* Sorted: appends a source's round to its reduce run (the run's size so
 * far in run->size), opening the run with its first bytes. */
static int append(const mill__spill *s, reduce_run *run, const char *p, size_t n, char *err, size_t errlen) {
    int rc = 0;
    if (n && run->fd < 0) rc = temp_file(s->tmpdir, &run->fd, err, errlen);
    if (rc == 0) rc = write_all(run->fd, p, n, err, errlen);
    if (rc == 0) run->size += n;
    return rc;
}

/* ---- the exchange: rounds ----------------------------------------------- */

int mill__shuffle(mill_ctx *ctx, mill__table *mapped, char *err, size_t errlen) {
    int P = ctx->size, rc = 0, mrc, spilled = ctx->spill->nmap > 0, sorted = spilled;
    mill__spill *s = ctx->spill;
    mill__table scratch;
    int have_scratch = mill__table_init(&scratch) == 0;
    dest *d = calloc((size_t)P, sizeof *d);
    carry *cy = calloc((size_t)P, sizeof *cy);
    reduce_run *in = malloc((size_t)P * sizeof *in);
    for (int r = 0; in && r < P; r++) in[r] = (reduce_run){.fd = -1};
    if (!have_scratch || !d || !cy || !in) rc = MILL_ENOMEM;
    /* Sorted when any rank spilled: the receivers must know which. */
    mrc = MPI_Allreduce(&spilled, &sorted, 1, MPI_INT, MPI_MAX, ctx->comm);
    if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
    if (rc == 0) rc = sorted ? merge_runs(ctx, mapped, &scratch, d, err, errlen) : pack_by_owner(ctx, mapped, d);
    mill__table_free(mapped);
    if (rc == MILL_ENOMEM) snprintf(err, errlen, "out of memory setting up the shuffle");

    /* Round size: every pair moves at most `chunk` bytes per round, and the
     * two round buffers take at most an eighth of the budget. Budgets may
     * differ between ranks (nodes of different sizes): the smallest sets
     * the size, so that no rank receives more than its share. A round
     * moves at most 64 MiB per rank: bigger ones only cost page faults on
     * fresh buffers (a 128 MiB round's MPI_Alltoallv took 3x a bare one of
     * the same bytes on warm buffers, a 64 MiB one 1.7x), and smaller ones
     * add a wait for the slowest rank per round. */
    uint64_t budget = ctx->memory;
    mrc = MPI_Allreduce(&ctx->memory, &budget, 1, MPI_UINT64_T, MPI_MIN, ctx->comm);
    if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
    uint64_t chunk = budget / 16 / (uint64_t)P;
    if (chunk > (64u << 20) / (unsigned)P) chunk = (64u << 20) / (unsigned)P;
    if (chunk < (64u << 10)) chunk = 64u << 10;
    char *sround = malloc((size_t)(P * chunk)), *rround = malloc((size_t)(P * chunk));
    int *cnt = calloc((size_t)P * 4, sizeof *cnt);
    if (rc == 0 && (!sround || !rround || !cnt)) {
        snprintf(err, errlen, "out of memory for the shuffle's buffers");
        rc = MILL_ENOMEM;
    }
    /* Every rank enters the rounds only when every rank is ready. */
    rc = mill__agree(ctx->comm, rc, err, errlen);
    uint64_t records = 0, received = 0;
    for (int more = 1; rc == 0 && more;) {
        int *sc = cnt, *sd = cnt + P, *rcn = cnt + 2 * P, *rd = cnt + 3 * P, so = 0, ro = 0, mine = 0;
        for (int r = 0; r < P; r++) {
            size_t n = 0;
            int left = 0;
            if (rc == 0) rc = fill(ctx, &d[r], r, sround + so, (size_t)chunk, &n, &left, err, errlen);
            sc[r] = (int)n;
            sd[r] = so;
            so += sc[r];
            mine |= left;
            ctx->metrics.bytes_sent += n;
            if (r != ctx->rank) ctx->metrics.bytes_remote += n;
        }
        /* A local error still takes part in this round (sending what it
         * has), then stops at the agreement below. */
        const char *what = "MPI_Alltoall";
        mrc = MPI_Alltoall(sc, 1, MPI_INT, rcn, 1, MPI_INT, ctx->comm);
        for (int r = 0; r < P; r++) {
            rd[r] = ro;
            ro += mrc == MPI_SUCCESS ? rcn[r] : 0;
        }
        /* Timed once the counts are in, that is once every rank is ready:
         * the time of moving the bytes, not of waiting for a slower rank. */
        double t = mill__now();
        if (mrc == MPI_SUCCESS) {
            what = "MPI_Alltoallv";
            mrc = MPI_Alltoallv(sround, sc, sd, MPI_CHAR, rround, rcn, rd, MPI_CHAR, ctx->comm);
        }
        ctx->metrics.exchange_s += mill__now() - t;
        if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, what, err, errlen);
        for (int r = 0; r < P && rc == 0; r++) {
            received += (uint64_t)rcn[r];
            if (sorted) rc = append(s, &in[r], rround + rd[r], (size_t)rcn[r], err, errlen);
            else rc = take(ctx, &cy[r], rround + rd[r], (size_t)rcn[r], &records, err, errlen);
        }
        if (rc == 0 && mill__stop_signal()) rc = mill__stop_error(err, errlen); /* SIGTERM: stop between rounds */
        rc = mill__agree(ctx->comm, rc, err, errlen);
        mrc = MPI_Allreduce(&mine, &more, 1, MPI_INT, MPI_MAX, ctx->comm);
        if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
    }
    /* Every byte sent was a whole record: a tail left over means the
     * stream was cut wrongly, and is an error, not a silent loss. (A sorted
     * run is checked as the merge reads it.) */
    for (int r = 0; rc == 0 && r < P; r++) {
        if (cy[r].len) {
            snprintf(err, errlen, "shuffle: %zu bytes from rank %d end inside a record", cy[r].len, r);
            rc = MILL_EIO;
        }
    }
    /* Sorted: the runs received become reduce runs, and each source says
     * how many records it sent. */
    for (int r = 0; sorted && rc == 0 && r < P; r++) {
        if (in[r].fd < 0) continue;
        reduce_run *runs = realloc(s->reduce, (s->nreduce + 1) * sizeof *runs);
        if (!runs) {
            rc = MILL_ENOMEM;
            break;
        }
        s->reduce = runs;
        s->reduce[s->nreduce++] = in[r];
        ctx->metrics.spill_bytes += in[r].size;
        in[r].fd = -1;
    }
    if (sorted && rc == 0) {
        uint64_t *sent = malloc((size_t)P * 2 * sizeof *sent);
        if (!sent) rc = MILL_ENOMEM;
        for (int r = 0; rc == 0 && r < P; r++) sent[r] = d[r].records;
        mrc = rc == 0 ? MPI_Alltoall(sent, 1, MPI_UINT64_T, sent + P, 1, MPI_UINT64_T, ctx->comm) : MPI_SUCCESS;
        if (mrc != MPI_SUCCESS) rc = mill__mpi_error(mrc, "MPI_Alltoall", err, errlen);
        for (int r = 0; rc == 0 && r < P; r++) records += sent[P + r];
        free(sent);
    }
    mill__phase_end(&ctx->metrics, MILL_PHASE_SHUFFLE, received, records);
    for (int r = 0; r < P; r++) {
        if (cy) free(cy[r].buf);
        if (in && in[r].fd >= 0) close(in[r].fd);
        if (d) {
            mill__merge_free(d[r].merge);
            if (d[r].merge || r == 0) free(d[r].buf);
        }
    }
    if (have_scratch) mill__table_free(&scratch);
    free(in);
    free(cy);
    free(d);
    free(cnt);
    free(sround);
    free(rround);
    return rc;
}

/* ---- the reduce side ---------------------------------------------------- */

int mill__shuffle_merge(mill_ctx *ctx, mill__table *t, mill__key_fn fn, void *arg, char *err, size_t errlen) {
    const mill__spill *s = ctx->spill;
    size_t n = mill__table_sort(t);
    int rc = 0;
    if (s->nreduce == 0) { /* everything fit: the sorted table is the answer */
        for (size_t i = 0; i < n && rc == 0; i++) {
            mill__table_prefetch(t, i + MILL__AHEAD);
            rc = fn(arg, t->slots[i].key, t->slots[i].klen, t->slots[i].value, t->slots[i].vlen);
        }
        return rc;
    }
    mill__table scratch;
    mill__merge *m = NULL;
    if ((rc = mill__table_init(&scratch)) != 0) return rc;
    rc = mill__merge_new(&m, ctx, &scratch);
    size_t buf = read_buffer(ctx->memory, s->nreduce);
    for (size_t i = 0; i < s->nreduce && rc == 0; i++) rc = mill__merge_file(m, s->reduce[i].fd, 0, s->reduce[i].size, buf);
    if (rc == 0) rc = mill__merge_entries(m, t->slots, n);
    mill_kv kv;
    while (rc == 0 && (rc = mill__merge_next(m, &kv, err, errlen)) == 1)
        rc = fn(arg, kv.key, kv.key_len, kv.value, kv.value_len);
    mill__merge_free(m);
    mill__table_free(&scratch);
    return rc;
}

int mill__spill_temp(const mill__spill *s, int *fd, char *err, size_t errlen) {
    return temp_file(s->tmpdir, fd, err, errlen);
}
