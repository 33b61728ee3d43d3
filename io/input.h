/* input.h -- the job's input set and its division among ranks.
 *
 * Inputs are files and directories. Rank 0 expands them into a sorted list of
 * regular files with sizes; every rank then computes its own byte ranges of
 * that list with mill__split(). Text readers (text.c) turn a byte range into
 * whole lines such that every line is read by exactly one rank.
 */
#ifndef MILL_IO_INPUT_H
#define MILL_IO_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct mill__file {
    char *path;
    uint64_t size;
} mill__file;

typedef struct mill__inputs {
    mill__file *files; /* sorted by path within each argument, in argument order */
    size_t n;
    uint64_t total; /* sum of sizes */
} mill__inputs;

/* One contiguous byte range [start, end) of one input file. */
typedef struct mill__piece {
    size_t file; /* index into mill__inputs.files */
    uint64_t start, end;
} mill__piece;

/* Expands paths (files, or directories searched recursively; names starting
 * with '.' or '_' inside directories are skipped, like Hadoop) into `in`.
 * Fails with MILL_ENOENT or MILL_EIO and a message naming the path when a path
 * is missing or unreadable. */
int mill__inputs_collect(mill__inputs *in, char *const *paths, size_t npaths,
                         char *err, size_t errlen);

/* Frees what mill__inputs_collect or mill__inputs_unpack allocated. */
void mill__inputs_free(mill__inputs *in);

/* Serializes the list into a malloc'ed buffer (for MPI_Bcast) and back. */
int mill__inputs_pack(const mill__inputs *in, char **buf, size_t *len);
int mill__inputs_unpack(mill__inputs *in, const char *buf, size_t len);

/* Computes rank's share of the inputs: the bytes [total*rank/size,
 * total*(rank+1)/size) of the concatenated files, cut at file boundaries.
 * Writes at most `max` pieces into out and returns how many there are
 * (which may exceed max: call again with a larger array). */
size_t mill__split(const mill__inputs *in, int rank, int size, mill__piece *out, size_t max);

#endif
