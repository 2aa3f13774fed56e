/* full_rank.c — full-ranking Recall@K and NDCG@K of one user (see
 * fedrec/metrics.h). The best K_max items are kept in a heap whose root is
 * the worst kept; items enter only after losing no comparison to the root
 * and being looked up in the skip lists. Scanning every item this way
 * still inserts about K_max ln(n / K_max) of them, so first a bar is set
 * from a sample of the scores and only the few items at or above it are
 * scanned; when fewer than K_max of those survive, every item is. */
#include <math.h>

#include "fedrec/metrics.h"

const size_t fr_rank_cutoffs[FR_RANK_CUTOFFS] = {5, 10, 20, 40};
#define K_MAX 40

static int contains(const int32_t *sorted, size_t n, int32_t x)
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

/* a ranks above b: higher score, then smaller id */
static int above(float score_a, int32_t a, float score_b, int32_t b)
{
    return score_a > score_b || (score_a == score_b && a < b);
}

/* The heap keeps the worst of the best at its root: entry i ranks below
 * (is "worse" than) neither of its children. */
static void sift_down(float *score, int32_t *item, size_t n, size_t i)
{
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && above(score[worst], item[worst], score[l], item[l]))
            worst = l;
        if (r < n && above(score[worst], item[worst], score[r], item[r]))
            worst = r;
        if (worst == i)
            return;
        float s = score[i];
        score[i] = score[worst];
        score[worst] = s;
        int32_t t = item[i];
        item[i] = item[worst];
        item[worst] = t;
        i = worst;
    }
}

/* The best (at most K_MAX) of the items ids[0 .. n) (ids NULL: 0 .. n)
 * outside the skip lists, into the heap top_*; returns how many. */
static size_t heap_select(const float *scores, const int32_t *ids, size_t n, const int32_t *skip_a,
                          size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b,
                          float *top_score, int32_t *top_item)
{
    size_t n_top = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t id = ids ? ids[k] : (int32_t)k;
        float s = scores[id];
        if (n_top == K_MAX && !above(s, id, top_score[0], top_item[0]))
            continue;
        if (contains(skip_a, n_skip_a, id) || contains(skip_b, n_skip_b, id))
            continue;
        if (n_top < K_MAX) { /* fill, then heapify once full */
            top_score[n_top] = s;
            top_item[n_top++] = id;
            if (n_top == K_MAX)
                for (size_t i = K_MAX / 2; i-- > 0;)
                    sift_down(top_score, top_item, K_MAX, i);
            continue;
        }
        top_score[0] = s;
        top_item[0] = id;
        sift_down(top_score, top_item, K_MAX, 0);
    }
    return n_top;
}

/* A bar that about 2 K_MAX of the n scores reach: the matching order
 * statistic of an evenly spaced sample of about SAMPLE of them. */
#define SAMPLE 256
static float sampled_bar(const float *scores, size_t n)
{
    size_t stride = n / SAMPLE, m = 0;
    size_t want = (2 * K_MAX * SAMPLE) / n + 2; /* rank in the sample, from the top */
    float best[SAMPLE];
    for (size_t i = 0; i < n && m < SAMPLE; i += stride, m++) {
        float s = scores[i];
        size_t at = m < want ? m : want - 1;
        if (m >= want && !(s > best[want - 1]))
            continue;
        while (at > 0 && s > best[at - 1]) {
            best[at] = best[at - 1];
            at--;
        }
        best[at] = s;
    }
    return best[(m < want ? m : want) - 1];
}

void fr_rank_user(const float *scores, size_t n_items, const int32_t *skip_a, size_t n_skip_a,
                  const int32_t *skip_b, size_t n_skip_b, const int32_t *targets,
                  size_t n_targets, double recall[FR_RANK_CUTOFFS], double ndcg[FR_RANK_CUTOFFS])
{
    float top_score[K_MAX];
    int32_t top_item[K_MAX];
    size_t n_top = 0;
    if (n_items >= 16 * K_MAX) {
        /* Only items at or above the bar can rank; if K_MAX of them
         * survive the skip lists, every other item is below all of those,
         * so they are the top. Else scan everything. */
        int32_t candidate[8 * K_MAX];
        size_t n_candidates = 0;
        float bar = sampled_bar(scores, n_items);
        for (size_t i = 0; i < n_items && n_candidates <= 8 * K_MAX; i++)
            if (scores[i] >= bar) {
                if (n_candidates < 8 * K_MAX)
                    candidate[n_candidates] = (int32_t)i;
                n_candidates++;
            }
        if (n_candidates <= 8 * K_MAX)
            n_top = heap_select(scores, candidate, n_candidates, skip_a, n_skip_a, skip_b, n_skip_b,
                                top_score, top_item);
    }
    if (n_top < K_MAX)
        n_top = heap_select(scores, NULL, n_items, skip_a, n_skip_a, skip_b, n_skip_b, top_score,
                            top_item);
    /* best first: a heap that never filled is heapified now, then the
     * worst is moved to the back repeatedly (heapsort) */
    if (n_top < K_MAX)
        for (size_t i = n_top / 2; i-- > 0;)
            sift_down(top_score, top_item, n_top, i);
    for (size_t n = n_top; n > 1; n--) {
        float x = top_score[0];
        top_score[0] = top_score[n - 1];
        top_score[n - 1] = x;
        int32_t y = top_item[0];
        top_item[0] = top_item[n - 1];
        top_item[n - 1] = y;
        sift_down(top_score, top_item, n - 1, 0);
    }
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
        size_t k = fr_rank_cutoffs[c], hits = 0;
        double dcg = 0, ideal = 0;
        for (size_t r = 0; r < k && r < n_top; r++)
            if (contains(targets, n_targets, top_item[r])) {
                hits++;
                dcg += 1.0 / log2((double)r + 2.0);
            }
        for (size_t r = 0; r < k && r < n_targets; r++)
            ideal += 1.0 / log2((double)r + 2.0);
        recall[c] += (double)hits / (double)n_targets;
        ndcg[c] += dcg / ideal;
    }
}
