/* single.c -- --single-file output: every rank appends its sorted block to
 * one shared file, DIR/data, as it finishes.
 *
 * Space is reserved with MPI_Fetch_and_op on two offset counters that live
 * on rank 0 (passive-target RMA), one for data and one for the index, so
 * ranks write at disjoint offsets without asking the file its size (which
 * NFS may report stale). The named lock "mpimill:_index" guards the
 * reservation and the shared index, DIR/_index, where each rank appends one
 * line: rank, offset, length and the lock's fencing token -- in the blocks'
 * order, as the lock is held from the reservation to the line. The blocks
 * are copied after it, in parallel. Both files are created by rank 0 in staging and
 * published by the commit like any part file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "ctx.h"
#include "fault.h"
#include "runtime.h"
#include "single.h"

#define INDEX_LOCK "mpimill:_index"

/* Writes all n bytes of buf at offset off (counted by fault injection). */
static int pwrite_all(int fd, const char *buf, size_t n, uint64_t off) {
    while (n > 0) {
        ssize_t w = mill__fault_pwrite(fd, buf, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        buf += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Copies len bytes of tmp (from its start) into data, output out's, at
 * offset off. */
static int copy_block(int tmp, int data, const char *out, uint64_t len, uint64_t off, char *err, size_t errlen) {
    char *buf = malloc(1 << 20);
    if (!buf) return MILL_ENOMEM;
    int rc = 0;
    for (uint64_t pos = 0; pos < len && rc == 0;) {
        size_t want = len - pos < (1u << 20) ? (size_t)(len - pos) : (1u << 20);
        ssize_t got = pread(tmp, buf, want, (off_t)pos);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(err, errlen, "single-file: reading this rank's block: %s", got ? strerror(errno) : "short");
            rc = MILL_EIO;
        } else if (pwrite_all(data, buf, (size_t)got, off + pos) != 0) {
            snprintf(err, errlen, "single-file: writing data at offset %" PRIu64 " (output %s): %s", off + pos, out,
                     strerror(errno));
            rc = MILL_EIO;
        } else {
            pos += (uint64_t)got;
        }
    }
    free(buf);
    return rc;
}

/* Under the index lock, reserves len bytes of data (the data counter on
 * rank 0: *off gets the old value) and its line's bytes of the index (the
 * index counter) and writes the line there, so that index lines and
 * fencing tokens follow the blocks' order in data. The block is copied after, outside the lock. */
static int reserve(mill_ctx *ctx, MPI_Win win, int index, uint64_t len, uint64_t *off, char *err, size_t errlen) {
    uint64_t token = 0;
    /* Every rank takes the lock once, in turn: the last one waits for all
     * the others' holds, longer as ranks are added (over TCP with many
     * ranks, seconds). --lock-timeout is for the job's own locks: a small
     * one must not fail this, so it waits at least the default. */
    int wait_ms = ctx->lock_timeout_ms > MILL__LOCK_TIMEOUT_MS ? ctx->lock_timeout_ms : MILL__LOCK_TIMEOUT_MS;
    int rc = mill__lock_named_acquire(ctx->locks, INDEX_LOCK, MILL_LOCK_EXCLUSIVE, wait_ms, &token);
    if (rc == MILL_EABORT && mill__stop_signal()) return mill__stop_error(err, errlen); /* gave up at the stop */
    if (rc) {
        snprintf(err, errlen, "single-file: index lock: %s", mill__lock_set_errmsg(ctx->locks));
        return rc;
    }
    int mrc = MPI_Fetch_and_op(&len, off, MPI_UINT64_T, 0, 0, MPI_SUM, win);
    if (mrc == MPI_SUCCESS) mrc = MPI_Win_flush(0, win);
    char line[128];
    uint64_t n = (uint64_t)snprintf(line, sizeof line, "%d\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", ctx->rank,
                                    *off, len, token),
             at = 0;
    if (mrc == MPI_SUCCESS) mrc = MPI_Fetch_and_op(&n, &at, MPI_UINT64_T, 0, 1, MPI_SUM, win);
    if (mrc == MPI_SUCCESS) mrc = MPI_Win_flush(0, win);
    if (mrc != MPI_SUCCESS) rc = mill__mpi_error(mrc, "MPI_Fetch_and_op on the offset counters", err, errlen);
    if (rc == 0 && pwrite_all(index, line, (size_t)n, at) != 0) {
        snprintf(err, errlen, "single-file: appending to _index (output %s): %s", ctx->args->output, strerror(errno));
        rc = MILL_EIO;
    }
    int rrc = mill__lock_named_release(ctx->locks, INDEX_LOCK);
    return rc ? rc : rrc;
}

int mill__single_write(mill_ctx *ctx, mill__commit *commit, int status, int tmp, uint64_t len, char *err,
                       size_t errlen) {
    int data = -1, index = -1, rc = status, mrc;
    /* Rank 0 creates both files (the commit owns its descriptors); the
     * others open them after this agreement. */
    if (ctx->rank == 0 && rc == 0) {
        rc = mill__commit_create(commit, "data", &data, err, errlen);
        if (rc == 0) rc = mill__commit_create(commit, "_index", &index, err, errlen);
    }
    rc = mill__agree(ctx->comm, rc, err, errlen);
    if (rc) return rc;
    if (ctx->rank != 0) {
        rc = mill__commit_open_shared(commit, "data", &data, err, errlen);
        if (rc == 0) rc = mill__commit_open_shared(commit, "_index", &index, err, errlen);
    }
    /* The offset counters (data, _index): 16 bytes on rank 0, held open for passive access. */
    MPI_Win win;
    uint64_t *counter = NULL;
    mrc = MPI_Win_allocate(ctx->rank == 0 ? 16 : 0, 8, MPI_INFO_NULL, ctx->comm, &counter, &win);
    if (mrc == MPI_SUCCESS && mill__fault_site(MILL_FAULT_SITE_SINGLE_WIN)) mrc = MPI_ERR_WIN;
    /* Made everywhere, or the job fails on every rank here: a rank that
     * failed alone must not leave the others in the barrier below. A
     * window made on some ranks only cannot be freed (MPI_Win_free is
     * collective): it stays until exit. */
    int made = mrc == MPI_SUCCESS;
    int arc = made ? 0 : mill__mpi_error(mrc, "MPI_Win_allocate of the offset counters", err, errlen);
    if ((arc = mill__agree(ctx->comm, arc, err, errlen)) != 0) { /* names the rank that failed */
        if (rc == 0) rc = arc;
    } else {
        /* Zeroed inside the epoch and synced to the public copy (separate
         * memory model), before anyone adds: the barrier. */
        mrc = MPI_Win_set_errhandler(win, MPI_ERRORS_RETURN);
        int locked = mrc == MPI_SUCCESS && (mrc = MPI_Win_lock_all(MPI_MODE_NOCHECK, win)) == MPI_SUCCESS;
        if (mrc == MPI_SUCCESS && ctx->rank == 0) {
            counter[0] = counter[1] = 0;
            mrc = MPI_Win_sync(win);
        }
        int brc = MPI_Barrier(ctx->comm); /* every rank, whatever failed: no one waits for ever */
        if (mrc == MPI_SUCCESS) mrc = brc;
        uint64_t off = 0;
        if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "setting up the offset counter", err, errlen);
        if (rc == 0) rc = reserve(ctx, win, index, len, &off, err, errlen);
        if (rc == 0) rc = copy_block(tmp, data, ctx->args->output, len, off, err, errlen);
        if (rc == 0 && ctx->rank != 0 && (mill__fault_fsync(data) != 0 || mill__fault_fsync(index) != 0)) {
            snprintf(err, errlen, "single-file: fsync (output %s): %s", ctx->args->output, strerror(errno));
            rc = MILL_EIO;
        }
        /* Everyone's block is written before the window goes away. */
        mrc = locked ? MPI_Win_unlock_all(win) : MPI_SUCCESS;
        int frc = MPI_Win_free(&win);
        if ((mrc != MPI_SUCCESS || frc != MPI_SUCCESS) && rc == 0)
            rc = mill__mpi_error(mrc != MPI_SUCCESS ? mrc : frc, "freeing the offset counter", err, errlen);
    }
    if (ctx->rank != 0) {
        if (data >= 0) close(data);
        if (index >= 0) close(index);
    }
    return rc;
}
