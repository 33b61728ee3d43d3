/* plugin.h -- finding and loading job plugins. */
#ifndef MILL_PLUGIN_H
#define MILL_PLUGIN_H

#include <stddef.h>

#include "mpimill/job.h"

typedef struct mill__plugin {
    void *handle;        /* dlopen handle */
    const mill_job *job; /* validated callbacks: &copy */
    mill_job copy;       /* the plugin's struct, as far as its struct_size goes; zeros past it */
    char path[4096];     /* the file it came from */
} mill__plugin;

/* Resolves JOB: a string with a '/' is a path used as given; a name is looked
 * up as NAME.so in the directories of $MPIMILL_JOB_PATH (':'-separated), then
 * in the installed jobs directory -- never in the current directory. Loads
 * and validates the plugin. Returns 0, MILL_ENOENT (the message lists where
 * it looked), MILL_EABI or MILL_EINVAL with a one-line message. */
int mill__plugin_load(mill__plugin *p, const char *job, char *err, size_t errlen);

/* Validates a job struct as the loader does; exposed for tests. */
int mill__plugin_check(const mill_job *job, const char *where, char *err, size_t errlen);

/* Checks every --opt key of a against the job's declared options. Returns 0
 * or MILL_EINVAL with "job J has no option 'K'" in err. */
struct mill__run_args;
int mill__plugin_check_options(const mill_job *job, const struct mill__run_args *a, char *err, size_t errlen);

/* Loads a->job (a crash as it loads is reported as rank `rank`'s), checks
 * a's --opt keys against its options, and unloads it: what a later run of
 * a would refuse, refused now (pipeline, submit). Returns 0 or an error of
 * mill__plugin_load or mill__plugin_check_options. */
int mill__plugin_check_args(const struct mill__run_args *a, int rank, char *err, size_t errlen);

/* Unloads the plugin. */
void mill__plugin_unload(mill__plugin *p);

/* Writes the installed jobs directory (derived from the executable's or the
 * library's location) into buf. */
void mill__plugin_jobdir(char *buf, size_t len);

/* Prints `name  description` for every loadable job in the search path. */
int mill__plugin_list(void);

#endif
