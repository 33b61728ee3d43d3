/* metrics.c -- phase timing, counts and peak memory per rank (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "runtime.h"

static const char *const phase_names[MILL_PHASE_COUNT] = {"map", "shuffle", "reduce", "commit"};

double mill__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* This process's peak resident memory since the last reset, in bytes:
 * VmHWM, which writing 5 to /proc/self/clear_refs resets (so each stage of
 * a pipeline reports its own peak); getrusage's ru_maxrss where /proc has
 * no VmHWM. */
double mill__peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    if (f) fclose(f);
    struct rusage ru;
    if (kib < 0) kib = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
    return (double)kib * 1024.0;
}

void mill__peak_rss_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        (void)fputs("5", f);
        (void)fclose(f); /* a kernel without it: the process's peak, as before */
    }
}

int mill__metrics_start(mill__metrics *m, MPI_Comm comm) {
    memset(m, 0, sizeof *m);
    mill__peak_rss_reset();
    for (int p = 0; p < MILL_PHASE_COUNT; p++) m->phase[p].end = -1;
    int rc = MPI_Barrier(comm);
    m->t0 = mill__now();
    return rc == MPI_SUCCESS ? 0 : MILL_EMPI;
}

void mill__phase_begin(mill__metrics *m, mill__phase p) { m->phase[p].start = mill__now() - m->t0; }

void mill__phase_end(mill__metrics *m, mill__phase p, uint64_t bytes, uint64_t records) {
    m->phase[p].end = mill__now() - m->t0;
    m->phase[p].bytes = bytes;
    m->phase[p].records = records;
}

/* Values per rank, sent as doubles: per phase start, end, bytes, records;
 * then the rank's own, in the slots below (in the manifest's order). */
#define PER_PHASE 4
enum { V_RSS, V_SENT, V_SPILL, V_REMOTE, V_PAYLOAD, V_PACK, V_EXCHANGE, V_READ, V_WRITE, V_COUNT };
#define TAIL (MILL_PHASE_COUNT * PER_PHASE)
#define NVALS (TAIL + V_COUNT)

int mill__metrics_gather(const mill__metrics *m, MPI_Comm comm, char **json, char *err, size_t errlen) {
    int rank, size;
    if (mill__comm_shape(comm, &rank, &size, err, errlen)) return MILL_EMPI;
    double mine[NVALS], *all = NULL;
    for (int p = 0; p < MILL_PHASE_COUNT; p++) {
        mine[p * PER_PHASE + 0] = m->phase[p].start;
        mine[p * PER_PHASE + 1] = m->phase[p].end;
        mine[p * PER_PHASE + 2] = (double)m->phase[p].bytes;
        mine[p * PER_PHASE + 3] = (double)m->phase[p].records;
    }
    double *t = mine + TAIL;
    t[V_RSS] = mill__peak_rss();
    t[V_SENT] = (double)m->bytes_sent;
    t[V_SPILL] = (double)m->spill_bytes;
    t[V_REMOTE] = (double)m->bytes_remote;
    t[V_PAYLOAD] = (double)m->payload_remote;
    t[V_PACK] = m->pack_s;
    t[V_EXCHANGE] = m->exchange_s;
    t[V_READ] = m->read_s;
    t[V_WRITE] = m->write_s;
    if (rank == 0) all = malloc((size_t)size * NVALS * sizeof *all); /* NULL: the gather fails on rank 0 */
    int mrc = MPI_Gather(mine, NVALS, MPI_DOUBLE, all, rank == 0 && all ? NVALS : 0, MPI_DOUBLE, 0, comm);
    *json = NULL;
    if (mrc != MPI_SUCCESS) {
        free(all);
        return mill__mpi_error(mrc, "MPI_Gather of metrics", err, errlen);
    }
    if (rank != 0) return 0;
    if (!all) {
        snprintf(err, errlen, "out of memory gathering metrics");
        return MILL_ENOMEM;
    }
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) {
        free(all);
        return MILL_ENOMEM;
    }
    fprintf(f, "\"ranks\": [");
    for (int r = 0; r < size; r++) {
        const double *v = all + (size_t)r * NVALS, *w = v + TAIL;
        fprintf(f, "%s\n    {\"rank\": %d, \"peak_rss\": %.0f, \"bytes_sent\": %.0f, \"spill_bytes\": %.0f, "
                   "\"bytes_remote\": %.0f, \"payload_remote\": %.0f, \"pack_s\": %.6f, \"exchange_s\": %.6f, \"read_s\": %.6f, \"write_s\": %.6f, \"phases\": {",
                r ? "," : "", r, w[V_RSS], w[V_SENT], w[V_SPILL], w[V_REMOTE], w[V_PAYLOAD], w[V_PACK], w[V_EXCHANGE],
                w[V_READ], w[V_WRITE]);
        for (int p = 0; p < MILL_PHASE_COUNT; p++) {
            const double *q = v + p * PER_PHASE;
            fprintf(f, "%s\"%s\": {\"start\": %.6f, \"end\": %.6f, \"bytes\": %.0f, \"records\": %.0f}",
                    p ? ", " : "", phase_names[p], q[0], q[1] < q[0] ? q[0] : q[1], q[2], q[3]);
        }
        fprintf(f, "}}");
    }
    fprintf(f, "],\n  \"imbalance\": {");
    for (int p = 0; p < MILL_PHASE_COUNT; p++) {
        double max = 0, sum = 0;
        for (int r = 0; r < size; r++) {
            const double *q = all + (size_t)r * NVALS + p * PER_PHASE;
            double d = q[1] > q[0] ? q[1] - q[0] : 0;
            sum += d;
            if (d > max) max = d;
        }
        fprintf(f, "%s\"%s\": %.3f", p ? ", " : "", phase_names[p], sum > 0 ? max / (sum / size) : 1.0);
    }
    fprintf(f, "}");
    free(all);
    if (fclose(f) != 0) {
        free(s);
        return MILL_ENOMEM;
    }
    *json = s;
    return 0;
}
