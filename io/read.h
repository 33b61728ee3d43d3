/* read.h -- turning the input into records, whatever its format.
 *
 * The engine maps records without knowing where they come from: every
 * reader in io/ calls a mill__record_fn once per record, in input order,
 * with the record's file and position filled in. mill__read_all() is the
 * engine's one entry point: it splits the inputs among ranks and reads this
 * rank's share, HDF5 datasets collectively.
 */
#ifndef MILL_IO_READ_H
#define MILL_IO_READ_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "input.h"
#include "mpimill/job.h"
#include "share.h"

/* Called once per record; a non-zero return stops reading and is returned. */
typedef int (*mill__record_fn)(void *arg, const mill_record *rec);

/* How inputs are read (from the command line), and what reading counted. */
typedef struct mill__read_opts {
    const char *csv_columns; /* --csv-columns: comma-separated header names, or NULL: all */
    int csv_no_header;       /* --csv-no-header: the first row of a CSV file is data */
    int csv_quoted_newlines; /* --csv-quoted-newlines: whole-file CSV splits */
    int skip_bad;            /* --bad-records skip (else fail) */
    int line_numbers;        /* text records past a split carry line numbers (MILL_JOB_LINE_NUMBERS) */
    int text_blocks;         /* plain text comes in blocks of whole lines (MILL_JOB_TEXT_BLOCKS) */
    uint64_t max_record;     /* --max-record: every longer record is a bad one (0: none) */
    MPI_Comm comm;           /* the job's communicator (HDF5 opens files on it) */
    mill__share *share;      /* NULL: read the static split; else take pieces from the node's share */
    uint64_t skipped;        /* out: bad records skipped by this rank */
    uint64_t extra_lines;    /* out: lines of text blocks beyond one per block */
    size_t last_file;        /* the text piece read last: its file, end and the lines up to its */
    uint64_t last_end;       /*   end (0: not known), so that the next piece from there goes on */
    uint64_t last_lines;     /*   numbering lines (mill__text_read_lines) */
} mill__read_opts;

/* Seconds this process has spent reading input bytes: a text mapping's
 * page tables filled ahead (which reads the file when it is not cached),
 * gzip's read(2) and inflate, H5Dread. Readers add to it around those calls
 * only (a few per MiB), never per record, so the time records spend in the
 * job is not in it. The engine reports it as the map phase's read time. */
extern double mill__read_seconds;

/* Bytes of input this process's readers have consumed: of text and CSV,
 * the lines read with their line ends ('\r' too), a header and blank lines
 * included; of gzip, the bytes inflated; of HDF5, the rows' record bytes.
 * Readers add to it once per piece (HDF5: per row), never per line. The
 * engine reports it as the map phase's bytes: unlike a sum of record
 * lengths, it is the input's size whatever its line ends. */
extern uint64_t mill__read_bytes;

/* The longest record, in bytes, that a reader copies into memory to
 * deliver it: a gzip line, a CSV row with quoted newlines (0: no limit).
 * A longer one is a bad record: it fails the read naming its file and
 * line, or under --bad-records skip is counted and passed over to its end
 * without being held, so that one huge line cannot take memory the budget
 * does not allow. (Plain text is mapped, not copied: only
 * mill__read_opts.max_record limits its lines.) */
extern uint64_t mill__max_record;
/* The least --max-record: above a text block (MILL__TEXT_BLOCK), so that a
 * block of many lines is never taken for one long record. */
#define MILL__MIN_MAX_RECORD ((uint64_t)1 << 20)

/* Returns seconds on the monotonic clock, for mill__read_seconds. */
static inline double mill__read_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads every record of piece pc of the inputs with the reader its file
 * needs, with default options (MPI_COMM_SELF for HDF5). Returns 0, fn's
 * non-zero return, or a MILL_E* code with a one-line message naming the
 * file and position. */
int mill__read_piece(const mill__inputs *in, const mill__piece *pc, mill__record_fn fn, void *arg,
                     char *err, size_t errlen);

/* Collective over o->comm (rank and size are this rank's place in it).
 * Reads this rank's share of the inputs (mill__split_pieces), or with
 * o->share the pieces it takes from its node's share, and calls fn for
 * each record. HDF5 datasets come first and every rank takes part in all of
 * them even after a failure, so that a failure never leaves another rank
 * waiting in a collective read. Returns 0 or the first error (fn's return
 * or a MILL_E* code with a message in err). */
int mill__read_all(const mill__inputs *in, mill__read_opts *o, int rank, int size, mill__record_fn fn,
                   void *arg, char *err, size_t errlen);

#endif
