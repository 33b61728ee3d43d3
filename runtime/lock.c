/* lock.c -- distributed MCS queue locks on MPI-3 passive-target RMA.
 *
 * One window per lock set holds, on every rank, `slots` lock slots (the
 * home side of locks hashed to this rank) and a small pool of MCS queue
 * nodes (this rank's side as a waiter). The window is locked with
 * MPI_Win_lock_all for its whole life; every remote operation is completed
 * with MPI_Win_flush before its result is used. Only 32-bit atomics are used
 * (64-bit MPI_Compare_and_swap crashes Open MPI's default path: ompi#7967).
 * Waiters spin on their own node (MPI_Fetch_and_op on their own window, a
 * local operation) and call MPI_Iprobe in every wait loop, because Open MPI
 * 4.1 has no asynchronous progress.
 * See docs/lock.md for the protocol, its invariants and measured figures.
 */
#include "lock.h"

#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agree.h"
#include "fault.h"
#include "mpimill/job.h"
#include "partition.h"

/* ---- window layout (in 32-bit words; the window's disp_unit is 4) ------
 *
 * [0, slots*SLOT_WORDS)              home slots, SLOT_WORDS each (one cache line)
 * [slots*SLOT_WORDS, +NODES*NODE_WORDS)  this rank's MCS nodes, NODE_WORDS each
 */
#define SLOT_WORDS 16
#define W_TAIL 0    /* MPI_INT. The MCS queue tail: TAIL_NIL, TAIL_RFREE or the id of the
                     * last enqueued node. Changed only by MPI_Compare_and_swap (a swap is
                     * a CAS loop, lock__swap: mixing ops on one word is not atomic in
                     * osc rdma). Invariant: when it is TAIL_NIL, or when a
                     * writer hands the queue on, W_READERS is 0 (the last owner of the
                     * queue was a writer, which waited for readers to drain, and no
                     * reader can enter without owning the queue). */
#define W_READERS 1 /* MPI_INT. Readers inside. Incremented by a reader while it owns
                     * the queue (flushed before it passes the queue on), decremented
                     * at any time by a reader's release. Never negative. */
#define W_HOLDER 2  /* MPI_INT. 1 + rank of the last reader that entered (0: none yet).
                     * Diagnostic only (timeout messages); writers do not post it, which
                     * would cost the uncontended path a third remote operation. */
#define W_TOK_LO 3  /* MPI_UINT32_T. Fencing token, low half. */
#define W_TOK_HI 4  /* MPI_UINT32_T. Fencing token, high half. Both halves are changed
                     * only by the exclusive holder (so the 64-bit value is never torn
                     * for the only rank that may change it), hence only grow. */

#define NODES (2 * MILL_LOCK_MAX_HELD) /* queue nodes per rank: held + abandoned */
#define NODE_WORDS 16
#define N_NEXT 0  /* MPI_INT. Id of the successor, 0 until the successor links itself.
                   * Written once per use by the successor, reset by the owner before
                   * it enqueues the node. */
#define N_GRANT 1 /* MPI_INT. 0 while waiting; GRANT_CLEAN or GRANT_DIRTY once the
                   * predecessor hands the queue over (or, stored locally, once the
                   * swap found the queue free). Written once per use by the
                   * predecessor, reset by the owner before it enqueues the node and
                   * after it released it. Nonzero exactly while the node heads the
                   * queue, so timeout messages can find the holder. */
#define N_PRED 2  /* MPI_INT. Diagnostic: the predecessor's id (0: none), stored
                   * locally after the swap; followed to name the holder. */

#define TAIL_NIL 0          /* free, and no reader inside (see W_TAIL) */
#define TAIL_RFREE INT_MAX  /* free, but readers may be inside */
#define GRANT_CLEAN 1       /* handed over by a writer: no reader inside */
#define GRANT_DIRTY 2       /* handed over by a reader: readers may be inside */

/* Node ids: 1 + rank * NODES + index, so 0 and INT_MAX are never ids. */
#define NODE_ID(rank, idx) ((int32_t)((rank) * NODES + (idx) + 1))
#define ID_RANK(id) (((id) - 1) / NODES)
#define ID_INDEX(id) (((id) - 1) % NODES)

enum { NODE_FREE = 0, NODE_BUSY, NODE_ABANDONED };

/* A local queue node. Invariant: a node is NODE_BUSY from the moment it is
 * enqueued until its MCS release completed, NODE_ABANDONED when its waiter
 * timed out (it is still in the remote queue and will be released by
 * lock__reap() as soon as it is granted), NODE_FREE otherwise. */
typedef struct lock__node {
    int state;
    int home, slot; /* the queue it sits in, when not free */
} lock__node;

/* A (home, slot) this rank holds. Several names may share one through a slot
 * collision; refs counts them and the remote lock is released with the last. */
typedef struct lock__hold {
    int used;
    int home, slot;
    mill__lock_mode mode;
    int node; /* exclusive: the node at the head of the queue; shared: -1 */
    int refs;
} lock__hold;

/* A name this rank holds (name NULL: the single lock of a mill__lock). */
typedef struct lock__name {
    int used;
    char *name;
    int hold;
} lock__name;

