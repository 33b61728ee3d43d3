/* keynum.h -- for the test plugins that read "KEY NUMBER" lines (fmin.c,
 * isum.c): splits a record at its first space. */
#ifndef MILL_TEST_KEYNUM_H
#define MILL_TEST_KEYNUM_H

#include <mpimill/job.h>
#include <string.h>

/* Sets *klen to the key's length and copies the number after the space
 * into num (NUL-terminated, cut to cap - 1 bytes). Returns 0, or -1 when
 * the record has no space. */
static inline int keynum(const mill_record *rec, size_t *klen, char *num, size_t cap) {
    const char *sp = memchr(rec->data, ' ', rec->len);
    if (!sp) return -1;
    size_t n = rec->len - (size_t)(sp + 1 - rec->data);
    if (n >= cap) n = cap - 1;
    memcpy(num, sp + 1, n);
    num[n] = '\0';
    *klen = (size_t)(sp - rec->data);
    return 0;
}

#endif
