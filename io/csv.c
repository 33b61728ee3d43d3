/* csv.c -- RFC 4180 rows over the line readers, and the job-facing field
 * accessors mill_csv_nfields(), mill_csv_field(), mill_csv_column() and
 * mill_csv_header() (see csv.h and job.h). */
#include "csv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzip.h"
#include "mpimill/job.h"
#include "text.h"

/* Grows *p (elements of size sz, capacity *cap) to hold at least need. */
static int grow(void *pp, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sz) return MILL_ENOMEM;
        ncap *= 2;
    }
    void *n = realloc(*(void **)pp, ncap * sz);
    if (!n) return MILL_ENOMEM;
    *(void **)pp = n;
    *cap = ncap;
    return 0;
}

int mill__csv_parse(const char *data, size_t len, char **buf, size_t *bufcap, mill__csv_field **f,
                    size_t *fcap, size_t *nf, const char **why, size_t *at) {
    /* Unescaped bytes are never more than the row; reserve once. */
    if (grow(buf, bufcap, len + 1, 1)) return MILL_ENOMEM;
    size_t n = 0, i = 0;
    char *o = *buf;
    for (;;) { /* one field per turn; i is at its first byte */
        if (grow(f, fcap, n + 1, sizeof **f)) return MILL_ENOMEM;
        char *start = o;
        if (i < len && data[i] == '"') {
            size_t open = i++;
            for (;;) {
                const char *q = i < len ? memchr(data + i, '"', len - i) : NULL;
                if (!q) {
                    *at = open;
                    return MILL__CSV_OPEN;
                }
                size_t k = (size_t)(q - data) - i;
                memcpy(o, data + i, k);
                o += k;
                i += k + 1;
                if (i < len && data[i] == '"') { /* "" is one quote */
                    *o++ = '"';
                    i++;
                    continue;
                }
                break;
            }
            if (i < len && data[i] != ',') {
                *why = "unexpected character after a closing quote";
                *at = i;
                return MILL_EFORMAT;
            }
        } else {
            size_t s = i;
            while (i < len && data[i] != ',') {
                if (data[i] == '"' || data[i] == '\r') {
                    *why = data[i] == '"' ? "quote inside an unquoted field"
                                          : "carriage return inside an unquoted field (rows must end with \\n or "
                                            "\\r\\n, not a bare \\r)";
                    *at = i;
                    return MILL_EFORMAT;
                }
                i++;
            }
            memcpy(o, data + s, i - s);
            o += i - s;
        }
        (*f)[n].p = start;
        (*f)[n].len = (size_t)(o - start);
        n++;
        if (i >= len) break;
        i++; /* the comma */
    }
    *nf = n;
    return 0;
}

/* The row being mapped, for mill_csv_field (one per thread). */
static _Thread_local struct {
    const mill_record *rec;
    const mill__csv_field *f;
    size_t nf;
    const size_t *sel; /* NULL: all fields */
    size_t nsel;
    const mill__csv_field *h; /* its file's header, nh names; NULL with --csv-no-header */
    size_t nh;
} cur;

int mill_csv_nfields(mill_ctx *ctx, const mill_record *rec, size_t *n) {
    (void)ctx;
    if (!rec || !n || rec != cur.rec) return MILL_ESTATE;
    *n = cur.sel ? cur.nsel : cur.nf;
    return 0;
}

int mill_csv_field(mill_ctx *ctx, const mill_record *rec, size_t i, const char **p, size_t *len) {
    (void)ctx;
    if (!rec || !p || !len || rec != cur.rec) return MILL_ESTATE;
    if (i >= (cur.sel ? cur.nsel : cur.nf)) return MILL_ENOENT;
    size_t k = cur.sel ? cur.sel[i] : i;
    *p = cur.f[k].p;
    *len = cur.f[k].len;
    return 0;
}

int mill_csv_column(mill_ctx *ctx, const mill_record *rec, size_t i, size_t *col) {
    (void)ctx;
    if (!rec || !col || rec != cur.rec) return MILL_ESTATE;
    if (i >= (cur.sel ? cur.nsel : cur.nf)) return MILL_ENOENT;
    *col = cur.sel ? cur.sel[i] : i;
    return 0;
}

int mill_csv_header(mill_ctx *ctx, const mill_record *rec, size_t col, const char **p, size_t *len) {
    (void)ctx;
    if (!rec || !p || !len || rec != cur.rec) return MILL_ESTATE;
    if (col >= cur.nh) return MILL_ENOENT;
    *p = cur.h[col].p;
    *len = cur.h[col].len;
    return 0;
}

/* Returned through the line reader when the header was all a read was for. */
#define MILL__CSV_HEADER_TAKEN 2

