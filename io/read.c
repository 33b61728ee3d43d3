/* read.c -- choosing the reader for a piece of input (see read.h). */
#include "read.h"

#include "text.h"

int mill__read_piece(const mill__inputs *in, const mill__piece *pc, mill__record_fn fn, void *arg,
                     char *err, size_t errlen) {
    return mill__text_read(in->files[pc->file].path, pc->start, pc->end, fn, arg, err, errlen);
}
