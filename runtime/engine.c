/* engine.c -- running one job: read, map, combine, shuffle, reduce, write.
 *
 * Phases, each ending in mill__agree() so that a failure anywhere stops
 * every rank at the same step:
 *   1. load the plugin and check the job's options;
 *   2. rank 0 lists the inputs and broadcasts them; the commit begins;
 *   3. map: each rank reads its byte ranges line by line; map() emits into
 *      a combining table;
 *   4. shuffle (shuffle.c): each (key, value) goes to the owner rank given
 *      by the partitioner, in bounded rounds, spilling past --memory
 *      (spill.c);
 *   5. reduce: the owner merges what it received in key order and writes
 *      its part file into staging (or its block of --single-file, single.c);
 *   6. the commit (commit.c) publishes every file at once, or nothing.
 * The job's combiners are in combine.c, the part-file writer in writer.c,
 * the manifest's members in manifest.c, and the calls a plugin makes in api.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commit.h"
#include "ctx.h"
#include "fault.h"
#include "h5out.h"
#include "input.h"
#include "lock.h"
#include "manifest.h"
#include "partition.h"
#include "plugin.h"
#include "read.h"
#include "record.h"
#include "runtime.h"
#include "shuffle.h"
#include "single.h"
#include "table.h"
#include "write.h"

/* ---- phases -------------------------------------------------------------- */

void mill__record_where(const mill_record *rec, char *buf, size_t len) {
    if (rec->line)
        snprintf(buf, len, "%s:%" PRIu64 " (byte offset %" PRIu64 ")", rec->file, rec->line, rec->offset);
    else
        snprintf(buf, len, "%s (byte offset %" PRIu64 ")", rec->file, rec->offset);
}

/* Formats a failed callback's error: job, rank's position and the plugin's
 * words. A callback that failed once the job was told to stop (a lock wait
 * given up: mill__lock_set_stop) reports the stop, as the cause. */
int mill__job_error(mill_ctx *ctx, const char *cb, int rc, char *err, size_t errlen) {
    if (mill__stop_signal()) return mill__stop_error(err, errlen);
    const char *why = ctx->fail[0] ? ctx->fail : mill_strerror(rc);
    char where[1024];
    if (ctx->rec) {
        mill__record_where(ctx->rec, where, sizeof where);
        snprintf(err, errlen, "job %s: %s failed at %s: %s", ctx->job->name, cb, where, why);
    } else
        snprintf(err, errlen, "job %s: %s failed: %s", ctx->job->name, cb, why);
    return rc == MILL_ENOMEM ? rc : MILL_EJOB;
}

/* Formats the failure of a callback that may emit or write (map, map_done,
 * reduce): its rc, or when it returned 0, the first emit or write failure
 * it was told of (a plugin that ignores mill_emit's or mill_write's
 * return still fails: ctx.h, emit_rc). A failure of the runtime's own (a
 * spill file) is reported as it is. */
static int emit_callback_error(mill_ctx *ctx, const char *cb, int rc, char *err, size_t errlen) {
    if (ctx->emit_rc && ctx->emit_err[0]) {
        snprintf(err, errlen, "%s", ctx->emit_err);
        return ctx->emit_rc;
    }
    return mill__job_error(ctx, cb, rc ? rc : ctx->emit_rc, err, errlen);
}

typedef struct map_state {
    mill_ctx *ctx;
    char *err;
    size_t errlen;
    mill__share *share; /* the node's shared pieces (io/share.h), or NULL */
} map_state;

