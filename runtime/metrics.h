/* metrics.h -- per rank and per phase measurements of a job run.
 *
 * Every rank times its phases against its own clock, taken right after a
 * barrier at job start (so the ranks' time axes line up to within the
 * barrier's skew), counts bytes and records, and notes its peak RSS. Rank 0
 * gathers them into the manifest's "metrics", which `mpimill report` reads.
 */
#ifndef MILL_METRICS_H
#define MILL_METRICS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef enum mill__phase {
    MILL_PHASE_MAP,     /* read the input and map it (reading and mapping are fused) */
    MILL_PHASE_SHUFFLE, /* pack, exchange with MPI_Alltoallv, combine on the owner */
    MILL_PHASE_REDUCE,  /* sort, reduce and write the part file */
    MILL_PHASE_COMMIT,  /* make this rank's output files durable and hash them (the commit's prepare) */
    MILL_PHASE_COUNT
} mill__phase;

typedef struct mill__phase_metrics {
    double start, end; /* seconds since the job's start barrier; end < start: not run */
    uint64_t bytes;    /* map: input bytes; shuffle: bytes received; reduce: bytes written;
                        * commit: bytes of the rank's files made durable */
    uint64_t records;  /* map: records; shuffle: records received; reduce: records written;
                        * commit: the rank's files */
} mill__phase_metrics;

typedef struct mill__metrics {
    double t0;          /* this rank's clock at the start barrier */
    mill__phase_metrics phase[MILL_PHASE_COUNT];
    uint64_t bytes_sent;  /* shuffle bytes sent to other ranks, and to itself when its own records could not
                           * stay in its table (spilled, or a table past half the reduce share) */
    uint64_t bytes_remote;   /* shuffle bytes sent to other ranks */
    uint64_t payload_remote; /* the key and value bytes alone of the records in bytes_remote (the ideal) */
    double pack_s;           /* seconds of the shuffle packing the map table by owner, or spilling it and
                              * opening the merges of the map runs (some rank spilled) */
    double exchange_s;       /* seconds inside MPI_Alltoallv moving the shuffle's rounds, once every rank is ready */
    uint64_t spill_bytes; /* bytes written to local disk to stay within --memory */
    double read_s;        /* seconds of the map phase spent reading input (io/read.h's clock) */
    double write_s;       /* seconds of the reduce phase spent writing output: write(2), deflate, HDF5 */
} mill__metrics;

/* Returns seconds on a monotonic clock. */
double mill__now(void);

/* Returns this process's peak resident memory in bytes since the last
 * mill__peak_rss_reset (VmHWM; the process's peak, getrusage's, where
 * /proc has none). */
double mill__peak_rss(void);
/* Restarts the peak at the current resident memory, where the kernel can
 * (/proc/self/clear_refs); elsewhere the peak stays the process's. */
void mill__peak_rss_reset(void);

/* Starts the run's clock after a barrier on comm, and the peak RSS count:
 * the peak of this run, not of the process (pipelines). */
int mill__metrics_start(mill__metrics *m, MPI_Comm comm);

/* Marks the start and end of a phase. */
void mill__phase_begin(mill__metrics *m, mill__phase p);
void mill__phase_end(mill__metrics *m, mill__phase p, uint64_t bytes, uint64_t records);

/* Collective. Gathers every rank's metrics; on rank 0 *json becomes the
 * members "ranks" (one object per rank: peak_rss, spill and phases) and
 * "imbalance" (max/mean of each phase's duration), malloc'ed. */
int mill__metrics_gather(const mill__metrics *m, MPI_Comm comm, char **json, char *err, size_t errlen);

#endif
