/* fault.h -- fault injection (SQLite-style): numbered points on the commit
 * path, and sites in the partitioner, shuffle, HDF5 output and lock windows.
 *
 * Three mechanisms, all driven by environment variables and all inert (one
 * well-predicted branch) when those are unset:
 *
 *  - Fault points: numbered places in the commit path. When the process
 *    reaches point MPIMILL_FAULT_POINT=n on a rank chosen by
 *    MPIMILL_FAULT_RANK=r|last|all (default all), it sends itself
 *    MPIMILL_FAULT_SIGNAL=KILL|TERM (default KILL). MPIMILL_FAULT_DELAY_MS=ms
 *    makes every rank sleep ms at the first hit of every point (to stretch a
 *    job for kills at random times).
 *  - Countdown: the Nth file operation of the commit path on a chosen rank
 *    (MPIMILL_FAULT_COUNTDOWN=N, counting from 1) fails with
 *    MPIMILL_FAULT_ERRNO=EIO|ENOSPC (default EIO), once, or from then on
 *    when MPIMILL_FAULT_PERSIST=1. MPIMILL_FAULT_OPS=NAME counts only the
 *    operations of that name (open, write, fsync, rename, ...).
 *  - Failure sites: MPIMILL_FAULT_SITE=n makes numbered site n (an
 *    allocation or a library call) fail on the ranks MPIMILL_FAULT_RANK
 *    selects, each time it is reached: tests that a failure on one rank
 *    reaches every rank instead of leaving the others in a collective.
 *
 * Every fault point and site that fires prints one line on stderr
 * ("mpimill: fault: ..."), so drivers know that it happened; the countdown
 * prints one at its first failure only.
 *
 * The numbers below are part of the test interface: never reuse or
 * renumber one; retire it instead.
 */
#ifndef MILL_FAULT_H
#define MILL_FAULT_H

#include <stddef.h>
#include <sys/types.h>

/* Fault points. Points marked (0) are only reached on rank 0. */
#define MILL_FAULT_BEFORE_STAGING 1      /* lock held, staging not yet created (0) */
#define MILL_FAULT_MID_WRITE 2           /* half of a part file's buffer written; data.h5: a round written */
#define MILL_FAULT_WRITTEN 3             /* parts written, not yet fsynced */
#define MILL_FAULT_PREPARED 4            /* parts fsynced and hashed, vote not cast */
#define MILL_FAULT_VOTED 5               /* votes cast (some ranks past the vote), lists not gathered */
#define MILL_FAULT_BEFORE_MANIFEST 6     /* all voted yes, _SUCCESS not created (0) */
#define MILL_FAULT_MID_MANIFEST 7        /* half of _SUCCESS written (0) */
#define MILL_FAULT_MANIFEST_DURABLE 8    /* _SUCCESS and staging fsynced, not renamed (0) */
#define MILL_FAULT_RENAMED 9             /* commit point passed, parent not fsynced (0) */
#define MILL_FAULT_COMMITTED 10          /* parent fsynced, old output not yet removed (0) */
#define MILL_FAULT_MID_CLEANUP 11        /* cleanup of a staging name has removed one entry (0) */
#define MILL_FAULT_IN_RECOVERY 12        /* recovery has removed one entry of a staging name */
#define MILL_FAULT_BEFORE_UNLOCK 13      /* all done, lock file not yet removed (0) */
#define MILL_FAULT_ABORTING 14           /* a NO was agreed, staging not yet removed (0) */
#define MILL_FAULT_SET_ASIDE 15          /* --overwrite by plain renames: old output renamed aside, new not in (0) */
#define MILL_FAULT_VERIFY_READ 16       /* mpimill verify read the manifest, no file checked yet */
#define MILL_FAULT_MAX 16

/* Failure sites (mill__fault_site), numbered like the points. */
#define MILL_FAULT_SITE_WEIGHTS 1     /* allocating the partitioner's weights, before --weights auto's gather */
#define MILL_FAULT_SITE_REDUCE_RUNS 2 /* allocating a spilled shuffle's list of reduce runs, after its rounds */
#define MILL_FAULT_SITE_SENT 3        /* allocating a spilled shuffle's record counts, before their exchange */
#define MILL_FAULT_SITE_H5_WRITE 4    /* H5Dwrite of --format hdf5 output: made, then reported failed */
#define MILL_FAULT_SITE_H5_SELECT 5   /* the hyperslab selection of an HDF5 input's read */
#define MILL_FAULT_SITE_RENAME_FLAGS 6 /* renameat2 with flags fails with EINVAL, as on NFS, FUSE and CephFS */
#define MILL_FAULT_SITE_MAP_RUNS 7    /* growing the list of map runs, as a map spill starts */
#define MILL_FAULT_SITE_LOCK_WIN 8    /* MPI_Win_allocate of the job's lock window: made, then reported failed */
#define MILL_FAULT_SITE_SINGLE_WIN 9  /* MPI_Win_allocate of --single-file's offset counters: made, then reported failed */

/* Reads the environment once; rank and size select the victim ("last" is
 * size - 1). Safe to call more than once: later calls only update rank. */
void mill__fault_init(int rank, int size);

/* Reaches fault point n: kills this process when n is armed for this rank,
 * and sleeps first when a delay is set. Returns when not killed. */
void mill__fault(int n);

#define MILL_FAULT(n) mill__fault(n)

/* Sleeps ms milliseconds, going on after a signal (EINTR). */
void mill__sleep_ms(long ms);

/* Returns 1 when site n is to fail on this rank (the caller then acts as
 * if its call had failed), else 0. */
int mill__fault_site(int n);

/* Counts one file operation named what (for the message). Returns 0 to let
 * it run, or -1 with errno set to the injected error. */
int mill__fault_op(const char *what);

/* Wrappers of the commit path's file operations: each counts one operation
 * (mill__fault_op) and then behaves exactly like the call it wraps. */
int mill__fault_openat(int dirfd, const char *name, int flags, mode_t mode);
int mill__fault_mkdirat(int dirfd, const char *name, mode_t mode);
int mill__fault_fsync(int fd);
int mill__fault_fchmod(int fd, mode_t mode);
int mill__fault_unlinkat(int dirfd, const char *name, int flags);
int mill__fault_renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname,
                          unsigned flags);
ssize_t mill__fault_pread(int fd, void *buf, size_t n, off_t off);
ssize_t mill__fault_pwrite(int fd, const void *buf, size_t n, off_t off);

/* Like write(2), counted; and when fault point `point` is armed for this
 * rank, writes the first half of buf and then reaches the point, so that a
 * kill leaves a partly written file. */
ssize_t mill__fault_write(int point, int fd, const void *buf, size_t n);

/* Writes all n bytes of buf with mill__fault_write, retrying after EINTR
 * and short writes. Returns 0, or -1 with errno set. */
int mill__fault_write_all(int point, int fd, const void *buf, size_t n);

#endif
