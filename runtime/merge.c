/* merge.c -- k-way merge of sorted inputs, combining equal keys (merge.h).
 *
 * Each input is a sorted run: a byte range of a spill file read with pread
 * through its own buffer, or a sorted array of table entries. A binary
 * min-heap orders the inputs by their current key. A key held by one input
 * only goes out as it lies in that input's buffer; a key held by several is
 * combined in the scratch table first.
 */
#include "merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "runtime.h"

typedef struct input {
    int fd;                /* a file, or -1 for table entries */
    uint64_t pos, end;     /* the file's bytes not yet read into buf */
    char *buf;             /* invariant: buf[at, len) are read and not yet parsed */
    size_t at, len, cap;
    size_t base;           /* cap as given; a cap grown past it for a big record goes back to it */
    const mill__entry *e;  /* the entries, e[i, n) not yet taken */
    size_t i, n;
    const char *key, *value; /* the current record (into buf, e or val) */
    uint32_t klen, vlen;
    uint64_t prefix;       /* mill__key_prefix of key: most comparisons need no more */
    char val[8];           /* a numeric value, decoded */
    int done;
} input;

struct mill__merge {
    mill_ctx *ctx;
    mill__table *scratch;
    input *in;
    size_t nin, cap;
    size_t *heap, nheap;   /* the inputs not done; invariant: a min-heap by current key once started */
    int started;
    int pop_top;           /* the last key was the top input's own: advance it first */
    char *key;             /* the key being combined */
    size_t kcap;
    char sum[8];           /* its value, for a u64 sum */
};

int mill__merge_new(mill__merge **out, mill_ctx *ctx, mill__table *scratch) {
    mill__merge *m = calloc(1, sizeof *m);
    if (!m) return MILL_ENOMEM;
    m->ctx = ctx;
    m->scratch = scratch;
    *out = m;
    return 0;
}

void mill__merge_free(mill__merge *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nin; i++) free(m->in[i].buf);
    free(m->in);
    free(m->heap);
    free(m->key);
    free(m);
}

static input *add_input(mill__merge *m) {
    if (m->nin == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        input *in = realloc(m->in, cap * sizeof *in);
        size_t *heap = in ? realloc(m->heap, cap * sizeof *heap) : NULL;
        if (in) m->in = in;
        if (!heap) return NULL;
        m->heap = heap;
        m->cap = cap;
    }
    input *in = &m->in[m->nin++];
    *in = (input){.fd = -1};
    return in;
}

int mill__merge_file(mill__merge *m, int fd, uint64_t off, uint64_t len, size_t bufsize) {
    if (len == 0) return 0;
    input *in = add_input(m);
    if (!in) return MILL_ENOMEM;
    in->cap = len < bufsize ? (size_t)len : bufsize;
    if (in->cap < 64) in->cap = 64;
    in->base = in->cap;
    in->buf = malloc(in->cap);
    if (!in->buf) {
        m->nin--;
        return MILL_ENOMEM;
    }
    in->fd = fd;
    in->pos = off;
    in->end = off + len;
    return 0;
}

int mill__merge_entries(mill__merge *m, const mill__entry *e, size_t n) {
    if (n == 0) return 0;
    input *in = add_input(m);
    if (!in) return MILL_ENOMEM;
    in->e = e;
    in->n = n;
    return 0;
}

/* Moves the bytes of an input's buffer not yet parsed to its front. */
static void compact(input *in) {
    memmove(in->buf, in->buf + in->at, in->len - in->at);
    in->len -= in->at;
    in->at = 0;
}

/* Gives a buffer grown for a big record back once that record is passed
 * and what is left fits in half the first size: otherwise every input of
 * a merge that ever held a big record would keep its room to the end. A
 * failed shrink keeps the bigger buffer, which works. */
static void shrink(input *in) {
    compact(in);
    char *b = realloc(in->buf, in->base);
    if (b) in->buf = b, in->cap = in->base;
}

