/* args.c -- parsing the command line of `mpimill run` (see args.h).
 * Every rank parses the same argv, so a usage error is found on every rank
 * at once and rank 0 alone reports it. */
#include "args.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "mpimill/job.h"
#include "read.h"

const char mill__run_usage[] =
    "usage: mpimill run JOB --input PATH [--input PATH ...] --output DIR\n"
    "                   [--format text|hdf5] [--compress none|gzip] [--overwrite]\n"
    "                   [--csv-columns A,B] [--csv-no-header] [--csv-quoted-newlines]\n"
    "                   [--bad-records fail|skip] [--opt key=value ...] [--quiet]\n"
    "                   [--single-file] [--weights LIST|auto] [--exclude-ranks LIST]\n"
    "                   [--lock-timeout SECONDS] [--memory SIZE] [--tmp DIR] [--merge-factor N]\n"
    "                   [--split-size SIZE] [--max-record SIZE]\n"
    "\n"
    "  JOB             a built-in job name (see `mpimill jobs`) or a path to a job .so\n"
    "  --input PATH    a file, a directory (searched recursively), a glob pattern or\n"
    "                  FILE.h5:/DATASET; *.gz, *.csv and *.csv.gz by name; repeatable;\n"
    "                  @LIST: the paths LIST names, one per line ('#' comments)\n"
    "  --output DIR    where the result is committed; must not exist unless --overwrite\n"
    "  --format FMT    output format: text (key<TAB>value lines, sorted by key per part),\n"
    "                  or hdf5 (one data.h5 written by all ranks; see docs/formats.md)\n"
    "  --compress C    text parts: none, or gzip (part-NNNNN.gz)\n"
    "  --csv-columns L the CSV columns (header names, comma-separated) mill_csv_field gives\n"
    "  --csv-no-header the first row of a CSV file is data, not a header\n"
    "  --csv-quoted-newlines  quoted fields may hold newlines: each CSV file is read\n"
    "                  whole by one rank (else a quoted newline is a malformed row)\n"
    "  --bad-records P malformed input records: fail (default), or skip and count them\n"
    "  --overwrite     atomically replace an existing output\n"
    "  --opt KEY=VAL   a job option; repeatable (a KEY given twice: the last counts)\n"
    "  --quiet, -q     print nothing on success\n"
    "  --single-file   write one shared file DIR/data (+ DIR/_index) instead of a part per rank\n"
    "  --weights LIST  relative share of keys per rank (w0,w1,...) or 'auto' (by cores per node)\n"
    "  --exclude-ranks LIST  ranks that own no keys (r,r,...), e.g. on a slow node\n"
    "  --lock-timeout SECONDS  how long a job's mill_lock waits before failing (default 300)\n"
    "  --memory SIZE   memory budget per rank for tables and buffers, bytes or with a K, M, G\n"
    "                  or T suffix, at least 16M (default: half the node's\n"
    "                  memory divided by its ranks); past it, sorted runs spill to --tmp\n"
    "  --tmp DIR       where spill files go (default $TMPDIR, else /tmp); they are unlinked at once\n"
    "  --merge-factor N  how many map runs (sorted spills) of one level are merged into one\n"
    "                  (default 16), bounding open files and merge buffers\n"
    "  --split-size SIZE  text is read in pieces of at most SIZE (default 16M); a rank done\n"
    "                  with its own takes pieces not yet begun from the ranks of its node;\n"
    "                  0: each rank reads exactly its equal share of the bytes; else at least 64K\n"
    "  --max-record SIZE  the longest input record (line, CSV row), at least 1M; a longer one\n"
    "                  is a bad record (--bad-records). Default: gzip lines and quoted CSV\n"
    "                  rows up to a quarter of --memory, plain text lines unlimited\n"
    "  --help, -h      this text\n";

/* Options that take one value: a second one is refused, not silently
 * taken over the first (--input and --opt repeat). */
static const char *const single[] = {"--csv-columns", "--bad-records", "--compress", "--lock-timeout",
                                     "--memory", "--merge-factor", "--split-size", "--tmp", "--weights",
                                     "--exclude-ranks", "--output", "--format", "--max-record", NULL};

/* Returns the value of option `name` given as "--name VALUE" or "--name=VALUE",
 * advancing *i; NULL when argv[*i] is not that option. Sets *missing when the
 * value is absent: at the end, or when the next word is an option
 * ("--input --output x" forgot the input; a value starting with "--" is
 * given as "--name=VALUE"). */
static const char *take(int argc, char **argv, int *i, const char *name, int *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] == '-' && argv[*i + 1][2])) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

/* Reads the plain decimal number at the start of v (digits, then maybe '.'
 * and digits) into *x and returns the end of it, or returns NULL when v
 * does not start with one: no sign, space, exponent, hex, inf or nan, all
 * of which strtod would take. */
static char *decimal(const char *v, double *x) {
    const char *p = v;
    while (*p >= '0' && *p <= '9') p++;
    if (p == v) return NULL;
    if (*p == '.') {
        const char *q = ++p;
        while (*p >= '0' && *p <= '9') p++;
        if (p == q) return NULL;
    }
    char *end;
    *x = strtod(v, &end);
    return end == p ? end : NULL;
}

