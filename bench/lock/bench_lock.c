/* bench_lock.c -- speed of runtime/lock.c beside its baselines, in one run.
 *
 *   mpirun -n 2 bench_lock [seconds-per-contended-phase]
 *
 * Rank 0 is the home of every lock; rank 1 measures remote figures. Prints a
 * table with each figure as a ratio of one MPI_Fetch_and_op round trip:
 *   fetch-and-op round trip (baseline), uncontended acquire+release
 *   (exclusive, with token, shared), contended acquisitions/s at 2 ranks with
 *   the fairness ratio, an MPI_Win_lock(EXCLUSIVE) critical section, a
 *   central lock server over send/recv, and the worst acquire+release while
 *   the home rank computes 100 ms without MPI calls, with and without the
 *   runtime calling mill__lock_progress() every 0.2 ms.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "mpimill/job.h"

static int rank, size;

#define OK(call)                                                         \
    do {                                                                 \
        int rc_ = (call);                                                \
        if (rc_ != 0) {                                                  \
            fprintf(stderr, "rank %d: %s failed: %d\n", rank, #call, rc_); \
            MPI_Abort(MPI_COMM_WORLD, 2);                                \
        }                                                                \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Returns the mean seconds of one fetch-and-op round trip, rank 1 to 0. */
static double bench_fao(int n) {
    MPI_Win win;
    int *base;
    OK(MPI_Win_allocate(4, 4, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    *base = 0;
    OK(MPI_Win_lock_all(MPI_MODE_NOCHECK, win));
    OK(MPI_Barrier(MPI_COMM_WORLD));
    double t = 0;
    if (rank == 1) {
        int one = 1, old = 0;
        for (int i = 0; i < n / 10; i++) { /* warm-up */
            OK(MPI_Fetch_and_op(&one, &old, MPI_INT, 0, 0, MPI_SUM, win));
            OK(MPI_Win_flush(0, win));
        }
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            OK(MPI_Fetch_and_op(&one, &old, MPI_INT, 0, 0, MPI_SUM, win));
            OK(MPI_Win_flush(0, win));
        }
        t = (now_s() - t0) / n;
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Bcast(&t, 1, MPI_DOUBLE, 1, MPI_COMM_WORLD));
    OK(MPI_Win_unlock_all(win));
    OK(MPI_Win_free(&win));
    return t;
}

/* Mean seconds of one uncontended acquire+release by rank 1. */
static double bench_uncontended(mill__lock *l, int n, mill__lock_mode mode, int token) {
    double t = 0;
    OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == 1) {
        uint64_t tok = 0;
        for (int i = 0; i < n / 10; i++) {
            OK(mill__lock_acquire(l, mode, 10000, token ? &tok : NULL));
            OK(mill__lock_release(l));
        }
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            OK(mill__lock_acquire(l, mode, 10000, token ? &tok : NULL));
            OK(mill__lock_release(l));
        }
        t = (now_s() - t0) / n;
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Bcast(&t, 1, MPI_DOUBLE, 1, MPI_COMM_WORLD));
    return t;
}

/* Both ranks acquire and release for `secs`; returns acquisitions/s and
 * the fairness ratio (fewest / most acquisitions of one rank). */
static double bench_contended(mill__lock *l, double secs, double *fair) {
    long mine = 0, lo = 0, hi = 0, sum = 0;
    OK(MPI_Barrier(MPI_COMM_WORLD));
    double t0 = now_s();
    while (now_s() - t0 < secs) {
        for (int i = 0; i < 64; i++) {
            OK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, NULL));
            OK(mill__lock_release(l));
        }
        mine += 64;
    }
    double dt = now_s() - t0;
    OK(MPI_Allreduce(&mine, &lo, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD));
    OK(MPI_Allreduce(&mine, &hi, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD));
    OK(MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD));
    OK(MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    *fair = hi ? (double)lo / (double)hi : 0;
    return (double)sum / dt;
}

