/* report.c -- `mpimill report DIR`: a committed output's metrics, readable.
 *
 * Reads the manifest DIR/_SUCCESS (the "metrics" that metrics.c gathers),
 * prints one row per rank and the phases' imbalance and totals on stdout,
 * and writes a self-contained HTML page (inline CSS and SVG, no scripts, no
 * external resources) with a timeline of every rank's phases, so stragglers
 * and skew show at a glance. The page goes beside DIR, never inside it: DIR
 * holds exactly what its manifest lists (`mpimill verify` checks that).
 * No MPI: it runs anywhere the output can be read. See docs/report.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "json_read.h"
#include "runtime.h"

#define NPHASES 4
static const char *const phase_name[NPHASES] = {"map", "shuffle", "reduce", "commit"};
static const char *const phase_color[NPHASES] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1"};
static const char *const count_name[NPHASES] = {"records", "records", "records", "files"};
/* Each phase's time inside one kind of call (a rank's member "PART_s"),
 * drawn as a darker bar inside the phase's; commit has none. */
static const char *const part_name[NPHASES] = {"read", "exchange", "write", NULL};
static const char *const part_color[NPHASES] = {"#24476b", "#9c5414", "#2e6b29", NULL};

static const char usage[] =
    "usage: mpimill report [--html FILE | --no-html] DIR\n"
    "  Prints the metrics of the committed output DIR (from its manifest _SUCCESS):\n"
    "  per rank each phase's (map, shuffle, reduce, commit) time, bytes and\n"
    "  records, the time spent reading, exchanging and writing, bytes sent, peak\n"
    "  RSS and spill bytes; each phase's imbalance (max/mean); totals and\n"
    "  throughput.\n"
    "  Writes an HTML page with a timeline of the ranks' phases beside DIR, as\n"
    "  DIR/../NAME-report.html, or to FILE (never inside DIR).\n";

/* A manifest written before a phase or part was measured lacks it: its
 * numbers are NAN, shown as "-", with no bar. */
typedef struct rank_row {
    double rank;
    double start[NPHASES], end[NPHASES], bytes[NPHASES], records[NPHASES], part[NPHASES];
    double sent, rss, spill;
} rank_row;

typedef struct report {
    char *job; /* malloc'ed; "?" when the manifest names none */
    rank_row *rows;
    size_t n;
    double imbalance[NPHASES];
    double records_in, keys_out, seconds, input_bytes;
    double setup;    /* seconds before the start barrier (0 in older manifests) */
} report;