struct mill__lock_set {
    MPI_Comm comm; /* private duplicate; MPI_Iprobe on it never matches */
    MPI_Win win;
    int32_t *base; /* this rank's window memory */
    int rank, size, slots;
    mill_partition *part;
    int nabandoned; /* number of NODE_ABANDONED nodes */
    int (*stop)(void); /* mill__lock_set_stop: nonzero once a waiter must give up */
    lock__node nodes[NODES];
    lock__hold holds[MILL_LOCK_MAX_HELD];
    lock__name names[MILL_LOCK_MAX_HELD];
    char msg[512];
};

struct mill__lock {
    mill__lock_set *set;
    int home;
};

/* ---- errors ------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int lock__fail(mill__lock_set *s, int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    return err;
}

/* An MPI call of the queue protocol failed. The queue may be left
 * half-changed -- a waiter enqueued but never linked, a grant never
 * delivered -- while peers spin on it with no deadline (a releasing holder
 * waits for its successor's link), and Open MPI 4.1 cannot repair a
 * communicator (no ULFM). So it ends the job, after one line naming the
 * call and the rank (mill__abort). */
__attribute__((noreturn)) static void lock__mpi_fail(mill__lock_set *s, const char *what, int rc) {
    char e[MPI_MAX_ERROR_STRING], why[MPI_MAX_ERROR_STRING + 128];
    int n = 0;
    if (MPI_Error_string(rc, e, &n) != MPI_SUCCESS) snprintf(e, sizeof e, "MPI error %d", rc);
    snprintf(why, sizeof why, "lock: %s failed: %s", what, e);
    mill__abort(s->comm, why);
}

/* Checks an MPI return code of the queue protocol: a failure ends the job. */
#define LOCK__MPI(s, call)                                    \
    do {                                                      \
        int rc_ = (call);                                     \
        if (rc_ != MPI_SUCCESS) lock__mpi_fail((s), #call, rc_); \
    } while (0)

#define LOCK__TRY(call)              \
    do {                             \
        int e_ = (call);             \
        if (e_ < 0) return e_;       \
    } while (0)

/* ---- time -------------------------------------------------------------- */

static int64_t lock__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t lock__deadline(int timeout_ms) {
    if (timeout_ms < 0) return INT64_MAX;
    return lock__now_ns() + (int64_t)timeout_ms * 1000000;
}

/* ---- window access ----------------------------------------------------- */

static MPI_Aint lock__slot_disp(int slot, int word) {
    return (MPI_Aint)slot * SLOT_WORDS + word;
}

static MPI_Aint lock__node_disp(const mill__lock_set *s, int idx, int word) {
    return (MPI_Aint)s->slots * SLOT_WORDS + (MPI_Aint)idx * NODE_WORDS + word;
}

/* Atomically applies op with value to the int at (target, disp), stores the
 * previous value in *old and completes the operation. */
static int lock__fetch(mill__lock_set *s, int target, MPI_Aint disp, int32_t value, MPI_Op op,
                       int32_t *old) {
    int v = value, o = 0;
    LOCK__MPI(s, MPI_Fetch_and_op(&v, &o, MPI_INT, target, disp, op, s->win));
    LOCK__MPI(s, MPI_Win_flush(target, s->win));
    *old = o;
    return 0;
}

/* Atomically replaces the int at (target, disp) with value when it equals
 * compare; stores the previous value in *old and completes the operation. */
static int lock__cas(mill__lock_set *s, int target, MPI_Aint disp, int32_t compare, int32_t value,
                     int32_t *old) {
    int v = value, c = compare, o = 0;
    LOCK__MPI(s, MPI_Compare_and_swap(&v, &c, &o, MPI_INT, target, disp, s->win));
    LOCK__MPI(s, MPI_Win_flush(target, s->win));
    *old = o;
    return 0;
}

/* Atomically replaces the tail word at (target, disp) with value and stores
 * the previous value in *old, by compare-and-swap only. Open MPI's osc rdma
 * may run MPI_Fetch_and_op(REPLACE) under its accumulate lock with a get and
 * a put while MPI_Compare_and_swap uses the transport's atomics, so the two
 * are not atomic with respect to each other on one word (a release's CAS
 * slipped between an acquire's get and put: two holders, seen in CI). Every
 * change of a tail word is therefore a CAS. The first guess is "free", so
 * an uncontended acquire still costs one round trip. */
static int lock__swap(mill__lock_set *s, int target, MPI_Aint disp, int32_t value, int32_t *old) {
    int32_t guess = TAIL_NIL, seen = 0;
    for (;;) {
        LOCK__TRY(lock__cas(s, target, disp, guess, value, &seen));
        if (seen == guess) break;
        guess = seen;
    }
    *old = seen;
    return 0;
}

/* Atomically applies op with value to the int at (target, disp) and
 * completes the operation. */
static int lock__update(mill__lock_set *s, int target, MPI_Aint disp, int32_t value, MPI_Op op) {
    int v = value;
    LOCK__MPI(s, MPI_Accumulate(&v, 1, MPI_INT, target, disp, 1, MPI_INT, op, s->win));
    LOCK__MPI(s, MPI_Win_flush(target, s->win));
    return 0;
}

/* Reads a word of this rank's own window memory (a queue node word that
 * other ranks update with accumulates). Through MPI, not a load: Open MPI's
 * osc rdma over shared memory does not keep plain loads and stores of
 * window memory (even with MPI_Win_sync, in the unified model) coherent
 * with its own accumulates -- a test of 4 ranks under load saw two holders
 * in 8 runs of 45 with loads and stores, none of 45 without. */
static int lock__load(mill__lock_set *s, MPI_Aint disp, int32_t *out) {
    return lock__fetch(s, s->rank, disp, 0, MPI_NO_OP, out);
}

/* Writes a word of this rank's own window memory, through MPI likewise.
 * Only used while no other rank may write that word. */
static int lock__store(mill__lock_set *s, MPI_Aint disp, int32_t value) {
    return lock__update(s, s->rank, disp, value, MPI_REPLACE);
}

/* Makes free node idx this rank's node in the queue of (home, slot), not
 * yet enqueued: one accumulate resets its N_NEXT, N_GRANT (already 0) and
 * N_PRED words. */
static int lock__node_claim(mill__lock_set *s, int idx, int home, int slot) {
    int zero[3] = {0, 0, 0};
    LOCK__MPI(s, MPI_Accumulate(zero, 3, MPI_INT, s->rank, lock__node_disp(s, idx, N_NEXT), 3, MPI_INT,
                                MPI_REPLACE, s->win));
    LOCK__MPI(s, MPI_Win_flush(s->rank, s->win));
    s->nodes[idx] = (lock__node){NODE_BUSY, home, slot};
    return 0;
}

/* Drives MPI progress once: one MPI_Iprobe on the private communicator, on
 * which nothing is ever sent. */
static int lock__poke(mill__lock_set *s) {
    int flag = 0;
    LOCK__MPI(s, MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, s->comm, &flag, MPI_STATUS_IGNORE));
    return 0;
}

