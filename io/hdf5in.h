/* hdf5in.h -- rows of a numeric HDF5 dataset as records.
 *
 * An input FILE:/path/to/dataset names a 1-D or 2-D dataset of an integer
 * or floating-point type. Every rank of the communicator opens the file
 * (parallel HDF5, MPI-IO driver) and reads its own block of rows, the rows
 * [N*r/P, N*(r+1)/P), with independent transfers. A record is one row: its
 * values converted by HDF5 to native doubles (8 bytes each, 8-byte aligned;
 * one value for 1-D, one per column for 2-D); offset is the row index and
 * line is the row index + 1.
 */
#ifndef MILL_IO_HDF5IN_H
#define MILL_IO_HDF5IN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "read.h"

/* Collective over comm. Reads the dataset named by spec (the file name is
 * spec[0, dsoff), the dataset spec + dsoff + 1) and calls fn for each of this
 * rank's rows; fn == NULL only takes part. ino, birth_ns and size are the
 * file's inode, birth time and size when the job listed it (0: not
 * checked): a file replaced, or of another size, before the open
 * or after the last read, is an error (mill__file_check). Every
 * rank returns an error when any rank fails to open the file or the dataset,
 * or finds a type other than integer or float, a rank other than 1 or 2, or
 * rows wider than 2^28 - 1 values (MILL_EFORMAT, MILL_ENOENT or MILL_EIO with a
 * message naming the file and dataset). After the open, a failed read or
 * fn's non-zero return is this rank's alone: it stops reading and returns
 * it, having taken part in the collective close; the caller agrees. A
 * failed MPI-IO call inside HDF5, from the open to the close, aborts the
 * job (mill__h5_guard_on). */
int mill__hdf5_read(const char *spec, size_t dsoff, uint64_t ino, uint64_t birth_ns, uint64_t size,
                    MPI_Comm comm, mill__record_fn fn, void *arg, char *err, size_t errlen);

/* Sets *addr to the address in `file` of the object that `dataset` (from
 * its leading '/') names: names of one dataset (a soft or hard link to it,
 * or another spelling) give one address. Not for an external link (-1):
 * its object is in another file. Serial: opens the file alone,
 * with the default driver. Returns 0, or -1 when the file or the object
 * cannot be found (the reader then reports why). */
int mill__hdf5_address(const char *file, const char *dataset, uint64_t *addr);

#endif