/* MPI_Win_lock(EXCLUSIVE) around a get/put increment, both ranks, for
 * `secs`; returns acquisitions/s and counts lost updates into *lost. */
static double bench_winlock(double secs, long *lost, double *fair) {
    MPI_Win win;
    long *base;
    OK(MPI_Win_allocate(sizeof(long), sizeof(long), MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win));
    *base = 0;
    OK(MPI_Barrier(MPI_COMM_WORLD));
    long mine = 0, sum = 0, lo = 0, hi = 0;
    double t0 = now_s();
    while (now_s() - t0 < secs) {
        long v = 0;
        OK(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win));
        OK(MPI_Get(&v, 1, MPI_LONG, 0, 0, 1, MPI_LONG, win));
        OK(MPI_Win_flush(0, win));
        v++;
        OK(MPI_Put(&v, 1, MPI_LONG, 0, 0, 1, MPI_LONG, win));
        OK(MPI_Win_unlock(0, win));
        mine++;
    }
    double dt = now_s() - t0;
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD));
    OK(MPI_Allreduce(&mine, &lo, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD));
    OK(MPI_Allreduce(&mine, &hi, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD));
    OK(MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
    long final = 0;
    if (rank == 0) {
        OK(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
        final = *base;
        OK(MPI_Win_unlock(0, win));
    }
    OK(MPI_Bcast(&final, 1, MPI_LONG, 0, MPI_COMM_WORLD));
    *lost = sum - final;
    *fair = hi ? (double)lo / (double)hi : 0;
    OK(MPI_Win_free(&win));
    return (double)sum / dt;
}

/* A central lock server on rank 0 over send/recv; rank 1 does n
 * acquire+release cycles. Returns mean seconds per cycle. */
static double bench_server(int n) {
    enum { ACQ = 1, GRANT = 2, REL = 3, STOP = 4 };
    double t = 0;
    OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == 0) {
        int holder = -1, queue[64], qh = 0, qt = 0, x = 0, running = size - 1;
        while (running > 0) {
            MPI_Status st;
            OK(MPI_Recv(&x, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
            if (st.MPI_TAG == ACQ) {
                if (holder < 0) {
                    holder = st.MPI_SOURCE;
                    OK(MPI_Send(&x, 1, MPI_INT, holder, GRANT, MPI_COMM_WORLD));
                } else {
                    queue[qt++ % 64] = st.MPI_SOURCE;
                }
            } else if (st.MPI_TAG == REL) {
                holder = -1;
                if (qh != qt) {
                    holder = queue[qh++ % 64];
                    OK(MPI_Send(&x, 1, MPI_INT, holder, GRANT, MPI_COMM_WORLD));
                }
            } else {
                running--;
            }
        }
    } else {
        int x = 0;
        double t0 = 0;
        for (int i = -n / 10; i < n; i++) {
            if (i == 0) t0 = now_s();
            OK(MPI_Send(&x, 1, MPI_INT, 0, ACQ, MPI_COMM_WORLD));
            OK(MPI_Recv(&x, 1, MPI_INT, 0, GRANT, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            OK(MPI_Send(&x, 1, MPI_INT, 0, REL, MPI_COMM_WORLD));
        }
        t = (now_s() - t0) / n;
        OK(MPI_Send(&x, 1, MPI_INT, 0, STOP, MPI_COMM_WORLD));
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Bcast(&t, 1, MPI_DOUBLE, 1, MPI_COMM_WORLD));
    return t;
}

/* Rank 0 (the home) computes 100 ms without MPI calls, calling
 * mill__lock_progress every 0.2 ms when `progress`; rank 1 acquires and
 * releases meanwhile. Returns the worst acquire+release in seconds. */
static double bench_stall(mill__lock *l, int progress, long *count) {
    double worst = 0;
    long n = 0;
    OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == 0) {
        volatile double x = 1;
        double t0 = now_s(), tp = t0;
        while (now_s() - t0 < 0.1) {
            for (int i = 0; i < 1000; i++) x = x * 1.0000001 + 1e-9;
            if (progress && now_s() - tp > 0.0002) {
                OK(mill__lock_progress(l));
                tp = now_s();
            }
        }
    } else if (rank == 1) {
        double t0 = now_s();
        while (now_s() - t0 < 0.1) {
            double a = now_s();
            OK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, NULL));
            OK(mill__lock_release(l));
            double d = now_s() - a;
            if (d > worst) worst = d;
            n++;
        }
    }
    OK(MPI_Barrier(MPI_COMM_WORLD));
    OK(MPI_Bcast(&worst, 1, MPI_DOUBLE, 1, MPI_COMM_WORLD));
    OK(MPI_Bcast(&n, 1, MPI_LONG, 1, MPI_COMM_WORLD));
    *count = n;
    return worst;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        fprintf(stderr, "bench_lock needs 2 ranks\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    const int n = 20000;
    mill__lock *l = NULL;
    OK(mill__lock_create(&l, MPI_COMM_WORLD, 0));

    double rt = bench_fao(n);
    /* Scale iteration counts to the transport (about 0.2 s each). */
    int m = (int)(0.2 / (rt * 3));
    if (m > n) m = n;
    if (m < 200) m = 200;
    double un = bench_uncontended(l, m, MILL_LOCK_EXCLUSIVE, 0);
    double ut = bench_uncontended(l, m, MILL_LOCK_EXCLUSIVE, 1);
    double us = bench_uncontended(l, m, MILL_LOCK_SHARED, 0);
    double fair = 0, wfair = 0;
    double cont = bench_contended(l, secs, &fair);
    long lost = 0;
    double wl = bench_winlock(secs, &lost, &wfair);
    double srv = bench_server(m);
    long c0 = 0, c1 = 0;
    double st0 = bench_stall(l, 0, &c0);
    double st1 = bench_stall(l, 1, &c1);

    if (rank == 0) {
        printf("bench_lock: %d ranks, home rank 0, measured from rank 1\n", size);
        printf("%-52s %14s %10s\n", "figure", "value", "x RT");
        printf("%-52s %11.3f us %10.2f\n", "MPI_Fetch_and_op round trip (RT, baseline)", rt * 1e6, 1.0);
        printf("%-52s %11.3f us %10.2f\n", "uncontended acquire+release, exclusive", un * 1e6, un / rt);
        printf("%-52s %11.3f us %10.2f\n", "uncontended acquire+release, exclusive + token", ut * 1e6, ut / rt);
        printf("%-52s %11.3f us %10.2f\n", "uncontended acquire+release, shared", us * 1e6, us / rt);
        printf("%-52s %8.0f acq/s %10.2f   fairness %.3f\n", "contended, 2 ranks (MCS)", cont,
               1.0 / (cont * rt), fair);
        printf("%-52s %8.0f acq/s %10.2f   fairness %.3f, lost %ld\n",
               "contended, MPI_Win_lock(EXCLUSIVE) get/put", wl, 1.0 / (wl * rt), wfair, lost);
        printf("%-52s %11.3f us %10.2f   (%.0f acq/s)\n", "central lock server, send/recv, cycle",
               srv * 1e6, srv / rt, 1.0 / srv);
        printf("%-52s %11.3f ms %10.0f   (%ld acquisitions)\n",
               "worst acq+rel, home computes 100 ms, no progress", st0 * 1e3, st0 / rt, c0);
        printf("%-52s %11.3f ms %10.0f   (%ld acquisitions)\n",
               "worst acq+rel, home computes, progress / 0.2 ms", st1 * 1e3, st1 / rt, c1);
        printf("(x RT for acq/s rows: mean time per acquisition / RT)\n");
    }
    OK(mill__lock_free(&l));
    MPI_Finalize();
    return 0;
}
