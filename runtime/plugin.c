/* plugin.c -- the job plugin loader.
 *
 * A plugin exports mill_job_entry(), returning a const mill_job. The loader
 * refuses another ABI major, a struct shorter than ABI 1.0's, a missing map,
 * and value/combiner combinations the runtime cannot execute.
 */
#include "plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "ctx.h"
#include "runtime.h"

/* Size of mill_job at ABI 1.0 as first released: every field before flags.
 * (flags and map_done were appended later within 1.0; a plugin whose struct
 * ends before them reads as flags 0 and no map_done.) */
#define MILL_JOB_SIZE_1_0 offsetof(mill_job, flags)

int mill__plugin_check(const mill_job *job, const char *where, char *err, size_t errlen) {
    if (!job) {
        snprintf(err, errlen, "job %s: %s() returned NULL", where, MILL_JOB_ENTRY_SYMBOL);
        return MILL_EABI;
    }
    if (job->abi_major != MILL_ABI_MAJOR) {
        snprintf(err, errlen, "job %s: built for ABI %u.%u, this mpimill runs ABI %d.x",
                 where, job->abi_major, job->abi_minor, MILL_ABI_MAJOR);
        return MILL_EABI;
    }
    if (job->struct_size < MILL_JOB_SIZE_1_0) {
        snprintf(err, errlen, "job %s: mill_job struct is %zu bytes, ABI 1.0 needs %zu",
                 where, job->struct_size, (size_t)MILL_JOB_SIZE_1_0);
        return MILL_EABI;
    }
    /* The sizes of every header so far: a struct that ends inside a field
     * would leave the runtime half a pointer to call. Longer is a later
     * minor's (fields only appended): the runtime reads what it knows. */
    static const size_t ends[] = {MILL_JOB_SIZE_1_0, offsetof(mill_job, map_done), offsetof(mill_job, inputs),
                                  sizeof(mill_job)};
    int known = job->struct_size >= sizeof(mill_job);
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) known |= job->struct_size == ends[i];
    if (!known) {
        snprintf(err, errlen, "job %s: mill_job struct is %zu bytes, which ends inside a field (built against a "
                 "modified header?)", where, job->struct_size);
        return MILL_EABI;
    }
    if (!job->name || !*job->name) {
        snprintf(err, errlen, "job %s: no name", where);
        return MILL_EINVAL;
    }
    if (!job->map) {
        snprintf(err, errlen, "job %s: map callback is NULL", where);
        return MILL_EINVAL;
    }
    if ((unsigned)job->value_type > MILL_VALUE_F64) {
        snprintf(err, errlen, "job %s: unknown value_type %d", where, (int)job->value_type);
        return MILL_EINVAL;
    }
    switch (job->combine_op) {
    case MILL_COMBINE_CUSTOM:
        if (!job->combine) {
            snprintf(err, errlen, "job %s: combine_op is CUSTOM (the default) but combine is NULL: set .combine, or .combine_op to SUM, MIN, MAX or FIRST", where);
            return MILL_EINVAL;
        }
        break;
    case MILL_COMBINE_SUM:
    case MILL_COMBINE_MIN:
    case MILL_COMBINE_MAX:
        if (job->value_type == MILL_VALUE_BYTES) {
            snprintf(err, errlen, "job %s: a SUM/MIN/MAX combiner needs a numeric value_type", where);
            return MILL_EINVAL;
        }
        break;
    case MILL_COMBINE_FIRST:
        break;
    default:
        snprintf(err, errlen, "job %s: unknown combine_op %d", where, (int)job->combine_op);
        return MILL_EINVAL;
    }
    return 0;
}

