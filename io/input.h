/* input.h -- the job's input set and its division among ranks.
 *
 * Inputs are files, directories, glob patterns and HDF5 datasets
 * (file.h5:/group/dataset). Rank 0 expands them into a sorted list of inputs
 * with sizes and kinds; every rank then computes its own pieces of that list
 * (mill__split_place, mill__split_list), and the ranks of a node share theirs out as they read
 * (share.h). Splittable inputs (text, CSV without quoted newlines)
 * are cut into byte ranges; whole-file inputs (gzip, CSV with quoted
 * newlines) go to one rank each; HDF5 datasets are read by every rank
 * together (each its own rows, collectively).
 */
#ifndef MILL_IO_INPUT_H
#define MILL_IO_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* How an input is read; chosen from its name when it is listed. */
typedef enum mill__kind {
    MILL__TEXT = 0,   /* lines, byte-splittable */
    MILL__GZIP = 1,   /* *.gz: lines of a gzip stream, whole file per rank */
    MILL__CSV = 2,    /* *.csv: RFC 4180 rows */
    MILL__CSV_GZ = 3, /* *.csv.gz: CSV rows inside gzip, whole file per rank */
    MILL__HDF5 = 4    /* file:/dataset: rows of a numeric dataset, collective */
} mill__kind;

typedef struct mill__file {
    char *path;       /* for MILL__HDF5 "file:/dataset", split at dsoff */
    uint64_t size;    /* bytes of the file */
    uint32_t kind;    /* mill__kind */
    uint32_t dsoff;   /* MILL__HDF5: index of the ':' before the dataset name */
    uint64_t ino;     /* its inode when listed (0: unknown); a reader refuses a file replaced
                       * since (mill__read_piece). Not st_dev: on NFS and Lustre it
                       * differs from node to node for the same file. */
    uint64_t dev;     /* its st_dev, on the rank that listed it only (not packed): with ino,
                       * what finds a file listed twice */
    uint64_t birth_ns; /* its birth time in ns when listed (0: unknown): with ino, what tells a
                        * file replaced since (ext4 gives a new file the inode number its
                        * predecessor just freed); unlike ctime, not changed by an append */
    int64_t mtime_s;   /* its modification time when listed, on the rank that listed it only
                        * (not packed): the fingerprint's (mill__fingerprint) */
    uint32_t mtime_ns;
} mill__file;

typedef struct mill__inputs {
    mill__file *files; /* sorted by path within each argument, in argument order */
    size_t n;
    uint64_t total; /* sum of sizes */
} mill__inputs;

/* One contiguous byte range [start, end) of one input file. */
typedef struct mill__piece {
    size_t file; /* index into mill__inputs.files */
    uint64_t start, end;
} mill__piece;

/* Expands paths (files, or directories searched recursively; names starting
 * with '.' or '_' inside directories are skipped, like Hadoop) into `in`.
 * A file (or HDF5 dataset) reached twice -- the same path twice, a
 * directory and a glob that overlap, a link -- is kept once, where it came
 * first, with a warning on stderr naming both: read twice, its records
 * would count twice.
 * A path that does not exist literally is tried as a glob(3) pattern (its
 * matches in sorted order), then as FILE:/DATASET naming an HDF5 dataset of
 * an existing FILE. A path "@LIST" stands for the paths file LIST names,
 * one per line (blank lines and lines starting with '#' skipped), each
 * taken as a path given here. Fails with MILL_ENOENT or MILL_EIO and a
 * message naming the path when a path or a list is missing or unreadable,
 * or a list names nothing. */
int mill__inputs_collect(mill__inputs *in, char *const *paths, size_t npaths,
                         char *err, size_t errlen);

/* Reads the list file of spec "@FILE" (one path per line; blank lines and
 * lines starting with '#' are skipped) into a NULL-terminated array of
 * malloc'ed paths in *out, empty when the list names none (free it with
 * mill__inputs_list_free). Returns 0, or MILL_ENOENT, MILL_EIO or
 * MILL_ENOMEM with a message "WHAT @FILE: reason". */
int mill__inputs_list_read(const char *what, const char *spec, char ***out, char *err, size_t errlen);
void mill__inputs_list_free(char **v);

/* Fails with MILL_EINVAL and a message when `output` lies inside a
 * directory among paths, or under a glob among them (a name below the
 * glob's fixed directory that the pattern matches): its files would be
 * read back as input by the next run (an output that *is* an input, read
 * and then replaced, is allowed). An @LIST's paths are checked as if
 * given. Other paths, and an output whose parent does not exist, pass. */
