/* shuffle.c -- moving every (key, value) to its owner rank, within --memory.
 *
 * Map side: records combine in a hash table. When the table would pass its
 * share of the memory budget, it is written to a sorted map run and starts
 * empty again (spill.c).
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
 * Record format everywhere: record.h. Spill files: spill.c. Merging: merge.c.
 */
#include "shuffle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "merge.h"
#include "record.h"
#include "runtime.h"

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
    size_t cap;           /* of buf */
    mill__merge *merge;   /* sorted: the merge of the map runs' segments */
    int ended;            /* sorted: the merge has no more keys */
    uint64_t records;     /* sorted: records staged */
} dest;

/* Packing a map table by owner. */
typedef struct packer {
    mill_ctx *ctx;
    dest *d;            /* d[r].buf gets rank r's records */
    int keep;           /* this rank's own records stay in the table, unpacked */
    int rc;             /* MILL_ENOMEM once a buffer could not grow */
    uint64_t own_bytes; /* keep: the bytes the records kept would have taken */
} packer;

/* Packs entry e for its owner and returns 0, or with p->keep returns 1
 * for this rank's own (mill__table_filter keeps it). Each buffer doubles
 * as it fills (realloc moves a big block's pages, not its bytes). Adds the
 * keys' and values' bytes of the records for other ranks (the ideal) to
 * the metrics. */
static int pack_one(void *arg, const mill__entry *e) {
    packer *p = arg;
    mill_ctx *ctx = p->ctx;
    int vt = ctx->job->value_type;
    uint32_t r = mill_partition_lookup(ctx->part, e->hash);
    if (p->keep && (int)r == ctx->rank) {
        p->own_bytes += mill__record_size(vt, e->klen, e->value, e->vlen);
        return 1;
    }
    dest *x = &p->d[r];
    if (p->rc == 0 && reserve(&x->buf, &x->cap, (size_t)x->len, MILL__RECORD_OVERHEAD + (size_t)e->klen + e->vlen))
        p->rc = MILL_ENOMEM;
    if (p->rc == 0) x->len += mill__record_put(vt, x->buf + x->len, e->key, e->klen, e->value, e->vlen);
    if ((int)r != ctx->rank) ctx->metrics.payload_remote += (uint64_t)e->klen + e->vlen;
    return 0;
}

/* Packs the table's records by owner in one pass over the slots. With
 * p->keep, the others' records leave the table as they are packed and
 * this rank's own stay (mill__table_filter): they are not copied, sent to
 * this rank and combined into the table again. */
static int pack_by_owner(mill__table *t, packer *p) {
    if (p->keep) {
        mill__table_filter(t, pack_one, p);
        return p->rc;
    }
    for (size_t i = 0; i < t->cap && p->rc == 0; i++) {
        mill__table_prefetch(t, i + MILL__AHEAD);
        if (t->slots[i].key) pack_one(p, &t->slots[i]);
    }
    return p->rc;
}

/* Sets up one merge per destination over the map runs' segments for it,
 * after spilling the last map table t as a run too. */
