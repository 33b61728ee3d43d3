/* bench_read.c -- times mpimill's readers on this rank's share of an input,
 * with a callback that only counts, so that the figure is the reader alone.
 *
 *   mpirun -n P bench_read INPUT...            records and bytes per second
 *   mpirun -n P bench_read --raw FILE OFF LEN  pread of the same bytes: each
 *                                              rank its share of [OFF, OFF+LEN)
 *
 * Prints one line: "<seconds> <bytes> <records>" (slowest rank's seconds,
 * sums over ranks). Bytes are the record bytes delivered (raw: bytes read).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "read.h"

typedef struct count { uint64_t records, bytes; } count;

static int on_record(void *arg, const mill_record *rec) {
    count *c = arg;
    c->records++;
    c->bytes += rec->len + 1; /* + the terminator the reader removed */
    return 0;
}

static int raw_read(const char *file, uint64_t off, uint64_t len, int rank, int size, count *c) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) return 1;
    uint64_t lo = off + len * (uint64_t)rank / (uint64_t)size, hi = off + len * (uint64_t)(rank + 1) / (uint64_t)size;
    size_t bs = 8u << 20;
    char *buf = malloc(bs);
    for (uint64_t p = lo; p < hi;) {
        size_t n = hi - p < bs ? (size_t)(hi - p) : bs;
        ssize_t got = pread(fd, buf, n, (off_t)p);
        if (got <= 0) break;
        p += (uint64_t)got;
        c->bytes += (uint64_t)got;
    }
    free(buf);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, rc = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    count c = {0};
    char err[1024] = "";
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (argc == 5 && !strcmp(argv[1], "--raw")) {
        rc = raw_read(argv[2], strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0), rank, size, &c);
    } else {
        mill__inputs in;
        rc = mill__inputs_collect(&in, argv + 1, (size_t)(argc - 1), err, sizeof err);
        mill__read_opts o = {.comm = MPI_COMM_WORLD};
        if (rc == 0) rc = mill__read_all(&in, &o, rank, size, on_record, &c, err, sizeof err);
        if (rc == 0) mill__inputs_free(&in);
    }
    double t = MPI_Wtime() - t0, tmax;
    if (rc) fprintf(stderr, "bench_read: rank %d: %s (%d)\n", rank, err, rc);
    uint64_t mine[2] = {c.bytes, c.records}, all[2];
    MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(mine, all, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) printf("%.4f %" PRIu64 " %" PRIu64 "\n", tmax, all[0], all[1]);
    MPI_Finalize();
    return rc ? 1 : 0;
}