static int map_record(void *arg, const mill_record *rec) {
    map_state *ms = arg;
    if (mill__stop_signal()) return mill__stop_error(ms->err, ms->errlen);
    if (++ms->ctx->progress_tick == MILL_PROGRESS_EVERY) {
        ms->ctx->progress_tick = 0;
        (void)mill__lock_set_progress(ms->ctx->locks); /* errors resurface on the next lock call */
        uint64_t total;
        mill__progress_update(ms->share ? mill__share_progress(ms->share, ms->ctx->bytes_in, &total)
                                        : ms->ctx->bytes_in);
    }
    ms->ctx->rec = rec;
    ms->ctx->records++;
    ms->ctx->bytes_in += rec->len + 1;
    ms->ctx->fail[0] = '\0'; /* each callback's failure gives its own reason (ctx.h) */
    int rc = ms->ctx->job->map(ms->ctx, rec);
    if (rc == 0 && ms->ctx->job->combine_op == MILL_COMBINE_CUSTOM) rc = mill__emit_flush(ms->ctx);
    if (rc || ms->ctx->emit_rc) rc = emit_callback_error(ms->ctx, "map", rc, ms->err, ms->errlen);
    else rc = mill__spill_map_maybe(ms->ctx, ms->err, ms->errlen);
    ms->ctx->rec = NULL;
    return rc;
}

/* Reads this rank's share of the inputs (io/read.h), taking pieces from
 * the other ranks of its node when done with its own (io/share.h);
 * collective. Times the map phase; rank 0 shows progress. Bad records
 * skipped under --bad-records skip go to the counter bad_records_skipped
 * (summary line and manifest). */
static int map_phase(mill_ctx *ctx, const mill__inputs *in, char *err, size_t errlen) {
    const mill__run_args *a = ctx->args;
    mill__read_opts o = {.csv_columns = a->csv_columns, .csv_no_header = a->csv_no_header,
                         .csv_quoted_newlines = a->csv_quoted_newlines, .skip_bad = a->skip_bad,
                         .line_numbers = (ctx->job->flags & MILL_JOB_LINE_NUMBERS) != 0,
                         .text_blocks = (ctx->job->flags & MILL_JOB_TEXT_BLOCKS) != 0, .comm = ctx->comm};
    o.max_record = a->max_record;
    mill__max_record = a->max_record ? a->max_record : ctx->memory / 4; /* the budget is at least 16M */
    o.share = mill__share_open(in, a->csv_quoted_newlines, o.line_numbers, a->split_size, ctx->comm, ctx->rank,
                               ctx->size);
    map_state ms = {ctx, err, errlen, o.share};
    uint64_t total = 0;
    if (o.share) mill__share_progress(o.share, 0, &total);
    else total = mill__split_bytes(in, a->csv_quoted_newlines, 0, ctx->size);
    /* Bytes read measure against bytes on disk for plain text and CSV only:
     * gzip inflates (a fraction would pass 100% or stop short of it). */
    int exact = 1;
    for (size_t i = 0; i < in->n; i++)
        if (in->files[i].kind == MILL__GZIP || in->files[i].kind == MILL__CSV_GZ || in->files[i].kind == MILL__HDF5)
            exact = 0;
    mill__progress_start(ctx->job->name, ctx->rank, a->quiet, total, exact, o.share ? "rank 0's node" : "rank 0");
    mill__phase_begin(&ctx->metrics, MILL_PHASE_MAP);
    double read0 = mill__read_seconds;
    uint64_t bytes0 = mill__read_bytes;
    int rc = mill__read_all(in, &o, ctx->rank, ctx->size, map_record, &ms, err, errlen);
    mill__progress_end();
    if (rc == 0 && (rc = mill__emit_flush(ctx)) != 0) rc = mill__job_error(ctx, "map", rc, err, errlen);
    ctx->records += o.extra_lines; /* text blocks count as the lines they hold */
    if (a->skip_bad && mill__count_runtime(ctx, "bad_records_skipped", (int64_t)o.skipped) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot count bad records: too many counters");
        rc = MILL_ENOMEM;
    }
    ctx->metrics.read_s = mill__read_seconds - read0;
    mill__phase_end(&ctx->metrics, MILL_PHASE_MAP, mill__read_bytes - bytes0, ctx->records);
    /* Past the phase's end: waiting for the node's last rank is not mapping
     * (the report's imbalance shows how unequal the ranks' work was). A
     * failed rank first tells the others to take no more pieces, and lets
     * go of its locks: they may be waiting for one, and it for them. */
    if (rc) {
        mill__share_stop(o.share);
        (void)mill__lock_set_release_all(ctx->locks);
    }
    mill__share_close(o.share);
    return rc;
}

