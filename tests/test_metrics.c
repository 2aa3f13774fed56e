/* test_metrics.c — AUC against hand-worked cases (ties, one class, order
 * independence) and log loss against its closed form. */
#include <math.h>

#include "fedrec/metrics.h"
#include "testutil.h"

int main(void)
{
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
