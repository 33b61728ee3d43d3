/* invindex.c -- an inverted index: each word with the sorted list of the
 * places (file and line) where it occurs, over text, gzip or CSV inputs.
 *
 * Words are as wordcount's: maximal runs of bytes that are not ASCII
 * whitespace. Options: lower=1 folds ASCII case.
 *
 * Values: a compact list of postings in groups of one file's rising lines
 * (see the encoding below). The combiner appends one list to the other in
 * place (mill_value_resize), whatever their order, so a word's cost grows
 * with its postings, not their square: a rank reads its lines in order,
 * but its files in the order given, and pieces taken from other ranks
 * (io/share.c) out of it. Reduce puts the groups in order (file bytewise,
 * then line) and drops repeats.
 *
 * Output: `WORD<TAB>FILE:LINE FILE:LINE ...` (postings separated by one
 * space).
 */
#include <mpimill/job.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"lower", NULL};

typedef struct invindex_state {
    int lower;
    jk_buf word, post, merged, heap;
} invindex_state;

/* Reads lower= (0 or 1). */
static int ii_setup(mill_ctx *ctx) {
    invindex_state *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    int rc = jk_opt_bool(ctx, "lower", 0, &s->lower);
    if (rc) {
        free(s);
        return rc;
    }
    mill_set_userdata(ctx, s);
    return 0;
}

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* A value is a 16-byte header -- u32 payload length, u32 offset of the
 * last group in the payload, u64 the last posting's line -- then the
 * payload, a sequence of groups in the order their postings came: u32 file
 * length, the file, u32 count (at least 1), then count lines as LEB128
 * varints -- the first line, then the (positive) differences. One file may
 * have several groups, in any order, their lines overlapping. The header
 * lets combine append postings without decoding the list. */
#define HEAD 16

/* Appends v as a LEB128 varint. */
static int put_varint(jk_buf *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return jk_buf_add(b, tmp, n);
}

