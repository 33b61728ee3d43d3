/* spill.c -- spill files: the sorted runs a rank writes to --tmp to stay
 * within --memory (see spill.h).
 *
 * A map run is a map table sorted by key and grouped by owner rank; map
 * runs are merged in tiers of --merge-factor as they accumulate. A reduce
 * run is a sorted stream of records, each key once. All are unlinked
 * temporary files: they vanish with the process, whatever ends it.
 */
#include "spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fault.h"
#include "record.h"
#include "write.h"

uint64_t mill__table_memory(const mill__table *t) {
    return t->bytes + (uint64_t)t->cap * sizeof(mill__entry);
}

int mill__spill_temp(const mill__spill *s, int *fd, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/mpimill-spill-XXXXXX", s->tmpdir);
    int f = mkstemp(path);
    if (f < 0) {
        snprintf(err, errlen, "spill directory %s (--tmp): creating a spill file: %s", s->tmpdir, strerror(errno));
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

int mill__spill_write(const mill__spill *s, int fd, const char *p, size_t n, char *err, size_t errlen) {
    int e = mill__write_all(fd, p, n);
    if (e) snprintf(err, errlen, "spill directory %s (--tmp): writing a spill file: %s", s->tmpdir, strerror(e));
    return e ? MILL_EIO : 0;
}

/* Buffered appends to a spill file. */
typedef struct out_buf {
    const mill__spill *s; /* whose directory holds the file */
    int fd;
    char buf[1 << 16];
    size_t len;
    uint64_t written;
} out_buf;

static int out_flush(out_buf *o, char *err, size_t errlen) {
    int rc = mill__spill_write(o->s, o->fd, o->buf, o->len, err, errlen);
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
size_t mill__spill_buffer(uint64_t memory, uint64_t inputs) {
    uint64_t b = memory / 8 / (inputs ? inputs : 1);
    return b > (64u << 10) ? 64u << 10 : b < (4u << 10) ? 4u << 10 : (size_t)b;
}

/* Adds destination r's segment of map runs [first, nmap) to the merge m. */
int mill__spill_segments(mill__merge *m, const mill__spill *s, size_t first, int r, size_t buf) {
    int rc = 0;
    for (size_t i = first; i < s->nmap && rc == 0; i++) {
        const mill__map_run *run = &s->map[i];
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
    if (rc == 0) rc = mill__spill_temp(s, &fd, err, errlen);
    if (rc == 0) *o = (out_buf){.s = s, .fd = fd};
    size_t buf = mill__spill_buffer(ctx->memory, s->nmap - first);
    for (int r = 0; r < P && rc == 0; r++) {
        off[r] = o->written + o->len;
        mill__merge *m = NULL;
        if ((rc = mill__merge_new(&m, ctx, &scratch)) == 0) rc = mill__spill_segments(m, s, first, r, buf);
        mill_kv kv;
        while (rc == 0 && (rc = mill__merge_next(m, &kv, err, errlen)) == 1) {
            mill__entry e = {.key = (char *)kv.key, .value = (char *)kv.value,
                             .klen = (uint32_t)kv.key_len, .vlen = (uint32_t)kv.value_len};
            rc = out_record(o, vt, &e, err, errlen);
        }
        mill__merge_free(m);
    }
    if (rc == 0) rc = out_flush(o, err, errlen);
    uint64_t size = o && rc == 0 ? o->written : 0; /* o is unwritten when the file was not made */
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
    s->map[first] = (mill__map_run){.fd = fd, .off = off, .level = level};
    s->nmap = first + 1;
    return 0;
}

/* Writes t's records as a map run -- sorted by key, then grouped by owner
 * with a stable counting sort -- and empties t. The entries stay where
 * they are: the run is written through their slot indexes in key order
 * (mill__table_order), which needs less memory than moving them. */
int mill__spill_map(mill_ctx *ctx, mill__table *t, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    int P = ctx->size;
    mill__map_run *m = mill__fault_site(MILL_FAULT_SITE_MAP_RUNS) ? NULL : realloc(s->map, (s->nmap + 1) * sizeof *m);
    if (!m) return MILL_ENOMEM;
    s->map = m;
    mill__map_run *run = &s->map[s->nmap];
    uint64_t *sorted = NULL;
    size_t n = mill__table_order(t, &sorted);
    if (n == SIZE_MAX) return MILL_ENOMEM;
    run->off = calloc((size_t)P + 1, sizeof *run->off);
    size_t *at = calloc((size_t)P + 1, sizeof *at);
    uint32_t *owner = malloc((n ? n : 1) * sizeof *owner);
    uint64_t *order = malloc((n ? n : 1) * sizeof *order);
    out_buf *o = malloc(sizeof *o);
    int rc = run->off && at && owner && order && o ? mill__spill_temp(s, &run->fd, err, errlen) : MILL_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            __builtin_prefetch(i + MILL__AHEAD < n ? &t->slots[sorted[i + MILL__AHEAD]] : NULL); /* see table.h */
            owner[i] = mill_partition_lookup(ctx->part, t->slots[sorted[i]].hash);
            at[owner[i] + 1]++;
        }
        for (int r = 0; r < P; r++) at[r + 1] += at[r]; /* at[r]: where owner r's entries start */
        for (size_t i = 0; i < n; i++) order[at[owner[i]]++] = sorted[i]; /* now at[r]: where they end */
        *o = (out_buf){.s = s, .fd = run->fd};
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
    free(sorted);
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
    return mill__spill_map(ctx, t, err, errlen);
}

/* Writes the reduce table, sorted by key, as a reduce run, and empties it. */
int mill__spill_reduce(mill_ctx *ctx, mill__table *t, char *err, size_t errlen) {
    mill__spill *s = ctx->spill;
    mill__reduce_run *r = realloc(s->reduce, (s->nreduce + 1) * sizeof *r);
    if (!r) return MILL_ENOMEM;
    s->reduce = r;
    out_buf *o = malloc(sizeof *o);
    int fd, rc = o ? mill__spill_temp(s, &fd, err, errlen) : MILL_ENOMEM;
    if (rc) {
        free(o);
        return rc;
    }
    *o = (out_buf){.s = s, .fd = fd};
    size_t n = mill__table_sort(t);
    for (size_t i = 0; i < n && rc == 0; i++) {
        mill__table_prefetch(t, i + MILL__AHEAD);
        rc = out_record(o, ctx->job->value_type, &t->slots[i], err, errlen);
    }
    if (rc == 0) rc = out_flush(o, err, errlen);
    ctx->metrics.spill_bytes += o->written;
    s->reduce[s->nreduce] = (mill__reduce_run){.fd = fd, .size = o->written};
    free(o);
    if (rc) {
        close(fd);
        return rc;
    }
    s->nreduce++;
    return table_empty(t);
}
