/* error.c -- the names of mpimill's error codes (mill_strerror). */

#include "mpimill/job.h"

const char *mill_strerror(int err) {
    switch (err) {
    case 0: return "success";
    case MILL_EINVAL: return "invalid argument";
    case MILL_ENOMEM: return "out of memory";
    case MILL_EIO: return "I/O error";
    case MILL_ENOENT: return "not found";
    case MILL_EEXIST: return "already exists";
    case MILL_EJOB: return "job callback failed";
    case MILL_EABI: return "plugin ABI mismatch";
    case MILL_EMPI: return "MPI error";
    case MILL_EFORMAT: return "malformed data";
    case MILL_ETIMEOUT: return "timed out";
    case MILL_ESTATE: return "not allowed in this state";
    case MILL_EABORT: return "aborted because another rank failed";
    default: return "unknown error";
    }
}