/* Reads more of an input's file into its buffer, keeping the bytes not yet
 * parsed (and doubling the buffer when they fill it: a big record). */
static int refill(input *in, char *err, size_t errlen) {
    compact(in);
    if (in->len == in->cap) {
        char *b = realloc(in->buf, in->cap * 2);
        if (!b) return MILL_ENOMEM;
        in->buf = b;
        in->cap *= 2;
    }
    size_t want = in->cap - in->len;
    if (want > in->end - in->pos) want = (size_t)(in->end - in->pos);
    for (;;) {
        ssize_t got = pread(in->fd, in->buf + in->len, want, (off_t)in->pos);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(err, errlen, "reading a spill file: %s", got < 0 ? strerror(errno) : "short file");
            return MILL_EIO;
        }
        in->pos += (uint64_t)got;
        in->len += (size_t)got;
        return 0;
    }
}

/* Makes the input's next record its current one, or marks it done.
 * Inline, like heap_down: both run once per record merged, and as calls
 * their register saving cost about as much as their work. */
static inline __attribute__((always_inline)) int input_next(const mill__merge *m, input *in, char *err,
                                                            size_t errlen) {
    if (in->fd < 0) {
        if (in->i == in->n) {
            in->done = 1;
            return 0;
        }
        __builtin_prefetch(in->i + MILL__AHEAD < in->n ? in->e[in->i + MILL__AHEAD].key : NULL); /* see table.h */
        const mill__entry *e = &in->e[in->i++];
        in->key = e->key;
        in->value = e->value;
        in->klen = e->klen;
        in->vlen = e->vlen;
        in->prefix = mill__key_prefix(in->key, in->klen);
        return 0;
    }
    if (in->cap > in->base && in->len - in->at <= in->base / 2) shrink(in); /* the last record is passed */
    for (;;) {
        size_t got = mill__record_get(m->ctx->job->value_type, in->buf + in->at, in->len - in->at, &in->key,
                                      &in->klen, &in->value, &in->vlen, in->val);
        if (got == SIZE_MAX) break;
        if (got) {
            in->at += got;
            in->prefix = mill__key_prefix(in->key, in->klen);
            return 0;
        }
        if (in->pos == in->end) {
            if (in->at < in->len) break; /* the file ends inside a record */
            in->done = 1;
            return 0;
        }
        int rc = refill(in, err, errlen);
        if (rc) return rc;
    }
    snprintf(err, errlen, "reading a spill file: a short or malformed record");
    return MILL_EIO;
}

/* mill__key_cmp, without a call for equal keys (to combine, and common). */
static int key_cmp(const char *a, uint32_t al, const char *b, uint32_t bl) {
    return al == bl && mill__key_eq(a, b, al) ? 0 : mill__key_cmp(a, al, b, bl);
}

/* Compares the current keys of two inputs. */
static int input_cmp(const input *a, const input *b) {
    if (a->prefix != b->prefix) return a->prefix < b->prefix ? -1 : 1;
    return key_cmp(a->key, a->klen, b->key, b->klen);
}

/* Restores the heap order below position i. */
static inline __attribute__((always_inline)) void heap_down(mill__merge *m, size_t i) {
    size_t *heap = m->heap, n = m->nheap;
    for (;;) {
        size_t l = 2 * i + 1, s = i;
        if (l < n && input_cmp(&m->in[heap[l]], &m->in[heap[s]]) < 0) s = l;
        if (l + 1 < n && input_cmp(&m->in[heap[l + 1]], &m->in[heap[s]]) < 0) s = l + 1;
        if (s == i) return;
        size_t t = heap[i];
        heap[i] = heap[s];
        heap[s] = t;
        i = s;
    }
}

/* Advances the heap's top input past its record. */
static int heap_pop(mill__merge *m, char *err, size_t errlen) {
    input *top = &m->in[m->heap[0]];
    int rc = input_next(m, top, err, errlen);
    if (rc) return rc; /* the top's key may point into a buffer the failed read freed */
    if (top->done) m->heap[0] = m->heap[--m->nheap];
    heap_down(m, 0);
    return 0;
}

