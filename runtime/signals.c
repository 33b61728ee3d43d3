/* signals.c -- stopping a job cleanly on SIGTERM, SIGINT, SIGUSR1, SIGUSR2.
 *
 * Slurm sends SIGTERM at the time limit and on scancel, and a chosen signal
 * (--signal=B:USR1@SECONDS) before it; mpirun forwards them to every rank.
 * The handler only records the signal. The engine polls mill__stop_signal()
 * between records and at every phase boundary, turns it into an error, and
 * the commit then votes NO: nothing is published, staging is removed, and
 * the job says why.
 *
 * A crash inside a plugin (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) is
 * reported by the crashing rank with the plugin and the record being
 * mapped; the rank then dies of the signal, mpirun ends the others, and
 * since no vote was complete nothing is committed (recovery removes the
 * staging later). A crash while the plugin loads, or in its teardown after
 * the commit (the output then stands), says so.
 *
 * SIGXFSZ is ignored: a file passing the size limit (ulimit -f, a batch
 * system's limit) then fails its write with EFBIG, reported as an error
 * naming the file, instead of killing the rank without a word.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "text.h"
#include "runtime.h"

/* The first stop signal received, or 0. Written only by the handler. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    if (!stop_signal) stop_signal = sig;
}

int mill__signals_install(void) {
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0) return MILL_EINVAL;
    return signal(SIGXFSZ, SIG_IGN) == SIG_ERR ? MILL_EINVAL : 0;
}

int mill__stop_signal(void) { return stop_signal; }

void mill__stop_reason(int sig, char *buf, size_t len) {
    snprintf(buf, len, "stopped by SIG%s (%s)",
             sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : sig == SIGUSR1 ? "USR1" : "USR2",
             sig == SIGTERM   ? "time limit, scancel or kill"
             : sig == SIGINT  ? "interrupt"
             : sig == SIGUSR1 ? "the scheduler's warning before the time limit"
                              : "the scheduler's warning, or a SIGTERM the batch script passed on through mpirun");
}

int mill__stop_error(char *err, size_t errlen) {
    char why[256];
    mill__stop_reason(stop_signal, why, sizeof why);
    snprintf(err, errlen, "%s: nothing was committed", why);
    return MILL_EABORT;
}

/* The job whose crash would be reported, and its plugin file. */
static const mill_ctx *watched;
static const char *watched_plugin;
static char crash_stack[64 * 1024];

static void on_crash(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    char msg[1536];
    const mill_ctx *ctx = watched;
    const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
                       : sig == SIGABRT ? "SIGABRT" : "SIGILL";
    const char *map = mill__text_mapped.start, *at = info ? (const char *)info->si_addr : NULL;
    int n;
    if (sig == SIGBUS && map && at >= map && at < map + mill__text_mapped.len)
        n = snprintf(msg, sizeof msg, "mpimill: error: rank %d: input %s was truncated while it was read (%s at "
                     "its byte %zu): nothing was committed\n", ctx ? ctx->rank : -1, mill__text_mapped.path, name,
                     (size_t)(at - map));
    else if (ctx && !ctx->job)
        n = snprintf(msg, sizeof msg, "mpimill: error: rank %d: crashed with %s while loading the plugin %s: nothing "
                     "was committed\n", ctx->rank, name, watched_plugin);
    else if (ctx && ctx->committed)
        n = snprintf(msg, sizeof msg, "mpimill: error: rank %d: job %s crashed with %s in its plugin %s after its "
                     "output was committed (the output is complete)\n", ctx->rank, ctx->job->name, name,
                     watched_plugin);
    else if (ctx && ctx->rec) {
        char where[1024];
        mill__record_where(ctx->rec, where, sizeof where);
        n = snprintf(msg, sizeof msg,
                     "mpimill: error: rank %d: job %s crashed with %s in its plugin %s at %s: nothing was committed\n",
                     ctx->rank, ctx->job->name, name, watched_plugin, where);
    } else if (ctx)
        n = snprintf(msg, sizeof msg,
                     "mpimill: error: rank %d: job %s crashed with %s (plugin %s): nothing was committed\n",
                     ctx->rank, ctx->job->name, name, watched_plugin);
    else
        n = snprintf(msg, sizeof msg, "mpimill: error: crashed with %s\n", name);
    if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* exit() while a job is watched can only come from its plugin (the runtime
 * returns from main): a plugin's exit(0) must not pass for success. */
static void on_exit_watched(void) {
    const mill_ctx *ctx = watched;
    if (!ctx) return;
    char msg[1536], where[1040] = "";
    if (ctx->rec) {
        memcpy(where, " at ", 5);
        mill__record_where(ctx->rec, where + 4, sizeof where - 4);
    }
    int n = ctx->job ? snprintf(msg, sizeof msg, "mpimill: error: rank %d: job %s called exit() in its plugin %s%s: %s\n",
                                ctx->rank, ctx->job->name, watched_plugin, where,
                                ctx->committed ? "after its output was committed (the output is complete)"
                                               : "nothing was committed")
                     : snprintf(msg, sizeof msg, "mpimill: error: rank %d: the plugin %s called exit() as it loaded: "
                                "nothing was committed\n", ctx->rank, watched_plugin);
    if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(1);
}

void mill__crash_watch(const mill_ctx *ctx, const char *plugin_path) {
    static int installed;
    watched = ctx;
    watched_plugin = plugin_path;
    if (installed || !ctx) return;
    installed = 1;
    (void)atexit(on_exit_watched);
    stack_t ss = {.ss_sp = crash_stack, .ss_size = sizeof crash_stack};
    (void)sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) (void)sigaction(sigs[i], &sa, NULL);
}
