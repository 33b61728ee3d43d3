/* test_lock.c -- MPI tests of runtime/lock.c, one scenario per run:
 *
 *   test_lock mutex N DIR   N exclusive acquisitions per rank; under the lock a
 *                           non-atomic read-modify-write of a file in DIR and of
 *                           window memory; zero lost updates; tokens == grants
 *   test_lock named N       same with named locks spread over ranks and slots
 *   test_lock shared N      readers concurrent, writers never overlap anyone
 *   test_lock fifo          waiters are granted in arrival order (>= 3 ranks)
 *   test_lock progress MS   home computes MS ms calling mill__lock_progress;
 *                           nobody else waits longer than MS ms
 *   test_lock timeout       MILL_ETIMEOUT naming the holder; recovery after it
 *   test_lock misuse        MILL_ESTATE / MILL_EINVAL paths; slot collisions
 *
 * Every rank checks what it can; main combines failures with MPI_Allreduce
 * and every rank exits non-zero when any rank failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agree.h"
#include "lock.h"
#include "mpimill/job.h"

static int rank, size, failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", rank, __FILE__, \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            failures++;                                                         \
        }                                                                       \
    } while (0)

/* Fails the run (after combining) when an MPI call fails. */
#define MPI_OK(call)                                                             \
    do {                                                                         \
        int rc_ = (call);                                                        \
        if (rc_ != MPI_SUCCESS) {                                                \
            fprintf(stderr, "rank %d: %s failed (%d)\n", rank, #call, rc_);      \
            MPI_Abort(MPI_COMM_WORLD, 2);                                        \
        }                                                                        \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A test window of `n` int64 counters on rank 0, accessed with plain
 * MPI_Get/MPI_Put (not atomic), so only the lock makes updates safe. */
typedef struct counters {
    MPI_Win win;
    int64_t *base;
} counters;

static void counters_open(counters *c, int n) {
    MPI_OK(MPI_Win_allocate(rank == 0 ? (MPI_Aint)n * 8 : 0, 8, MPI_INFO_NULL, MPI_COMM_WORLD,
                            &c->base, &c->win));
    if (rank == 0) memset(c->base, 0, (size_t)n * 8);
    MPI_OK(MPI_Win_lock_all(0, c->win));
    MPI_OK(MPI_Win_sync(c->win));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
}

static int64_t counters_read(counters *c, int i) {
    int64_t v = 0;
    MPI_OK(MPI_Get(&v, 1, MPI_INT64_T, 0, i, 1, MPI_INT64_T, c->win));
    MPI_OK(MPI_Win_flush(0, c->win));
    return v;
}

static void counters_write(counters *c, int i, int64_t v) {
    MPI_OK(MPI_Put(&v, 1, MPI_INT64_T, 0, i, 1, MPI_INT64_T, c->win));
    MPI_OK(MPI_Win_flush(0, c->win));
}

/* Non-atomic increment: read, then write the value + 1. Returns the read. */
static int64_t counters_bump(counters *c, int i) {
    int64_t v = counters_read(c, i);
    counters_write(c, i, v + 1);
    return v;
}

static void counters_close(counters *c) {
    MPI_OK(MPI_Win_unlock_all(c->win));
    MPI_OK(MPI_Win_free(&c->win));
}

/* Atomic occupancy words on rank 0 (to detect overlaps). */
static int occ_add(counters *c, int i, int delta) {
    int64_t d = delta, old = 0;
    MPI_OK(MPI_Fetch_and_op(&d, &old, MPI_INT64_T, 0, i, MPI_SUM, c->win));
    MPI_OK(MPI_Win_flush(0, c->win));
    return (int)old;
}

static int file_bump(int fd) {
    int64_t v = 0;
    if (pread(fd, &v, sizeof v, 0) != (ssize_t)sizeof v) return -1;
    v++;
    if (pwrite(fd, &v, sizeof v, 0) != (ssize_t)sizeof v) return -1;
    return 0;
}

/* ---- scenarios --------------------------------------------------------- */

static void test_mutex(int iters, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/lock_mutex_%d.bin", dir, (int)getppid());
    MPI_OK(MPI_Bcast(path, (int)sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD));
    if (rank == 0) {
        int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
        int64_t zero = 0;
        CHECK(fd >= 0 && pwrite(fd, &zero, 8, 0) == 8, "cannot create %s", path);
        if (fd >= 0) close(fd);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0, "cannot open %s", path);

    counters c;
    counters_open(&c, 1);
    mill__lock *l = NULL;
    int home = size - 1; /* not rank 0, to keep the lock and the data apart */
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, home) == 0, "create");
    uint64_t last = 0;
    double t0 = now_s();
    for (int i = 0; i < iters && failures == 0; i++) {
        uint64_t tok = 0;
        int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 60000, &tok);
        CHECK(rc == 0, "acquire: %d %s", rc, mill__lock_errmsg(l));
        if (rc < 0) break;
        int64_t seen = counters_bump(&c, 0);
        if (fd >= 0) CHECK(file_bump(fd) == 0, "file read/write");
        /* Every acquisition takes a token, so the k-th grant gets token k. */
        CHECK(tok == (uint64_t)seen + 1, "token %" PRIu64 " after %" PRId64 " grants", tok, seen);
        CHECK(tok > last, "token went back: %" PRIu64 " then %" PRIu64, last, tok);
        last = tok;
        rc = mill__lock_release(l);
        CHECK(rc == 0, "release: %d %s", rc, mill__lock_errmsg(l));
    }
    double dt = now_s() - t0;
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == 0) {
        int64_t want = (int64_t)iters * size, got = counters_read(&c, 0), fv = -1;
        CHECK(got == want, "window counter %" PRId64 ", want %" PRId64, got, want);
        if (fd >= 0) CHECK(pread(fd, &fv, 8, 0) == 8 && fv == want,
                           "file counter %" PRId64 ", want %" PRId64, fv, want);
        printf("mutex: %d ranks x %d acquisitions in %.2f s (%.0f acq/s), window %" PRId64
               ", file %" PRId64 "\n",
               size, iters, dt, (double)want / dt, got, fv);
        unlink(path);
    }
    if (fd >= 0) close(fd);
    CHECK(mill__lock_free(&l) == 0, "free");
    counters_close(&c);
}

