/* mt19937.h — numpy's legacy random generator (numpy.random.RandomState:
 * the Mersenne Twister MT19937 and the draws built on it) reproduced
 * exactly, so that a split another tool drew with numpy or pandas can be
 * drawn here again, row for row (internal). Only for that: every other
 * random draw in fedrec comes from the counter-based generator of
 * fedrec/rng.h. */
#ifndef FR_CORE_MT19937_H
#define FR_CORE_MT19937_H

#include <stddef.h>
#include <stdint.h>

enum { FR_MT19937_WORDS = 624 };

typedef struct fr_mt19937 {
    uint32_t key[FR_MT19937_WORDS];
    int pos;
} fr_mt19937;

/* The state RandomState(seed) starts from for an integer seed: the
 * reference init_genrand (numpy seeds an integer this way, not through
 * init_by_array). */
void fr_mt19937_seed(fr_mt19937 *m, uint32_t seed);
/* The next 32-bit output (the reference genrand_int32). */
uint32_t fr_mt19937_next32(fr_mt19937 *m);
/* 64 bits from two outputs, the first one high (numpy's next_uint64). */
uint64_t fr_mt19937_next64(fr_mt19937 *m);
/* An integer in [0, max], as numpy's legacy bounded draws make it: outputs
 * masked to the smallest all-ones mask covering max, rejected while above
 * max (32-bit outputs while max fits in 32 bits, else 64-bit ones). This is
 * RandomState.randint(0, max + 1) and the draw of RandomState.shuffle. */
uint64_t fr_mt19937_interval(fr_mt19937 *m, uint64_t max);
/* RandomState.permutation(n): 0 .. n-1 shuffled in place by the legacy
 * shuffle (from the last position down to 1, swap with an interval draw
 * over [0, i]). RandomState.choice(n, k, replace=False) is its first k. */
void fr_mt19937_permutation(fr_mt19937 *m, uint32_t *out, uint32_t n);

#endif
