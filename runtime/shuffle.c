/* shuffle.c -- moving every (key, value) to its owner rank, within --memory.
 *
 * Map side: records combine in a hash table. When the table would pass its
 * share of the memory budget, its records are written to an unlinked
 * temporary file ("map run"), grouped by owner rank, and the table starts
 * empty again.
 *
 * Exchange: for each destination, the bytes to send are its segment of
 * every map run followed by its part of the final table. They move in
 * rounds of MPI_Alltoallv whose buffers are bounded by the budget; what
 * arrives is parsed at once (a record cut by a round boundary waits in a
 * per-source carry buffer) and combined into the reduce table.
 *
 * Reduce side: when the reduce table would pass its share, it is sorted and
 * written to a temporary file ("reduce run"). mill__shuffle_merge then
 * merges the sorted runs with the sorted table, combining equal keys, and
 * hands every key once, in key order, to the writer.
 *
 * Record format everywhere: record.h.
 */
#include "shuffle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "runtime.h"

/* A map run: records grouped by owner; owner r's bytes are [off[r], off[r+1]). */
typedef struct map_run {
    int fd;
    uint64_t *off;
} map_run;

/* A reduce run: records sorted by key. */
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

/* Buffered appends to a spill file. */
typedef struct out_buf {
    int fd;
    char buf[1 << 16];
    size_t len;
    uint64_t written;
} out_buf;

static int out_flush(out_buf *o, char *err, size_t errlen) {
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf(err, errlen, "writing a spill file: %s", strerror(errno));
            return MILL_EIO;
        }
        off += (size_t)n;
    }
    o->written += o->len;
    o->len = 0;
    return 0;
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

int mill__spill_map_maybe(mill_ctx *ctx, char *err, size_t errlen) {
    mill__table *t = ctx->table;
    if (!mill__table_over(t, mill__map_share(ctx->memory)) || t->n == 0) return 0;
    mill__spill *s = ctx->spill;
    map_run *m = realloc(s->map, (s->nmap + 1) * sizeof *m);
    if (!m) return MILL_ENOMEM;
    s->map = m;
    map_run *run = &s->map[s->nmap];
    run->off = calloc((size_t)ctx->size + 1, sizeof *run->off);
    out_buf *o = malloc(sizeof *o);
    int rc = run->off && o ? temp_file(s->tmpdir, &run->fd, err, errlen) : MILL_ENOMEM;
    if (rc) {
        free(run->off);
        free(o);
        return rc;
    }
    o->fd = run->fd;
    o->len = 0;
    o->written = 0;
    /* One pass over the table per owner keeps the file grouped by owner
     * without a second copy of the records in memory. */
    for (int r = 0; r < ctx->size && rc == 0; r++) {
        run->off[r] = o->written + o->len;
        for (size_t i = 0; i < t->cap && rc == 0; i++) {
            const mill__entry *e = &t->slots[i];
            mill__table_prefetch(t, i + MILL__AHEAD);
            if (!e->key || (int)mill_partition_lookup(ctx->part, e->hash) != r) continue;
            rc = out_record(o, ctx->job->value_type, e, err, errlen);
            if (r != ctx->rank) ctx->metrics.payload_remote += (uint64_t)e->klen + e->vlen;
        }
    }
    if (rc == 0) rc = out_flush(o, err, errlen);
    run->off[ctx->size] = o->written;
    ctx->metrics.spill_bytes += o->written;
    free(o);
    if (rc) {
        close(run->fd);
        free(run->off);
        return rc;
    }
    s->nmap++;
    return table_empty(t);
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

/* ---- the exchange ------------------------------------------------------- */

/* The bytes for one destination: segments of map runs, then memory. */
typedef struct stream {
    size_t run;        /* next map run to read from (== nmap: memory) */
    uint64_t pos;      /* position inside the current segment */
    const char *mem;   /* the final table's packed records for this rank */
    uint64_t mem_len;
} stream;

/* Copies the next n bytes of destination r's stream into dst. */
static int stream_read(const mill__spill *s, stream *st, int r, char *dst, size_t n, char *err, size_t errlen) {
    while (n > 0) {
        if (st->run < s->nmap) {
            const map_run *m = &s->map[st->run];
            uint64_t seg = m->off[r + 1] - m->off[r];
            if (st->pos == seg) {
                st->run++;
                st->pos = 0;
                continue;
            }
            size_t k = seg - st->pos < n ? (size_t)(seg - st->pos) : n;
            ssize_t got = pread(m->fd, dst, k, (off_t)(m->off[r] + st->pos));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                snprintf(err, errlen, "reading a spill file: %s", got < 0 ? strerror(errno) : "short file");
                return MILL_EIO;
            }
            st->pos += (uint64_t)got;
            dst += got;
            n -= (size_t)got;
        } else {
            memcpy(dst, st->mem + st->pos, n);
            st->pos += n;
            n = 0;
        }
    }
    return 0;
}

