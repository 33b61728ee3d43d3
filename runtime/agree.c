/* agree.c -- agreeing on failure across ranks.
 *
 * Every collective step of a job ends in mill__agree(): a rank that failed
 * keeps its message, the lowest failing rank's message reaches rank 0, and
 * rank 0 alone prints it. So an error is one line, never N copies, and no
 * rank waits forever for a peer that gave up. io/ uses it too (collective
 * HDF5), so it is a library of its own, below both.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agree.h"
#include "mpimill/job.h"

void mill__abort(MPI_Comm comm, const char *why) {
    int rank = -1;
    (void)MPI_Comm_rank(comm, &rank); /* -1 when it fails: the message still goes out */
    fprintf(stderr, "mpimill: error: rank %d: %s; aborting the job\n", rank, why);
    MPI_Abort(comm, 1);
    abort(); /* MPI_Abort does not return */
}

void mill__oom_abort(MPI_Comm comm, const char *what) {
    char why[256];
    snprintf(why, sizeof why, "out of memory while %s", what);
    mill__abort(comm, why);
}

/* An agreement's own MPI call failed: this rank cannot learn what the
 * others decided, and they may wait for it for ever (a rank that returned
 * would sit in MPI_Finalize while a peer waits in the agreement). Nothing
 * is left but to end the job, which the commit protocol makes safe at any
 * instant: the output stays the old one or becomes the complete new one. */
static void agree_broken(MPI_Comm comm, const char *call, int mpi_rc) {
    char why[MILL__ERRLEN], what[128];
    snprintf(what, sizeof what, "%s failed while the ranks agreed on their status", call);
    (void)mill__mpi_error(mpi_rc, what, why, sizeof why);
    mill__abort(comm, why);
}

int mill__mpi_error(int mpi_rc, const char *what, char *err, size_t errlen) {
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(mpi_rc, s, &n) != MPI_SUCCESS) snprintf(s, sizeof s, "code %d", mpi_rc);
    snprintf(err, errlen, "%s: %s", what, s);
    return MILL_EMPI;
}

int mill__comm_shape(MPI_Comm comm, int *rank, int *size, char *err, size_t errlen) {
    int rc = MPI_Comm_rank(comm, rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(comm, size);
    return rc == MPI_SUCCESS ? 0 : mill__mpi_error(rc, "MPI_Comm_rank/MPI_Comm_size", err, errlen);
}

static void (*wait_hook)(void *); /* mill__wait_hook; one per process, like MPI itself */
static void *wait_hook_arg;

void mill__wait_hook(void (*fn)(void *), void *arg) {
    wait_hook = fn;
    wait_hook_arg = arg;
}

int mill__wait(MPI_Request *req) {
    const double spin = 1e-4, longest = 2.5e-4; /* seconds */
    double start = MPI_Wtime(), nap = 1e-5;
    for (;;) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done) return rc;
        if (MPI_Wtime() - start < spin) continue;
        if (wait_hook) wait_hook(wait_hook_arg);
        struct timespec ts = {0, (long)(nap * 1e9)};
        (void)nanosleep(&ts, NULL); /* EINTR: a signal; the loop tests again */
        if (nap < longest) nap *= 2;
    }
}

