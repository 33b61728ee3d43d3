/* read.c -- choosing the reader for a piece of input, and reading a rank's
 * whole share of the inputs (see read.h). */
#include "read.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "csv.h"
#include "gzip.h"
#include "hdf5in.h"
#include "text.h"

/* A text block on its way to the job: counts its lines into the options. */
typedef struct block_count {
    mill__record_fn fn;
    void *arg;
    mill__read_opts *o;
} block_count;

/* An HDF5 row on its way to the job: its bytes are the input read. */
static int count_row(void *arg, const mill_record *rec) {
    block_count *b = arg;
    mill__read_bytes += rec->len;
    return b->fn(b->arg, rec);
}

static int count_block(void *arg, const mill_record *rec) {
    block_count *b = arg;
    int nl_end = rec->len > 0 && rec->data[rec->len - 1] == '\n';
    b->o->extra_lines += mill__text_count_newlines(rec->data, rec->len) + !nl_end - 1;
    return b->fn(b->arg, rec);
}

/* A record on its way to the job, when records have a limit. */
typedef struct limit {
    mill__record_fn fn;
    void *arg;
    mill__read_opts *o;
    char *err;
    size_t errlen;
    int binary; /* HDF5 rows: a last byte 0x0a is data, not a line end */
} limit;

/* Refuses, or skips and counts, a record longer than --max-record. */
static int check_limit(void *arg, const mill_record *rec) {
    limit *l = arg;
    /* Without a text block's line end, as the line reader counts: \n or
     * \r\n, or a \r ending the file (a block ends at a \n or there). */
    size_t len = rec->len;
    if (!l->binary && len && rec->data[len - 1] == '\n') len -= 1 + (len > 1 && rec->data[len - 2] == '\r');
    else if (!l->binary && len && rec->data[len - 1] == '\r') len--;
    if (len <= l->o->max_record) return l->fn(l->arg, rec);
    if (l->o->skip_bad) {
        l->o->skipped++;
        return 0;
    }
    if (rec->line)
        snprintf(l->err, l->errlen, "input %s:%" PRIu64 ": a record of %zu bytes, longer than %" PRIu64
                 " (--max-record; --bad-records skip skips it)", rec->file, rec->line, len, l->o->max_record);
    else
        snprintf(l->err, l->errlen, "input %s: a record of %zu bytes at byte offset %" PRIu64 ", longer than %" PRIu64
                 " (--max-record; --bad-records skip skips it)", rec->file, len, rec->offset, l->o->max_record);
    return MILL_EFORMAT;
}

/* read_piece for the kinds read as lines. */
static int read_text_piece(const mill__file *f, mill__read_opts *o, const mill__piece *pc, mill__record_fn fn,
                           void *arg, char *err, size_t errlen) {
    switch ((mill__kind)f->kind) {
    case MILL__GZIP:
        return mill__gzip_read(f, o->skip_bad ? MILL__GZ_SKIP_CORRUPT | MILL__GZ_SKIP_LONG : 0, &o->skipped, fn, arg,
                               err, errlen);
    case MILL__CSV:
    case MILL__CSV_GZ:
        return mill__csv_read(f, pc->start, pc->end, o, fn, arg, err, errlen);
    case MILL__TEXT:
    default: {
        /* A piece that starts where this rank's last one ended (its own
         * pieces, in order) goes on numbering its lines. */
        uint64_t lines = o->last_file == pc->file && o->last_end == pc->start ? o->last_lines : 0;
        block_count b = {fn, arg, o};
        int flags = (o->text_blocks ? MILL__TEXT_BLOCKS : 0) | (o->line_numbers ? MILL__TEXT_LINE_NUMBERS : 0);
        int rc = mill__text_read_lines(f, pc->start, pc->end, flags, &lines,
                                       o->text_blocks ? count_block : fn, o->text_blocks ? (void *)&b : arg, err,
                                       errlen);
        o->last_file = pc->file, o->last_end = pc->end, o->last_lines = lines;
        return rc;
    }
    }
}

/* Reads piece pc with the reader its kind needs, from the file listed: the
 * readers check it on the descriptor they read (mill__file_open). */
static int read_piece(const mill__inputs *in, mill__read_opts *o, const mill__piece *pc, mill__record_fn fn,
                      void *arg, char *err, size_t errlen) {
    const mill__file *f = &in->files[pc->file];
    if (f->kind == MILL__HDF5) { /* collective: checked inside, on every rank */
        block_count b = {fn, arg, o};
        return mill__hdf5_read(f->path, f->dsoff, f->ino, f->birth_ns, f->size, o->comm, fn ? count_row : NULL,
                               &b, err, errlen);
    }
    return read_text_piece(f, o, pc, fn, arg, err, errlen);
}

/* Like mill__read_piece with options o (o->skipped is increased by the bad
 * records skipped). For an HDF5 piece this is collective over o->comm and
 * fn may be NULL: the rank then takes part in the reads but maps nothing. */
static int read_piece_opts(const mill__inputs *in, mill__read_opts *o, const mill__piece *pc, mill__record_fn fn,
                           void *arg, char *err, size_t errlen) {
    if (!o->max_record || !fn) return read_piece(in, o, pc, fn, arg, err, errlen);
    limit l = {fn, arg, o, err, errlen, in->files[pc->file].kind == MILL__HDF5};
    return read_piece(in, o, pc, check_limit, &l, err, errlen);
}

int mill__read_piece(const mill__inputs *in, const mill__piece *pc, mill__record_fn fn, void *arg,
                     char *err, size_t errlen) {
    mill__read_opts o = {.comm = MPI_COMM_SELF};
    return read_piece_opts(in, &o, pc, fn, arg, err, errlen);
}

int mill__read_all(const mill__inputs *in, mill__read_opts *o, int rank, int size, mill__record_fn fn,
                   void *arg, char *err, size_t errlen) {
    /* This rank's static share: with a share, the node's share holds it. */
    mill__piece *pieces = NULL;
    size_t n = 0;
    int rc = 0;
    if (!o->share) {
        int *owner = mill__split_place(in, o->csv_quoted_newlines, size);
        n = owner ? mill__split_list(in, owner, rank, size, &pieces) : SIZE_MAX;
        free(owner);
    }
    if (n == SIZE_MAX) {
        n = 0, rc = MILL_ENOMEM;
        snprintf(err, errlen, "out of memory splitting the inputs");
    }
    /* Collective pieces first: every rank has the same ones, in the same
     * order. A rank that failed still takes part (fn = NULL). The status of
     * a failed allocation is agreed by the HDF5 reader's own checks. */
    size_t i = 0;
    for (size_t k = 0; k < in->n; k++) {
        if (in->files[k].kind != MILL__HDF5) continue;
        mill__piece pc = {.file = k};
        char e2[512];
        int r = read_piece_opts(in, o, &pc, rc ? NULL : fn, arg, rc ? e2 : err, rc ? sizeof e2 : errlen);
        if (rc == 0) rc = r;
        if (pieces && i < n && pieces[i].file == k) i++;
    }
    mill__piece pc; /* the share holds every piece but the HDF5 datasets' */
    while (o->share && rc == 0 && mill__share_next(o->share, &pc))
        rc = read_piece_opts(in, o, &pc, fn, arg, err, errlen);
    for (; !o->share && rc == 0 && i < n; i++) rc = read_piece_opts(in, o, &pieces[i], fn, arg, err, errlen);
    if (rc && o->share) mill__share_stop(o->share);
    free(pieces);
    return rc;
}
