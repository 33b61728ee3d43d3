/* lock.h -- distributed locks on MPI-3 passive-target RMA (internal).
 *
 * A lock set is one RMA window, created collectively over a communicator,
 * that serves a fixed number of lock slots on every rank. Named locks hash a
 * name to a home rank (mill_partition_lookup) and to a slot on that rank;
 * a plain mill__lock is a set with one lock homed on a chosen rank.
 *
 * Locks are MCS queue locks (FIFO) on 32-bit words, with an exclusive and a
 * shared (reader-writer) mode. An exclusive acquire can return a fencing
 * token: a 64-bit counter, kept on the home rank, that grows with every
 * exclusive grant of that slot, so writes made under the lock can be tagged.
 *
 * Threading: a set is used by one thread of its rank (MPI_THREAD_SINGLE or
 * FUNNELED is enough). Progress: Open MPI 4.1 has no asynchronous progress,
 * so a rank that computes for long without MPI calls must call
 * mill__lock_progress()/mill__lock_set_progress() at least every ~1 ms, or
 * other ranks' lock operations homed on it stall on some transports.
 *
 * All functions that can fail return 0 or a negative MILL_E* code
 * (<mpimill/job.h>); the set's last error message explains it.
 */
#ifndef MILL_LOCK_H
#define MILL_LOCK_H

#include <mpi.h>
#include <stdint.h>

typedef enum mill__lock_mode {
    MILL_LOCK_EXCLUSIVE = 0, /* one holder; gets a fencing token on request */
    MILL_LOCK_SHARED = 1     /* many readers, never together with a writer */
} mill__lock_mode;

/* Passed as timeout_ms to wait without limit. */
#define MILL_LOCK_FOREVER (-1)

/* Most locks (names) one rank may hold at once in one set. */
#define MILL_LOCK_MAX_HELD 16

/* Longest lock name, in bytes, without the terminating NUL. */
#define MILL_LOCK_NAME_MAX 255

typedef struct mill__lock_set mill__lock_set;
typedef struct mill__lock mill__lock;

/* A snapshot of one lock's state on its home rank (for diagnostics/tests). */
typedef struct mill__lock_info {
    int home;    /* home rank of the lock */
    int slot;    /* slot on the home rank */
    int tail;    /* rank at the tail of the MCS queue (the holder when nobody
                    waits), or -1 when the queue is empty */
    int holder;  /* the rank heading the queue (found by following the queue
                    back from its tail; it moves meanwhile), else the last
                    reader in while readers are inside, else -1 */
    int readers; /* shared holders currently inside */
} mill__lock_info;

/* ---- named locks ------------------------------------------------------ */

/* Creates a lock set collectively over comm, with slots_per_rank lock slots
 * on every rank (1..65536). Names are hashed to (home rank, slot); two names
 * on one slot share one lock (false sharing, never incorrectness). Every
 * rank of comm must call it with the same slots_per_rank. On success *out is
 * the new set; on failure *out is NULL, and every rank returns the same
 * error. A window made on some ranks only cannot be freed (MPI_Win_free is
 * collective): it stays until exit. */
int mill__lock_set_create(mill__lock_set **out, MPI_Comm comm, int slots_per_rank);

/* Local. Makes a rank that waits for a lock of s give up as soon as stop()
 * returns nonzero: it leaves the queue as on a timeout, and the acquire
 * returns MILL_EABORT. The engine passes mill__stop_signal, so that a rank
 * queued behind a busy holder stops at a SIGTERM (scancel, a time limit)
 * in a moment rather than at the end of --lock-timeout. NULL: never. */
void mill__lock_set_stop(mill__lock_set *s, int (*stop)(void));

/* Frees a set collectively. Fails with MILL_ESTATE on every rank, freeing
 * nothing, when any rank still holds a lock of the set. *s becomes NULL on
 * success; a NULL *s is allowed and does nothing (but must be passed on
 * every rank). */
int mill__lock_set_free(mill__lock_set **s);

