/* api.c -- the calls a job plugin makes, declared in <mpimill/job.h>:
 * emitting, combining, writing, options, logging, counters, rank and size.
 * Each checks its context and returns MILL_ESTATE when called at a time it
 * has no meaning (mill_emit outside map and map_done or inside combine,
 * mill_write outside reduce).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "runtime.h"

int mill_emit(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    if (!ctx || !ctx->can_emit || ctx->combining) return MILL_ESTATE;
    mill_kv kv = {key, key_len, value, value_len};
    int rc = mill__emit_check(ctx, &kv);
    if (rc == 0) rc = mill__emit_add(ctx, &kv);
    if (rc && !ctx->emit_rc) ctx->emit_rc = rc; /* sticky: see ctx.h */
    return rc;
}

int mill_emit_batch(mill_ctx *ctx, const mill_kv *kv, size_t n) {
    if (!ctx || !ctx->can_emit || ctx->combining) return MILL_ESTATE;
    if (!kv && n) return MILL_EINVAL;
    int rc = mill__emit_many(ctx, kv, n);
    if (rc && !ctx->emit_rc) ctx->emit_rc = rc;
    return rc;
}

/* Emits an 8-byte value through the typed emit `call`, which takes values
 * of `type`. A double in an integer job, or an integer in an F64 job, fails
 * the job (sticky, as a value of the wrong width does): the bits of one
 * combined as the other would be written as numbers, and no width check
 * could tell. U64 and I64 share their bits (and sums), and a BYTES job
 * takes 8 opaque bytes, as before ABI 1.7. */
static int emit_typed(mill_ctx *ctx, mill_value_type type, const char *call, const void *key, size_t key_len,
                      const void *value) {
    static const char *const types[] = {"BYTES", "U64", "I64", "F64"};
    if (ctx && ctx->can_emit && !ctx->combining && ctx->job->value_type != MILL_VALUE_BYTES &&
        (ctx->job->value_type == MILL_VALUE_F64) != (type == MILL_VALUE_F64)) {
        if (!ctx->emit_rc) {
            snprintf(ctx->fail, sizeof ctx->fail, "%s in a job whose value_type is %s", call,
                     types[ctx->job->value_type]);
            ctx->emit_rc = MILL_EJOB;
        }
        return MILL_EJOB;
    }
    return mill_emit(ctx, key, key_len, value, 8);
}

int mill_emit_u64(mill_ctx *ctx, const void *key, size_t key_len, uint64_t value) {
    return emit_typed(ctx, MILL_VALUE_U64, "mill_emit_u64", key, key_len, &value);
}

int mill_emit_i64(mill_ctx *ctx, const void *key, size_t key_len, int64_t value) {
    return emit_typed(ctx, MILL_VALUE_I64, "mill_emit_i64", key, key_len, &value);
}

int mill_emit_f64(mill_ctx *ctx, const void *key, size_t key_len, double value) {
    return emit_typed(ctx, MILL_VALUE_F64, "mill_emit_f64", key, key_len, &value);
}

int mill_set_value(mill_ctx *ctx, const void *value, size_t value_len) {
    if (!ctx || !ctx->combining) return MILL_ESTATE;
    if ((!value && value_len) || value_len > UINT32_MAX) return MILL_EINVAL;
    if (ctx->job->value_type != MILL_VALUE_BYTES && value_len != 8) { /* record.h sends 8-byte numbers */
        snprintf(ctx->fail, sizeof ctx->fail, "a numeric job set a %zu-byte value", value_len);
        return MILL_EJOB;
    }
    int rc = mill__table_set_value(ctx->table, ctx->combining, value, (uint32_t)value_len);
    if (rc == 0) ctx->value_set = 1;
    return rc;
}

int mill_value_resize(mill_ctx *ctx, size_t value_len, void **value) {
    if (!ctx || !ctx->combining) return MILL_ESTATE;
    if (!value || value_len > UINT32_MAX) return MILL_EINVAL;
    if (ctx->job->value_type != MILL_VALUE_BYTES && value_len != 8) {
        snprintf(ctx->fail, sizeof ctx->fail, "a numeric job resized a value to %zu bytes", value_len);
        return MILL_EJOB;
    }
    int rc = mill__table_resize_value(ctx->table, ctx->combining, (uint32_t)value_len);
    if (rc) return rc;
    *value = ctx->combining->value;
    ctx->value_set = 1;
    return 0;
}

int mill_write(mill_ctx *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    /* A custom combine can run inside reduce's merge (when the owner
     * spilled): ctx->out is set then, but writing from combine is not
     * allowed, at any budget. */
    if (!ctx || !ctx->out || ctx->combining) return MILL_ESTATE;
    if ((!key && key_len) || (!value && value_len)) return MILL_EINVAL;
    char err[256] = ""; /* an allocation failure leaves it unset */
    int rc = mill__write_record(ctx, ctx->out, key, key_len, value, value_len, err, sizeof err);
    if (rc && rc != MILL_EJOB) snprintf(ctx->fail, sizeof ctx->fail, "%s", err[0] ? err : mill_strerror(rc));
    if (rc && !ctx->emit_rc) ctx->emit_rc = rc; /* sticky: see ctx.h */
    return rc;
}