typedef struct emit_state {
    mill_ctx *ctx;
    mill__writer *w;
    char *err;
    size_t errlen;
} emit_state;

/* Hands one key and its combined value to reduce, or writes it. */
static int emit_key(void *arg, const void *key, size_t klen, const void *value, size_t vlen) {
    emit_state *es = arg;
    mill_ctx *ctx = es->ctx;
    int rc;
    if (ctx->job->reduce) {
        ctx->fail[0] = '\0';
        rc = ctx->job->reduce(ctx, key, klen, value, vlen);
        if (rc || ctx->emit_rc) rc = emit_callback_error(ctx, "reduce", rc, es->err, es->errlen);
    } else {
        rc = mill__write_record(ctx, es->w, key, klen, value, vlen, es->err, es->errlen);
        if (rc == MILL_EJOB) rc = mill__job_error(ctx, "reduce", rc, es->err, es->errlen);
    }
    return rc;
}

static int reduce_phase(mill_ctx *ctx, mill__table *t, mill__commit *commit, char *err, size_t errlen) {
    char name[64], label[PATH_MAX + 64]; /* label: name for messages */
    const char *suffix = mill__compress_suffix(ctx->args->compress);
    int h5 = !strcmp(ctx->args->format, "hdf5"); /* one file, data.h5, written by all ranks */
    snprintf(name, sizeof name, "part-%05d%s", ctx->rank, suffix);
    if (h5) snprintf(name, sizeof name, "data.h5");
    snprintf(label, sizeof label, "%s (output %s)", name, ctx->args->output);
    if (ctx->args->single_file)
        snprintf(label, sizeof label, "this rank's --single-file block in %s", ctx->spill->tmpdir);
    mill__writer w = {.fd = -1, .name = label, .cap = 1u << 20};
    w.buf = malloc(w.cap);
    int rc = w.buf ? 0 : MILL_ENOMEM;
    if (rc == 0 && ctx->args->single_file) rc = mill__spill_temp(ctx->spill, &w.fd, err, errlen);
    else if (rc == 0 && !(h5 && ctx->rank != 0)) rc = mill__commit_create(commit, name, &w.fd, err, errlen);
    if (rc == 0 && *suffix) rc = mill__sink_open(&w.sink, w.fd, label, ctx->args->compress, err, errlen);
    if (rc == 0 && h5) { /* collected in --tmp (io/h5out.h) */
        int fds[4] = {-1, -1, -1, -1};
        for (int i = 0; rc == 0 && i < 4; i++) rc = mill__spill_temp(ctx->spill, &fds[i], err, errlen);
        if (rc) {
            for (int i = 0; i < 4; i++)
                if (fds[i] >= 0) close(fds[i]);
        } else if ((rc = mill__h5out_open(&w.h5, (int)ctx->job->value_type, fds, ctx->spill->tmpdir)) != 0) {
            snprintf(err, errlen, "out of memory");
        }
    }
    ctx->out = &w;
    if (rc == 0) {
        emit_state es = {ctx, &w, err, errlen};
        rc = mill__shuffle_merge(ctx, t, emit_key, &es, err, errlen);
    }
    ctx->out = NULL;
    if (rc == 0) rc = mill__writer_flush(&w, err, errlen);
    double t0 = mill__now();
    int src = mill__sink_close(w.sink, rc == 0, err, errlen);
    if (rc == 0) rc = src;
    if (h5) rc = mill__h5out_write(w.h5, ctx->comm, w.fd, ctx->job->name, rc, err, errlen); /* collective */
    if (ctx->args->single_file) {
        rc = mill__single_write(ctx, commit, rc, w.fd, w.total, err, errlen); /* collective */
        if (w.fd >= 0) close(w.fd);
    }
    mill__h5out_free(w.h5);
    ctx->metrics.write_s = w.seconds + mill__now() - t0;
    mill__phase_end(&ctx->metrics, MILL_PHASE_REDUCE, w.total, ctx->keys_out);
    free(w.buf);
    return rc;
}

