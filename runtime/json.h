/* json.h -- writing JSON strings (manifests are built with open_memstream). */
#ifndef MILL_JSON_H
#define MILL_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Writes s (len bytes) as a quoted JSON string, escaping what JSON requires. */
void mill__json_str(FILE *f, const char *s, size_t len);

#endif
