/* read.h -- turning one piece of the input into records, whatever its format.
 *
 * The engine maps records without knowing where they come from: every
 * reader in io/ calls a mill__record_fn once per record, in input order,
 * with the record's file and position filled in.
 */
#ifndef MILL_IO_READ_H
#define MILL_IO_READ_H

#include <stddef.h>

#include "input.h"
#include "mpimill/job.h"

/* Called once per record; a non-zero return stops reading and is returned. */
typedef int (*mill__record_fn)(void *arg, const mill_record *rec);

/* Reads every record of piece pc of the inputs with the reader its file
 * needs. Returns 0, fn's non-zero return, or a MILL_E* code with a one-line
 * message naming the file and position. */
int mill__read_piece(const mill__inputs *in, const mill__piece *pc, mill__record_fn fn, void *arg,
                     char *err, size_t errlen);

#endif
