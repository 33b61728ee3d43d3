/* mcs.pml -- Promela model of the lock protocol of runtime/lock.c.
 *
 * N processes loop forever: choose exclusive or shared, enqueue on the MCS
 * tail (MPI_Fetch_and_op REPLACE = one atomic swap), link to the
 * predecessor and spin on their own grant word; at the queue head a writer
 * waits until no reader is inside when the queue was handed over "dirty",
 * a reader counts itself in and passes the queue on at once. Release:
 * compare-and-swap the tail back to free (NIL after a writer, RFREE after a
 * reader), or wait for the successor's link and hand over.
 *
 * Checked properties (spin -a; pan):
 *   - mutual exclusion: a writer is alone; no reader while a writer is in;
 *   - FIFO: processes head the queue in the order of their swaps;
 *   - no deadlock: no invalid end state (nobody ever terminates, so any
 *     state where all are blocked is an error).
 * Seeded bugs, which spin must reject:
 *   -DBUG=1  release does not wait for the successor's link (hand-off lost)
 *   -DBUG=2  a writer ignores a "dirty" hand-off (does not wait for readers)
 * -DRW=0 checks exclusive mode only (used for 4 processes, where the
 * reader-writer state space does not fit the test's memory budget).
 */
#ifndef N
#define N 3
#endif
#ifndef BUG
#define BUG 0
#endif
#ifndef RW     /* 1: processes also take the lock in shared mode */
#define RW 1
#endif

#define NIL 255   /* TAIL_NIL: free, no reader inside */
#define RFREE 254 /* TAIL_RFREE: free, readers may be inside */
#define CLEAN 1   /* GRANT_CLEAN */
#define DIRTY 2   /* GRANT_DIRTY */

byte tail = NIL;
byte next[N];
byte grant[N];
byte readers = 0;            /* W_READERS on the home rank */
byte win = 0;                /* observer: writers inside */
byte rin = 0;                /* observer: readers inside */
chan order = [N] of { byte } /* observer: the order of the swaps */

/* The second half of a release: when the CAS found a successor, wait for
 * its link and hand the queue over with value v. */
inline handoff(v) {
    if
    :: old != _pid ->
#if BUG == 1
        if
        :: next[_pid] != NIL -> grant[next[_pid]] = v
        :: else -> skip
        fi
#else
        next[_pid] != NIL;
        grant[next[_pid]] = v
#endif
    :: else -> skip
    fi
}

active [N] proctype P() {
    byte pred = NIL, old = NIL, g = 0, t = 0;
    bool shared = false;
    do
    :: if
       :: shared = false
#if RW
       :: shared = true
#endif
       fi;
       /* acquire: reset the node, swap the tail, link, spin locally */
       next[_pid] = NIL;
       grant[_pid] = 0;
       atomic { pred = tail; tail = _pid; order!_pid };
       if
       :: pred == NIL -> g = CLEAN
       :: pred == RFREE -> g = DIRTY
       :: else ->
           next[pred] = _pid;
           grant[_pid] != 0;
           g = grant[_pid]
       fi;
       pred = NIL;
       atomic { order?t; assert(t == _pid) };  /* FIFO */
       t = 0;
       if
       :: !shared ->
#if BUG != 2
           if
           :: g == DIRTY -> readers == 0  /* drain */
           :: else -> skip
           fi;
#endif
           win++;
           assert(win == 1 && rin == 0);
           win--;
           /* release: CAS tail me -> NIL, else hand over CLEAN */
           atomic { old = tail; if :: tail == _pid -> tail = NIL :: else -> skip fi };
           handoff(CLEAN)
       :: shared ->
           readers++;
           /* pass the queue on: CAS tail me -> RFREE, else hand over DIRTY */
           atomic { old = tail; if :: tail == _pid -> tail = RFREE :: else -> skip fi };
           handoff(DIRTY);
           rin++;
           assert(win == 0);
           rin--;
           readers--
       fi;
       old = NIL;
       g = 0
    od
}
