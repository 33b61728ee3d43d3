/* manifest.c -- what a job's manifest (_SUCCESS) says about its run: the
 * fingerprint that lets a pipeline skip a stage whose output is current,
 * the inputs, the metrics, the partitioner and the job's counters summed
 * over the ranks. The commit (commit.c) writes it; rank 0 builds it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "agree.h"
#include "args.h"
#include "ctx.h"
#include "json.h"
#include "manifest.h"
#include "partition.h"

/* Feeds a file's identity (path, size, modification time) to the hash. */
static void hash_id(XXH3_state_t *h, const char *path, const int64_t id[3]) {
    XXH3_64bits_update(h, path, strlen(path) + 1);
    XXH3_64bits_update(h, id, 3 * sizeof *id);
}

/* Feeds the plugin file's identity to the hash, as stat finds it now. */
static void hash_plugin(XXH3_state_t *h, const char *path) {
    struct stat st;
    int64_t id[3] = {-1, -1, -1};
    if (stat(path, &st) == 0) {
        id[0] = (int64_t)st.st_size;
        id[1] = (int64_t)st.st_mtim.tv_sec;
        id[2] = (int64_t)st.st_mtim.tv_nsec;
    }
    hash_id(h, path, id);
}

int mill__fingerprint(const mill__run_args *a, const char *plugin_path, const mill__inputs *in,
                      char out[17]) {
    XXH3_state_t *h = XXH3_createState();
    if (!h || XXH3_64bits_reset(h) != XXH_OK) {
        XXH3_freeState(h);
        return MILL_ENOMEM;
    }
    hash_plugin(h, plugin_path);
    /* Every option that changes what is read or written: the same run of
     * the same inputs gives the same output (--memory, --tmp and the like
     * only change how). */
    const char *words[] = {a->format, a->compress, a->csv_columns ? a->csv_columns : ""};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) XXH3_64bits_update(h, words[i], strlen(words[i]) + 1);
    int flags[] = {a->csv_no_header, a->csv_quoted_newlines, a->skip_bad, a->single_file, a->csv_columns != NULL};
    XXH3_64bits_update(h, flags, sizeof flags);
    uint64_t max_record = a->skip_bad ? a->max_record : 0; /* which records are skipped */
    XXH3_64bits_update(h, &max_record, sizeof max_record);
    for (size_t i = 0; i < a->nopts; i++) {
        XXH3_64bits_update(h, a->opts[i].key, strlen(a->opts[i].key) + 1);
        XXH3_64bits_update(h, a->opts[i].value, strlen(a->opts[i].value) + 1);
    }
    for (size_t i = 0; i < in->n; i++) { /* as listed: an input appended to since is read as listed */
        const mill__file *f = &in->files[i];
        hash_id(h, f->path, (const int64_t[3]){(int64_t)f->size, f->mtime_s, f->mtime_ns});
    }
    snprintf(out, 17, "%016" PRIx64, (uint64_t)XXH3_64bits_digest(h));
    XXH3_freeState(h);
    return 0;
}

/* Writes the partitioner into the manifest: ranks, live ranks, each rank's
 * share of the key space, and the whole state in hex (mill_partition_deserialize).
 * Returns 0, or -1 when the state cannot be had (out of memory). */
static int manifest_partitioner(FILE *f, const mill_partition *p) {
    uint32_t n = mill_partition_size(p);
    fprintf(f, ",\n\"partitioner\": {\"algorithm\": \"slot-table\", \"ranks\": %u, \"live\": %u, \"shares\": [",
            n, mill_partition_live(p));
    for (uint32_t r = 0; r < n; r++)
        fprintf(f, "%s%.6f", r ? ", " : "", (double)mill_partition_owned(p, r) / (double)mill_partition_slots(p));
    fprintf(f, "], \"state\": \"");
    size_t len = mill_partition_state_size(p);
    unsigned char *buf = malloc(len);
    if (!buf || mill_partition_serialize(p, buf, len) != 0) {
        free(buf);
        return -1;
    }
    char hex[1 << 16]; /* a chunk at a time: the state may be 64 MiB */
    for (size_t i = 0; i < len;) {
        size_t k = 0;
        for (; i < len && k < sizeof hex; i++, k += 2) {
            hex[k] = "0123456789abcdef"[buf[i] >> 4];
            hex[k + 1] = "0123456789abcdef"[buf[i] & 15];
        }
        fwrite(hex, 1, k, f); /* a short write shows at the stream's fclose */
    }
    free(buf);
    fprintf(f, "\"}");
    return 0;
}

typedef struct counter_sum {
    const char *name;
    int64_t value;
} counter_sum;

static int cmp_counter(const void *a, const void *b) {
    return strcmp(((const counter_sum *)a)->name, ((const counter_sum *)b)->name);
}

