/* mpifail.c -- makes the runtime's MPI calls fail, for tests/e2e/mpi_fail.sh.
 *
 * A PMPI interposer, loaded into the ranks with LD_PRELOAD. Every MPI
 * function the runtime calls that returns an error code is wrapped here
 * (MPI_Init and MPI_Finalize too); the wrapper counts its calls and passes
 * them on to PMPI_, except the one it is told to fail, which it returns
 * MPI_ERR_OTHER for without making: as a broken link or an exhausted
 * resource would, but at a chosen call.
 *
 *   MILL_TEST_MPI_FAIL=NAME:N[:RANK]  fail the Nth call (1-based) of MPI_NAME,
 *                                     on every rank or on world rank RANK only
 *   MILL_TEST_MPI_COUNT=1             print each function's call count at exit
 *                                     ("mpifail: rank R: NAME N", on stderr)
 *
 * Calls from any library in the process count (HDF5's as well), so the tests
 * count first and then fail calls that exist. A failed MPI-IO call (MPI_File_*)
 * first calls its file's error handler, as MPI itself does; a failed
 * MPI_File_open is made with an erroneous access mode, so that MPI calls
 * MPI_FILE_NULL's handler itself (MPI_File_call_errhandler refuses it).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MPIFAIL_FUNCTIONS(X)                                                                        \
    X(Init) X(Finalize) X(Comm_dup) X(Comm_free) X(Comm_rank) X(Comm_size) X(Comm_set_errhandler)     \
    X(Comm_split_type) X(Comm_group) X(Group_free) X(Group_translate_ranks) X(Bcast) X(Allreduce)     \
    X(Iallreduce) X(Reduce) X(Exscan) X(Gather) X(Gatherv) X(Allgather) X(Alltoall) X(Alltoallv)      \
    X(Barrier) X(Ibarrier) X(Test) X(Iprobe) X(Win_allocate) X(Win_allocate_shared)                   \
    X(Win_shared_query) X(Win_set_errhandler) X(Win_lock_all) X(Win_unlock_all) X(Win_free)           \
    X(Win_flush) X(Win_sync) X(Fetch_and_op) X(Accumulate) X(Compare_and_swap)                        \
    X(File_create_errhandler) X(File_set_errhandler) X(File_get_errhandler) X(Errhandler_free)          \
    X(File_open) X(File_close) X(File_set_view) X(File_get_size) X(File_set_size) X(File_sync)        \
    X(File_read_at) X(File_read_at_all) X(File_write_at) X(File_write_at_all)

#define MPIFAIL_ENUM(n) F_##n,
#define MPIFAIL_NAME(n) #n,
enum { MPIFAIL_FUNCTIONS(MPIFAIL_ENUM) F_COUNT };
static const char *const names[F_COUNT] = {MPIFAIL_FUNCTIONS(MPIFAIL_NAME)};

static long calls[F_COUNT];
static int fail_fn = -1, fail_rank = -1, rank = -1, counting;
static long fail_n;

/* Reads the settings once, before main. A malformed one stops the process:
 * a test that fails nothing would pass for the wrong reason. */
__attribute__((constructor)) static void mpifail_init(void) {
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    rank = r ? atoi(r) : 0;
    counting = getenv("MILL_TEST_MPI_COUNT") != NULL;
    const char *f = getenv("MILL_TEST_MPI_FAIL");
    if (!f || !*f) return;
    char name[64];
    int n = 0, at = -1;
    if (sscanf(f, "%63[A-Za-z_]:%d:%d", name, &n, &at) < 2 || n < 1) {
        fprintf(stderr, "mpifail: MILL_TEST_MPI_FAIL=%s: expected NAME:N[:RANK]\n", f);
        exit(99);
    }
    for (int i = 0; i < F_COUNT; i++)
        if (!strcmp(names[i], name)) fail_fn = i;
    if (fail_fn < 0) {
        fprintf(stderr, "mpifail: MILL_TEST_MPI_FAIL=%s: MPI_%s is not wrapped\n", f, name);
        exit(99);
    }
    fail_n = n;
    fail_rank = at;
}