/* ---- MCS queue --------------------------------------------------------- */

static int lock__node_alloc(mill__lock_set *s) {
    for (int i = 0; i < NODES; i++)
        if (s->nodes[i].state == NODE_FREE) return i;
    return -1;
}

/* Releases the queue of (home, slot) held by node idx: swings the tail back
 * to free when no successor enqueued, else waits for the successor to link
 * itself and hands the queue over. dirty says readers may be inside. The
 * node is free afterwards. */
static int lock__mcs_release(mill__lock_set *s, int home, int slot, int idx, int dirty) {
    int32_t me = NODE_ID(s->rank, idx), old = 0, next = 0;
    LOCK__TRY(lock__cas(s, home, lock__slot_disp(slot, W_TAIL), me,
                        dirty ? TAIL_RFREE : TAIL_NIL, &old));
    if (old != me) {
        /* A successor swapped the tail; its link follows its swap at once. */
        for (;;) {
            LOCK__TRY(lock__load(s, lock__node_disp(s, idx, N_NEXT), &next));
            if (next != 0) break;
            LOCK__TRY(lock__poke(s));
        }
        LOCK__TRY(lock__update(s, ID_RANK(next), lock__node_disp(s, ID_INDEX(next), N_GRANT),
                               dirty ? GRANT_DIRTY : GRANT_CLEAN, MPI_REPLACE));
    }
    LOCK__TRY(lock__store(s, lock__node_disp(s, idx, N_GRANT), 0));
    s->nodes[idx].state = NODE_FREE;
    return 0;
}

/* Releases every abandoned node that has been granted meanwhile, so a
 * waiter that timed out never blocks the queue behind it for longer than
 * its next call into this file. */
static int lock__reap(mill__lock_set *s) {
    if (s->nabandoned == 0) return 0;
    for (int i = 0; i < NODES; i++) {
        if (s->nodes[i].state != NODE_ABANDONED) continue;
        int32_t g = 0;
        LOCK__TRY(lock__load(s, lock__node_disp(s, i, N_GRANT), &g));
        if (g == 0) continue;
        s->nodes[i].state = NODE_BUSY;
        s->nabandoned--;
        /* It never entered: pass the queue on as if readers might be inside,
         * which is always safe (the next writer checks W_READERS). */
        LOCK__TRY(lock__mcs_release(s, s->nodes[i].home, s->nodes[i].slot, i, 1));
    }
    return 0;
}

/* Formats "rank R" for a W_HOLDER or tail value, into buf. */
static const char *lock__who(char *buf, size_t n, int rank) {
    if (rank < 0)
        snprintf(buf, n, "an unknown rank");
    else
        snprintf(buf, n, "rank %d", rank);
    return buf;
}

static const char *lock__label(char *buf, size_t n, const char *name, int home, int slot) {
    if (name)
        snprintf(buf, n, "lock '%s' (home rank %d, slot %d)", name, home, slot);
    else
        snprintf(buf, n, "lock (home rank %d)", home);
    return buf;
}

/* Reads the last reader that entered (home, slot): a rank, or -1. */
static int lock__last_reader(mill__lock_set *s, int home, int slot, int *rank) {
    int32_t h = 0;
    LOCK__TRY(lock__fetch(s, home, lock__slot_disp(slot, W_HOLDER), 0, MPI_NO_OP, &h));
    *rank = h > 0 ? h - 1 : -1;
    return 0;
}

/* Finds the rank at the head of the queue that ends with node id `from`, by
 * following N_PRED links back to a node whose N_GRANT is set. The queue
 * moves meanwhile, so this is the last known holder; -1 when not found --
 * also when the walk meets a node with neither a grant nor a predecessor
 * yet: it has just swapped itself in, and is not known to hold the lock. */
