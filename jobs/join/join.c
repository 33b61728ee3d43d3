/* join.c -- an inner or left join of two CSV inputs on a key column.
 *
 * Options: left=PREFIX and right=PREFIX (required): a record belongs to the
 * side whose prefix its file path (as the runtime lists it: the --input
 * argument, then the path inside a directory) starts with; when both match,
 * the longer prefix wins; a file that matches neither, or both equally,
 * fails the job; a side without a file is warned of. on=COL (required) is
 * the key column of the left side and, unless right_on=COL is given, of
 * the right side (a header name or #N).
 * type=inner (default) or type=left (left rows without a match are kept).
 *
 * How: both sides' rows are emitted under their key, so that the
 * partitioner brings every row of one key to the same owner rank; the value
 * is a list of (side, raw row) that the combiner concatenates; reduce pairs
 * the sides. A value is u32 payload length, then the payload (u8 side, u32
 * row length, row; repeated). The combiner appends in place
 * (mill_value_resize): a key with n rows costs O(n) bytes copied, not
 * O(n^2).
 *
 * Output: `KEY<TAB>LEFTROW<TAB>RIGHTROW`, one line per matching pair (for
 * type=left and a key without right rows, RIGHTROW is empty), rows as raw
 * CSV; within a key, left rows in byte order, each with every right row in
 * byte order. A tab, newline, carriage return or backslash in the key is
 * written \t, \n, \r, \\. Empty keys join like any other value.
 */
#include <mpimill/job.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobkit.h"

static const char *const options[] = {"left", "right", "on", "right_on", "type", NULL};

typedef struct join_state {
    const char *prefix[2];
    jk_cols *on[2];
    int left_join;
    jk_buf key, val;
} join_state;

static void state_free(join_state *s) {
    if (!s) return;
    jk_cols_free(s->on[0]);
    jk_cols_free(s->on[1]);
    jk_buf_free(&s->key);
    jk_buf_free(&s->val);
    free(s);
}

/* Returns the record's side (0 left, 1 right) or -1 after mill_fail. */
static int side_of(mill_ctx *ctx, join_state *s, const char *file) {
    size_t best[2];
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(s->prefix[i]);
        best[i] = strncmp(file, s->prefix[i], n) == 0 ? n + 1 : 0;
    }
    if (best[0] != best[1]) return best[0] > best[1] ? 0 : 1;
    mill_fail(ctx, "input %s is %s the left=%s and the right=%s side", file, best[0] ? "on both" : "on neither of",
              s->prefix[0], s->prefix[1]);
    return -1;
}

/* Reads the options; fails naming a missing or malformed one, or an input
 * file on neither side or on both. */
static int join_setup(mill_ctx *ctx) {
    const char *l = jk_opt_required(ctx, "left", "orders/");
    const char *r = l ? jk_opt_required(ctx, "right", "customers/") : NULL;
    const char *on = r ? jk_opt_required(ctx, "on", "id") : NULL;
    if (!on) return MILL_EINVAL;
    const char *ron = mill_opt(ctx, "right_on"), *type = mill_opt(ctx, "type");
    if (type && strcmp(type, "inner") != 0 && strcmp(type, "left") != 0) {
        mill_fail(ctx, "option type=%s: expected inner or left", type);
        return MILL_EINVAL;
    }
    if (strchr(on, ',') || (ron && strchr(ron, ','))) {
        mill_fail(ctx, "option %s: expected one column", strchr(on, ',') ? "on" : "right_on");
        return MILL_EINVAL;
    }
    join_state *s = calloc(1, sizeof *s);
    if (!s) return MILL_ENOMEM;
    s->prefix[0] = l;
    s->prefix[1] = r;
    s->left_join = type && !strcmp(type, "left");
    if (!(s->on[0] = jk_cols_parse(ctx, "on", on)) ||
        !(s->on[1] = jk_cols_parse(ctx, ron ? "right_on" : "on", ron ? ron : on))) {
        state_free(s);
        return MILL_EINVAL;
    }
    mill_set_userdata(ctx, s);
    /* Every input file is on one side: checked here, before any rank
     * reads, so that a file without a data row is refused too. A side
     * without a file is warned of (a mistyped prefix joins against
     * nothing), not refused: a day without new rows is a legitimate empty
     * side. */
    const char *path;
    size_t files[2] = {0, 0};
    for (size_t i = 0; mill_input(ctx, i, &path, NULL) == 0; i++) {
        int side = side_of(ctx, s, path);
        if (side < 0) return MILL_EINVAL;
        files[side]++;
    }
    for (int i = 0; i < 2 && mill_rank(ctx) == 0; i++)
        if (!files[i])
            mill_log(ctx, "warning: no input is on the %s=%s side: it joins as empty (a file named twice is read "
                     "once: to join a file with itself, name a copy)", i ? "right" : "left", s->prefix[i]);
    return 0;
}

