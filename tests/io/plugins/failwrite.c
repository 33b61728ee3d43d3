/* failwrite.c -- an LD_PRELOAD shim for io_e2e.sh: on the rank named by
 * MILL_FAILWRITE_RANK, every write to a file named data.h5 after the first
 * MILL_FAILWRITE_AFTER (default 0) fails with EIO, as a failing disk would
 * under one rank of a parallel HDF5 write. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Whether this write to fd is to fail. */
static int victim(int fd) {
    const char *r = getenv("OMPI_COMM_WORLD_RANK"), *want = getenv("MILL_FAILWRITE_RANK");
    if (!r || !want || strcmp(r, want) != 0) return 0;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 8) return 0;
    path[n] = '\0';
    if (strcmp(path + n - 8, "/data.h5") != 0) return 0;
    static long seen;
    const char *after = getenv("MILL_FAILWRITE_AFTER");
    return ++seen > (after ? atol(after) : 0);
}

#define REAL(name) (__extension__(__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *b, size_t n) {
    if (victim(fd)) return errno = EIO, -1;
    return REAL(write)(fd, b, n);
}
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) {
    if (victim(fd)) return errno = EIO, -1;
    return REAL(pwrite)(fd, b, n, o);
}
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) {
    if (victim(fd)) return errno = EIO, -1;
    return REAL(pwrite64)(fd, b, n, o);
}
ssize_t writev(int fd, const struct iovec *v, int c) {
    if (victim(fd)) return errno = EIO, -1;
    return REAL(writev)(fd, v, c);
}
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o) {
    if (victim(fd)) return errno = EIO, -1;
    return REAL(pwritev)(fd, v, c, o);
}