static int lock__find_holder(mill__lock_set *s, int32_t from, int *rank) {
    int32_t id = from;
    *rank = -1;
    for (int steps = 0; steps <= s->size * NODES; steps++) {
        int32_t g = 0, p = 0;
        if (id <= 0 || id == TAIL_RFREE || ID_RANK(id) >= s->size) return 0;
        int r = ID_RANK(id);
        MPI_Aint d = lock__node_disp(s, ID_INDEX(id), 0);
        LOCK__TRY(lock__fetch(s, r, d + N_GRANT, 0, MPI_NO_OP, &g));
        LOCK__TRY(lock__fetch(s, r, d + N_PRED, 0, MPI_NO_OP, &p));
        if (g != 0) {
            *rank = r;
            return 0;
        }
        if (p == 0) return 0;
        id = p;
    }
    return 0;
}

/* Returns why a waiter gives up, with the reason in why (n bytes):
 * MILL_EABORT once the set's stop hook says the job is stopping,
 * MILL_ETIMEOUT once the deadline has passed; else 0. */
static int lock__give_up(const mill__lock_set *s, int64_t deadline, int timeout_ms, char *why, size_t n) {
    if (s->stop && s->stop()) {
        snprintf(why, n, "stopped waiting, as the job is stopping");
        return MILL_EABORT;
    }
    if (lock__now_ns() <= deadline) return 0;
    snprintf(why, n, "timed out after %d ms", timeout_ms);
    return MILL_ETIMEOUT;
}

/* Enqueues node idx on (home, slot) and waits until it heads the queue;
 * *grant receives GRANT_CLEAN or GRANT_DIRTY. When the waiter gives up
 * (lock__give_up) the node is abandoned (lock__reap releases it later) and
 * MILL_ETIMEOUT or MILL_EABORT is returned with a message naming the holder. */
static int lock__mcs_acquire(mill__lock_set *s, const char *name, int home, int slot, int idx,
                             int timeout_ms, int64_t deadline, int *grant) {
    int32_t me = NODE_ID(s->rank, idx), prev = 0, g = 0;
    LOCK__TRY(lock__node_claim(s, idx, home, slot));
    LOCK__TRY(lock__swap(s, home, lock__slot_disp(slot, W_TAIL), me, &prev));
    if (prev == TAIL_NIL || prev == TAIL_RFREE) {
        *grant = prev == TAIL_NIL ? GRANT_CLEAN : GRANT_DIRTY;
        return lock__store(s, lock__node_disp(s, idx, N_GRANT), *grant);
    }
    LOCK__TRY(lock__store(s, lock__node_disp(s, idx, N_PRED), prev));
    LOCK__TRY(lock__update(s, ID_RANK(prev), lock__node_disp(s, ID_INDEX(prev), N_NEXT), me,
                           MPI_REPLACE));
    for (unsigned spins = 1;; spins++) {
        LOCK__TRY(lock__load(s, lock__node_disp(s, idx, N_GRANT), &g));
        if (g != 0) break;
        LOCK__TRY(lock__poke(s));
        LOCK__TRY(lock__reap(s));
        if ((spins & 63) == 0) {
            char why[64];
            int rc = lock__give_up(s, deadline, timeout_ms, why, sizeof why);
            if (rc) {
                int holder = -1;
                char lb[320], hb[32], pb[32];
                s->nodes[idx].state = NODE_ABANDONED;
                s->nabandoned++;
                LOCK__TRY(lock__find_holder(s, prev, &holder));
                return lock__fail(s, rc, "%s: rank %d %s; held by %s (this rank queued behind %s)",
                                  lock__label(lb, sizeof lb, name, home, slot), s->rank, why,
                                  lock__who(hb, sizeof hb, holder), lock__who(pb, sizeof pb, ID_RANK(prev)));
            }
            sched_yield(); /* oversubscribed ranks: let the holder run */
        }
    }
    *grant = g;
    return 0;
}

/* Waits, as the queue head of (home, slot), until no reader is inside, or
 * gives up (lock__give_up). */
static int lock__drain(mill__lock_set *s, const char *name, int home, int slot, int timeout_ms,
                       int64_t deadline) {
    for (;;) {
        int32_t n = 0;
        LOCK__TRY(lock__fetch(s, home, lock__slot_disp(slot, W_READERS), 0, MPI_NO_OP, &n));
        if (n == 0) return 0;
        LOCK__TRY(lock__poke(s));
        LOCK__TRY(lock__reap(s));
        char why[64];
        int rc = lock__give_up(s, deadline, timeout_ms, why, sizeof why);
        if (rc) {
            int holder = -1;
            char lb[320], hb[32];
            LOCK__TRY(lock__last_reader(s, home, slot, &holder));
            return lock__fail(s, rc, "%s: rank %d %s; held in shared mode by %d reader(s), last known %s",
                              lock__label(lb, sizeof lb, name, home, slot), s->rank, why, (int)n,
                              lock__who(hb, sizeof hb, holder));
        }
        sched_yield();
    }
}

/* Takes the next fencing token of (home, slot); the caller holds it
 * exclusively, so no other rank changes the two halves meanwhile. */
