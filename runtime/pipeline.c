/* pipeline.c -- `mpimill pipeline FILE`: several jobs in sequence, resumable.
 *
 * FILE holds one stage per line: `run JOB ARGS...` as given to `mpimill
 * run` (words split at blanks; '...' and "..." quote, \ escapes; a word
 * starting with '#' begins a comment; blank lines are ignored). A stage's
 * --output may be a later stage's --input.
 *
 * Resume: before each stage, rank 0 computes the fingerprint the stage's
 * run would have (mill__fingerprint: plugin file, the options that change
 * the output, every input file's path, size and mtime) and compares it with the one in the
 * manifest OUTPUT/_SUCCESS. When they are equal the output is already
 * committed for exactly these inputs, and the stage is skipped with a line
 * saying so. This is always on: a rerun -- by hand, or by Slurm after
 * `sbatch --requeue` / `scontrol requeue` (SLURM_RESTART_COUNT > 0) --
 * resumes from the first stage not committed. A stage that reruns rewrites
 * its output's files, so the stages reading it rerun too.
 *
 * Runs inside MPI like `run` (main.c initialises MPI); every rank runs the
 * same stages. The first failing stage ends the pipeline with its exit code
 * (128+signal when a stop signal arrived; see signals.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commit.h"
#include "ctx.h"
#include "input.h"
#include "manifest.h"
#include "plugin.h"
#include "runtime.h"

static const char pipeline_usage[] =
    "usage: mpimill pipeline FILE\n"
    "\n"
    "Runs the stages of FILE in order, one `run JOB ARGS...` per line ('#' comments),\n"
    "on the ranks of this MPI job (mpirun -n N mpimill pipeline FILE, or srun).\n"
    "A stage whose --output is already committed with the fingerprint the stage would\n"
    "compute (same plugin, options and input files) is skipped, so a rerun -- or a\n"
    "Slurm requeue -- resumes from the first stage not committed.\n";

/* One stage: its words (argv[0] is "run") and the line it came from. */
typedef struct stage {
    char **argv;
    int argc;
    int line;
} stage;

/* Splits line (modified in place) into words appended to *words, as a
 * shell would: '...' keeps everything, "..." too except that a backslash
 * escapes " and \\ (so "a\\.c" stays a\\.c, a regex); outside quotes a
 * backslash escapes any character. Returns the number of words, or -1 with
 * a message in err (unterminated quote, out of memory). */
static int split_words(char *line, char ***words, char *err, size_t errlen) {
    int n = 0, cap = 0;
    char *r = line, *w = line;
    *words = NULL;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n') r++;
        if (!*r || *r == '#') break;
        char *start = w;
        char quote = 0;
        while (*r && (quote || (*r != ' ' && *r != '\t' && *r != '\r' && *r != '\n'))) {
            if (quote && *r == quote) {
                quote = 0;
                r++;
            } else if (!quote && (*r == '\'' || *r == '"')) {
                quote = *r++;
            } else if (*r == '\\' && r[1] && (!quote || (quote == '"' && (r[1] == '"' || r[1] == '\\')))) {
                *w++ = r[1];
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        if (quote) {
            snprintf(err, errlen, "unterminated %c quote", quote);
            free(*words);
            *words = NULL;
            return -1;
        }
        int end = *r != '\0';
        *w++ = '\0';
        if (end) r++;
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(*words, (size_t)cap * sizeof *v);
            if (!v) {
                snprintf(err, errlen, "out of memory");
                free(*words);
                *words = NULL;
                return -1;
            }
            *words = v;
        }
        (*words)[n++] = start;
        (*words)[n] = NULL;
        if (!end) break;
    }
    return n;
}

/* Reads the fingerprint member of dir/_SUCCESS into fp. Returns 0, or -1
 * when there is no manifest or it has no fingerprint. */
static int manifest_fingerprint(const char *dir, char fp[17]) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/_SUCCESS", dir) >= sizeof path) return -1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO is not waited on */
    struct stat st;
    FILE *f = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return -1;
    buf[n] = '\0';
    const char *key = "\"fingerprint\": \"", *p = strstr(buf, key);
    if (!p) return -1;
    p += strlen(key);
    if (strspn(p, "0123456789abcdef") != 16 || p[16] != '"') return -1;
    memcpy(fp, p, 16);
    fp[16] = '\0';
    return 0;
}

/* Rank 0 only, no MPI. Given a stage's `run JOB ARGS...` words (argv[0] ==
 * "run"), resolves its plugin and collects its inputs, writes the
 * fingerprint the run would have into fp, and returns 1 when ARGS' --output
 * holds a manifest _SUCCESS with that fingerprint, 0 when not, or a
 * negative MILL_E* code with a message in err when the fingerprint cannot
 * be computed (bad arguments, missing plugin or input). */
