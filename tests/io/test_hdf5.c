/* test_hdf5.c -- collective HDF5 reads under mpiexec (1-4 ranks): every row
 * of 1-D and 2-D integer and float datasets is read exactly once, by the
 * rank whose block holds it, as native doubles; bad inputs (not HDF5, no
 * such dataset, strings, 3-D) fail on every rank; a failing callback on one
 * rank leaves no rank waiting in a collective read. Exits non-zero on every
 * rank when any check failed on any rank. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5in.h"
#include "input.h"
#include "read.h"

static int failures;
#define CHECK(c)                                                                      \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);    \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* Writes the test file (rank 0, serial driver). */
static void make_file(const char *path, const char *junk) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0);
    hsize_t n1 = 1001;
    int *iv = malloc(n1 * sizeof *iv);
    for (hsize_t i = 0; i < n1; i++) iv[i] = (int)i - 500;
    hid_t s = H5Screate_simple(1, &n1, NULL);
    hid_t d = H5Dcreate2(f, "/i32", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv) >= 0);
    H5Dclose(d), H5Sclose(s);
    /* 2-D float64, chunked and deflated, in a group. */
    hsize_t n2[2] = {333, 3}, ch[2] = {50, 3};
    double *dv = malloc(333 * 3 * sizeof *dv);
    for (int r = 0; r < 333; r++)
        for (int c = 0; c < 3; c++) dv[r * 3 + c] = r * 3 + c + 0.5;
    hid_t g = H5Gcreate2(f, "/grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    s = H5Screate_simple(2, n2, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, ch);
    H5Pset_deflate(dcpl, 4);
    d = H5Dcreate2(g, "f64", H5T_IEEE_F64LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dv) >= 0);
    H5Dclose(d), H5Sclose(s), H5Pclose(dcpl), H5Gclose(g);
    /* Empty, 3-D and string datasets. */
    hsize_t z = 0, cube[3] = {2, 2, 2};
    s = H5Screate_simple(1, &z, NULL);
    H5Dclose(H5Dcreate2(f, "/empty", H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(s);
    s = H5Screate_simple(3, cube, NULL);
    H5Dclose(H5Dcreate2(f, "/cube", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(s);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    s = H5Screate_simple(1, &n1, NULL);
    H5Dclose(H5Dcreate2(f, "/str", st, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(s), H5Tclose(st);
    CHECK(H5Fclose(f) >= 0);
    free(iv);
    free(dv);
    FILE *j = fopen(junk, "w");
    fputs("this is not HDF5\n", j);
    fclose(j);
}

typedef struct seen {
    uint64_t rows, first, last, bad;
    double sum;
    size_t width;
    int fail_after; /* > 0: return 42 after that many rows */
} seen;

static int on_row(void *arg, const mill_record *r) {
    seen *s = arg;
    if (s->rows == 0) s->first = r->offset;
    else if (r->offset != s->last + 1) s->bad++;
    if (r->len != s->width * sizeof(double) || ((uintptr_t)r->data % sizeof(double)) != 0 ||
        r->line != r->offset + 1)
        s->bad++;
    s->last = r->offset;
    s->rows++;
    for (size_t i = 0; i < r->len / sizeof(double); i++) {
        double d;
        memcpy(&d, r->data + i * sizeof d, sizeof d);
        s->sum += d;
    }
    return s->fail_after && s->rows >= (uint64_t)s->fail_after ? 42 : 0;
}

static char *spec(const char *file, const char *ds, size_t *dsoff) {
    static char b[600];
    snprintf(b, sizeof b, "%s:%s", file, ds);
    *dsoff = strlen(file);
    return b;
}

/* Reads one dataset on every rank and checks the union of rows. */
static void check_dataset(const char *file, const char *ds, uint64_t n, size_t width, double want_sum, int rank,
                          int size) {
    size_t off;
    seen s = {.width = width};
    char err[512] = "";
    const char *sp = spec(file, ds, &off);
    int rc = mill__hdf5_read(sp, off, 0, 0, 0, MPI_COMM_WORLD, on_row, &s, err, sizeof err);
    if (rc) fprintf(stderr, "rank %d: %s\n", rank, err);
    CHECK(rc == 0);
    CHECK(s.bad == 0);
    uint64_t lo = n * (uint64_t)rank / (uint64_t)size, hi = n * (uint64_t)(rank + 1) / (uint64_t)size;
    CHECK(s.rows == hi - lo);
    CHECK(s.rows == 0 || (s.first == lo && s.last == hi - 1));
    uint64_t all = 0;
    double sum = 0;
    MPI_Allreduce(&s.rows, &all, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&s.sum, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(all == n);
    CHECK(sum == want_sum);
}

/* Reads file:ds as listed with inode ino and size bytes (0, 0: unchecked);
 * expects the error want on every rank, and words in rank 0's message. */
static void check_error_as(const char *file, const char *ds, uint64_t ino, uint64_t size, int want,
                           const char *words, int rank) {
    size_t off;
    seen s = {.width = 1};
    char err[512] = "";
    const char *sp = spec(file, ds, &off);
    int rc = mill__hdf5_read(sp, off, ino, 0, size, MPI_COMM_WORLD, on_row, &s, err, sizeof err);
    CHECK(rc == want);
    if (rank == 0) {
        CHECK(strstr(err, words) != NULL);
        CHECK(strstr(err, file) != NULL);
    }
}

static void check_error(const char *file, const char *ds, int want, const char *words, int rank) {
    check_error_as(file, ds, 0, 0, want, words, rank);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char dir[64] = "/tmp/mill-h5-XXXXXX", file[128], junk[128];
    if (rank == 0 && !mkdtemp(dir)) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(file, sizeof file, "%s/t.h5", dir);
    snprintf(junk, sizeof junk, "%s/junk.h5", dir);
    if (rank == 0) make_file(file, junk);
    MPI_Barrier(MPI_COMM_WORLD);

    double isum = 0, fsum = 0;
    for (int i = 0; i < 1001; i++) isum += i - 500;
    for (int i = 0; i < 999; i++) fsum += i + 0.5;
    check_dataset(file, "/i32", 1001, 1, isum, rank, size);
    check_dataset(file, "/grp/f64", 333, 3, fsum, rank, size);
    check_dataset(file, "/empty", 0, 1, 0, rank, size);
    check_error(file, "/nope", MILL_ENOENT, "no dataset /nope", rank);
    check_error(file, "/str", MILL_EFORMAT, "unsupported type", rank);
    check_error(file, "/cube", MILL_EFORMAT, "unsupported rank 3", rank);
    check_error(junk, "/x", MILL_EFORMAT, "not an HDF5 file", rank);
    /* A file of another size or inode than when the job listed it (the
     * MPI-IO driver reads past a truncated end as zeros). */
    struct stat st;
    CHECK(stat(file, &st) == 0);
    check_error_as(file, "/i32", (uint64_t)st.st_ino, (uint64_t)st.st_size + 1, MILL_EIO,
                   "shorter than when the job listed it", rank);
    check_error_as(file, "/i32", (uint64_t)st.st_ino + 1, (uint64_t)st.st_size, MILL_EIO,
                   "replaced by another file", rank);

    /* Through mill__read_all: a callback failing on rank 0 at the first row
     * of the first dataset; every rank still takes part in the second one. */
    char s1[200], s2[200];
    snprintf(s1, sizeof s1, "%s:/i32", file);
    snprintf(s2, sizeof s2, "%s:/grp/f64", file);
    uint64_t sz = (uint64_t)st.st_size, ino = (uint64_t)st.st_ino;
    mill__file fl[2] = {{s1, sz, MILL__HDF5, (uint32_t)strlen(file), ino, 0, 0, 0, 0},
                        {s2, sz, MILL__HDF5, (uint32_t)strlen(file), ino, 0, 0, 0, 0}};
    mill__inputs in = {.files = fl, .n = 2, .total = 2 * sz};
    mill__read_opts o = {.comm = MPI_COMM_WORLD};
    seen s = {.width = 1, .fail_after = rank == 0 ? 1 : 0};
    char err[512];
    int rc = mill__read_all(&in, &o, rank, size, on_row, &s, err, sizeof err);
    CHECK(rank == 0 ? rc == 42 : rc == 0 || s.bad > 0); /* other ranks see 3-wide rows: bad++ only */
    CHECK(rank != 0 || s.rows == 1);

    if (rank == 0) {
        unlink(file), unlink(junk), rmdir(dir);
    }
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("test_hdf5 at %d ranks: %s\n", size, all ? "FAILED" : "ok");
    MPI_Finalize();
    return all ? 1 : 0;
}
