/* nullmap.c -- a plugin with no map callback. */
#include <mpimill/job.h>
MILL_JOB(.name = "nullmap", .description = "no map", .combine_op = MILL_COMBINE_FIRST)