static int stage_committed(int argc, char **argv, char fp[17], char *err, size_t errlen) {
    mill__run_args a;
    mill__plugin p;
    mill__inputs in = {0};
    char have[17];
    int rc = mill__run_args_parse(&a, argc, argv, err, errlen);
    fp[0] = '\0';
    if (rc == 0 && (rc = mill__plugin_load(&p, a.job, err, errlen)) == 0) {
        rc = mill__inputs_collect(&in, a.inputs, a.ninputs, err, errlen);
        if (rc == 0) rc = mill__fingerprint(&a, p.path, &in, fp);
        mill__inputs_free(&in);
        mill__plugin_unload(&p);
    }
    int committed = rc == 0 && manifest_fingerprint(a.output, have) == 0 && !strcmp(have, fp);
    mill__run_args_free(&a);
    return rc < 0 ? rc : committed;
}

/* Rank 0 reads path into a malloc'ed NUL-terminated buffer. Returns 0 or
 * MILL_EIO/MILL_ENOMEM with a message in err. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "pipeline %s: %s", path, strerror(errno));
        return MILL_EIO;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *b = realloc(buf, cap + 65536);
            if (!b) {
                rc = MILL_ENOMEM;
                snprintf(err, errlen, "pipeline %s: out of memory", path);
                break;
            }
            buf = b;
            cap += 65536;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    if (rc == 0 && ferror(f)) {
        rc = MILL_EIO;
        snprintf(err, errlen, "pipeline %s: %s", path, strerror(errno)); /* EISDIR for a directory */
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = MILL_EIO;
        snprintf(err, errlen, "pipeline %s: %s", path, strerror(errno));
    }
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Collective. Rank 0 reads FILE; every rank gets its text in *text. */
static int share_file(MPI_Comm comm, int rank, const char *path, char **text, char *err, size_t errlen) {
    char *buf = NULL;
    size_t len = 0;
    int rc = rank == 0 ? read_file(path, &buf, &len, err, errlen) : 0;
    const char *nul = rc == 0 && rank == 0 ? memchr(buf, '\0', len) : NULL;
    if (nul) { /* the lines after it would be lost unseen */
        int line = 1;
        for (const char *c = buf; c < nul; c++) line += *c == '\n';
        snprintf(err, errlen, "pipeline %s:%d: a NUL byte: not a text file", path, line);
        rc = MILL_EINVAL;
    } else if (rc == 0 && rank == 0 && len > (1u << 30)) {
        snprintf(err, errlen, "pipeline %s: larger than 1 GiB", path);
        rc = MILL_EINVAL;
    }
    rc = mill__agree_root(comm, rc, err, errlen);
    if (rc) {
        free(buf);
        return rc;
    }
    unsigned long long n = len;
    int mrc = MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
    if (mrc == MPI_SUCCESS && rank != 0 && !(buf = malloc(n + 1))) rc = MILL_ENOMEM;
    rc = mill__agree(comm, rc, err, errlen);
    if (rc == 0 && mrc == MPI_SUCCESS) mrc = MPI_Bcast(buf, (int)n, MPI_CHAR, 0, comm);
    if (mrc != MPI_SUCCESS) rc = mill__mpi_error(mrc, "MPI_Bcast", err, errlen);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    return 0;
}

