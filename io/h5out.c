/* h5out.c -- collective HDF5 output (see h5out.h). Offsets of each rank's
 * slice come from MPI_Exscan; every rank takes part in every create and
 * write, selecting nothing when it has nothing to write. */
#include "h5out.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agree.h"
#include "fault.h"
#include "h5io.h"
#include "write.h"

#include "mpimill/job.h"

#define CHUNK ((hsize_t)1 << 20)
#define ROUND ((uint64_t)4 << 20) /* bytes of a dataset each rank writes per collective H5Dwrite */

/* One column of the collected output, in an unlinked temporary file behind
 * a small buffer: memory stays at the buffers (and one round's block in
 * the write) whatever the output's size. */
#define COL_BUF ((size_t)256 << 10)
typedef struct col {
    int fd;
    unsigned char *buf;
    size_t len;     /* bytes in buf */
    uint64_t total; /* bytes put so far */
} col;

enum { KEYS, VALS, KOFF, VOFF, NCOLS };

struct mill__h5out {
    int value_type;
    col c[NCOLS]; /* key bytes, value bytes, each key's and value's start (u64) */
    uint64_t n;
    int werr;     /* errno of the first failed write to a column */
    const char *dir; /* where the columns are, for messages */
};

/* Writes a column's buffer out. The first failure is sticky: a buffer
 * written in part is never written again (its bytes would repeat). */
static int col_flush(mill__h5out *h, col *c) {
    if (h->werr) return MILL_EIO;
    int e = mill__write_all(c->fd, c->buf, c->len);
    if (e) {
        if (!h->werr) h->werr = e;
        return MILL_EIO;
    }
    c->len = 0;
    return 0;
}

static int col_put(mill__h5out *h, col *c, const void *p, size_t n) {
    c->total += n;
    while (n > 0) {
        if (c->len == COL_BUF && col_flush(h, c) != 0) return MILL_EIO;
        size_t k = COL_BUF - c->len < n ? COL_BUF - c->len : n;
        memcpy(c->buf + c->len, p, k);
        c->len += k;
        p = (const char *)p + k;
        n -= k;
    }
    return 0;
}

int mill__h5out_open(mill__h5out **out, int value_type, const int fds[4], const char *dir) {
    *out = calloc(1, sizeof **out);
    if (!*out) {
        for (int i = 0; i < NCOLS; i++) close(fds[i]);
        return MILL_ENOMEM;
    }
    (*out)->value_type = value_type;
    (*out)->dir = dir;
    int rc = 0;
    for (int i = 0; i < NCOLS; i++) {
        (*out)->c[i].fd = fds[i];
        if (!((*out)->c[i].buf = malloc(COL_BUF))) rc = MILL_ENOMEM;
    }
    return rc;
}

/* The message of a failed write to a column. */
static int col_error(const mill__h5out *h, char *err, size_t errlen) {
    snprintf(err, errlen, "HDF5 output: collecting the records in %s: %s", h->dir, strerror(h->werr));
    return MILL_EIO;
}

int mill__h5out_add(mill__h5out *h, const void *key, size_t klen, const void *value, size_t vlen, char *err,
                    size_t errlen) {
    if (h->value_type != MILL_VALUE_BYTES && vlen != 8) return MILL_EJOB;
    uint64_t ko = h->c[KEYS].total, vo = h->c[VALS].total;
    if (col_put(h, &h->c[KOFF], &ko, 8) || col_put(h, &h->c[VOFF], &vo, 8) || col_put(h, &h->c[KEYS], key, klen) ||
        col_put(h, &h->c[VALS], value, vlen))
        return col_error(h, err, errlen);
    h->n++;
    return 0;
}

void mill__h5out_free(mill__h5out *h) {
    if (!h) return;
    for (int i = 0; i < NCOLS; i++) {
        free(h->c[i].buf);
        if (h->c[i].fd >= 0) close(h->c[i].fd);
    }
    free(h);
}

/* Where a dataset's elements come from: column c of this rank (esize bytes
 * each, `have` of them), each plus `base` (offsets: local -> global), and
 * for the offsets of the last rank one element more, `end`. */
typedef struct source {
    const col *c;
    size_t esize;
    uint64_t have, base, end;
} source;