__attribute__((destructor)) static void mpifail_report(void) {
    if (!counting) return;
    for (int i = 0; i < F_COUNT; i++)
        if (calls[i]) fprintf(stderr, "mpifail: rank %d: %s %ld\n", rank, names[i], calls[i]);
}

/* Counts a call of function f; returns 1 when it is the one to fail. */
static int hit(int f) {
    long n = ++calls[f];
    if (f != fail_fn || n != fail_n || (fail_rank >= 0 && fail_rank != rank)) return 0;
    fprintf(stderr, "mpifail: rank %d: MPI_%s call %ld fails\n", rank, names[f], n);
    return 1;
}

#define WRAP(name, params, args)                    \
    int MPI_##name params {                         \
        if (hit(F_##name)) return MPI_ERR_OTHER;    \
        return PMPI_##name args;                    \
    }

/* The same for a function on file fh, whose error handler the failure goes
 * to first. */
#define WRAP_FILE(name, fh, params, args)                                  \
    int MPI_##name params {                                                \
        if (!hit(F_##name)) return PMPI_##name args;                       \
        (void)PMPI_File_call_errhandler(fh, MPI_ERR_OTHER);                \
        return MPI_ERR_OTHER;                                              \
    }

WRAP(Init, (int *argc, char ***argv), (argc, argv))
WRAP(Finalize, (void), ())
WRAP(Comm_dup, (MPI_Comm c, MPI_Comm *n), (c, n))
WRAP(Comm_free, (MPI_Comm *c), (c))
WRAP(Comm_rank, (MPI_Comm c, int *r), (c, r))
WRAP(Comm_size, (MPI_Comm c, int *s), (c, s))
WRAP(Comm_set_errhandler, (MPI_Comm c, MPI_Errhandler e), (c, e))
WRAP(Comm_split_type, (MPI_Comm c, int t, int k, MPI_Info i, MPI_Comm *n), (c, t, k, i, n))
WRAP(Comm_group, (MPI_Comm c, MPI_Group *g), (c, g))
WRAP(Group_free, (MPI_Group *g), (g))
WRAP(Group_translate_ranks, (MPI_Group a, int n, const int r1[], MPI_Group b, int r2[]), (a, n, r1, b, r2))
WRAP(Bcast, (void *b, int n, MPI_Datatype t, int root, MPI_Comm c), (b, n, t, root, c))
WRAP(Allreduce, (const void *s, void *r, int n, MPI_Datatype t, MPI_Op o, MPI_Comm c), (s, r, n, t, o, c))
WRAP(Iallreduce, (const void *s, void *r, int n, MPI_Datatype t, MPI_Op o, MPI_Comm c, MPI_Request *q),
     (s, r, n, t, o, c, q))
WRAP(Reduce, (const void *s, void *r, int n, MPI_Datatype t, MPI_Op o, int root, MPI_Comm c),
     (s, r, n, t, o, root, c))
WRAP(Exscan, (const void *s, void *r, int n, MPI_Datatype t, MPI_Op o, MPI_Comm c), (s, r, n, t, o, c))
WRAP(Gather, (const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, int root, MPI_Comm c),
     (s, sn, st, r, rn, rt, root, c))
WRAP(Gatherv,
     (const void *s, int sn, MPI_Datatype st, void *r, const int rn[], const int d[], MPI_Datatype rt, int root,
      MPI_Comm c),
     (s, sn, st, r, rn, d, rt, root, c))
WRAP(Allgather, (const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, MPI_Comm c),
     (s, sn, st, r, rn, rt, c))
WRAP(Alltoall, (const void *s, int sn, MPI_Datatype st, void *r, int rn, MPI_Datatype rt, MPI_Comm c),
     (s, sn, st, r, rn, rt, c))
WRAP(Alltoallv,
     (const void *s, const int sn[], const int sd[], MPI_Datatype st, void *r, const int rn[], const int rd[],
      MPI_Datatype rt, MPI_Comm c),
     (s, sn, sd, st, r, rn, rd, rt, c))
WRAP(Barrier, (MPI_Comm c), (c))
WRAP(Ibarrier, (MPI_Comm c, MPI_Request *q), (c, q))
WRAP(Test, (MPI_Request *q, int *f, MPI_Status *s), (q, f, s))
WRAP(Iprobe, (int src, int tag, MPI_Comm c, int *f, MPI_Status *s), (src, tag, c, f, s))
WRAP(Win_allocate, (MPI_Aint n, int u, MPI_Info i, MPI_Comm c, void *b, MPI_Win *w), (n, u, i, c, b, w))
WRAP(Win_allocate_shared, (MPI_Aint n, int u, MPI_Info i, MPI_Comm c, void *b, MPI_Win *w), (n, u, i, c, b, w))
WRAP(Win_shared_query, (MPI_Win w, int r, MPI_Aint *n, int *u, void *b), (w, r, n, u, b))
WRAP(Win_set_errhandler, (MPI_Win w, MPI_Errhandler e), (w, e))
WRAP(Win_lock_all, (int a, MPI_Win w), (a, w))
WRAP(Win_unlock_all, (MPI_Win w), (w))
WRAP(Win_free, (MPI_Win *w), (w))
WRAP(Win_flush, (int r, MPI_Win w), (r, w))
WRAP(Win_sync, (MPI_Win w), (w))
WRAP(Fetch_and_op, (const void *o, void *r, MPI_Datatype t, int tr, MPI_Aint d, MPI_Op op, MPI_Win w),
     (o, r, t, tr, d, op, w))
WRAP(Accumulate,
     (const void *o, int on, MPI_Datatype ot, int tr, MPI_Aint d, int tn, MPI_Datatype tt, MPI_Op op, MPI_Win w),
     (o, on, ot, tr, d, tn, tt, op, w))
WRAP(Compare_and_swap, (const void *o, const void *c, void *r, MPI_Datatype t, int tr, MPI_Aint d, MPI_Win w),
     (o, c, r, t, tr, d, w))
WRAP(File_create_errhandler, (MPI_File_errhandler_function * f, MPI_Errhandler *e), (f, e))
WRAP(File_set_errhandler, (MPI_File f, MPI_Errhandler e), (f, e))
WRAP(File_get_errhandler, (MPI_File f, MPI_Errhandler *e), (f, e))
WRAP(Errhandler_free, (MPI_Errhandler * e), (e))
int MPI_File_open(MPI_Comm c, const char *n, int m, MPI_Info i, MPI_File *f) {
    if (hit(F_File_open)) m = MPI_MODE_RDONLY | MPI_MODE_RDWR; /* MPI_ERR_AMODE, through MPI's own path */
    return PMPI_File_open(c, n, m, i, f);
}
WRAP_FILE(File_close, *f, (MPI_File * f), (f))
WRAP_FILE(File_set_view, f, (MPI_File f, MPI_Offset d, MPI_Datatype e, MPI_Datatype t, const char *r, MPI_Info i),
          (f, d, e, t, r, i))
WRAP_FILE(File_get_size, f, (MPI_File f, MPI_Offset *n), (f, n))
WRAP_FILE(File_set_size, f, (MPI_File f, MPI_Offset n), (f, n))
WRAP_FILE(File_sync, f, (MPI_File f), (f))
WRAP_FILE(File_read_at, f, (MPI_File f, MPI_Offset o, void *b, int n, MPI_Datatype t, MPI_Status *s),
          (f, o, b, n, t, s))
WRAP_FILE(File_read_at_all, f, (MPI_File f, MPI_Offset o, void *b, int n, MPI_Datatype t, MPI_Status *s),
          (f, o, b, n, t, s))
WRAP_FILE(File_write_at, f, (MPI_File f, MPI_Offset o, const void *b, int n, MPI_Datatype t, MPI_Status *s),
          (f, o, b, n, t, s))
WRAP_FILE(File_write_at_all, f, (MPI_File f, MPI_Offset o, const void *b, int n, MPI_Datatype t, MPI_Status *s),
          (f, o, b, n, t, s))
