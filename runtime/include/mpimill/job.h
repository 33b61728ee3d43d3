/* mpimill/job.h -- the one header a job plugin needs.
 *
 * A job is a shared object that exports one symbol, mill_job_entry(), which
 * returns a pointer to a constant, versioned mill_job: the job's callbacks.
 * Declare it with MILL_JOB(...). The runtime calls
 *
 *     setup -> map (once per input record) -> combine (merge two values of
 *     one key, on the mapping rank and on the owner rank) -> reduce (once per
 *     key on its owner rank) -> teardown
 *
 * ABI rules: fields of mill_job and mill_record are only ever appended and
 * functions only ever added. A plugin built against ABI M.x loads in any
 * runtime of major M: the runtime reads the fields the plugin's struct_size
 * covers. It refuses another major or a struct shorter than ABI 1.0's.
 *
 * Every function that can fail returns 0 or a negative MILL_E* code;
 * mill_strerror() names it.
 *
 * Callbacks run in the C locale, set for the runtime's thread with
 * uselocale(): a job's setlocale() changes the process's locale but not how
 * the runtime (or the job, on that thread) prints and parses numbers.
 */
#ifndef MPIMILL_JOB_H
#define MPIMILL_JOB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MILL_ABI_MAJOR 1
#define MILL_ABI_MINOR 7

/* Error codes: 0 is success, each error is negative. */
#define MILL_EINVAL   (-1)  /* invalid argument */
#define MILL_ENOMEM   (-2)  /* out of memory */
#define MILL_EIO      (-3)  /* I/O error (see the message for the file) */
#define MILL_ENOENT   (-4)  /* no such file, job or option */
#define MILL_EEXIST   (-5)  /* output exists */
#define MILL_EJOB     (-6)  /* a job callback failed */
#define MILL_EABI     (-7)  /* plugin ABI mismatch */
#define MILL_EMPI     (-8)  /* MPI error */
#define MILL_EFORMAT  (-9)  /* malformed input or state */
#define MILL_ETIMEOUT (-10) /* timed out */
#define MILL_ESTATE   (-11) /* call not allowed in this state (misuse) */
#define MILL_EABORT   (-12) /* aborted because another rank failed */

/* Returns a static, one-line description of a MILL_E* code. */
const char *mill_strerror(int err);

/* How the runtime combines two values of the same key. */
typedef enum mill_combine_op {
    MILL_COMBINE_CUSTOM = 0, /* call mill_job.combine */
    MILL_COMBINE_SUM = 1,    /* typed sum (u64, i64, f64) */
    MILL_COMBINE_MIN = 2,    /* f64: NaN if any value is NaN; -0 is below +0 */
    MILL_COMBINE_MAX = 3,    /* (so the result does not depend on the order) */
    MILL_COMBINE_FIRST = 4   /* keep one value, drop the others */
} mill_combine_op;

/* The type of a job's values, used for built-in combiners and for output. */
typedef enum mill_value_type {
    MILL_VALUE_BYTES = 0, /* opaque bytes, written as they are */
    MILL_VALUE_U64 = 1,   /* 8 bytes, native uint64_t */
    MILL_VALUE_I64 = 2,   /* 8 bytes, native int64_t */
    MILL_VALUE_F64 = 3    /* 8 bytes, native double */
} mill_value_type;

/* One input record (a line of text) and where it came from. */
typedef struct mill_record {
    const char *data; /* the bytes, without the line terminator; not NUL-terminated */
    size_t len;
    const char *file; /* the input file */
    uint64_t offset;  /* byte offset of the record in the file */
    uint64_t line;    /* 1-based line number in the file, or 0 when not known */
} mill_record;

typedef struct mill_ctx mill_ctx;

