/* words.h -- splitting text into words, 64 bytes at a time (built-in jobs
 * only, like jobkit.h: each job compiles words.c into its plugin).
 *
 * A word is a maximal run of bytes that are not ASCII whitespace (space,
 * \t, \n, \v, \f, \r). The splitter finds the whitespace of 64 bytes with a
 * few vector compares into one 64-bit mask and walks the word boundaries
 * with bit scans: no branch per byte, one per word.
 */
#ifndef MILL_WORDS_H
#define MILL_WORDS_H

#include <mpimill/job.h>
#include <stddef.h>

/* The smallest `max` jk_words accepts: a 64-byte block ends at most 32
 * words, and the text's last word one more. */
#define JK_WORDS_MIN 33

/* Stores the words of text[*pos, len) as the keys (key, key_len) of out[0],
 * out[1], ... -- at most max (>= JK_WORDS_MIN); their value fields are left
 * as they are -- and returns how many. *pos must be 0 or a value a previous
 * call left; it advances past the words stored and equals len once the text
 * is done. Keys point into text. */
size_t jk_words(const char *text, size_t len, size_t *pos, mill_kv *out, size_t max);

#endif