/* Reads a varint at *pos of [p, p+len); -1 when malformed. */
static int get_varint(const unsigned char *p, size_t len, size_t *pos, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        unsigned char c = p[(*pos)++];
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

/* A cursor over a value's postings in the order they are stored, or (len
 * at a group's end) over one group's. */
typedef struct cursor {
    const unsigned char *p;
    size_t len, pos;        /* payload bytes and position */
    const char *file;       /* the current group's file */
    uint32_t flen, left;    /* lines left in the group */
    uint64_t line;          /* the current posting's line */
    int valid;              /* a current posting exists */
} cursor;

/* Moves to the next posting; returns -1 when the value is malformed. */
static int cursor_next(cursor *c) {
    while (c->left == 0) {
        if (c->pos == c->len) {
            c->valid = 0;
            return 0;
        }
        if (c->len - c->pos < 4) return -1;
        memcpy(&c->flen, c->p + c->pos, 4);
        if (c->len - c->pos - 4 < (size_t)c->flen + 4) return -1;
        c->file = (const char *)c->p + c->pos + 4;
        memcpy(&c->left, c->p + c->pos + 4 + c->flen, 4);
        c->pos += 8 + (size_t)c->flen;
        c->line = 0;
    }
    uint64_t d;
    if (get_varint(c->p, c->len, &c->pos, &d)) return -1;
    c->line += d;
    c->left--;
    c->valid = 1;
    return 0;
}

/* Opens a cursor on value [v, v+len) at its first posting; -1 when malformed. */
static int cursor_open(cursor *c, const void *v, size_t len) {
    uint32_t used;
    memset(c, 0, sizeof *c);
    if (len < HEAD) return -1;
    memcpy(&used, v, 4);
    if (used > len - HEAD) return -1;
    c->p = (const unsigned char *)v + HEAD;
    c->len = used;
    return cursor_next(c);
}

/* Orders two postings: file bytewise, then line. */
static int cmp_posting(const char *f1, uint32_t l1, uint64_t n1, const char *f2, uint32_t l2, uint64_t n2) {
    int c = memcmp(f1, f2, l1 < l2 ? l1 : l2);
    if (c) return c;
    if (l1 != l2) return l1 < l2 ? -1 : 1;
    return (n1 > n2) - (n1 < n2);
}

/* Writes postings, in order, to a value under construction in b (whose
 * first HEAD bytes are the header). */
typedef struct writer {
    jk_buf *b;
    size_t gstart;          /* offset in b of the current group, 0: none, or ELSEWHERE */
    const char *file;       /* its file (pointing into an input value) */
    uint32_t flen, count;
    uint64_t last;
    uint32_t else_count;    /* the count of the group ELSEWHERE, once closed */
} writer;

/* A writer's gstart when its current group is the last of the list it
 * appends to (ii_append): its count goes to else_count. */
#define ELSEWHERE SIZE_MAX

/* Closes the writer's current group: writes its count. */
static void close_group(writer *w) {
    if (w->gstart == ELSEWHERE) w->else_count = w->count;
    else if (w->gstart) memcpy(w->b->p + w->gstart + 4 + w->flen, &w->count, 4);
}

/* Appends one posting; a repeat of the last one is dropped, and one
 * before it in the same file opens a group (differences stay positive). */
static int write_posting(writer *w, const char *file, uint32_t flen, uint64_t line) {
    if (w->gstart && w->flen == flen && !memcmp(w->file, file, flen) && line >= w->last) {
        if (line == w->last) return 0;
    } else {
        close_group(w);
        w->gstart = w->b->len;
        if (jk_buf_add(w->b, &flen, 4) || jk_buf_add(w->b, file, flen) || jk_buf_add(w->b, "\0\0\0\0", 4))
            return MILL_ENOMEM;
        w->file = file;
        w->flen = flen;
        w->count = 0;
        w->last = 0;
    }
    if (put_varint(w->b, line - w->last)) return MILL_ENOMEM;
    w->last = line;
    w->count++;
    return 0;
}

/* Writes a value's header at h: payload length, last group, last line. */
static void put_head(char *h, uint32_t used, uint32_t lastg, uint64_t last) {
    memcpy(h, &used, 4);
    memcpy(h + 4, &lastg, 4);
    memcpy(h + 8, &last, 8);
}

/* Ends a value: the last group's count and the header. */
static void write_end(writer *w) {
    close_group(w);
    put_head(w->b->p, (uint32_t)(w->b->len - HEAD), w->gstart ? (uint32_t)(w->gstart - HEAD) : 0, w->last);
}

/* Appends the postings of y to value a in place (mill_value_resize): the
 * cost is y's, not a's. The last group of a, at lastg in its payload of
 * `used` bytes, goes on while y's postings follow it. */
static int ii_append(mill_ctx *ctx, invindex_state *s, const char *a, cursor *y, uint32_t used, uint32_t lastg,
                     uint32_t lflen, uint64_t lline) {
    const char *group = a + HEAD + lastg;
    s->merged.len = 0;
    if (jk_buf_reserve(&s->merged, HEAD)) return MILL_ENOMEM;
    s->merged.len = HEAD; /* offsets in merged are then never 0 */
    writer w = {.b = &s->merged, .gstart = ELSEWHERE, .file = group + 4, .flen = lflen, .last = lline};
    memcpy(&w.count, group + 4 + lflen, 4);
    while (y->valid) {
        if (write_posting(&w, y->file, y->flen, y->line)) return MILL_ENOMEM;
        if (cursor_next(y)) return MILL_EFORMAT;
    }
    close_group(&w);
    size_t tail = s->merged.len - HEAD;
    if ((uint64_t)used + tail > UINT32_MAX - HEAD) {
        mill_fail(ctx, "the postings of one word pass 4 GiB, which invindex keeps at most");
        return MILL_EINVAL;
    }
    char *v; /* a itself when its room allows: a's bytes are read above */
    int rc = mill_value_resize(ctx, HEAD + used + tail, (void **)&v);
    if (rc) return rc;
    memcpy(v + HEAD + used, s->merged.p + HEAD, tail);
    memcpy(v + HEAD + lastg + 4 + lflen, &w.else_count, 4);
    put_head(v, (uint32_t)(used + tail), w.gstart == ELSEWHERE ? lastg : used + (uint32_t)(w.gstart - HEAD), w.last);
    return 0;
}

/* Appends list b to list a (ii_append). */
static int ii_combine(mill_ctx *ctx, const void *key, size_t key_len, const void *a, size_t a_len,
                      const void *b, size_t b_len) {
    (void)key, (void)key_len;
    invindex_state *s = mill_userdata(ctx);
    cursor x, y;
    if (cursor_open(&x, a, a_len) || cursor_open(&y, b, b_len)) goto bad;
    if (!y.valid) return 0;
    if (!x.valid) return mill_set_value(ctx, b, b_len);
    uint32_t used, lastg, lflen;
    uint64_t lline;
    memcpy(&used, a, 4);
    memcpy(&lastg, (const char *)a + 4, 4);
    memcpy(&lline, (const char *)a + 8, 8);
    if ((size_t)lastg + 8 > used) goto bad;
    memcpy(&lflen, (const char *)a + HEAD + lastg, 4);
    if ((size_t)lastg + 8 + lflen > used) goto bad;
    int rc = ii_append(ctx, s, a, &y, used, lastg, lflen, lline);
    if (rc != MILL_EFORMAT) return rc;
bad:
    mill_fail(ctx, "malformed posting list");
    return MILL_EFORMAT;
}

/* Emits (word, [this file:line]) for every word of the record. */
static int ii_map(mill_ctx *ctx, const mill_record *rec) {
    invindex_state *s = mill_userdata(ctx);
    uint64_t line = rec->line;
    int rc;
    size_t flen = strlen(rec->file);
    if (flen > UINT32_MAX) return MILL_EINVAL;
    s->post.len = 0;
    if (jk_buf_reserve(&s->post, HEAD)) return MILL_ENOMEM;
    s->post.len = HEAD;
    writer wr = {.b = &s->post};
    if (write_posting(&wr, rec->file, (uint32_t)flen, line)) return MILL_ENOMEM;
    write_end(&wr);
    const unsigned char *p = (const unsigned char *)rec->data, *end = p + rec->len;
    while (p < end) {
        while (p < end && is_space(*p)) p++;
        const unsigned char *w = p;
        while (p < end && !is_space(*p)) p++;
        if (p == w) break;
        const void *key = w;
        if (s->lower) {
            s->word.len = 0;
            if (jk_buf_add(&s->word, w, (size_t)(p - w))) return MILL_ENOMEM;
            for (size_t i = 0; i < s->word.len; i++)
                if (s->word.p[i] >= 'A' && s->word.p[i] <= 'Z') s->word.p[i] += 32;
            key = s->word.p;
        }
        if ((rc = mill_emit(ctx, key, (size_t)(p - w), s->post.p, s->post.len)) != 0) return rc;
    }
    return 0;
}

/* Opens a cursor on the group at *pos of a payload [p, p+used) and moves
 * *pos past it; sets *last to its last line. Returns -1 when malformed. */
static int group_open(cursor *c, const unsigned char *p, size_t used, size_t *pos, uint64_t *last) {
    uint32_t flen, count;
    if (used - *pos < 4) return -1;
    memcpy(&flen, p + *pos, 4);
    if (used - *pos - 4 < (size_t)flen + 4) return -1;
    memcpy(&count, p + *pos + 4 + flen, 4);
    size_t q = *pos + 8 + flen;
    *last = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t d;
        if (get_varint(p, used, &q, &d)) return -1;
        *last += d;
    }
    *c = (cursor){.p = p, .len = q, .pos = *pos + 8 + flen, .file = (const char *)p + *pos + 4, .flen = flen,
                  .left = count};
    *pos = q;
    return count && cursor_next(c) == 0 ? 0 : -1;
}

