/* ident.c -- an input's identity: checking that the file a reader opens
 * is the one the job listed (inode number and birth time), by path or on
 * the open descriptor. Apart from input.c so that the readers, and their
 * fuzz targets, need nothing else of the listing. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "mpimill/job.h"

uint64_t mill__statx_birth(const struct statx *sx) {
    return sx->stx_mask & STATX_BTIME ? (uint64_t)sx->stx_btime.tv_sec * 1000000000u + sx->stx_btime.tv_nsec : 0;
}

/* Compares sx, a statx of the file at path, with the identity the file was
 * listed with; the contract is mill__file_check's. */
static int same_as_listed(const char *spec, const char *path, const struct statx *sx, uint64_t ino, uint64_t birth,
                          uint64_t size, char *err, size_t errlen) {
    /* A birth time this node does not report (another NFS client) is not checked. */
    if ((ino && sx->stx_ino != ino) || (birth && (sx->stx_mask & STATX_BTIME) && mill__statx_birth(sx) != birth)) {
        snprintf(err, errlen, "input %s: replaced by another file since the job listed its inputs (another job's "
                 "--overwrite?): reading it would mix two versions", spec);
        return MILL_EIO;
    }
    if (size && sx->stx_size != size) {
        snprintf(err, errlen, "input %s: %s is %" PRIu64 " bytes, %s than when the job listed it (%" PRIu64
                 "): changed while the job read it", spec, path, (uint64_t)sx->stx_size,
                 (uint64_t)sx->stx_size < size ? "shorter" : "longer", size);
        return MILL_EIO;
    }
    return 0;
}

int mill__file_check(const char *spec, const char *path, uint64_t ino, uint64_t birth, uint64_t size, char *err,
                     size_t errlen) {
    struct statx sx;
    if (!ino && !birth && !size) return 0;
    if (statx(AT_FDCWD, path, 0, STATX_INO | STATX_BTIME | STATX_SIZE, &sx) != 0) {
        snprintf(err, errlen, "input %s: %s", spec, strerror(errno));
        return MILL_EIO;
    }
    return same_as_listed(spec, path, &sx, ino, birth, size, err, errlen);
}

int mill__file_open(const mill__file *f, uint64_t *size, char *err, size_t errlen) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "input %s: %s", f->path, strerror(errno));
        return MILL_EIO;
    }
    struct statx sx;
    int rc = 0;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_SIZE, &sx) != 0) {
        snprintf(err, errlen, "input %s: %s", f->path, strerror(errno));
        rc = MILL_EIO;
    }
    if (rc == 0) rc = same_as_listed(f->path, f->path, &sx, f->ino, f->birth_ns, 0, err, errlen);
    if (rc) {
        close(fd);
        return rc;
    }
    if (size) *size = sx.stx_size;
    return fd;
}
