/* full_rank.c — full-ranking Recall@K and NDCG@K of one user (see
 * fedrec/metrics.h). The best K_max items are kept in a heap whose root is
 * the worst kept; items enter only after losing no comparison to the root
 * and being looked up in the skip lists. Scanning every item this way
 * still inserts about K_max ln(n / K_max) of them, so first a bar is set
 * from a sample of the scores and only the few items at or above it are
 * scanned; when fewer than K_max of those survive, every item is. */
#include <math.h>
#include <stdint.h>

#include "core/search.h"
#include "fedrec/metrics.h"

const size_t fr_rank_cutoffs[FR_RANK_CUTOFFS] = {5, 10, 20, 40};
#define K_MAX 40


/* An item's rank key: larger ranks higher. The score's bits mapped so
 * that unsigned order is float order (negative floats flipped whole,
 * positive ones by their sign bit; -0 as +0; NaN lowest), above the
 * complement of the id, so equal scores rank the smaller id first. One
 * integer comparison then decides, without branches on ties. */
static uint64_t rank_key(float score, int32_t id)
{
    union {
        float f;
        uint32_t u;
    } v = {score == 0.0f ? 0.0f : score};
    uint32_t ordered = v.u & 0x80000000u ? ~v.u : v.u | 0x80000000u;
    if (score != score)
        ordered = 0;
    return (uint64_t)ordered << 32 | (uint32_t)(0xFFFFFFFFu - (uint32_t)id);
}

static int32_t key_item(uint64_t key)
{
    return (int32_t)(0xFFFFFFFFu - (uint32_t)key);
}

/* The heap keeps the worst of the best (the smallest key) at its root. */
static void sift_down(uint64_t *heap, size_t n, size_t i)
{
    uint64_t x = heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && heap[child + 1] < heap[child])
            child++;
        if (heap[child] >= x)
            break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = x;
}

/* The best (at most K_MAX) of the items ids[0 .. n) (ids NULL: 0 .. n)
 * outside the skip lists, into the heap; returns how many. */
static size_t heap_select(const float *scores, const int32_t *ids, size_t n, const int32_t *skip_a,
                          size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b, uint64_t *heap)
{
    size_t n_top = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t id = ids ? ids[k] : (int32_t)k;
        uint64_t key = rank_key(scores[id], id);
        if (n_top == K_MAX && key <= heap[0])
            continue;
        if (fr_sorted_contains(skip_a, n_skip_a, id) || fr_sorted_contains(skip_b, n_skip_b, id))
            continue;
        if (n_top < K_MAX) { /* fill, then heapify once full */
            heap[n_top++] = key;
            if (n_top == K_MAX)
                for (size_t i = K_MAX / 2; i-- > 0;)
                    sift_down(heap, K_MAX, i);
            continue;
        }
        heap[0] = key;
        sift_down(heap, K_MAX, 0);
    }
    return n_top;
}

/* A bar that about `target` of the n scores reach: the matching order
 * statistic of an evenly spaced sample of about SAMPLE of them
 * (n >= 2 SAMPLE, target <= n / 4). */
#define SAMPLE 256
static float sampled_bar(const float *scores, size_t n, size_t target)
{
    size_t stride = n / SAMPLE, m = 0;
    size_t want = (target * SAMPLE) / n + 2; /* rank in the sample, from the top */
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
    uint64_t heap[K_MAX];
    int32_t top_item[K_MAX];
    size_t n_top = 0;
    /* aim the bar at twice the items the top needs, plus the skipped
     * ones: a sample's order statistic is rough (a few tens of per cent),
     * and a bar that lets fewer than K_MAX through costs a full scan */
    size_t target = 2 * K_MAX + n_skip_a + n_skip_b;
    enum { CANDIDATES = 1024 };
    if (n_items >= 2 * SAMPLE && target <= n_items / 4 && 4 * target <= CANDIDATES) {
        /* Only items at or above the bar can rank; if K_MAX of them
         * survive the skip lists, every other item is below all of those,
         * so they are the top. Else scan everything. */
        int32_t candidate[CANDIDATES];
        size_t n_candidates = 0;
        float bar = sampled_bar(scores, n_items, target);
        for (size_t i = 0; i < n_items && n_candidates <= CANDIDATES; i++)
            if (scores[i] >= bar) {
                if (n_candidates < CANDIDATES)
                    candidate[n_candidates] = (int32_t)i;
                n_candidates++;
            }
        if (n_candidates <= CANDIDATES)
            n_top = heap_select(scores, candidate, n_candidates, skip_a, n_skip_a, skip_b, n_skip_b, heap);
    }
    if (n_top < K_MAX)
        n_top = heap_select(scores, NULL, n_items, skip_a, n_skip_a, skip_b, n_skip_b, heap);
    /* best first: a heap that never filled is heapified now, then the
     * worst is moved to the back repeatedly (heapsort) */
    if (n_top < K_MAX)
        for (size_t i = n_top / 2; i-- > 0;)
            sift_down(heap, n_top, i);
    for (size_t n = n_top; n > 1; n--) {
        uint64_t x = heap[0];
        heap[0] = heap[n - 1];
        heap[n - 1] = x;
        sift_down(heap, n - 1, 0);
    }
    for (size_t r = 0; r < n_top; r++)
        top_item[r] = key_item(heap[r]);
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
        size_t k = fr_rank_cutoffs[c], hits = 0;
        double dcg = 0, ideal = 0;
        for (size_t r = 0; r < k && r < n_top; r++)
            if (fr_sorted_contains(targets, n_targets, top_item[r])) {
                hits++;
                dcg += 1.0 / log2((double)r + 2.0);
            }
        for (size_t r = 0; r < k && r < n_targets; r++)
            ideal += 1.0 / log2((double)r + 2.0);
        recall[c] += (double)hits / (double)n_targets;
        ndcg[c] += dcg / ideal;
    }
}
