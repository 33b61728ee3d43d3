/* json.c -- JSON string escaping for manifests. */
#include "json.h"

/* Returns the length of the well-formed UTF-8 sequence at s[0..n), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    if (s[0] < 0xc2 || s[0] > 0xf4 || n < k) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return k;
}

void mill__json_str(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else if (c < 0x80) {
            fputc(c, f);
        } else if ((k = utf8_len((const unsigned char *)s + i, len - i)) > 0) {
            fwrite(s + i, 1, k, f);
            i += k - 1;
        } else { /* not UTF-8 (a Latin-1 file name, say): Python's surrogateescape */
            fprintf(f, "\\udc%02x", c);
        }
    }
    fputc('"', f);
}
