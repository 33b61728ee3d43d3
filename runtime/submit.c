/* submit.c -- `mpimill submit`: writing a Slurm batch script for a job and
 * submitting it with sbatch.
 *
 *   mpimill submit [--launcher srun|mpirun] [--array INPUTS|@LIST]
 *                  [--submit-dir DIR] [--dry-run] [SBATCH OPTIONS] -- JOB ARGS...
 *
 * The script (DIR/mpimill-submit-YYYYmmdd-HHMMSS-PID.sbatch) runs the
 * launcher in the background and forwards SIGUSR1, SIGUSR2, SIGTERM and
 * SIGINT to it, so that Slurm's warning before the time limit
 * (--signal=B:USR1@SECONDS), the time limit itself and scancel reach every
 * rank; the engine then stops cleanly and commits nothing. Options this
 * command does not know are given to sbatch as they are, before the script.
 * With --array, each array task gets one input and the output
 * OUTPUT/<basename of the input>. The job id sbatch prints is printed on
 * stdout alone; a line about the submission goes to stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "commit.h"
#include "input.h"
#include "plugin.h"
#include "runtime.h"

static const char submit_usage[] =
    "usage: mpimill submit [--launcher srun|mpirun] [--array INPUTS|@LIST] [--submit-dir DIR]\n"
    "                      [--dry-run] [SBATCH OPTIONS...] -- [run] JOB ARGS...\n"
    "       mpimill submit [...] -- pipeline FILE\n"
    "\n"
    "Writes a batch script that runs `mpimill run JOB ARGS...` (or `mpimill pipeline FILE`)\n"
    "on every task of the allocation and submits it with `sbatch --parsable`; prints the job id.\n"
    "\n"
    "  --launcher L    srun (default: srun --mpi=pmix) or mpirun (inside the allocation)\n"
    "  --array SPEC    one array task per input: SPEC is INPUT[,INPUT...] (a directory\n"
    "                  stands for its entries) or @LIST (a file, one input per line);\n"
    "                  each task reads its input and commits OUTPUT/<basename of input>\n"
    "  --submit-dir D  where the script is written (default: $MPIMILL_SUBMIT_DIR, else .)\n"
    "  --dry-run       write the script and print the sbatch command; do not submit\n"
    "  SBATCH OPTIONS  given to sbatch as they are: -n 4, --time=30, --signal=B:USR1@120,\n"
    "                  --requeue, --open-mode=append, -o FILE, ...\n"
    "\n"
    "The script forwards SIGUSR1/SIGUSR2/SIGTERM/SIGINT to the launcher: a job warned\n"
    "before its time limit, timed out or cancelled stops cleanly and commits nothing.\n";

/* A growing array of strings (pointers are borrowed or owned as noted). */
typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

