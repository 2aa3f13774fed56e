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
#define FR_RANK_K_MAX 40                              /* the largest cutoff */

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
/* The same figures from a user's ranked list top[0 .. n_top) (best first,
 * at least FR_RANK_K_MAX items unless fewer could be ranked), added to
 * recall[] and ndcg[]. */
void fr_rank_list(const int32_t *top, size_t n_top, const int32_t *targets, size_t n_targets,
                  double recall[FR_RANK_CUTOFFS], double ndcg[FR_RANK_CUTOFFS]);

/* ---- Top K -------------------------------------------------------------
 * A running selection of the best k items by score: a larger score ranks
 * higher, equal scores the smaller id first, NaN below every number, -0
 * equal to +0. Every item has one place in that order, so the items kept
 * do not depend on the order they are offered in: a score row can be
 * offered in pieces (blocks of columns), and selections of disjoint
 * pieces merged. Scores below the worst kept are passed over by a SIMD
 * scan before any skip list is searched. */
typedef struct fr_top_k {
    size_t k, n;        /* room, items kept */
    uint64_t *keys;     /* the caller's room for k rank keys (a heap) */
    float bar;          /* full: no item scoring below this can enter; a
                         * caller that knows of k items scoring at least x
                         * elsewhere (another selection of the same row)
                         * may raise it to x */
} fr_top_k;

/* An empty selection of at most k items kept in keys (room for k). */
void fr_top_k_init(fr_top_k *t, uint64_t *keys, size_t k);
/* Offer items first_id .. first_id + n - 1 with scores[0 .. n), except
 * those in the sorted id lists skip_a and skip_b (either may be empty). */
void fr_top_k_offer(fr_top_k *t, const float *scores, size_t n, int32_t first_id, const int32_t *skip_a,
                    size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b);
/* The same for items ids[0 .. n) in any order (a row whose columns were
 * permuted, as the norm-ordered full ranking does). */
void fr_top_k_offer_ids(fr_top_k *t, const float *scores, size_t n, const int32_t *ids, const int32_t *skip_a,
                        size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b);
/* Offer every item another selection keeps (same k or not). */
void fr_top_k_merge(fr_top_k *t, const fr_top_k *other);
/* The items kept, best first, into ids and scores (either may be NULL;
 * room for k); returns how many. Leaves the selection empty. */
size_t fr_top_k_take(fr_top_k *t, int32_t *ids, float *scores);
/* The best k of scores[0 .. n) outside the skip lists into ids, best
 * first (keys: room for k); returns how many. */
size_t fr_top_k_select(const float *scores, size_t n, const int32_t *skip_a, size_t n_skip_a,
                       const int32_t *skip_b, size_t n_skip_b, size_t k, uint64_t *keys, int32_t *ids);

#ifdef __cplusplus
}
#endif
#endif