static void report_free(report *r) {
    free(r->job);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* Stores member key of obj (described by what, for the message) in *out.
 * Returns 0, or -1 with err naming the manifest and the missing number. */
static int need_num(const mill__json *obj, const char *key, double *out, const char *path, const char *what,
                    char *err, size_t errlen) {
    if (mill__json_num(mill__json_get(obj, key), out)) return 0;
    snprintf(err, errlen, "%s: %s has no number \"%s\"", path, what, key);
    return -1;
}

/* Like need_num for a time in seconds, which must be from 0 to 1e9 (31
 * years): the page's axis is drawn from the largest. */
static int need_time(const mill__json *obj, const char *key, double *out, const char *path, const char *what,
                     char *err, size_t errlen) {
    if (need_num(obj, key, out, path, what, err, errlen) != 0) return -1;
    if (*out >= 0 && *out <= 1e9) return 0;
    snprintf(err, errlen, "%s: %s \"%s\" is %g: not a time in seconds (0 to 1e9)", path, what, key, *out);
    return -1;
}

/* Fills r from the parsed manifest root (read from path). Returns 0, or -1
 * with err naming path and what is missing. */
static int extract(const mill__json *root, const char *path, report *r, char *err, size_t errlen) {
    const mill__json *metrics = mill__json_get(root, "metrics");
    if (!metrics || metrics->type != MILL_JSON_OBJECT) {
        snprintf(err, errlen, "%s: the manifest holds no metrics (written by an mpimill without them?)", path);
        return -1;
    }
    const mill__json *job = mill__json_get(root, "job");
    r->job = strdup(job && job->type == MILL_JSON_STRING ? job->str : "?");
    if (!r->job) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (need_num(metrics, "records_in", &r->records_in, path, "metrics", err, errlen) ||
        need_num(metrics, "keys_out", &r->keys_out, path, "metrics", err, errlen) ||
        need_time(metrics, "seconds", &r->seconds, path, "metrics", err, errlen))
        return -1;
    if (!mill__json_num(mill__json_get(metrics, "setup_seconds"), &r->setup) || !(r->setup >= 0) || r->setup > r->seconds)
        r->setup = 0;
    const mill__json *ranks = mill__json_get(metrics, "ranks");
    if (!ranks || ranks->type != MILL_JSON_ARRAY || ranks->len == 0) {
        snprintf(err, errlen, "%s: metrics have no \"ranks\" (a non-empty array)", path);
        return -1;
    }
    r->rows = calloc(ranks->len, sizeof *r->rows);
    if (!r->rows) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    r->n = ranks->len;
    for (size_t i = 0; i < r->n; i++) {
        const mill__json *o = &ranks->items[i];
        rank_row *row = &r->rows[i];
        char what[96];
        snprintf(what, sizeof what, "metrics.ranks[%zu]", i);
        if (need_num(o, "rank", &row->rank, path, what, err, errlen) ||
            need_num(o, "peak_rss", &row->rss, path, what, err, errlen) ||
            need_num(o, "bytes_sent", &row->sent, path, what, err, errlen) ||
            need_num(o, "spill_bytes", &row->spill, path, what, err, errlen))
            return -1;
        const mill__json *ph = mill__json_get(o, "phases");
        for (int p = 0; p < NPHASES; p++) {
            const mill__json *q = mill__json_get(ph, phase_name[p]);
            char part[32];
            snprintf(part, sizeof part, "%s_s", part_name[p] ? part_name[p] : "");
            if (!part_name[p] || !mill__json_num(mill__json_get(o, part), &row->part[p])) row->part[p] = NAN;
            if (!q && p == NPHASES - 1) { /* commit: manifests from before it was timed */
                row->start[p] = row->end[p] = row->bytes[p] = row->records[p] = NAN;
                continue;
            }
            snprintf(what, sizeof what, "metrics.ranks[%zu].phases.%s", i, phase_name[p]);
            if (need_time(q, "start", &row->start[p], path, what, err, errlen) ||
                need_time(q, "end", &row->end[p], path, what, err, errlen) ||
                need_num(q, "bytes", &row->bytes[p], path, what, err, errlen) ||
                need_num(q, "records", &row->records[p], path, what, err, errlen))
                return -1;
            if (row->end[p] < row->start[p]) row->end[p] = row->start[p]; /* not run */
        }
    }
    /* The manifest's imbalance when it has one, else computed the same way. */
    const mill__json *imb = mill__json_get(metrics, "imbalance");
    for (int p = 0; p < NPHASES; p++) {
        if (mill__json_num(mill__json_get(imb, phase_name[p]), &r->imbalance[p])) continue;
        double max = 0, sum = 0;
        for (size_t i = 0; i < r->n; i++) {
            double d = r->rows[i].end[p] - r->rows[i].start[p];
            sum += d;
            if (d > max) max = d;
        }
        r->imbalance[p] = isnan(sum) ? NAN : sum > 0 ? max / (sum / (double)r->n) : 1.0;
    }
    /* Input bytes: the input files' sizes as the job counted them, or,
     * from a manifest written before it did, what the ranks mapped. */
    if (!mill__json_num(mill__json_get(metrics, "input_bytes"), &r->input_bytes) || !(r->input_bytes >= 0)) {
        r->input_bytes = 0;
        for (size_t i = 0; i < r->n; i++) r->input_bytes += r->rows[i].bytes[0];
    }
    return 0;
}

/* Reads DIR/_SUCCESS into r. Returns 0, or -1 with a one-line err that
 * names the directory or the manifest. */
static int load(const char *dir, report *r, char *err, size_t errlen) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory (give the output directory of a job)", dir);
        return -1;
    }
    size_t dl = strlen(dir);
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s_SUCCESS", dir, dl && dir[dl - 1] == '/' ? "" : "/") >= (int)sizeof path) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    char *text = NULL, perr[128];
    size_t len = 0;
    if (mill__manifest_text(AT_FDCWD, path, 0, path, &text, &len, err, errlen)) return -1;
    mill__json root;
    int rc = mill__json_parse(text, len, &root, perr, sizeof perr);
    free(text);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, perr);
        return -1;
    }
    memset(r, 0, sizeof *r);
    rc = extract(&root, path, r, err, errlen);
    mill__json_free(&root);
    if (rc) report_free(r);
    return rc;
}

