/* rng.c — Philox4x32-10 counter-based generator (see fedrec/rng.h).
 *
 * Stream layout: the 128-bit counter is (block index low, block index high,
 * round, client); the key mixes the seed with the purpose. Each block gives
 * four 32-bit numbers, so number n of a stream is word n % 4 of block n / 4. */
#include <math.h>

#include "fedrec/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void fr_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                      uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* SplitMix64 finaliser: spreads seed and purpose over the 64 key bits so
 * that nearby seeds give unrelated keys. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fr_rng_init(fr_rng *rng, uint64_t seed, uint32_t round, uint32_t client,
                 uint32_t purpose)
{
    uint64_t k = mix64(seed ^ mix64((uint64_t)purpose));
    rng->key[0] = (uint32_t)k;
    rng->key[1] = (uint32_t)(k >> 32);
    rng->ctr_hi[0] = round;
    rng->ctr_hi[1] = client;
    rng->counter = 0;
    rng->used = 4;
}

static void refill(fr_rng *rng)
{
    uint32_t ctr[4] = {(uint32_t)rng->counter, (uint32_t)(rng->counter >> 32),
                       rng->ctr_hi[0], rng->ctr_hi[1]};
    fr_philox4x32_10(ctr, rng->key, rng->block);
    rng->counter++;
    rng->used = 0;
}

void fr_rng_seek(fr_rng *rng, uint64_t n)
{
    rng->counter = n / 4;
    refill(rng);
    rng->used = (unsigned)(n % 4);
}

uint32_t fr_rng_u32(fr_rng *rng)
{
    if (rng->used >= 4)
        refill(rng);
    return rng->block[rng->used++];
}

uint64_t fr_rng_u64(fr_rng *rng)
{
    uint64_t hi = fr_rng_u32(rng);
    return (hi << 32) | fr_rng_u32(rng);
}

float fr_rng_uniform(fr_rng *rng)
{
    return (float)(fr_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
}

double fr_rng_uniform_double(fr_rng *rng)
{
    return (double)(fr_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t fr_rng_below(fr_rng *rng, uint32_t n)
{
    uint64_t m = (uint64_t)fr_rng_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)fr_rng_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float fr_rng_normal(fr_rng *rng)
{
    /* Box-Muller; u1 in (0, 1] keeps log finite. Uses exactly two doubles
     * per draw, so the stream position stays predictable. */
    double u1 = 1.0 - fr_rng_uniform_double(rng);
    double u2 = fr_rng_uniform_double(rng);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