static int start(mill__merge *m, char *err, size_t errlen) {
    m->started = 1;
    for (size_t i = 0; i < m->nin; i++) {
        int rc = input_next(m, &m->in[i], err, errlen);
        if (rc) return rc;
        if (!m->in[i].done) m->heap[m->nheap++] = i;
    }
    for (size_t i = m->nheap / 2; i-- > 0;) heap_down(m, i);
    return 0;
}

/* Combines the values of the top input's key from every input that holds
 * it, and sets *kv to the result: a u64 sum (a word count's) adds them up
 * as it goes, other combiners go through the scratch table. Numeric values
 * are 8 bytes here: decoded from records, or checked when emitted. */
static int combine(mill__merge *m, mill_kv *kv, char *err, size_t errlen) {
    mill_ctx *ctx = m->ctx;
    const input *top = &m->in[m->heap[0]];
    uint32_t klen = top->klen;
    uint64_t prefix = top->prefix;
    if (klen >= m->kcap) {
        char *b = realloc(m->key, (size_t)klen * 2 + 16);
        if (!b) return MILL_ENOMEM;
        m->key = b;
        m->kcap = (size_t)klen * 2 + 16;
    }
    memcpy(m->key, top->key, klen);
    const int u64_sum = ctx->u64_sum;
    uint64_t hash = 0, sum = 0, x;
    if (!u64_sum) {
        /* Emptied whenever it passes 64 KiB, the scratch table stays in the cache. */
        if (m->scratch->bytes > (64u << 10)) mill__table_clear(m->scratch);
        hash = mill_key_hash(m->key, klen);
    }
    mill__table *saved = ctx->table; /* a custom combiner's mill_set_value writes to ctx->table */
    ctx->table = m->scratch;
    int rc = 0;
    while (rc == 0 && m->nheap > 0 && m->in[m->heap[0]].prefix == prefix &&
           key_cmp(m->in[m->heap[0]].key, m->in[m->heap[0]].klen, m->key, klen) == 0) {
        top = &m->in[m->heap[0]];
        if (u64_sum) {
            memcpy(&x, top->value, 8);
            sum += x;
        } else if ((rc = mill__upsert(ctx, m->scratch, hash, m->key, klen, top->value, top->vlen)) != 0) {
            rc = mill__job_error(ctx, "combine", rc, err, errlen);
            break;
        }
        rc = heap_pop(m, err, errlen);
    }
    ctx->table = saved;
    if (rc) return rc;
    if (u64_sum) {
        memcpy(m->sum, &sum, 8);
        *kv = (mill_kv){m->key, klen, m->sum, 8};
        return 1;
    }
    const mill__entry *e = mill__table_find(m->scratch, hash, m->key, klen);
    if (!e) return MILL_ENOMEM;
    *kv = (mill_kv){e->key, e->klen, e->value, e->vlen};
    return 1;
}

int mill__merge_next(mill__merge *m, mill_kv *kv, char *err, size_t errlen) {
    int rc = m->started ? 0 : start(m, err, errlen);
    if (rc == 0 && m->pop_top) rc = heap_pop(m, err, errlen);
    m->pop_top = 0;
    if (rc) return rc;
    if (m->nheap == 0) return 0;
    const input *top = &m->in[m->heap[0]];
    /* The second smallest input is a child of the root (and an input holds
     * a key once): when neither child has the top's key, it is the top's
     * alone and goes out as it lies. */
    if ((m->nheap < 2 || input_cmp(top, &m->in[m->heap[1]]) != 0) &&
        (m->nheap < 3 || input_cmp(top, &m->in[m->heap[2]]) != 0)) {
        *kv = (mill_kv){top->key, top->klen, top->value, top->vlen};
        m->pop_top = 1;
        return 1;
    }
    return combine(m, kv, err, errlen);
}