typedef struct csv_state {
    const char *name;
    mill__read_opts *o;
    mill__record_fn fn;
    void *arg;
    char *err;
    size_t errlen;
    /* The header is the file's first row: its first line that is not
     * blank (blank lines are not rows). With --csv-no-header that row is
     * data, and still fixes the field count. */
    int header_pending; /* the next row is the header */
    int header_only;    /* reading before this rank's range only for the header: deliver nothing */
    size_t expect;      /* fields per row, from the header */
    uint64_t expect_line; /* the header's line */
    char *hbuf;         /* the header's names (hf, nh), kept while the file is read; none with --csv-no-header */
    mill__csv_field *hf;
    size_t nh;
    size_t *sel, nsel;  /* --csv-columns as indexes */
    char *pend;         /* rows spanning lines (quoted newlines) */
    size_t plen, pcap;
    size_t qpos;        /* pend[qpos, plen) lies in the open quoted field, not yet searched for its end */
    uint64_t poff, pline;
    uint64_t pend_end;  /* the offset past pend's last line: the next line's offset gives its line end */
    int pending;
    int dropping;       /* the pending row passed mill__max_record: only its end is looked for */
    /* Under --bad-records skip, without --csv-quoted-newlines: a row whose
     * quote was still open at its line's end was skipped. Its field may go
     * on in the lines after it, which would be read as rows: so a row after
     * it in this read, or bytes after its line in the file (another piece's
     * lines), fail the run. Only a file's last row is skipped. */
    uint64_t open_line, open_off, open_end; /* open_end: past the row's last byte */
    int open_skipped;
    uint64_t size;      /* a plain file's size (0: a gzip file, read whole) */
    char *buf;
    size_t bufcap;
    mill__csv_field *f;
    size_t fcap, nf;
} csv_state;

#define OPEN_WHY "unterminated quoted field (rows with quoted newlines need --csv-quoted-newlines)"

/* Reports or skips a bad row. */
static int bad_row(csv_state *s, uint64_t line, uint64_t off, const char *why) {
    if (s->o->skip_bad && !s->header_pending) {
        s->o->skipped++;
        return 0;
    }
    if (line)
        snprintf(s->err, s->errlen, "input %s:%" PRIu64 ": malformed CSV row (byte offset %" PRIu64 "): %s",
                 s->name, line, off, why);
    else
        snprintf(s->err, s->errlen, "input %s: malformed CSV row at byte offset %" PRIu64 ": %s", s->name, off,
                 why);
    return MILL_EFORMAT;
}

/* Fails the run for a skipped row whose quoted field was left open, once a
 * line follows it (open_skipped). */
static int open_row_error(csv_state *s) {
    snprintf(s->err, s->errlen, "input %s:%" PRIu64 ": malformed CSV row (byte offset %" PRIu64 "): %s; not "
             "skipped: the lines after it may be inside the field, and would be read as rows", s->name,
             s->open_line, s->open_off, OPEN_WHY);
    return MILL_EFORMAT;
}

/* Takes the header (the row just parsed, at line): the field count, the
 * names, and the selected columns. */
static int take_header(csv_state *s, uint64_t line) {
    s->expect = s->nf;
    s->expect_line = line;
    const char *cols = s->o->csv_columns;
    if (s->o->csv_no_header) {
        if (!cols) return 0;
        snprintf(s->err, s->errlen, "input %s: --csv-columns needs a header row (drop --csv-no-header)", s->name);
        return MILL_EINVAL;
    }
    /* The parsed fields lie in order in s->buf: keep a copy. */
    size_t bytes = (size_t)(s->f[s->nf - 1].p + s->f[s->nf - 1].len - s->buf);
    if (!(s->hbuf = malloc(bytes + 1)) || !(s->hf = malloc(s->nf * sizeof *s->hf))) return MILL_ENOMEM;
    memcpy(s->hbuf, s->buf, bytes);
    for (size_t i = 0; i < s->nf; i++) s->hf[i] = (mill__csv_field){s->hbuf + (s->f[i].p - s->buf), s->f[i].len};
    s->nh = s->nf;
    if (!cols) return 0;
    size_t ncols = 1;
    for (const char *c = cols; *c; c++) ncols += *c == ',';
    free(s->sel);
    s->nsel = 0;
    if (!(s->sel = malloc(ncols * sizeof *s->sel))) return MILL_ENOMEM;
    for (const char *c = cols;; c++) {
        const char *e = strchr(c, ',');
        size_t l = e ? (size_t)(e - c) : strlen(c), k = 0;
        while (k < s->nf && !(s->f[k].len == l && memcmp(s->f[k].p, c, l) == 0)) k++;
        if (k == s->nf) {
            snprintf(s->err, s->errlen, "input %s: no column '%.*s' in the header", s->name, (int)l, c);
            return MILL_EINVAL;
        }
        s->sel[s->nsel++] = k;
        if (!e) break;
        c = e;
    }
    return 0;
}

