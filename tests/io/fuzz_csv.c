/* fuzz_csv.c -- libFuzzer target for the CSV reader (io/csv.c): any bytes,
 * under every option, must give 0 or a clean error, never a crash, and the
 * fields of every delivered row must be readable. Byte 0 picks the options. */
#include <stdint.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_row(void *arg, const mill_record *rec) {
    size_t n, *total = arg;
    if (mill_csv_nfields(NULL, rec, &n) != 0) __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        if (mill_csv_field(NULL, rec, i, &p, &len) != 0) __builtin_trap();
        for (size_t k = 0; k < len; k++) *total += (unsigned char)p[k];
    }
    for (size_t k = 0; k < rec->len; k++) *total += (unsigned char)rec->data[k];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    mill__read_opts o = {.csv_quoted_newlines = data[0] & 1, .csv_no_header = (data[0] >> 1) & 1,
                         .skip_bad = (data[0] >> 2) & 1, .csv_columns = (data[0] >> 3) & 1 ? "a,b" : NULL};
    if (o.csv_columns) o.csv_no_header = 0;
    char err[256];
    size_t total = 0;
    int rc = mill__csv_read_mem("fuzz.csv", (const char *)data + 1, size - 1, &o, on_row, &total, err, sizeof err);
    if (rc != 0 && rc != MILL_EFORMAT && rc != MILL_EINVAL && rc != MILL_ENOMEM) __builtin_trap();
    if (rc == MILL_EFORMAT && !strstr(err, "fuzz.csv")) __builtin_trap();
    return 0;
}