/* Whether cursor a's posting comes before b's. */
static int before(const cursor *a, const cursor *b) {
    return cmp_posting(a->file, a->flen, a->line, b->file, b->flen, b->line) < 0;
}

/* Restores the heap order of h[0..n) below i. */
static void sift_down(cursor **h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && before(h[l], h[m])) m = l;
        if (l + 1 < n && before(h[l + 1], h[m])) m = l + 1;
        if (m == i) return;
        cursor *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Appends " FILE:LINE" (no space first) to out unless it repeats the last
 * posting put, *prev. */
static int put_posting(jk_buf *out, cursor *prev, const cursor *c) {
    if (prev->valid && prev->line == c->line && prev->flen == c->flen && !memcmp(prev->file, c->file, c->flen))
        return 0;
    *prev = *c;
    char num[24];
    int n = snprintf(num, sizeof num, ":%" PRIu64, c->line);
    return (out->len && jk_buf_add(out, " ", 1)) || jk_buf_add(out, c->file, c->flen) || jk_buf_add(out, num, (size_t)n)
               ? MILL_ENOMEM
               : 0;
}

/* Puts a value's postings in order into out. Its groups fall into runs,
 * each group starting after the one before it ends (a list built in order
 * is one run); the runs' cursors are merged by a heap, which takes
 * sizeof(cursor) + 16 bytes per run. Returns 0, MILL_ENOMEM, or
 * MILL_EFORMAT for a malformed value. */