/* ---- the table on stdout ------------------------------------------------ */

#define NCOLS (1 + 4 * NPHASES + 3)
#define CELL 32

/* Formats v with fmt into cell, or "-" when v is NAN (not in the manifest). */
static void cell(char *out, const char *fmt, double v) {
    if (isnan(v)) snprintf(out, CELL, "-");
    else snprintf(out, CELL, fmt, v);
}

/* Formats rank row i's cells (or the header when row is NULL); returns how
 * many. */
static int row_cells(const rank_row *row, char cells[NCOLS][CELL]) {
    int c = 0;
    if (!row) {
        snprintf(cells[c++], CELL, "rank");
        for (int p = 0; p < NPHASES; p++) {
            snprintf(cells[c++], CELL, "%s_s", phase_name[p]);
            if (part_name[p]) snprintf(cells[c++], CELL, "%s_s", part_name[p]);
            snprintf(cells[c++], CELL, "%s_bytes", phase_name[p]);
            snprintf(cells[c++], CELL, "%s_%s", phase_name[p], count_name[p]);
        }
        snprintf(cells[c++], CELL, "sent_bytes");
        snprintf(cells[c++], CELL, "peak_rss_MiB");
        snprintf(cells[c++], CELL, "spill_bytes");
        return c;
    }
    snprintf(cells[c++], CELL, "%.0f", row->rank);
    for (int p = 0; p < NPHASES; p++) {
        cell(cells[c++], "%.3f", row->end[p] - row->start[p]);
        if (part_name[p]) cell(cells[c++], "%.3f", row->part[p]);
        cell(cells[c++], "%.0f", row->bytes[p]);
        cell(cells[c++], "%.0f", row->records[p]);
    }
    snprintf(cells[c++], CELL, "%.0f", row->sent);
    snprintf(cells[c++], CELL, "%.1f", row->rss / 1048576.0);
    snprintf(cells[c++], CELL, "%.0f", row->spill);
    return c;
}

/* Returns the throughput over the input bytes in MiB/s (0 when no time). */
static double throughput(const report *r) {
    return r->seconds > 0 ? r->input_bytes / 1048576.0 / r->seconds : 0;
}

/* Prints r as aligned columns, then imbalance and totals, to out. */
static void print_table(FILE *out, const char *dir, const report *r) {
    int width[NCOLS] = {0}, ncols = 0;
    char cells[NCOLS][CELL];
    for (size_t i = 0; i <= r->n; i++) {
        ncols = row_cells(i ? &r->rows[i - 1] : NULL, cells);
        for (int c = 0; c < ncols; c++) {
            int w = (int)strlen(cells[c]);
            if (w > width[c]) width[c] = w;
        }
    }
    fputs("report of ", out);
    mill__fputs_visible(out, dir);
    fputs(": job ", out);
    mill__fputs_visible(out, r->job); /* from the manifest: maybe another's, maybe hostile */
    fprintf(out, ", %zu rank%s\n", r->n, r->n == 1 ? "" : "s");
    for (size_t i = 0; i <= r->n; i++) {
        row_cells(i ? &r->rows[i - 1] : NULL, cells);
        for (int c = 0; c < ncols; c++) fprintf(out, "%s%*s", c ? "  " : "", width[c], cells[c]);
        fputc('\n', out);
    }
    fprintf(out, "imbalance (max/mean):");
    for (int p = 0; p < NPHASES; p++) {
        char v[CELL];
        cell(v, "%.3f", r->imbalance[p]);
        fprintf(out, "%s %s %s", p ? "," : "", phase_name[p], v);
    }
    fprintf(out, "\ntotals: records_in %.0f, keys_out %.0f, seconds %.3f, input_bytes %.0f, throughput %.2f MiB/s\n",
            r->records_in, r->keys_out, r->seconds, r->input_bytes, throughput(r));
}

