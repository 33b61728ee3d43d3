/* args.h -- the command line of `mpimill run`. */
#ifndef MILL_ARGS_H
#define MILL_ARGS_H

#include <stddef.h>
#include <stdint.h>

typedef struct mill__kv {
    const char *key; /* points into argv (the key is NUL-terminated in a copy) */
    const char *value;
} mill__kv;

/* --lock-timeout's default, in ms. */
#define MILL__LOCK_TIMEOUT_MS (300 * 1000)

typedef struct mill__run_args {
    const char *job;    /* built-in name or path to a .so */
    char **inputs;      /* --input, in order given */
    size_t ninputs;
    const char *output; /* --output DIR */
    const char *format; /* --format, "text" by default */
    const char *compress;      /* --compress: "none" (default) or "gzip" */
    const char *csv_columns;   /* --csv-columns NAME[,NAME...], or NULL */
    int csv_no_header;         /* --csv-no-header */
    int csv_quoted_newlines;   /* --csv-quoted-newlines */
    int skip_bad;              /* --bad-records skip (default fail) */
    int overwrite;      /* --overwrite */
    int quiet;          /* --quiet */
    int single_file;    /* --single-file */
    int lock_timeout_ms; /* --lock-timeout, in ms (default MILL__LOCK_TIMEOUT_MS) */
    uint64_t memory;           /* --memory in bytes, or 0 for the default */
    uint64_t max_record;       /* --max-record in bytes, or 0 for the default (a quarter of the budget) */
    const char *tmpdir;        /* --tmp DIR, or NULL */
    int merge_factor;          /* --merge-factor: the most map runs merged at once (default 16) */
    uint64_t split_size;       /* --split-size: bytes of a text piece ranks share (default 16M; 0: no sharing) */
    const char *weights;       /* --weights LIST|auto, or NULL */
    const char *exclude_ranks; /* --exclude-ranks LIST, or NULL */
    int help;           /* --help was given: nothing else is valid */
    mill__kv *opts;     /* --opt key=value, in order; a later key wins */
    size_t nopts;
    char *strings;      /* storage for split key=value pairs */
} mill__run_args;

/* Parses argv (argv[0] is "run"). Returns 0, or MILL_EINVAL or MILL_ENOMEM
 * with a one-line message in err. Frees nothing of argv; call
 * mill__run_args_free after. */
int mill__run_args_parse(mill__run_args *a, int argc, char **argv, char *err, size_t errlen);

/* Frees what mill__run_args_parse allocated. */
void mill__run_args_free(mill__run_args *a);

/* Returns the value of the last --opt `key`, or NULL. */
const char *mill__run_args_opt(const mill__run_args *a, const char *key);

/* The text of `mpimill run --help`. */
extern const char mill__run_usage[];

#endif