static int lock__token(mill__lock_set *s, int home, int slot, uint64_t *token) {
    uint32_t one = 1, zero = 0, lo = 0, hi = 0;
    LOCK__MPI(s, MPI_Fetch_and_op(&one, &lo, MPI_UINT32_T, home,
                                  lock__slot_disp(slot, W_TOK_LO), MPI_SUM, s->win));
    LOCK__MPI(s, MPI_Fetch_and_op(&zero, &hi, MPI_UINT32_T, home,
                                  lock__slot_disp(slot, W_TOK_HI), MPI_NO_OP, s->win));
    LOCK__MPI(s, MPI_Win_flush(home, s->win));
    if (lo == UINT32_MAX) { /* the low half wrapped: carry */
        LOCK__MPI(s, MPI_Accumulate(&one, 1, MPI_UINT32_T, home,
                                    lock__slot_disp(slot, W_TOK_HI), 1, MPI_UINT32_T, MPI_SUM,
                                    s->win));
        LOCK__MPI(s, MPI_Win_flush(home, s->win));
        hi++;
    }
    *token = ((uint64_t)hi << 32) | (uint32_t)(lo + 1u);
    return 0;
}

/* Records this rank as the last reader in; completed by the next flush to
 * home (the reader's count increment), so it costs no round trip. */
static int lock__post_holder(mill__lock_set *s, int home, int slot) {
    int v = s->rank + 1;
    LOCK__MPI(s, MPI_Accumulate(&v, 1, MPI_INT, home, lock__slot_disp(slot, W_HOLDER), 1,
                                MPI_INT, MPI_REPLACE, s->win));
    return 0;
}

/* Tries to take the free queue of (home, slot) with node idx in one
 * compare-and-swap (two when readers may be inside). *grant is 0 when the
 * queue is busy (the node is then free again). */
static int lock__mcs_try(mill__lock_set *s, int home, int slot, int idx, int *grant) {
    int32_t me = NODE_ID(s->rank, idx), old = 0;
    MPI_Aint tail = lock__slot_disp(slot, W_TAIL);
    LOCK__TRY(lock__node_claim(s, idx, home, slot));
    *grant = 0;
    LOCK__TRY(lock__cas(s, home, tail, TAIL_NIL, me, &old));
    if (old == TAIL_NIL) {
        *grant = GRANT_CLEAN;
    } else if (old == TAIL_RFREE) {
        LOCK__TRY(lock__cas(s, home, tail, TAIL_RFREE, me, &old));
        if (old == TAIL_RFREE) *grant = GRANT_DIRTY;
    }
    if (*grant == 0) {
        s->nodes[idx].state = NODE_FREE;
        return 0;
    }
    return lock__store(s, lock__node_disp(s, idx, N_GRANT), *grant);
}

/* ---- holds ------------------------------------------------------------- */

static int lock__find_name(const mill__lock_set *s, const char *name) {
    for (int i = 0; i < MILL_LOCK_MAX_HELD; i++) {
        const lock__name *n = &s->names[i];
        if (!n->used) continue;
        if ((!name && !n->name) || (name && n->name && strcmp(name, n->name) == 0)) return i;
    }
    return -1;
}

static int lock__find_hold(const mill__lock_set *s, int home, int slot) {
    for (int i = 0; i < MILL_LOCK_MAX_HELD; i++)
        if (s->holds[i].used && s->holds[i].home == home && s->holds[i].slot == slot) return i;
    return -1;
}

static int lock__free_entry(const lock__hold *holds, const lock__name *names, int want_hold) {
    for (int i = 0; i < MILL_LOCK_MAX_HELD; i++)
        if (want_hold ? !holds[i].used : !names[i].used) return i;
    return -1;
}

/* Records that this rank holds name through hold h. */
static int lock__add_name(mill__lock_set *s, int ni, const char *name, int h) {
    char *copy = NULL;
    if (name && !(copy = strdup(name)))
        return lock__fail(s, MILL_ENOMEM, "lock: out of memory for name '%s'", name);
    s->names[ni] = (lock__name){1, copy, h};
    return 0;
}

/* The common acquire. try selects one attempt without waiting; *acquired
 * tells whether the lock was taken. */
