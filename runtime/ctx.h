/* ctx.h -- the job context shared by the engine and the plugin-facing API.
 *
 * One mill_ctx exists per rank per job run. The engine owns it; plugins see
 * it only as an opaque pointer through <mpimill/job.h>.
 */
#ifndef MILL_CTX_H
#define MILL_CTX_H

#include <mpi.h>
#include <stdio.h>
#include <stdint.h>

#include "args.h"
#include "emit.h"
#include "input.h"
#include "lock.h"
#include "metrics.h"
#include "mpimill/job.h"
#include "partition.h"
#include "table.h"

/* Buffered writer of one part file. */
typedef struct mill__writer {
    int fd;
    struct mill__sink *sink;  /* --compress gzip: bytes go through it (io/write.h) */
    struct mill__h5out *h5;   /* --format hdf5: records go to it (io/h5out.h) */
    const char *name;
    char *buf;
    size_t len, cap;
    uint64_t total; /* bytes flushed so far (before compression) */
    double seconds; /* spent writing: write(2), deflate, HDF5 (the metrics' write_s) */
} mill__writer;

/* A named counter of the job (mill_count). */
typedef struct mill__counter {
    char name[64];
    int64_t value;
} mill__counter;

#define MILL_JOB_COUNTERS 64                    /* a job's own, as job.h promises */
#define MILL_MAX_COUNTERS (MILL_JOB_COUNTERS + 1) /* and the runtime's bad_records_skipped */

typedef struct mill__spill mill__spill;

typedef int (*mill__merge_fn)(mill_ctx *ctx, mill__entry *e, const void *b, size_t blen);

struct mill_ctx {
    const mill_job *job;
    mill__merge_fn merge;     /* the job's combiner (mill__merge_for, combine.c) */
    int u64_sum;              /* the combiner is the sum of u64 values (emit.c inlines it) */
    const mill__run_args *args;
    MPI_Comm comm;            /* the runtime's communicator */
    MPI_Comm job_comm;        /* a duplicate for the plugin (mill_comm), or MPI_COMM_NULL */
    int rank, size;
    int node_ranks;           /* ranks on this rank's node */
    const mill__inputs *inputs; /* the job's input files, the same on every rank (mill_input) */
    mill_partition *part;
    mill__table *table;       /* where mill_emit combines: map side, then reduce side */
    mill__emit_batch batch;   /* emits not yet combined into table (emit.c) */
    int can_emit;             /* set only during map and map_done: mill_emit is refused elsewhere */
    int committed;            /* the output is published (a crash after it, in teardown, leaves it) */
    mill__entry *combining;   /* the entry a custom combine is producing */
    int value_set;            /* mill_set_value was called for `combining` */
    mill__writer *out;        /* where mill_write goes, during reduce */
    const mill_record *rec;   /* the record being mapped, for error messages */
    void *userdata;
    char fail[512];           /* the plugin's mill_fail message; emptied as each callback starts, so
                               * that a failure is never given the reason of one the job handled */
    /* The first failure mill_emit* or mill_write returned to the plugin, or
     * 0. Sticky: a plugin that ignores it fails all the same when its
     * callback returns (a record it emitted, or lines it wrote, are
     * missing). emit_err: that failure's message when it is the runtime's
     * own (a spill file it could not write), to be reported as is, not as
     * the job's. */
    int emit_rc;
    char emit_err[512];
    uint64_t records, keys_out;
    uint64_t bytes_in;        /* bytes of the records mapped, a line end each: progress's estimate (the map phase's bytes are mill__read_bytes's) */
    mill__metrics metrics;
    uint64_t memory;          /* --memory: the budget of this rank's tables and buffers */
    mill__spill *spill;       /* spill files (spill.c) */
    mill__counter counters[MILL_MAX_COUNTERS];
    int ncounters;
    int nruntime; /* of them, the runtime's own (not a job's 64) */
    int counters_summed; /* set before teardown, the counters summed: mill_count is too late */
    mill__lock_set *locks;    /* named locks for the plugin (mill_lock) */
    int lock_timeout_ms;      /* how long mill_lock waits before failing the job */
    unsigned progress_tick;   /* records since the last lock progress call */
};

