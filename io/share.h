/* share.h -- the ranks of a node sharing out their input as they read it.
 *
 * mill__split_pieces gives every rank an equal share of the bytes, but ranks
 * do not map at equal speed: a core shared with another process, a
 * hypervisor taking time, more ranks than cores, a gzip file slower to
 * inflate than its size says. A rank done with its share would wait for the
 * slowest one at the shuffle. Instead the ranks of a node (those sharing
 * memory) cut their shares into pieces of at most --split-size bytes and
 * list them in shared memory; each rank reads its own pieces from the
 * front, and when they run out takes the last piece not begun of the rank
 * of its node with the most left (work stealing, as in Cilk).
 * Between nodes the static split stands.
 *
 * What it changes for a job: which rank maps a record depends on timing
 * (the result does not, but for the order in which floating-point values
 * are combined); a piece a rank takes from another has no line numbers
 * unless the job asks for them (MILL_JOB_LINE_NUMBERS); and after a
 * failure the other ranks take no more pieces, so the error reported (the
 * lowest failing rank's) may not be the first in the input. --split-size 0
 * turns sharing off.
 */
#ifndef MILL_IO_SHARE_H
#define MILL_IO_SHARE_H

#include <mpi.h>
#include <stdint.h>

#include "input.h"

typedef struct mill__share mill__share;

/* Collective over comm (rank and size are this rank's place in it).
 * Returns the share of this rank's node, or NULL when sharing is off
 * (split is 0) or cannot be had: shared memory refused (as by
 * `--mca osc pt2pt`), or memory short on a rank of the node. Then every rank
 * of the node reads its static share, as mill__read_all does without a
 * share. The share lists the pieces of every rank of the node: its share by
 * mill__split_pieces without the HDF5 datasets (read collectively, apart),
 * byte ranges of text cut into pieces of at most split bytes. Line-numbered
 * text (line_numbers) and CSV are not cut: a piece counts the lines before
 * its start, and many pieces would count them many times over; their
 * pieces still move whole. */
mill__share *mill__share_open(const mill__inputs *in, int csv_quoted_newlines, int line_numbers, uint64_t split,
                              MPI_Comm comm, int rank, int size);

/* Takes the next piece for this rank into *pc: its own first, in input
 * order, then others' from the back. A rank's first piece is only ever
 * read by that rank, so an input of at most one piece per rank is read as
 * the static split says. A rank beyond the node's cores (the union of its
 * ranks' CPU affinity masks) takes its first piece only. Returns 1, or 0
 * when no piece is left for this rank or, past its first piece, when a
 * rank of the node stopped (mill__share_stop). */
int mill__share_next(mill__share *s, mill__piece *pc);

/* Tells the ranks of the node to take no more pieces: this rank failed,
 * and the job will stop after the map phase. */
void mill__share_stop(mill__share *s);

/* Publishes this rank's bytes mapped so far (mine) and returns the sum of
 * what the ranks of its node published; *total gets the bytes of all their
 * pieces. For rank 0's progress line. */
uint64_t mill__share_progress(mill__share *s, uint64_t mine, uint64_t *total);

/* Collective over the node: frees the share (NULL is allowed: nothing). */
void mill__share_close(mill__share *s);

#endif
