/* gen.c -- mill-gen: a reproducible text corpus of Zipf-distributed words.
 *
 * usage: mill-gen --bytes SIZE [--seed N] [--vocab N] [--zipf S] [--files N]
 *                 [--crlf] [--no-final-newline] [--max-words N] OUT
 *
 * Writes about SIZE bytes (K/M/G suffixes) of lines of 1..max-words words to
 * the file OUT, or with --files N to OUT/part-0000i (N files of about
 * SIZE/N bytes). The same arguments give the same bytes on every machine:
 * the generator uses its own PRNG (splitmix64) and integer-only sampling.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng_state;

static uint64_t next(void) {
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Word i of the vocabulary: lowercase letters from a hash of i, length 2..12,
 * with a few capitalized words so that case folding matters. */
static size_t word(uint64_t i, char *out) {
    uint64_t h = i * UINT64_C(0x9e3779b97f4a7c15) + 12345;
    h ^= h >> 29;
    size_t len = 2 + (size_t)(h % 11);
    for (size_t k = 0; k < len; k++) {
        h = h * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        out[k] = (char)('a' + (h >> 33) % 26);
    }
    if (i % 17 == 3) out[0] = (char)(out[0] - 32);
    /* Keep words distinct: append the index in base 26 when it is large. */
    for (uint64_t j = i; j; j /= 26) out[len++] = (char)('a' + j % 26);
    return len;
}

static uint64_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    switch (*end) {
    case 'G': case 'g': v *= 1024; /* fall through */
    case 'M': case 'm': v *= 1024; /* fall through */
    case 'K': case 'k': v *= 1024; break;
    case '\0': break;
    default: return 0;
    }
    return (uint64_t)v;
}

static int usage(void) {
    fprintf(stderr, "usage: mill-gen --bytes SIZE [--seed N] [--vocab N] [--zipf S] [--files N]\n"
                    "                [--crlf] [--no-final-newline] [--max-words N] OUT\n");
    return 2;
}

int main(int argc, char **argv) {
    uint64_t bytes = 0, seed = 1, vocab = 100000, files = 0, max_words = 12;
    double s = 1.1;
    int crlf = 0, no_final = 0;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bytes") && v) bytes = parse_size(v), i++;
        else if (!strcmp(a, "--seed") && v) seed = strtoull(v, NULL, 0), i++;
        else if (!strcmp(a, "--vocab") && v) vocab = strtoull(v, NULL, 0), i++;
        else if (!strcmp(a, "--zipf") && v) s = strtod(v, NULL), i++;
        else if (!strcmp(a, "--files") && v) files = strtoull(v, NULL, 0), i++;
        else if (!strcmp(a, "--max-words") && v) max_words = strtoull(v, NULL, 0), i++;
        else if (!strcmp(a, "--crlf")) crlf = 1;
        else if (!strcmp(a, "--no-final-newline")) no_final = 1;
        else if (a[0] != '-' && !out) out = a;
        else return usage();
    }
    if (!out || vocab == 0 || max_words == 0 || s <= 0) return usage();

    /* Cumulative Zipf weights, scaled to 2^62 as integers so that sampling
     * is exact and identical everywhere once the table is built. */
    uint64_t *cdf = malloc(vocab * sizeof *cdf);
    if (!cdf) return perror("malloc"), 1;
    double total = 0;
    for (uint64_t i = 0; i < vocab; i++) total += 1.0 / pow((double)(i + 1), s);
    double acc = 0;
    for (uint64_t i = 0; i < vocab; i++) {
        acc += 1.0 / pow((double)(i + 1), s);
        cdf[i] = (uint64_t)(acc / total * 4611686018427387904.0);
    }
    cdf[vocab - 1] = UINT64_C(4611686018427387904);

    rng_state = seed;
    uint64_t nfiles = files ? files : 1;
    if (files && mkdir(out, 0777) != 0 && errno != EEXIST) return perror(out), 1;
    for (uint64_t f = 0; f < nfiles; f++) {
        char path[4096];
        if (files) snprintf(path, sizeof path, "%s/part-%05llu", out, (unsigned long long)f);
        else snprintf(path, sizeof path, "%s", out);
        FILE *fp = fopen(path, "w");
        if (!fp) return perror(path), 1;
        uint64_t target = bytes / nfiles, written = 0;
        char line[8192];
        while (written < target) {
            size_t len = 0, n = 1 + (size_t)(next() % max_words);
            for (size_t k = 0; k < n; k++) {
                uint64_t r = next() >> 2, lo = 0, hi = vocab - 1;
                while (lo < hi) {
                    uint64_t mid = (lo + hi) / 2;
                    if (cdf[mid] > r) hi = mid;
                    else lo = mid + 1;
                }
                if (k) line[len++] = (next() & 7) ? ' ' : '\t';
                len += word(lo, line + len);
            }
            if (crlf) line[len++] = '\r';
            line[len++] = '\n';
            if (written + len >= target && no_final) len -= crlf ? 2 : 1;
            if (fwrite(line, 1, len, fp) != len) return perror(path), 1;
            written += len;
        }
        if (fclose(fp) != 0) return perror(path), 1;
    }
    free(cdf);
    return 0;
}