int mill__inputs_check_output(char *const *paths, size_t npaths, const char *output, char *err, size_t errlen);

/* Fails with MILL_EINVAL and a message naming the first input whose kind
 * is not among `kinds` (MILL_INPUT_* bits; 0 takes every kind), which job
 * `job` reads. */
int mill__inputs_check_kinds(const mill__inputs *in, uint64_t kinds, const char *job, char *err, size_t errlen);

/* Returns the MILL_INPUT_* bit number of f's kind: 0 text (plain or
 * gzip), 1 CSV, 2 HDF5. */
int mill__input_kind_bit(const mill__file *f);

/* Frees what mill__inputs_collect or mill__inputs_unpack allocated. */
void mill__inputs_free(mill__inputs *in);

/* Serializes the list into a malloc'ed buffer (for MPI_Bcast) and back. */
int mill__inputs_pack(const mill__inputs *in, char **buf, size_t *len);
int mill__inputs_unpack(mill__inputs *in, const char *buf, size_t len);

struct statx;

/* Returns the birth time in ns in sx, or 0 when it has none (ident.c). */
uint64_t mill__statx_birth(const struct statx *sx);

/* Returns 0 when the file at path is still the one listed with inode ino,
 * birth time birth and size bytes (each 0: unknown, not checked), else
 * MILL_EIO with a message naming spec: the file is gone or replaced since
 * (say, by another job's --overwrite), and reading it would mix versions,
 * or a file read whole changed size. The HDF5 reader checks before and
 * after it reads: HDF5 opens the file by name in between. */
int mill__file_check(const char *spec, const char *path, uint64_t ino, uint64_t birth, uint64_t size, char *err,
                     size_t errlen);

/* Opens input f for reading and checks, on the descriptor, that it is the
 * file listed (f->ino, f->birth_ns; each 0: not checked; its size may have
 * grown). What is read through the descriptor is then the listed file,
 * whatever replaces its name meanwhile. Returns the descriptor, with the
 * file's size now in *size (when size is not NULL), or MILL_EIO with a
 * message naming the file. */
int mill__file_open(const mill__file *f, uint64_t *size, char *err, size_t errlen);

/* Returns the kind of input `path` by its name: *.csv.gz, *.gz, *.csv, else
 * text (HDF5 datasets are recognised by mill__inputs_collect). */
mill__kind mill__kind_of(const char *path);

/* Returns whether pieces of file f are whole files (not byte ranges):
 * gzip always, CSV when csv_quoted_newlines is set. */
int mill__whole_file(const mill__file *f, int csv_quoted_newlines);

/* Places the whole files (see mill__whole_file) among size ranks, the same
 * on every rank: largest first (ties: input order) onto the least loaded
 * rank (ties: the lowest), in O(n log n + n log size). Returns a malloc'd
 * array of in->n entries: the rank that reads file i whole, or -1 for a
 * file that is split and for an HDF5 dataset; NULL when out of memory.
 * Compute it once and pass it to mill__split_pieces for every rank. */
int *mill__split_place(const mill__inputs *in, int csv_quoted_newlines, int size);

/* Computes rank's share of the inputs, given owner from mill__split_place
 * for the same inputs and size:
 *  - first one piece per HDF5 dataset, on every rank, in input order
 *    (start = end = 0: the reader picks its rows, collectively);
 *  - then, in input order, the whole files owner gives rank, each as the
 *    piece [0, size);
 *  - and the bytes [T*rank/size, T*(rank+1)/size) of the concatenated
 *    splittable files (T their total size), cut at file boundaries.
 * Writes at most `max` pieces into out and returns how many there are
 * (which may exceed max: call again with a larger array). */
size_t mill__split_pieces(const mill__inputs *in, const int *owner, int rank, int size, mill__piece *out,
                          size_t max);

/* Like mill__split_pieces, into *out (malloc'd, for the caller to free).
 * Returns the count, or SIZE_MAX when out of memory. */
size_t mill__split_list(const mill__inputs *in, const int *owner, int rank, int size, mill__piece **out);

/* mill__split_place with csv_quoted_newlines = 0, then mill__split_pieces:
 * for tests. Returns SIZE_MAX when out of memory. */
size_t mill__split(const mill__inputs *in, int rank, int size, mill__piece *out, size_t max);

/* Returns the bytes of input rank reads (mill__split_pieces): its pieces'
 * bytes, and 1/size of each HDF5 file; 0 when out of memory. */
uint64_t mill__split_bytes(const mill__inputs *in, int csv_quoted_newlines, int rank, int size);

#endif
