/* test_pandas_compat.c — numpy's legacy generator (core/mt19937.h) and
 * pandas' merge order and DataFrame.sample split (table/pandas_compat.h)
 * against values numpy 1.24 and pandas 1.5 printed (Debian's
 * python3-numpy and python3-pandas), e.g.
 *   numpy.random.RandomState(2021).permutation(20)
 *   df.sample(frac=0.8, random_state=2021) for df = range(20) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mt19937.h"
#include "fedrec/error.h"
#include "table/pandas_compat.h"
#include "testutil.h"

static int same_u32(const uint32_t *got, const uint32_t *want, size_t n)
{
    return memcmp(got, want, n * sizeof *got) == 0;
}

static void test_generator(void)
{
    fr_mt19937 m;
    /* RandomState(2021)._bit_generator.random_raw(): outputs 1-4, 624-627
     * (the first refill of the state) and 1248-1249 (the second). */
    static const uint32_t first[4] = {2602656884u, 3431165269u, 3149797433u, 1907836032u};
    static const uint32_t at624[4] = {4156058510u, 2015416225u, 294071156u, 3277179538u};
    static const uint32_t at1248[2] = {3156446172u, 2627842340u};
    uint32_t got[1300];
    fr_mt19937_seed(&m, 2021);
    for (size_t i = 0; i < 1300; i++)
        got[i] = fr_mt19937_next32(&m);
    CHECK(same_u32(got, first, 4), "first outputs %u %u", got[0], got[1]);
    CHECK(same_u32(got + 623, at624, 4), "outputs 624-627: %u %u", got[623], got[624]);
    CHECK(same_u32(got + 1247, at1248, 2), "outputs 1248-1249: %u", got[1247]);

    /* RandomState(2021).randint(0, 1000, size=8): masked rejection. */
    static const uint64_t below1000[8] = {116, 341, 57, 128, 621, 862, 982, 44};
    fr_mt19937_seed(&m, 2021);
    for (size_t i = 0; i < 8; i++) {
        uint64_t v = fr_mt19937_interval(&m, 999);
        CHECK(v == below1000[i], "randint(0, 1000) draw %zu: %llu, numpy %llu", i, (unsigned long long)v,
              (unsigned long long)below1000[i]);
    }
    /* randint(0, 2**40, dtype=uint64) and randint(0, 2**32 + 1,
     * dtype=uint64): 64-bit draws, high word first. */
    static const uint64_t below2p40[4] = {501647371605ull, 246720971904ull, 471106998110ull, 923081799724ull};
    static const uint64_t upto2p32[3] = {3431165269ull, 3958798380ull, 1734106508ull};
    fr_mt19937_seed(&m, 2021);
    for (size_t i = 0; i < 4; i++) {
        uint64_t v = fr_mt19937_interval(&m, (1ull << 40) - 1);
        CHECK(v == below2p40[i], "randint(0, 2**40) draw %zu: %llu", i, (unsigned long long)v);
    }
    fr_mt19937_seed(&m, 2021);
    for (size_t i = 0; i < 3; i++) {
        uint64_t v = fr_mt19937_interval(&m, 1ull << 32);
        CHECK(v == upto2p32[i], "randint(0, 2**32 + 1) draw %zu: %llu", i, (unsigned long long)v);
    }
    fr_mt19937_seed(&m, 2021);
    CHECK(fr_mt19937_interval(&m, 0) == 0 && fr_mt19937_next32(&m) == first[0],
          "a draw over [0, 0] takes no output");
}