/* Handles one complete row. */
static int row(csv_state *s, const char *data, size_t len, uint64_t off, uint64_t line) {
    const char *why = NULL;
    size_t at = 0;
    int rc = mill__csv_parse(data, len, &s->buf, &s->bufcap, &s->f, &s->fcap, &s->nf, &why, &at);
    if (rc == MILL_ENOMEM) {
        snprintf(s->err, s->errlen, "input %s: out of memory", s->name);
        return rc;
    }
    if (rc == MILL__CSV_OPEN) {
        s->open_skipped = s->o->skip_bad && !s->header_pending;
        s->open_line = line, s->open_off = off, s->open_end = off + len;
        return bad_row(s, line, off, OPEN_WHY);
    }
    if (rc) return bad_row(s, line, off + at, why);
    if (s->header_pending) {
        s->header_pending = 0;
        if ((rc = take_header(s, line)) != 0) return rc;
        if (s->header_only) return MILL__CSV_HEADER_TAKEN;
        if (!s->o->csv_no_header) return 0;
    }
    if (s->nf != s->expect) {
        char msg[128];
        snprintf(msg, sizeof msg, "%zu fields, expected %zu (as in line %" PRIu64 ")", s->nf, s->expect,
                 s->expect_line);
        return bad_row(s, line, off, msg);
    }
    mill_record rec = {.data = data, .len = len, .file = s->name, .offset = off, .line = line};
    cur.rec = &rec;
    cur.f = s->f;
    cur.nf = s->nf;
    cur.sel = s->sel;
    cur.nsel = s->nsel;
    cur.h = s->hf;
    cur.nh = s->nh;
    rc = s->fn(s->arg, &rec);
    cur.rec = NULL;
    return rc;
}

/* Returns whether the row in s->pend still ends inside a quoted field.
 * Only what came since the last call is searched, so that a field of many
 * lines costs time in proportion to its length: from s->qpos for the open
 * field's closing quote, then the rest of the row after it (which may open
 * another). The complete row is parsed once more, by row(), which reports
 * what is malformed in it. */
static int still_open(csv_state *s) {
    for (;;) {
        const char *q = s->qpos < s->plen ? memchr(s->pend + s->qpos, '"', s->plen - s->qpos) : NULL;
        if (!q) {
            s->qpos = s->plen;
            return 1;
        }
        size_t k = (size_t)(q - s->pend) + 1; /* past the quote */
        if (k < s->plen && s->pend[k] == '"') { /* "" is one quote */
            s->qpos = k + 1;
            continue;
        }
        if (k == s->plen || s->pend[k] != ',') return 0; /* the row ends here, or is malformed */
        const char *why;
        size_t at, nf;
        if (mill__csv_parse(s->pend + k + 1, s->plen - k - 1, &s->buf, &s->bufcap, &s->f, &s->fcap, &nf, &why,
                            &at) != MILL__CSV_OPEN)
            return 0;
        s->qpos = k + 1 + at + 1;
    }
}