/* ---- the HTML page ------------------------------------------------------- */

/* Writes s to f with HTML's special characters escaped. */
static void html_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Returns a "nice" tick step (1, 2 or 5 times a power of ten) giving about
 * eight ticks over [0, span]. */
static double tick_step(double span) {
    double raw = span / 8, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return mag * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
}

/* Writes the SVG timeline: a legend, one row per rank with one bar per
 * phase at its start and end (and inside it, from its start, a darker bar as
 * long as its read, exchange or write time), grid lines and an x axis in
 * seconds. */
static void write_svg(FILE *f, const report *r) {
    const double W = 1000, left = 80, right = 20, top = 48, bottom = 44;
    double tmax = r->seconds - r->setup;
    for (size_t i = 0; i < r->n; i++)
        for (int p = 0; p < NPHASES; p++)
            if (r->rows[i].end[p] > tmax) tmax = r->rows[i].end[p]; /* false for NAN */
    if (!(tmax >= 1e-3)) tmax = 1e-3; /* times are 0 to 1e9 (need_time) */
    double step = tick_step(tmax), axis = ceil(tmax / step - 1e-9) * step;
    int nticks = (int)lround(axis / step); /* about eight */
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    double sx = (W - left - right) / axis;
    double rh = r->n <= 40 ? 22 : fmax(2, 880.0 / (double)r->n); /* row height */
    int label_every = rh >= 12 ? 1 : (int)ceil(12 / rh);
    double H = top + rh * (double)r->n + bottom, y_axis = top + rh * (double)r->n;

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "role=\"img\" aria-label=\"timeline of each rank's phases\">\n", W, H, W, H);
    /* Legend: the phases, then the parts. */
    for (int k = 0; k < 2 * NPHASES; k++) {
        int p = k % NPHASES;
        const char *name = k < NPHASES ? phase_name[p] : part_name[p], *color = k < NPHASES ? phase_color[p] : part_color[p];
        if (!name) continue;
        double x = left + 105 * k;
        fprintf(f, "<rect class=\"swatch %s\" x=\"%.0f\" y=\"8\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                   "<text x=\"%.0f\" y=\"20\">%s</text>\n", name, x, color, x + 20, name);
    }
    /* Grid and axis. */
    fprintf(f, "<g class=\"axis\">\n");
    for (int k = 0; k <= nticks; k++) {
        double t = k * step;
        double x = left + t * sx;
        fprintf(f, "<line class=\"grid\" x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.2f\"/>"
                   "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.*f</text>\n",
                x, top - 4, x, y_axis + 4, x, y_axis + 18, decimals, t);
    }
    fprintf(f, "<line class=\"axisline\" x1=\"%.0f\" y1=\"%.2f\" x2=\"%.0f\" y2=\"%.2f\"/>\n", left, y_axis,
            W - right, y_axis);
    fprintf(f, "<text x=\"%.0f\" y=\"%.2f\" text-anchor=\"middle\">seconds since the job's start barrier</text>\n",
            left + (W - left - right) / 2, y_axis + 36);
    fprintf(f, "</g>\n");
    /* The job's end (its total time, which includes gathering the metrics,
     * less what came before the start barrier: the axis starts there). */
    double xe = left + (r->seconds - r->setup) * sx;
    fprintf(f, "<line class=\"total\" x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.2f\"/>"
               "<text class=\"total\" x=\"%.2f\" y=\"%.0f\" text-anchor=\"end\">end (total %.3f s)</text>\n",
            xe, top - 4, xe, y_axis, xe - 3, top - 8, r->seconds);
    /* One row per rank. */
    for (size_t i = 0; i < r->n; i++) {
        const rank_row *row = &r->rows[i];
        double y = top + rh * (double)i;
        if (i % (size_t)label_every == 0)
            fprintf(f, "<text class=\"rank\" x=\"%.0f\" y=\"%.2f\" text-anchor=\"end\">rank %.0f</text>\n", left - 8,
                    y + rh / 2 + 4, row->rank);
        for (int p = 0; p < NPHASES; p++) {
            if (isnan(row->start[p])) continue;
            double x = left + row->start[p] * sx, d = row->end[p] - row->start[p];
            fprintf(f, "<rect class=\"bar %s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                       "<title>rank %.0f %s: %.3f to %.3f s (%.3f s), %.0f bytes, %.0f %s</title></rect>\n",
                    phase_name[p], x, y + rh * 0.15, fmax(1, d * sx), rh * 0.7, phase_color[p], row->rank,
                    phase_name[p], row->start[p], row->end[p], d, row->bytes[p], row->records[p], count_name[p]);
            if (isnan(row->part[p]) || row->part[p] * sx < 1) continue;
            fprintf(f, "<rect class=\"part %s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                       "<title>rank %.0f %s: %.3f s of the %s phase's %.3f s</title></rect>\n",
                    part_name[p], x, y + rh * 0.5, fmin(row->part[p], d) * sx, rh * 0.35, part_color[p], row->rank,
                    part_name[p], row->part[p], phase_name[p], d);
        }
    }
    fprintf(f, "</svg>\n");
}

