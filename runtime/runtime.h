/* runtime.h -- declarations shared inside the runtime (not installed). */
#ifndef MILL_RUNTIME_H
#define MILL_RUNTIME_H

#include <mpi.h>
#include <stddef.h>

#include "config.h"
#include "mpimill/job.h"

/* Exit codes of the mpimill command. */
#define MILL_EXIT_OK 0
#define MILL_EXIT_RUNTIME 1
#define MILL_EXIT_USAGE 2

/* Collective. Combines each rank's status: when every rank passes 0, returns
 * 0. Otherwise every rank returns the status of the lowest failing rank, and
 * err on rank 0 holds that rank's message prefixed with "rank R: " (when
 * more than one rank runs). Never hangs as long as every rank calls it. */
int mill__agree(MPI_Comm comm, int status, char *err, size_t errlen);

/* Formats an MPI error code into err and returns MILL_EMPI. */
int mill__mpi_error(int mpi_rc, const char *what, char *err, size_t errlen);

/* Collective. Concatenates each rank's NUL-terminated string on rank 0 in
 * rank order into a malloc'ed *all (NULL on other ranks). */
int mill__gather_str(MPI_Comm comm, const char *mine, char **all, char *err, size_t errlen);

/* Runs `mpimill run ...` (argv[0] == "run"); returns the process exit code. */
int mill__run_main(int argc, char **argv);

#endif