/* Packs the table's records by owner into one buffer; counts[r] = bytes for
 * r. Adds the bytes for other ranks, and their keys' and values' bytes
 * alone (the ideal), to the metrics. */
static int pack_by_owner(mill_ctx *ctx, const mill__table *t, char **buf, uint64_t *counts) {
    int vt = ctx->job->value_type;
    uint64_t *off = calloc((size_t)ctx->size, sizeof *off);
    if (!off) return MILL_ENOMEM;
    memset(counts, 0, (size_t)ctx->size * sizeof *counts);
    for (size_t i = 0; i < t->cap; i++) {
        const mill__entry *e = &t->slots[i];
        if (!e->key) continue;
        uint32_t r = mill_partition_lookup(ctx->part, e->hash);
        counts[r] += mill__record_size(vt, e->klen, e->value, e->vlen);
        if ((int)r != ctx->rank) ctx->metrics.payload_remote += (uint64_t)e->klen + e->vlen;
    }
    uint64_t total = 0;
    for (int r = 0; r < ctx->size; r++) {
        off[r] = total;
        total += counts[r];
    }
    char *b = malloc(total ? total : 1);
    if (!b) {
        free(off);
        return MILL_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        const mill__entry *e = &t->slots[i];
        mill__table_prefetch(t, i + MILL__AHEAD);
        if (!e->key) continue;
        uint64_t *o = &off[mill_partition_lookup(ctx->part, e->hash)];
        char *d = b + *o;
        size_t n = mill__record_head(vt, d, e->klen, e->vlen);
        memcpy(d + n, e->key, e->klen);
        n += e->klen;
        n += mill__record_value(vt, d + n, e->value, e->vlen);
        *o += n;
    }
    free(off);
    *buf = b;
    return 0;
}

/* A source's bytes not yet parsed into records. */
typedef struct carry {
    char *buf;
    size_t len, cap;
} carry;