static int lock__acquire(mill__lock_set *s, const char *name, int home, int slot,
                         mill__lock_mode mode, int timeout_ms, uint64_t *token, int try,
                         int *acquired) {
    char lb[320];
    *acquired = 0;
    if (mode != MILL_LOCK_EXCLUSIVE && mode != MILL_LOCK_SHARED)
        return lock__fail(s, MILL_EINVAL, "lock: invalid mode %d", (int)mode);
    LOCK__TRY(lock__reap(s));
    if (lock__find_name(s, name) >= 0)
        return lock__fail(s, MILL_ESTATE, "%s: rank %d already holds it",
                          lock__label(lb, sizeof lb, name, home, slot), s->rank);
    int ni = lock__free_entry(s->holds, s->names, 0);
    if (ni < 0)
        return lock__fail(s, MILL_ESTATE, "%s: rank %d already holds %d locks (the most)",
                          lock__label(lb, sizeof lb, name, home, slot), s->rank,
                          MILL_LOCK_MAX_HELD);
    int h = lock__find_hold(s, home, slot);
    if (h >= 0) { /* another held name shares the slot */
        if (s->holds[h].mode == MILL_LOCK_SHARED && mode == MILL_LOCK_EXCLUSIVE)
            return lock__fail(s, MILL_ESTATE,
                              "%s: rank %d holds another name on this slot in shared mode "
                              "and cannot upgrade it (of names with equal mill_lock_order, take "
                              "the exclusive ones first)",
                              lock__label(lb, sizeof lb, name, home, slot), s->rank);
        if (mode == MILL_LOCK_EXCLUSIVE && token) LOCK__TRY(lock__token(s, home, slot, token));
        LOCK__TRY(lock__add_name(s, ni, name, h));
        s->holds[h].refs++;
        *acquired = 1;
        return 0;
    }
    h = lock__free_entry(s->holds, s->names, 1);
    int idx = lock__node_alloc(s);
    if (h < 0 || idx < 0)
        return lock__fail(s, MILL_ESTATE, "%s: rank %d has no free queue node",
                          lock__label(lb, sizeof lb, name, home, slot), s->rank);
    int64_t deadline = lock__deadline(timeout_ms);
    int grant = 0;
    if (try) {
        LOCK__TRY(lock__mcs_try(s, home, slot, idx, &grant));
        if (!grant) return 0;
    } else {
        LOCK__TRY(lock__mcs_acquire(s, name, home, slot, idx, timeout_ms, deadline, &grant));
    }
    /* This rank heads the queue now. */
    if (mode == MILL_LOCK_EXCLUSIVE) {
        if (grant == GRANT_DIRTY) {
            if (try) {
                int32_t n = 0;
                LOCK__TRY(lock__fetch(s, home, lock__slot_disp(slot, W_READERS), 0,
                                      MPI_NO_OP, &n));
                if (n != 0) return lock__mcs_release(s, home, slot, idx, 1);
            } else {
                int rc = lock__drain(s, name, home, slot, timeout_ms, deadline);
                if (rc < 0) {
                    char keep[sizeof s->msg];
                    memcpy(keep, s->msg, sizeof keep);
                    LOCK__TRY(lock__mcs_release(s, home, slot, idx, 1));
                    memcpy(s->msg, keep, sizeof keep);
                    return rc;
                }
            }
        }
        if (token) LOCK__TRY(lock__token(s, home, slot, token));
        s->holds[h] = (lock__hold){1, home, slot, mode, idx, 1};
    } else {
        /* Enter as a reader, then pass the queue on at once: the increment
         * is complete before any writer can own the queue. */
        LOCK__TRY(lock__post_holder(s, home, slot));
        LOCK__TRY(lock__update(s, home, lock__slot_disp(slot, W_READERS), 1, MPI_SUM));
        LOCK__TRY(lock__mcs_release(s, home, slot, idx, 1));
        s->holds[h] = (lock__hold){1, home, slot, mode, -1, 1};
    }
    int rc = lock__add_name(s, ni, name, h);
    if (rc < 0) { /* undo: release what was taken */
        char keep[sizeof s->msg];
        memcpy(keep, s->msg, sizeof keep);
        s->holds[h].used = 0;
        if (mode == MILL_LOCK_EXCLUSIVE)
            LOCK__TRY(lock__mcs_release(s, home, slot, idx, 0));
        else
            LOCK__TRY(lock__update(s, home, lock__slot_disp(slot, W_READERS), -1, MPI_SUM));
        memcpy(s->msg, keep, sizeof keep);
        return rc;
    }
    *acquired = 1;
    return 0;
}

static int lock__release(mill__lock_set *s, const char *name, int home, int slot) {
    char lb[320];
    LOCK__TRY(lock__reap(s));
    int ni = lock__find_name(s, name);
    if (ni < 0)
        return lock__fail(s, MILL_ESTATE, "%s: rank %d releases it but does not hold it",
                          lock__label(lb, sizeof lb, name, home, slot), s->rank);
    int h = s->names[ni].hold;
    free(s->names[ni].name);
    s->names[ni] = (lock__name){0, NULL, 0};
    lock__hold *hd = &s->holds[h];
    if (--hd->refs > 0) return 0;
    hd->used = 0;
    if (hd->mode == MILL_LOCK_EXCLUSIVE)
        return lock__mcs_release(s, hd->home, hd->slot, hd->node, 0);
    return lock__update(s, hd->home, lock__slot_disp(hd->slot, W_READERS), -1, MPI_SUM);
}

static int lock__inspect(mill__lock_set *s, int home, int slot, mill__lock_info *info) {
    int zero = 0, t = 0, r = 0, h = 0;
    LOCK__MPI(s, MPI_Fetch_and_op(&zero, &t, MPI_INT, home, lock__slot_disp(slot, W_TAIL),
                                  MPI_NO_OP, s->win));
    LOCK__MPI(s, MPI_Fetch_and_op(&zero, &r, MPI_INT, home,
                                  lock__slot_disp(slot, W_READERS), MPI_NO_OP, s->win));
    LOCK__MPI(s, MPI_Fetch_and_op(&zero, &h, MPI_INT, home,
                                  lock__slot_disp(slot, W_HOLDER), MPI_NO_OP, s->win));
    LOCK__MPI(s, MPI_Win_flush(home, s->win));
    info->home = home;
    info->slot = slot;
    info->tail = (t == TAIL_NIL || t == TAIL_RFREE) ? -1 : ID_RANK(t);
    info->holder = -1;
    if (t != TAIL_NIL && t != TAIL_RFREE) LOCK__TRY(lock__find_holder(s, t, &info->holder));
    if (info->holder < 0 && r > 0 && h > 0) info->holder = h - 1; /* a reader */
    info->readers = r;
    return 0;
}

