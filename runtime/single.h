/* single.h -- --single-file output (see single.c). */
#ifndef MILL_SINGLE_H
#define MILL_SINGLE_H

#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "ctx.h"

/* Collective; status is this rank's outcome so far, and any failure
 * stops every rank before anything is written. Appends this rank's block -- the first len bytes of the file
 * tmp -- to the shared staging file "data" at an offset reserved with one
 * MPI_Fetch_and_op, and its line "rank offset length token" to "_index"
 * under the index lock. Returns when every rank's block is written. */
int mill__single_write(mill_ctx *ctx, mill__commit *commit, int status, int tmp, uint64_t len, char *err,
                       size_t errlen);

#endif
