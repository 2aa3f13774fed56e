/* test_metrics.c — AUC against hand-worked cases (ties, one class, order
 * independence), log loss against its closed form, and the top-K
 * selection against a brute-force ranking (ties, -0, NaN, infinities,
 * skip lists; offered whole, in pieces in any order, in two selections
 * merged, with a raised bar). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fedrec/metrics.h"
#include "fedrec/rng.h"
#include "testutil.h"

/* Whether item a ranks above item b: larger score, NaN lowest, -0 = +0,
 * equal scores the smaller id. */
static int ranks_above(const float *s, int32_t a, int32_t b)
{
    int na = s[a] != s[a], nb = s[b] != s[b];
    if (na || nb)
        return na != nb ? nb : a < b;
    if (s[a] != s[b])
        return s[a] > s[b];
    return a < b;
}

/* The best k outside the sorted skip list, by selection sort. */
static size_t brute_top(const float *s, size_t n, const int32_t *skip, size_t n_skip, size_t k, int32_t *out)
{
    size_t got = 0;
    while (got < k) {
        int32_t best = -1;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (size_t j = 0; j < got && !taken; j++)
                taken = out[j] == (int32_t)i;
            for (size_t j = 0; j < n_skip && !taken; j++)
                taken = skip[j] == (int32_t)i;
            if (!taken && (best < 0 || ranks_above(s, (int32_t)i, best)))
                best = (int32_t)i;
        }
        if (best < 0)
            break;
        out[got++] = best;
    }
    return got;
}

static void test_top_k(void)
{
    enum { N = 700, K = 40, PIECE = 64 };
    float s[N];
    int32_t skip[N], want[K], got[K];
    uint64_t keys[K], keys2[K];
    for (uint32_t trial = 0; trial < 40; trial++) {
        fr_rng rng;
        fr_rng_init(&rng, 7, trial, 0, FR_RNG_INIT);
        size_t n = trial < 3 ? trial * 20 : N; /* fewer items than K too */
        size_t n_skip = 0;
        for (size_t i = 0; i < n; i++) {
            /* few distinct values: many ties; some -0, +0, NaN, +-inf */
            float v = (float)fr_rng_below(&rng, 16) - 8.0f;
            uint32_t kind = fr_rng_below(&rng, 40);
            s[i] = kind == 0 ? NAN : kind == 1 ? -0.0f : kind == 2 ? INFINITY : kind == 3 ? -INFINITY : v;
            if (fr_rng_below(&rng, 8) == 0)
                skip[n_skip++] = (int32_t)i;
        }
        size_t k = trial % 5 == 4 ? 7 : K;
        size_t nw = brute_top(s, n, skip, n_skip, k, want);
        /* whole */
        size_t ng = fr_top_k_select(s, n, skip, n_skip, NULL, 0, k, keys, got);
        CHECK(ng == nw && !memcmp(got, want, nw * sizeof *got), "trial %u: top %zu of %zu whole", trial, k, n);
        /* the skip list split in two */
        ng = fr_top_k_select(s, n, skip, n_skip / 2, skip + n_skip / 2, n_skip - n_skip / 2, k, keys, got);
        CHECK(ng == nw && !memcmp(got, want, nw * sizeof *got), "trial %u: two skip lists", trial);
        /* in pieces, backwards, alternating between two selections, merged */
        fr_top_k a, b;
        fr_top_k_init(&a, keys, k);
        fr_top_k_init(&b, keys2, k);
        size_t pieces = (n + PIECE - 1) / PIECE;
        for (size_t p = pieces; p-- > 0;) {
            size_t first = p * PIECE, len = n - first < PIECE ? n - first : PIECE;
            fr_top_k_offer(p % 2 ? &a : &b, s + first, len, (int32_t)first, skip, n_skip, NULL, 0);
        }
        fr_top_k_merge(&a, &b);
        float got_scores[K];
        ng = fr_top_k_take(&a, got, got_scores);
        CHECK(ng == nw && !memcmp(got, want, nw * sizeof *got), "trial %u: pieces merged", trial);
        for (size_t r = 0; r < ng; r++)
            CHECK(got_scores[r] == s[got[r]] || (got_scores[r] != got_scores[r] && s[got[r]] != s[got[r]]),
                  "trial %u: score of rank %zu", trial, r);
        CHECK(a.n == 0, "take leaves the selection empty");
        /* a bar raised to the k-th best score (what another selection of
         * the same row would know) keeps the result */
        if (nw == k && s[want[k - 1]] == s[want[k - 1]]) {
            fr_top_k_init(&a, keys, k);
            a.bar = s[want[k - 1]];
            fr_top_k_offer(&a, s, n, 0, skip, n_skip, NULL, 0);
            ng = fr_top_k_take(&a, got, NULL);
            CHECK(ng == nw && !memcmp(got, want, nw * sizeof *got), "trial %u: raised bar", trial);
        }
    }
    /* k = 0 keeps nothing */
    CHECK(fr_top_k_select(s, N, NULL, 0, NULL, 0, 0, keys, got) == 0, "k = 0");
}

