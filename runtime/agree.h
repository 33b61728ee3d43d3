/* agree.h -- agreeing on failure across ranks (runtime/agree.c). Used by
 * the runtime's phases and by io's collective HDF5 readers and writers. */
#ifndef MILL_AGREE_H
#define MILL_AGREE_H

#include <mpi.h>
#include <stdio.h>
#include <stddef.h>

/* The size of a message buffer that the job's errors go through: room for
 * two paths of PATH_MAX and the reason after them. */
#define MILL__ERRLEN 10240

/* Collective. Combines each rank's status: when every rank passes 0, returns
 * 0. Otherwise every rank returns the status of the lowest failing rank, and
 * err on rank 0 holds that rank's message, prefixed with "rank R: " when
 * more than one rank runs and not every rank failed. Never hangs as long as
 * every rank calls it. When its own MPI calls fail, it aborts the job
 * (mpirun ends every rank) after one line naming the rank: the ranks could
 * no longer agree on anything, and one that went on could wait for ever. */
int mill__agree(MPI_Comm comm, int status, char *err, size_t errlen);

/* Collective. Returns whether every rank of comm passes a nonzero ok; a
 * failed MPI call aborts, as in mill__agree. For steps with no message to
 * carry, such as whether a window was made everywhere. */
int mill__all_ok(MPI_Comm comm, int ok);

/* Collective. Like mill__agree, after a step that rank 0 took for the whole
 * job (listing the inputs, checking the output, publishing it): a failure
 * of rank 0 is the job's and its message has no "rank 0: ". */
int mill__agree_root(MPI_Comm comm, int status, char *err, size_t errlen);

/* Completes a non-blocking MPI request like MPI_Wait, but sleeps between
 * tests once it has waited 0.1 ms (naps of at most 0.25 ms): a rank that
 * waits for slower peers (ranks that finish their share early) then leaves
 * its core to them when ranks outnumber cores, instead of polling. Returns
 * the MPI code. */
int mill__wait(MPI_Request *req);

/* Makes mill__wait call fn(arg) between its tests once it naps (fn NULL:
 * nothing). The engine passes its lock set's progress: a rank waiting in a
 * collective must still pass on a lock queue entry it abandoned, or every
 * rank queued behind that entry waits out its timeout. */
void mill__wait_hook(void (*fn)(void *), void *arg);

/* Prints "mpimill: error: rank R: WHY; aborting the job" and ends every
 * rank of the job (MPI_Abort): for a rank that cannot go on without
 * leaving its peers waiting for ever. The commit protocol makes that safe
 * at any instant: the output stays the old one or is the complete new one. */
void mill__abort(MPI_Comm comm, const char *why)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* Ends the whole job when a rank cannot allocate what a collective step in
 * progress needs: going on would leave its peers waiting or mismatched.
 * Nothing is committed (the commit needs every rank's vote). */
void mill__oom_abort(MPI_Comm comm, const char *what)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* Writes s to f with each control byte (below 0x20, 0x7f, and the C1
 * controls U+0080-U+009F as UTF-8, C2 80-C2 9F) as \xNN:
 * a name read from a file or a directory (a newline, an escape sequence)
 * can neither forge a line nor drive the terminal. */
void mill__fputs_visible(FILE *f, const char *s);

/* Writes "mpimill: " and the printf-formatted message, then a newline, to
 * stderr as one line: a control character in it (a newline in a file name)
 * is written as \n, \t, \r or \xNN, so that an error stays one line. */
void mill__eprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Formats an MPI error code into err and returns MILL_EMPI. */
int mill__mpi_error(int mpi_rc, const char *what, char *err, size_t errlen);

/* Stores this rank and the number of ranks of comm. Returns 0, or MILL_EMPI
 * with err set (comm is not a valid communicator, on every rank). */
int mill__comm_shape(MPI_Comm comm, int *rank, int *size, char *err, size_t errlen);

/* Collective. Concatenates each rank's NUL-terminated string on rank 0 in
 * rank order into a malloc'ed *all (NULL on other ranks). */
int mill__gather_str(MPI_Comm comm, const char *mine, char **all, char *err, size_t errlen);

/* Duplicates MPI_COMM_WORLD for a command (errors return, not abort) and
 * gives this rank and the size. Prints one line and returns MILL_EMPI when
 * the duplicate, its error handler or its shape fails (then nothing is
 * left to free). */
int mill__comm_world(MPI_Comm *comm, int *rank, int *size);

#endif
