/* fed_personal.h — the arithmetic of personalised aggregation over dense
 * units (internal; fed_personal.c), on host vectors: PF-MSMTrec's
 * conflict coordination and similarity weights are public
 * (fedrec/fed.h); these apply the weights. */
#ifndef FR_FED_PERSONAL_H
#define FR_FED_PERSONAL_H

#include <stddef.h>

#include "fedrec/fed.h"

/* theta_i (received_i, a unit vector) += sum_j a_ij d_j. */
void fr_fed_apply(const float *deltas, size_t n, size_t dim, const double *a, size_t i, float *received);
/* Embedding rows: each row of received (rows x cols) += the
 * sample-weighted mean of the deltas that changed it (n x rows x cols). */
void fr_fed_apply_rows(const float *deltas, size_t n, size_t rows, size_t cols, const double *samples,
                       float *received);

#endif