int mill__pipeline_main(int argc, char **argv) {
    MPI_Comm comm;
    int rank, size;
    char err[MILL__ERRLEN] = "";
    if (mill__comm_world(&comm, &rank, &size) != 0) return MILL_EXIT_RUNTIME;
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        if (rank == 0) fputs(pipeline_usage, stdout);
        (void)MPI_Comm_free(&comm);
        return MILL_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        if (rank == 0) fprintf(stderr, "mpimill: pipeline: expected one FILE (see mpimill pipeline --help)\n");
        (void)MPI_Comm_free(&comm);
        return MILL_EXIT_USAGE;
    }
    const char *file = argv[1];
    char *text = NULL;
    stage *stages = NULL;
    int nstages = 0, code = MILL_EXIT_RUNTIME, ran = 0, skipped = 0;
    int src = share_file(comm, rank, file, &text, err, sizeof err);
    if (src != 0) {
        if (rank == 0) mill__eprintf("error: %s", err);
        if (src == MILL_EINVAL) code = MILL_EXIT_USAGE;
        goto out;
    }

    /* Parse every line first: a mistake on line 9 is found before line 1 runs. */
    code = MILL_EXIT_USAGE;
    size_t nlines = 1;
    for (const char *c = text; *c; c++) nlines += *c == '\n';
    stages = calloc(nlines, sizeof *stages);
    if (!stages) {
        if (rank == 0) fprintf(stderr, "mpimill: error: out of memory\n");
        code = MILL_EXIT_RUNTIME;
        goto out;
    }
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char **words;
        int n = split_words(line, &words, err, sizeof err);
        if (n < 0) {
            if (rank == 0) mill__eprintf("pipeline %s:%d: %s", file, lineno, err);
            goto out;
        }
        if (n == 0) continue;
        stages[nstages++] = (stage){.argv = words, .argc = n, .line = lineno};
        if (strcmp(words[0], "run") != 0) {
            if (rank == 0)
                mill__eprintf("pipeline %s:%d: a stage is `run JOB ARGS...`, not '%s'", file, lineno, words[0]);
            goto out;
        }
        mill__run_args a;
        int rc = mill__run_args_parse(&a, n, words, err, sizeof err);
        if (rc == 0 && a.help) {
            snprintf(err, sizeof err, "--help is not a stage argument");
            rc = MILL_EINVAL;
        }
        if (rc == 0) { /* the job and its options, found now, not when the stage comes */
            rc = mill__plugin_check_args(&a, rank, err, sizeof err);
            /* Agreed: a plugin one rank cannot find (its MPIMILL_JOB_PATH, a
             * node-local path) must stop every rank, not leave the others
             * waiting in the stage's collectives. */
            rc = mill__agree(comm, rc, err, sizeof err);
        }
        mill__run_args_free(&a);
        if (rc) {
            if (rank == 0) mill__eprintf("pipeline %s:%d: %s", file, lineno, err);
            goto out;
        }
    }
    if (nstages == 0) {
        if (rank == 0) mill__eprintf("pipeline %s: no stages", file);
        goto out;
    }

    const char *job_id = getenv("SLURM_JOB_ID"), *restarts = getenv("SLURM_RESTART_COUNT");
    if (rank == 0) {
        printf("mpimill: pipeline %s: %d stage%s, %d rank%s", file, nstages, nstages == 1 ? "" : "s", size,
               size == 1 ? "" : "s");
        if (job_id) printf(" (Slurm job %s, restart %s)", job_id, restarts ? restarts : "0");
        printf("\n");
        fflush(stdout);
    }
    code = MILL_EXIT_OK;
    for (int s = 0; s < nstages && code == MILL_EXIT_OK; s++) {
        stage *st = &stages[s];
        mill__run_args a;
        if (mill__run_args_parse(&a, st->argc, st->argv, err, sizeof err) != 0) { /* parsed above */
            code = MILL_EXIT_USAGE;
            break;
        }
        /* Agreed: a rank that stops alone here would leave the others
         * waiting in the stage's collectives (rank 0, still cleaning up
         * after the last stage's commit, sees a signal the others missed). */
        int sig = mill__stop_signal(), stop = 0;
        if (MPI_Allreduce(&sig, &stop, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS) {
            if (rank == 0) fprintf(stderr, "mpimill: error: pipeline: MPI_Allreduce failed\n");
            code = MILL_EXIT_RUNTIME;
            mill__run_args_free(&a);
            break;
        }
        if (stop) {
            if (rank == 0) {
                mill__stop_reason(stop, err, sizeof err);
                mill__eprintf("error: pipeline %s: %s before stage %d/%d: %s", file, err, s + 1, nstages,
                              s ? "the stages before it are committed, it and the later ones not run"
                                : "no stage was run");
            }
            code = 128 + stop;
            mill__run_args_free(&a);
            break;
        }
        /* Rank 0 decides whether the stage's output is already committed. */
        char fp[17] = "";
        int done = 0;
        if (rank == 0) done = stage_committed(st->argc, st->argv, fp, err, sizeof err) == 1;
        if (MPI_Bcast(&done, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
            if (rank == 0) fprintf(stderr, "mpimill: error: pipeline: MPI_Bcast failed\n");
            code = MILL_EXIT_RUNTIME;
        } else if (done) {
            skipped++;
            if (rank == 0)
                printf("mpimill: pipeline: stage %d/%d (line %d, %s -> %s): skipped, already committed "
                       "with fingerprint %s\n",
                       s + 1, nstages, st->line, a.job, a.output, fp);
            /* What a killed run left beside the committed output (the old
             * output it replaced, the lock file) goes now, as a run would
             * have removed it; a failure only leaves it for later. */
            char e2[MILL__ERRLEN] = "";
            if (rank == 0 && mill__commit_recover(a.output, NULL, e2, sizeof e2) != 0)
                mill__eprintf("warning: pipeline: %s", e2);
        } else {
            if (rank == 0)
                printf("mpimill: pipeline: stage %d/%d (line %d, %s -> %s): running\n", s + 1, nstages, st->line,
                       a.job, a.output);
            if (rank == 0) fflush(stdout);
            code = mill__run_main(st->argc, st->argv);
            ran++;
            if (code != MILL_EXIT_OK && rank == 0)
                mill__eprintf("error: pipeline %s: stage %d/%d (line %d) failed with exit %d; "
                              "%d later stage%s not run",
                              file, s + 1, nstages, st->line, code, nstages - s - 1, nstages - s - 1 == 1 ? "" : "s");
        }
        if (rank == 0) fflush(stdout);
        mill__run_args_free(&a);
    }
    if (code == MILL_EXIT_OK && rank == 0) {
        printf("mpimill: pipeline %s: done: %d stage%s run, %d skipped (already committed)\n", file, ran,
               ran == 1 ? "" : "s", skipped);
        fflush(stdout);
    }

out:
    for (int s = 0; s < nstages; s++) free(stages[s].argv);
    free(stages);
    free(text);
    (void)MPI_Comm_free(&comm); /* a failure leaves it until exit: the stages are done */
    return code;
}