#define NAMES 12
static void test_named(int iters) {
    counters c;
    counters_open(&c, NAMES);
    mill__lock_set *s = NULL;
    CHECK(mill__lock_set_create(&s, MPI_COMM_WORLD, 4) == 0, "set create");
    long mine[NAMES] = {0}, all[NAMES] = {0};
    char name[NAMES][16];
    uint64_t order[NAMES];
    for (int k = 0; k < NAMES; k++) {
        snprintf(name[k], sizeof name[k], "key-%d", k);
        CHECK(mill__lock_named_order(s, name[k], &order[k]) == 0, "order");
    }
    rng_state = 0x9e3779b97f4a7c15u ^ (uint64_t)(rank + 1) * 7919;
    for (int i = 0; i < iters && failures == 0; i++) {
        /* One or two names, taken in increasing lock order (no deadlock even
         * when names collide on slots; ordering by name would deadlock). */
        int a = (int)(rng() % NAMES), b = (int)(rng() % NAMES), two = (rng() & 3) == 0;
        if (order[a] > order[b]) { int t = a; a = b; b = t; }
        if (a == b) two = 0;
        int rc = 0, got = 1;
        if ((rng() & 7) == 0 && !two) {
            rc = mill__lock_named_try_acquire(s, name[a], MILL_LOCK_EXCLUSIVE, &got, NULL);
        } else {
            rc = mill__lock_named_acquire(s, name[a], MILL_LOCK_EXCLUSIVE, 60000, NULL);
        }
        CHECK(rc == 0, "acquire %s: %s", name[a], mill__lock_set_errmsg(s));
        if (rc < 0 || !got) continue;
        if (two) {
            rc = mill__lock_named_acquire(s, name[b], MILL_LOCK_EXCLUSIVE, 60000, NULL);
            CHECK(rc == 0, "acquire %s: %s", name[b], mill__lock_set_errmsg(s));
            if (rc == 0) {
                counters_bump(&c, b);
                mine[b]++;
                CHECK(mill__lock_named_release(s, name[b]) == 0, "release %s", name[b]);
            }
        }
        counters_bump(&c, a);
        mine[a]++;
        rc = mill__lock_named_release(s, name[a]);
        CHECK(rc == 0, "release %s: %s", name[a], mill__lock_set_errmsg(s));
    }
    MPI_OK(MPI_Allreduce(mine, all, NAMES, MPI_LONG, MPI_SUM, MPI_COMM_WORLD));
    if (rank == 0) {
        long total = 0;
        for (int k = 0; k < NAMES; k++) {
            int64_t got = counters_read(&c, k);
            CHECK(got == all[k], "name %s: counter %" PRId64 ", want %ld", name[k], got, all[k]);
            total += all[k];
        }
        printf("named: %d ranks, %ld updates on %d names\n", size, total, NAMES);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    CHECK(mill__lock_set_free(&s) == 0, "set free");
    counters_close(&c);
}

static void test_shared(int iters) {
    enum { READERS = 0, WRITERS = 1, DATA = 2 };
    counters c;
    counters_open(&c, 3);
    mill__lock *l = NULL;
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, 0) == 0, "create");

    /* 1. All ranks hold shared at once (a barrier inside the hold). */
    int rc = mill__lock_acquire(l, MILL_LOCK_SHARED, 10000, NULL);
    CHECK(rc == 0, "all-readers acquire: %s", mill__lock_errmsg(l));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == 0) {
        mill__lock_info info;
        CHECK(mill__lock_inspect(l, &info) == 0, "inspect");
        CHECK(info.readers == size, "%d readers inside, want %d", info.readers, size);
    }
    /* 2. While readers are inside, a writer cannot enter, a reader can. */
    if (rank == 0) {
        int got = -1;
        CHECK(mill__lock_release(l) == 0, "release");
        CHECK(mill__lock_try_acquire(l, MILL_LOCK_EXCLUSIVE, &got, NULL) == 0 && got == 0,
              "writer entered among %d readers (got %d)", size - 1, got);
        CHECK(mill__lock_try_acquire(l, MILL_LOCK_SHARED, &got, NULL) == 0 && got == 1,
              "reader refused among readers");
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    CHECK(mill__lock_release(l) == 0, "release: %s", mill__lock_errmsg(l));
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));

    /* 3. Mixed traffic; overlaps are detected with atomic occupancy words. */
    rng_state = 0x2545f4914f6cdd1du ^ (uint64_t)(rank + 1) * 104729;
    long writes = 0, all_writes = 0;
    int max_readers = 0;
    for (int i = 0; i < iters && failures == 0; i++) {
        if (rng() % 4 == 0) {
            rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 60000, NULL);
            CHECK(rc == 0, "writer acquire: %s", mill__lock_errmsg(l));
            if (rc < 0) break;
            CHECK(occ_add(&c, WRITERS, 1) == 0, "two writers inside");
            CHECK(occ_add(&c, READERS, 0) == 0, "writer entered with readers inside");
            counters_bump(&c, DATA);
            writes++;
            occ_add(&c, WRITERS, -1);
        } else {
            rc = mill__lock_acquire(l, MILL_LOCK_SHARED, 60000, NULL);
            CHECK(rc == 0, "reader acquire: %s", mill__lock_errmsg(l));
            if (rc < 0) break;
            int r = occ_add(&c, READERS, 1) + 1;
            if (r > max_readers) max_readers = r;
            CHECK(occ_add(&c, WRITERS, 0) == 0, "reader entered with a writer inside");
            (void)counters_read(&c, DATA);
            CHECK(occ_add(&c, WRITERS, 0) == 0, "writer entered while reading");
            occ_add(&c, READERS, -1);
        }
        CHECK(mill__lock_release(l) == 0, "release: %s", mill__lock_errmsg(l));
    }
    int top = 0;
    MPI_OK(MPI_Allreduce(&writes, &all_writes, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD));
    MPI_OK(MPI_Allreduce(&max_readers, &top, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (rank == 0) {
        int64_t got = counters_read(&c, DATA);
        CHECK(got == all_writes, "data %" PRId64 ", want %ld writes", got, all_writes);
        printf("shared: %d ranks, %ld writes, at most %d readers inside at once in the mix\n",
               size, all_writes, top);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    CHECK(mill__lock_free(&l) == 0, "free");
    counters_close(&c);
}

static void test_fifo(void) {
    CHECK(size >= 3, "fifo needs at least 3 ranks");
    if (size < 3) return;
    counters c;
    counters_open(&c, 1);
    mill__lock *l = NULL;
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, 0) == 0, "create");
    for (int round = 0; round < 3; round++) {
        int64_t pos = -1;
        uint64_t tok = 0;
        /* The enqueue order: a rotation of ranks 1..size-1. */
        int order_of_me = -1;
        if (rank == 0) {
            CHECK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, &tok) == 0, "hold");
            pos = counters_bump(&c, 0);
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        for (int k = 0; k < size - 1; k++) {
            int who = 1 + (k + round) % (size - 1);
            if (rank == 0) {
                int go = k;
                MPI_OK(MPI_Send(&go, 1, MPI_INT, who, 7, MPI_COMM_WORLD));
                /* Wait until `who` is the queue's tail, i.e. has enqueued. */
                mill__lock_info info = {0};
                double t0 = now_s();
                do {
                    CHECK(mill__lock_inspect(l, &info) == 0, "inspect");
                    mill__lock_progress(l);
                } while (info.tail != who && now_s() - t0 < 20);
                CHECK(info.tail == who, "rank %d never enqueued (tail %d)", who, info.tail);
            } else if (rank == who) {
                int go = 0;
                MPI_OK(MPI_Recv(&go, 1, MPI_INT, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                order_of_me = go;
                int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 30000, &tok);
                CHECK(rc == 0, "acquire: %s", mill__lock_errmsg(l));
                pos = counters_bump(&c, 0);
            }
        }
        int64_t base = 0;
        if (rank == 0) base = pos;
        CHECK(mill__lock_release(l) == 0, "release: %s", mill__lock_errmsg(l));
        MPI_OK(MPI_Bcast(&base, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
        if (rank != 0) {
            CHECK(pos == base + 1 + order_of_me,
                  "round %d: enqueued %d-th but granted %" PRId64 "-th", round, order_of_me + 1,
                  pos - base);
        }
        /* Tokens follow the grant order too. */
        uint64_t *toks = rank == 0 ? calloc((size_t)size, sizeof *toks) : NULL;
        MPI_OK(MPI_Gather(&tok, 1, MPI_UINT64_T, toks, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
        if (rank == 0) {
            for (int k = 0; k < size - 1; k++) {
                int who = 1 + (k + round) % (size - 1);
                CHECK(toks[who] == toks[0] + 1 + (uint64_t)k, "token of rank %d: %" PRIu64
                      ", holder had %" PRIu64, who, toks[who], toks[0]);
            }
            free(toks);
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    if (rank == 0 && failures == 0) printf("fifo: %d waiters granted in arrival order, 3 rounds\n", size - 1);
    CHECK(mill__lock_free(&l) == 0, "free");
    counters_close(&c);
}

/* The home rank computes compute_ms without MPI calls other than the lock's
 * progress call. Without progress (on transports that need it) every
 * acquire elsewhere waits out the whole computation; with it none may take
 * half of it. The 1 ms goal is measured by bench/lock, not asserted here:
 * a loaded 2-core machine preempts ranks for tens of ms. */
static void test_progress(double compute_ms) {
    double max_ms = compute_ms / 2;
    mill__lock *l = NULL;
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, 0) == 0, "create");
    /* Warm up the connections. */
    CHECK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, NULL) == 0, "warm-up");
    CHECK(mill__lock_release(l) == 0, "warm-up release");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    double worst = 0;
    long n = 0;
    if (rank == 0) {
        /* Compute without MPI, calling progress every ~0.2 ms as the
         * runtime does between records. */
        volatile double x = 1;
        double t0 = now_s(), tp = t0;
        while (now_s() - t0 < compute_ms / 1e3) {
            for (int i = 0; i < 1000; i++) x = x * 1.0000001 + 1e-9;
            double t = now_s();
            if (t - tp > 0.0002) {
                CHECK(mill__lock_progress(l) == 0, "progress");
                tp = t;
            }
        }
    } else {
        double t0 = now_s();
        while (now_s() - t0 < compute_ms / 1e3) {
            double a = now_s();
            int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, NULL);
            CHECK(rc == 0, "acquire: %s", mill__lock_errmsg(l));
            if (rc < 0) break;
            CHECK(mill__lock_release(l) == 0, "release");
            double d = (now_s() - a) * 1e3;
            if (d > worst) worst = d;
            n++;
        }
        CHECK(worst <= max_ms, "an acquire+release took %.2f ms (limit %.1f ms)", worst, max_ms);
        CHECK(n > 10, "only %ld acquisitions in %.0f ms", n, compute_ms);
    }
    double top = 0;
    MPI_OK(MPI_Reduce(&worst, &top, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD));
    if (rank == 0) printf("progress: worst acquire+release while home computes: %.3f ms\n", top);
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    CHECK(mill__lock_free(&l) == 0, "free");
}

/* mill__wait's hook: the lock's progress, as the engine passes its set's. */
static void progress_hook(void *l) { (void)mill__lock_progress(l); }

/* A barrier waited for with mill__wait, as the engine's agreements are. */
static void hooked_barrier(void) {
    MPI_Request req;
    MPI_OK(MPI_Ibarrier(MPI_COMM_WORLD, &req));
    MPI_OK(mill__wait(&req));
}

static void test_timeout(void) {
    mill__lock *l = NULL;
    mill__lock_set *s = NULL;
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, 0) == 0, "create");
    CHECK(mill__lock_set_create(&s, MPI_COMM_WORLD, 8) == 0, "set create");
    const int holder = size - 1;
    for (int mode = 0; mode < 2; mode++) { /* holder exclusive, then shared */
        if (rank == holder)
            CHECK(mill__lock_acquire(l, mode ? MILL_LOCK_SHARED : MILL_LOCK_EXCLUSIVE, 1000, NULL) == 0,
                  "hold");
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        if (rank == 0) {
            double t0 = now_s();
            int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 100, NULL);
            double ms = (now_s() - t0) * 1e3;
            char want[32];
            snprintf(want, sizeof want, "rank %d", holder);
            CHECK(rc == MILL_ETIMEOUT, "acquire returned %d", rc);
            CHECK(strstr(mill__lock_errmsg(l), want) != NULL, "message does not name %s: %s", want,
                  mill__lock_errmsg(l));
            CHECK(ms >= 99 && ms < 2000, "timed out after %.1f ms", ms);
            printf("timeout (%s holder): %s\n", mode ? "shared" : "exclusive", mill__lock_errmsg(l));
            int got = -1;
            CHECK(mill__lock_try_acquire(l, MILL_LOCK_EXCLUSIVE, &got, NULL) == 0 && got == 0,
                  "try-acquire got a held lock");
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        if (rank == holder) CHECK(mill__lock_release(l) == 0, "release: %s", mill__lock_errmsg(l));
        /* The timed-out waiter recovers: its abandoned queue entry is passed on. */
        if (rank == 0) {
            int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, NULL);
            CHECK(rc == 0, "acquire after timeout: %s", mill__lock_errmsg(l));
            CHECK(mill__lock_release(l) == 0, "release after timeout");
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    /* Deeper queue (3+ ranks): the message names the holder, not only the
     * rank queued just ahead. */
    if (size >= 3) {
        if (rank == holder) CHECK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 1000, NULL) == 0, "hold");
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
        if (rank == 1) {
            int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 20000, NULL);
            CHECK(rc == 0, "middle waiter: %s", mill__lock_errmsg(l));
            CHECK(mill__lock_release(l) == 0, "middle release");
        } else if (rank == 0) {
            mill__lock_info info = {0};
            double t0 = now_s();
            do { /* until rank 1 is queued and has linked itself behind the holder */
                CHECK(mill__lock_inspect(l, &info) == 0, "inspect");
            } while ((info.tail != 1 || info.holder != holder) && now_s() - t0 < 10);
            CHECK(info.holder == holder, "inspect: holder %d, want %d", info.holder, holder);
            int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 100, NULL);
            char want[64];
            snprintf(want, sizeof want, "held by rank %d (this rank queued behind rank 1)", holder);
            CHECK(rc == MILL_ETIMEOUT && strstr(mill__lock_errmsg(l), want), "rc %d, message: %s", rc,
                  mill__lock_errmsg(l));
            printf("timeout (queue of 2): %s\n", mill__lock_errmsg(l));
            int go = 1;
            MPI_OK(MPI_Send(&go, 1, MPI_INT, holder, 9, MPI_COMM_WORLD));
        }
        if (rank == holder) {
            int go = 0;
            MPI_OK(MPI_Recv(&go, 1, MPI_INT, 0, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            CHECK(mill__lock_release(l) == 0, "release");
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    /* A waiter that gave up and then waits in a collective (mill__wait, as
     * the engine's agreements do, with the engine's hook) still passes its
     * abandoned queue entry on: the rank queued behind it gets the lock
     * once the holder releases, instead of waiting out its own timeout. */
    if (size >= 3) {
        mill__wait_hook(progress_hook, l);
        /* Rank 0's entry from the queue of 2 above is abandoned too: the
         * holder gets the lock only once rank 0 passes it on, here in the
         * wait for the barrier. */
        if (rank == holder) CHECK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 10000, NULL) == 0, "hold");
        hooked_barrier();
        mill__lock_info info = {0};
        if (rank == 0) {
            CHECK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 300, NULL) == MILL_ETIMEOUT, "first waiter");
            int go = 1;
            MPI_OK(MPI_Send(&go, 1, MPI_INT, holder, 10, MPI_COMM_WORLD));
        } else if (rank == 1) {
            double t0 = now_s();
            do { /* until rank 0 is queued: then this rank queues behind it */
                CHECK(mill__lock_inspect(l, &info) == 0, "inspect");
            } while (info.tail != 0 && now_s() - t0 < 10);
            int rc = mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 20000, NULL);
            CHECK(rc == 0, "queued behind an abandoned entry: %s", mill__lock_errmsg(l));
            if (rc == 0) CHECK(mill__lock_release(l) == 0, "release");
        } else if (rank == holder) {
            int go = 0;
            MPI_OK(MPI_Recv(&go, 1, MPI_INT, 0, 10, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            CHECK(mill__lock_release(l) == 0, "release");
        }
        hooked_barrier();
        mill__wait_hook(NULL, NULL);
        if (rank == 0) printf("timeout: an abandoned entry is passed on while its rank waits in a collective\n");
    }
    /* A named lock's message names the lock and the holder. */
    if (rank == holder) CHECK(mill__lock_named_acquire(s, "orders/2024", MILL_LOCK_EXCLUSIVE, 1000, NULL) == 0, "hold named");
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == 0) {
        int rc = mill__lock_named_acquire(s, "orders/2024", MILL_LOCK_EXCLUSIVE, 50, NULL);
        char want[32];
        snprintf(want, sizeof want, "held by rank %d", holder);
        CHECK(rc == MILL_ETIMEOUT && strstr(mill__lock_set_errmsg(s), want) &&
                  strstr(mill__lock_set_errmsg(s), "orders/2024"),
              "rc %d, message: %s", rc, mill__lock_set_errmsg(s));
        printf("timeout (named): %s\n", mill__lock_set_errmsg(s));
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    if (rank == holder) CHECK(mill__lock_named_release(s, "orders/2024") == 0, "release named");
    /* Free reaps the abandoned entry collectively. */
    CHECK(mill__lock_set_free(&s) == 0, "set free: %s", s ? mill__lock_set_errmsg(s) : "");
    CHECK(mill__lock_free(&l) == 0, "free");
}