/* Writes the table as HTML; each phase's slowest rank is marked. */
static void write_html_table(FILE *f, const report *r) {
    size_t slowest[NPHASES] = {0};
    for (int p = 0; p < NPHASES; p++)
        for (size_t i = 1; i < r->n; i++)
            if (r->rows[i].end[p] - r->rows[i].start[p] >
                r->rows[slowest[p]].end[p] - r->rows[slowest[p]].start[p])
                slowest[p] = i;
    fprintf(f, "<table>\n<thead><tr><th rowspan=\"2\">rank</th>");
    for (int p = 0; p < NPHASES; p++)
        fprintf(f, "<th colspan=\"%d\"><span class=\"key\" style=\"background:%s\"></span>%s</th>",
                part_name[p] ? 4 : 3, phase_color[p], phase_name[p]);
    fprintf(f, "<th rowspan=\"2\">bytes sent</th><th rowspan=\"2\">peak RSS (MiB)</th>"
               "<th rowspan=\"2\">spill bytes</th></tr>\n<tr>");
    for (int p = 0; p < NPHASES; p++) {
        fprintf(f, "<th>time (s)</th>");
        if (part_name[p])
            fprintf(f, "<th><span class=\"key\" style=\"background:%s\"></span>%s (s)</th>", part_color[p],
                    part_name[p]);
        fprintf(f, "<th>bytes</th><th>%s</th>", count_name[p]);
    }
    fprintf(f, "</tr></thead>\n<tbody>\n");
    char c[4][CELL];
    for (size_t i = 0; i < r->n; i++) {
        const rank_row *row = &r->rows[i];
        fprintf(f, "<tr><td>%.0f</td>", row->rank);
        for (int p = 0; p < NPHASES; p++) {
            cell(c[0], "%.3f", row->end[p] - row->start[p]);
            cell(c[1], "%.3f", row->part[p]);
            cell(c[2], "%.0f", row->bytes[p]);
            cell(c[3], "%.0f", row->records[p]);
            int mark = r->n > 1 && slowest[p] == i && !isnan(row->end[p] - row->start[p]); /* not a "-" */
            fprintf(f, "<td%s>%s</td>", mark ? " class=\"max\"" : "", c[0]);
            if (part_name[p]) fprintf(f, "<td>%s</td>", c[1]);
            fprintf(f, "<td>%s</td><td>%s</td>", c[2], c[3]);
        }
        fprintf(f, "<td>%.0f</td><td>%.1f</td><td>%.0f</td></tr>\n", row->sent, row->rss / 1048576.0, row->spill);
    }
    fprintf(f, "</tbody>\n<tfoot><tr><th>max/mean</th>");
    for (int p = 0; p < NPHASES; p++) {
        cell(c[0], "%.3f", r->imbalance[p]);
        fprintf(f, "<td>%s</td>%s<td></td><td></td>", c[0], part_name[p] ? "<td></td>" : "");
    }
    fprintf(f, "<td></td><td></td><td></td></tr></tfoot>\n</table>\n");
}

