/* full_rank.c — full-ranking Recall@K and NDCG@K of one user (see
 * fedrec/metrics.h): the best K_max items outside the skip lists by the
 * shared top-K selection (top_k.c), then the figures of that list. */
#include <math.h>
#include <stdint.h>

#include "core/search.h"
#include "fedrec/metrics.h"

const size_t fr_rank_cutoffs[FR_RANK_CUTOFFS] = {5, 10, 20, 40};

void fr_rank_list(const int32_t *top, size_t n_top, const int32_t *targets, size_t n_targets,
                  double recall[FR_RANK_CUTOFFS], double ndcg[FR_RANK_CUTOFFS])
{
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
        size_t k = fr_rank_cutoffs[c], hits = 0;
        double dcg = 0, ideal = 0;
        for (size_t r = 0; r < k && r < n_top; r++)
            if (fr_sorted_contains(targets, n_targets, top[r])) {
                hits++;
                dcg += 1.0 / log2((double)r + 2.0);
            }
        for (size_t r = 0; r < k && r < n_targets; r++)
            ideal += 1.0 / log2((double)r + 2.0);
        recall[c] += (double)hits / (double)n_targets;
        ndcg[c] += dcg / ideal;
    }
}

void fr_rank_user(const float *scores, size_t n_items, const int32_t *skip_a, size_t n_skip_a,
                  const int32_t *skip_b, size_t n_skip_b, const int32_t *targets,
                  size_t n_targets, double recall[FR_RANK_CUTOFFS], double ndcg[FR_RANK_CUTOFFS])
{
    uint64_t keys[FR_RANK_K_MAX];
    int32_t top[FR_RANK_K_MAX];
    size_t n_top = fr_top_k_select(scores, n_items, skip_a, n_skip_a, skip_b, n_skip_b, FR_RANK_K_MAX,
                                   keys, top);
    fr_rank_list(top, n_top, targets, n_targets, recall, ndcg);
}
