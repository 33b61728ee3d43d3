/* locker.c -- exercises the plugin's named locks.
 *   mode=count: per record, a non-atomic read-modify-write of the number in
 *               --opt file=PATH under mill_lock_fenced; tokens must grow.
 *   mode=leak:  the last rank takes "leaked" in setup and never releases it.
 *   mode=hold:  rank 0 holds "x" from setup to teardown; others take "x".
 *   mode=fail:  rank 0 takes "x" at its first record and fails holding it;
 *               the others take and release "x" for every record.
 *   mode=order: in setup, names a < b < c where a and c share a lock (equal
 *               mill_lock_order) and b does not; rank 0 takes {b, c}, rank
 *               1 {a, b}, two seconds apart, sorted by=name or by=order.
 *               By name the two ranks deadlock; by order they never do.
 *   mode=rw:    per record, odd lines read under mill_lock_shared "rw" (the
 *               --opt file=PATH marker must be absent), even lines write
 *               under mill_lock "rw" (create the marker, wait, remove it).
 */
#include <errno.h>
#include <fcntl.h>
#include <mpimill/job.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const options[] = {"by", "file", "mode", NULL};

/* Finds the names of mode=order: a < b < c by name, a and c of equal order. */
static int colliding(mill_ctx *ctx, char a[8], char b[8], char c[8]) {
    uint64_t o[1000];
    for (int i = 0; i < 1000; i++) {
        char n[8];
        snprintf(n, sizeof n, "n%03d", i);
        if (mill_lock_order(ctx, n, &o[i]) != 0) return MILL_EJOB;
    }
    for (int i = 0; i < 1000; i++)
        for (int k = i + 2; k < 1000; k++)
            if (o[i] == o[k] && o[i + 1] != o[i]) {
                snprintf(a, 8, "n%03d", i);
                snprintf(b, 8, "n%03d", i + 1);
                snprintf(c, 8, "n%03d", k);
                return 0;
            }
    mill_fail(ctx, "no two names of n000..n999 share a lock");
    return MILL_EJOB;
}

static int take_two(mill_ctx *ctx) {
    char a[8], b[8], c[8];
    int rc = colliding(ctx, a, b, c);
    if (rc || mill_rank(ctx) > 1) return rc;
    const char *first = mill_rank(ctx) == 0 ? b : a, *second = mill_rank(ctx) == 0 ? c : b; /* by name */
    const char *by = mill_opt(ctx, "by");
    uint64_t o1, o2;
    if (by && !strcmp(by, "order") && mill_lock_order(ctx, first, &o1) == 0 &&
        mill_lock_order(ctx, second, &o2) == 0 && o2 < o1) {
        const char *t = first;
        first = second, second = t;
    }
    if ((rc = mill_lock(ctx, first)) != 0) return rc;
    sleep(2); /* both ranks hold their first lock before either asks for its second */
    if ((rc = mill_lock(ctx, second)) != 0) return rc;
    if ((rc = mill_unlock(ctx, second)) != 0) return rc;
    return mill_unlock(ctx, first);
}

/* mode=rw: a writer excludes readers and writers; readers share. */
static int read_write(mill_ctx *ctx, const mill_record *rec) {
    const char *marker = mill_opt(ctx, "file");
    int rc, write = rec->data[rec->len - 1] % 2 == 0; /* the line's number: even writes */
    if ((rc = write ? mill_lock(ctx, "rw") : mill_lock_shared(ctx, "rw")) != 0) return rc;
    if (write) {
        int fd = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0) {
            mill_fail(ctx, "a writer found another writer's marker: %s", strerror(errno));
            return MILL_EJOB;
        }
        close(fd);
        usleep(200);
        if (unlink(marker) != 0) return MILL_EIO;
    } else {
        if (access(marker, F_OK) == 0) {
            mill_fail(ctx, "a reader under mill_lock_shared saw a writer's marker");
            return MILL_EJOB;
        }
        usleep(50);
    }
    if ((rc = mill_unlock(ctx, "rw")) != 0) return rc;
    return mill_count(ctx, write ? "writes" : "reads", 1);
}

static int locker_map(mill_ctx *ctx, const mill_record *rec) {
    const char *mode = mill_opt(ctx, "mode");
    int rc;
    if (!strcmp(mode, "order")) return 0;
    if (!strcmp(mode, "rw")) return read_write(ctx, rec);
    if (!strcmp(mode, "leak")) return mill_count(ctx, "records", 1);
    if (!strcmp(mode, "fail") && mill_rank(ctx) == 0) {
        if ((rc = mill_lock(ctx, "x")) != 0) return rc;
        mill_fail(ctx, "failing while holding x");
        return MILL_EJOB;
    }
    if (!strcmp(mode, "hold") || !strcmp(mode, "fail")) {
        if (mill_rank(ctx) == 0) return 0;
        if ((rc = mill_lock(ctx, "x")) != 0) return rc;
        return mill_unlock(ctx, "x");
    }
    uint64_t token;
    static uint64_t last;
    if ((rc = mill_lock_fenced(ctx, "counter", &token)) != 0) return rc;
    if (token <= last) {
        mill_fail(ctx, "fencing token %llu after %llu", (unsigned long long)token, (unsigned long long)last);
        return MILL_EJOB;
    }
    last = token;
    FILE *f = fopen(mill_opt(ctx, "file"), "r+");
    long n = 0;
    if (!f || fscanf(f, "%ld", &n) != 1) {
        mill_fail(ctx, "cannot read the counter file");
        if (f) fclose(f);
        return MILL_EJOB;
    }
    rewind(f);
    fprintf(f, "%ld\n", n + 1);
    if (fclose(f) != 0) return MILL_EIO;
    if ((rc = mill_unlock(ctx, "counter")) != 0) return rc;
    (void)rec;
    return mill_count(ctx, "records", 1);
}

static int locker_setup(mill_ctx *ctx) {
    const char *mode = mill_opt(ctx, "mode");
    if (!mode || (strcmp(mode, "count") && strcmp(mode, "leak") && strcmp(mode, "hold") && strcmp(mode, "fail") &&
                  strcmp(mode, "order") && strcmp(mode, "rw"))) {
        mill_fail(ctx, "option mode must be count, leak, hold, fail, order or rw");
        return MILL_EINVAL;
    }
    if (!strcmp(mode, "order")) return take_two(ctx);
    if (!strcmp(mode, "leak") && mill_rank(ctx) == mill_size(ctx) - 1) return mill_lock(ctx, "leaked");
    if (!strcmp(mode, "hold") && mill_rank(ctx) == 0) return mill_lock(ctx, "x");
    return 0;
}

static void locker_teardown(mill_ctx *ctx) {
    if (!strcmp(mill_opt(ctx, "mode"), "hold") && mill_rank(ctx) == 0) (void)mill_unlock(ctx, "x");
}

MILL_JOB(.name = "locker", .description = "named-lock exercises", .value_type = MILL_VALUE_U64,
         .combine_op = MILL_COMBINE_SUM, .options = options, .setup = locker_setup,
         .map = locker_map, .teardown = locker_teardown)