/* Writes the whole page to f. */
static void write_page(FILE *f, const char *dir, const report *r) {
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>mpimill report: ");
    html_esc(f, r->job);
    fprintf(f, " (");
    html_esc(f, dir);
    fprintf(f, ")</title>\n<style>\n"
               "body{font-family:sans-serif;margin:24px;color:#222}\n"
               "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}\n"
               "p.sub{color:#555;margin:0 0 8px}\n"
               "svg{max-width:100%%;height:auto;font-size:12px}\n"
               "svg .grid{stroke:#e2e2e2}svg .axisline{stroke:#666}svg rect{shape-rendering:crispEdges}\n"
               "svg line.total{stroke:#b00;stroke-dasharray:4 3}svg text.total{fill:#b00}\n"
               "table{border-collapse:collapse;font-size:13px}\n"
               "th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}\n"
               "thead th{background:#f4f4f4;text-align:center}\n"
               "td.max{font-weight:bold;color:#b00}\n"
               ".key{display:inline-block;width:10px;height:10px;margin-right:5px}\n"
               "p.note{color:#555;margin-top:10px}\n"
               "</style>\n</head>\n<body>\n<h1>mpimill report: ");
    html_esc(f, r->job);
    fprintf(f, "</h1>\n<p class=\"sub\">");
    html_esc(f, dir);
    fprintf(f, " &middot; %zu rank%s &middot; %.0f records in &middot; %.0f keys out &middot; %.3f s &middot; "
               "%.0f input bytes &middot; %.2f MiB/s</p>\n<h2>Timeline</h2>\n",
            r->n, r->n == 1 ? "" : "s", r->records_in, r->keys_out, r->seconds, r->input_bytes, throughput(r));
    write_svg(f, r);
    fprintf(f, "<h2>Per rank</h2>\n");
    write_html_table(f, r);
    fprintf(f, "<p class=\"note\">Times are seconds since the job's start barrier, on each rank's clock. "
               "Inside a phase's bar, a darker bar from its start shows how much of it went to reading input "
               "(map), to MPI_Alltoallv (shuffle) or to writing output (reduce). Commit is this rank's share of "
               "the two-phase commit: making its files durable and hashing them. "
               "max/mean: the slowest rank's phase time over the mean (1.000 is perfect balance); "
               "the slowest rank of each phase is in red.</p>\n</body>\n</html>\n");
}

/* Writes the page to path through a temporary file beside it, fsynced and
 * renamed into place, so a reader never sees half a page, even after a
 * crash; to what is not a regular file (/dev/stdout, a FIFO), straight.
 * Returns 0 or -1 with err. */
static int write_html(const char *path, const char *dir, const report *r, char *err, size_t errlen) {
    struct stat st;
    char tmp[PATH_MAX] = ""; /* "": written straight to path */
    FILE *f = NULL;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        f = fopen(path, "w");
    } else if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    } else {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            tmp[0] = '\0';
        } else {
            mode_t um = umask(0);
            umask(um);
            f = fchmod(fd, 0666 & ~um) == 0 ? fdopen(fd, "w") : NULL;
            if (!f) close(fd);
        }
    }
    const char *what = "";
    int e = errno;
    if (f) {
        write_page(f, dir, r);
        /* A buffered write's failure: errno is no longer its own. */
        e = ferror(f) ? EIO : tmp[0] && (fflush(f) != 0 || fsync(fileno(f)) != 0) ? errno : 0;
        if (fclose(f) != 0 && !e) e = errno;
        if (e) what = "write: ";
        else if (!tmp[0] || rename(tmp, path) == 0) return 0;
        else e = errno;
    }
    snprintf(err, errlen, "%s: %s%s", path, what, strerror(e));
    if (tmp[0]) unlink(tmp);
    return -1;
}

/* ---- where the page goes -------------------------------------------------- */

/* Sets html to DIR/../NAME-report.html, from DIR's real path. Returns 0, or
 * -1 with err when DIR is the root or the path is too long. */
static int default_html(const char *dir, char *html, size_t cap, char *err, size_t errlen) {
    char real[PATH_MAX];
    if (!realpath(dir, real)) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char *slash = strrchr(real, '/');
    if (!slash || !slash[1]) {
        snprintf(err, errlen, "%s: has no parent to hold the report; give --html FILE", dir);
        return -1;
    }
    *slash = '\0';
    if (snprintf(html, cap, "%s/%s-report.html", real, slash + 1) >= (int)cap) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    return 0;
}

