/* ref_ops.c — the scalar reference (see ref_ops.h). */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"

void ref_gemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha,
              const float *a, size_t lda, const float *b, size_t ldb,
              double beta, double *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                     (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
            /* beta == 0: C is not read (it may hold NaN). */
            c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
        }
}

void ref_gemm_strided_batched(int ta, int tb, size_t m, size_t n, size_t k,
                              double alpha, const float *a, size_t lda,
                              size_t stride_a, const float *b, size_t ldb,
                              size_t stride_b, double beta, double *c,
                              size_t ldc, size_t stride_c, size_t batch)
{
    for (size_t i = 0; i < batch; i++)
        ref_gemm(ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                 c + i * stride_c, ldc);
}

void ref_axpy(size_t n, double alpha, const float *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

double ref_dot(size_t n, const float *x, const float *y)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * y[i];
    return s;
}

double ref_nrm2(size_t n, const float *x)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s);
}

void ref_scal(size_t n, double alpha, double *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
}

void ref_copy(size_t n, const float *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
}

void ref_fill(size_t n, double value, double *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

void ref_mul(size_t n, const float *a, const float *b, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (double)a[i] * b[i];
}

void ref_bias_add(size_t rows, size_t cols, double *x, const float *bias)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            x[r * cols + c] += bias[c];
}

void ref_col_sum(size_t rows, size_t cols, const float *x, double beta, double *out)
{
    for (size_t c = 0; c < cols; c++) {
        double s = 0;
        for (size_t r = 0; r < rows; r++)
            s += x[r * cols + c];
        out[c] = (beta == 0 ? 0 : beta * out[c]) + s;
    }
}

double ref_relu(double x)
{
    return x > 0 ? x : 0;
}

double ref_relu_backward(double x, double dy)
{
    return x > 0 ? dy : 0;
}

double ref_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

double ref_sigmoid_backward(double y, double dy)
{
    return dy * y * (1.0 - y);
}

void ref_softmax_rows(size_t rows, size_t cols, const float *x, double *y)
{
    for (size_t r = 0; r < rows; r++) {
        double mx = -INFINITY, s = 0;
        for (size_t c = 0; c < cols; c++)
            mx = fmax(mx, x[r * cols + c]);
        for (size_t c = 0; c < cols; c++)
            s += exp(x[r * cols + c] - mx);
        for (size_t c = 0; c < cols; c++)
            y[r * cols + c] = exp(x[r * cols + c] - mx) / s;
    }
}

void ref_softmax_rows_backward(size_t rows, size_t cols, const float *y,
                               const float *dy, double *dx)
{
    for (size_t r = 0; r < rows; r++) {
        double dot = 0;
        for (size_t c = 0; c < cols; c++)
            dot += (double)y[r * cols + c] * dy[r * cols + c];
        for (size_t c = 0; c < cols; c++)
            dx[r * cols + c] = y[r * cols + c] * (dy[r * cols + c] - dot);
    }
}

static void column_stats(size_t rows, size_t cols, const float *x, size_t c,
                         double *mean, double *var)
{
    double s = 0, q = 0;
    for (size_t r = 0; r < rows; r++)
        s += x[r * cols + c];
    *mean = s / (double)rows;
    for (size_t r = 0; r < rows; r++)
        q += (x[r * cols + c] - *mean) * (x[r * cols + c] - *mean);
    *var = q / (double)rows;
}

static double relu_if(int relu, double v)
{
    return relu && !(v > 0.0) ? 0.0 : v;
}

void ref_batchnorm_train(size_t rows, size_t cols, const float *x,
                         const float *gamma, const float *beta, double eps,
                         double momentum, int relu, double *y, double *mean,
                         double *invstd, double *run_mean, double *run_var)
{
    for (size_t c = 0; c < cols; c++) {
        double mu, var;
        column_stats(rows, cols, x, c, &mu, &var);
        mean[c] = mu;
        invstd[c] = 1.0 / sqrt(var + eps);
        run_mean[c] = (1 - momentum) * run_mean[c] + momentum * mu;
        run_var[c] = (1 - momentum) * run_var[c] + momentum * var * (double)rows / (double)(rows - 1);
        for (size_t r = 0; r < rows; r++)
            y[r * cols + c] = relu_if(relu, gamma[c] * (x[r * cols + c] - mu) * invstd[c] + beta[c]);
    }
}

