/* json_read.c -- a small strict JSON reader building a tree (see json_read.h).
 *
 * Recursive descent over RFC 8259, nesting limited to MAX_DEPTH so a hostile
 * file cannot exhaust the stack, and values to mill__json_max_values so that it cannot
 * exhaust memory either: a tree node takes 48 bytes for as little as 2 of
 * text ("0,"). Arrays and objects grow by doubling.
 */
#include "json_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpimill/job.h"

#define MAX_DEPTH 64
size_t mill__json_max_values = 16u << 20; /* a real manifest has a few per file: 4M files */

typedef struct reader {
    const char *p, *start, *end;
    int nomem;
    size_t values;   /* parsed so far */
    const char *why; /* what is wrong at p, when not "malformed JSON" */
} reader;

static void ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')) r->p++;
}

static int value(reader *r, mill__json *v, int depth);

/* Reads 4 hex digits at r->p into *out. Returns 0 or -1. */
static int hex4(reader *r, unsigned *out) {
    if (r->end - r->p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = *r->p++;
        unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0')
                   : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                   : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 16u;
        if (d > 15) return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8 to buf (which has room for 4 more bytes). */
static size_t utf8(char *buf, unsigned cp) {
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xc0 | (cp >> 6));
        buf[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xe0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    buf[0] = (char)(0xf0 | (cp >> 18));
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    buf[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string at r->p (the opening quote) into a malloc'ed *out of *len
 * bytes. The decoded string is never longer than its source, so one buffer
 * of the source's length is enough. Returns 0 or -1. */
static int string(reader *r, char **out, size_t *len) {
    if (r->p >= r->end || *r->p != '"') return -1;
    const char *q = ++r->p;
    while (q < r->end && *q != '"') q += *q == '\\' && q + 1 < r->end ? 2 : 1;
    if (q >= r->end) return -1;
    char *buf = malloc((size_t)(q - r->p) + 1);
    if (!buf) {
        r->nomem = 1;
        return -1;
    }
    size_t n = 0;
    while (*r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;
        if (c < 0x20) goto bad;
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        char e = *r->p++;
        switch (e) {
        case '"': case '\\': case '/': buf[n++] = e; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(r, &cp)) goto bad;
            if (cp >= 0xdc80 && cp <= 0xdcff) { /* a byte that was not UTF-8 (json.h) */
                buf[n++] = (char)(cp - 0xdc00);
                break;
            }
            if (cp >= 0xdc00 && cp <= 0xdfff) goto bad; /* another lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {         /* a high one: its pair must follow */
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') goto bad;
                r->p += 2;
                if (hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff) goto bad;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            n += utf8(buf + n, cp); /* at most the 6 or 12 source bytes it replaces */
            break;
        }
        default: goto bad;
        }
    }
    r->p++;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
bad:
    free(buf);
    return -1;
}

/* Parses a number per the JSON grammar (no leading zeros, no '+', no bare
 * '.'), then converts it with strtod. Returns 0 or -1. */
static int number(reader *r, double *out) {
    const char *s = r->p, *p = r->p;
    if (p < r->end && *p == '-') p++;
    if (p >= r->end || *p < '0' || *p > '9') return -1;
    if (*p == '0') p++;
    else while (p < r->end && *p >= '0' && *p <= '9') p++;
    if (p < r->end && *p == '.') {
        p++;
        if (p >= r->end || *p < '0' || *p > '9') return -1;
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < r->end && (*p == '+' || *p == '-')) p++;
        if (p >= r->end || *p < '0' || *p > '9') return -1;
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    }
    char small[64], *tmp = (size_t)(p - s) < sizeof small ? small : malloc((size_t)(p - s) + 1);
    if (!tmp) {
        r->nomem = 1;
        return -1;
    }
    memcpy(tmp, s, (size_t)(p - s));
    tmp[p - s] = '\0';
    *out = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    if (!isfinite(*out)) {
        r->why = "a number out of range";
        return -1;
    }
    r->p = p;
    return 0;
}

/* Parses the elements of an array or object after its opening bracket. */
static int container(reader *r, mill__json *v, int depth) {
    char close = v->type == MILL_JSON_OBJECT ? '}' : ']';
    size_t cap = 0;
    ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        if (v->len == cap) {
            cap = cap ? cap * 2 : 1; /* not 8: [[0],[0],...] would take 2.5x the bound's memory */
            mill__json *ni = realloc(v->items, cap * sizeof *ni);
            if (ni) v->items = ni;
            if (ni && v->type == MILL_JSON_OBJECT) {
                char **nk = realloc(v->keys, cap * sizeof *nk);
                if (nk) v->keys = nk;
                else ni = NULL;
            }
            if (!ni) {
                r->nomem = 1;
                return -1;
            }
        }
        if (v->type == MILL_JSON_OBJECT) {
            size_t klen;
            ws(r);
            if (string(r, &v->keys[v->len], &klen)) return -1;
            ws(r);
            if (r->p >= r->end || *r->p != ':') {
                free(v->keys[v->len]);
                return -1;
            }
            r->p++;
        }
        if (value(r, &v->items[v->len], depth + 1)) {
            mill__json_free(&v->items[v->len]);
            if (v->type == MILL_JSON_OBJECT) free(v->keys[v->len]);
            return -1;
        }
        v->len++;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return -1;
    }
}

