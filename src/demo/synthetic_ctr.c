/* synthetic_ctr.c — the planted click-through generator (see
 * fedrec/synthetic_ctr.h for the model). Hidden factors come from stream
 * (seed, 0, field, FR_RNG_DATA); row r's draws from (seed, 1, r, FR_RNG_DATA),
 * so any row can be regenerated alone and the set does not depend on how it
 * is produced. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/rng.h"
#include "fedrec/synthetic_ctr.h"

#define FACTOR_DIM 4

/* Zipf-like draw over [0, vocab) with exponent ~1: inverse of the
 * continuous CDF of 1/(x+1), cheap and smooth enough for a demo. */
static int32_t popular_value(fr_rng *rng, size_t vocab)
{
    double u = fr_rng_uniform_double(rng);
    double v = exp(u * log((double)vocab + 1.0)) - 1.0;
    size_t k = (size_t)v;
    return (int32_t)(k < vocab ? k : vocab - 1);
}

fr_status fr_ctr_generate(const fr_ctr_spec *spec, fr_ctr_data *out)
{
    memset(out, 0, sizeof *out);
    if (spec->rows == 0 || spec->fields == 0 || spec->vocab < 2)
        return fr_fail(FR_ERR_INVALID, "synthetic data: rows (%zu) and fields (%zu) must be >= 1 and vocab (%zu) >= 2",
                       spec->rows, spec->fields, spec->vocab);
    if (spec->fields * spec->vocab > (size_t)INT32_MAX)
        return fr_fail(FR_ERR_INVALID, "synthetic data: fields x vocab = %zu exceeds 2^31-1 ids",
                       spec->fields * spec->vocab);
    size_t n_values = spec->fields * spec->vocab;
    float *bias = malloc(n_values * sizeof *bias);
    float *factor = malloc(n_values * FACTOR_DIM * sizeof *factor);
    float *numeric_w = malloc((spec->numeric + 1) * sizeof *numeric_w);
    out->ids = malloc(spec->rows * spec->fields * sizeof *out->ids);
    out->numbers = malloc((spec->rows * spec->numeric + 1) * sizeof *out->numbers);
    out->labels = malloc(spec->rows * sizeof *out->labels);
    double *logits = malloc(spec->rows * sizeof *logits);
    if (!bias || !factor || !numeric_w || !out->ids || !out->numbers ||
        !out->labels || !logits) {
        free(bias); free(factor); free(numeric_w); free(logits);
        fr_ctr_free(out);
        return fr_fail_nomem("synthetic data", spec->rows * (spec->fields + spec->numeric + 3) * 4);
    }
    out->rows = spec->rows;
    out->fields = spec->fields;
    out->vocab = spec->vocab;
    out->numeric = spec->numeric;

    for (size_t f = 0; f < spec->fields; f++) {
        fr_rng rng;
        fr_rng_init(&rng, spec->seed, 0, (uint32_t)f, FR_RNG_DATA);
        for (size_t v = 0; v < spec->vocab; v++) {
            size_t id = f * spec->vocab + v;
            bias[id] = 0.5f * fr_rng_normal(&rng);
            for (int d = 0; d < FACTOR_DIM; d++)
                factor[id * FACTOR_DIM + d] = 0.6f * fr_rng_normal(&rng);
        }
    }
    {
        fr_rng rng;
        fr_rng_init(&rng, spec->seed, 0, (uint32_t)spec->fields, FR_RNG_DATA);
        for (size_t j = 0; j < spec->numeric; j++)
            numeric_w[j] = 0.5f * fr_rng_normal(&rng);
    }
    /* Interactions are scaled so their total variance stays near one
     * whatever the number of field pairs. */
    double pairs = spec->fields > 1 ? (double)spec->fields * (spec->fields - 1) / 2 : 1;
    double pair_scale = 1.0 / sqrt(pairs);
    double first_scale = 1.0 / sqrt((double)spec->fields);
    for (size_t r = 0; r < spec->rows; r++) {
        fr_rng rng;
        fr_rng_init(&rng, spec->seed, 1, (uint32_t)r, FR_RNG_DATA);
        int32_t *ids = out->ids + r * spec->fields;
        double z = 0;
        for (size_t f = 0; f < spec->fields; f++) {
            ids[f] = (int32_t)(f * spec->vocab) + popular_value(&rng, spec->vocab);
            z += first_scale * bias[ids[f]];
        }
        for (size_t f = 0; f < spec->fields; f++)
            for (size_t g = f + 1; g < spec->fields; g++) {
                double dot = 0;
                for (int d = 0; d < FACTOR_DIM; d++)
                    dot += factor[ids[f] * FACTOR_DIM + d] * factor[ids[g] * FACTOR_DIM + d];
                z += pair_scale * 2.0 * dot;
            }
        for (size_t j = 0; j < spec->numeric; j++) {
            float x = fr_rng_normal(&rng);
            out->numbers[r * spec->numeric + j] = x;
            z += numeric_w[j] * x;
        }
        logits[r] = z;
    }
    /* Shift the logits so that the mean click probability is near 25 %. */
    double lo = -20, hi = 20;
    for (int it = 0; it < 60; it++) {
        double mid = (lo + hi) / 2, mean = 0;
        for (size_t r = 0; r < spec->rows; r++)
            mean += 1.0 / (1.0 + exp(-(logits[r] + mid)));
        if (mean / (double)spec->rows > 0.25)
            hi = mid;
        else
            lo = mid;
    }
    for (size_t r = 0; r < spec->rows; r++) {
        fr_rng rng;
        fr_rng_init(&rng, spec->seed, 2, (uint32_t)r, FR_RNG_DATA);
        double p = 1.0 / (1.0 + exp(-(logits[r] + lo)));
        out->labels[r] = fr_rng_uniform_double(&rng) < p ? 1.0f : 0.0f;
    }
    free(bias);
    free(factor);
    free(numeric_w);
    free(logits);
    return FR_OK;
}

void fr_ctr_free(fr_ctr_data *data)
{
    free(data->ids);
    free(data->numbers);
    free(data->labels);
    memset(data, 0, sizeof *data);
}