static int ordered_postings(invindex_state *s, const void *value, size_t value_len, jk_buf *out) {
    uint32_t used;
    if (value_len < HEAD) return MILL_EFORMAT;
    memcpy(&used, value, 4);
    if (used > value_len - HEAD) return MILL_EFORMAT;
    const unsigned char *p = (const unsigned char *)value + HEAD;
    size_t n = 0, pos = 0;
    cursor c, prev = {0};
    uint64_t last = 0;
    s->heap.len = 0;
    while (pos < used) { /* check every group; note where each run starts */
        uint64_t prev_last = last;
        size_t start = pos;
        if (group_open(&c, p, used, &pos, &last)) return MILL_EFORMAT;
        if (!n || cmp_posting(prev.file, prev.flen, prev_last, c.file, c.flen, c.line) >= 0) {
            if (jk_buf_add(&s->heap, &start, sizeof start)) return MILL_ENOMEM;
            n++;
        }
        prev = c;
    }
    if (n > SIZE_MAX / (sizeof c + sizeof(cursor *)) || jk_buf_reserve(&s->heap, n * (sizeof c + sizeof(cursor *))))
        return MILL_ENOMEM;
    const size_t *starts = (const size_t *)(void *)s->heap.p;
    cursor *g = (cursor *)(void *)(s->heap.p + n * sizeof *starts), **hp = (cursor **)(void *)(g + n);
    for (size_t i = 0; i < n; i++) {
        g[i] = (cursor){.p = p, .len = i + 1 < n ? starts[i + 1] : used, .pos = starts[i]};
        (void)cursor_next(&g[i]); /* checked above: a posting */
        hp[i] = &g[i];
    }
    for (size_t i = n / 2; i-- > 0;) sift_down(hp, n, i);
    prev.valid = 0;
    while (n) {
        int rc = put_posting(out, &prev, hp[0]);
        if (rc) return rc;
        (void)cursor_next(hp[0]); /* checked above */
        if (!hp[0]->valid) hp[0] = hp[--n];
        sift_down(hp, n, 0);
    }
    return 0;
}

/* Writes WORD<TAB>FILE:LINE FILE:LINE ..., in order. */
static int ii_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    invindex_state *s = mill_userdata(ctx);
    jk_buf out = {0};
    int rc = ordered_postings(s, value, value_len, &out);
    if (rc == MILL_EFORMAT) mill_fail(ctx, "malformed posting list");
    if (rc == 0) rc = mill_write(ctx, key, key_len, out.p ? out.p : "", out.len);
    jk_buf_free(&out);
    return rc;
}

/* Frees the state. */
static void ii_teardown(mill_ctx *ctx) {
    invindex_state *s = mill_userdata(ctx);
    if (!s) return;
    jk_buf_free(&s->word);
    jk_buf_free(&s->post);
    jk_buf_free(&s->merged);
    jk_buf_free(&s->heap);
    free(s);
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "invindex",
         .flags = MILL_JOB_LINE_NUMBERS,
         .inputs = MILL_INPUT_TEXT | MILL_INPUT_CSV,
         .description = "inverted index: WORD<TAB>FILE:LINE ... sorted; --opt lower=1 folds ASCII case",
         .value_type = MILL_VALUE_BYTES,
         .combine_op = MILL_COMBINE_CUSTOM,
         .options = options,
         .setup = ii_setup,
         .map = ii_map,
         .combine = ii_combine,
         .reduce = ii_reduce,
         .teardown = ii_teardown)