typedef struct mill_job {
    /* ABI 1.0 */
    uint32_t abi_major;        /* MILL_ABI_MAJOR of the header the job was built with */
    uint32_t abi_minor;        /* MILL_ABI_MINOR likewise */
    size_t struct_size;        /* sizeof(mill_job) as the job saw it */
    const char *name;          /* short name, e.g. "wordcount" */
    const char *description;   /* one line, shown by `mpimill jobs` */
    mill_value_type value_type;
    mill_combine_op combine_op;
    /* NULL-terminated names of the --opt keys the job accepts; the runtime
     * refuses any other key. NULL accepts none. */
    const char *const *options;
    /* Optional. Called once per rank before any record. */
    int (*setup)(mill_ctx *ctx);
    /* Required. Called for every input record; emits with mill_emit*(). */
    int (*map)(mill_ctx *ctx, const mill_record *rec);
    /* Required when combine_op is MILL_COMBINE_CUSTOM: merges value b into
     * value a of the same key and stores the result with mill_set_value(),
     * or in place with mill_value_resize(). b may point into the buffer
     * passed to mill_emit(); a points into the runtime's table and stays
     * valid until combine returns. */
    int (*combine)(mill_ctx *ctx, const void *key, size_t key_len,
                   const void *a, size_t a_len, const void *b, size_t b_len);
    /* Optional. Called once per key on its owner rank with the fully combined
     * value; writes output records with mill_write(). NULL writes (key, value). */
    int (*reduce)(mill_ctx *ctx, const void *key, size_t key_len,
                  const void *value, size_t value_len);
    /* Optional. Called once per rank at the end, also after a failure. */
    void (*teardown)(mill_ctx *ctx);
    /* MILL_JOB_* flags. */
    uint64_t flags;
    /* Optional. Called once on every rank after its last record is mapped
     * and before the shuffle, when no rank has failed: it may emit (a
     * per-rank summary, say) and make collective calls on mill_comm(). */
    int (*map_done)(mill_ctx *ctx);
    /* ABI 1.4: the kinds of input map reads, MILL_INPUT_* bits. The runtime
     * refuses an input of any other kind, naming it, before any rank reads.
     * 0 (and a job built before 1.4) reads every kind. */
    uint64_t inputs;
} mill_job;

/* Kinds of input (mill_job.inputs): text lines, plain or gzip (a record is
 * a line, or a block of them); CSV rows (*.csv, *.csv.gz; see
 * mill_csv_field); rows of an HDF5 numeric dataset (FILE.h5:/DATASET; a
 * record is a row of native doubles). */
#define MILL_INPUT_TEXT (UINT64_C(1) << 0)
#define MILL_INPUT_CSV  (UINT64_C(1) << 1)
#define MILL_INPUT_HDF5 (UINT64_C(1) << 2)

/* Text records carry their line number (mill_record.line) even when a
 * rank's byte range starts inside a file; the rank then counts the
 * newlines before its range, which costs a scan of that prefix. Without
 * it, line is known from a file's first byte on through the pieces
 * (--split-size) a rank reads in order from there, and in gzip and CSV
 * files; a piece a rank takes over from another starts unnumbered. */
#define MILL_JOB_LINE_NUMBERS (UINT64_C(1) << 0)

/* (ABI 1.1) map receives plain-text input a block of whole lines at a
 * time: data holds one or more complete lines, each with its '\n' (and any
 * '\r' before it; the file's last line may have none), about 256 KiB in
 * all; offset is the block's first byte and line its first line's number
 * under MILL_JOB_LINE_NUMBERS, else 0. For jobs that do not care where
 * lines end (a word count): it saves a map call per line. Other inputs
 * (gzip, CSV, HDF5) still come a line or row at a time, which is a block of
 * one line; a runtime older than 1.1 ignores the flag likewise. */
#define MILL_JOB_TEXT_BLOCKS (UINT64_C(1) << 1)

/* Emits a (key, value) pair from map or map_done (MILL_ESTATE anywhere
 * else: setup, combine, reduce, teardown; MILL_EINVAL for a NULL key or
 * value with a length). The bytes are copied. A failure once the pair was
 * taken (a combine that failed, a spill file that could not be written, a
 * numeric value that is not 8 bytes) fails the job when the callback
 * returns, whatever it returns: the pair, or pairs emitted before it, may
 * be missing. */
int mill_emit(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len);
/* One (key, value) pair for mill_emit_batch (ABI 1.1). */
typedef struct mill_kv {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} mill_kv;

/* Emits n pairs, exactly as n calls of mill_emit in that order would (ABI
 * 1.1). Faster for many small pairs, such as the words of a line: the
 * runtime hashes the keys first and overlaps their table look-ups. */
int mill_emit_batch(mill_ctx *ctx, const mill_kv *kv, size_t n);
/* Typed emits of 8-byte values, for jobs whose value_type is U64 or I64
 * (the integer ones) or F64, or BYTES (8 opaque bytes). A double in an
 * integer job, or an integer in an F64 job, returns MILL_EJOB and fails
 * the job. */