const char *mill_opt(mill_ctx *ctx, const char *key) {
    return ctx && key ? mill__run_args_opt(ctx->args, key) : NULL;
}

int mill_opt_i64(mill_ctx *ctx, const char *key, int64_t def, int64_t *out) {
    const char *v = mill_opt(ctx, key);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10); /* decimal: k=010 is ten, not octal eight */
    if (errno || end == v || *end) {
        mill_fail(ctx, "option %s=%s: not an integer", key, v);
        return MILL_EINVAL;
    }
    *out = x;
    return 0;
}

int mill_opt_f64(mill_ctx *ctx, const char *key, double def, double *out) {
    const char *v = mill_opt(ctx, key);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    /* Underflow (1e-320, a subnormal; 1e-400, zero) is a number; overflow is not. */
    int range = errno == ERANGE && fabs(x) > 1.0;
    if ((errno && errno != ERANGE) || range || end == v || *end || isnan(x)) {
        mill_fail(ctx, "option %s=%s: not a number", key, v);
        return MILL_EINVAL;
    }
    *out = x;
    return 0;
}

int mill_rank(const mill_ctx *ctx) { return ctx->rank; }
int mill_size(const mill_ctx *ctx) { return ctx->size; }
int mill_input(const mill_ctx *ctx, size_t i, const char **path, uint64_t *kind) {
    if (!ctx->inputs || i >= ctx->inputs->n) return MILL_ENOENT;
    if (path) *path = ctx->inputs->files[i].path;
    if (kind) *kind = UINT64_C(1) << mill__input_kind_bit(&ctx->inputs->files[i]);
    return 0;
}

void mill_set_userdata(mill_ctx *ctx, void *data) { ctx->userdata = data; }
void *mill_userdata(const mill_ctx *ctx) { return ctx->userdata; }

MPI_Comm mill_comm(const mill_ctx *ctx) { return ctx->job_comm; }

void mill_fail(mill_ctx *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->fail, sizeof ctx->fail, fmt, ap);
    va_end(ap);
}

void mill_log(mill_ctx *ctx, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mill__progress_clear(); /* a message on a terminal does not follow the bar on its line */
    fprintf(stderr, "mpimill: %s[%d]: %s\n", ctx->job ? ctx->job->name : "job", ctx->rank, msg);
}

/* Adds delta to counter name, a job's own or (runtime) the runtime's. */
static int count(mill_ctx *ctx, const char *name, int64_t delta, int runtime) {
    if (!ctx || !name || !*name || strlen(name) >= sizeof ctx->counters[0].name ||
        strpbrk(name, "\"\\=\n"))
        return MILL_EINVAL;
    if (ctx->counters_summed) return MILL_ESTATE;
    for (int i = 0; i < ctx->ncounters; i++) {
        if (!strcmp(ctx->counters[i].name, name)) {
            ctx->counters[i].value += delta;
            return 0;
        }
    }
    if (runtime ? ctx->ncounters == MILL_MAX_COUNTERS : ctx->ncounters - ctx->nruntime == MILL_JOB_COUNTERS)
        return MILL_ENOMEM;
    ctx->nruntime += runtime;
    mill__counter *c = &ctx->counters[ctx->ncounters++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->value = delta;
    return 0;
}

int mill_count(mill_ctx *ctx, const char *name, int64_t delta) { return count(ctx, name, delta, 0); }

int mill__count_runtime(mill_ctx *ctx, const char *name, int64_t delta) { return count(ctx, name, delta, 1); }

/* Acquires (or with mode < 0 releases) a named lock for the plugin. */
static int named(mill_ctx *ctx, const char *name, int mode, uint64_t *token) {
    if (!ctx || !ctx->locks) return MILL_ESTATE;
    if (!name) return MILL_EINVAL;
    int rc = mode < 0 ? mill__lock_named_release(ctx->locks, name)
                      : mill__lock_named_acquire(ctx->locks, name, (mill__lock_mode)mode,
                                                 ctx->lock_timeout_ms, token);
    const char *msg = mill__lock_set_errmsg(ctx->locks);
    if (rc && !strncmp(msg, "lock '", 6)) mill_fail(ctx, "%s", msg); /* it names the lock already */
    else if (rc) mill_fail(ctx, "lock '%s': %s", name, strncmp(msg, "lock: ", 6) ? msg : msg + 6);
    return rc;
}

int mill_lock(mill_ctx *ctx, const char *name) { return named(ctx, name, MILL_LOCK_EXCLUSIVE, NULL); }

int mill_lock_fenced(mill_ctx *ctx, const char *name, uint64_t *token) {
    return named(ctx, name, MILL_LOCK_EXCLUSIVE, token);
}

int mill_lock_shared(mill_ctx *ctx, const char *name) { return named(ctx, name, MILL_LOCK_SHARED, NULL); }

int mill_unlock(mill_ctx *ctx, const char *name) { return named(ctx, name, -1, NULL); }

int mill_lock_order(mill_ctx *ctx, const char *name, uint64_t *order) {
    if (!ctx || !ctx->locks) return MILL_ESTATE;
    return mill__lock_named_order(ctx->locks, name, order);
}
