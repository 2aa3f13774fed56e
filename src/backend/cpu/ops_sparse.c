/* ops_sparse.c — embedding gather and scatter-add, sparse row updates and
 * dense Adam on host pointers (formulas in cpu_ops.h). Scatter-add adds in
 * index order, so repeated ids sum the same way on every run. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"

void fr_cpu_embedding_gather(size_t n_idx, size_t dim, const float *table,
                             const int32_t *idx, float *out)
{
    for (size_t i = 0; i < n_idx; i++)
        memcpy(out + i * dim, table + (size_t)idx[i] * dim, dim * sizeof *out);
}

void fr_cpu_embedding_scatter_add(size_t n_idx, size_t dim, const float *dout,
                                  const int32_t *idx, float *dtable)
{
    for (size_t i = 0; i < n_idx; i++) {
        float *row = dtable + (size_t)idx[i] * dim;
        const float *g = dout + i * dim;
        for (size_t d = 0; d < dim; d++)
            row[d] += g[d];
    }
}

void fr_cpu_sgd_rows(size_t n_rows, size_t dim, const int32_t *rows,
                     const float *grad, float *param, float lr, float weight_decay)
{
    for (size_t i = 0; i < n_rows; i++) {
        float *w = param + (size_t)rows[i] * dim;
        const float *g = grad + i * dim;
        for (size_t d = 0; d < dim; d++)
            w[d] -= lr * (g[d] + weight_decay * w[d]);
    }
}

/* One Adam step over n contiguous values. */
static void adam_span(size_t n, const float *g, float *w, float *m, float *v,
                      const fr_adam_step *h, float bc1, float bc2)
{
    for (size_t d = 0; d < n; d++) {
        float w_old = w[d];
        float gd = h->decoupled ? g[d] : g[d] + h->weight_decay * w_old;
        m[d] = h->beta1 * m[d] + (1.0f - h->beta1) * gd;
        v[d] = h->beta2 * v[d] + (1.0f - h->beta2) * gd * gd;
        float mhat = m[d] / bc1, vhat = v[d] / bc2;
        w[d] = w_old - h->lr * mhat / (sqrtf(vhat) + h->eps);
        if (h->decoupled)
            w[d] -= h->lr * h->weight_decay * w_old;
    }
}

static void bias_corrections(const fr_adam_step *h, float *bc1, float *bc2)
{
    *bc1 = (float)(1.0 - pow(h->beta1, (double)h->step));
    *bc2 = (float)(1.0 - pow(h->beta2, (double)h->step));
}

void fr_cpu_adam_rows(size_t n_rows, size_t dim, const int32_t *rows,
                      const float *grad, float *param, float *m, float *v,
                      const fr_adam_step *h)
{
    float bc1, bc2;
    bias_corrections(h, &bc1, &bc2);
    for (size_t i = 0; i < n_rows; i++) {
        size_t r = (size_t)rows[i] * dim;
        adam_span(dim, grad + i * dim, param + r, m + r, v + r, h, bc1, bc2);
    }
}

void fr_cpu_adam(size_t n, const float *grad, float *param, float *m, float *v,
                 const fr_adam_step *h)
{
    float bc1, bc2;
    bias_corrections(h, &bc1, &bc2);
    adam_span(n, grad, param, m, v, h, bc1, bc2);
}
