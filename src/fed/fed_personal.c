/* fed_personal.c — the server's arithmetic of personalised aggregation
 * (PF-MSMTrec; fedrec/fed.h, fed_personal.h) on host vectors: conflict
 * coordination of client updates (PCGrad across clients), aggregation
 * weights (sample-weighted mean, or personal: a softmax over cosine
 * similarity), and the row-wise mean of embedding updates. Sums run in
 * double, in client order, so a result depends on the inputs only. */
#include <math.h>
#include <string.h>

#include "fed/fed_personal.h"

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

size_t fr_fed_coordinate(const float *deltas, size_t n, size_t dim, const size_t *const *order, float *out)
{
    size_t conflicts = 0;
    for (size_t i = 0; i < n; i++) {
        float *d = out + i * dim;
        memcpy(d, deltas + i * dim, dim * sizeof *d);
        for (size_t k = 0; k + 1 < n; k++) {
            size_t j = order[i][k];
            const float *o = deltas + j * dim;
            double oo = dot(o, o, dim);
            if (!(oo > 0.0))
                continue;
            double dj = dot(d, o, dim);
            if (dj >= 0.0)
                continue;
            /* Project d on the normal plane of the original delta_j. */
            conflicts++;
            double c = dj / oo;
            for (size_t q = 0; q < dim; q++)
                d[q] = (float)((double)d[q] - c * (double)o[q]);
        }
    }
    return conflicts;
}

void fr_fed_weights(const float *deltas, size_t n, size_t dim, const double *samples, fr_fed_agg agg,
                    double temperature, double *a)
{
    double total = 0.0;
    for (size_t j = 0; j < n; j++)
        total += samples[j];
    if (agg != FR_FED_AGG_PERSONAL) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                a[i * n + j] = total > 0 ? samples[j] / total : 1.0 / (double)n;
        return;
    }
    double norm[FR_FED_MAX_GROUP];
    for (size_t j = 0; j < n; j++)
        norm[j] = sqrt(dot(deltas + j * dim, deltas + j * dim, dim));
    for (size_t i = 0; i < n; i++) {
        /* a_ij proportional to n_j exp(cos_ij / T), shifted by the largest
         * exponent (cos <= 1) so nothing overflows. */
        double z[FR_FED_MAX_GROUP], top = -INFINITY, sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            double c = norm[i] > 0 && norm[j] > 0
                           ? dot(deltas + i * dim, deltas + j * dim, dim) / (norm[i] * norm[j])
                           : 0.0;
            z[j] = c / temperature;
            if (z[j] > top)
                top = z[j];
        }
        for (size_t j = 0; j < n; j++) {
            z[j] = samples[j] * exp(z[j] - top);
            sum += z[j];
        }
        for (size_t j = 0; j < n; j++)
            a[i * n + j] = sum > 0 ? z[j] / sum : 1.0 / (double)n;
    }
}

void fr_fed_apply(const float *deltas, size_t n, size_t dim, const double *a, size_t i, float *received)
{
    for (size_t q = 0; q < dim; q++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++)
            s += a[i * n + j] * (double)deltas[j * dim + q];
        received[q] = (float)((double)received[q] + s);
    }
}

void fr_fed_apply_rows(const float *deltas, size_t n, size_t rows, size_t cols, const double *samples,
                       float *received)
{
    for (size_t r = 0; r < rows; r++) {
        double w[FR_FED_MAX_GROUP], total = 0.0;
        for (size_t j = 0; j < n; j++) {
            const float *d = deltas + j * rows * cols + r * cols;
            int changed = 0;
            for (size_t q = 0; q < cols && !changed; q++)
                changed = d[q] != 0.0f;
            w[j] = changed ? samples[j] : 0.0;
            total += w[j];
        }
        if (!(total > 0))
            continue;
        float *out = received + r * cols;
        for (size_t q = 0; q < cols; q++) {
            double s = 0.0;
            for (size_t j = 0; j < n; j++)
                s += w[j] * (double)deltas[j * rows * cols + r * cols + q];
            out[q] = (float)((double)out[q] + s / total);
        }
    }
}
