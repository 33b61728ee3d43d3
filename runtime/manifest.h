/* manifest.h -- the job members of a run's manifest (manifest.c). */
#ifndef MILL_MANIFEST_H
#define MILL_MANIFEST_H

#include <stddef.h>

#include "ctx.h"

/* Writes into out the 16-hex-digit fingerprint of a run: the job plugin's
 * path, size and mtime, the options that change what is read or written
 * (--format, --compress, --csv-*, --bad-records, --max-record under
 * --bad-records skip, --single-file, every --opt in order), and every
 * input file's path, size and mtime (an HDF5 input's file's). Equal
 * fingerprints mean a rerun would compute the same output; the manifest
 * stores it as "fingerprint". */
int mill__fingerprint(const mill__run_args *a, const char *plugin_path, const mill__inputs *in, char out[17]);

/* Collective. Sums the job's named counters over all ranks. On rank 0,
 * *out becomes "name=value\n" lines sorted by name, the same in every run
 * however the records fell to the ranks (a name holds no '=' or newline:
 * mill_count). */
int mill__counters_sum(mill_ctx *ctx, char **out, char *err, size_t errlen);

/* Returns the manifest's job members (JSON) for the commit; rank 0 only.
 * counters is "name=value\n" lines from mill__counters_sum. */
char *mill__manifest_members(mill_ctx *ctx, const mill__inputs *in, int argc, char **argv, const char *fp,
                             const char *counters, const char *per_rank, uint64_t records, uint64_t keys,
                             double secs, double setup);

#endif
