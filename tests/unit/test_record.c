/* test_record.c -- the shuffle's record format (runtime/record.h): every
 * value type round-trips, sizes are what mill__record_size says, a record
 * cut anywhere reads as incomplete, and a broken varint as malformed; u64
 * values print as snprintf's %" PRIu64 " would. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "record.h"
#include "cunit_main.h"

static void roundtrip(int vt, const char *key, const void *v, uint32_t vlen) {
    char buf[512], val[8];
    uint32_t klen = (uint32_t)strlen(key);
    size_t n = mill__record_put(vt, buf, key, klen, v, vlen);
    CU_ASSERT_EQUAL(n, mill__record_size(vt, klen, v, vlen));
    const char *k, *vv;
    uint32_t kl, vl;
    CU_ASSERT_EQUAL(mill__record_get(vt, buf, n, &k, &kl, &vv, &vl, val), n);
    CU_ASSERT(kl == klen && memcmp(k, key, klen) == 0);
    CU_ASSERT(vl == vlen && memcmp(vv, v, vlen) == 0);
    for (size_t cut = 0; cut < n; cut++) /* every prefix is incomplete, never a record */
        CU_ASSERT_EQUAL(mill__record_get(vt, buf, cut, &k, &kl, &vv, &vl, val), 0);
}

static void test_roundtrip(void) {
    uint64_t us[] = {0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX};
    int64_t is[] = {0, -1, 1, -64, 64, INT64_MIN, INT64_MAX};
    double ds[] = {0.0, -0.0, 1.5, -1e300};
    for (size_t i = 0; i < sizeof us / sizeof *us; i++) roundtrip(MILL_VALUE_U64, "word", &us[i], 8);
    for (size_t i = 0; i < sizeof is / sizeof *is; i++) roundtrip(MILL_VALUE_I64, "", &is[i], 8);
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) roundtrip(MILL_VALUE_F64, "k", &ds[i], 8);
    char big[300];
    memset(big, 'v', sizeof big);
    roundtrip(MILL_VALUE_BYTES, "key", big, sizeof big);
    roundtrip(MILL_VALUE_BYTES, "key", big, 0);
    /* Small counts are small: a 4-byte word with a count of 1 takes 6 bytes. */
    uint64_t one = 1;
    CU_ASSERT_EQUAL(mill__record_size(MILL_VALUE_U64, 4, &one, 8), 6);
}

static void test_u64_text(void) {
    uint64_t xs[] = {0, 1, 9, 10, 99, 100, 4294967295u, 10000000000000000000u, UINT64_MAX};
    char got[MILL__U64_DIGITS + 1], want[32];
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        size_t n = mill__u64_text(got, xs[i]);
        got[n] = '\0';
        snprintf(want, sizeof want, "%" PRIu64, xs[i]);
        CU_ASSERT_STRING_EQUAL(got, want);
    }
}

static void test_malformed(void) {
    char buf[16], val[8];
    const char *k, *v;
    uint32_t kl, vl;
    memset(buf, 0xff, sizeof buf); /* a varint that never ends */
    CU_ASSERT_EQUAL(mill__record_get(MILL_VALUE_U64, buf, sizeof buf, &k, &kl, &v, &vl, val), SIZE_MAX);
    uint64_t x;
    CU_ASSERT_EQUAL(mill__varint_get(buf, 5, &x), 0); /* still incomplete */
    size_t n = mill__varint_put(buf, (uint64_t)UINT32_MAX + 1); /* a key longer than 4 GiB */
    buf[n] = 0;                                                  /* and an empty value */
    CU_ASSERT_EQUAL(mill__record_get(MILL_VALUE_BYTES, buf, n + 1, &k, &kl, &v, &vl, val), SIZE_MAX);
}

int main(void) {
    static CU_TestInfo tests[] = {
        {"every value type round-trips", test_roundtrip},
        {"malformed records", test_malformed},
        {"u64 values as text", test_u64_text},
        CU_TEST_INFO_NULL};
    return mill_cunit_main("record", tests);
}