static void test_permutation(void)
{
    fr_mt19937 m;
    static const uint32_t perm20[20] = {3, 9, 19, 10, 2, 4, 8, 16, 11, 7, 5, 1, 18, 14, 15, 6, 17, 12, 13, 0};
    static const uint32_t seed0[10] = {2, 8, 4, 9, 1, 6, 7, 3, 0, 5};
    static const uint32_t seedmax[10] = {6, 9, 5, 1, 8, 0, 7, 4, 2, 3};
    uint32_t got[20];
    fr_mt19937_seed(&m, 2021);
    fr_mt19937_permutation(&m, got, 20);
    CHECK(same_u32(got, perm20, 20), "permutation(20): %u %u %u ...", got[0], got[1], got[2]);
    fr_mt19937_seed(&m, 0);
    fr_mt19937_permutation(&m, got, 10);
    CHECK(same_u32(got, seed0, 10), "RandomState(0).permutation(10): %u %u ...", got[0], got[1]);
    fr_mt19937_seed(&m, 4294967295u);
    fr_mt19937_permutation(&m, got, 10);
    CHECK(same_u32(got, seedmax, 10), "RandomState(2**32 - 1).permutation(10): %u %u ...", got[0], got[1]);
    /* permutation(1), (2), (3) from one generator: [0], [1, 0], [0, 2, 1]. */
    fr_mt19937_seed(&m, 2021);
    fr_mt19937_permutation(&m, got, 1);
    CHECK(got[0] == 0, "permutation(1)");
    fr_mt19937_permutation(&m, got, 2);
    CHECK(got[0] == 1 && got[1] == 0, "permutation(2): %u %u", got[0], got[1]);
    fr_mt19937_permutation(&m, got, 3);
    CHECK(got[0] == 0 && got[1] == 2 && got[2] == 1, "permutation(3): %u %u %u", got[0], got[1], got[2]);

    /* permutation(100000): its first and last entries and a weighted sum
     * sum(p[i] * i) mod 1e9+7 over all of it. */
    uint32_t *big = malloc(100000 * sizeof *big);
    CHECK(big != NULL, "memory");
    if (!big)
        return;
    fr_mt19937_seed(&m, 2021);
    fr_mt19937_permutation(&m, big, 100000);
    static const uint32_t head[6] = {23307, 36679, 36626, 83753, 52604, 49877};
    static const uint32_t tail[3] = {6201, 93525, 91252};
    uint64_t sum = 0;
    for (uint64_t i = 0; i < 100000; i++)
        sum = (sum + big[i] * i) % 1000000007u;
    CHECK(same_u32(big, head, 6), "permutation(100000) starts %u %u", big[0], big[1]);
    CHECK(same_u32(big + 99997, tail, 3), "permutation(100000) ends %u", big[99999]);
    CHECK(sum == 809269094u, "permutation(100000): weighted sum %llu, numpy's 809269094", (unsigned long long)sum);
    free(big);
}

static void test_round(void)
{
    CHECK(fr_pandas_round(0.5) == 0 && fr_pandas_round(1.5) == 2 && fr_pandas_round(2.5) == 2,
          "halves go to the even integer");
    CHECK(fr_pandas_round(0.8 * 100000) == 80000 && fr_pandas_round(2.4999) == 2 && fr_pandas_round(2.5001) == 3,
          "rounding");
}

static void test_merge_order(void)
{
    /* pd.merge(left, right, on='k') with left keys 30,10,30,20,10,30,40
     * (rows 0-6) and one right row per key: rows 0,2,5,1,4,3,6. Keys here
     * as dense ids: 30 -> 2, 10 -> 0, 20 -> 1, 40 -> 3, two per row. */
    static const int32_t key[14] = {2, 9, 0, 9, 2, 9, 1, 9, 0, 9, 2, 9, 3, 9};
    static const uint32_t want[7] = {0, 2, 5, 1, 4, 3, 6};
    uint32_t frame[7] = {0, 1, 2, 3, 4, 5, 6};
    CHECK_OK(fr_pandas_merge_order(frame, 7, key, 2, 4));
    CHECK(same_u32(frame, want, 7), "merge order: %u %u %u %u", frame[0], frame[1], frame[2], frame[3]);
    /* A frame already reordered: the order is taken from it, not the rows. */
    uint32_t again[7] = {6, 5, 4, 3, 2, 1, 0};
    static const uint32_t want_again[7] = {6, 5, 2, 0, 4, 1, 3};
    CHECK_OK(fr_pandas_merge_order(again, 7, key, 2, 4));
    CHECK(same_u32(again, want_again, 7), "merge order of a reversed frame: %u %u %u", again[0], again[1], again[2]);
    uint32_t bad[1] = {0};
    static const int32_t out_of_range[1] = {4};
    CHECK(fr_pandas_merge_order(bad, 1, out_of_range, 1, 4) == FR_ERR_INVALID, "a key outside its range");
}