/* Returns 1 when file would land inside dir (or a directory under it), 0
 * when not, and 0 too when file's directory cannot be resolved (writing it
 * then fails with its own message). */
static int inside(const char *file, const char *dir) {
    char rdir[PATH_MAX], parent[PATH_MAX], rparent[PATH_MAX];
    if (!realpath(dir, rdir)) return 0;
    const char *slash = strrchr(file, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else if (slash == file) snprintf(parent, sizeof parent, "/");
    else snprintf(parent, sizeof parent, "%.*s", (int)(slash - file), file);
    if (!realpath(parent, rparent)) return 0;
    size_t n = strlen(rdir);
    return !strncmp(rparent, rdir, n) && (rparent[n] == '\0' || rparent[n] == '/' || n == 1);
}

int mill__report_main(int argc, char **argv) {
    const char *dir = NULL, *html = NULL;
    int no_html = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return MILL_EXIT_OK;
        } else if (!strcmp(a, "--no-html")) {
            no_html = 1;
        } else if (!strcmp(a, "--html") || !strncmp(a, "--html=", 7)) {
            html = a[6] == '=' ? a + 7 : i + 1 < argc ? argv[++i] : NULL;
            if (!html || !*html || (a[6] != '=' && !strncmp(html, "--", 2))) { /* --html=--x names such a file */
                mill__eprintf("report: --html needs a FILE (see mpimill report --help)");
                return MILL_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            mill__eprintf("report: unknown option '%s' (see mpimill report --help)", a);
            return MILL_EXIT_USAGE;
        } else if (dir) {
            mill__eprintf("report: one DIR only ('%s' and '%s')", dir, a);
            return MILL_EXIT_USAGE;
        } else {
            dir = a;
        }
    }
    if (!dir || (html && no_html)) {
        mill__eprintf("report: %s (see mpimill report --help)",
                      dir ? "--html and --no-html exclude each other" : "no DIR given");
        return MILL_EXIT_USAGE;
    }
    char err[PATH_MAX + 256], path[PATH_MAX];
    report r;
    if (load(dir, &r, err, sizeof err)) {
        fprintf(stderr, "mpimill: error: report: %s\n", err);
        return MILL_EXIT_RUNTIME;
    }
    /* A link is written through, not replaced by the page: to its target
     * (a link to what is not a regular file, as /dev/stdout, is written to). */
    char real[PATH_MAX];
    struct stat lst, tst;
    if (html && lstat(html, &lst) == 0 && S_ISLNK(lst.st_mode) && !(stat(html, &tst) == 0 && !S_ISREG(tst.st_mode))) {
        if (!realpath(html, real)) {
            fprintf(stderr, "mpimill: error: report: --html %s: a link to nothing (%s)\n", html, strerror(errno));
            report_free(&r);
            return MILL_EXIT_RUNTIME;
        }
        html = real;
    }
    if (html && inside(html, dir)) {
        fprintf(stderr, "mpimill: report: --html %s is inside %s, which must hold only what its manifest lists\n",
                html, dir);
        report_free(&r);
        return MILL_EXIT_USAGE;
    }
    print_table(stdout, dir, &r);
    int rc = 0;
    if (!no_html) {
        if (!html) rc = default_html(dir, path, sizeof path, err, sizeof err);
        else if (snprintf(path, sizeof path, "%s", html) >= (int)sizeof path) {
            snprintf(err, sizeof err, "%s: path too long", html);
            rc = -1;
        }
        if (rc == 0) rc = write_html(path, dir, &r, err, sizeof err);
        if (rc == 0) printf("html: %s\n", path);
    }
    report_free(&r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mpimill: error: report: writing the table: %s\n", strerror(errno));
        return MILL_EXIT_RUNTIME;
    }
    if (rc) {
        fprintf(stderr, "mpimill: error: report: %s\n", err);
        return MILL_EXIT_RUNTIME;
    }
    return MILL_EXIT_OK;
}
