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

struct mill__run_args;
struct mill__inputs;

/* Writes into out the 16-hex-digit fingerprint of a run: the job plugin's
 * path, size and mtime, the output format, the options in order, and every
 * input file's path, size and mtime. Equal fingerprints mean a rerun would
 * compute the same output; the manifest stores it as "fingerprint". */
int mill__fingerprint(const struct mill__run_args *a, const char *plugin_path,
                      const struct mill__inputs *in, char out[17]);

/* Installs the handlers of the signals that stop a job (signals.c). */
int mill__signals_install(void);
/* Returns the first stop signal received, or 0. */
int mill__stop_signal(void);
/* Writes why the job stopped into err and returns MILL_EABORT. */
int mill__stop_error(char *err, size_t errlen);

/* Reports a crash (SIGSEGV, ...) as happening in ctx's plugin at the record
 * being mapped; NULL stops reporting. */
struct mill_ctx;
void mill__crash_watch(const struct mill_ctx *ctx, const char *plugin_path);

/* Runs `mpimill run ...` (argv[0] == "run"); returns the process exit code. */
int mill__run_main(int argc, char **argv);

#endif