static void test_misuse(void) {
    mill__lock *l = NULL;
    mill__lock_set *s = NULL;
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, size) == MILL_EINVAL, "home out of range");
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, -1) == MILL_EINVAL, "home negative");
    CHECK(mill__lock_set_create(&s, MPI_COMM_WORLD, 0) == MILL_EINVAL, "zero slots");
    CHECK(mill__lock_create(&l, MPI_COMM_WORLD, 0) == 0, "create");
    CHECK(mill__lock_set_create(&s, MPI_COMM_WORLD, 1) == 0, "set create");

    CHECK(mill__lock_release(l) == MILL_ESTATE, "release without holding");
    CHECK(strstr(mill__lock_errmsg(l), "does not hold") != NULL, "message: %s", mill__lock_errmsg(l));
    CHECK(mill__lock_acquire(l, (mill__lock_mode)7, 100, NULL) == MILL_EINVAL, "bad mode");
    CHECK(mill__lock_named_acquire(s, NULL, MILL_LOCK_EXCLUSIVE, 100, NULL) == MILL_EINVAL, "NULL name");
    CHECK(mill__lock_named_acquire(s, "", MILL_LOCK_EXCLUSIVE, 100, NULL) == MILL_EINVAL, "empty name");
    CHECK(mill__lock_named_release(s, "never") == MILL_ESTATE, "named release without holding");
    uint64_t ord = 0;
    CHECK(mill__lock_named_order(s, NULL, &ord) == MILL_EINVAL, "order of NULL");

    /* Re-acquire by the holder, in either mode, is an error, not a deadlock. */
    for (int m = 0; m < 2; m++) {
        mill__lock_mode mode = m ? MILL_LOCK_SHARED : MILL_LOCK_EXCLUSIVE;
        if (rank == 0) {
            int got = 0;
            CHECK(mill__lock_acquire(l, mode, 1000, NULL) == 0, "acquire");
            CHECK(mill__lock_acquire(l, mode, 1000, NULL) == MILL_ESTATE, "re-acquire");
            CHECK(mill__lock_try_acquire(l, MILL_LOCK_EXCLUSIVE, &got, NULL) == MILL_ESTATE, "re-try");
            CHECK(mill__lock_release(l) == 0, "release");
            CHECK(mill__lock_release(l) == MILL_ESTATE, "double release");
        }
        MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    }
    /* Free while held fails on every rank, and frees nothing. */
    if (rank == 0) CHECK(mill__lock_acquire(l, MILL_LOCK_EXCLUSIVE, 1000, NULL) == 0, "acquire");
    CHECK(mill__lock_free(&l) == MILL_ESTATE && l != NULL, "free while held");
    if (rank == 0) CHECK(strstr(mill__lock_errmsg(l), "while holding") != NULL, "message: %s", mill__lock_errmsg(l));
    if (rank == 0) CHECK(mill__lock_release(l) == 0, "release");
    CHECK(mill__lock_free(&l) == 0 && l == NULL, "free");

    /* Slot collisions (one slot per rank): names on one slot share the lock,
     * tokens still grow, and a shared-to-exclusive collision is refused. */
    if (rank == 0) {
        char a[16], b[16];
        int found = 0;
        mill__lock_info ia, ib;
        for (int i = 0; i < 1000 && !found; i++) {
            snprintf(a, sizeof a, "a%d", i);
            for (int j = 0; j < 1000 && !found; j++) {
                snprintf(b, sizeof b, "b%d", j);
                if (mill__lock_named_inspect(s, a, &ia) == 0 && mill__lock_named_inspect(s, b, &ib) == 0 &&
                    ia.home == ib.home && ia.slot == ib.slot)
                    found = 1;
            }
        }
        CHECK(found, "no colliding names");
        uint64_t t1 = 0, t2 = 0;
        CHECK(mill__lock_named_acquire(s, a, MILL_LOCK_EXCLUSIVE, 1000, &t1) == 0, "a");
        CHECK(mill__lock_named_acquire(s, b, MILL_LOCK_EXCLUSIVE, 1000, &t2) == 0, "b on a's slot: %s",
              mill__lock_set_errmsg(s));
        CHECK(t2 > t1, "tokens %" PRIu64 " then %" PRIu64, t1, t2);
        CHECK(mill__lock_named_acquire(s, a, MILL_LOCK_EXCLUSIVE, 1000, NULL) == MILL_ESTATE, "re-acquire a");
        CHECK(mill__lock_named_release(s, a) == 0, "release a");
        CHECK(mill__lock_named_release(s, b) == 0, "release b");
        CHECK(mill__lock_named_acquire(s, a, MILL_LOCK_SHARED, 1000, NULL) == 0, "a shared");
        CHECK(mill__lock_named_acquire(s, b, MILL_LOCK_EXCLUSIVE, 1000, NULL) == MILL_ESTATE,
              "b exclusive on a shared slot");
        CHECK(mill__lock_named_acquire(s, b, MILL_LOCK_SHARED, 1000, NULL) == 0, "b shared");
        CHECK(mill__lock_named_release(s, b) == 0 && mill__lock_named_release(s, a) == 0, "release");
        CHECK(mill__lock_named_inspect(s, a, &ia) == 0 && ia.readers == 0, "readers left: %d", ia.readers);
    }
    MPI_OK(MPI_Barrier(MPI_COMM_WORLD));
    CHECK(mill__lock_set_free(&s) == 0, "set free");
    CHECK(mill__lock_free(&l) == 0, "free NULL");
    if (rank == 0 && failures == 0) printf("misuse: all error paths behave\n");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    const char *what = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    if (strcmp(what, "mutex") == 0)
        test_mutex(n, argc > 3 ? argv[3] : ".");
    else if (strcmp(what, "named") == 0)
        test_named(n);
    else if (strcmp(what, "shared") == 0)
        test_shared(n);
    else if (strcmp(what, "fifo") == 0)
        test_fifo();
    else if (strcmp(what, "progress") == 0)
        test_progress(argc > 2 ? atof(argv[2]) : 1000.0);
    else if (strcmp(what, "timeout") == 0)
        test_timeout();
    else if (strcmp(what, "misuse") == 0)
        test_misuse();
    else {
        if (rank == 0) fprintf(stderr, "usage: test_lock mutex|named|shared|fifo|progress|timeout|misuse [n]\n");
        failures++;
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%s: %s (%d failed checks)\n", what, total ? "FAIL" : "ok", total);
    MPI_Finalize();
    return total ? 1 : 0;
}