int mill__counters_sum(mill_ctx *ctx, char **out, char *err, size_t errlen) {
    char mine[MILL_MAX_COUNTERS * 96] = "", *all = NULL;
    size_t len = 0;
    for (int i = 0; i < ctx->ncounters; i++)
        len += (size_t)snprintf(mine + len, sizeof mine - len, "%s=%" PRId64 "\n", ctx->counters[i].name,
                                ctx->counters[i].value);
    int rc = mill__gather_str(ctx->comm, mine, &all, err, errlen);
    if (rc || ctx->rank != 0) return rc;
    /* Merge in place: names point into all; at most size*64 distinct names. */
    size_t cap = (size_t)ctx->size * MILL_MAX_COUNTERS, n = 0;
    counter_sum *sums = calloc(cap ? cap : 1, sizeof *sums);
    char *save = NULL, *res = NULL;
    if (!sums) rc = MILL_ENOMEM;
    for (char *line = rc ? NULL : strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strrchr(line, '=');
        *eq = '\0';
        size_t i = 0;
        while (i < n && strcmp(sums[i].name, line) != 0) i++;
        if (i == n) sums[n++].name = line;
        sums[i].value += strtoll(eq + 1, NULL, 10);
    }
    if (n > 1) qsort(sums, n, sizeof *sums, cmp_counter);
    size_t rlen = 0;
    FILE *f = rc ? NULL : open_memstream(&res, &rlen);
    if (!rc && !f) rc = MILL_ENOMEM;
    for (size_t i = 0; f && i < n; i++) fprintf(f, "%s=%" PRId64 "\n", sums[i].name, sums[i].value);
    if (f && fclose(f) != 0) rc = MILL_ENOMEM;
    if (rc) snprintf(err, errlen, "out of memory summing counters");
    free(sums);
    free(all);
    *out = res;
    return rc;
}

/* Returns the bytes of the input files, each file once: every dataset read
 * of one HDF5 file lists that file's size. */
static uint64_t input_bytes(const mill__inputs *in) {
    uint64_t n = 0;
    for (size_t i = 0; i < in->n; i++) {
        const mill__file *f = &in->files[i];
        int seen = 0;
        for (size_t j = 0; f->kind == MILL__HDF5 && !seen && j < i; j++) {
            const mill__file *g = &in->files[j];
            seen = g->kind == MILL__HDF5 && g->dsoff == f->dsoff && !memcmp(g->path, f->path, f->dsoff);
        }
        if (!seen) n += f->size;
    }
    return n;
}

char *mill__manifest_members(mill_ctx *ctx, const mill__inputs *in, int argc, char **argv, const char *fp,
                             const char *counters, const char *per_rank, uint64_t records, uint64_t keys,
                             double secs, double setup) {
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return NULL;
    fprintf(f, "\"fingerprint\": \"%s\",\n\"job\": ", fp);
    mill__json_str(f, ctx->job->name, strlen(ctx->job->name));
    fprintf(f, ",\n\"arguments\": [");
    for (int i = 0; i < argc; i++) {
        fprintf(f, i ? ", " : "");
        mill__json_str(f, argv[i], strlen(argv[i]));
    }
    fprintf(f, "],\n\"inputs\": [");
    for (size_t i = 0; i < in->n; i++) {
        fprintf(f, i ? ",\n  {\"path\": " : "\n  {\"path\": ");
        mill__json_str(f, in->files[i].path, strlen(in->files[i].path));
        fprintf(f, ", \"size\": %" PRIu64 "}", in->files[i].size);
    }
    /* seconds: from the job's start; the phases' times are from the start
     * barrier, setup_seconds later (loading, listing inputs, setup). */
    fprintf(f, "],\n\"ranks\": %d,\n\"metrics\": {\"records_in\": %" PRIu64 ", \"keys_out\": %" PRIu64
               ", \"input_bytes\": %" PRIu64 ", \"seconds\": %.3f, \"setup_seconds\": %.6f,\n  %s}",
            ctx->size, records, keys, input_bytes(in), secs, setup, per_rank);
    int bad = manifest_partitioner(f, ctx->part);
    fprintf(f, ",\n\"counters\": {");
    for (const char *c = counters; c && *c;) { /* names are escaped: a tab or a Latin-1 byte stays JSON */
        const char *eq = strchr(c, '='), *nl = strchr(eq, '\n');
        fprintf(f, "%s", c == counters ? "" : ", ");
        mill__json_str(f, c, (size_t)(eq - c));
        fprintf(f, ": %.*s", (int)(nl - eq - 1), eq + 1);
        c = nl + 1;
    }
    fprintf(f, "}");
    if (fclose(f) != 0 || bad) {
        free(s);
        return NULL;
    }
    return s;
}
