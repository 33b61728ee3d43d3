/* h5io.c -- an MPI-IO error handler that ends the job, for parallel HDF5
 * (see h5io.h). */
#include "h5io.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "mpimill/job.h"

/* What the handler names: one guarded file per process at a time. */
static char io_what[PATH_MAX + 64];
static char io_path[PATH_MAX];
static int io_rank;
static MPI_Comm io_comm;

static void io_failed(MPI_File *fh, int *code, ...) {
    (void)fh;
    int len = 0;
    char msg[MPI_MAX_ERROR_STRING] = "";
    if (MPI_Error_string(*code, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", *code);
    fprintf(stderr, "mpimill: error: rank %d: %s: MPI-IO on %s failed: %s; aborting the job, as parallel HDF5 "
            "cannot go on after a failed MPI-IO call (nothing was committed)\n", io_rank, io_what, io_path, msg);
    fflush(stderr);
    MPI_Abort(io_comm, 1);
    abort(); /* MPI_Abort does not return */
}

int mill__h5_guard_on(mill__h5_guard *g, MPI_Comm comm, const char *what, const char *path, char *err,
                      size_t errlen) {
    g->old = g->eh = MPI_ERRHANDLER_NULL;
    snprintf(io_what, sizeof io_what, "%s", what);
    snprintf(io_path, sizeof io_path, "%s", path);
    io_comm = comm;
    if (MPI_Comm_rank(comm, &io_rank) != MPI_SUCCESS ||
        MPI_File_get_errhandler(MPI_FILE_NULL, &g->old) != MPI_SUCCESS ||
        MPI_File_create_errhandler(io_failed, &g->eh) != MPI_SUCCESS ||
        MPI_File_set_errhandler(MPI_FILE_NULL, g->eh) != MPI_SUCCESS) {
        snprintf(err, errlen, "%s: cannot set an MPI-IO error handler", what);
        return MILL_EMPI;
    }
    return 0;
}

int mill__h5_guard_off(mill__h5_guard *g, char *err, size_t errlen) {
    int rc = 0;
    if (g->old != MPI_ERRHANDLER_NULL && MPI_File_set_errhandler(MPI_FILE_NULL, g->old) != MPI_SUCCESS) {
        if (err) snprintf(err, errlen, "%s: cannot restore the MPI-IO error handler", io_what);
        rc = MILL_EMPI;
    }
    if (g->eh != MPI_ERRHANDLER_NULL) (void)MPI_Errhandler_free(&g->eh); /* freed when no file uses it */
    g->old = g->eh = MPI_ERRHANDLER_NULL;
    return rc;
}
