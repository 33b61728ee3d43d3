/* h5io.h -- what parallel HDF5 cannot survive, for its reader and writer.
 *
 * HDF5 1.10 goes out of step across ranks when an MPI-IO call fails on one
 * of them (a read of the superblock on rank 0, which then broadcasts it; a
 * write at the close), and the ranks wait for one another for ever; and
 * after a failed MPI_File_close it keeps the file, to close it again, and
 * crash, inside MPI_Finalize. The guard turns both into an error line and
 * an exit.
 */
#ifndef MILL_IO_H5IO_H
#define MILL_IO_H5IO_H

#include <mpi.h>
#include <stddef.h>

/* The MPI-IO error handler of the files HDF5 opens between on and off. */
typedef struct mill__h5_guard {
    MPI_Errhandler old, eh;
} mill__h5_guard;

/* Until mill__h5_guard_off, an MPI-IO call that fails on a file opened
 * meanwhile ends the job: this rank prints "mpimill: error: rank R: WHAT:
 * MPI-IO on PATH failed: CAUSE; aborting the job ..." and calls MPI_Abort on
 * comm. One guard per process at a time. Returns 0, or MILL_EMPI with a
 * message in err. */
int mill__h5_guard_on(mill__h5_guard *g, MPI_Comm comm, const char *what, const char *path, char *err,
                      size_t errlen);

/* Puts the previous handler back. Returns 0, or MILL_EMPI with a message in
 * err (when err is not NULL and the handler cannot be restored). */
int mill__h5_guard_off(mill__h5_guard *g, char *err, size_t errlen);

#endif