/* ---- the run ------------------------------------------------------------- */

/* mill__wait's hook while the job's lock set lives (errors resurface on the
 * next lock call, as in map_record). */
static void lock_progress(void *set) { (void)mill__lock_set_progress(set); }

/* Collective: mill__agree between the job's phases. A rank that failed
 * first releases the locks its plugin holds, so that no other rank waits
 * for them until its --lock-timeout before it reaches the agreement too. */
static int agree_phase(mill_ctx *ctx, int rc, char *err, size_t errlen) {
    if (rc) (void)mill__lock_set_release_all(ctx->locks);
    return mill__agree(ctx->comm, rc, err, errlen);
}

/* Lock slots per rank for the plugin's named locks. */
#define MILL_LOCK_SLOTS 64

/* Collective. Returns the number of ranks on this rank's node (1 when MPI
 * cannot tell); --weights auto and the default --memory divide by it. */
static int node_ranks(MPI_Comm comm) {
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        if (MPI_Comm_size(node, &local) != MPI_SUCCESS) local = 1;
        (void)MPI_Comm_free(&node); /* a failure leaves it until exit: nothing uses it */
    }
    return local > 0 ? local : 1;
}

/* Sets the rank's memory budget (--memory, or half the node's memory
 * shared by the ranks on the node) and the spill directory. */
static int memory_budget(mill_ctx *ctx, const mill__run_args *a, char *err, size_t errlen) {
    ctx->memory = a->memory;
    if (!ctx->memory) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        uint64_t phys = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : (uint64_t)4 << 30;
        ctx->memory = phys / 2 / (uint64_t)ctx->node_ranks;
    }
    const char *tmp = a->tmpdir ? a->tmpdir : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct stat st;
    int e = stat(tmp, &st) != 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : access(tmp, W_OK | X_OK) != 0 ? errno : 0;
    if (e) {
        snprintf(err, errlen, "%s %s: %s", a->tmpdir ? "--tmp" : "TMPDIR", tmp, strerror(e));
        return MILL_EINVAL;
    }
    int rc = mill__spill_init(&ctx->spill, tmp);
    if (rc) snprintf(err, errlen, "out of memory");
    return rc;
}

/* Parses a comma-separated list of rank numbers (decimal digits only: no
 * sign, space, "0x" or "1.0") into out, at most max of them. */
static int parse_ranks(const char *s, uint32_t *out, int max, int *n) {
    for (*n = 0;; s++) {
        size_t len = strspn(s, "0123456789");
        if (len == 0 || len > 9 || (s[len] && s[len] != ',') || *n == max) return MILL_EINVAL;
        out[(*n)++] = (uint32_t)atoi(s);
        s += len;
        if (!*s) return 0;
    }
}

/* Collective. Builds the job's partitioner from --weights and
 * --exclude-ranks. --weights auto gives each rank its node's cores divided
 * by the ranks on that node. Returns MILL_EINVAL for a bad list. */