/* Maps a name to its home rank and slot; MILL_EINVAL for a bad name. */
static int lock__map(const mill__lock_set *s, const char *name, int *home, int *slot) {
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > MILL_LOCK_NAME_MAX) return MILL_EINVAL;
    uint64_t hash = mill_key_hash(name, len);
    *home = (int)mill_partition_lookup(s->part, hash);
    /* The slot uses other bits than the placement: mix before the modulo. */
    uint64_t m = hash * UINT64_C(0x9e3779b97f4a7c15);
    *slot = (int)((m ^ (m >> 29)) % (uint64_t)s->slots);
    return 0;
}

/* Maps a name to its home rank and slot, with a message on error. */
static int lock__place(mill__lock_set *s, const char *name, int *home, int *slot) {
    if (lock__map(s, name, home, slot) < 0)
        return lock__fail(s, MILL_EINVAL, "lock: name is NULL or its length is not in 1..%d",
                          MILL_LOCK_NAME_MAX);
    return 0;
}

int mill__lock_named_order(const mill__lock_set *s, const char *name, uint64_t *order) {
    int home = 0, slot = 0;
    if (!s || !order) return MILL_EINVAL;
    LOCK__TRY(lock__map(s, name, &home, &slot));
    *order = (uint64_t)home * (uint64_t)s->slots + (uint64_t)slot;
    return 0;
}

/* ---- named API --------------------------------------------------------- */

void mill__lock_set_stop(mill__lock_set *s, int (*stop)(void)) {
    if (s) s->stop = stop;
}

int mill__lock_set_create(mill__lock_set **out, MPI_Comm comm, int slots_per_rank) {
    if (!out) return MILL_EINVAL;
    *out = NULL;
    if (slots_per_rank < 1 || slots_per_rank > 65536 || comm == MPI_COMM_NULL) return MILL_EINVAL;
    int size = 0, rank = 0, ok = 1, all = 0;
    if (MPI_Comm_size(comm, &size) != MPI_SUCCESS || MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
        return MILL_EMPI;
    if ((int64_t)size * NODES + NODES >= INT_MAX) return MILL_EINVAL;
    mill__lock_set *s = calloc(1, sizeof *s);
    if (!s || mill_partition_create(&s->part, (uint32_t)size, NULL) < 0) ok = 0;
    /* Agree before the collective window creation, so no rank waits alone. */
    if (MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) all = -1;
    if (all != 1) {
        if (s) mill_partition_free(s->part);
        free(s);
        return all < 0 ? MILL_EMPI : MILL_ENOMEM;
    }
    s->rank = rank;
    s->size = size;
    s->slots = slots_per_rank;
    int rc = MILL_EMPI;
    MPI_Aint bytes = ((MPI_Aint)slots_per_rank * SLOT_WORDS + NODES * NODE_WORDS) * 4;
    int dup = MPI_Comm_dup(comm, &s->comm) == MPI_SUCCESS;
    if (!mill__all_ok(comm, dup && MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN) == MPI_SUCCESS)) {
        if (dup) (void)MPI_Comm_free(&s->comm); /* collective in the standard, local in Open MPI and MPICH */
        goto fail_part;
    }
    /* Every step is agreed on before the next collective: a rank that
     * failed alone must not leave the others waiting in one. A window made
     * on some ranks only cannot be freed (MPI_Win_free is collective): it
     * stays until exit. */
    int made = MPI_Win_allocate(bytes, 4, MPI_INFO_NULL, s->comm, &s->base, &s->win) == MPI_SUCCESS;
    if (made && mill__fault_site(MILL_FAULT_SITE_LOCK_WIN)) made = 0;
    if (!mill__all_ok(s->comm, made)) goto fail_comm;
    int locked = MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN) == MPI_SUCCESS &&
                 (memset(s->base, 0, (size_t)bytes), MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win) == MPI_SUCCESS);
    /* The agreement orders every rank's zeroing before anyone's first access. */
    if (mill__all_ok(s->comm, locked && MPI_Win_sync(s->win) == MPI_SUCCESS)) {
        *out = s;
        return 0;
    }
    /* Already failing: a failure to free leaves the window or communicator
     * until exit, and the set's error is the one to report. */
    if (locked) (void)MPI_Win_unlock_all(s->win);
    (void)MPI_Win_free(&s->win);
fail_comm:
    (void)MPI_Comm_free(&s->comm);
fail_part:
    mill_partition_free(s->part);
    free(s);
    return rc;
}

int mill__lock_set_release_all(mill__lock_set *s) {
    int rc = 0;
    for (int i = 0; s && i < MILL_LOCK_MAX_HELD; i++) {
        if (!s->names[i].used) continue;
        char name[MILL_LOCK_NAME_MAX + 1]; /* the release frees the held copy */
        snprintf(name, sizeof name, "%s", s->names[i].name);
        int r = mill__lock_named_release(s, name);
        if (r && !rc) rc = r;
    }
    return rc;
}

int mill__lock_set_held(const mill__lock_set *s, const char **name) {
    int n = 0;
    *name = NULL;
    for (int i = 0; s && i < MILL_LOCK_MAX_HELD; i++)
        if (s->names[i].used && n++ == 0) *name = s->names[i].name;
    return n;
}