/* Emits (key, [(side, row)]). */
static int join_map(mill_ctx *ctx, const mill_record *rec) {
    join_state *s = mill_userdata(ctx);
    int side = side_of(ctx, s, rec->file);
    if (side < 0) return MILL_EINVAL;
    const size_t *idx;
    const char *p;
    size_t len;
    int rc = jk_cols_resolve(ctx, s->on[side], rec, &idx);
    if (rc == 0) rc = jk_cols_field(ctx, s->on[side], rec, 0, &p, &len);
    if (rc) return rc;
    s->key.len = 0;
    if (jk_buf_add_escaped(&s->key, p, len)) return MILL_ENOMEM;
    uint8_t sd = (uint8_t)side;
    if (rec->len > UINT32_MAX - 5) { /* a row list holds lengths in 32 bits */
        mill_fail(ctx, "a row of %zu bytes: join keeps the rows of a key to at most 4 GiB", rec->len);
        return MILL_EINVAL;
    }
    uint32_t rl = (uint32_t)rec->len, used = 5 + rl;
    s->val.len = 0;
    if (jk_buf_add(&s->val, &used, 4) || jk_buf_add(&s->val, &sd, 1) || jk_buf_add(&s->val, &rl, 4) ||
        jk_buf_add(&s->val, rec->data, rec->len))
        return MILL_ENOMEM;
    return mill_emit(ctx, s->key.p ? s->key.p : "", s->key.len, s->val.p, s->val.len);
}

/* Appends list b of (side, row) to list a, in place (mill_value_resize):
 * the cost is b's, not a's. */
static int join_combine(mill_ctx *ctx, const void *key, size_t key_len, const void *a, size_t a_len,
                        const void *b, size_t b_len) {
    (void)key, (void)key_len;
    uint32_t ua, ub;
    if (a_len < 4 || b_len < 4) goto bad;
    memcpy(&ua, a, 4);
    memcpy(&ub, b, 4);
    if (ua > a_len - 4 || ub > b_len - 4) goto bad;
    if ((uint64_t)ua + ub > UINT32_MAX - 4) {
        mill_fail(ctx, "the rows of one key pass 4 GiB, which join keeps at most (%u + %u bytes)", ua, ub);
        return MILL_EINVAL;
    }
    uint32_t used = ua + ub;
    char *v; /* a itself when its room allows */
    int rc = mill_value_resize(ctx, 4 + (size_t)used, (void **)&v);
    if (rc) return rc;
    memcpy(v, &used, 4);
    memcpy(v + 4 + ua, (const char *)b + 4, ub);
    return 0;
bad:
    mill_fail(ctx, "malformed row list");
    return MILL_EFORMAT;
}

typedef struct row {
    const char *p;
    uint32_t len;
} row;

static int cmp_row(const void *x, const void *y) {
    const row *a = x, *b = y;
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Pairs the left and right rows of one key and writes them. */
static int join_reduce(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    join_state *s = mill_userdata(ctx);
    size_t n[2] = {0, 0}, total = 0;
    uint32_t used;
    if (value_len < 4) return MILL_EFORMAT;
    memcpy(&used, value, 4);
    if (used > value_len - 4) return MILL_EFORMAT;
    value = (const char *)value + 4;
    value_len = used;
    for (size_t pos = 0; pos < value_len; total++) {
        uint32_t len;
        if (value_len - pos < 5) return MILL_EFORMAT;
        memcpy(&len, (const char *)value + pos + 1, 4);
        if (value_len - pos - 5 < len) return MILL_EFORMAT;
        pos += 5 + (size_t)len;
    }
    row *rows = malloc((total ? total : 1) * sizeof *rows);
    if (!rows) return MILL_ENOMEM;
    row *side[2] = {rows, NULL};
    /* left rows fill the array from the front, right rows from the back */
    size_t back = total;
    for (size_t pos = 0; pos + 5 <= value_len;) {
        uint8_t sd = (uint8_t)((const char *)value)[pos];
        uint32_t len;
        memcpy(&len, (const char *)value + pos + 1, 4);
        row r = {(const char *)value + pos + 5, len};
        if (sd == 0) rows[n[0]++] = r;
        else rows[--back] = r, n[1]++;
        pos += 5 + (size_t)len;
    }
    side[1] = rows + back;
    qsort(side[0], n[0], sizeof *rows, cmp_row);
    qsort(side[1], n[1], sizeof *rows, cmp_row);
    jk_buf out = {0};
    int rc = 0;
    for (size_t i = 0; i < n[0] && rc == 0; i++) {
        size_t m = n[1] ? n[1] : (s->left_join ? 1 : 0);
        for (size_t j = 0; j < m && rc == 0; j++) {
            out.len = 0;
            if (jk_buf_add(&out, side[0][i].p, side[0][i].len) || jk_buf_add(&out, "\t", 1) ||
                (n[1] && jk_buf_add(&out, side[1][j].p, side[1][j].len)))
                rc = MILL_ENOMEM;
            else
                rc = mill_write(ctx, key, key_len, out.p, out.len);
        }
    }
    jk_buf_free(&out);
    free(rows);
    return rc;
}

/* Frees the state. */
static void join_teardown(mill_ctx *ctx) {
    state_free(mill_userdata(ctx));
    mill_set_userdata(ctx, NULL);
}

MILL_JOB(.name = "join",
         .description = "inner/left join of two CSV inputs: --opt left=PREFIX right=PREFIX on=COL [right_on=COL type=left]",
         .inputs = MILL_INPUT_CSV,
         .value_type = MILL_VALUE_BYTES,
         .combine_op = MILL_COMBINE_CUSTOM,
         .options = options,
         .setup = join_setup,
         .map = join_map,
         .combine = join_combine,
         .reduce = join_reduce,
         .teardown = join_teardown)