/* Appends s to sv (the pointer, not a copy). Returns 0 or MILL_ENOMEM. */
static int strv_push(strv *sv, char *s) {
    if (sv->n + 2 > sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;
        char **v = realloc(sv->v, cap * sizeof *v);
        if (!v) return MILL_ENOMEM;
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    return 0;
}

/* Writes s to f as one single-quoted shell word. */
static void shell_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

/* An --array task's output name, and its input's place in the list. */
typedef struct task {
    char name[NAME_MAX + 1];
    size_t i;
} task;

static int task_cmp(const void *a, const void *b) {
    const task *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Returns the name an array task's output gets for input path p (its last
 * component, trailing slashes ignored) in buf, or NULL when there is none. */
static const char *task_name(const char *p, char *buf, size_t len) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    const char *s = p + n;
    while (s > p && s[-1] != '/') s--;
    size_t k = (size_t)(p + n - s);
    if (k == 0 || k >= len || (k == 1 && *s == '.') || (k == 2 && s[0] == '.' && s[1] == '.')) return NULL;
    memcpy(buf, s, k);
    buf[k] = '\0';
    return buf;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds one --array item to inputs (owned copies): a directory adds its
 * entries not starting with '.' or '_' in sorted order, anything else that
 * mpimill run would read (a file, a glob, FILE:/DATASET) is added as it is.
 * Returns 0 or a MILL_E* code with a message in err. */
static int array_add(strv *inputs, const char *item, char *err, size_t errlen) {
    struct stat st;
    if (stat(item, &st) != 0 || !S_ISDIR(st.st_mode)) {
        mill__inputs in = {0};
        char why[MILL__ERRLEN / 2]; /* room in err for it and the hint */
        int rc = mill__inputs_collect(&in, (char *const *)&item, 1, why, sizeof why);
        mill__inputs_free(&in);
        if (rc) {
            snprintf(err, errlen, "--array: %s%s", why,
                     item[strspn(item, "0123456789-,:%")] ? "" : " (--array takes inputs, not task ids)");
            return rc;
        }
        char *c = strdup(item);
        if (!c || strv_push(inputs, c) != 0) {
            free(c);
            snprintf(err, errlen, "out of memory");
            return MILL_ENOMEM;
        }
        return 0;
    }
    DIR *d = opendir(item);
    if (!d) {
        snprintf(err, errlen, "--array %s: %s", item, strerror(errno));
        return MILL_EIO;
    }
    strv names = {0};
    int rc = 0;
    size_t il = strlen(item);
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_') continue;
        size_t len = il + strlen(e->d_name) + 2;
        char *full = malloc(len);
        if (!full) {
            rc = MILL_ENOMEM;
            break;
        }
        snprintf(full, len, "%s%s%s", item, il && item[il - 1] == '/' ? "" : "/", e->d_name);
        if (strv_push(&names, full) != 0) {
            free(full);
            rc = MILL_ENOMEM;
            break;
        }
        errno = 0;
    }
    if (rc == 0 && errno != 0) rc = MILL_EIO;
    if (closedir(d) != 0 && rc == 0) rc = MILL_EIO;
    /* Sorted bytewise, as mpimill run lists a directory. */
    if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    for (size_t i = 0; i < names.n; i++) {
        if (rc == 0 && strv_push(inputs, names.v[i]) == 0) continue;
        if (rc == 0) rc = MILL_ENOMEM;
        free(names.v[i]);
    }
    free(names.v);
    if (rc) snprintf(err, errlen, "--array %s: %s", item, rc == MILL_ENOMEM ? "out of memory" : "cannot read the directory");
    return rc;
}

/* Expands the --array SPEC into inputs (owned copies). Returns 0 or a
 * MILL_E* code with a message in err. */
static int array_expand(strv *inputs, const char *spec, char *err, size_t errlen) {
    int rc = 0;
    if (spec[0] == '@') {
        char **list = NULL;
        rc = mill__inputs_list_read("--array", spec, &list, err, errlen);
        for (char **p = list; rc == 0 && *p; p++) rc = array_add(inputs, *p, err, errlen);
        mill__inputs_list_free(list);
    } else {
        char *copy = strdup(spec), *save = NULL;
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return MILL_ENOMEM;
        }
        for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save))
            rc = array_add(inputs, t, err, errlen);
        free(copy);
    }
    if (rc == 0 && inputs->n == 0) {
        snprintf(err, errlen, "--array %s: no inputs", spec);
        rc = MILL_EINVAL;
    }
    /* Every task's output must have a distinct name; no newline in a path.
     * Names are sorted (ties by input order) and neighbours compared: a
     * list of 50 000 inputs took 27 s pairwise. */
    task *t = rc == 0 ? calloc(inputs->n, sizeof *t) : NULL;
    if (rc == 0 && !t) {
        snprintf(err, errlen, "--array: out of memory");
        rc = MILL_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < inputs->n; i++) {
        char why[256] = "";
        t[i].i = i;
        if (strchr(inputs->v[i], '\n') || !task_name(inputs->v[i], t[i].name, sizeof t[i].name) ||
            mill__commit_output_ok(t[i].name, why, sizeof why) != 0) { /* what `run` takes (<= 160 bytes...) */
            snprintf(err, errlen, "--array: input '%s' has no usable name for its output%s%s%s", inputs->v[i],
                     *why ? " (" : "", why, *why ? ")" : "");
            rc = MILL_EINVAL;
        }
    }
    if (rc == 0) qsort(t, inputs->n, sizeof *t, task_cmp);
    for (size_t k = 1; rc == 0 && k < inputs->n; k++)
        if (!strcmp(t[k - 1].name, t[k].name)) {
            snprintf(err, errlen, "--array: inputs '%s' and '%s' would both write OUTPUT/%s", inputs->v[t[k - 1].i],
                     inputs->v[t[k].i], t[k].name);
            rc = MILL_EINVAL;
        }
    free(t);
    return rc;
}

