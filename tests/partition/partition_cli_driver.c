/* partition_cli_driver.c -- runs mill_partition_cli_main() as a program, so
 * that partition_cli_test.sh can test the `mpimill partition` subcommand
 * without the MPI runtime. Usage: partition_cli_driver [options...]. */
#include "partition_cli.h"

int main(int argc, char **argv) {
    argv[0] = "partition";
    return mill_partition_cli_main(argc, argv);
}