/* Appends n bytes to a carry buffer. Returns 0 or MILL_ENOMEM. */
static int carry_add(carry *c, const char *p, size_t n) {
    if (c->cap - c->len < n) {
        size_t cap = (c->len + n) * 2;
        char *b = realloc(c->buf, cap);
        if (!b) return MILL_ENOMEM;
        c->buf = b;
        c->cap = cap;
    }
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

int mill__shuffle(mill_ctx *ctx, mill__table *mapped, char *err, size_t errlen) {
    int P = ctx->size, mrc, rc;
    const mill__spill *s = ctx->spill;
    uint64_t *scounts = calloc((size_t)P * 2, sizeof *scounts), *rcounts = scounts ? scounts + P : NULL;
    char *mem = NULL;
    rc = scounts ? pack_by_owner(ctx, mapped, &mem, scounts) : MILL_ENOMEM;
    mill__table_free(mapped);
    if (rc) snprintf(err, errlen, "out of memory packing the shuffle");
    rc = mill__agree(ctx->comm, rc, err, errlen);
    if (rc) {
        free(scounts);
        free(mem);
        return rc;
    }
    stream *st = calloc((size_t)P, sizeof *st);
    carry *cy = calloc((size_t)P, sizeof *cy);
    uint64_t mem_off = 0;
    for (int r = 0; st && r < P; r++) {
        st[r].mem = mem + mem_off;
        st[r].mem_len = scounts[r];
        mem_off += scounts[r];
        for (size_t i = 0; i < s->nmap; i++) scounts[r] += s->map[i].off[r + 1] - s->map[i].off[r];
    }
    mrc = MPI_Alltoall(scounts, 1, MPI_UINT64_T, rcounts, 1, MPI_UINT64_T, ctx->comm);
    if (mrc != MPI_SUCCESS) rc = mill__mpi_error(mrc, "MPI_Alltoall", err, errlen);

    /* Round size: every pair moves at most `chunk` bytes per round, and the
     * two round buffers take at most an eighth of the budget. Budgets may
     * differ between ranks (nodes of different sizes): the smallest sets
     * the size, since sender and receiver must cut the stream alike. */
    uint64_t budget = ctx->memory;
    mrc = MPI_Allreduce(&ctx->memory, &budget, 1, MPI_UINT64_T, MPI_MIN, ctx->comm);
    if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
    uint64_t chunk = budget / 16 / (uint64_t)P, most = 0, rounds = 0;
    if (chunk > (256u << 20) / (unsigned)P) chunk = (256u << 20) / (unsigned)P;
    if (chunk < (64u << 10)) chunk = 64u << 10;
    for (int r = 0; r < P; r++) {
        if (scounts[r] > most) most = scounts[r];
        if (rcounts[r] > most) most = rcounts[r];
    }
    uint64_t mine = (most + chunk - 1) / chunk;
    mrc = MPI_Allreduce(&mine, &rounds, 1, MPI_UINT64_T, MPI_MAX, ctx->comm);
    if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Allreduce", err, errlen);
    char *sround = malloc((size_t)(P * chunk)), *rround = malloc((size_t)(P * chunk));
    int *cnt = calloc((size_t)P * 4, sizeof *cnt);
    if (rc == 0 && (!st || !cy || !sround || !rround || !cnt)) {
        snprintf(err, errlen, "out of memory for the shuffle's buffers");
        rc = MILL_ENOMEM;
    }
    /* Every rank enters the rounds only when every rank is ready. */
    rc = mill__agree(ctx->comm, rc, err, errlen);
    uint64_t records = 0, received = 0;
    for (uint64_t k = 0; rc == 0 && k < rounds; k++) {
        int *sc = cnt, *sd = cnt + P, *rcn = cnt + 2 * P, *rd = cnt + 3 * P, so = 0, ro = 0;
        uint64_t done = k * chunk;
        for (int r = 0; r < P; r++) {
            uint64_t a = scounts[r] > done ? scounts[r] - done : 0, b = rcounts[r] > done ? rcounts[r] - done : 0;
            sc[r] = (int)(a < chunk ? a : chunk);
            rcn[r] = (int)(b < chunk ? b : chunk);
            sd[r] = so;
            rd[r] = ro;
            if (rc == 0) rc = stream_read(s, &st[r], r, sround + so, (size_t)sc[r], err, errlen);
            so += sc[r];
            ro += rcn[r];
        }
        /* A local read error still takes part in this round (with the
         * counts promised), then stops at the agreement below. */
        double t = mill__now();
        mrc = MPI_Alltoallv(sround, sc, sd, MPI_CHAR, rround, rcn, rd, MPI_CHAR, ctx->comm);
        ctx->metrics.exchange_s += mill__now() - t;
        if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Alltoallv", err, errlen);
        for (int r = 0; r < P && rc == 0; r++) {
            received += (uint64_t)rcn[r];
            rc = take(ctx, &cy[r], rround + rd[r], (size_t)rcn[r], &records, err, errlen);
        }
        if (rc == 0 && mill__stop_signal()) rc = mill__stop_error(err, errlen); /* SIGTERM: stop between rounds */
        rc = mill__agree(ctx->comm, rc, err, errlen);
    }
    /* Every byte sent was a whole record: a tail left over means the
     * stream was cut wrongly, and is an error, not a silent loss. */
    for (int r = 0; rc == 0 && cy && r < P; r++) {
        if (cy[r].len) {
            snprintf(err, errlen, "shuffle: %zu bytes from rank %d end inside a record", cy[r].len, r);
            rc = MILL_EIO;
        }
    }
    for (int r = 0; scounts && r < P; r++) {
        ctx->metrics.bytes_sent += scounts[r];
        if (r != ctx->rank) ctx->metrics.bytes_remote += scounts[r];
    }
    mill__phase_end(&ctx->metrics, MILL_PHASE_SHUFFLE, received, records);
    for (int r = 0; cy && r < P; r++) free(cy[r].buf);
    free(cy);
    free(st);
    free(cnt);
    free(sround);
    free(rround);
    free(mem);
    free(scounts);
    return rc;
}

/* ---- merging reduce runs ---------------------------------------------- */

/* One sorted input of the merge: a reduce run read through a buffer, or
 * the sorted in-memory table. */
typedef struct head {
    FILE *f;               /* a run, or NULL for the table */
    const mill__entry *e;  /* the table's entries */
    size_t i, n;
    char *key, *value;     /* the current record */
    uint32_t klen, vlen;
    uint64_t prefix;       /* mill__key_prefix of key: most comparisons need no more */
    size_t cap;            /* of key (runs): room for the key and the value */
    int vt;                /* the job's value type (runs are in record.h's format) */
    int done;
} head;

/* Reads a varint from f into *x. Returns 1, 0 at the end of the file
 * before its first byte, or -1 when f ends inside it, fails or holds no
 * varint. */
static int file_varint(FILE *f, uint64_t *x) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        int c = getc_unlocked(f); /* the file is this thread's alone */
        if (c == EOF) return i == 0 && !ferror(f) ? 0 : -1;
        if (i == 9 && c > 1) return -1;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (c < 0x80) {
            *x = v;
            return 1;
        }
    }
    return -1;
}

