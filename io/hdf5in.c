/* hdf5in.c -- hyperslab reader for numeric HDF5 datasets (see hdf5in.h).
 * The file is opened collectively; each rank then reads its rows in blocks
 * of about 8 MiB with independent H5Dread calls, so a read that fails on one
 * rank (a corrupt chunk) cannot leave the others waiting inside HDF5. */
#include "hdf5in.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agree.h"
#include "fault.h"
#include "h5io.h"
#include "input.h"

#include "mpimill/job.h"

#define BLOCK_VALUES (1u << 20)
/* A row is read in one H5Dread, whose bytes in the file (up to 8 per value)
 * the MPI-IO driver takes as an int: a row of 2^28 doubles, 2 GiB, failed. */
#define MAX_COLUMNS (((hsize_t)1 << 28) - 1)

/* The cause of an HDF5 failure: the innermost description on its error
 * stack ("truncated file: eof = 4096, ..."), but a filter's ("required
 * filter 'lzf' is not registered") before the plugin search's under it
 * ("can't open directory: .../plugins"). */
typedef struct h5__why {
    char *buf; /* 256 bytes: ": DESCRIPTION", or "" when the stack holds none */
    int filter; /* buf is a filter's */
} h5__why;

static herr_t h5__innermost(unsigned n, const H5E_error2_t *e, void *arg) {
    h5__why *w = arg;
    int filter = e->maj_num == H5E_PLINE;
    if (e->desc && *e->desc && (n == 0 || (filter && !w->filter))) {
        snprintf(w->buf, 256, ": %s", e->desc);
        w->filter = filter;
    }
    return 0;
}

static const char *h5__cause(char buf[256]) {
    h5__why w = {buf, 0};
    buf[0] = '\0';
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5__innermost, &w);
    return buf;
}