/* Fills buf with elements [i, i + n) of src. Returns 0 or -1 (errno set). */
static int source_read(const source *src, uint64_t i, uint64_t n, unsigned char *buf) {
    uint64_t from_file = i >= src->have ? 0 : (src->have - i < n ? src->have - i : n);
    size_t want = (size_t)(from_file * src->esize), got = 0;
    while (got < want) {
        ssize_t r = pread(src->c->fd, buf + got, want - got, (off_t)(i * src->esize + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO;
            return -1;
        }
        got += (size_t)r;
    }
    uint64_t *o = (uint64_t *)(void *)buf;
    if (src->base)
        for (uint64_t k = 0; k < from_file && src->esize == 8; k++) o[k] += src->base;
    if (from_file < n) o[from_file] = src->end; /* the one element past the file: the end offset */
    return 0;
}

/* The errno of the first failed dataset write, when it names an I/O error
 * (MPI-IO's write leaves it set; HDF5's error stack does not carry it). */
static int write_errno;

/* Keeps errno as write_errno, after a failed HDF5 call, when it is the first
 * and names an I/O error. */
static void keep_write_errno(void) {
    if (!write_errno && (errno == ENOSPC || errno == EDQUOT || errno == EIO)) write_errno = errno;
}

/* Collective: creates a chunked, deflated 1-D dataset of `total` elements and
 * writes this rank's n elements from src at `at`, in `rounds` rounds (the
 * most any rank needs) through block (ROUND bytes). */
static int write_1d(hid_t f, const char *name, hid_t ftype, hid_t mtype, uint64_t total, uint64_t at,
                    const source *src, uint64_t n, uint64_t rounds, unsigned char *block, hid_t dxpl) {
    hsize_t dims = total, maxd = H5S_UNLIMITED, chunk = total < CHUNK ? (total ? total : 1) : CHUNK;
    hid_t space = H5Screate_simple(1, &dims, &maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1, ms = -1;
    herr_t h = space < 0 || dcpl < 0 ? -1 : H5Pset_chunk(dcpl, 1, &chunk);
    if (h >= 0) h = H5Pset_deflate(dcpl, 4);
    if (h >= 0) h = (d = H5Dcreate2(f, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0 ? -1 : 0;
    /* Rounds of at most ROUND bytes; every rank makes the same number of
     * H5Dwrite calls (collective), selecting nothing when it has nothing
     * left or failed, and fails after. */
    uint64_t per = ROUND / src->esize;
    for (uint64_t k = 0; d >= 0 && k < rounds; k++) {
        uint64_t i = k * per, cnt = i < n ? (n - i < per ? n - i : per) : 0;
        hsize_t hc = cnt ? cnt : 1, st = at + i;
        if (h >= 0 && cnt && source_read(src, i, cnt, block) != 0) {
            keep_write_errno();
            h = -1;
        }
        ms = H5Screate_simple(1, &hc, NULL);
        herr_t sel = ms < 0 ? -1 : 0;
        if (sel >= 0 && h >= 0 && cnt) sel = H5Sselect_hyperslab(space, H5S_SELECT_SET, &st, NULL, &hc, NULL);
        else if (sel >= 0) sel = H5Sselect_none(space) < 0 || H5Sselect_none(ms) < 0 ? -1 : 0;
        if (sel < 0) h = -1;
        if (ms < 0) break; /* cannot take part: HDF5 itself is failing */
        if (sel < 0) (void)(H5Sselect_none(space) < 0 || H5Sselect_none(ms) < 0);
        errno = 0;
        herr_t w = H5Dwrite(d, mtype, ms, space, dxpl, block);
        if (w < 0) keep_write_errno(); /* from MPI-IO's write */
        if (w >= 0 && mill__fault_site(MILL_FAULT_SITE_H5_WRITE)) w = -1;
        if (w >= 0) MILL_FAULT(MILL_FAULT_MID_WRITE); /* data.h5 partly written, metadata not flushed */
        if (h >= 0) h = w;
        H5Sclose(ms);
        ms = -1;
    }
    errno = 0;
    if (d >= 0 && H5Dclose(d) < 0) {
        keep_write_errno();
        h = -1;
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return h < 0 ? MILL_EIO : 0;
}

static int attr_str(hid_t f, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a = -1;
    herr_t h = t < 0 || s < 0 ? -1 : H5Tset_size(t, strlen(value) + 1);
    if (h >= 0 && (a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT)) < 0) h = -1;
    if (h >= 0) h = H5Awrite(a, t, value);
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    return h < 0 ? MILL_EIO : 0;
}

static int attr_u64(hid_t f, const char *name, const uint64_t *v, hsize_t n) {
    hid_t s = H5Screate_simple(1, &n, NULL), a = -1;
    herr_t h = s < 0 ? -1 : 0;
    if (h >= 0 && (a = H5Acreate2(f, name, H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT)) < 0) h = -1;
    if (h >= 0) h = H5Awrite(a, H5T_NATIVE_UINT64, v);
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return h < 0 ? MILL_EIO : 0;
}


/* Ends the job while the HDF5 file is open and a rank failed: parallel HDF5
 * cannot close a file after a failed write or in a full filesystem (its
 * ranks go out of step in H5Fclose's metadata flush and wait there for
 * ever). Every rank knows (the caller agreed); rank 0 prints the error and
 * all abort. Nothing is committed, and the next run on the output (or
 * mpimill recover) removes the staging directory left behind. */
static void abort_open(MPI_Comm comm, int rank, const char *err) {
    if (rank == 0)
        fprintf(stderr, "mpimill: error: %s; aborting the job, as parallel HDF5 cannot close a file cleanly after a failed "
                "write (nothing was committed)\n", err);
    fflush(stderr);
    MPI_Abort(comm, 1);
    abort(); /* MPI_Abort does not return */
}

int mill__h5out_write(mill__h5out *h, MPI_Comm comm, int fd0, const char *job_name, int status, char *err,
                      size_t errlen) {
    int rank, size;
    if (mill__comm_shape(comm, &rank, &size, err, errlen)) return MILL_EMPI;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char path[PATH_MAX] = "";
    int rc = status;
    if (rc == 0 && rank == 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd0);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n <= 0) {
            snprintf(err, errlen, "HDF5 output: cannot find the staged file's path (%s)", link);
            rc = MILL_EIO;
        } else {
            path[n] = '\0';
        }
    }
    /* A rank that failed before (e.g. in reduce) keeps its status; the others
     * write nothing and return 0, so that the failing rank's message is the
     * one reported. */
    if (mill__agree(comm, rc, err, errlen) != 0) return rc;
    if (MPI_Bcast(path, sizeof path, MPI_CHAR, 0, comm) != MPI_SUCCESS) {
        snprintf(err, errlen, "HDF5 output: MPI_Bcast of the staged file's path failed");
        return MILL_EMPI;
    }

    /* Where this rank's slice starts in each dataset, the totals, and the
     * rounds of the busiest rank (the offsets have n + 1 elements on the
     * last rank: it writes the end). */
    uint64_t mine[3] = {h->n, h->c[KEYS].total, h->c[VALS].total}, before[3] = {0, 0, 0}, total[3];
    uint64_t nk = h->n + (rank == size - 1 ? 1 : 0), esize = h->value_type == MILL_VALUE_BYTES ? 1 : 8;
    uint64_t need[3] = {(mine[1] + ROUND - 1) / ROUND, (8 * nk + ROUND - 1) / ROUND,
                        (esize * (esize == 1 ? mine[2] : mine[0]) + ROUND - 1) / ROUND}, rounds[3];
    if (MPI_Exscan(mine, before, 3, MPI_UINT64_T, MPI_SUM, comm) != MPI_SUCCESS ||
        MPI_Allreduce(mine, total, 3, MPI_UINT64_T, MPI_SUM, comm) != MPI_SUCCESS ||
        MPI_Allreduce(need, rounds, 3, MPI_UINT64_T, MPI_MAX, comm) != MPI_SUCCESS) {
        snprintf(err, errlen, "HDF5 output: summing the ranks' record counts (MPI_Exscan, MPI_Allreduce) failed");
        return MILL_EMPI;
    }
    if (rank == 0) memset(before, 0, sizeof before); /* MPI_Exscan leaves rank 0's undefined */
    uint64_t *per_rank = malloc((size_t)size * sizeof *per_rank);
    unsigned char *block = malloc(ROUND);
    rc = per_rank && block ? 0 : MILL_ENOMEM;
    if (rc) snprintf(err, errlen, "HDF5 output: out of memory");
    for (int i = 0; rc == 0 && i < NCOLS; i++)
        if (col_flush(h, &h->c[i]) != 0) rc = col_error(h, err, errlen);
    if (per_rank && MPI_Allgather(&h->n, 1, MPI_UINT64_T, per_rank, 1, MPI_UINT64_T, comm) != MPI_SUCCESS && !rc) {
        snprintf(err, errlen, "HDF5 output: MPI_Allgather of the ranks' record counts failed");
        rc = MILL_EMPI;
    }
    if ((rc = mill__agree(comm, rc, err, errlen)) != 0) goto out;

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER), f = -1;
    /* A failed MPI-IO write (EIO on one rank, say) would leave that rank out
     * of step with the others inside HDF5's collective calls, all waiting
     * for ever: until the close, it aborts the job instead (h5io.h). */
    mill__h5_guard guard;
    rc = mill__h5_guard_on(&guard, comm, "HDF5 output", path, err, errlen);
    if (rc == 0 && (fapl < 0 || dxpl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 ||
                    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)) {
        snprintf(err, errlen, "HDF5 output: cannot set up the MPI-IO driver");
        rc = MILL_EIO;
    }
    /* The file's room: the data uncompressed, plus 1% and 64 KiB of
     * metadata. A filesystem that has not that much free stops the job
     * here, before the file is created (see abort_open for why later is
     * worse). */
    uint64_t offs = 8 * (total[0] + 1);
    uint64_t data = total[1] + offs + (esize == 1 ? total[2] + offs : 8 * total[0]);
    off_t room = (off_t)(data + data / 100 + (64u << 10));
    struct statvfs vfs;
    if (rc == 0 && rank == 0 && fstatvfs(fd0, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)room) {
        snprintf(err, errlen, "HDF5 output: %s needs up to %.1f MiB, more than its filesystem has (%.1f MiB free)",
                 path, (double)room / 1048576, (double)vfs.f_bavail * vfs.f_frsize / 1048576);
        rc = MILL_EIO;
    }
    if ((rc = mill__agree_root(comm, rc, err, errlen)) == 0 && (f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        snprintf(err, errlen, "HDF5 output: cannot create %s", path);
        rc = MILL_EIO;
    }
    /* Then the room is reserved, before any data is written, against
     * other writers taking the space meanwhile: running out of space must
     * happen here, not inside HDF5 (see abort_open). Where fallocate is not
     * supported, posix_fallocate writes zeros instead (the file then has
     * that size until HDF5 cuts it at its end of allocation in the close).
     * What the file does not use is given back after the close. */
    off_t reserved = 0;
    if (rc == 0 && rank == 0) {
        reserved = room;
        int e = fallocate(fd0, FALLOC_FL_KEEP_SIZE, 0, reserved) == 0 ? 0 : errno;
        if (e == EOPNOTSUPP || e == ENOSYS) e = posix_fallocate(fd0, 0, reserved);
        if (e == ENOSPC || e == EDQUOT) {
            snprintf(err, errlen, "HDF5 output: %s needs up to %.1f MiB, more than its filesystem has: %s", path,
                     (double)reserved / 1048576, strerror(e));
            rc = MILL_EIO;
        } else if (e && e != EOPNOTSUPP && e != ENOSYS && e != EINVAL) { /* those three: no reserving here */
            snprintf(err, errlen, "HDF5 output: reserving %.1f MiB for %s failed: %s", (double)reserved / 1048576,
                     path, strerror(e));
            rc = MILL_EIO;
        }
        if (e) reserved = 0;
    }
    if (mill__agree(comm, rc, err, errlen) != 0 && f >= 0) abort_open(comm, rank, err);
    if ((rc = mill__agree(comm, rc, err, errlen)) == 0) {
        source keys = {&h->c[KEYS], 1, mine[1], 0, 0}, vals = {&h->c[VALS], esize, mine[esize == 1 ? 2 : 0], 0, 0};
        source koff = {&h->c[KOFF], 8, h->n, before[1], before[1] + mine[1]};
        source voff = {&h->c[VOFF], 8, h->n, before[2], before[2] + mine[2]};
        int w = write_1d(f, "/key_bytes", H5T_STD_U8LE, H5T_NATIVE_UCHAR, total[1], before[1], &keys, mine[1],
                         rounds[0], block, dxpl);
        int w2 = write_1d(f, "/key_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, total[0] + 1, before[0], &koff, nk,
                          rounds[1], block, dxpl);
        if (!w) w = w2;
        const char *vt = "bytes";
        if (h->value_type == MILL_VALUE_BYTES) {
            w2 = write_1d(f, "/value_bytes", H5T_STD_U8LE, H5T_NATIVE_UCHAR, total[2], before[2], &vals, mine[2],
                          rounds[2], block, dxpl);
            if (!w) w = w2;
            w2 = write_1d(f, "/value_offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64, total[0] + 1, before[0], &voff, nk,
                          rounds[1], block, dxpl);
        } else {
            hid_t ft = h->value_type == MILL_VALUE_U64   ? H5T_STD_U64LE
                       : h->value_type == MILL_VALUE_I64 ? H5T_STD_I64LE
                                                         : H5T_IEEE_F64LE;
            hid_t mt = h->value_type == MILL_VALUE_U64   ? H5T_NATIVE_UINT64
                       : h->value_type == MILL_VALUE_I64 ? H5T_NATIVE_INT64
                                                         : H5T_NATIVE_DOUBLE;
            vt = h->value_type == MILL_VALUE_U64 ? "u64" : h->value_type == MILL_VALUE_I64 ? "i64" : "f64";
            w2 = write_1d(f, "/values", ft, mt, total[0], before[0], &vals, h->n, rounds[2], block, dxpl);
        }
        if (!w) w = w2;
        if (w) snprintf(err, errlen, "HDF5 output: writing the datasets of %s failed%s%s", path,
                        write_errno ? ": " : "", write_errno ? strerror(write_errno) : "");
        if (mill__agree(comm, w, err, errlen) != 0) abort_open(comm, rank, err);
        /* Attributes are metadata: every rank makes the same calls, or
         * none (a rank that skipped them would leave the others in
         * H5Fclose for ever). */
        {
            uint64_t ranks = (uint64_t)size;
            w = attr_str(f, "format", "mpimill-hdf5 1");
            if (!w) w = attr_str(f, "job", job_name);
            if (!w) w = attr_str(f, "value_type", vt);
            if (!w) w = attr_u64(f, "ranks", &ranks, 1);
            if (!w) w = attr_u64(f, "records", &total[0], 1);
            if (!w) w = attr_u64(f, "per_rank", per_rank, (hsize_t)size);
            if (w) snprintf(err, errlen, "HDF5 output: writing the attributes of %s failed", path);
        }
        /* Every rank's data on disk before the vote: only rank 0 fsyncs
         * data.h5 in the prepare, and HDF5's close does not sync (its MPI-IO
         * driver skips MPI_File_sync when closing); on one node the page
         * cache is shared, but not between nodes. A flush syncs (collective:
         * every rank, or none); a failed one cannot be closed after. */
        if ((rc = mill__agree(comm, w, err, errlen)) == 0) {
            int fl = H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? MILL_EIO : 0;
            if (fl) snprintf(err, errlen, "HDF5 output: flushing %s to disk failed", path);
            if (mill__agree(comm, fl, err, errlen) != 0) abort_open(comm, rank, err);
        }
    }
    if (f >= 0 && H5Fclose(f) < 0 && !rc) {
        snprintf(err, errlen, "HDF5 output: closing %s failed", path);
        rc = MILL_EIO;
    }
    /* The reserved room the file did not use goes back: a truncate to its
     * own size frees the blocks past its end (a hole punched there is not
     * done by ext4). A failure only keeps the room. */
    struct stat st;
    if (reserved > 0 && fstat(fd0, &st) == 0 && st.st_size < reserved) (void)!ftruncate(fd0, st.st_size);
    if (fapl >= 0) H5Pclose(fapl);
    if (dxpl >= 0) H5Pclose(dxpl);
    int grc = mill__h5_guard_off(&guard, rc ? NULL : err, errlen);
    if (!rc) rc = grc;
    rc = mill__agree(comm, rc, err, errlen);
out:
    free(per_rank);
    free(block);
    return rc;
}