static int make_partitioner(mill_ctx *ctx, const mill__run_args *a, char *err, size_t errlen) {
    int P = ctx->size, rc = 0;
    double *w = mill__fault_site(MILL_FAULT_SITE_WEIGHTS) ? NULL : calloc((size_t)P + 1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory building the partitioner");
        rc = MILL_ENOMEM;
    }
    if (a->weights && !strcmp(a->weights, "auto")) {
        /* A rank without w must not leave the others waiting in the gather. */
        rc = mill__agree(ctx->comm, rc, err, errlen);
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        double mine = (double)(cores > 0 ? cores : 1) / ctx->node_ranks;
        int mrc = rc ? MPI_SUCCESS : MPI_Allgather(&mine, 1, MPI_DOUBLE, w, 1, MPI_DOUBLE, ctx->comm);
        if (mrc != MPI_SUCCESS) rc = mill__mpi_error(mrc, "MPI_Allgather", err, errlen);
    } else if (rc == 0 && a->weights) {
        char why[200];
        if ((rc = mill_partition_parse_weights(a->weights, (uint32_t)P, w, why, sizeof why)) != 0)
            snprintf(err, errlen, "--weights '%s': %s (or auto)", a->weights, why);
    }
    if (rc == 0) rc = mill_partition_create(&ctx->part, (uint32_t)P, a->weights ? w : NULL);
    if (rc == 0 && a->exclude_ranks) {
        uint32_t *x = calloc((size_t)P + 1, sizeof *x);
        int nx = 0;
        rc = x ? parse_ranks(a->exclude_ranks, x, P + 1, &nx) : MILL_ENOMEM;
        int twice = -1;
        for (int i = 0; rc == 0 && i < nx; i++) {
            for (int j = 0; j < i; j++)
                if (x[j] == x[i]) twice = (int)x[i];
            if (x[i] >= (uint32_t)P) rc = MILL_EINVAL;
            else if (twice >= 0) rc = MILL_ESTATE;
        }
        /* In ascending order: the same set places keys alike however listed. */
        if (rc == 0) rc = mill_partition_exclude_list(ctx->part, x, (size_t)nx, NULL);
        if (rc == MILL_ESTATE && twice >= 0)
            snprintf(err, errlen, "--exclude-ranks '%s': rank %d is named twice", a->exclude_ranks, twice);
        else if (rc == MILL_ESTATE)
            snprintf(err, errlen, "--exclude-ranks '%s': no rank would be left to own keys", a->exclude_ranks);
        else if (rc)
            snprintf(err, errlen, "--exclude-ranks '%s': expected ranks 0..%d, comma-separated",
                     a->exclude_ranks, P - 1);
        if (rc) rc = MILL_EINVAL;
        free(x);
    }
    if (rc && rc != MILL_EINVAL && !*err) snprintf(err, errlen, "partitioner: %s", mill_strerror(rc));
    free(w);
    return rc;
}

/* Rank 0 lists the inputs and checks them (no output among them, only
 * kinds the job reads); everyone receives the list. */
static int share_inputs(MPI_Comm comm, int rank, const mill__run_args *a, const mill_job *job, mill__inputs *in,
                        char *err, size_t errlen) {
    char *buf = NULL;
    size_t blen = 0;
    int rc = 0;
    if (rank == 0) {
        rc = mill__inputs_collect(in, a->inputs, a->ninputs, err, errlen);
        if (rc == 0) rc = mill__inputs_check_output(a->inputs, a->ninputs, a->output, err, errlen);
        if (rc == 0) rc = mill__inputs_check_kinds(in, job->inputs, job->name, err, errlen);
        if (rc == 0) rc = mill__inputs_pack(in, &buf, &blen);
    }
    rc = mill__agree_root(comm, rc, err, errlen);
    if (rc) return rc;
    uint64_t len64 = blen;
    int mrc = MPI_Bcast(&len64, 1, MPI_UINT64_T, 0, comm);
    if (mrc == MPI_SUCCESS && rank != 0) {
        buf = malloc(len64 ? len64 : 1);
        if (!buf) mill__oom_abort(comm, "receiving the input list");
    }
    /* Broadcast in pieces below INT_MAX bytes. */
    for (uint64_t off = 0; mrc == MPI_SUCCESS && off < len64; off += INT_MAX / 2) {
        uint64_t n = len64 - off < INT_MAX / 2 ? len64 - off : INT_MAX / 2;
        mrc = MPI_Bcast(buf + off, (int)n, MPI_CHAR, 0, comm);
    }
    if (mrc != MPI_SUCCESS) rc = mill__mpi_error(mrc, "MPI_Bcast", err, errlen);
    if (rc == 0 && rank != 0) rc = mill__inputs_unpack(in, buf, (size_t)len64);
    free(buf);
    return mill__agree(comm, rc, err, errlen);
}