/* What the script runs, from the arguments after "--". */
typedef struct submit_job {
    const char *command; /* "run" or "pipeline" */
    char **argv;         /* the command's arguments after the command word */
    int argc;
    const char *output;  /* --array: the --output value, the parent of the tasks' outputs */
} submit_job;

/* Writes the batch script to f. inputs_file is the --array list (NULL
 * without --array); self is the absolute path of this mpimill. */
static void write_script(FILE *f, const submit_job *job, const char *launcher, const char *inputs_file,
                         size_t ntasks_array, const char *self, int sargc, char **sargv) {
    time_t t = time(NULL);
    struct tm tm;
    char when[64] = "";
    if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "#!/bin/bash\n"
               "# Written by `mpimill submit` on %s. It runs mpimill on every task of the\n"
               "# allocation with %s and forwards the signals Slurm sends (the warning of\n"
               "# --signal=B:USR1@SECONDS, SIGTERM at the time limit or on scancel) to it:\n"
               "# the job then stops cleanly, commits nothing and says why.\n"
               "# sbatch options given:",
            when, !strcmp(launcher, "srun") ? "srun --mpi=pmix" : "mpirun");
    for (int i = 0; i < sargc; i++) { /* in a comment: a newline must not end it */
        fputc(' ', f);
        mill__fputs_visible(f, sargv[i]);
    }
    fprintf(f, "\nset -u\n");
    fprintf(f, "# Open MPI refuses to run as root unless told it may.\n"
               "if [ \"$(id -u)\" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi\n");
    fprintf(f, "MPIMILL=");
    shell_quote(f, self);
    fprintf(f, "\nargs=(");
    for (int i = 0; i < job->argc; i++) {
        /* An array task gets its own --output below, in place of the parent
         * (run refuses a second one). */
        if (inputs_file && !strcmp(job->argv[i], "--output") && ++i) continue;
        if (inputs_file && !strncmp(job->argv[i], "--output=", 9)) continue;
        fputc(' ', f);
        shell_quote(f, job->argv[i]);
    }
    fprintf(f, " )\n");
    if (inputs_file) {
        fprintf(f, "# Array task i (of %zu) reads line i+1 of the list and commits OUTPUT/<its basename>.\n"
                   "input=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" ",
                ntasks_array);
        shell_quote(f, inputs_file);
        fprintf(f, ")\n"
                   "[ -n \"$input\" ] || { echo \"mpimill: error: no input for array task ${SLURM_ARRAY_TASK_ID}\" >&2; exit 1; }\n"
                   "name=$input\n"
                   "while [ \"${name%%/}\" != \"$name\" ] && [ \"$name\" != / ]; do name=${name%%/}; done\n"
                   "name=${name##*/}\n"
                   "outdir=");
        shell_quote(f, job->output);
        fprintf(f, "\n"
                   "mkdir -p -- \"$outdir\" || exit 1\n"
                   "output=$outdir/$name\n"
                   "args+=(\"--input=$input\" \"--output=$output\")\n");
    }
    fprintf(f, "echo \"mpimill: Slurm job ${SLURM_JOB_ID:-?}${SLURM_ARRAY_TASK_ID:+ (array task ${SLURM_ARRAY_JOB_ID:-?}_$SLURM_ARRAY_TASK_ID)}, "
               "restart ${SLURM_RESTART_COUNT:-0}, ${SLURM_NTASKS:-1} tasks on ${SLURM_JOB_NODELIST:-?}\" >&2\n");
    fprintf(f, "pid=\n"
               "got=\n"
               "stopped=\n");
    if (!strcmp(launcher, "srun"))
        fprintf(f, "# srun ends the step at once on SIGTERM (its ranks are killed, not\n"
                   "# stopped): SIGTERM goes to the ranks through Slurm instead (scancel\n"
                   "# signals the job's steps, not this script). srun passes USR1 and USR2 on.\n"
                   "# An array task is ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}: its own id may be the array's,\n"
                   "# which scancel takes for every task.\n"
                   "send() {\n"
                   "  local id=${SLURM_ARRAY_TASK_ID:+${SLURM_ARRAY_JOB_ID:-}_$SLURM_ARRAY_TASK_ID}\n"
                   "  if [ \"$1\" = TERM ] && [ -n \"${SLURM_JOB_ID:-}\" ] && scancel --signal=TERM \"${id:-$SLURM_JOB_ID}\" "
                   "2>/dev/null; then return 0; fi\n"
                   "  kill -s \"$1\" \"$pid\" 2>/dev/null || true\n"
                   "}\n");
    else
        fprintf(f, "# mpirun ends the job on SIGTERM without passing the ranks' last words on:\n"
                   "# SIGTERM goes on as SIGUSR2, which mpirun forwards to every rank.\n"
                   "send() { kill -s \"$([ \"$1\" = TERM ] && echo USR2 || echo \"$1\")\" \"$pid\" 2>/dev/null || true; }\n");
    fprintf(f,
            "# The traps are set before the launcher starts: Slurm may send its warning\n"
            "# signal up to a minute early, even in the job's first second.\n"
            "forward() {\n"
            "  got=$1 stopped=$1\n"
            "  echo \"mpimill: batch script received SIG$2, forwarding it to the ranks\" >&2\n"
            "  [ -z \"$pid\" ] || send \"$1\"\n"
            "}\n"
            "trap 'forward USR1 USR1' USR1\n"
            "trap 'forward USR2 USR2' USR2\n"
            "trap 'forward TERM TERM' TERM\n"
            "# SIGINT goes on as SIGTERM: a background launcher ignores SIGINT, and\n"
            "# srun would only print its status.\n"
            "trap 'forward TERM INT' INT\n");
    fprintf(f, "# Rank 0 creates MPIMILL_DONE_FILE when the job succeeded (checked below).\n"
               "export MPIMILL_DONE_FILE=\"$PWD/.mpimill-done.${SLURM_JOB_ID:-0}.$$\"\n"
               "rm -f \"$MPIMILL_DONE_FILE\"\n"
               "trap 'rm -f \"$MPIMILL_DONE_FILE\"' EXIT\n");
    if (!strcmp(launcher, "srun"))
        fprintf(f, "# sbatch --export=NONE (or a list) reaches srun as SLURM_EXPORT_ENV: add the done file.\n"
                   "case ${SLURM_EXPORT_ENV:-ALL} in NONE|NIL) exp=MPIMILL_DONE_FILE ;; *) "
                   "exp=${SLURM_EXPORT_ENV:-ALL},MPIMILL_DONE_FILE ;; esac\n"
                   "srun --mpi=pmix --export=\"$exp\" \"$MPIMILL\" %s \"${args[@]}\" &\n", job->command);
    else
        fprintf(f, "mpirun -q -x MPIMILL_DONE_FILE \"$MPIMILL\" %s \"${args[@]}\" &\n", job->command);
    fprintf(f,
            "pid=$!\n"
            "[ -z \"$got\" ] || send \"$got\" # a signal that came before the launcher started\n"
            "# wait returns early (status > 128) when a trapped signal arrives: wait again\n"
            "# until the launcher itself has exited, and exit with its status.\n"
            "while :; do\n"
            "  got=\n"
            "  wait \"$pid\"; rc=$?\n"
            "  [ -n \"$got\" ] || break\n"
            "  kill -0 \"$pid\" 2>/dev/null && continue\n"
            "  wait \"$pid\"; s=$?; [ \"$s\" = 127 ] || rc=$s\n"
            "  break\n"
            "done\n"
            "# A job stopped by a signal exits 128+signal, whatever the launcher made of it.\n"
            "[ -z \"$stopped\" ] || [ \"$rc\" = 0 ] || rc=$((128 + $(kill -l \"$stopped\")))\n"
            "# A launcher can exit 0 without having run the job (srun whose step failed\n"
            "# to launch, with Slurm 22.05's PMIx plugin): success without mpimill's own\n"
            "# word for it is a failure.\n"
            "if [ \"$rc\" = 0 ] && [ ! -e \"$MPIMILL_DONE_FILE\" ]; then\n"
            "  echo \"mpimill: error: the launcher exited 0, but mpimill did not report success: the job did not run\" >&2\n"
            "  rc=1\n"
            "fi\n"
            "exit \"$rc\"\n");
}