static int load_path(mill__plugin *p, const char *path, char *err, size_t errlen) {
    snprintf(p->path, sizeof p->path, "%s", path);
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        snprintf(err, errlen, "job %s: cannot load: %s", path, dlerror());
        return MILL_EINVAL;
    }
    mill_job_entry_fn entry;
    *(void **)&entry = dlsym(p->handle, MILL_JOB_ENTRY_SYMBOL);
    if (!entry) {
        snprintf(err, errlen, "job %s: no symbol %s (declare the job with MILL_JOB)", path,
                 MILL_JOB_ENTRY_SYMBOL);
        mill__plugin_unload(p);
        return MILL_EABI;
    }
    const mill_job *job = entry(); /* once: a second call need not return the same */
    int rc = mill__plugin_check(job, path, err, errlen);
    if (rc) {
        mill__plugin_unload(p);
        return rc;
    }
    /* The runtime reads only the fields the plugin's struct covers: the
     * rest of its copy stays zero (absent), whatever lies past the struct. */
    memset(&p->copy, 0, sizeof p->copy);
    memcpy(&p->copy, job, job->struct_size < sizeof p->copy ? job->struct_size : sizeof p->copy);
    p->job = &p->copy;
    return 0;
}

static const char anchor; /* an address inside libmpimill, for dladdr */

void mill__plugin_jobdir(char *buf, size_t len) {
    Dl_info info;
    char self[4096];
    /* LIBDIR/mpimill/jobs beside libmpimill, in the build tree and installed. */
    if (dladdr(&anchor, &info) && info.dli_fname &&
        realpath(info.dli_fname, self)) {
        snprintf(buf, len, "%s/mpimill/jobs", dirname(self));
        return;
    }
    snprintf(buf, len, "%s", MILL_JOBDIR_ABS);
}

/* Calls fn(dir) for each job directory in search order until it returns non-zero. */
static int each_dir(int (*fn)(const char *dir, void *arg), void *arg) {
    const char *env = getenv("MPIMILL_JOB_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        if (!copy) return MILL_ENOMEM;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            int rc = fn(d, arg);
            if (rc) {
                free(copy);
                return rc;
            }
        }
        free(copy);
    }
    char dir[4096];
    mill__plugin_jobdir(dir, sizeof dir);
    return fn(dir, arg);
}

struct find {
    const char *name;
    char path[4096];
    char looked[2048];
};

static int find_in(const char *dir, void *arg) {
    struct find *f = arg;
    size_t l = strlen(f->looked);
    snprintf(f->looked + l, sizeof f->looked - l, "%s%s", l ? ", " : "", dir);
    snprintf(f->path, sizeof f->path, "%s/%s.so", dir, f->name);
    return access(f->path, F_OK) == 0;
}

/* Finds JOB as mill__plugin_load does, without loading it: writes its file
 * to path. Returns 0 or MILL_ENOENT with the message. */
static int locate(const char *job, char *path, size_t plen, char *err, size_t errlen) {
    if (strchr(job, '/')) {
        if (access(job, R_OK) != 0) {
            snprintf(err, errlen, "job %s: %s", job, errno == ENOENT ? "no such file" : strerror(errno));
            return MILL_ENOENT;
        }
        snprintf(path, plen, "%s", job);
        return 0;
    }
    struct find f = {.name = job};
    int rc = each_dir(find_in, &f);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (rc == 0) {
        snprintf(err, errlen, "unknown job '%s' (looked in: %s; see mpimill jobs)", job, f.looked);
        return MILL_ENOENT;
    }
    snprintf(path, plen, "%s", f.path);
    return 0;
}

int mill__plugin_load(mill__plugin *p, const char *job, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    char path[4096];
    int rc = locate(job, path, sizeof path, err, errlen);
    return rc ? rc : load_path(p, path, err, errlen);
}

void mill__plugin_unload(mill__plugin *p) {
    if (p->handle) dlclose(p->handle);
    p->handle = NULL;
    p->job = NULL;
}

/* What mill__plugin_list has listed so far: the run names already taken by
 * an earlier directory of the search path, which shadows later ones. */
struct listing {
    char **names, **dirs;
    size_t n, cap;
};

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The plugin list_one's child is loading, for on_child_exit. */
static const char *child_loading;

/* A plugin that calls exit() as it loads ends the child with any status,
 * 0 too: it is named, not listed silently as nothing. */
static void on_child_exit(void) {
    if (child_loading) fprintf(stderr, "mpimill: job %s: called exit() as it loaded; not listed\n", child_loading);
}

/* Loads dir/name.so in a child (one that crashes as it loads must not end
 * the listing) and prints its line. Returns 1 when stdout is closed (as
 * under `mpimill jobs | head -1`): the listing stops quietly. */