int mill_emit_u64(mill_ctx *ctx, const void *key, size_t key_len, uint64_t value);
int mill_emit_i64(mill_ctx *ctx, const void *key, size_t key_len, int64_t value);
int mill_emit_f64(mill_ctx *ctx, const void *key, size_t key_len, double value);
/* Sets the result of a custom combine. */
int mill_set_value(mill_ctx *ctx, const void *value, size_t value_len);
/* (ABI 1.3) Inside combine, instead of mill_set_value: resizes value a to
 * value_len bytes in place, keeping its first min(a_len, value_len) bytes,
 * and sets *value to them, writable until combine returns or the next
 * call. A value that outgrows its room moves to room of the next power of
 * two, so a list that grows a little at every combine is copied O(log n)
 * times: appending with mill_set_value copies the whole list each time,
 * O(n^2) bytes for a key with n items. *value may be a itself: a write to
 * it changes a. Returns 0, MILL_ESTATE outside combine, MILL_EINVAL, or
 * MILL_ENOMEM; MILL_EJOB for a numeric job's value_len other than 8. */
int mill_value_resize(mill_ctx *ctx, size_t value_len, void **value);
/* Writes one output record from reduce (MILL_ESTATE anywhere else, combine
 * included). value is formatted by value_type. */
int mill_write(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len);

/* Returns the value of option `key` given with --opt key=value, or NULL. */
const char *mill_opt(mill_ctx *ctx, const char *key);
/* Reads an integer option, in decimal; *out keeps `def` when it is absent. Returns
 * MILL_EINVAL when it is present but malformed, with a failure message
 * naming the option (as mill_fail sets one). */
int mill_opt_i64(mill_ctx *ctx, const char *key, int64_t def, int64_t *out);

/* Reads a floating-point option likewise (MILL_EINVAL when malformed). */
int mill_opt_f64(mill_ctx *ctx, const char *key, double def, double *out);

/* This rank and the number of ranks. */
int mill_rank(const mill_ctx *ctx);
int mill_size(const mill_ctx *ctx);

/* (ABI 1.5) Stores in *path input file i of the job (0-based, in the
 * order the runtime lists them: each --input in turn, a directory's or a
 * glob's files sorted) exactly as mill_record.file names its records, and
 * in *kind its MILL_INPUT_* bit; either pointer may be NULL. Returns 0, or
 * MILL_ENOENT past the last file. The list is the same on every rank and
 * *path stays valid until teardown returns, so setup can refuse inputs
 * the job cannot read before any rank reads one: even an input without a
 * record. */
int mill_input(const mill_ctx *ctx, size_t i, const char **path, uint64_t *kind);

/* Per-job private data for the plugin. */
void mill_set_userdata(mill_ctx *ctx, void *data);
void *mill_userdata(const mill_ctx *ctx);

