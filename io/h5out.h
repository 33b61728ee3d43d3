/* h5out.h -- `--format hdf5`: the job's output as one HDF5 file written by
 * every rank together.
 *
 * Each rank collects its output records (key, raw value) during reduce, in
 * four unlinked temporary files (key bytes, value bytes, and their
 * offsets) behind 256 KiB buffers; then all ranks write them collectively,
 * in rank order and in rounds of at most 4 MiB per rank and dataset, into
 * one file in the staging directory (so the commit publishes it with the
 * rest). Memory stays a few MiB whatever the output's size.
 * Layout (all datasets 1-D, chunked and deflated):
 *   /key_bytes      uint8   all keys, concatenated
 *   /key_offsets    uint64  n+1 offsets into key_bytes (key i is
 *                           [off[i], off[i+1]))
 *   /values         uint64, int64 or float64: value i (numeric jobs), or
 *   /value_bytes + /value_offsets  as for keys (bytes jobs)
 * Attributes of /: format ("mpimill-hdf5 1"), job, value_type ("u64",
 * "i64", "f64" or "bytes"), ranks, records (n), and per_rank (uint64 [ranks]:
 * how many records each rank wrote; each rank's keys are sorted).
 */
#ifndef MILL_IO_H5OUT_H
#define MILL_IO_H5OUT_H

#include <mpi.h>
#include <stddef.h>

typedef struct mill__h5out mill__h5out;

/* Creates an empty local collector for values of type value_type
 * (mill_value_type), over four empty temporary files (descriptors, which it
 * owns from now on, also on failure: mill__h5out_free closes them) in the
 * directory dir, which messages name (kept, not copied). Returns 0 or
 * MILL_ENOMEM. */
int mill__h5out_open(mill__h5out **out, int value_type, const int fds[4], const char *dir);

/* Appends one record (copied). A numeric job's value must be 8 bytes.
 * Returns 0, MILL_EIO (writing a temporary file failed; with the reason in
 * err) or MILL_EJOB (wrong value size). */
int mill__h5out_add(mill__h5out *h, const void *key, size_t klen, const void *value, size_t vlen, char *err,
                    size_t errlen);

/* Collective over comm. When every rank's status is 0, writes all ranks'
 * records into the file that rank 0 created as descriptor fd0 (ignored on
 * other ranks; the file is found through /proc/self/fd and recreated by
 * HDF5 at the same path), with attribute job = job_name, and returns 0, or
 * on every rank the lowest failing rank's error and message (MILL_EIO for
 * HDF5 errors). When some rank's status is not 0, nothing is written and
 * each rank returns its own status. */
int mill__h5out_write(mill__h5out *h, MPI_Comm comm, int fd0, const char *job_name, int status, char *err,
                      size_t errlen);

/* Frees h (NULL is fine). */
void mill__h5out_free(mill__h5out *h);

#endif