/* Keeps HDF5's error stack off stderr: messages are ours. */
static void h5__quiet(void) {
    static int quiet;
    if (!quiet) (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    quiet = 1;
}

int mill__hdf5_address(const char *file, const char *dataset, uint64_t *addr) {
    h5__quiet();
    if (H5Fis_hdf5(file) <= 0) return -1;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    H5O_info_t info, root;
    /* An external link leads to an object of another file, whose address
     * may equal one of this file's: it is compared by name. */
    int rc = H5Lexists(f, dataset, H5P_DEFAULT) > 0 &&
                     H5Oget_info_by_name2(f, dataset, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
                     H5Oget_info_by_name2(f, "/", &root, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
                     info.fileno == root.fileno
                 ? 0
                 : -1;
    if (rc == 0) *addr = (uint64_t)info.addr;
    (void)H5Fclose(f); /* read-only: nothing to lose */
    return rc;
}

int mill__hdf5_read(const char *spec, size_t dsoff, uint64_t ino, uint64_t birth_ns, uint64_t fsize,
                    MPI_Comm comm, mill__record_fn fn, void *arg, char *err, size_t errlen) {
    h5__quiet();
    int rank, size;
    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS) {
        snprintf(err, errlen, "input %s: MPI_Comm_rank failed", spec);
        return MILL_EMPI;
    }
    char *file = strndup(spec, dsoff);
    const char *dsname = spec + dsoff + 1;
    hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID, d = H5I_INVALID_HID, type = H5I_INVALID_HID,
          fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    double *buf = NULL;
    int rc = 0;
    if (!file) {
        snprintf(err, errlen, "input %s: out of memory", spec);
        rc = MILL_ENOMEM;
    } else if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
        snprintf(err, errlen, "input %s: cannot set up the MPI-IO file driver", spec);
        rc = MILL_EIO;
    } else if ((rc = mill__file_check(spec, file, ino, birth_ns, fsize, err, errlen)) != 0) {
        /* the size too: the MPI-IO driver reads past a truncated end as zeros */
    } else if (access(file, R_OK) != 0) { /* else H5Fis_hdf5 says "not HDF5" for a file it cannot read */
        snprintf(err, errlen, "input %s: %s: %s", spec, file, strerror(errno));
        rc = MILL_EIO;
    } else if (H5Fis_hdf5(file) <= 0) {
        snprintf(err, errlen, "input %s: %s is not an HDF5 file", spec, file);
        rc = MILL_EFORMAT;
    }
    /* A failed MPI-IO call inside HDF5 (a read of the superblock on rank 0,
     * which then broadcasts it) leaves the ranks out of step and waiting
     * for ever: until the close, it aborts the job instead (h5io.h). */
    mill__h5_guard guard = {MPI_ERRHANDLER_NULL, MPI_ERRHANDLER_NULL};
    char what[64 + PATH_MAX];
    snprintf(what, sizeof what, "input %s", spec);
    if (rc == 0) rc = mill__h5_guard_on(&guard, comm, what, file, err, errlen);
    /* H5Fopen is collective: every rank goes in or none. */
    char why[256];
    if ((rc = mill__agree(comm, rc, err, errlen)) == 0 && (f = H5Fopen(file, H5F_ACC_RDONLY, fapl)) < 0) {
        snprintf(err, errlen, "input %s: cannot open %s with HDF5%s", spec, file, h5__cause(why));
        rc = MILL_EIO;
    }
    rc = mill__agree(comm, rc, err, errlen);
    hsize_t dims[2] = {0, 1};
    if (rc == 0) {
        htri_t ok = H5Lexists(f, dsname, H5P_DEFAULT);
        hid_t o = ok > 0 ? H5Oopen(f, dsname, H5P_DEFAULT) : H5I_INVALID_HID;
        H5I_type_t kind = o >= 0 ? H5Iget_type(o) : H5I_BADID;
        if (o >= 0) (void)H5Oclose(o);
        if (kind == H5I_GROUP || kind == H5I_DATATYPE) {
            snprintf(err, errlen, "input %s: %s in %s is a %s, not a dataset", spec, dsname, file,
                     kind == H5I_GROUP ? "group" : "named datatype");
            rc = MILL_EFORMAT;
        } else if (ok == 0) {
            snprintf(err, errlen, "input %s: no dataset %s in %s", spec, dsname, file);
            rc = MILL_ENOENT;
        } else if (ok < 0 || (d = H5Dopen2(f, dsname, H5P_DEFAULT)) < 0) {
            snprintf(err, errlen, "input %s: cannot open dataset %s in %s%s", spec, dsname, file, h5__cause(why));
            rc = MILL_EIO;
        } else if ((type = H5Dget_type(d)) < 0 || (fspace = H5Dget_space(d)) < 0) {
            snprintf(err, errlen, "input %s: cannot read the dataset's type and shape", spec);
            rc = MILL_EIO;
        } else {
            H5T_class_t cls = H5Tget_class(type);
            int nd = H5Sget_simple_extent_ndims(fspace);
            if (cls < 0 || nd < 0) {
                snprintf(err, errlen, "input %s: cannot read the dataset's type and shape", spec);
                rc = MILL_EIO;
            } else if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
                snprintf(err, errlen, "input %s: unsupported type (only integer and floating-point datasets)", spec);
                rc = MILL_EFORMAT;
            } else if (nd != 1 && nd != 2) {
                snprintf(err, errlen, "input %s: unsupported rank %d (only 1-D and 2-D datasets)", spec, nd);
                rc = MILL_EFORMAT;
            } else if (H5Sget_simple_extent_dims(fspace, dims, NULL) < 0) {
                snprintf(err, errlen, "input %s: cannot read the dataset's shape", spec);
                rc = MILL_EIO;
            } else if (nd == 1) {
                dims[1] = 1;
            } else if (dims[1] > MAX_COLUMNS) {
                snprintf(err, errlen, "input %s: rows of %" PRIu64 " values are too wide (at most %" PRIu64 ")",
                         spec, (uint64_t)dims[1], (uint64_t)MAX_COLUMNS);
                rc = MILL_EFORMAT;
            } else if (dims[1] == 0 && dims[0] > 0) {
                snprintf(err, errlen, "input %s: shape (%" PRIu64 ", 0): its rows hold no values", spec,
                         (uint64_t)dims[0]);
                rc = MILL_EFORMAT;
            }
        }
    }
    rc = mill__agree(comm, rc, err, errlen);
    int nd = rc == 0 ? H5Sget_simple_extent_ndims(fspace) : 1;
    __extension__ typedef unsigned __int128 u128;
    hsize_t N = dims[0], C = nd == 2 ? dims[1] : 1;
    hsize_t lo = (hsize_t)(((u128)N * (unsigned)rank) / (unsigned)size);
    hsize_t hi = (hsize_t)(((u128)N * (unsigned)(rank + 1)) / (unsigned)size);
    hsize_t block = C && BLOCK_VALUES / C ? BLOCK_VALUES / C : 1;
    if (rc == 0) {
        hsize_t mdims[2] = {block, C};
        buf = malloc((size_t)(block * (C ? C : 1)) * sizeof *buf);
        dxpl = H5Pcreate(H5P_DATASET_XFER);
        mspace = H5Screate_simple(nd, mdims, NULL);
        if (!buf || dxpl < 0 || mspace < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT) < 0) {
            snprintf(err, errlen, "input %s: out of memory for a block of rows", spec);
            rc = MILL_ENOMEM;
        }
        rc = mill__agree(comm, rc, err, errlen);
    }
    /* Independent reads: each rank reads its own rows, as many calls as it
     * needs, and a failure stops only its own loop. Without fn, none. */
    for (hsize_t s = lo; fn && rc == 0 && s < hi; s += block) {
        hsize_t n = hi - s < block ? hi - s : block;
        hsize_t st[2] = {s, 0}, cnt[2] = {n, C}, mst[2] = {0, 0};
        herr_t h = mill__fault_site(MILL_FAULT_SITE_H5_SELECT) ? -1
                   : H5Sselect_hyperslab(fspace, H5S_SELECT_SET, st, NULL, cnt, NULL);
        if (h >= 0) h = H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mst, NULL, cnt, NULL);
        double t = mill__read_clock();
        if (h >= 0) h = H5Dread(d, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, buf);
        mill__read_seconds += mill__read_clock() - t;
        if (h < 0) {
            snprintf(err, errlen, "input %s: reading rows %" PRIu64 "..%" PRIu64 " failed%s", spec, (uint64_t)s,
                     (uint64_t)(s + n), h5__cause(why));
            rc = MILL_EIO;
        }
        for (hsize_t r = 0; rc == 0 && r < n; r++) {
            mill_record rec = {.data = (const char *)(buf + r * C), .len = (size_t)C * sizeof(double),
                               .file = spec, .offset = (uint64_t)(s + r), .line = (uint64_t)(s + r + 1)};
            rc = fn(arg, &rec);
        }
    }
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (type >= 0) H5Tclose(type);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (d >= 0) H5Dclose(d);
    if (f >= 0 && H5Fclose(f) < 0 && rc == 0) {
        snprintf(err, errlen, "input %s: H5Fclose failed", spec);
        rc = MILL_EIO;
    }
    int grc = mill__h5_guard_off(&guard, rc ? NULL : err, errlen);
    if (rc == 0) rc = grc;
    if (fapl >= 0) H5Pclose(fapl);
    if (rc == 0 && file) rc = mill__file_check(spec, file, ino, birth_ns, fsize, err, errlen); /* truncated meanwhile? */
    free(buf);
    free(file);
    return rc;
}
