/* partition_cli.c -- `mpimill partition`: shows where keys go under a given
 * rank count, weights and exclusions, or under a saved state, and can save
 * that state for a later job. Usage is in partition_cli.h.
 */
#include "partition_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json_read.h"
#include "mpimill/job.h"
#include "partition.h"

#define USAGE                                                                                      \
    "usage: mpimill partition (--ranks N [--weights w0,w1,...] | --state FILE) [--exclude r,r,...] " \
    "[--save FILE] [--stats]"
#define HELP                                                                                       \
    USAGE "\n"                                                                                     \
    "  Reads keys from stdin, one per line, and prints KEY<TAB>RANK: the rank that owns each key\n" \
    "  (the consistent-hash partitioner of `mpimill run`). --state FILE loads a state written by\n" \
    "  --save FILE, or a job output's (its directory or _SUCCESS): the ranks that own its keys\n"  \
    "  (--exclude then applies on top of it); --stats prints one line per rank\n"                 \
    "  instead: rank, keys, key share, weight share. Exit status 1 on an I/O or state error,\n"    \
    "  2 on a usage error."

typedef struct cli_opts {
    const char *ranks, *weights, *exclude, *state, *save;
    int stats;
} cli_opts;

/* Returns a short description of a partitioner error code. */
static const char *err_name(int rc) {
    switch (rc) {
    case MILL_EINVAL: return "invalid argument";
    case MILL_ENOMEM: return "out of memory";
    case MILL_EFORMAT: return "malformed state";
    case MILL_ESTATE: return "not allowed in this state";
    default: return "error";
    }
}

/* Prints a one-line error and returns code. */
static int fail(int code, const char *fmt, const char *arg, const char *why) {
    fputs("mpimill partition: ", stderr);
    fprintf(stderr, fmt, arg, why);
    fputc('\n', stderr);
    return code;
}

/* Parses a decimal uint32 that makes up all of s. Returns 0 or -1. */
static int parse_u32(const char *s, uint32_t *out) {
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Splits a comma-separated list into a new array of strings (one malloc).
 * Returns the item count, or 0 when out of memory or s is empty. */
static size_t split(const char *s, char ***items) {
    size_t k = 1, len = strlen(s);
    if (len == 0) return 0;
    for (const char *c = s; *c; c++) k += *c == ',';
    char **v = malloc(k * sizeof *v + len + 1);
    if (!v) return 0;
    char *copy = (char *)(v + k);
    memcpy(copy, s, len + 1);
    size_t i = 0;
    v[i++] = copy;
    for (char *c = copy; *c; c++)
        if (*c == ',') {
            *c = '\0';
            v[i++] = c + 1;
        }
    *items = v;
    return k;
}

/* Parses argv into o. Returns 0, -1 after printing the usage (--help), or 2
 * after printing an error. */
static int parse_args(int argc, char **argv, cli_opts *o) {
    static const char *names[] = {"--ranks", "--weights", "--exclude", "--state", "--save"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            puts(HELP);
            return -1;
        }
        if (strcmp(a, "--stats") == 0) {
            o->stats = 1;
            continue;
        }
        const char **slot[] = {&o->ranks, &o->weights, &o->exclude, &o->state, &o->save};
        size_t k = 0;
        const char *val = NULL;
        for (; k < 5; k++) {
            size_t nl = strlen(names[k]);
            if (strncmp(a, names[k], nl) != 0) continue;
            if (a[nl] == '=') val = a + nl + 1;
            else if (a[nl] != '\0') continue;
            else if (i + 1 < argc) val = argv[++i];
            else return fail(2, "option %s needs a value%s", a, "");
            break;
        }
        if (k == 5) return fail(2, a[0] == '-' ? "unknown option '%s'%s" : "unexpected argument '%s'%s", a, "; " USAGE);
        if (*slot[k]) return fail(2, "option %s given twice%s", names[k], "");
        *slot[k] = val;
    }
    if (!o->ranks == !o->state) return fail(2, "give exactly one of --ranks and --state%s", "", "");
    if (o->weights && !o->ranks) return fail(2, "--weights needs --ranks%s", "", "");
    return 0;
}

/* Builds the partitioner from --ranks/--weights. Returns 0, or 2 after
 * printing an error. */
static int build(const cli_opts *o, mill_partition **p) {
    uint32_t n;
    if (parse_u32(o->ranks, &n) != 0 || n == 0 || n > MILL_PARTITION_MAX_RANKS)
        return fail(2, "bad --ranks '%s'%s", o->ranks, "");
    double *w = NULL;
    if (o->weights) {
        char why[200];
        if (!(w = malloc(n * sizeof *w))) return fail(1, "out of memory%s%s", "", "");
        if (mill_partition_parse_weights(o->weights, n, w, why, sizeof why) != 0) {
            free(w);
            return fail(2, "--weights '%s': %s", o->weights, why);
        }
    }
    int rc = mill_partition_create(p, n, w);
    free(w);
    if (rc != 0) return fail(rc == MILL_EINVAL ? 2 : 1, "cannot create partitioner: %s%s", err_name(rc), "");
    return 0;
}

/* Returns the value of hex digit c, or -1. */
static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20; /* lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A job output's manifest (_SUCCESS, len bytes of JSON in buf) holds the
 * state in hex, as "partitioner": {..., "state": "HEX"}. Decodes it to the
 * front of buf and returns its length, or 0 when there is none. */