int main(void)
{
    test_top_k();
    double auc;
    /* Perfect and reversed rankings. */
    const float s1[] = {0.1f, 0.2f, 0.8f, 0.9f}, y1[] = {0, 0, 1, 1};
    CHECK_OK(fr_auc(s1, y1, 4, &auc));
    CHECK_NEAR(auc, 1.0, 1e-12);
    const float y1r[] = {1, 1, 0, 0};
    CHECK_OK(fr_auc(s1, y1r, 4, &auc));
    CHECK_NEAR(auc, 0.0, 1e-12);
    /* Hand-worked: positives at 0.8 and 0.3; negatives at 0.5, 0.3, 0.1.
     * Pairs: (0.8 > all three) = 3; (0.3 vs 0.5) = 0, (0.3 vs 0.3) = 0.5,
     * (0.3 vs 0.1) = 1. AUC = 4.5 / 6 = 0.75. */
    const float s2[] = {0.5f, 0.8f, 0.3f, 0.3f, 0.1f}, y2[] = {0, 1, 1, 0, 0};
    CHECK_OK(fr_auc(s2, y2, 5, &auc));
    CHECK_NEAR(auc, 0.75, 1e-12);
    /* All scores tied: one half. */
    const float s3[] = {1, 1, 1, 1}, y3[] = {1, 0, 1, 0};
    CHECK_OK(fr_auc(s3, y3, 4, &auc));
    CHECK_NEAR(auc, 0.5, 1e-12);
    /* One class only: undefined. */
    const float y4[] = {1, 1, 1, 1};
    CHECK_OK(fr_auc(s1, y4, 4, &auc));
    CHECK(isnan(auc), "AUC of one class should be NaN, got %g", auc);
    /* NaN scores are an error, not a silent number. */
    const float s5[] = {0.1f, NAN, 0.3f}, y5[] = {0, 1, 1};
    CHECK(fr_auc(s5, y5, 3, &auc) == FR_ERR_NUMERIC, "NaN score accepted");

    /* Log loss: z = 0 gives log 2 whatever the label; large margins are
     * computed without overflow. */
    const float z[] = {0.0f, 0.0f, 100.0f, -100.0f}, yz[] = {1, 0, 1, 0};
    CHECK_NEAR(fr_logloss_logits(z, yz, 2), log(2.0), 1e-12);
    CHECK_NEAR(fr_logloss_logits(z + 2, yz + 2, 2), 0.0, 1e-12);
    const float zb[] = {100.0f}, yb[] = {0};
    CHECK_NEAR(fr_logloss_logits(zb, yb, 1), 100.0, 1e-9);
    return fr_test_finish("test_metrics");
}