static int head_next(head *h, char *err, size_t errlen) {
    if (!h->f) {
        if (h->i == h->n) {
            h->done = 1;
            return 0;
        }
        __builtin_prefetch(h->i + MILL__AHEAD < h->n ? h->e[h->i + MILL__AHEAD].key : NULL); /* see table.h */
        const mill__entry *e = &h->e[h->i++];
        h->key = e->key;
        h->value = e->value;
        h->klen = e->klen;
        h->vlen = e->vlen;
        h->prefix = mill__key_prefix(h->key, h->klen);
        return 0;
    }
    uint64_t kl, vl = 8, num;
    int r = file_varint(h->f, &kl);
    if (r == 0) {
        h->done = 1;
        return 0;
    }
    if (r < 0 || (h->vt == MILL_VALUE_BYTES && file_varint(h->f, &vl) != 1) || kl > UINT32_MAX || vl > UINT32_MAX)
        goto bad;
    if (kl + vl >= h->cap) {
        size_t cap = (size_t)(kl + vl) * 2 + 16;
        char *b = realloc(h->key, cap);
        if (!b) return MILL_ENOMEM;
        h->key = b;
        h->cap = cap;
    }
    h->klen = (uint32_t)kl;
    h->vlen = (uint32_t)vl;
    h->value = h->key + kl;
    if (fread_unlocked(h->key, 1, kl, h->f) != kl) goto bad;
    if (h->vt == MILL_VALUE_U64 || h->vt == MILL_VALUE_I64) {
        if (file_varint(h->f, &num) != 1) goto bad;
        mill__record_unnum(h->vt, num, h->value);
    } else if (fread_unlocked(h->value, 1, vl, h->f) != vl) {
        goto bad;
    }
    h->prefix = mill__key_prefix(h->key, h->klen);
    return 0;
bad:
    snprintf(err, errlen, "reading a spill file: %s", ferror(h->f) ? strerror(errno) : "short or malformed file");
    return MILL_EIO;
}

