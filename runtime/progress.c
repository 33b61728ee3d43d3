/* progress.c -- telling the user how far a long job is, from rank 0.
 *
 * Rank 0 measures the map phase of its node (the bytes of the pieces its
 * ranks share, io/share.h), or without sharing its own share (byte ranges
 * are equal, so either fraction is about the job's). On a terminal it
 * redraws one line at most five times a second: bytes done, rate and ETA.
 * Otherwise (Slurm logs, pipes) it prints one line about every 10 seconds
 * on stderr, and nothing for jobs shorter than that
 * (MPIMILL_PROGRESS_INTERVAL=SECONDS changes the 10). --quiet silences it.
 *
 * Under mpirun a rank's stderr is a pipe to mpirun, whatever mpirun's own
 * stderr is: only mpirun's tells whether a user watches. So the bar is
 * drawn when stderr is a terminal, or when mpirun started this rank
 * (OMPI_COMM_WORLD_SIZE is set), stderr is a pipe and the parent's stderr
 * (/proc/PPID/fd/2: Open MPI's mpirun when it started rank 0 directly, on
 * rank 0's node) is a terminal. mpirun options that rewrite or redirect a
 * rank's output (--output-filename, --tag-output, --timestamp-output,
 * --xml) mean lines. Rank 0's own mill_log lines and errors clear the bar
 * first; another rank's line reaches the terminal through mpirun and may
 * land at the end of the bar's line, which the next redraw leaves above.
 * (A shell's `mpimill run ... 2>&1 | tee log` is not under mpirun: lines.)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "runtime.h"

static struct {
    int on;          /* rank 0, not --quiet */
    int tty;         /* stderr is a terminal, or a pipe to a launcher's terminal */
    const char *job;
    const char *where; /* whose bytes: "rank 0", or "rank 0's node" */
    double total;    /* the input bytes of `where` */
    int exact;       /* the bytes read are the bytes on disk: no gzip or HDF5 input */
    double t0, last; /* start, and last line printed */
    double interval; /* seconds between lines when not on a terminal */
} pg;

/* Returns 1 when fd is a pipe. */
static int is_pipe(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* Returns 1 when mpirun was asked to rewrite or redirect the ranks'
 * output: a bar's redraws would be tagged line by line or end in a file. */
static int launcher_rewrites_output(void) {
    static const char *const opts[] = {"OMPI_MCA_orte_output_filename", "OMPI_MCA_orte_tag_output",
                                       "OMPI_MCA_orte_timestamp_output", "OMPI_MCA_orte_xml_output"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        const char *v = getenv(opts[i]);
        if (v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 && strcasecmp(v, "no") != 0 &&
            strcasecmp(v, "off") != 0)
            return 1;
    }
    return 0;
}

/* Returns 1 when the parent process's (the launcher's) stderr is a
 * terminal. Opened read-only and closed at once; without /proc or the
 * right to look (another user's launcher), it is taken not to be. */
static int launcher_on_terminal(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd/2", (long)getppid());
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    int tty = isatty(fd);
    (void)close(fd); /* read-only, nothing read: nothing to lose */
    return tty;
}

void mill__progress_start(const char *job, int rank, int quiet, uint64_t total_bytes, int exact, const char *where) {
    pg.on = rank == 0 && !quiet && total_bytes > 0;
    pg.tty = pg.on && (isatty(STDERR_FILENO) || (getenv("OMPI_COMM_WORLD_SIZE") && is_pipe(STDERR_FILENO) &&
                                                 !launcher_rewrites_output() && launcher_on_terminal()));
    pg.job = job;
    pg.where = where;
    pg.total = (double)total_bytes;
    pg.exact = exact;
    pg.t0 = pg.last = mill__now();
    const char *iv = getenv("MPIMILL_PROGRESS_INTERVAL");
    pg.interval = iv && atof(iv) > 0 ? atof(iv) : 10.0;
}

void mill__progress_update(uint64_t done_bytes) {
    if (!pg.on) return;
    double now = mill__now();
    if (now - pg.last < (pg.tty ? 0.2 : pg.interval)) return;
    pg.last = now;
    double done = (double)done_bytes, rate = done / (now - pg.t0 + 1e-9);
    double eta = rate > 0 ? (pg.total - done) / rate : 0;
    /* The unit follows the input's size: "0 of 0 MiB" says nothing of a
     * slow job on a small input. */
    double unit = pg.total >= 10 * 1073741824.0 ? 1073741824.0 : pg.total >= 10 * 1048576.0 ? 1048576.0 : 1024.0;
    const char *u = unit > 1048576.0 ? "GiB" : unit > 1024.0 ? "MiB" : "KiB";
    char what[160];
    if (!pg.exact || done > pg.total) /* gzip inflates, HDF5 compresses: no fraction to give */
        snprintf(what, sizeof what, "(%.0f %s read on %s, of %.0f %s on disk), %.0f %s/s", done / unit, u, pg.where,
                 pg.total / unit, u, rate / unit, u);
    else
        snprintf(what, sizeof what, "%3.0f%% (%.0f of %.0f %s on %s), %.0f %s/s, ETA %.0f s",
                 100.0 * done / pg.total, done / unit, pg.total / unit, u, pg.where, rate / unit, u, eta);
    fprintf(stderr, "%smpimill: %s: map %s%s", pg.tty ? "\r" : "", pg.job, what, pg.tty ? "\033[K" : "\n");
}

void mill__progress_clear(void) {
    if (pg.on && pg.tty && pg.last > pg.t0) fputs("\r\033[K", stderr); /* redrawn at the next update */
}

void mill__progress_end(void) {
    mill__progress_clear();
    pg.on = 0;
}
