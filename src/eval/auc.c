/* auc.c — exact ROC AUC with ties, log loss on logits, and the
 * leave-one-out hit rate / NDCG of one held-out positive. */
#include <math.h>
#include <stdlib.h>

#include "core/error_internal.h"
#include "fedrec/metrics.h"

typedef struct scored {
    float score;
    unsigned positive;
} scored;

static int by_score(const void *a, const void *b)
{
    float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x > y) - (x < y);
}

fr_status fr_auc(const float *scores, const float *labels, size_t n,
                 double *auc)
{
    scored *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return fr_fail_nomem("AUC work array", n * sizeof *s);
    double n_pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(scores[i])) {
            free(s);
            return fr_fail(FR_ERR_NUMERIC, "AUC: score %zu is NaN", i);
        }
        s[i].score = scores[i];
        s[i].positive = labels[i] >= 0.5f;
        n_pos += s[i].positive;
    }
    double n_neg = (double)n - n_pos;
    if (n_pos == 0 || n_neg == 0) {
        free(s);
        *auc = NAN;
        return FR_OK;
    }
    qsort(s, n, sizeof *s, by_score);
    /* Sum of the (1-based, tie-averaged) ranks of the positives. */
    double rank_sum = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        double pos_in_tie = 0;
        while (j < n && s[j].score == s[i].score)
            pos_in_tie += s[j++].positive;
        double mean_rank = (double)(i + 1 + j) / 2.0;
        rank_sum += pos_in_tie * mean_rank;
        i = j;
    }
    free(s);
    *auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg);
    return FR_OK;
}

double fr_logloss_logits(const float *logits, const float *labels, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double z = logits[i], y = labels[i];
        sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    }
    return n ? sum / (double)n : 0.0;
}

void fr_hit_ndcg(float positive, const float *negatives, size_t n, size_t k,
                 double *hr, double *ndcg)
{
    size_t rank = 1;
    for (size_t i = 0; i < n; i++)
        rank += negatives[i] >= positive;
    *hr = rank <= k ? 1.0 : 0.0;
    *ndcg = rank <= k ? log(2.0) / log(1.0 + (double)rank) : 0.0;
}