/* How many records pass between two calls that let MPI progress the lock
 * operations aimed at this rank (so a busy rank does not stall the others). */
#define MILL_PROGRESS_EVERY 64

/* Returns the function that merges two values with job's combiner. */
mill__merge_fn mill__merge_for(const mill_job *job);

/* Sets ctx->merge to the combiner of ctx->job, and ctx->u64_sum when that
 * is the sum of u64 values. */
void mill__merge_choose(mill_ctx *ctx);

/* Inserts (key, value), absent from t, into it (the slow path of
 * mill__upsert). Returns 0, MILL_ENOMEM or MILL_EJOB (reason in ctx->fail). */
int mill__upsert_new(mill_ctx *ctx, mill__table *t, uint64_t hash, const void *key, size_t klen,
                     const void *value, size_t vlen);

/* Inserts (key, value) into table t, merging with the key's existing value
 * through the job's combiner. Returns 0, MILL_ENOMEM or MILL_EJOB (with the
 * reason in ctx->fail). Inline: it is on the path of every emitted record. */
static inline int mill__upsert(mill_ctx *ctx, mill__table *t, uint64_t hash, const void *key, size_t klen,
                               const void *value, size_t vlen) {
    mill__entry *e = klen <= UINT32_MAX ? mill__table_find(t, hash, key, (uint32_t)klen) : NULL;
    return e ? ctx->merge(ctx, e, value, vlen) : mill__upsert_new(ctx, t, hash, key, klen, value, vlen);
}

/* Returns 0 when the pair may be emitted (in map or map_done), or the
 * error, with the reason in ctx->fail: MILL_EINVAL for a NULL pointer with
 * a length, MILL_EJOB for a numeric job's value that is not 8 bytes. */
static inline int mill__emit_check(mill_ctx *ctx, const mill_kv *kv) {
    int key_bad = !kv->key && kv->key_len;
    if (key_bad || (!kv->value && kv->value_len)) {
        if (!ctx->emit_rc) /* the first failure's reason stays with its code (emit_rc) */
            snprintf(ctx->fail, sizeof ctx->fail, "an emit with a NULL %s of %zu bytes", key_bad ? "key" : "value",
                     key_bad ? kv->key_len : kv->value_len);
        return MILL_EINVAL;
    }
    if (ctx->job->value_type != MILL_VALUE_BYTES && kv->value_len != 8) {
        if (!ctx->emit_rc)
            snprintf(ctx->fail, sizeof ctx->fail, "a numeric job emitted a %zu-byte value", kv->value_len);
        return MILL_EJOB;
    }
    return 0;
}

/* Formats the error of a failed callback `cb` (job, record position and the
 * plugin's mill_fail words) into err; returns MILL_EJOB or MILL_ENOMEM. */
int mill__job_error(mill_ctx *ctx, const char *cb, int rc, char *err, size_t errlen);

/* mill_count for the runtime's own counter (bad_records_skipped), which has
 * a slot beyond the job's 64. */
int mill__count_runtime(mill_ctx *ctx, const char *name, int64_t delta);

/* Writes where `rec` is to buf: "FILE:LINE (byte offset B)" when its line
 * number is known, else "FILE (byte offset B)". Async-signal safe in
 * practice (snprintf of strings and integers only); the crash handler uses it. */
void mill__record_where(const mill_record *rec, char *buf, size_t len);

/* Writes w's buffer out (through its sink when it has one) and empties it.
 * Returns 0, or MILL_EIO / MILL_ENOMEM with a message in err. */
int mill__writer_flush(mill__writer *w, char *err, size_t errlen);

/* Appends one `key<TAB>value\n` line to w, the value formatted by the job's
 * value type. Returns 0, MILL_EIO (message in err) or MILL_EJOB. */
int mill__write_record(mill_ctx *ctx, mill__writer *w, const void *key, size_t klen, const void *value,
                       size_t vlen, char *err, size_t errlen);

#endif
