/* search.h — binary searches the data code shares (internal): membership
 * in a sorted id list, and a draw from a cumulative weight table. */
#ifndef FR_CORE_SEARCH_H
#define FR_CORE_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/rng.h"

/* Whether x is among the n ascending ids of sorted. */
int fr_sorted_contains(const int32_t *sorted, size_t n, int32_t x);

/* An index drawn with probability proportional to its weight, from the
 * n > 0 running sums cdf (cdf[n - 1] = total): the first i with
 * cdf[i] >= u total, u one uniform double from rng. */
size_t fr_cdf_draw(const double *cdf, size_t n, double total, fr_rng *rng);

#endif
