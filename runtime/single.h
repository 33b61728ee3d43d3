/* single.h -- --single-file output (see single.c). */
#ifndef MILL_SINGLE_H
#define MILL_SINGLE_H

#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "ctx.h"

/* Collective; status is this rank's outcome so far: a failure in it stops
 * every rank before anything is written (a later one fails the job at its
 * vote; the staging area is then never published). Appends this rank's
 * block -- the first len bytes of the file tmp -- to the shared staging
 * file "data" at an offset reserved with an MPI_Fetch_and_op on a counter,
 * and its line "rank offset length token" to "_index" (another counter)
 * under the index lock. Returns when every rank's block is written. */
int mill__single_write(mill_ctx *ctx, mill__commit *commit, int status, int tmp, uint64_t len, char *err,
                       size_t errlen);

#endif
