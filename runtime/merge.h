/* merge.h -- merging sorted inputs of records into one stream of distinct
 * keys, combining the values of equal keys with the job's combiner.
 *
 * The shuffle merges in two places: a sender merges its sorted map runs,
 * one merge per destination, so that each of its distinct keys crosses the
 * network once; and the reduce side merges its sorted runs into the keys it
 * hands to the writer. */
#ifndef MILL_MERGE_H
#define MILL_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

typedef struct mill__merge mill__merge;

/* Creates an empty merge for ctx's job. Equal keys are combined in scratch
 * (an initialized table, which may be shared by several merges: what
 * mill__merge_next returns is valid until the next call on any of them).
 * Returns 0 or MILL_ENOMEM. */
int mill__merge_new(mill__merge **out, mill_ctx *ctx, mill__table *scratch);

/* Adds the records at [off, off + len) of file fd as an input: they must be
 * in key order, each key once (record.h's format). They are read with
 * pread through a buffer of about bufsize bytes (more for a bigger record).
 * Returns 0 or MILL_ENOMEM. */
int mill__merge_file(mill__merge *m, int fd, uint64_t off, uint64_t len, size_t bufsize);

/* Adds n table entries, in key order with each key once, as an input; they
 * must outlive the merge. Returns 0 or MILL_ENOMEM. */
int mill__merge_entries(mill__merge *m, const mill__entry *e, size_t n);

/* Sets *kv to the next key in key order and its value combined from every
 * input. Returns 1, 0 when every input is done, or an error (MILL_EIO for
 * a short or malformed file, the message in err; MILL_ENOMEM; MILL_EJOB). */
int mill__merge_next(mill__merge *m, mill_kv *kv, char *err, size_t errlen);

/* Frees the merge (not the files, the entries or the scratch table). NULL
 * is allowed. */
void mill__merge_free(mill__merge *m);

#endif