static int list_one(const char *dir, const char *name, const char *shadowed_by) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid > 0) {
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE) return 1;
        if (WIFSIGNALED(st))
            fprintf(stderr, "mpimill: job %s: crashed with signal %d (%s) as it loaded; not listed\n", path,
                    WTERMSIG(st), strsignal(WTERMSIG(st)));
        return 0;
    }
    mill__plugin p;
    if (pid == 0 && atexit(on_child_exit) == 0) child_loading = path;
    int ok = load_path(&p, path, err, sizeof err) == 0; /* in the child, or here when fork failed */
    child_loading = NULL;
    if (ok) {
        /* The run name is the file's; the job's own name shows when it differs. */
        const char *desc = p.job->description ? p.job->description : "";
        if (shadowed_by)
            printf("%-12s (shadowed by %s/%s.so, which `run %s` loads) %s\n", name, shadowed_by, name, name, desc);
        else if (strcmp(p.job->name, name) != 0)
            printf("%-12s (job %s) %s\n", name, p.job->name, desc);
        else
            printf("%-12s %s\n", name, desc);
        mill__plugin_unload(&p);
    } else {
        fprintf(stderr, "mpimill: %s\n", err);
    }
    if (pid == 0) {
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    return ferror(stdout) ? 1 : 0;
}

static int list_in(const char *dir, void *arg) {
    struct listing *l = arg;
    for (size_t j = 0; j < l->n; j++)
        if (!strcmp(l->dirs[j], dir)) return 0; /* named twice in the path: listed once */
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t first = l->n; /* this directory's names start here */
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 3, ".so") != 0) continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            char **names = realloc(l->names, cap * sizeof *names), **dirs = names ? realloc(l->dirs, cap * sizeof *dirs) : NULL;
            if (names) l->names = names;
            if (dirs) l->dirs = dirs;
            if (!names || !dirs) rc = MILL_ENOMEM;
            else l->cap = cap;
        }
        if (rc == 0 && !(l->names[l->n] = strndup(de->d_name, n - 3))) rc = MILL_ENOMEM;
        if (rc == 0 && !(l->dirs[l->n] = strdup(dir))) {
            free(l->names[l->n]);
            rc = MILL_ENOMEM;
        }
        if (rc == 0) l->n++;
    }
    closedir(d);
    if (rc) return rc;
    qsort(l->names + first, l->n - first, sizeof *l->names, cmp_name);
    for (size_t i = first; i < l->n && rc == 0; i++) {
        const char *by = NULL;
        for (size_t j = 0; j < first && !by; j++)
            if (!strcmp(l->names[j], l->names[i])) by = l->dirs[j];
        rc = list_one(dir, l->names[i], by);
    }
    return rc;
}

int mill__plugin_list(void) {
    struct listing l = {0};
    int rc = each_dir(list_in, &l);
    for (size_t i = 0; i < l.n; i++) {
        free(l.names[i]);
        free(l.dirs[i]);
    }
    free(l.names);
    free(l.dirs);
    if (rc == MILL_ENOMEM) fprintf(stderr, "mpimill: error: out of memory listing jobs\n");
    return rc < 0 ? rc : 0;
}

int mill__plugin_check_options(const mill_job *job, const struct mill__run_args *a, char *err, size_t errlen) {
    for (size_t i = 0; i < a->nopts; i++) {
        int ok = 0;
        for (const char *const *o = job->options; o && *o && !ok; o++) ok = !strcmp(*o, a->opts[i].key);
        if (!ok) {
            snprintf(err, errlen, "job %s has no option '%s'", job->name, a->opts[i].key);
            return MILL_EINVAL;
        }
    }
    return 0;
}

int mill__plugin_check_args(const struct mill__run_args *a, int rank, char *err, size_t errlen) {
    mill__plugin p;
    mill_ctx loading = {.rank = rank};
    mill__crash_watch(&loading, a->job);
    int rc = mill__plugin_load(&p, a->job, err, errlen);
    mill__crash_watch(NULL, NULL);
    if (rc) return rc;
    rc = mill__plugin_check_options(p.job, a, err, errlen);
    mill__plugin_unload(&p);
    return rc;
}
