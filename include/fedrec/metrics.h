/* fedrec/metrics.h — evaluation metrics on host arrays. */
#ifndef FEDREC_METRICS_H
#define FEDREC_METRICS_H

#include <stddef.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exact ROC AUC: the probability that a random positive scores above a
 * random negative, ties counting one half (Mann-Whitney U with average
 * ranks). labels are 0 or 1 (>= 0.5 is positive). *auc is NaN when the
 * labels hold one class only. O(n log n), allocates n indices. */
fr_status fr_auc(const float *scores, const float *labels, size_t n,
                 double *auc);

/* Leave-one-out ranking of one held-out positive among n negatives: rank =
 * 1 + the negatives scoring >= the positive (a tie counts against it).
 * *hr = rank <= k; *ndcg = log 2 / log(1 + rank) when rank <= k, else 0. */
void fr_hit_ndcg(float positive, const float *negatives, size_t n, size_t k,
                 double *hr, double *ndcg);

/* Mean binary log loss of logits (numerically stable form). */
double fr_logloss_logits(const float *logits, const float *labels, size_t n);

#ifdef __cplusplus
}
#endif
#endif
