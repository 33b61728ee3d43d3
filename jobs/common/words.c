/* words.c -- the 64-byte word splitter (see words.h). */
#include "words.h"

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>

/* Returns the whitespace mask of the 64 bytes at p: bit i set when p[i] is
 * whitespace. Whitespace is ' ' or 9..13, i.e. (unsigned)(c - 9) <= 4. */
static inline uint64_t space_mask(const unsigned char *p) {
    const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8(9), four = _mm_set1_epi8(4);
    uint64_t m = 0;
    for (int i = 0; i < 4; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        __m128i t = _mm_sub_epi8(x, tab);
        __m128i s = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(t, four), t), _mm_cmpeq_epi8(x, sp));
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(s) << (16 * i);
    }
    return m;
}
#else
static inline uint64_t space_mask(const unsigned char *p) {
    uint64_t m = 0;
    for (int i = 0; i < 64; i++) m |= (uint64_t)(p[i] == ' ' || (unsigned char)(p[i] - 9) <= 4) << i;
    return m;
}
#endif

size_t jk_words(const char *text, size_t len, size_t *pos, mill_kv *out, size_t max) {
    const unsigned char *p = (const unsigned char *)text;
    size_t n = 0, i = *pos, wstart = 0;
    int inword = 0; /* invariant: *pos is 0 or follows whitespace, so no word is open at i */
    while (i < len) {
        if (max - n < JK_WORDS_MIN) {
            *pos = inword ? wstart : i;
            return n;
        }
        uint64_t space;
        if (len - i >= 64) {
            space = space_mask(p + i);
        } else { /* the last block, padded with whitespace */
            unsigned char tail[64];
            memset(tail, ' ', sizeof tail);
            memcpy(tail, p + i, len - i);
            space = space_mask(tail);
        }
        uint64_t word = ~space, before = (word << 1) | (uint64_t)inword;
        uint64_t starts = word & ~before, ends = space & before; /* ends: bit e = first byte after a word */
        while (ends) {
            if (!inword) {
                wstart = i + (size_t)__builtin_ctzll(starts);
                starts &= starts - 1;
            }
            size_t e = i + (size_t)__builtin_ctzll(ends);
            ends &= ends - 1;
            out[n].key = p + wstart;
            out[n].key_len = e - wstart;
            n++;
            inword = 0;
        }
        if (starts) { /* a word that goes on into the next block */
            wstart = i + (size_t)__builtin_ctzll(starts);
            inword = 1;
        }
        i += 64;
    }
    if (inword) { /* the text ends inside a word, at a block's end */
        out[n].key = p + wstart;
        out[n].key_len = len - wstart;
        n++;
    }
    *pos = len;
    return n;
}
