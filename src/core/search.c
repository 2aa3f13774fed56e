/* search.c — the shared binary searches (see search.h). */
#include "core/search.h"

/* Branch-free: the top-K selections of full ranking look up every
 * candidate item in the user's skip lists, and a branch per halving
 * mispredicts half the time. */
int fr_sorted_contains(const int32_t *sorted, size_t n, int32_t x)
{
    if (n == 0)
        return 0;
    const int32_t *base = sorted;
    while (n > 1) { /* base[0 .. n) holds the first element >= x, or x is past it */
        size_t half = n / 2;
        base = base[half - 1] < x ? base + half : base;
        n -= half;
    }
    return *base == x;
}

size_t fr_cdf_draw(const double *cdf, size_t n, double total, fr_rng *rng)
{
    double x = fr_rng_uniform_double(rng) * total;
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
