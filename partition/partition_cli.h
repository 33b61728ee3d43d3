/* partition_cli.h -- the `mpimill partition` subcommand, as a library call so
 * the mpimill executable and the tests share one implementation. */
#ifndef MILL_PARTITION_CLI_H
#define MILL_PARTITION_CLI_H

/* Runs `partition --ranks N [--weights w0,w1,...] [--exclude r,r,...]
 * [--state FILE] [--save FILE] [--stats]` (argv[0] is the subcommand name).
 * Reads one key per line on stdin (the line without its '\n') and prints
 * "key<TAB>rank" for each, or with --stats one line per rank: rank, keys,
 * key share, weight share. --state loads a saved state instead of --ranks
 * (a file from --save, or a job's output directory or its _SUCCESS);
 * --exclude then applies on top of it; --save writes the final state.
 * Returns 0 on success, 1 on an I/O or state error, 2 on bad options (with
 * a one-line message on stderr). */
int mill_partition_cli_main(int argc, char **argv);

#endif
