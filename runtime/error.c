/* error.c -- the names of mpimill's error codes (mill_strerror), and the
 * one line an error is printed as (mill__eprintf). */
#include <stdarg.h>
#include <stdio.h>

#include "agree.h"
#include "mpimill/job.h"

void mill__fputs_visible(FILE *f, const char *s) {
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f) fprintf(f, "\\x%02x", *c);
        else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) fprintf(f, "\\xc2\\x%02x", *++c); /* C1, as UTF-8 */
        else fputc(*c, f);
}

void mill__eprintf(const char *fmt, ...) {
    char msg[MILL__ERRLEN], line[MILL__ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 5 < sizeof line; p++) {
        if (*p >= 0x20 && *p != 0x7f) line[n++] = (char)*p;
        else if (*p == '\n') n += (size_t)snprintf(line + n, sizeof line - n, "\\n");
        else if (*p == '\t') n += (size_t)snprintf(line + n, sizeof line - n, "\\t");
        else if (*p == '\r') n += (size_t)snprintf(line + n, sizeof line - n, "\\r");
        else n += (size_t)snprintf(line + n, sizeof line - n, "\\x%02x", *p);
    }
    line[n] = '\0';
    fprintf(stderr, "mpimill: %s\n", line);
}

const char *mill_strerror(int err) {
    switch (err) {
    case 0: return "success";
    case MILL_EINVAL: return "invalid argument";
    case MILL_ENOMEM: return "out of memory";
    case MILL_EIO: return "I/O error";
    case MILL_ENOENT: return "not found";
    case MILL_EEXIST: return "already exists";
    case MILL_EJOB: return "job callback failed";
    case MILL_EABI: return "plugin ABI mismatch";
    case MILL_EMPI: return "MPI error";
    case MILL_EFORMAT: return "malformed data";
    case MILL_ETIMEOUT: return "timed out";
    case MILL_ESTATE: return "not allowed in this state";
    case MILL_EABORT: return "aborted because another rank failed";
    default: return "unknown error";
    }
}
