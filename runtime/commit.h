/* commit.h -- publishing a job's output atomically.
 *
 * All ranks write their files into a staging directory beside the output;
 * the output becomes visible only through mill__commit_end(), all at once.
 */
#ifndef MILL_COMMIT_H
#define MILL_COMMIT_H

#include <mpi.h>
#include <stddef.h>

typedef struct mill__commit mill__commit;

/* Collective. Checks that the output may be written (it must not exist unless
 * overwrite) and creates the staging directory. On failure every rank gets
 * the same error code; rank 0's err holds the message. */
int mill__commit_begin(mill__commit **out, MPI_Comm comm, const char *outdir, int overwrite,
                       char *err, size_t errlen);

/* Local. Creates file `name` in the staging directory for writing and
 * returns its descriptor in *fd. The file is recorded for the manifest. */
int mill__commit_create(mill__commit *c, const char *name, int *fd, char *err, size_t errlen);

/* Collective. `status` is this rank's outcome so far (0 = ok). When every
 * rank is ok, makes the staged files durable, writes the manifest _SUCCESS
 * (manifest_json is a JSON object's members written into it, from rank 0)
 * and publishes the output. Otherwise removes the staging directory and
 * leaves the output as it was. Frees c. Returns 0 when committed. */
int mill__commit_end(mill__commit *c, int status, const char *manifest_json, char *err,
                     size_t errlen);

#endif
