/* key_hash.h -- the key hash, inline, for the loops that hash every record
 * (runtime/emit.c); mill_key_hash (partition.h) is the same function.
 *
 * XXH3 from libxxhash-dev's header, compiled inline: a call into the shared
 * libxxhash, or even into mill_key_hash, costs a good part of the hash of a
 * short key, and inline the fixed seed folds into constants. Include it in
 * a .c file only, and not beside another inclusion of <xxhash.h>. */
#ifndef MILL_KEY_HASH_H
#define MILL_KEY_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "partition.h"

static inline uint64_t mill__key_hash(const void *key, size_t len) {
    return XXH3_64bits_withSeed(key, len, MILL_KEY_HASH_SEED);
}

#endif
