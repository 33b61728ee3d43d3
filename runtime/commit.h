/* commit.h -- publishing a job's output atomically, and recovering from
 * attempts that died.
 *
 * All ranks write their files into a staging directory beside the output;
 * the output becomes visible only through mill__commit_end(), all at once,
 * by one rename (the commit point). After any run -- finished, failed or
 * killed -- and a recovery, the output directory holds either the complete
 * new result or exactly what was there before. See commit.c for the
 * protocol and its state machine, and docs/commit.md.
 */
#ifndef MILL_COMMIT_H
#define MILL_COMMIT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct mill__commit mill__commit;

/* Collective. Rank 0 locks the output (flock on PARENT/.NAME.mill-lock,
 * waiting up to MPIMILL_LOCK_WAIT_MS, default 30000), recovers what earlier
 * attempts left behind, checks that the output may be written (it must not
 * exist unless overwrite) and creates this attempt's staging directory. On
 * failure every rank gets the same error code; rank 0's err holds the
 * message, and nothing is left behind. */
int mill__commit_begin(mill__commit **out, MPI_Comm comm, const char *outdir, int overwrite,
                       char *err, size_t errlen);

/* Local. Creates file `name` (a plain name: no '/', not "." or "..") in the
 * staging directory for writing and returns its descriptor in *fd. The file
 * is recorded for the manifest; the commit owns and closes the descriptor.
 * Write to it with mill__fault_write() (fault.h) to be covered by fault
 * injection. */
int mill__commit_create(mill__commit *c, const char *name, int *fd, char *err, size_t errlen);

/* Local. Opens file `name`, which another rank created with
 * mill__commit_create, for writing (--single-file). The caller writes,
 * fsyncs and closes it before the collective step that precedes
 * mill__commit_end; the creating rank's prepare then covers the file. */
int mill__commit_open_shared(mill__commit *c, const char *name, int *fd, char *err, size_t errlen);

/* Local. The prepare: makes this rank's staged files and the staging
 * directory durable (fsync; a failure is never retried) and hashes the
 * files for the manifest. Call it after the rank's last write to them;
 * *files gets their number and *bytes their total size. A second call
 * does nothing (both 0). Returns 0, or
 * MILL_EIO / MILL_ENOMEM with err naming the file: pass that on to
 * mill__commit_end as this rank's status (its NO vote). */
int mill__commit_prepare(mill__commit *c, uint64_t *bytes, uint64_t *files, char *err, size_t errlen);

/* Collective. `status` is this rank's outcome so far (0 = ok: its vote).
 * When every rank is ok, prepares (unless mill__commit_prepare already
 * did), writes the manifest _SUCCESS (manifest_json, from rank 0, holds
 * JSON object members written into it: job, arguments, inputs, metrics,
 * and "partitioner" -- written as null when absent) and publishes the
 * output. Otherwise removes the staging directory and leaves the output
 * as it was. Frees c. Returns 0 when committed; on failure err (rank 0)
 * names the first failing rank's reason. With MPIMILL_COMMIT_STATS set, rank 0 prints the commit phases'
 * times on stderr. */
int mill__commit_end(mill__commit *c, int status, const char *manifest_json, char *err,
                     size_t errlen);

/* Local, no MPI. Takes the output's lock and finishes whatever attempts at
 * outdir left behind: a committed attempt's replaced output is removed, an
 * uncommitted attempt's staging directory is removed. Decides from what is
 * on disk only. Idempotent; safe to interrupt at any point and run again.
 * Refuses (MILL_EINVAL, nothing removed for that entry) a staging entry that
 * is a symbolic link or not a directory, holds a symbolic link, or whose
 * manifest names an unsafe file. When report is not NULL, one line per
 * decision is printed to it. */
int mill__commit_recover(const char *outdir, FILE *report, char *err, size_t errlen);

/* Local, no MPI. Re-checks every file of outdir against its manifest
 * (size and XXH3-64) and prints one line per file that differs, is missing
 * or is not in the manifest to out. Returns 0 when all match, 1 when some
 * differ, or a negative MILL_E* code (message in err) when the manifest is
 * missing, malformed or names an unsafe file. */
int mill__commit_verify(const char *outdir, FILE *out, char *err, size_t errlen);

/* ---- the manifest, as read back (recover.c) ---------------------------- */

typedef struct mill__manifest_file {
    char *name;    /* a safe plain name (mill__commit_name_ok) */
    uint64_t size; /* bytes */
    uint64_t xxh3; /* XXH3-64 of the contents */
    int has_xxh3;  /* 0 for manifests written before checksums existed */
} mill__manifest_file;

typedef struct mill__manifest {
    char attempt[128]; /* the attempt that wrote it, "" when absent */
    mill__manifest_file *files;
    size_t nfiles;
    int self;          /* its last member "manifest_xxh3", the XXH3-64 of the text before it:
                        * 1 matches, -1 differs (the manifest was changed), 0 absent (older) */
} mill__manifest;

/* The largest manifest read back (verify, report, recover): a guard against
 * reading a stray huge file whole, far above the largest a job writes (the
 * partitioner's state of 2^24 slots alone is 128 MiB of hex). */
#define MILL_MANIFEST_MAX ((uint64_t)1 << 30)

/* Reads dirfd/name (a manifest) whole into *text, malloc'd and
 * NUL-terminated, and its length into *len: a regular file of at most
 * MILL_MANIFEST_MAX bytes, not opened through a symbolic link when
 * nofollow is set. Returns 0, or MILL_ENOENT, MILL_EINVAL (a link, not a
 * regular file or too large), MILL_EIO or MILL_ENOMEM with err saying
 * "label: why". */
int mill__manifest_text(int dirfd, const char *name, int nofollow, const char *label, char **text, size_t *len,
                        char *err, size_t errlen);

/* The manifest's own checksum: its last member, MILL_MANIFEST_SELF HEX16
 * MILL_MANIFEST_END, hashes every byte before it. */
#define MILL_MANIFEST_SELF "\"manifest_xxh3\": \""
#define MILL_MANIFEST_END "\"\n}\n"

/* Reads and parses dirfd/_SUCCESS without following links. Returns 0,
 * MILL_ENOENT when there is no manifest, MILL_EFORMAT when it is not a
 * complete manifest (e.g. a torn write), MILL_EINVAL when it is a link or
 * names a file that is not a plain name (absolute, "..", containing '/'),
 * or MILL_EIO/MILL_ENOMEM; err says which. */
int mill__manifest_read(int dirfd, mill__manifest *m, char *err, size_t errlen);

/* Frees what mill__manifest_read allocated (m itself is the caller's). */
void mill__manifest_free(mill__manifest *m);

/* Returns 1 when name is a plain file name: not empty, not "." or "..",
 * no '/', no control characters, shorter than NAME_MAX. */
int mill__commit_name_ok(const char *name);

/* Returns 0 when outdir's last component can name an output (see
 * mill__commit_begin), else MILL_EINVAL with a message. */
int mill__commit_output_ok(const char *outdir, char *err, size_t errlen);

/* Hashes fd's contents from offset 0 (XXH3-64) into *hash and its length
 * into *size, through the fault-counted pread. Returns 0 or -1 (errno). */
int mill__commit_hash_fd(int fd, uint64_t *hash, uint64_t *size);

/* `mpimill recover DIR` and `mpimill verify DIR` (argv[0] is the command
 * name); return the process exit code. */
int mill__recover_main(int argc, char **argv);
int mill__verify_main(int argc, char **argv);

#endif