/* Runs argv (argv[0] looked up in PATH) with stdout into out (at most
 * outlen-1 bytes, NUL-terminated). Returns the exit status, or -1 with a
 * message in err when it could not run or died of a signal. */
static int run_capture(char **argv, char *out, size_t outlen, char *err, size_t errlen) {
    int pfd[2];
    if (pipe(pfd) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        if (dup2(pfd[1], 1) < 0) _exit(127);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127); /* the parent says it, once */
    }
    if (close(pfd[1]) != 0) {
        snprintf(err, errlen, "close: %s", strerror(errno));
        return -1;
    }
    size_t len = 0;
    for (;;) {
        char tmp[512];
        ssize_t n = read(pfd[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t k = (size_t)n < outlen - 1 - len ? (size_t)n : outlen - 1 - len;
        memcpy(out + len, tmp, k);
        len += k;
    }
    out[len] = '\0';
    (void)close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(st)) {
        snprintf(err, errlen, "%s died of signal %d", argv[0], WTERMSIG(st));
        return -1;
    }
    if (WEXITSTATUS(st) == 127) {
        snprintf(err, errlen, "cannot run %s (is Slurm installed?)", argv[0]);
        return -1;
    }
    return WEXITSTATUS(st);
}

/* Creates DIR/mpimill-submit-STAMP.SUFFIX exclusively and returns it open
 * for writing, its path in path. NULL with a message in err on failure. */