/* Parses a size: bytes, or a decimal number with a K, M, G or T suffix
 * (powers of 1024), at least min and below 2^64, and a whole number of
 * bytes (1.5K, not 0.1K), into *out. Returns 0 or -1. */
static int parse_size(const char *v, double min, uint64_t *out) {
    double x;
    char *end = decimal(v, &x);
    if (!end) return -1;
    double unit = *end == 'K' || *end == 'k' ? 1024.0 : *end == 'M' || *end == 'm' ? 1048576.0
                  : *end == 'G' || *end == 'g' ? 1073741824.0 : *end == 'T' || *end == 't' ? 0x1p40
                  : *end == '\0' ? 1.0 : 0;
    if (unit == 0 || (*end && end[1]) || !(x * unit >= min) || !(x * unit < 0x1p64)) return -1;
    *out = (uint64_t)(x * unit);
    if ((double)*out != x * unit) return -1; /* 0.5 is not 0, nor 65536.7 65536 */
    return 0;
}

int mill__run_args_parse(mill__run_args *a, int argc, char **argv, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->split_size = 16 << 20;
    a->format = "text";
    a->lock_timeout_ms = MILL__LOCK_TIMEOUT_MS;
    a->merge_factor = 16;
    a->compress = "none";
    a->inputs = calloc((size_t)argc + 1, sizeof *a->inputs);
    a->opts = calloc((size_t)argc + 1, sizeof *a->opts);
    size_t total = 0;
    for (int i = 0; i < argc; i++) total += strlen(argv[i]) + 1;
    a->strings = malloc(total + 1);
    if (!a->inputs || !a->opts || !a->strings) {
        snprintf(err, errlen, "out of memory");
        return MILL_ENOMEM;
    }
    char *store = a->strings;
    unsigned seen = 0; /* bit k: single[k] was given */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int missing = 0;
        for (int k = 0; single[k]; k++) {
            size_t n = strlen(single[k]);
            if (strncmp(arg, single[k], n) != 0 || (arg[n] && arg[n] != '=')) continue;
            if (seen & 1u << k) {
                snprintf(err, errlen, "option %s given twice", single[k]);
                return MILL_EINVAL;
            }
            seen |= 1u << k;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            a->help = 1;
            return 0;
        } else if (!strcmp(arg, "--overwrite")) {
            a->overwrite = 1;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->quiet = 1;
        } else if (!strcmp(arg, "--csv-no-header")) {
            a->csv_no_header = 1;
        } else if (!strcmp(arg, "--csv-quoted-newlines")) {
            a->csv_quoted_newlines = 1;
        } else if ((v = take(argc, argv, &i, "--csv-columns", &missing)) != NULL) {
            if (!*v) goto empty;
            size_t n = strlen(v);
            if (v[0] == ',' || v[n - 1] == ',' || strstr(v, ",,")) {
                snprintf(err, errlen, "--csv-columns '%s': an empty column name", v);
                return MILL_EINVAL;
            }
            a->csv_columns = v;
        } else if ((v = take(argc, argv, &i, "--bad-records", &missing)) != NULL) {
            if (strcmp(v, "fail") != 0 && strcmp(v, "skip") != 0) {
                snprintf(err, errlen, "unknown --bad-records '%s' (expected: fail, skip)", v);
                return MILL_EINVAL;
            }
            a->skip_bad = !strcmp(v, "skip");
        } else if ((v = take(argc, argv, &i, "--compress", &missing)) != NULL) {
            if (strcmp(v, "none") != 0 && strcmp(v, "gzip") != 0) {
                snprintf(err, errlen, "unknown --compress '%s' (expected: none, gzip)", v);
                return MILL_EINVAL;
            }
            a->compress = v;
        } else if (!strcmp(arg, "--single-file")) {
            a->single_file = 1;
        } else if ((v = take(argc, argv, &i, "--lock-timeout", &missing)) != NULL) {
            double secs;
            char *end = decimal(v, &secs);
            if (!end || *end || !(secs > 0) || secs > INT_MAX / 1000) { /* kept in ms, in an int */
                snprintf(err, errlen, "--lock-timeout '%s': expected a positive number of seconds, at most %d", v,
                         INT_MAX / 1000);
                return MILL_EINVAL;
            }
            a->lock_timeout_ms = secs * 1000 < 1 ? 1 : (int)(secs * 1000);
        } else if ((v = take(argc, argv, &i, "--memory", &missing)) != NULL) {
            if (parse_size(v, 16 * 1048576.0, &a->memory) != 0) {
                snprintf(err, errlen, "--memory '%s': expected a size of at least 16M, in bytes or with a K, M, G or T "
                         "suffix (e.g. 256M, 2G)", v);
                return MILL_EINVAL;
            }
        } else if ((v = take(argc, argv, &i, "--split-size", &missing)) != NULL) {
            if (parse_size(v, 0, &a->split_size) != 0 || (a->split_size && a->split_size < 65536)) {
                snprintf(err, errlen, "--split-size '%s': expected 0 or a size of at least 64K, in bytes or with a K, "
                         "M, G or T suffix (e.g. 16M)", v);
                return MILL_EINVAL;
            }
        } else if ((v = take(argc, argv, &i, "--max-record", &missing)) != NULL) {
            if (parse_size(v, (double)MILL__MIN_MAX_RECORD, &a->max_record) != 0) {
                snprintf(err, errlen, "--max-record '%s': expected a size of at least 1M, in bytes or with a K, M, G "
                         "or T suffix (e.g. 64M)", v);
                return MILL_EINVAL;
            }
        } else if ((v = take(argc, argv, &i, "--merge-factor", &missing)) != NULL) {
            double n;
            char *end = decimal(v, &n);
            if (!end || *end || strchr(v, '.') || n < 2 || n > 65536) {
                snprintf(err, errlen, "--merge-factor '%s': expected a whole number from 2 to 65536", v);
                return MILL_EINVAL;
            }
            a->merge_factor = (int)n;
        } else if ((v = take(argc, argv, &i, "--tmp", &missing)) != NULL) {
            if (!*v) goto empty;
            a->tmpdir = v;
        } else if ((v = take(argc, argv, &i, "--weights", &missing)) != NULL) {
            if (!*v) goto empty;
            a->weights = v;
        } else if ((v = take(argc, argv, &i, "--exclude-ranks", &missing)) != NULL) {
            if (!*v) goto empty;
            a->exclude_ranks = v;
        } else if ((v = take(argc, argv, &i, "--input", &missing)) != NULL) {
            if (!*v) goto empty;
            a->inputs[a->ninputs++] = (char *)v;
        } else if ((v = take(argc, argv, &i, "--output", &missing)) != NULL) {
            if (!*v) goto empty;
            a->output = v;
        } else if ((v = take(argc, argv, &i, "--format", &missing)) != NULL) {
            if (strcmp(v, "text") != 0 && strcmp(v, "hdf5") != 0) {
                snprintf(err, errlen, "unknown --format '%s' (expected: text, hdf5)", v);
                return MILL_EINVAL;
            }
            a->format = v;
        } else if ((v = take(argc, argv, &i, "--opt", &missing)) != NULL) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                snprintf(err, errlen, "--opt '%s': expected key=value", v);
                return MILL_EINVAL;
            }
            size_t kl = (size_t)(eq - v);
            memcpy(store, v, kl);
            store[kl] = '\0';
            a->opts[a->nopts].key = store;
            a->opts[a->nopts].value = eq + 1;
            a->nopts++;
            store += kl + 1;
        } else if (missing) {
            if (i + 1 < argc)
                snprintf(err, errlen, "option %s needs a value (it is followed by the option %s; a value that "
                         "starts with '--' is given as %s=VALUE)", arg, argv[i + 1], arg);
            else
                snprintf(err, errlen, "option %s needs a value", arg);
            return MILL_EINVAL;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            snprintf(err, errlen, "unknown option '%s' (see mpimill run --help)", arg);
            return MILL_EINVAL;
        } else if (!a->job) {
            a->job = arg;
        } else {
            snprintf(err, errlen, "unexpected argument '%s' (the job is '%s')", arg, a->job);
            return MILL_EINVAL;
        }
        continue;
    empty:
        snprintf(err, errlen, "option %s needs a non-empty value", arg);
        return MILL_EINVAL;
    }
    if (a->single_file && (strcmp(a->format, "text") != 0 || strcmp(a->compress, "none") != 0)) {
        snprintf(err, errlen, "--single-file writes text only (not with --format hdf5 or --compress)");
        return MILL_EINVAL;
    }
    if (!a->job) {
        snprintf(err, errlen, "no JOB given (see mpimill run --help)");
        return MILL_EINVAL;
    }
    if (a->ninputs == 0) {
        snprintf(err, errlen, "no --input given");
        return MILL_EINVAL;
    }
    if (!a->output) {
        snprintf(err, errlen, "no --output given");
        return MILL_EINVAL;
    }
    if (mill__commit_output_ok(a->output, err, errlen) != 0) return MILL_EINVAL;
    if (!strcmp(a->format, "hdf5") && strcmp(a->compress, "none") != 0) {
        snprintf(err, errlen, "--compress is for --format text (HDF5 output is always deflated)");
        return MILL_EINVAL;
    }
    if (a->csv_columns && a->csv_no_header) {
        snprintf(err, errlen, "--csv-columns needs a header row: drop --csv-no-header");
        return MILL_EINVAL;
    }
    return 0;
}

void mill__run_args_free(mill__run_args *a) {
    free(a->inputs);
    free(a->opts);
    free(a->strings);
    memset(a, 0, sizeof *a);
}

const char *mill__run_args_opt(const mill__run_args *a, const char *key) {
    for (size_t i = a->nopts; i-- > 0;)
        if (!strcmp(a->opts[i].key, key)) return a->opts[i].value;
    return NULL;
}