static int merge_runs(mill_ctx *ctx, mill__table *t, mill__table *scratch, dest *d, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    int rc = t->n ? mill__spill_map(ctx, t, err, errlen) : 0;
    size_t buf = mill__spill_buffer(ctx->memory, (uint64_t)ctx->size * s->nmap);
    for (int r = 0; r < ctx->size && rc == 0; r++)
        if ((rc = mill__merge_new(&d[r].merge, ctx, scratch)) == 0) rc = mill__spill_segments(d[r].merge, s, 0, r, buf);
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
            rc = mill__spill_reduce(ctx, ctx->table, err, errlen);
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
static int append(const mill__spill *s, mill__reduce_run *run, const char *p, size_t n, char *err, size_t errlen) {
    int rc = 0;
    if (n && run->fd < 0) rc = mill__spill_temp(s, &run->fd, err, errlen);
    if (rc == 0) rc = mill__spill_write(s, run->fd, p, n, err, errlen);
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
    mill__reduce_run *in = malloc((size_t)P * sizeof *in);
    for (int r = 0; in && r < P; r++) in[r] = (mill__reduce_run){.fd = -1};
    if (!have_scratch || !d || !cy || !in) rc = MILL_ENOMEM;
    /* Sorted when any rank spilled: the receivers must know which. */
    mrc = MPI_Allreduce(&spilled, &sorted, 1, MPI_INT, MPI_MAX, ctx->comm);
    if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
    /* In memory, the records received next go into the map table's storage
     * (when the reduce table's budget allows its size). Its own records then
     * stay in it, not packed, sent to itself and combined in again: the
     * others are dropped from it once packed. Their arena bytes stay and
     * count against the reduce table's share until it is cleared, so this
     * is done only while they take at most half of it: otherwise the
     * reduce table could spill where, emptied, it would not. Sorted, the
     * records go to reduce runs: the storage is freed for the merge. */
    int keep = !sorted && mill__table_can_take(ctx->table, mapped) &&
               mill__table_memory(mapped) <= mill__reduce_share(ctx->memory) / 2;
    packer pk = {ctx, d, keep, 0, 0};
    double t0 = mill__now();
    if (rc == 0) rc = sorted ? merge_runs(ctx, mapped, &scratch, d, err, errlen) : pack_by_owner(mapped, &pk);
    ctx->metrics.pack_s = mill__now() - t0;
    keep = keep && rc == 0;
    uint64_t records = keep ? mapped->n : 0, received = pk.own_bytes; /* the records kept, as if received */
    if (sorted) mill__table_free(mapped);
    else mill__table_take(ctx->table, mapped, keep);
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
    /* Records are cut anywhere (the carry joins them), so any size works;
     * small ones only take more rounds. Up to a million ranks a round
     * stays within 64 MiB, and its offsets within an int. */
    if (chunk < 64) chunk = 64;
    char *sround = malloc((size_t)(P * chunk)), *rround = malloc((size_t)(P * chunk));
    int *cnt = calloc((size_t)P * 4, sizeof *cnt);
    if (rc == 0 && (!sround || !rround || !cnt)) {
        snprintf(err, errlen, "out of memory for the shuffle's buffers");
        rc = MILL_ENOMEM;
    }
    /* Every rank enters the rounds only when every rank is ready. */
    rc = mill__agree(ctx->comm, rc, err, errlen);
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
        /* Then agree: a failed Allreduce on one rank ends the rounds on all. */
        mrc = MPI_Allreduce(&mine, &more, 1, MPI_INT, MPI_MAX, ctx->comm);
        if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
        rc = mill__agree(ctx->comm, rc, err, errlen);
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
        mill__reduce_run *runs = mill__fault_site(MILL_FAULT_SITE_REDUCE_RUNS)
                                     ? NULL
                                     : realloc(s->reduce, (s->nreduce + 1) * sizeof *runs);
        if (!runs) {
            snprintf(err, errlen, "out of memory listing the reduce runs");
            rc = MILL_ENOMEM;
            break;
        }
        s->reduce = runs;
        s->reduce[s->nreduce++] = in[r];
        ctx->metrics.spill_bytes += in[r].size;
        in[r].fd = -1;
    }
    if (sorted) { /* sorted is the same on every rank: all of them are here */
        uint64_t *sent =
            rc == 0 && !mill__fault_site(MILL_FAULT_SITE_SENT) ? malloc((size_t)P * 2 * sizeof *sent) : NULL;
        if (rc == 0 && !sent) {
            snprintf(err, errlen, "out of memory counting the records sent");
            rc = MILL_ENOMEM;
        }
        /* A local failure since the rounds' last agreement must not leave
         * the other ranks waiting in the count exchange. */
        rc = mill__agree(ctx->comm, rc, err, errlen);
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
            free(d[r].buf);
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
    size_t buf = mill__spill_buffer(ctx->memory, s->nreduce);
    for (size_t i = 0; i < s->nreduce && rc == 0; i++)
        rc = mill__merge_file(m, s->reduce[i].fd, 0, s->reduce[i].size, buf);
    if (rc == 0) rc = mill__merge_entries(m, t->slots, n);
    mill_kv kv;
    while (rc == 0 && (rc = mill__merge_next(m, &kv, err, errlen)) == 1)
        rc = fn(arg, kv.key, kv.key_len, kv.value, kv.value_len);
    mill__merge_free(m);
    mill__table_free(&scratch);
    return rc;
}