static FILE *create_in(const char *dir, const char *stamp, const char *suffix, int mode, char *path,
                       size_t pathlen, char *err, size_t errlen) {
    if ((size_t)snprintf(path, pathlen, "%s/mpimill-submit-%s.%s", dir, stamp, suffix) >= pathlen) {
        snprintf(err, errlen, "--submit-dir %s: path too long", dir);
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        (void)close(fd);
    }
    return f;
}

/* Finishes writing f (opened by create_in at path). Returns 0 or MILL_EIO. */
static int finish_file(FILE *f, const char *path, char *err, size_t errlen) {
    /* errno is the failed call's, not a stale one: a buffered write's
     * failure (ferror) is only known to be one. */
    int e = ferror(f) ? EIO : fflush(f) != 0 || fsync(fileno(f)) != 0 ? errno : 0;
    if (fclose(f) != 0 && !e) e = errno;
    if (e) {
        snprintf(err, errlen, "write %s: %s", path, strerror(e));
        return MILL_EIO;
    }
    return 0;
}

/* Returns 1 when o names sbatch's long option full, whole or abbreviated
 * (sbatch takes any unique prefix: --arr is --array) to at least min
 * characters, with or without =VALUE. */
static int long_opt(const char *o, const char *full, size_t min) {
    size_t n = strcspn(o, "=");
    return n >= min && n <= strlen(full) && !strncmp(o, full, n);
}

