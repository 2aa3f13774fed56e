/* test_rng.c — the counter-based generator: Philox known answers, stream
 * independence, random access, and the ranges of the derived draws. */
#include <stdint.h>
#include <string.h>

#include "fedrec/fedrec.h"
#include "testutil.h"

int main(void)
{
    /* Known-answer vectors of Random123's kat_vectors for philox4x32_10. */
    uint32_t ctr0[4] = {0, 0, 0, 0}, key0[2] = {0, 0}, out[4];
    fr_philox4x32_10(ctr0, key0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du &&
              out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u,
          "zero vector gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    uint32_t ctr1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    uint32_t key1[2] = {0xffffffffu, 0xffffffffu};
    fr_philox4x32_10(ctr1, key1, out);
    CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu &&
              out[2] == 0xa20bc7c6u && out[3] == 0x6d5451fdu,
          "ones vector gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    uint32_t ctr2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    uint32_t key2[2] = {0xa4093822u, 0x299f31d0u};
    fr_philox4x32_10(ctr2, key2, out);
    CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu &&
              out[2] == 0x5001e420u && out[3] == 0x24126ea1u,
          "pi vector gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);

    /* Same key, same stream; any key component changes it. */
    fr_rng a, b;
    fr_rng_init(&a, 42, 3, 7, FR_RNG_TEST);
    fr_rng_init(&b, 42, 3, 7, FR_RNG_TEST);
    uint32_t first[64];
    for (int i = 0; i < 64; i++) {
        first[i] = fr_rng_u32(&a);
        CHECK(first[i] == fr_rng_u32(&b), "same key diverged at %d", i);
    }
    const uint32_t variants[4][4] = {{43, 3, 7, FR_RNG_TEST}, {42, 4, 7, FR_RNG_TEST},
                                     {42, 3, 8, FR_RNG_TEST}, {42, 3, 7, FR_RNG_INIT}};
    for (int v = 0; v < 4; v++) {
        fr_rng c;
        fr_rng_init(&c, variants[v][0], variants[v][1], variants[v][2], variants[v][3]);
        int same = 0;
        for (int i = 0; i < 64; i++)
            same += fr_rng_u32(&c) == first[i];
        CHECK(same < 4, "variant %d shares %d of 64 numbers", v, same);
    }

    /* Random access equals sequential reading. */
    for (uint64_t n = 0; n < 64; n += 5) {
        fr_rng c;
        fr_rng_init(&c, 42, 3, 7, FR_RNG_TEST);
        fr_rng_seek(&c, n);
        CHECK(fr_rng_u32(&c) == first[n], "seek to %llu wrong", (unsigned long long)n);
    }

    /* Ranges and rough moments. */
    fr_rng r;
    fr_rng_init(&r, 1, 0, 0, FR_RNG_TEST);
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
    unsigned counts[10] = {0};
    const int draws = 200000;
    for (int i = 0; i < draws; i++) {
        float u = fr_rng_uniform(&r);
        CHECK(u >= 0.0f && u < 1.0f, "uniform out of range: %g", u);
        sum += u; sum2 += (double)u * u;
        uint32_t k = fr_rng_below(&r, 10);
        CHECK(k < 10, "below(10) gave %u", k);
        counts[k < 10 ? k : 0]++;
        double z = fr_rng_normal(&r);
        nsum += z; nsum2 += z * z;
    }
    CHECK_NEAR(sum / draws, 0.5, 0.005);
    CHECK_NEAR(sum2 / draws - (sum / draws) * (sum / draws), 1.0 / 12, 0.003);
    CHECK_NEAR(nsum / draws, 0.0, 0.01);
    CHECK_NEAR(nsum2 / draws, 1.0, 0.02);
    for (int k = 0; k < 10; k++)
        CHECK(counts[k] > draws / 10 * 0.95 && counts[k] < draws / 10 * 1.05,
              "bucket %d has %u of %d", k, counts[k], draws);
    CHECK(fr_rng_below(&r, 1) == 0, "below(1) must be 0");
    return fr_test_finish("test_rng");
}
