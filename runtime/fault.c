/* fault.c -- fault points and the file-operation countdown (see fault.h).
 *
 * State is per process and read from the environment by mill__fault_init().
 * Before that call (or when no variable is set) every hook is a no-op.
 */
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Invariants: point is 0 (none) or 1..MILL_FAULT_MAX; victim is a rank, -1
 * for all ranks; countdown is 0 (off) or the 1-based index of the first
 * operation to fail; ops counts operations seen so far on this rank. */
static struct {
    int inited, rank, size;
    int point, victim, victim_last, signo, site;
    long delay_ms;
    unsigned char delayed[MILL_FAULT_MAX + 1]; /* points that have slept once */
    unsigned long countdown, ops;
    int err, persist, announced;
    const char *only; /* MPIMILL_FAULT_OPS: count only operations of this name; NULL: all */
} F;

static long env_long(const char *name, long def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    long x = strtol(v, &end, 10);
    return *end ? def : x;
}

void mill__fault_init(int rank, int size) {
    F.rank = rank;
    F.size = size;
    if (F.inited) return;
    F.inited = 1;
    F.point = (int)env_long("MPIMILL_FAULT_POINT", 0);
    if (F.point < 0 || F.point > MILL_FAULT_MAX) F.point = 0;
    const char *r = getenv("MPIMILL_FAULT_RANK");
    F.victim = -1;
    if (r && !strcmp(r, "last")) F.victim_last = 1;
    else if (r && *r && strcmp(r, "all")) F.victim = (int)env_long("MPIMILL_FAULT_RANK", -1);
    const char *s = getenv("MPIMILL_FAULT_SIGNAL");
    F.signo = (s && !strcmp(s, "TERM")) ? SIGTERM : SIGKILL;
    F.delay_ms = env_long("MPIMILL_FAULT_DELAY_MS", 0);
    long cd = env_long("MPIMILL_FAULT_COUNTDOWN", 0);
    F.countdown = cd > 0 ? (unsigned long)cd : 0;
    const char *e = getenv("MPIMILL_FAULT_ERRNO");
    F.err = (e && !strcmp(e, "ENOSPC")) ? ENOSPC : EIO;
    F.persist = env_long("MPIMILL_FAULT_PERSIST", 0) != 0;
    F.site = (int)env_long("MPIMILL_FAULT_SITE", 0);
    const char *only = getenv("MPIMILL_FAULT_OPS");
    F.only = only && *only ? only : NULL;
}

/* Returns 1 when this rank is the chosen victim. */
static int is_victim(void) {
    if (F.victim_last) return F.rank == F.size - 1;
    return F.victim < 0 || F.victim == F.rank;
}

void mill__sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void mill__fault(int n) {
    if (!F.inited) return;
    if (F.delay_ms > 0 && n > 0 && n <= MILL_FAULT_MAX && !F.delayed[n]) {
        F.delayed[n] = 1;
        mill__sleep_ms(F.delay_ms);
    }
    if (F.point != n || !is_victim()) return;
    fprintf(stderr, "mpimill: fault: rank %d: point %d: raising SIG%s\n", F.rank, n,
            F.signo == SIGKILL ? "KILL" : "TERM");
    fflush(stderr);
    raise(F.signo); /* a handled TERM returns here: the job stops at its next check */
}

int mill__fault_site(int n) {
    if (!F.inited || F.site != n || !is_victim()) return 0;
    fprintf(stderr, "mpimill: fault: rank %d: site %d fails\n", F.rank, n);
    return 1;
}

int mill__fault_op(const char *what) {
    if (!F.inited || !F.countdown || !is_victim() || (F.only && strcmp(what, F.only) != 0)) return 0;
    F.ops++;
    if (F.ops < F.countdown || (!F.persist && F.ops > F.countdown)) return 0;
    if (!F.announced || !F.persist) {
        fprintf(stderr, "mpimill: fault: rank %d: file operation %lu (%s) fails with %s\n", F.rank,
                F.ops, what, F.err == ENOSPC ? "ENOSPC" : "EIO");
        F.announced = 1;
    }
    errno = F.err;
    return -1;
}

int mill__fault_openat(int dirfd, const char *name, int flags, mode_t mode) {
    return mill__fault_op("open") ? -1 : openat(dirfd, name, flags, mode);
}

int mill__fault_mkdirat(int dirfd, const char *name, mode_t mode) {
    return mill__fault_op("mkdir") ? -1 : mkdirat(dirfd, name, mode);
}

int mill__fault_fsync(int fd) { return mill__fault_op("fsync") ? -1 : fsync(fd); }

int mill__fault_fchmod(int fd, mode_t mode) { return mill__fault_op("chmod") ? -1 : fchmod(fd, mode); }

int mill__fault_unlinkat(int dirfd, const char *name, int flags) {
    return mill__fault_op("unlink") ? -1 : unlinkat(dirfd, name, flags);
}

int mill__fault_renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname,
                          unsigned flags) {
    if (flags && mill__fault_site(MILL_FAULT_SITE_RENAME_FLAGS)) {
        errno = EINVAL;
        return -1;
    }
    return mill__fault_op("rename") ? -1 : renameat2(olddirfd, oldname, newdirfd, newname, flags);
}

ssize_t mill__fault_pread(int fd, void *buf, size_t n, off_t off) {
    return mill__fault_op("read") ? -1 : pread(fd, buf, n, off);
}

ssize_t mill__fault_pwrite(int fd, const void *buf, size_t n, off_t off) {
    return mill__fault_op("write") ? -1 : pwrite(fd, buf, n, off);
}

ssize_t mill__fault_write(int point, int fd, const void *buf, size_t n) {
    if (mill__fault_op("write")) return -1;
    if (F.inited && F.point == point && is_victim() && n > 1) {
        ssize_t h = write(fd, buf, n / 2);
        if (h < 0) return h;
        mill__fault(point);
        return h; /* not killed (a handled TERM): a short write, the caller goes on */
    }
    return write(fd, buf, n);
}

int mill__fault_write_all(int point, int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = mill__fault_write(point, fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