int mill__submit_main(int argc, char **argv) {
    const char *launcher = "srun", *array = NULL, *dir = getenv("MPIMILL_SUBMIT_DIR");
    int dry = 0, dashdash = -1;
    char err[MILL__ERRLEN] = "";
    strv sbatch_opts = {0}, inputs = {0};
    int code = MILL_EXIT_USAGE;
    if (!dir || !*dir) dir = ".";
    char cwd[PATH_MAX + 1] = "", absdir[2 * PATH_MAX + 2];
    if (!getcwd(cwd, PATH_MAX - 1)) {
        fprintf(stderr, "mpimill: error: submit: getcwd: %s\n", strerror(errno));
        return MILL_EXIT_RUNTIME;
    }
    if (strcmp(cwd, "/") != 0) strcat(cwd, "/"); /* prefixed to relative paths */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            dashdash = i;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(submit_usage, stdout);
            code = MILL_EXIT_OK;
            goto out;
        }
        const char *names[] = {"--launcher", "--array", "--submit-dir"};
        const char **dest[] = {&launcher, &array, &dir};
        int matched = 0;
        for (int k = 0; k < 3 && !matched; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n) != 0 || (a[n] != '\0' && a[n] != '=')) continue;
            matched = 1;
            if (a[n] == '=') *dest[k] = a + n + 1;
            else if (i + 1 < argc) *dest[k] = argv[++i];
            else {
                fprintf(stderr, "mpimill: submit: option %s needs a value\n", names[k]);
                goto out;
            }
            if (!**dest[k]) {
                fprintf(stderr, "mpimill: submit: option %s needs a non-empty value\n", names[k]);
                goto out;
            }
        }
        if (matched) continue;
        if (!strcmp(a, "--dry-run")) dry = 1;
        else if (strv_push(&sbatch_opts, argv[i]) != 0) {
            fprintf(stderr, "mpimill: error: out of memory\n");
            code = MILL_EXIT_RUNTIME;
            goto out;
        }
    }
    if (dir[0] != '/') { /* the script names the --array list by this path */
        snprintf(absdir, sizeof absdir, "%s%s", cwd, strcmp(dir, ".") ? dir : "");
        size_t n = strlen(absdir);
        while (n > 1 && absdir[n - 1] == '/') absdir[--n] = '\0';
        dir = absdir;
    }
    if (strcmp(launcher, "srun") != 0 && strcmp(launcher, "mpirun") != 0) {
        fprintf(stderr, "mpimill: submit: unknown --launcher '%s' (expected: srun, mpirun)\n", launcher);
        goto out;
    }
    if (dashdash < 0 || dashdash + 1 >= argc) {
        fprintf(stderr, "mpimill: submit: expected `-- JOB ARGS...` after the options (see mpimill submit --help)\n");
        goto out;
    }
    for (size_t i = 0; i < sbatch_opts.n; i++) {
        const char *o = sbatch_opts.v[i];
        int tasks = !strncmp(o, "-a", 2) || long_opt(o, "--array", 4); /* all would write one output */
        if (long_opt(o, "--parsable", 6) || long_opt(o, "--wrap", 4) || tasks) {
            fprintf(stderr, "mpimill: submit: sbatch option '%s' is set by mpimill submit itself%s\n", o,
                    tasks ? " (one array task per input: --array INPUTS)" : "");
            goto out;
        }
    }

    /* What runs: `run JOB ARGS` (the word run is optional) or `pipeline FILE`. */
    submit_job job = {.command = "run", .argv = argv + dashdash + 1, .argc = argc - dashdash - 1};
    if (!strcmp(job.argv[0], "run") || !strcmp(job.argv[0], "pipeline")) {
        job.command = job.argv[0];
        job.argv++;
        job.argc--;
    }
    if (job.argc < 1) {
        fprintf(stderr, "mpimill: submit: nothing to run after `%s`\n", job.command);
        goto out;
    }
    if (!strcmp(job.command, "pipeline")) {
        if (array) {
            fprintf(stderr, "mpimill: submit: --array runs jobs, not pipelines\n");
            goto out;
        }
        if (job.argc != 1) {
            fprintf(stderr, "mpimill: submit: pipeline takes one FILE, not %d arguments\n", job.argc);
            goto out;
        }
        if (access(job.argv[0], R_OK) != 0) {
            mill__eprintf("submit: pipeline %s: %s", job.argv[0], strerror(errno));
            goto out;
        }
    } else {
        /* Check the run arguments here rather than in a failed batch job. */
        char **full = calloc((size_t)job.argc + 4, sizeof *full);
        if (!full) {
            fprintf(stderr, "mpimill: error: out of memory\n");
            code = MILL_EXIT_RUNTIME;
            goto out;
        }
        full[0] = "run";
        int n = 1;
        for (int i = 0; i < job.argc; i++) full[n++] = job.argv[i];
        if (array) {
            full[n++] = "--input";
            full[n++] = (char *)"ARRAY-INPUT";
        }
        mill__run_args ra;
        int rc = mill__run_args_parse(&ra, n, full, err, sizeof err);
        if (rc == 0 && ra.help) {
            snprintf(err, sizeof err, "--help is not a job argument");
            rc = MILL_EINVAL;
        }
        if (rc == 0 && array && ra.ninputs > 1) {
            snprintf(err, sizeof err, "--array gives each task its input: drop --input");
            rc = MILL_EINVAL;
        }
        if (rc == 0) rc = mill__plugin_check_args(&ra, 0, err, sizeof err);
        if (rc == 0) job.output = ra.output;
        mill__run_args_free(&ra);
        free(full);
        if (rc) {
            mill__eprintf("submit: %s", err);
            goto out;
        }
    }
    code = MILL_EXIT_RUNTIME;
    if (array && array_expand(&inputs, array, err, sizeof err) != 0) {
        mill__eprintf("submit: %s", err);
        code = MILL_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < inputs.n; i++) /* the list is one path per line */
        if (inputs.v[i][0] != '/' && strchr(cwd, '\n')) {
            fprintf(stderr, "mpimill: submit: --array: this directory's path holds a newline, so the task list "
                    "cannot name %s in it (give absolute paths, or submit from elsewhere)\n", inputs.v[i]);
            code = MILL_EXIT_USAGE;
            goto out;
        }

    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "mpimill: error: cannot find the mpimill executable: %s\n", strerror(errno));
        goto out;
    }
    self[sl] = '\0';

    char stamp[64], script[PATH_MAX], list[PATH_MAX];
    time_t t = time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(stamp, 32, "%Y%m%d-%H%M%S", &tm)) snprintf(stamp, 32, "%lld", (long long)t);
    snprintf(stamp + strlen(stamp), sizeof stamp - strlen(stamp), "-%ld", (long)getpid());
    if (inputs.n) {
        FILE *lf = create_in(dir, stamp, "inputs", 0644, list, sizeof list, err, sizeof err);
        if (!lf) {
            mill__eprintf("error: %s", err);
            goto out;
        }
        /* Absolute, as the list's own path: the job may start elsewhere
         * (sbatch --chdir), and the inputs were found from here. */
        for (size_t i = 0; i < inputs.n; i++) fprintf(lf, "%s%s\n", inputs.v[i][0] == '/' ? "" : cwd, inputs.v[i]);
        if (finish_file(lf, list, err, sizeof err) != 0) {
            mill__eprintf("error: %s", err);
            goto out;
        }
    }
    FILE *sf = create_in(dir, stamp, "sbatch", 0755, script, sizeof script, err, sizeof err);
    if (!sf) {
        mill__eprintf("error: %s", err);
        goto out;
    }
    write_script(sf, &job, launcher, inputs.n ? list : NULL, inputs.n, self, (int)sbatch_opts.n, sbatch_opts.v);
    if (finish_file(sf, script, err, sizeof err) != 0) {
        mill__eprintf("error: %s", err);
        goto out;
    }

    /* sbatch --parsable [--array=0-(N-1)] OPTIONS SCRIPT */
    char arrayopt[64];
    strv cmd = {0};
    int bad = strv_push(&cmd, "sbatch") | strv_push(&cmd, "--parsable");
    if (inputs.n) {
        snprintf(arrayopt, sizeof arrayopt, "--array=0-%zu", inputs.n - 1);
        bad |= strv_push(&cmd, arrayopt);
    }
    for (size_t i = 0; i < sbatch_opts.n; i++) bad |= strv_push(&cmd, sbatch_opts.v[i]);
    bad |= strv_push(&cmd, script);
    if (bad) {
        free(cmd.v);
        fprintf(stderr, "mpimill: error: out of memory\n");
        goto out;
    }
    if (dry) {
        for (size_t i = 0; i < cmd.n; i++) {
            if (i) putchar(' ');
            shell_quote(stdout, cmd.v[i]);
        }
        putchar('\n');
        free(cmd.v);
        code = fflush(stdout) == 0 ? MILL_EXIT_OK : MILL_EXIT_RUNTIME;
        goto out;
    }
    char outbuf[4096];
    int st = run_capture(cmd.v, outbuf, sizeof outbuf, err, sizeof err);
    free(cmd.v);
    if (st < 0) {
        fprintf(stderr, "mpimill: error: sbatch: %s\n", err);
        goto out;
    }
    /* --parsable prints "JOBID" or "JOBID;CLUSTER". */
    char *id = outbuf + strspn(outbuf, " \t\n");
    id[strcspn(id, ";\n")] = '\0';
    if (!*id || strspn(id, "0123456789") != strlen(id)) {
        fprintf(stderr, "mpimill: error: sbatch failed (exit %d); the script is %s\n", st, script);
        goto out;
    }
    printf("%s\n", id);
    if (fflush(stdout) != 0) goto out;
    if (st != 0) { /* submitted, then sbatch failed: under --wait, the job did */
        fprintf(stderr, "mpimill: error: Slurm job %s was submitted, but sbatch exited %d (under --wait: the job "
                "failed; see its output file; the script is %s)\n", id, st, script);
        goto out;
    }
    if (inputs.n)
        fprintf(stderr, "mpimill: submitted Slurm job %s, an array of %zu tasks (%s, script %s)\n", id, inputs.n,
                launcher, script);
    else
        fprintf(stderr, "mpimill: submitted Slurm job %s (%s, script %s)\n", id, launcher, script);
    code = MILL_EXIT_OK;

out:
    for (size_t i = 0; i < inputs.n; i++) free(inputs.v[i]);
    free(inputs.v);
    free(sbatch_opts.v);
    return code;
}