static size_t manifest_state(unsigned char *buf, size_t len) {
    mill__json root;
    char err[128];
    if (mill__json_parse((const char *)buf, len, &root, err, sizeof err) != 0) return 0;
    const mill__json *s = mill__json_get(mill__json_get(&root, "partitioner"), "state");
    size_t n = 0;
    if (s && s->type == MILL_JSON_STRING)
        for (int hi, lo; 2 * n + 1 < s->len && (hi = hex_digit(s->str[2 * n])) >= 0 &&
                         (lo = hex_digit(s->str[2 * n + 1])) >= 0;
             n++)
            buf[n] = (unsigned char)(hi << 4 | lo); /* the string is a copy: buf is free to overwrite */
    if (s && 2 * n != s->len) n = 0;
    mill__json_free(&root);
    return n;
}

/* Loads a saved state: a file --save wrote, or a job output (its directory
 * or its _SUCCESS), whose manifest holds the state the job ran with.
 * Returns 0, or 1 after printing an error. */
static int load(const char *path, mill_partition **p) {
    char manifest[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(manifest, sizeof manifest, "%s/_SUCCESS", path);
        path = manifest;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return fail(1, "cannot open %s: %s", path, strerror(errno));
    /* A manifest holds the state in hex, and more: it may be longer. */
    size_t cap = 1 << 16, len = 0, most = 3 * MILL_PARTITION_STATE_MAX;
    unsigned char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        if (len > most) { /* no state is this long: do not read on */
            free(buf);
            fclose(f);
            return fail(1, "cannot load %s: %s", path, "longer than any partitioner state");
        }
        unsigned char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return fail(1, "out of memory reading %s%s", path, "");
    if (bad) {
        free(buf);
        return fail(1, "cannot read %s%s", path, "");
    }
    if (len && buf[0] == '{') {
        if ((len = manifest_state(buf, len)) == 0) {
            free(buf);
            return fail(1, "cannot load %s: %s", path, "a manifest without a partitioner state");
        }
    }
    int rc = mill_partition_deserialize(p, buf, len);
    free(buf);
    if (rc != 0) return fail(1, "cannot load %s: %s", path, err_name(rc));
    return 0;
}

/* Writes the state to path. Returns 0, or 1 after printing an error. */
static int save(const char *path, const mill_partition *p) {
    size_t len = mill_partition_state_size(p);
    unsigned char *buf = malloc(len);
    if (!buf) return fail(1, "out of memory saving %s%s", path, "");
    mill_partition_serialize(p, buf, len);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    if (!ok) return fail(1, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Reads keys from stdin; prints placements, or counts them for --stats. */
static int run_keys(const mill_partition *p, int stats) {
    uint32_t n = mill_partition_size(p);
    uint64_t *keys = stats ? calloc(n, sizeof *keys) : NULL;
    if (stats && !keys) return fail(1, "out of memory%s%s", "", "");
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') len--;
        uint32_t r = mill_partition_lookup(p, mill_key_hash(line, (size_t)len));
        total++;
        if (stats) {
            keys[r]++;
        } else {
            fwrite(line, 1, (size_t)len, stdout);
            printf("\t%u\n", r);
        }
    }
    free(line);
    if (ferror(stdin)) {
        free(keys);
        return fail(1, "cannot read keys from stdin%s%s", "", "");
    }
    if (stats) {
        double W = 0;
        for (uint32_t r = 0; r < n; r++)
            if (!mill_partition_is_excluded(p, r)) W += mill_partition_weight(p, r);
        printf("rank\tkeys\tshare\tweight_share\n");
        for (uint32_t r = 0; r < n; r++) {
            double ws = mill_partition_is_excluded(p, r) ? 0.0 : mill_partition_weight(p, r) / W;
            printf("%u\t%llu\t%.6f\t%.6f\n", r, (unsigned long long)keys[r],
                   total ? (double)keys[r] / (double)total : 0.0, ws);
        }
        free(keys);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) return fail(1, "cannot write to stdout%s%s", "", "");
    return 0;
}

int mill_partition_cli_main(int argc, char **argv) {
    cli_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) return rc < 0 ? 0 : rc;
    mill_partition *p = NULL;
    rc = o.state ? load(o.state, &p) : build(&o, &p);
    if (rc != 0) return rc;
    if (o.exclude) {
        char **items;
        size_t k = split(o.exclude, &items);
        uint32_t *r = k ? malloc(k * sizeof *r) : NULL, bad = 0;
        if (k == 0) rc = fail(2, "bad --exclude '%s'%s", o.exclude, "");
        else if (!r) rc = fail(1, "out of memory%s%s", "", "");
        for (size_t i = 0; i < k && rc == 0; i++)
            if (parse_u32(items[i], &r[i]) != 0)
                rc = fail(2, "cannot exclude rank '%s': %s", items[i], err_name(MILL_EINVAL));
        int e = rc == 0 ? mill_partition_exclude_list(p, r, k, &bad) : 0;
        if (e != 0) {
            char num[16];
            snprintf(num, sizeof num, "%u", (unsigned)bad);
            rc = fail(2, "cannot exclude rank '%s': %s", num, err_name(e));
        }
        free(r);
        if (k) free(items);
    }
    if (rc == 0 && o.save) rc = save(o.save, p);
    if (rc == 0) rc = run_keys(p, o.stats);
    mill_partition_free(p);
    return rc;
}
