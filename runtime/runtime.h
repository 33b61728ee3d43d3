/* runtime.h -- declarations shared inside the runtime (not installed). */
#ifndef MILL_RUNTIME_H
#define MILL_RUNTIME_H

#include <mpi.h>
#include <stddef.h>

#include "agree.h"
#include "config.h"
#include "mpimill/job.h"

/* Exit codes of the mpimill command. */
#define MILL_EXIT_OK 0
#define MILL_EXIT_RUNTIME 1
#define MILL_EXIT_USAGE 2

/* Installs the handlers of the signals that stop a job (signals.c). */
int mill__signals_install(void);
/* Returns the first stop signal received, or 0. */
int mill__stop_signal(void);
/* Writes why the job stopped into err and returns MILL_EABORT. */
int mill__stop_error(char *err, size_t errlen);
/* Writes "stopped by SIGX (what sends it)" for stop signal sig into buf. */
void mill__stop_reason(int sig, char *buf, size_t len);

/* Reports a crash (SIGSEGV, SIGABRT, ...) as happening in ctx's plugin at
 * the record being mapped -- or, while ctx->job is NULL, as the plugin
 * plugin_path loading, and once ctx->committed is set, after the commit;
 * NULL stops reporting. A call of exit() while watched is reported the same
 * way and the process exits 1 (a plugin's exit(0) is not a success). */
struct mill_ctx;
void mill__crash_watch(const struct mill_ctx *ctx, const char *plugin_path);

/* Progress of the map phase on rank 0 (progress.c): start with the input
 * bytes of `where` (this rank, or the ranks of its node that share their
 * pieces), update with the bytes they did (cheap: prints only when due),
 * end before anything else is printed. Without exact (a gzip or HDF5
 * input: bytes read are not bytes on disk) it gives no fraction or ETA. */
void mill__progress_start(const char *job, int rank, int quiet, uint64_t total_bytes, int exact, const char *where);
void mill__progress_update(uint64_t done_bytes);
void mill__progress_end(void);
/* Clears the bar from a terminal's line before another message there. */
void mill__progress_clear(void);

/* Runs `mpimill run ...` (argv[0] == "run"); returns the process exit code. */
int mill__run_main(int argc, char **argv);

/* Runs `mpimill report ...` (argv[0] == "report", report.c); returns the
 * process exit code. */
int mill__report_main(int argc, char **argv);

/* Runs `mpimill pipeline FILE` (argv[0] == "pipeline", pipeline.c) inside
 * MPI: the stages of FILE in order, skipping each stage whose output is
 * already committed with the fingerprint it would compute. Returns the
 * process exit code (the first failing stage's). */
int mill__pipeline_main(int argc, char **argv);

/* Runs `mpimill submit [OPTIONS] [SBATCH OPTIONS] -- JOB ARGS...` (argv[0]
 * == "submit", submit.c; no MPI): writes a batch script and submits it with
 * sbatch, printing the job id. Returns the process exit code. */
int mill__submit_main(int argc, char **argv);

#endif