/* Sets the message shown when a callback returns an error (printf-style). */
void mill_fail(mill_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Writes one line to stderr, prefixed with the job's name and the rank. */
void mill_log(mill_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Adds delta to the job's counter `name` (at most 63 bytes, no '"', '\\',
 * '=' or newline; at most 64 counters: MILL_ENOMEM past them). Counters are
 * summed over the ranks before teardown (which gets MILL_ESTATE), printed in
 * the final summary and written to the manifest. */
int mill_count(mill_ctx *ctx, const char *name, int64_t delta);

/* Named locks, shared by all ranks of the job (an MCS queue lock on MPI-3
 * one-sided communication: waiters are served in arrival order).
 * mill_lock takes `name` exclusively, mill_lock_shared with other readers;
 * mill_unlock releases it. mill_lock_fenced also stores the lock's fencing
 * token, a number that grows with every exclusive acquisition, so writes
 * can be tagged. A lock not granted within the job's lock timeout
 * (--lock-timeout, default 300 s) fails with MILL_ETIMEOUT and a message
 * naming the rank holding it; taking a lock this rank holds, or releasing
 * one it does not, fails with MILL_ESTATE. A rank that holds several locks
 * at once takes them in increasing mill_lock_order (below), not in the
 * order of their names. Every lock must be released before the job ends.
 * A name is 1 to 255 bytes (else MILL_EINVAL); a rank holds at most 16
 * names at once (the 17th fails with MILL_ESTATE). */
int mill_lock(mill_ctx *ctx, const char *name);
int mill_lock_shared(mill_ctx *ctx, const char *name);
int mill_lock_fenced(mill_ctx *ctx, const char *name, uint64_t *token);
int mill_unlock(mill_ctx *ctx, const char *name);

/* (ABI 1.2) Stores in *order the place of lock `name` in the one order in
 * which every rank of the job must take several locks it holds at once:
 * increasing *order. Names map onto a fixed number of lock slots, so two
 * names can share one lock; taken in the order of their names, two ranks
 * could each hold what the other waits for. Names of equal order share a
 * lock: take the exclusive ones before the shared ones (a rank holding a
 * shared lock cannot take its exclusive twin, MILL_ESTATE). Returns 0,
 * MILL_EINVAL (a NULL or empty name, or one longer than the lock names'
 * limit) or MILL_ESTATE (in teardown, when the locks are gone). */
int mill_lock_order(mill_ctx *ctx, const char *name, uint64_t *order);

#if defined(MPI_VERSION)
/* A communicator of all the job's ranks, duplicated for the plugin (include
 * <mpi.h> before this header to use it). Collective calls on it are for
 * setup, map_done and teardown, which every rank runs; map, combine and
 * reduce run a different number of times on each rank. */
MPI_Comm mill_comm(const mill_ctx *ctx);
#endif

/* CSV inputs (*.csv, *.csv.gz; see docs/formats.md). A CSV record's data is
 * the raw row; while map() runs for it, these give its parsed fields (quotes
 * removed, "" turned into "). With --csv-columns a,b the fields are those
 * columns, in that order; else all columns. Both return MILL_ESTATE when rec
 * is not the CSV record being mapped; mill_csv_field returns MILL_ENOENT
 * when i is not below the field count. *p stays valid until map returns. */
int mill_csv_nfields(mill_ctx *ctx, const mill_record *rec, size_t *n);
int mill_csv_field(mill_ctx *ctx, const mill_record *rec, size_t i, const char **p, size_t *len);
/* (ABI 1.6) Stores in *col the column of the file (0-based, in its header's
 * order) that field i is: i itself without --csv-columns. A job that finds a
 * column by its name in the header maps it to a field with this. Returns
 * MILL_ESTATE or MILL_ENOENT as mill_csv_field does. */
int mill_csv_column(mill_ctx *ctx, const mill_record *rec, size_t i, size_t *col);
/* (ABI 1.7) Stores in *p and *len the name of column col (0-based, in the
 * header's order, as mill_csv_column numbers columns) in the header of the
 * CSV file rec is from: its first row, quotes removed, "" turned into ".
 * Returns 0, MILL_ESTATE as mill_csv_field does, or MILL_ENOENT when col is
 * not below the header's field count or the file has no header
 * (--csv-no-header). *p stays valid until map returns. */
int mill_csv_header(mill_ctx *ctx, const mill_record *rec, size_t col, const char **p, size_t *len);

/* The symbol a plugin exports. Declared here, inside extern "C", so that
 * a C++ plugin's MILL_JOB defines it with C linkage (unmangled). */
#define MILL_JOB_ENTRY_SYMBOL "mill_job_entry"
typedef const mill_job *(*mill_job_entry_fn)(void);
const mill_job *mill_job_entry(void);

/* Declares a job: MILL_JOB(.name = "x", .description = "...", .map = my_map, ...).
 * In C++ (C++20: designated initializers) the fields must come in the
 * struct's order; fields left out are zero, as in C, and g++'s -Wextra
 * warning about them is silenced here. */
#if defined(__cplusplus) && defined(__GNUC__)
#define MILL__JOB_QUIET_BEGIN \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")
#define MILL__JOB_QUIET_END _Pragma("GCC diagnostic pop")
#else
#define MILL__JOB_QUIET_BEGIN
#define MILL__JOB_QUIET_END
#endif
#define MILL_JOB(...)                                                         \
    __attribute__((visibility("default"))) const mill_job *mill_job_entry(void); \
    MILL__JOB_QUIET_BEGIN                                                     \
    const mill_job *mill_job_entry(void) {                                    \
        static const mill_job job_ = {.abi_major = MILL_ABI_MAJOR,            \
                                      .abi_minor = MILL_ABI_MINOR,            \
                                      .struct_size = sizeof(mill_job),        \
                                      __VA_ARGS__};                           \
        return &job_;                                                         \
    }                                                                         \
    MILL__JOB_QUIET_END

#ifdef __cplusplus
}
#endif
#endif