/* Local. Stores in *name the first name this rank holds in s (NULL for an
 * unnamed lock) and returns how many it holds; 0 for a NULL s. */
int mill__lock_set_held(const mill__lock_set *s, const char **name);

/* Acquires the lock called name in the given mode, waiting at most
 * timeout_ms milliseconds (MILL_LOCK_FOREVER: no limit). When token is not
 * NULL and mode is exclusive, *token receives the lock's next fencing token
 * (one more round trip). Returns MILL_ETIMEOUT, with a message naming the
 * holder rank, when the time ran out, MILL_EABORT when the job stopped
 * meanwhile (mill__lock_set_stop), and MILL_ESTATE when this rank already
 * holds name (or, through a slot collision, holds its slot in shared mode
 * while asking for exclusive). */
int mill__lock_named_acquire(mill__lock_set *s, const char *name, mill__lock_mode mode,
                            int timeout_ms, uint64_t *token);

/* Tries once to acquire the lock called name without waiting. *acquired is
 * set to 1 when it was acquired and 0 when another rank holds it; the
 * return value is 0 in both cases, or a negative error code. */
int mill__lock_named_try_acquire(mill__lock_set *s, const char *name, mill__lock_mode mode,
                                int *acquired, uint64_t *token);

/* Releases the lock called name. Returns MILL_ESTATE when this rank does not
 * hold it. */
int mill__lock_named_release(mill__lock_set *s, const char *name);

/* Reads the home rank's state of the lock called name into *info. */
int mill__lock_named_inspect(mill__lock_set *s, const char *name, mill__lock_info *info);

/* Stores in *order the position of name's lock in the set's lock order
 * (home rank, then slot), without communication. Two names with the same
 * order share one lock. A rank that holds several names at once must
 * acquire them in increasing order (equal orders in any order): ordering by
 * name alone can deadlock when names collide on slots. */
int mill__lock_named_order(const mill__lock_set *s, const char *name, uint64_t *order);

/* Local. Releases every lock this rank holds in s, as mill__lock_named_release
 * would one by one: a rank that fails calls it before it agrees on the
 * failure, so that no other rank waits for those locks until its timeout.
 * Returns 0 or the first release's error. */
int mill__lock_set_release_all(mill__lock_set *s);

/* Lets MPI progress RMA operations that target this rank and finishes
 * hand-offs of abandoned (timed-out) queue entries. It costs one MPI_Iprobe
 * when there is nothing to do; call it at least every ~1 ms while computing. */
int mill__lock_set_progress(mill__lock_set *s);

/* Returns the message of the set's last error, or "" when none. */
const char *mill__lock_set_errmsg(const mill__lock_set *s);

/* ---- a single lock ---------------------------------------------------- */

/* Creates, collectively over comm, one lock whose state lives on home_rank
 * (every rank must pass the same home_rank). */
int mill__lock_create(mill__lock **out, MPI_Comm comm, int home_rank);

/* Frees a lock collectively; MILL_ESTATE on every rank when any holds it. */
int mill__lock_free(mill__lock **l);

/* Acquires the lock: see mill__lock_named_acquire(). */
int mill__lock_acquire(mill__lock *l, mill__lock_mode mode, int timeout_ms, uint64_t *token);

/* Tries to acquire the lock once: see mill__lock_named_try_acquire(). */
int mill__lock_try_acquire(mill__lock *l, mill__lock_mode mode, int *acquired, uint64_t *token);

/* Releases the lock; MILL_ESTATE when this rank does not hold it. */
int mill__lock_release(mill__lock *l);

/* Reads the lock's state on its home rank into *info. */
int mill__lock_inspect(mill__lock *l, mill__lock_info *info);

/* Progress for the lock's window: see mill__lock_set_progress(). */
int mill__lock_progress(mill__lock *l);

/* Returns the message of the lock's last error, or "". */
const char *mill__lock_errmsg(const mill__lock *l);

#endif
