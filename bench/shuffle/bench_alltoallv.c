/* bench_alltoallv.c -- the baseline of the shuffle: a bare MPI_Alltoallv.
 *
 *   mpirun -n P bench_alltoallv REMOTE SELF [REPEATS]
 *
 * Every rank sends REMOTE bytes in all, split evenly among the other ranks,
 * and SELF bytes to itself, in one MPI_Alltoallv (or as many as the int
 * counts need), REPEATS times (default 5). Prints the median seconds of
 * one exchange on rank 0. Buffers are touched first, so page faults are
 * not timed.
 */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 3) {
        if (rank == 0) fprintf(stderr, "usage: bench_alltoallv REMOTE SELF [REPEATS]\n");
        MPI_Finalize();
        return 2;
    }
    unsigned long long remote = strtoull(argv[1], NULL, 10), self = strtoull(argv[2], NULL, 10);
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    if (repeats < 1 || repeats > 100) repeats = 5;
    unsigned long long per = size > 1 ? remote / (unsigned long long)(size - 1) : 0;
    /* Rounds of at most INT_MAX / size bytes per pair keep int displacements valid. */
    unsigned long long most = per > self ? per : self, chunk = (unsigned long long)(INT_MAX / size);
    unsigned long long rounds = most ? (most + chunk - 1) / chunk : 1;
    unsigned long long round_per = (per + rounds - 1) / rounds, round_self = (self + rounds - 1) / rounds;
    unsigned long long cap = round_per > round_self ? round_per : round_self;
    char *s = malloc((size_t)(cap * (unsigned long long)size + 1)), *r = malloc((size_t)(cap * (unsigned long long)size + 1));
    int *sc = calloc((size_t)size * 4, sizeof *sc), *sd = sc + size, *rc = sc + 2 * size, *rd = sc + 3 * size;
    if (!s || !r || !sc) {
        fprintf(stderr, "bench_alltoallv: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(s, 'x', (size_t)(cap * (unsigned long long)size + 1));
    memset(r, 0, (size_t)(cap * (unsigned long long)size + 1));
    for (int i = 0; i < size; i++) {
        sc[i] = rc[i] = (int)(i == rank ? round_self : round_per);
        sd[i] = rd[i] = (int)(cap * (unsigned long long)i);
    }
    double *t = calloc((size_t)repeats, sizeof *t);
    for (int k = 0; k < repeats; k++) {
        if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 1);
        double t0 = MPI_Wtime();
        for (unsigned long long i = 0; i < rounds; i++)
            if (MPI_Alltoallv(s, sc, sd, MPI_CHAR, r, rc, rd, MPI_CHAR, MPI_COMM_WORLD) != MPI_SUCCESS)
                MPI_Abort(MPI_COMM_WORLD, 1);
        double mine = MPI_Wtime() - t0;
        if (MPI_Allreduce(&mine, &t[k], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
            MPI_Abort(MPI_COMM_WORLD, 1);
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    if (rank == 0) printf("%.6f\n", t[repeats / 2]);
    free(t);
    free(sc);
    free(s);
    free(r);
    MPI_Finalize();
    return 0;
}