/* The record_fn the line readers call: assembles rows from lines. */
static int on_line(void *arg, const mill_record *ln) {
    csv_state *s = arg;
    mill_record nobom;
    if (ln->offset == 0 && ln->len >= 3 && !memcmp(ln->data, "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM (Excel): not data */
        nobom = *ln;
        nobom.data += 3;
        nobom.len -= 3;
        nobom.offset = 3;
        ln = &nobom;
    }
    if (s->pending) {
        /* Inside quotes a line end is data, CRLF as much as LF: the line
         * readers drop the CR, which the gap between the lines shows. A
         * row too long to keep keeps only what still_open searches. */
        if (s->dropping) s->plen = s->qpos = 0;
        if (grow(&s->pend, &s->pcap, s->plen + 2 + ln->len, 1)) return MILL_ENOMEM;
        if (ln->offset - s->pend_end == 2) s->pend[s->plen++] = '\r';
        s->pend[s->plen++] = '\n';
        s->pend_end = ln->offset + ln->len;
        memcpy(s->pend + s->plen, ln->data, ln->len);
        s->plen += ln->len;
        int open = still_open(s);
        if (!s->dropping && mill__max_record && s->plen > mill__max_record) {
            s->pending = s->dropping = open; /* one bad row, counted now; its lines to come are passed over */
            return bad_row(s, s->pline, s->poff, "a row with quoted newlines longer than --max-record");
        }
        if (open) return 0;
        s->pending = 0;
        if (s->dropping) { /* its end: the next line starts a row again */
            s->dropping = 0;
            return 0;
        }
        return row(s, s->pend, s->plen, s->poff, s->pline);
    }
    if (ln->len == 0) return 0; /* blank lines are not rows */
    if (s->open_skipped) return open_row_error(s);
    if (s->o->csv_quoted_newlines) {
        const char *why;
        size_t at, nf;
        int rc = mill__csv_parse(ln->data, ln->len, &s->buf, &s->bufcap, &s->f, &s->fcap, &nf, &why, &at);
        if (rc == MILL__CSV_OPEN) {
            if (grow(&s->pend, &s->pcap, ln->len + 1, 1)) return MILL_ENOMEM;
            memcpy(s->pend, ln->data, ln->len);
            s->plen = ln->len;
            s->qpos = at + 1;
            s->poff = ln->offset;
            s->pend_end = ln->offset + ln->len;
            s->pline = ln->line;
            s->pending = 1;
            return 0;
        }
    }
    return row(s, ln->data, ln->len, ln->offset, ln->line);
}

/* Ends a read: an open quoted field at the end of the file is a bad row. */
static int finish(csv_state *s, int rc) {
    if (rc == 0 && s->open_skipped && s->open_end + 2 < s->size) rc = open_row_error(s); /* + its \r\n */
    if (rc == 0 && s->pending && !s->dropping) {
        rc = bad_row(s, s->pline, s->poff, "unterminated quoted field at the end of the file");
    }
    if (rc == MILL_ENOMEM && !s->err[0]) snprintf(s->err, s->errlen, "input %s: out of memory", s->name);
    free(s->pend);
    free(s->buf);
    free(s->f);
    free(s->sel);
    free(s->hbuf);
    free(s->hf);
    return rc;
}

int mill__csv_read(const mill__file *f, uint64_t start, uint64_t end, mill__read_opts *o, mill__record_fn fn,
                   void *arg, char *err, size_t errlen) {
    const int gz = f->kind == MILL__CSV_GZ;
    csv_state s = {.name = f->path, .o = o, .fn = fn, .arg = arg, .err = err, .errlen = errlen, .header_pending = 1,
                   .size = gz ? 0 : f->size};
    err[0] = '\0';
    int rc;
    if (gz) {
        uint64_t broken = 0;
        /* A line passed over unread inside a quoted field would leave its
         * row, and where the next one starts, unknown: with quoted
         * newlines, a line past --max-record is not skipped. */
        int skip = !o->skip_bad ? 0 : o->csv_quoted_newlines ? MILL__GZ_SKIP_CORRUPT
                                                             : MILL__GZ_SKIP_CORRUPT | MILL__GZ_SKIP_LONG;
        rc = mill__gzip_read(f, skip, &broken, on_line, &s, err, errlen);
        /* A break in the gzip data counts as one bad record: the row it cut
         * off is part of it, not a second one. */
        o->skipped += broken;
        if (broken) s.pending = 0;
    } else {
        if (start > 0) { /* the header may lie before this rank's range: read up to it */
            s.header_only = 1;
            uint64_t bytes = mill__read_bytes; /* the header is counted by the rank whose range holds it */
            rc = mill__text_read_lines(f, 0, start, 0, NULL, on_line, &s, err, errlen);
            mill__read_bytes = bytes;
            s.header_only = 0;
            if (rc == MILL__CSV_HEADER_TAKEN) rc = 0; /* else only blank lines: the header is in the range */
            if (rc) return finish(&s, rc);
        }
        rc = mill__text_read_lines(f, start, end, MILL__TEXT_LINE_NUMBERS, NULL, on_line, &s, err, errlen);
    }
    return finish(&s, rc);
}

int mill__csv_read_mem(const char *name, const char *data, size_t len, mill__read_opts *o,
                       mill__record_fn fn, void *arg, char *err, size_t errlen) {
    csv_state s = {.name = name, .o = o, .fn = fn, .arg = arg, .err = err, .errlen = errlen, .header_pending = 1};
    err[0] = '\0';
    int rc = 0;
    uint64_t line = 0;
    for (size_t p = 0; p < len && rc == 0;) {
        const char *nl = memchr(data + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - data) : len, l = e - p;
        if (l > 0 && data[e - 1] == '\r') l--;
        mill_record ln = {.data = data + p, .len = l, .file = name, .offset = p, .line = ++line};
        rc = on_line(&s, &ln);
        p = nl ? e + 1 : len;
    }
    return finish(&s, rc);
}