/* mill__agree and mill__agree_root; root_step: rank 0 acted for the job. */
static int agree(MPI_Comm comm, int status, char *err, size_t errlen, int root_step) {
    int rank, size, mrc;
    if ((mrc = MPI_Comm_rank(comm, &rank)) != MPI_SUCCESS || (mrc = MPI_Comm_size(comm, &size)) != MPI_SUCCESS)
        agree_broken(comm, "MPI_Comm_rank", mrc);
    /* mine[0]: the lowest failing rank; mine[1]: 1 while every rank failed. */
    int mine[2] = {status ? rank : INT_MAX, status != 0}, got[2];
    MPI_Request req;
    mrc = MPI_Iallreduce(mine, got, 2, MPI_INT, MPI_MIN, comm, &req);
    if (mrc != MPI_SUCCESS || (mrc = mill__wait(&req)) != MPI_SUCCESS) agree_broken(comm, "MPI_Iallreduce", mrc);
    int first = got[0], everyone = got[1];
    if (first == INT_MAX) return 0;
    /* The failing rank's code and message go to everyone (rank 0 prints). */
    char msg[MILL__ERRLEN];
    int code = status;
    if (rank == first) snprintf(msg, sizeof msg, "%s", err && *err ? err : mill_strerror(status));
    if ((mrc = MPI_Bcast(&code, 1, MPI_INT, first, comm)) != MPI_SUCCESS ||
        (mrc = MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, comm)) != MPI_SUCCESS)
        agree_broken(comm, "MPI_Bcast", mrc);
    if (rank != first || size > 1) {
        /* A failure every rank shares (a missing dataset) is not one rank's. */
        if (size > 1 && !everyone && !(root_step && first == 0) && strncmp(msg, "rank ", 5) != 0)
            snprintf(err, errlen, "rank %d: %s", first, msg);
        else
            snprintf(err, errlen, "%s", msg);
    }
    return code;
}

int mill__all_ok(MPI_Comm comm, int ok) {
    int all = 0, mrc = MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (mrc != MPI_SUCCESS) agree_broken(comm, "MPI_Allreduce", mrc);
    return all;
}

int mill__agree(MPI_Comm comm, int status, char *err, size_t errlen) {
    return agree(comm, status, err, errlen, 0);
}

int mill__agree_root(MPI_Comm comm, int status, char *err, size_t errlen) {
    return agree(comm, status, err, errlen, 1);
}

int mill__gather_str(MPI_Comm comm, const char *mine, char **all, char *err, size_t errlen) {
    int rank, size;
    if (mill__comm_shape(comm, &rank, &size, err, errlen)) return MILL_EMPI;
    int len = (int)strlen(mine);
    int *lens = NULL, *displs = NULL;
    char *buf = NULL;
    if (rank == 0) {
        lens = calloc((size_t)size, sizeof *lens);
        displs = calloc((size_t)size, sizeof *displs);
        if (!lens || !displs) mill__oom_abort(comm, "gathering strings");
    }
    int rc = MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, comm);
    if (rc != MPI_SUCCESS) {
        free(lens);
        free(displs);
        return mill__mpi_error(rc, "MPI_Gather", err, errlen);
    }
    size_t total = 0;
    if (rank == 0) {
        for (int i = 0; i < size; i++) {
            displs[i] = (int)total;
            total += (size_t)lens[i];
        }
        buf = malloc(total + 1);
        if (!buf) mill__oom_abort(comm, "gathering strings");
        buf[total] = '\0';
    }
    rc = MPI_Gatherv(mine, len, MPI_CHAR, buf, lens, displs, MPI_CHAR, 0, comm);
    free(lens);
    free(displs);
    if (rc != MPI_SUCCESS) {
        free(buf);
        return mill__mpi_error(rc, "MPI_Gatherv", err, errlen);
    }
    *all = buf;
    return 0;
}

int mill__comm_world(MPI_Comm *comm, int *rank, int *size) {
    if (MPI_Comm_dup(MPI_COMM_WORLD, comm) != MPI_SUCCESS) {
        fprintf(stderr, "mpimill: error: MPI_Comm_dup failed\n");
        return MILL_EMPI;
    }
    char err[MILL__ERRLEN];
    int rc = MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS) mill__mpi_error(rc, "MPI_Comm_set_errhandler", err, sizeof err);
    if (rc != MPI_SUCCESS || mill__comm_shape(*comm, rank, size, err, sizeof err)) {
        fprintf(stderr, "mpimill: error: %s\n", err);
        (void)MPI_Comm_free(comm); /* failing too: MPI is unusable, and the command exits */
        return MILL_EMPI;
    }
    return 0;
}