static void test_sample_split(void)
{
    struct {
        size_t n;
        uint32_t seed;
        double share[3];
        size_t counts[3];
        uint32_t positions[20];
    } cases[] = {
        /* df = range(n); train = df.sample(frac=share[0]); ... */
        {20, 2021, {0.8, 0.1, 0.1}, {16, 2, 2}, {3, 9, 19, 10, 2, 4, 8, 16, 11, 7, 5, 1, 18, 14, 15, 6, 17, 13, 0, 12}},
        /* round(5.6) = 6 rows for training, then round(0.5) = 0 */
        {7, 2021, {0.8, 0.1, 0.1}, {6, 0, 1}, {2, 3, 6, 0, 1, 5, 4}},
        /* round(2.5) = 2, then round(1.5) = 2 */
        {5, 7, {0.5, 0.25, 0.25}, {2, 2, 1}, {0, 3, 4, 2, 1}},
        /* round(3.5) = 4, then round(0.6 * 3) = 2 */
        {7, 7, {0.5, 0.3, 0.2}, {4, 2, 1}, {2, 5, 0, 6, 4, 3, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t got[20];
        size_t counts[3] = {0, 0, 0};
        CHECK_OK(fr_pandas_sample_split(cases[c].n, cases[c].seed, cases[c].share, got, counts));
        CHECK(!memcmp(counts, cases[c].counts, sizeof counts), "case %zu: parts of %zu, %zu, %zu rows", c, counts[0],
              counts[1], counts[2]);
        CHECK(same_u32(got, cases[c].positions, cases[c].n), "case %zu: positions %u %u %u ...", c, got[0], got[1],
              got[2]);
    }
    /* 1000 rows: the first five of each part. */
    uint32_t *got = malloc(1000 * sizeof *got);
    size_t counts[3];
    static const double share[3] = {0.8, 0.1, 0.1};
    static const uint32_t train[5] = {297, 333, 920, 284, 736}, valid[5] = {611, 128, 121, 730, 396},
                          test[5] = {7, 29, 44, 57, 70};
    CHECK(got != NULL, "memory");
    if (got) {
        CHECK_OK(fr_pandas_sample_split(1000, 2021, share, got, counts));
        CHECK(counts[0] == 800 && counts[1] == 100 && counts[2] == 100, "1000 rows: %zu/%zu/%zu", counts[0],
              counts[1], counts[2]);
        CHECK(same_u32(got, train, 5) && same_u32(got + 800, valid, 5) && same_u32(got + 900, test, 5),
              "1000 rows: parts start %u, %u, %u", got[0], got[800], got[900]);
        free(got);
    }
    uint32_t one[1];
    static const double too_much[3] = {1.5, 0.1, 0.1}, no_rest[3] = {0.8, 0.0, 0.0};
    CHECK(fr_pandas_sample_split(1, 1, too_much, one, counts) == FR_ERR_INVALID, "a share above 1");
    CHECK(fr_pandas_sample_split(1, 1, no_rest, one, counts) == FR_ERR_INVALID, "validation and test shares 0");
}

int main(void)
{
    test_generator();
    test_permutation();
    test_round();
    test_merge_order();
    test_sample_split();
    return fr_test_finish("test_pandas_compat");
}
