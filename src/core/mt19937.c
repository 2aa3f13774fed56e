/* mt19937.c — numpy's legacy RandomState generator, reproduced exactly
 * (see core/mt19937.h): Matsumoto and Nishimura's MT19937 with its
 * reference seeding and tempering, and numpy's masked-rejection bounded
 * draw and shuffle on top of it. */
#include "core/mt19937.h"

enum { SHIFT = 397 };
#define MATRIX_A 0x9908b0dfu
#define UPPER_BIT 0x80000000u
#define LOWER_BITS 0x7fffffffu

void fr_mt19937_seed(fr_mt19937 *m, uint32_t seed)
{
    m->key[0] = seed;
    for (uint32_t i = 1; i < FR_MT19937_WORDS; i++) {
        uint32_t prev = m->key[i - 1];
        m->key[i] = 1812433253u * (prev ^ (prev >> 30)) + i;
    }
    m->pos = FR_MT19937_WORDS;
}

static uint32_t twist(uint32_t upper, uint32_t lower, uint32_t far)
{
    uint32_t y = (upper & UPPER_BIT) | (lower & LOWER_BITS);
    return far ^ (y >> 1) ^ ((y & 1u) ? MATRIX_A : 0u);
}

/* The next 624 words of the state. */
static void refill(fr_mt19937 *m)
{
    uint32_t *k = m->key;
    int i = 0;
    for (; i < FR_MT19937_WORDS - SHIFT; i++)
        k[i] = twist(k[i], k[i + 1], k[i + SHIFT]);
    for (; i < FR_MT19937_WORDS - 1; i++)
        k[i] = twist(k[i], k[i + 1], k[i + SHIFT - FR_MT19937_WORDS]);
    k[FR_MT19937_WORDS - 1] = twist(k[FR_MT19937_WORDS - 1], k[0], k[SHIFT - 1]);
    m->pos = 0;
}

uint32_t fr_mt19937_next32(fr_mt19937 *m)
{
    if (m->pos >= FR_MT19937_WORDS)
        refill(m);
    uint32_t y = m->key[m->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t fr_mt19937_next64(fr_mt19937 *m)
{
    uint64_t high = fr_mt19937_next32(m);
    return high << 32 | fr_mt19937_next32(m);
}

uint64_t fr_mt19937_interval(fr_mt19937 *m, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    uint64_t v;
    if (max <= 0xffffffffu) {
        do
            v = fr_mt19937_next32(m) & mask;
        while (v > max);
    } else {
        do
            v = fr_mt19937_next64(m) & mask;
        while (v > max);
    }
    return v;
}

void fr_mt19937_permutation(fr_mt19937 *m, uint32_t *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = i;
    for (uint32_t i = n ? n - 1 : 0; i > 0; i--) {
        uint32_t j = (uint32_t)fr_mt19937_interval(m, i);
        uint32_t x = out[i];
        out[i] = out[j];
        out[j] = x;
    }
}