/* Parses one value at r->p into *v (zeroed here). On failure v holds only
 * what mill__json_free releases. */
static int value(reader *r, mill__json *v, int depth) {
    memset(v, 0, sizeof *v);
    ws(r);
    if (r->p >= r->end) return -1;
    if (depth >= MAX_DEPTH) r->why = "JSON nested deeper than 64 levels"; /* the top value is at depth 0 */
    if (++r->values > mill__json_max_values) r->why = "too many JSON values";
    if (r->why) return -1;
    static const struct { const char *word; mill__json_type type; double num; } words[] = {
        {"null", MILL_JSON_NULL, 0}, {"true", MILL_JSON_BOOL, 1}, {"false", MILL_JSON_BOOL, 0}};
    switch (*r->p) {
    case '{':
    case '[':
        v->type = *r->p++ == '{' ? MILL_JSON_OBJECT : MILL_JSON_ARRAY;
        return container(r, v, depth);
    case '"':
        v->type = MILL_JSON_STRING;
        return string(r, &v->str, &v->len);
    default:
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
            size_t n = strlen(words[i].word);
            if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, words[i].word, n)) {
                r->p += n;
                v->type = words[i].type;
                v->num = words[i].num;
                return 0;
            }
        }
        v->type = MILL_JSON_NUMBER;
        return number(r, &v->num);
    }
}

int mill__json_parse(const char *text, size_t len, mill__json *out, char *err, size_t errlen) {
    reader r = {text, text, text + len, 0, 0, NULL};
    int rc = value(&r, out, 0);
    if (rc == 0) {
        ws(&r);
        rc = r.p == r.end ? 0 : -1;
    }
    if (rc == 0) return 0;
    mill__json_free(out);
    if (r.nomem) {
        snprintf(err, errlen, "out of memory reading JSON");
        return MILL_ENOMEM;
    }
    snprintf(err, errlen, "%s at byte %zu", r.why ? r.why : "malformed JSON", (size_t)(r.p - r.start));
    return MILL_EFORMAT;
}

void mill__json_free(mill__json *v) {
    if (v->type == MILL_JSON_ARRAY || v->type == MILL_JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            mill__json_free(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const mill__json *mill__json_get(const mill__json *v, const char *key) {
    if (!v || v->type != MILL_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < v->len; i++)
        if (!strcmp(v->keys[i], key)) return &v->items[i];
    return NULL;
}

int mill__json_num(const mill__json *v, double *out) {
    if (!v || v->type != MILL_JSON_NUMBER) return 0;
    *out = v->num;
    return 1;
}