void ref_batchnorm_eval(size_t rows, size_t cols, const float *x,
                        const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var,
                        double eps, int relu, double *y)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[r * cols + c] = relu_if(relu, gamma[c] * (x[r * cols + c] - run_mean[c]) / sqrt(run_var[c] + eps) +
                                                beta[c]);
}

/* dy[i], or 0 where a fused ReLU's output was not positive. */
static double masked_dy(const float *relu_out, const float *dy, size_t i)
{
    return relu_out && !(relu_out[i] > 0.0f) ? 0.0 : (double)dy[i];
}

void ref_batchnorm_backward(size_t rows, size_t cols, const float *x,
                            const float *gamma, const float *relu_out,
                            const float *dy, double eps, double *dx,
                            double *dgamma, double *dbeta)
{
    /* Textbook form: through the mean and the variance separately. */
    for (size_t c = 0; c < cols; c++) {
        double mu, var;
        column_stats(rows, cols, x, c, &mu, &var);
        double is = 1.0 / sqrt(var + eps), n = (double)rows;
        double dvar = 0, dmu = 0;
        for (size_t r = 0; r < rows; r++) {
            double dxhat = masked_dy(relu_out, dy, r * cols + c) * gamma[c];
            dvar += dxhat * (x[r * cols + c] - mu) * -0.5 * is * is * is;
            dmu += -dxhat * is;
            dgamma[c] += masked_dy(relu_out, dy, r * cols + c) * (x[r * cols + c] - mu) * is;
            dbeta[c] += masked_dy(relu_out, dy, r * cols + c);
        }
        for (size_t r = 0; r < rows; r++) {
            double dxhat = masked_dy(relu_out, dy, r * cols + c) * gamma[c];
            dx[r * cols + c] = dxhat * is + dvar * 2 * (x[r * cols + c] - mu) / n + dmu / n;
        }
    }
}

void ref_embedding_gather(size_t n_idx, size_t dim, const float *table,
                          const int32_t *idx, double *out)
{
    for (size_t i = 0; i < n_idx; i++)
        for (size_t d = 0; d < dim; d++)
            out[i * dim + d] = table[(size_t)idx[i] * dim + d];
}

void ref_embedding_scatter_add(size_t n_idx, size_t dim, const float *dout,
                               const int32_t *idx, double *dtable)
{
    for (size_t i = 0; i < n_idx; i++)
        for (size_t d = 0; d < dim; d++)
            dtable[(size_t)idx[i] * dim + d] += dout[i * dim + d];
}

void ref_embedding_scatter_add_ordered(size_t n_idx, size_t dim,
                                       const float *dout, const int32_t *idx,
                                       float *dtable)
{
    for (size_t i = 0; i < n_idx; i++)
        for (size_t d = 0; d < dim; d++)
            dtable[(size_t)idx[i] * dim + d] += dout[i * dim + d];
}

void ref_rows_dot(size_t n, size_t dim, const float *x, size_t ldx,
                  const int32_t *xi, const float *y, size_t ldy,
                  const int32_t *yi, const float *bias, double *out)
{
    for (size_t j = 0; j < n; j++) {
        const float *xr = x + (size_t)xi[j] * ldx, *yr = y + (size_t)yi[j] * ldy;
        double s = 0;
        for (size_t c = 0; c < dim; c++)
            s += (double)xr[c] * yr[c];
        out[j] = bias ? s + bias[xi[j]] : s;
    }
}

