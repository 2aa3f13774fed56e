/* search.c — the shared binary searches (see search.h). */
#include "core/search.h"

int fr_sorted_contains(const int32_t *sorted, size_t n, int32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && sorted[lo] == x;
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
