/* test_synthetic_ctr.c — the generated click data: same seed gives the same
 * rows, another seed others; ids stay inside their field; the click rate is
 * near its 25 % target; and the planted signal is there: the score computed
 * from per-value click rates on one half ranks the other half better than
 * chance. */
#include <stdlib.h>
#include <string.h>

#include "fedrec/metrics.h"
#include "fedrec/synthetic_ctr.h"
#include "testutil.h"

int main(void)
{
    fr_ctr_spec spec = {.seed = 5, .rows = 20000, .fields = 6, .vocab = 50, .numeric = 3};
    fr_ctr_data a, b, c;
    CHECK_OK(fr_ctr_generate(&spec, &a));
    CHECK_OK(fr_ctr_generate(&spec, &b));
    spec.seed = 6;
    CHECK_OK(fr_ctr_generate(&spec, &c));
    size_t n = a.rows;
    CHECK(!memcmp(a.ids, b.ids, n * a.fields * sizeof *a.ids) &&
              !memcmp(a.labels, b.labels, n * sizeof *a.labels) &&
              !memcmp(a.numbers, b.numbers, n * a.numeric * sizeof *a.numbers),
          "same seed gave different data");
    CHECK(memcmp(a.ids, c.ids, n * a.fields * sizeof *a.ids) != 0, "seeds 5 and 6 gave the same ids");

    double clicks = 0;
    for (size_t r = 0; r < n; r++) {
        clicks += a.labels[r];
        for (size_t f = 0; f < a.fields; f++) {
            int32_t id = a.ids[r * a.fields + f];
            CHECK(id >= (int32_t)(f * a.vocab) && id < (int32_t)((f + 1) * a.vocab),
                  "row %zu field %zu id %d outside its field", r, f, id);
        }
    }
    CHECK_NEAR(clicks / (double)n, 0.25, 0.03);

    /* Per-value click rates from the first half, summed as a score on the
     * second half: a real first-order signal gives AUC clearly above 0.5. */
    size_t n_values = a.fields * a.vocab, half = n / 2;
    double *hits = calloc(n_values, sizeof *hits), *seen = calloc(n_values, sizeof *seen);
    for (size_t r = 0; r < half; r++)
        for (size_t f = 0; f < a.fields; f++) {
            hits[a.ids[r * a.fields + f]] += a.labels[r];
            seen[a.ids[r * a.fields + f]] += 1;
        }
    float *score = malloc((n - half) * sizeof *score);
    for (size_t r = half; r < n; r++) {
        double s = 0;
        for (size_t f = 0; f < a.fields; f++) {
            int32_t id = a.ids[r * a.fields + f];
            s += (hits[id] + 0.25) / (seen[id] + 1.0);
        }
        score[r - half] = (float)s;
    }
    double auc;
    CHECK_OK(fr_auc(score, a.labels + half, n - half, &auc));
    CHECK(auc > 0.6, "planted signal too weak: AUC %.3f", auc);

    fr_ctr_spec bad = {.seed = 1, .rows = 0, .fields = 2, .vocab = 10};
    fr_ctr_data d;
    CHECK(fr_ctr_generate(&bad, &d) == FR_ERR_INVALID, "zero rows accepted");
    free(hits);
    free(seen);
    free(score);
    fr_ctr_free(&a);
    fr_ctr_free(&b);
    fr_ctr_free(&c);
    return fr_test_finish("test_synthetic_ctr");
}
