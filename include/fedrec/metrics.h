/* fedrec/metrics.h — evaluation metrics on host arrays. */
#ifndef FEDREC_METRICS_H
#define FEDREC_METRICS_H

#include <stddef.h>
#include <stdint.h>
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

/* ---- Full ranking ------------------------------------------------------
 * Recall@K = |top-K and targets| / |targets|; NDCG@K = DCG / ideal DCG with
 * binary gains (1 / log2(rank + 1)), the ideal over min(|targets|, K)
 * hits; for K in fr_rank_cutoffs. */
#define FR_RANK_CUTOFFS 4
extern const size_t fr_rank_cutoffs[FR_RANK_CUTOFFS]; /* 5, 10, 20, 40 */

typedef struct fr_rank_metrics {
    size_t users;                     /* users ranked */
    double recall[FR_RANK_CUTOFFS];   /* means over those users */
    double ndcg[FR_RANK_CUTOFFS];
} fr_rank_metrics;

/* Rank the n_items scores of one user, skipping the items of the sorted
 * lists skip_a and skip_b (either may be empty), and add the user's
 * Recall@K and NDCG@K for the sorted targets (n_targets > 0) to recall[]
 * and ndcg[]. Equal scores rank the smaller item id first. */
void fr_rank_user(const float *scores, size_t n_items, const int32_t *skip_a, size_t n_skip_a,
                  const int32_t *skip_b, size_t n_skip_b, const int32_t *targets,
                  size_t n_targets, double recall[FR_RANK_CUTOFFS],
                  double ndcg[FR_RANK_CUTOFFS]);

#ifdef __cplusplus
}
#endif
#endif
