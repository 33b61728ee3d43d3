/* json.h -- writing JSON strings (manifests are built with open_memstream). */
#ifndef MILL_JSON_H
#define MILL_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Writes s (len bytes) as a quoted JSON string, escaping what JSON requires.
 * A byte that is not part of well-formed UTF-8 (a file name in Latin-1) is
 * written as \udcXX, byte XX as a lone low surrogate, as Python's
 * surrogateescape does: the text stays valid JSON, and readers (json_read.c;
 * Python's json, then os.fsencode) get the byte back. */
void mill__json_str(FILE *f, const char *s, size_t len);

#endif