/* Coefficient and x row of contribution k. */
static double seg_coef(const float *coef, const int32_t *ci, size_t k)
{
    return coef ? coef[ci ? (size_t)ci[k] : k] : 1.0;
}

static size_t seg_row(const int32_t *xi, size_t k)
{
    return xi ? (size_t)xi[k] : k;
}

void ref_segment_rows_axpy(size_t n_seg, size_t dim, const int32_t *start,
                           const int32_t *yi, double alpha, const float *coef,
                           const int32_t *ci, const float *x, size_t ldx,
                           const int32_t *xi, double *y, size_t ldy)
{
    for (size_t s = 0; s < n_seg; s++)
        for (size_t c = 0; c < dim; c++) {
            double sum = 0;
            for (size_t k = (size_t)start[s]; k < (size_t)start[s + 1]; k++)
                sum += seg_coef(coef, ci, k) * x[seg_row(xi, k) * ldx + c];
            y[(size_t)yi[s] * ldy + c] += alpha * sum;
        }
}

void ref_segment_rows_axpy_ordered(size_t n_seg, size_t dim,
                                   const int32_t *start, const int32_t *yi,
                                   float alpha, const float *coef,
                                   const int32_t *ci, const float *x,
                                   size_t ldx, const int32_t *xi, float *y,
                                   size_t ldy)
{
    for (size_t s = 0; s < n_seg; s++) {
        if (start[s] == start[s + 1])
            continue; /* an empty segment leaves its row alone (-0 stays -0) */
        for (size_t c = 0; c < dim; c++) {
            float sum = 0.0f;
            for (size_t k = (size_t)start[s]; k < (size_t)start[s + 1]; k++) {
                float term = (float)seg_coef(coef, ci, k) * x[seg_row(xi, k) * ldx + c];
                sum += term;
            }
            float add = alpha * sum;
            y[(size_t)yi[s] * ldy + c] += add;
        }
    }
}

void ref_sgd_rows(size_t n_rows, size_t dim, const int32_t *rows,
                  const float *grad, double *param, double lr, double wd)
{
    for (size_t i = 0; i < n_rows; i++)
        for (size_t d = 0; d < dim; d++) {
            double *w = &param[(size_t)rows[i] * dim + d];
            *w -= lr * (grad[i * dim + d] + wd * *w);
        }
}

void ref_adam(double *w, double *m, double *v, double g, double lr,
              double b1, double b2, double eps, double wd, int decoupled,
              long step)
{
    double w0 = *w;
    if (!decoupled)
        g += wd * w0;
    *m = b1 * *m + (1 - b1) * g;
    *v = b2 * *v + (1 - b2) * g * g;
    double mh = *m / (1 - pow(b1, (double)step)), vh = *v / (1 - pow(b2, (double)step));
    *w = w0 - lr * mh / (sqrt(vh) + eps);
    if (decoupled)
        *w -= lr * wd * w0;
}

void ref_adam_rows(size_t n_rows, size_t dim, const int32_t *rows,
                   const float *grad, double *param, double *m, double *v,
                   double lr, double b1, double b2, double eps, double wd,
                   int decoupled, long step)
{
    for (size_t i = 0; i < n_rows; i++)
        for (size_t d = 0; d < dim; d++) {
            size_t q = (size_t)rows[i] * dim + d;
            ref_adam(&param[q], &m[q], &v[q], grad[i * dim + d], lr, b1, b2, eps, wd, decoupled,
                     step);
        }
}

void ref_adam_dense(size_t n, const float *grad, double *param, double *m,
                    double *v, double lr, double b1, double b2, double eps,
                    double wd, int decoupled, long step)
{
    for (size_t i = 0; i < n; i++)
        ref_adam(&param[i], &m[i], &v[i], grad[i], lr, b1, b2, eps, wd, decoupled, step);
}

void ref_bce(double z, double y, double *loss, double *dz)
{
    /* log(1 + e^z) - z y, evaluated without overflow. */
    *loss = (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - z * y;
    *dz = ref_sigmoid(z) - y;
}
