/* secagg.c — secure aggregation by pairwise additive masks over 64-bit
 * fixed point (fedrec/privacy.h). A pair's mask stream is keyed by the
 * run's seed mixed with the higher id, the round, and the lower id, so
 * both clients of a pair draw the same mask and no other pair does. In a
 * deployment the pair seed comes from a key agreement between the two
 * clients (Bonawitz et al. 2017); here it is derived, which simulates the
 * arithmetic and what the server sees, not the cryptography, and the
 * dropout-recovery step is not simulated: the pairs are formed among the
 * round's participants. */
#include <math.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/privacy.h"
#include "fedrec/rng.h"

static uint64_t mix64(uint64_t x)
{ /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int fr_secagg_paired(const fr_secagg *sa, size_t i, size_t j)
{
    size_t n = sa->n_clients, k = sa->neighbours ? sa->neighbours : 1;
    if (i == j || i >= n || j >= n)
        return 0;
    if (n <= 2 * k + 1)
        return 1; /* few clients: everyone with everyone */
    size_t gap = i > j ? i - j : j - i;
    if (gap > n - gap)
        gap = n - gap; /* distance on the ring */
    return gap <= k;
}

double fr_secagg_bound(size_t n_clients)
{
    return ldexp(1.0, 63 - FR_SECAGG_FRACTION_BITS) / (double)(n_clients ? n_clients : 1);
}

fr_status fr_secagg_mask(const fr_secagg *sa, size_t at, const float *x, size_t len, uint64_t *out)
{
    const double one = ldexp(1.0, FR_SECAGG_FRACTION_BITS), limit = fr_secagg_bound(sa->n_clients);
    for (size_t i = 0; i < len; i++) {
        if (!(fabs((double)x[i]) < limit)) /* NaN too */
            return fr_fail(FR_ERR_NUMERIC, "secure aggregation: value %g at %zu is not finite or not below %g, the fixed point's bound for a sum of %zu clients",
                           (double)x[i], i, limit, sa->n_clients);
        out[i] = (uint64_t)(int64_t)llround((double)x[i] * one);
    }
    uint32_t self = (uint32_t)sa->clients[at];
    for (size_t j = 0; j < sa->n_clients; j++) {
        if (!fr_secagg_paired(sa, at, j))
            continue;
        uint32_t other = (uint32_t)sa->clients[j];
        uint32_t lo = self < other ? self : other, hi = self < other ? other : self;
        fr_rng rng;
        fr_rng_init(&rng, sa->seed ^ mix64(hi), sa->round, lo, FR_RNG_SECAGG);
        if (self == lo)
            for (size_t i = 0; i < len; i++)
                out[i] += fr_rng_u64(&rng);
        else
            for (size_t i = 0; i < len; i++)
                out[i] -= fr_rng_u64(&rng);
    }
    return FR_OK;
}

void fr_secagg_add(uint64_t *sum, const uint64_t *masked, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sum[i] += masked[i];
}

void fr_secagg_decode(const uint64_t *sum, size_t len, double scale, float *out)
{
    const double unit = ldexp(1.0, -FR_SECAGG_FRACTION_BITS);
    for (size_t i = 0; i < len; i++)
        out[i] = (float)((double)(int64_t)sum[i] * unit * scale);
}
