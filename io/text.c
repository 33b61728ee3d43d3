/* text.c -- line reader over a memory-mapped byte range (see text.h). */
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpimill/job.h"

int mill__text_read(const char *path, uint64_t start, uint64_t end, mill__record_fn fn, void *arg,
                    char *err, size_t errlen) {
    return mill__text_read_lines(path, start, end, 0, fn, arg, err, errlen);
}

int mill__text_read_lines(const char *path, uint64_t start, uint64_t end, int count_lines,
                          mill__record_fn fn, void *arg, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        return MILL_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "input %s: %s", path, strerror(errno));
        close(fd);
        return MILL_EIO;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (end > size) end = size; /* the file shrank since it was listed */
    if (start >= end) {
        close(fd);
        return 0;
    }
    const char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "input %s: mmap: %s", path, strerror(saved));
        return MILL_EIO;
    }
    (void)madvise((void *)map, size, MADV_SEQUENTIAL);

    const char *p = map + start, *stop = map + end, *eof = map + size;
    if (start > 0 && p[-1] != '\n') { /* the line in progress belongs to the previous range */
        const char *nl = memchr(p, '\n', (size_t)(eof - p));
        p = nl ? nl + 1 : eof;
    }
    uint64_t line = 0; /* the number of the previous line; 0: not known */
    if (start == 0) {
        line = 0;
    } else if (count_lines) {
        for (const char *q = map; q < p; line++) {
            q = memchr(q, '\n', (size_t)(p - q));
            if (!q) break;
            q++;
        }
    }
    int known = start == 0 || count_lines;
    int rc = 0;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(eof - p));
        const char *le = nl ? nl : eof;
        size_t len = (size_t)(le - p);
        if (nl && len > 0 && le[-1] == '\r') len--;
        mill_record rec = {.data = p, .len = len, .file = path, .offset = (uint64_t)(p - map),
                           .line = known ? ++line : 0};
        rc = fn(arg, &rec);
        if (rc) break;
        p = nl ? nl + 1 : eof;
    }
    munmap((void *)map, size);
    return rc;
}
