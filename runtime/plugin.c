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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

/* Size of mill_job at ABI 1.0: every field up to and including map_done. */
#define MILL_JOB_SIZE_1_0 (offsetof(mill_job, map_done) + sizeof(int (*)(mill_ctx *)))

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
            snprintf(err, errlen, "job %s: combine_op is CUSTOM but combine is NULL", where);
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
    int rc = mill__plugin_check(entry(), path, err, errlen);
    if (rc) {
        mill__plugin_unload(p);
        return rc;
    }
    p->job = entry();
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

int mill__plugin_load(mill__plugin *p, const char *job, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    if (strchr(job, '/')) {
        if (access(job, R_OK) != 0) {
            snprintf(err, errlen, "job %s: no such file", job);
            return MILL_ENOENT;
        }
        return load_path(p, job, err, errlen);
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
    return load_path(p, f.path, err, errlen);
}

void mill__plugin_unload(mill__plugin *p) {
    if (p->handle) dlclose(p->handle);
    p->handle = NULL;
    p->job = NULL;
}

static int list_in(const char *dir, void *arg) {
    (void)arg;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 3, ".so") != 0) continue;
        char path[4096], err[512];
        mill__plugin p;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        /* Each plugin loads in a child: one that crashes as it loads must
         * not end the listing. */
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid > 0) {
            int st = 0;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
            }
            if (WIFSIGNALED(st))
                fprintf(stderr, "mpimill: job %s: crashed with signal %d (%s) as it loaded; not listed\n", path,
                        WTERMSIG(st), strsignal(WTERMSIG(st)));
            continue;
        }
        int ok = load_path(&p, path, err, sizeof err) == 0; /* in the child, or here when fork failed */
        if (ok) {
            printf("%-12s %s\n", p.job->name, p.job->description ? p.job->description : "");
            mill__plugin_unload(&p);
        } else {
            fprintf(stderr, "mpimill: %s\n", err);
        }
        if (pid == 0) {
            fflush(stdout);
            fflush(stderr);
            _exit(ok ? 0 : 1);
        }
    }
    closedir(d);
    return 0;
}

int mill__plugin_list(void) {
    return each_dir(list_in, NULL);
}
