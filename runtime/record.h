/* record.h -- how a (key, value) record is laid out in the shuffle's
 * messages and in spill files.
 *
 *   varint klen
 *   varint vlen          only for MILL_VALUE_BYTES jobs
 *   key bytes
 *   value                BYTES: vlen raw bytes; U64: varint; I64: zigzag
 *                        varint; F64: 8 raw bytes
 *
 * Varints are LEB128 (7 bits per byte, low first). Numeric values are
 * always 8 bytes in memory, so their length is not sent, and counts and
 * sums -- mostly small numbers -- take a byte or two instead of eight.
 * mill__u64_text is the text form of a u64 value in output files.
 */
#ifndef MILL_RECORD_H
#define MILL_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mpimill/job.h"

/* The most bytes a record takes besides its key and value bytes: two u32
 * varints, or one u32 varint and a u64 varint growing 8 bytes to 10. */
#define MILL__RECORD_OVERHEAD 10

static inline size_t mill__varint_put(char *dst, uint64_t x) {
    size_t n = 0;
    while (x >= 0x80) {
        dst[n++] = (char)(x | 0x80);
        x >>= 7;
    }
    dst[n++] = (char)x;
    return n;
}

static inline size_t mill__varint_size(uint64_t x) {
    size_t n = 1;
    while (x >= 0x80) x >>= 7, n++;
    return n;
}

/* Reads a varint of at most 64 bits from [p, p + n). Returns the bytes it
 * took, 0 when [p, p + n) ends inside it, or SIZE_MAX when it is malformed. */
static inline size_t mill__varint_get(const char *p, size_t n, uint64_t *x) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        unsigned char b = (unsigned char)p[i];
        if (i == 9 && b > 1) return SIZE_MAX;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b < 0x80) {
            *x = v;
            return i + 1;
        }
    }
    return n >= 10 ? SIZE_MAX : 0;
}

/* Writes x in decimal at dst (room for MILL__U64_DIGITS bytes, no NUL), as
 * text output files hold u64 values, and returns the digits' count. It is
 * on the path of every key written: snprintf took more than the rest of
 * the record's writing. */
#define MILL__U64_DIGITS 20
static inline size_t mill__u64_text(char *dst, uint64_t x) {
    char buf[MILL__U64_DIGITS], *p = buf + sizeof buf;
    do {
        *--p = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    size_t n = (size_t)(buf + sizeof buf - p);
    memcpy(dst, p, n);
    return n;
}

/* The value of an 8-byte numeric value as the varint carries it. */
static inline uint64_t mill__record_num(int value_type, const void *value) {
    uint64_t u;
    memcpy(&u, value, 8);
    return value_type == MILL_VALUE_I64 ? (u << 1) ^ (uint64_t)((int64_t)u >> 63) : u; /* zigzag */
}

/* The inverse of mill__record_num: the 8 bytes of a value (into dst). */
static inline void mill__record_unnum(int value_type, uint64_t x, void *dst) {
    if (value_type == MILL_VALUE_I64) x = (x >> 1) ^ (uint64_t)-(int64_t)(x & 1);
    memcpy(dst, &x, 8);
}

/* Returns the encoded size of a record. Numeric values must be 8 bytes. */
static inline size_t mill__record_size(int value_type, uint32_t klen, const void *value, uint32_t vlen) {
    size_t n = mill__varint_size(klen) + klen;
    switch (value_type) {
    case MILL_VALUE_U64:
    case MILL_VALUE_I64: return n + mill__varint_size(mill__record_num(value_type, value));
    case MILL_VALUE_F64: return n + 8;
    default: return n + mill__varint_size(vlen) + vlen;
    }
}

/* Writes the record's bytes before the key into dst (room for
 * MILL__RECORD_OVERHEAD) and returns how many. */
static inline size_t mill__record_head(int value_type, char *dst, uint32_t klen, uint32_t vlen) {
    size_t n = mill__varint_put(dst, klen);
    return value_type == MILL_VALUE_BYTES ? n + mill__varint_put(dst + n, vlen) : n;
}

/* Writes the record's value bytes (after the key) into dst and returns how
 * many. BYTES values are copied as they are: dst needs vlen bytes. */
static inline size_t mill__record_value(int value_type, char *dst, const void *value, uint32_t vlen) {
    if (value_type == MILL_VALUE_U64 || value_type == MILL_VALUE_I64)
        return mill__varint_put(dst, mill__record_num(value_type, value));
    memcpy(dst, value, vlen);
    return vlen;
}

/* Writes the whole record into dst (mill__record_size bytes) and returns
 * its size. */
static inline size_t mill__record_put(int value_type, char *dst, const void *key, uint32_t klen, const void *value,
                                      uint32_t vlen) {
    size_t n = mill__record_head(value_type, dst, klen, vlen);
    memcpy(dst + n, key, klen);
    return n + klen + mill__record_value(value_type, dst + n + klen, value, vlen);
}

/* Decodes the record at [p, p + n). Returns its size, 0 when [p, p + n)
 * ends inside it, or SIZE_MAX when it is malformed. *key points into p; the
 * value is copied to val (at least 8 bytes) for numeric jobs, else *value
 * points into p. */
static inline size_t mill__record_get(int value_type, const char *p, size_t n, const char **key, uint32_t *klen,
                                      const char **value, uint32_t *vlen, char *val) {
    uint64_t kl, vl = 8, num;
    size_t a = mill__varint_get(p, n, &kl), b = 0;
    if (a == 0 || a == SIZE_MAX) return a;
    if (value_type == MILL_VALUE_BYTES && ((b = mill__varint_get(p + a, n - a, &vl)) == 0 || b == SIZE_MAX))
        return b;
    if (kl > UINT32_MAX || vl > UINT32_MAX) return SIZE_MAX;
    size_t at = a + b;
    if (n - at < kl) return 0;
    *key = p + at;
    *klen = (uint32_t)kl;
    *vlen = (uint32_t)vl;
    at += kl;
    switch (value_type) {
    case MILL_VALUE_U64:
    case MILL_VALUE_I64:
        if ((b = mill__varint_get(p + at, n - at, &num)) == 0 || b == SIZE_MAX) return b;
        mill__record_unnum(value_type, num, val);
        *value = val;
        return at + b;
    default:
        if (n - at < vl) return 0;
        *value = p + at;
        return at + vl;
    }
}

#endif
