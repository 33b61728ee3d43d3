/* json_read.h -- reading a JSON text into a tree of values.
 *
 * A small strict reader (RFC 8259) for the tools that read a manifest back
 * whole, such as `mpimill report`. Numbers become doubles; strings are
 * decoded to UTF-8 (a \u0000 escape makes a string that holds a NUL, so
 * check len where that matters). recover.c keeps its own streaming reader,
 * which picks out the few members the commit protocol acts on.
 */
#ifndef MILL_JSON_READ_H
#define MILL_JSON_READ_H

#include <stddef.h>

typedef enum mill__json_type {
    MILL_JSON_NULL,
    MILL_JSON_BOOL,
    MILL_JSON_NUMBER,
    MILL_JSON_STRING,
    MILL_JSON_ARRAY,
    MILL_JSON_OBJECT
} mill__json_type;

typedef struct mill__json {
    mill__json_type type;
    double num;                /* NUMBER; BOOL: 0 or 1 */
    char *str;                 /* STRING: NUL-terminated, len bytes */
    size_t len;                /* STRING: bytes; ARRAY, OBJECT: elements */
    char **keys;               /* OBJECT: the members' names, in order */
    struct mill__json *items;  /* ARRAY, OBJECT: the elements, in order */
} mill__json;

/* Parses text (len bytes, need not be NUL-terminated) into *out. Returns 0,
 * MILL_EFORMAT when text is not one JSON value, nests deeper than 64 or
 * holds more than mill__json_max_values values (err says which, and names
 * the byte offset), or MILL_ENOMEM. On failure *out holds nothing to free. */
int mill__json_parse(const char *text, size_t len, mill__json *out, char *err, size_t errlen);

/* The most values (numbers, strings, arrays, ...) a text may hold: 16M,
 * about 1.5 GiB of tree at most. A variable for tests. */
extern size_t mill__json_max_values;

/* Frees what mill__json_parse allocated inside v (v itself is the caller's). */
void mill__json_free(mill__json *v);

/* Returns the member named key of object v, or NULL when v is NULL, not an
 * object or has no such member (the first one when names repeat). */
const mill__json *mill__json_get(const mill__json *v, const char *key);

/* Returns 1 and stores v's value in *out when v is a number, else 0. */
int mill__json_num(const mill__json *v, double *out);

#endif
