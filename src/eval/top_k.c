/* top_k.c — the running top-K selection of fedrec/metrics.h, shared by the
 * full-ranking evaluation (fr_rank_user, the mtrec trainer's fused
 * GEMM + selection) and `fedrec recommend`.
 *
 * Every item has a 64-bit rank key (score bits in float order above the
 * complement of the id), so one integer comparison orders two items,
 * ties and NaN included, and the kept set does not depend on the order
 * the items come in. The keys sit in a heap whose root is the worst kept.
 * Once the heap is full, the root's score is a bar: an item scoring below
 * it cannot enter, and the SIMD kernel first_not_below skips runs of such
 * scores (16 per compare with AVX-512) before any key is made or a skip
 * list searched. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "core/search.h"
#include "fedrec/backend.h"
#include "fedrec/metrics.h"

/* An item's rank key: larger ranks higher. The score's bits mapped so
 * that unsigned order is float order (negative floats flipped whole,
 * positive ones by their sign bit; -0 as +0; NaN lowest), above the
 * complement of the id, so equal scores rank the smaller id first. */
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

static int32_t key_id(uint64_t key)
{
    return (int32_t)(0xFFFFFFFFu - (uint32_t)key);
}

/* The score a key was made from (-0 comes back as +0, NaN as a NaN). */
static float key_score(uint64_t key)
{
    uint32_t ordered = (uint32_t)(key >> 32);
    union {
        uint32_t u;
        float f;
    } v = {ordered & 0x80000000u ? ordered & 0x7FFFFFFFu : ~ordered};
    if (ordered == 0)
        v.u = 0x7FC00000u;
    return v.f;
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

/* The bar of a full heap: its root's score; a NaN root (every kept item
 * NaN) lets everything through to the key comparison. */
static void set_bar(fr_top_k *t)
{
    float s = key_score(t->keys[0]);
    t->bar = s == s ? s : -__builtin_inff();
}

void fr_top_k_init(fr_top_k *t, uint64_t *keys, size_t k)
{
    t->k = k;
    t->n = 0;
    t->keys = keys;
    t->bar = -__builtin_inff();
}

/* Offer one key (its item not skipped). */
static void offer_key(fr_top_k *t, uint64_t key)
{
    if (t->n < t->k) { /* fill, then heapify once full */
        t->keys[t->n++] = key;
        if (t->n == t->k) {
            for (size_t i = t->k / 2; i-- > 0;)
                sift_down(t->keys, t->k, i);
            set_bar(t);
        }
        return;
    }
    if (key <= t->keys[0])
        return;
    t->keys[0] = key;
    sift_down(t->keys, t->k, 0);
    set_bar(t);
}

/* The kernel table of the best path this CPU has, found once. The scan's
 * result does not depend on the path. */
static const fr_cpu_kernels *scan_kernels(void)
{
    static _Atomic(const fr_cpu_kernels *) cached;
    const fr_cpu_kernels *ks = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!ks) {
        ks = fr_cpu_kernels_for(fr_cpu_isa_best());
        atomic_store_explicit(&cached, ks, memory_order_relaxed);
    }
    return ks;
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

/* A selection that is not full yet, offered a long piece: only the
 * piece's own best k can matter, and they are among the scores at or
 * above a bar that about twice k (plus the skipped) reach, set from a
 * sample. Those few are selected apart and, when at least k of them pass
 * the skip lists (so nothing below the bar is among the piece's best k),
 * merged in; else the piece is offered whole. Filling from the whole
 * piece would insert about k ln(n / k) items. Returns whether the piece
 * was dealt with. */
#define SAMPLED_K_MAX 64
static int offer_sampled(fr_top_k *t, const float *scores, size_t n, int32_t first_id, const int32_t *ids,
                         const int32_t *skip_a, size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b)
{
    enum { CANDIDATES = 1024 };
    size_t target = 2 * t->k + n_skip_a + n_skip_b;
    if (t->k > SAMPLED_K_MAX || n < 2 * SAMPLE || target > n / 4 || 4 * target > CANDIDATES)
        return 0;
    int32_t candidate[CANDIDATES];
    size_t n_candidates = 0;
    float bar = sampled_bar(scores, n, target);
    for (size_t i = 0; i < n && n_candidates <= CANDIDATES; i++)
        if (scores[i] >= bar) {
            if (n_candidates < CANDIDATES)
                candidate[n_candidates] = (int32_t)i;
            n_candidates++;
        }
    if (n_candidates > CANDIDATES)
        return 0;
    uint64_t keys[SAMPLED_K_MAX];
    fr_top_k piece;
    fr_top_k_init(&piece, keys, t->k);
    size_t passed = 0;
    for (size_t c = 0; c < n_candidates; c++) {
        int32_t id = ids ? ids[candidate[c]] : first_id + candidate[c];
        if (!fr_sorted_contains(skip_a, n_skip_a, id) && !fr_sorted_contains(skip_b, n_skip_b, id)) {
            passed++;
            offer_key(&piece, rank_key(scores[candidate[c]], id));
        }
    }
    if (passed < t->k)
        return 0;
    fr_top_k_merge(t, &piece);
    return 1;
}

/* Items first_id + i, or ids[i] when ids is given. */
static void offer(fr_top_k *t, const float *scores, size_t n, int32_t first_id, const int32_t *ids,
                  const int32_t *skip_a, size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b)
{
    if (t->k == 0)
        return;
    if (t->n < t->k && offer_sampled(t, scores, n, first_id, ids, skip_a, n_skip_a, skip_b, n_skip_b))
        return;
    size_t i = 0;
    for (; i < n && t->n < t->k; i++) { /* not full: no bar yet */
        int32_t id = ids ? ids[i] : first_id + (int32_t)i;
        if (!fr_sorted_contains(skip_a, n_skip_a, id) && !fr_sorted_contains(skip_b, n_skip_b, id))
            offer_key(t, rank_key(scores[i], id));
    }
    if (i >= n)
        return;
    size_t (*first_not_below)(size_t, const float *, float) = scan_kernels()->first_not_below;
    for (;;) {
        /* scores below the bar cannot beat the root: key(s) > root implies
         * s >= the root's score in float order, or s is NaN */
        i += first_not_below(n - i, scores + i, t->bar);
        if (i >= n)
            return;
        int32_t id = ids ? ids[i] : first_id + (int32_t)i;
        uint64_t key = rank_key(scores[i], id);
        if (key > t->keys[0] && !fr_sorted_contains(skip_a, n_skip_a, id) &&
            !fr_sorted_contains(skip_b, n_skip_b, id))
            offer_key(t, key);
        i++;
    }
}

void fr_top_k_offer(fr_top_k *t, const float *scores, size_t n, int32_t first_id, const int32_t *skip_a,
                    size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b)
{
    offer(t, scores, n, first_id, NULL, skip_a, n_skip_a, skip_b, n_skip_b);
}

void fr_top_k_offer_ids(fr_top_k *t, const float *scores, size_t n, const int32_t *ids, const int32_t *skip_a,
                        size_t n_skip_a, const int32_t *skip_b, size_t n_skip_b)
{
    offer(t, scores, n, 0, ids, skip_a, n_skip_a, skip_b, n_skip_b);
}

void fr_top_k_merge(fr_top_k *t, const fr_top_k *other)
{
    for (size_t i = 0; i < other->n; i++)
        offer_key(t, other->keys[i]);
}

size_t fr_top_k_take(fr_top_k *t, int32_t *ids, float *scores)
{
    size_t n = t->n;
    /* best first: a heap that never filled is heapified now, then the
     * worst is moved to the back repeatedly (heapsort, ascending heap) */
    if (n < t->k)
        for (size_t i = n / 2; i-- > 0;)
            sift_down(t->keys, n, i);
    for (size_t m = n; m > 1; m--) {
        uint64_t x = t->keys[0];
        t->keys[0] = t->keys[m - 1];
        t->keys[m - 1] = x;
        sift_down(t->keys, m - 1, 0);
    }
    for (size_t r = 0; r < n; r++) {
        if (ids)
            ids[r] = key_id(t->keys[r]);
        if (scores)
            scores[r] = key_score(t->keys[r]);
    }
    t->n = 0;
    t->bar = -__builtin_inff();
    return n;
}

size_t fr_top_k_select(const float *scores, size_t n, const int32_t *skip_a, size_t n_skip_a,
                       const int32_t *skip_b, size_t n_skip_b, size_t k, uint64_t *keys, int32_t *ids)
{
    fr_top_k t;
    fr_top_k_init(&t, keys, k);
    fr_top_k_offer(&t, scores, n, 0, skip_a, n_skip_a, skip_b, n_skip_b);
    return fr_top_k_take(&t, ids, NULL);
}