static int key_cmp(const char *a, uint32_t al, const char *b, uint32_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Compares the current keys of two heads. */
static int head_cmp(const head *a, const head *b) {
    if (a->prefix != b->prefix) return a->prefix < b->prefix ? -1 : 1;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

/* Restores the heap order below position i (heads compared by key). */
static void heap_down(const head *h, size_t *heap, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && head_cmp(&h[heap[l]], &h[heap[m]]) < 0) m = l;
        if (l + 1 < n && head_cmp(&h[heap[l + 1]], &h[heap[m]]) < 0) m = l + 1;
        if (m == i) return;
        size_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* Adds head x to the heap. */
static void heap_push(const head *h, size_t *heap, size_t *n, size_t x) {
    size_t i = (*n)++;
    heap[i] = x;
    while (i > 0 && head_cmp(&h[heap[i]], &h[heap[(i - 1) / 2]]) < 0) {
        size_t t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Advances the heap's top head past its record. */
static int heap_pop(head *h, size_t *heap, size_t *n, char *err, size_t errlen) {
    head *top = &h[heap[0]];
    int rc = head_next(top, err, errlen);
    if (rc == 0 && top->done) heap[0] = heap[--*n];
    heap_down(h, heap, *n, 0);
    return rc;
}

int mill__shuffle_merge(mill_ctx *ctx, mill__table *t, mill__key_fn fn, void *arg, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    size_t n = mill__table_sort(t);
    if (s->nreduce == 0) { /* everything fit: the sorted table is the answer */
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            mill__table_prefetch(t, i + MILL__AHEAD);
            rc = fn(arg, t->slots[i].key, t->slots[i].klen, t->slots[i].value, t->slots[i].vlen);
        }
        return rc;
    }
    size_t nh = s->nreduce + 1;
    head *h = calloc(nh, sizeof *h);
    mill__table scratch;
    int rc = h ? mill__table_init(&scratch) : MILL_ENOMEM;
    if (rc) {
        free(h);
        return rc;
    }
    for (size_t i = 0; i < s->nreduce && rc == 0; i++) {
        h[i].vt = ctx->job->value_type;
        int fd = dup(s->reduce[i].fd);
        h[i].f = fd >= 0 ? fdopen(fd, "rb") : NULL;
        /* A bigger buffer than stdio's 4 KiB: a merge reads from many runs.
         * Without it (setvbuf fails only for want of memory) it still works. */
        if (h[i].f) (void)setvbuf(h[i].f, NULL, _IOFBF, 1 << 16);
        if (!h[i].f || fseeko(h[i].f, 0, SEEK_SET) != 0) {
            if (fd >= 0 && !h[i].f) close(fd);
            snprintf(err, errlen, "reopening a spill file: %s", strerror(errno));
            rc = MILL_EIO;
        }
    }
    h[nh - 1].e = t->slots;
    h[nh - 1].n = n;
    for (size_t i = 0; i < nh && rc == 0; i++) rc = head_next(&h[i], err, errlen);
    /* The combined value of each key is built in a scratch table, which is
     * emptied whenever it grows past 64 KiB, so that it stays in the cache. */
    mill__table *saved = ctx->table;
    ctx->table = &scratch;
    /* A binary min-heap of the heads not done, by current key. */
    size_t *heap = malloc(nh * sizeof *heap), nheap = 0, kcap = 0;
    char *key = NULL;
    if (!heap) rc = MILL_ENOMEM;
    for (size_t i = 0; i < nh && rc == 0; i++)
        if (!h[i].done) heap_push(h, heap, &nheap, i);
    while (rc == 0 && nheap > 0) {
        head *top = &h[heap[0]];
        /* The second smallest head is a child of the root (and a run holds
         * a key once): when neither child has the top's key, it is in one
         * input only and goes out as it is. */
        if ((nheap < 2 || head_cmp(top, &h[heap[1]]) != 0) && (nheap < 3 || head_cmp(top, &h[heap[2]]) != 0)) {
            ctx->table = saved;
            rc = fn(arg, top->key, top->klen, top->value, top->vlen);
            ctx->table = &scratch;
            if (rc == 0) rc = heap_pop(h, heap, &nheap, err, errlen);
            continue;
        }
        if (scratch.bytes > (64u << 10)) mill__table_clear(&scratch);
        uint32_t klen = top->klen;
        uint64_t prefix = top->prefix;
        if (klen >= kcap) {
            char *b = realloc(key, (size_t)klen * 2 + 16);
            if (!b) {
                rc = MILL_ENOMEM;
                break;
            }
            key = b;
            kcap = (size_t)klen * 2 + 16;
        }
        memcpy(key, top->key, klen);
        uint64_t hash = mill_key_hash(key, klen);
        while (rc == 0 && nheap > 0 && h[heap[0]].prefix == prefix &&
               key_cmp(h[heap[0]].key, h[heap[0]].klen, key, klen) == 0) {
            top = &h[heap[0]];
            rc = mill__upsert(ctx, &scratch, hash, key, klen, top->value, top->vlen);
            if (rc) rc = mill__job_error(ctx, "combine", rc, err, errlen);
            if (rc == 0) rc = heap_pop(h, heap, &nheap, err, errlen);
        }
        if (rc == 0) {
            mill__entry *e = mill__table_find(&scratch, hash, key, klen);
            ctx->table = saved;
            rc = e ? fn(arg, e->key, e->klen, e->value, e->vlen) : MILL_ENOMEM;
            ctx->table = &scratch;
        }
    }
    free(key);
    free(heap);
    ctx->table = saved;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].f) {
            fclose(h[i].f);
            free(h[i].key);
        }
    }
    free(h);
    mill__table_free(&scratch);
    return rc;
}

int mill__spill_temp(const mill__spill *s, int *fd, char *err, size_t errlen) {
    return temp_file(s->tmpdir, fd, err, errlen);
}
