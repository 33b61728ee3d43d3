/* main.c -- the mpimill command: dispatches to its subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "runtime.h"
#include "partition_cli.h"
#include "plugin.h"

static const char usage[] =
    "usage: mpimill COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run JOB ...     run a job (mpirun -n N mpimill run JOB --input ... --output DIR)\n"
    "  pipeline FILE   run the jobs of FILE in order, skipping stages already committed\n"
    "  submit ... -- JOB ARGS  write a Slurm batch script for a job and sbatch it\n"
    "  jobs            list the jobs that can be run, with a one-line description\n"
    "  partition ...   show which rank owns each key read from stdin (see --help)\n"
    "  recover DIR     finish or undo what interrupted jobs left beside the output DIR\n"
    "  verify DIR      re-check the output DIR's files against its manifest _SUCCESS\n"
    "  report DIR      print DIR's metrics per rank and write a timeline beside it (HTML)\n"
    "\n"
    "  mpimill --help, mpimill --version, mpimill COMMAND --help\n";

/* Creates $MPIMILL_DONE_FILE, when set, on rank 0 of a run or pipeline
 * that succeeded. The batch scripts set it: a launcher can exit 0 without
 * having started the ranks (srun with Slurm 22.05's PMIx plugin), and the
 * file is how they tell a job that ran and succeeded -- a pipeline whose
 * stages were all done before, too -- from one that never ran. A file that
 * cannot be created is reported; the job's output stands. */
static void mark_done(void) {
    const char *path = getenv("MPIMILL_DONE_FILE");
    int rank = 1;
    if (!path || !*path || MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS || rank != 0) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || close(fd) != 0)
        fprintf(stderr, "mpimill: warning: MPIMILL_DONE_FILE %s: %s (the job succeeded)\n", path, strerror(errno));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return MILL_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    char *help_argv[] = {argv[0], argc == 3 ? argv[2] : NULL, "--help", NULL};
    if (!strcmp(cmd, "help") && argc == 3) { /* mpimill help CMD: mpimill CMD --help */
        argv = help_argv;
        cmd = argv[1];
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return MILL_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("mpimill %s (job ABI %d.%d)\n", MILL_VERSION, MILL_ABI_MAJOR, MILL_ABI_MINOR);
        return MILL_EXIT_OK;
    }
    if (!strcmp(cmd, "jobs")) {
        if (argc > 2) {
            int help = !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h");
            fprintf(help ? stdout : stderr,
                    "%susage: mpimill jobs\n"
                    "Lists the jobs `mpimill run NAME` finds: NAME.so in each directory of\n"
                    "$MPIMILL_JOB_PATH (':'-separated), then in the installed jobs directory.\n",
                    help ? "" : "mpimill jobs: takes no arguments\n");
            return help ? MILL_EXIT_OK : MILL_EXIT_USAGE;
        }
        return mill__plugin_list() ? MILL_EXIT_RUNTIME : MILL_EXIT_OK;
    }
    if (!strcmp(cmd, "partition")) return mill_partition_cli_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "recover")) return mill__recover_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify")) return mill__verify_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return mill__report_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "submit")) return mill__submit_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "run") || !strcmp(cmd, "pipeline")) {
        /* Before MPI_Init, which can take a second: a stop signal that comes
         * meanwhile (Slurm may send its warning early) must not kill the rank. */
        if (mill__signals_install() != 0) fprintf(stderr, "mpimill: warning: cannot install signal handlers\n");
        /* Open MPI 4.1's own MPI-IO (ompio) returns success from a write
         * that failed (EIO), so parallel HDF5 would commit a corrupt file
         * or hang; ROMIO reports it. Unless the user chose: */
        if (setenv("OMPI_MCA_io", "^ompio", 0) != 0) fprintf(stderr, "mpimill: warning: setenv: %s\n", strerror(errno));
        /* Numbers in manifests and outputs are C's ("0.5", never "0,5"),
         * whatever a job's setlocale() makes the process's locale: this
         * thread keeps its own. */
        locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!c || !uselocale(c)) {
            fprintf(stderr, "mpimill: error: cannot set the C locale: %s\n", strerror(errno));
            return MILL_EXIT_RUNTIME;
        }
        if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
            fprintf(stderr, "mpimill: error: MPI_Init failed\n");
            return MILL_EXIT_RUNTIME;
        }
        int code = !strcmp(argv[1], "run") ? mill__run_main(argc - 1, argv + 1)
                                            : mill__pipeline_main(argc - 1, argv + 1);
        if (code == MILL_EXIT_OK) mark_done();
        (void)MPI_Finalize(); /* the command's outcome is settled (and committed) before it */
        return code;
    }
    fprintf(stderr, "mpimill: unknown command '%s' (see mpimill --help)\n", cmd);
    return MILL_EXIT_USAGE;
}