/* Prints job's description and options (`run JOB --help`). Returns 0, or
 * mill__plugin_load's error. */
static int job_help(const char *job, char *err, size_t errlen) {
    mill__plugin p;
    int rc = mill__plugin_load(&p, job, err, errlen);
    if (rc) return rc;
    printf("\njob %s: %s\n  --opt keys:", p.job->name, p.job->description ? p.job->description : "");
    const char *const *o = p.job->options;
    if (!o || !*o) printf(" none");
    for (; o && *o; o++) printf(" %s", *o);
    printf("\n");
    mill__plugin_unload(&p);
    return 0;
}

int mill__run_main(int argc, char **argv) {
    MPI_Comm comm;
    int rank, size;
    char err[MILL__ERRLEN] = "";
    if (mill__comm_world(&comm, &rank, &size) != 0) return MILL_EXIT_RUNTIME;

    mill__run_args args;
    int rc = mill__run_args_parse(&args, argc, argv, err, sizeof err);
    if (rc || args.help) {
        /* Every rank parsed the same argv: no communication is needed.
         * `run JOB --help` also gives the job's description and options. */
        if (rank == 0) {
            if (args.help) fputs(mill__run_usage, stdout);
            if (!rc && args.job) rc = job_help(args.job, err, sizeof err);
            if (rc) mill__eprintf("%s", err);
        }
        mill__run_args_free(&args);
        (void)MPI_Comm_free(&comm);
        return rc ? MILL_EXIT_USAGE : MILL_EXIT_OK;
    }

    double t0 = mill__now();
    int exit_code = MILL_EXIT_RUNTIME, setup_done = 0, mrc;
    mill__plugin plugin;
    mill__inputs in = {0};
    mill__commit *commit = NULL;
    mill__table mapped = {0}, reduced = {0};
    mill_ctx ctx = {.args = &args, .comm = comm, .job_comm = MPI_COMM_NULL, .rank = rank, .size = size};
    char *counters = NULL, *per_rank = NULL;

    mill__crash_watch(&ctx, args.job); /* a plugin may crash as it loads */
    rc = mill__plugin_load(&plugin, args.job, err, sizeof err);
    rc = mill__agree(comm, rc, err, sizeof err);
    if (rc) {
        exit_code = rc == MILL_ENOENT ? MILL_EXIT_USAGE : MILL_EXIT_RUNTIME;
        goto out;
    }
    ctx.job = plugin.job;
    mill__crash_watch(&ctx, plugin.path);
    mill__merge_choose(&ctx);
    if ((rc = mill__plugin_check_options(ctx.job, &args, err, sizeof err)) != 0) {
        exit_code = MILL_EXIT_USAGE;
        goto out;
    }
    if ((rc = share_inputs(comm, rank, &args, ctx.job, &in, err, sizeof err)) != 0) goto out;
    ctx.inputs = &in;
    /* The fingerprint of what is read: inputs as listed now, not as they
     * are at the commit (an input appended to meanwhile is read as listed;
     * fingerprinted later, a rerun would skip it as done). */
    char fp[17] = "";
    if (rank == 0) (void)mill__fingerprint(&args, plugin.path, &in, fp);
    ctx.node_ranks = node_ranks(comm);
    mill__fault_init(rank, size);
    rc = make_partitioner(&ctx, &args, err, sizeof err);
    if (rc == 0) rc = memory_budget(&ctx, &args, err, sizeof err);
    if ((rc = mill__agree(comm, rc, err, sizeof err)) != 0) {
        exit_code = rc == MILL_EINVAL ? MILL_EXIT_USAGE : MILL_EXIT_RUNTIME;
        goto out;
    }
    const char *io = getenv("OMPI_MCA_io"); /* main.c chose ROMIO unless the user chose */
    if (rank == 0 && !strcmp(args.format, "hdf5") && io && io[0] != '^' && strstr(io, "ompio"))
        fprintf(stderr, "mpimill: warning: --format hdf5 under OMPI_MCA_io=%s: Open MPI's ompio does not report "
                        "a write that failed, so one failing on one rank hangs the job in HDF5; unset it for ROMIO\n",
                io);
    if ((rc = mill__commit_begin(&commit, comm, args.output, args.overwrite, err, sizeof err)) != 0) goto out;

    /* From here on the commit decides: any failure is a NO vote. */
    mrc = MPI_Comm_dup(comm, &ctx.job_comm);
    if (mrc != MPI_SUCCESS) {
        ctx.job_comm = MPI_COMM_NULL;
        rc = mill__mpi_error(mrc, "MPI_Comm_dup", err, sizeof err);
    }
    if (rc == 0) {
        ctx.lock_timeout_ms = args.lock_timeout_ms;
        rc = mill__lock_set_create(&ctx.locks, comm, MILL_LOCK_SLOTS);
        if (rc)
            snprintf(err, sizeof err, "cannot create the job's lock window: %s%s", mill_strerror(rc),
                     rc != MILL_EMPI ? ""
                                     : " (no MPI one-sided component could span these ranks: between nodes "
                                       "over TCP give mpirun --mca osc pt2pt, which Debian's Open MPI leaves "
                                       "out by default; see docs/lock.md)");
        mill__lock_set_stop(ctx.locks, mill__stop_signal);
        if (rc == 0) mill__wait_hook(lock_progress, ctx.locks);
    }
    setup_done = 1;
    if (rc == 0 && ctx.job->setup && (rc = ctx.job->setup(&ctx)) != 0)
        rc = mill__job_error(&ctx, "setup", rc, err, sizeof err);
    mill__table_salt((uint64_t)rank + 1);
    if (rc == 0 && (rc = mill__table_init(&mapped)) == 0 && (rc = mill__table_init(&reduced)) != 0)
        snprintf(err, sizeof err, "out of memory");
    mill__table_budget(&mapped, mill__map_share(ctx.memory));
    mill__table_budget(&reduced, mill__reduce_share(ctx.memory));
    /* A setup that failed on one rank stops all of them here. */
    rc = agree_phase(&ctx, rc, err, sizeof err);
    if (rc == 0) rc = mill__metrics_start(&ctx.metrics, comm);
    if (rc == 0) {
        ctx.table = &mapped;
        ctx.can_emit = 1;
        rc = map_phase(&ctx, &in, err, sizeof err);
    }
    if (rc == 0 && mill__stop_signal()) rc = mill__stop_error(err, sizeof err);
    rc = agree_phase(&ctx, rc, err, sizeof err);
    if (rc == 0 && ctx.job->map_done) { /* every rank, or none: collectives are allowed */
        ctx.fail[0] = '\0';
        if ((rc = ctx.job->map_done(&ctx)) != 0 || ctx.emit_rc || (rc = mill__emit_flush(&ctx)) != 0)
            rc = emit_callback_error(&ctx, "map_done", rc, err, sizeof err);
        rc = agree_phase(&ctx, rc, err, sizeof err);
    }
    ctx.can_emit = 0;
    ctx.table = &reduced;
    if (rc == 0) {
        mill__phase_begin(&ctx.metrics, MILL_PHASE_SHUFFLE);
        rc = mill__shuffle(&ctx, &mapped, err, sizeof err);
    }
    if (rc == 0 && mill__stop_signal()) rc = mill__stop_error(err, sizeof err);
    rc = agree_phase(&ctx, rc, err, sizeof err);
    if (rc == 0) {
        mill__phase_begin(&ctx.metrics, MILL_PHASE_REDUCE);
        rc = reduce_phase(&ctx, &reduced, commit, err, sizeof err);
    }
    if (rc == 0 && mill__stop_signal()) rc = mill__stop_error(err, sizeof err);
    ctx.table = NULL;
    if (rc) (void)mill__lock_set_release_all(ctx.locks); /* as agree_phase: nobody waits for them */

    /* Collective: every lock must have been released. Only the ranks that
     * hold one fail here (the vote then names the first of them); the
     * others vote as they stand. */
    const char *held;
    int nheld = mill__lock_set_held(ctx.locks, &held);
    mill__wait_hook(NULL, NULL);
    mrc = mill__lock_set_free(&ctx.locks);
    if (mrc && rc == 0 && (mrc != MILL_ESTATE || nheld)) {
        rc = mrc;
        if (mrc == MILL_ESTATE)
            snprintf(err, sizeof err, "job %s ended holding %d lock%s, '%s' first (mill_unlock was not called)",
                     ctx.job->name, nheld, nheld == 1 ? "" : "s", held ? held : "?");
        else
            snprintf(err, sizeof err, "freeing the job's lock window: %s", mill_strerror(mrc));
    }
    if (rc == 0) { /* the commit's prepare, timed as a phase of its own */
        uint64_t bytes = 0, files = 0;
        mill__phase_begin(&ctx.metrics, MILL_PHASE_COMMIT);
        rc = mill__commit_prepare(commit, &bytes, &files, err, sizeof err);
        mill__phase_end(&ctx.metrics, MILL_PHASE_COMMIT, bytes, files);
    }
    if (rc == 0 && mill__stop_signal()) rc = mill__stop_error(err, sizeof err); /* came in the prepare: vote no */
    uint64_t local[2] = {ctx.records, ctx.keys_out}, total[2] = {0, 0};
    mrc = MPI_Reduce(local, total, 2, MPI_UINT64_T, MPI_SUM, 0, comm);
    if (mrc != MPI_SUCCESS && rc == 0) rc = mill__mpi_error(mrc, "MPI_Reduce", err, sizeof err);
    int crc = mill__counters_sum(&ctx, &counters, err, sizeof err);
    if (rc == 0) rc = crc;
    crc = mill__metrics_gather(&ctx.metrics, comm, &per_rank, err, sizeof err);
    if (rc == 0) rc = crc;
    char *members = NULL;
    if (rank == 0 && rc == 0) {
        members = mill__manifest_members(&ctx, &in, argc, argv, fp, counters, per_rank, total[0], total[1],
                                   mill__now() - t0, ctx.metrics.t0 - t0);
        if (!members) rc = MILL_ENOMEM;
    }
    rc = mill__commit_end(commit, rc, members, err, sizeof err);
    ctx.committed = rc == 0;
    commit = NULL;
    free(members);
    if (rc == 0) {
        exit_code = MILL_EXIT_OK;
        if (rank == 0 && !args.quiet) {
            printf("mpimill: %s: committed %s: %" PRIu64 " records in, %" PRIu64 " records out, %d rank%s, %.2f s",
                   ctx.job->name, args.output, total[0], total[1], size, size == 1 ? "" : "s", mill__now() - t0);
            for (const char *c = counters; c && *c; c = strchr(c, '\n') + 1)
                printf("%s%.*s", c == counters ? "; counters: " : ", ", (int)(strchr(c, '\n') - c), c);
            printf("\n");
        }
    }

out:
    ctx.counters_summed = 1; /* summed above, or never: a count in teardown would be lost */
    if (setup_done && ctx.job->teardown) ctx.job->teardown(&ctx);
    mill__crash_watch(NULL, NULL);
    /* A communicator that fails to free stays until exit: the run is over. */
    if (ctx.job_comm != MPI_COMM_NULL) (void)MPI_Comm_free(&ctx.job_comm);
    free(counters);
    free(per_rank);
    if (exit_code != MILL_EXIT_OK && rank == 0) mill__eprintf("error: %s", err);
    if (exit_code != MILL_EXIT_OK && mill__stop_signal()) exit_code = 128 + mill__stop_signal();
    mill__table_free(&mapped);
    mill__table_free(&reduced);
    mill_partition_free(ctx.part);
    mill__spill_free(ctx.spill);
    mill__inputs_free(&in);
    if (ctx.job) mill__plugin_unload(&plugin);
    mill__run_args_free(&args);
    (void)MPI_Comm_free(&comm);
    return exit_code;
}