int mill__lock_set_free(mill__lock_set **sp) {
    if (!sp) return MILL_EINVAL;
    mill__lock_set *s = *sp;
    if (!s) return 0;
    int held = 0, any = 0;
    for (int i = 0; i < MILL_LOCK_MAX_HELD; i++) held |= s->names[i].used;
    LOCK__MPI(s, MPI_Allreduce(&held, &any, 1, MPI_INT, MPI_MAX, s->comm));
    if (any) {
        if (held) {
            int ni = 0;
            while (!s->names[ni].used) ni++;
            return lock__fail(s, MILL_ESTATE, "lock: rank %d frees a lock set while holding %s%s%s",
                              s->rank, s->names[ni].name ? "'" : "a lock",
                              s->names[ni].name ? s->names[ni].name : "",
                              s->names[ni].name ? "'" : "");
        }
        return lock__fail(s, MILL_ESTATE,
                          "lock: rank %d frees a lock set while another rank holds a lock",
                          s->rank);
    }
    /* Nobody holds: every abandoned node will be granted; pass each on. */
    while (s->nabandoned > 0) {
        LOCK__TRY(lock__reap(s));
        LOCK__TRY(lock__poke(s));
    }
    LOCK__MPI(s, MPI_Barrier(s->comm));
    LOCK__MPI(s, MPI_Win_unlock_all(s->win));
    LOCK__MPI(s, MPI_Win_free(&s->win));
    LOCK__MPI(s, MPI_Comm_free(&s->comm));
    mill_partition_free(s->part);
    free(s);
    *sp = NULL;
    return 0;
}

int mill__lock_named_acquire(mill__lock_set *s, const char *name, mill__lock_mode mode,
                            int timeout_ms, uint64_t *token) {
    int home = 0, slot = 0, acquired = 0;
    if (!s) return MILL_EINVAL;
    LOCK__TRY(lock__place(s, name, &home, &slot));
    return lock__acquire(s, name, home, slot, mode, timeout_ms, token, 0, &acquired);
}

int mill__lock_named_try_acquire(mill__lock_set *s, const char *name, mill__lock_mode mode,
                                int *acquired, uint64_t *token) {
    int home = 0, slot = 0;
    if (!s || !acquired) return MILL_EINVAL;
    *acquired = 0;
    LOCK__TRY(lock__place(s, name, &home, &slot));
    return lock__acquire(s, name, home, slot, mode, 0, token, 1, acquired);
}

int mill__lock_named_release(mill__lock_set *s, const char *name) {
    int home = 0, slot = 0;
    if (!s) return MILL_EINVAL;
    LOCK__TRY(lock__place(s, name, &home, &slot));
    return lock__release(s, name, home, slot);
}

int mill__lock_named_inspect(mill__lock_set *s, const char *name, mill__lock_info *info) {
    int home = 0, slot = 0;
    if (!s || !info) return MILL_EINVAL;
    LOCK__TRY(lock__place(s, name, &home, &slot));
    return lock__inspect(s, home, slot, info);
}

int mill__lock_set_progress(mill__lock_set *s) {
    if (!s) return MILL_EINVAL;
    LOCK__TRY(lock__poke(s));
    return lock__reap(s);
}

const char *mill__lock_set_errmsg(const mill__lock_set *s) { return s ? s->msg : ""; }

/* ---- single lock ------------------------------------------------------- */

int mill__lock_create(mill__lock **out, MPI_Comm comm, int home_rank) {
    int size = 0;
    if (!out) return MILL_EINVAL;
    *out = NULL;
    if (comm == MPI_COMM_NULL || MPI_Comm_size(comm, &size) != MPI_SUCCESS) return MILL_EINVAL;
    if (home_rank < 0 || home_rank >= size) return MILL_EINVAL;
    mill__lock *l = malloc(sizeof *l);
    mill__lock_set *s = NULL;
    int ok = l != NULL, all = 0;
    if (MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) all = -1;
    if (all != 1) {
        free(l);
        return all < 0 ? MILL_EMPI : MILL_ENOMEM;
    }
    int rc = mill__lock_set_create(&s, comm, 1);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->set = s;
    l->home = home_rank;
    *out = l;
    return 0;
}

int mill__lock_free(mill__lock **lp) {
    if (!lp) return MILL_EINVAL;
    if (!*lp) return 0;
    LOCK__TRY(mill__lock_set_free(&(*lp)->set));
    free(*lp);
    *lp = NULL;
    return 0;
}

int mill__lock_acquire(mill__lock *l, mill__lock_mode mode, int timeout_ms, uint64_t *token) {
    int acquired = 0;
    if (!l) return MILL_EINVAL;
    return lock__acquire(l->set, NULL, l->home, 0, mode, timeout_ms, token, 0, &acquired);
}

int mill__lock_try_acquire(mill__lock *l, mill__lock_mode mode, int *acquired, uint64_t *token) {
    if (!l || !acquired) return MILL_EINVAL;
    return lock__acquire(l->set, NULL, l->home, 0, mode, 0, token, 1, acquired);
}

int mill__lock_release(mill__lock *l) {
    if (!l) return MILL_EINVAL;
    return lock__release(l->set, NULL, l->home, 0);
}

int mill__lock_inspect(mill__lock *l, mill__lock_info *info) {
    if (!l || !info) return MILL_EINVAL;
    return lock__inspect(l->set, l->home, 0, info);
}

int mill__lock_progress(mill__lock *l) {
    if (!l) return MILL_EINVAL;
    return mill__lock_set_progress(l->set);
}

const char *mill__lock_errmsg(const mill__lock *l) { return l ? l->set->msg : ""; }
