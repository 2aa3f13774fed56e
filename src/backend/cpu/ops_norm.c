/* ops_norm.c — batch-norm over the rows of a matrix, per column, on host
 * pointers (formulas in cpu_ops.h). Work goes in blocks of columns: a
 * block's statistics live in small arrays while the rows stream past in
 * memory order, and blocks are what threads share out. Statistics are
 * summed in double: batches are small and features can have large means,
 * where float sums lose the variance. */
#include <math.h>

#include "backend/cpu/cpu_ops.h"

#define BN_BLOCK 64

typedef struct bn_args {
    size_t rows, cols;
    const float *x, *gamma, *beta, *dy;
    const float *mean_in, *invstd_in; /* saved (backward) or running (eval) */
    const float *var_in;
    float eps, momentum;
    float *y, *save_mean, *save_invstd, *running_mean, *running_var;
    float *dgamma, *dbeta;
} bn_args;

/* Columns [c0, c0 + w) of block blk. */
static size_t block_cols(const bn_args *o, size_t blk, size_t *c0)
{
    *c0 = blk * BN_BLOCK;
    return o->cols - *c0 < BN_BLOCK ? o->cols - *c0 : BN_BLOCK;
}

static void bn_train_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    size_t rows = o->rows, cols = o->cols;
    const float *restrict x = o->x;
    float *restrict y = o->y;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        double mean[BN_BLOCK] = {0}, ssd[BN_BLOCK] = {0};
        float fmean[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK];
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                mean[c] += xr[c];
        }
        for (size_t c = 0; c < w; c++)
            mean[c] /= (double)rows;
        /* Two passes (mean, then squared deviations): no cancellation. */
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0;
            for (size_t c = 0; c < w; c++) {
                double d = xr[c] - mean[c];
                ssd[c] += d * d;
            }
        }
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            double biased = ssd[c] / (double)rows;
            double unbiased = rows > 1 ? ssd[c] / (double)(rows - 1) : biased;
            float invstd = (float)(1.0 / sqrt(biased + o->eps));
            fmean[c] = (float)mean[c];
            o->save_mean[j] = fmean[c];
            o->save_invstd[j] = invstd;
            o->running_mean[j] = (1.0f - o->momentum) * o->running_mean[j] + o->momentum * fmean[c];
            o->running_var[j] = (1.0f - o->momentum) * o->running_var[j] + o->momentum * (float)unbiased;
            /* y = gamma (x - mean) invstd + beta = x scale + shift */
            scale[c] = o->gamma[j] * invstd;
            shift[c] = o->beta[j] - fmean[c] * scale[c];
        }
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0;
            float *restrict yr = y + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                yr[c] = xr[c] * scale[c] + shift[c];
        }
    }
}

void fr_cpu_batchnorm_forward_train(fr_cpu_engine *e, size_t rows, size_t cols, const float *x,
                                    const float *gamma, const float *beta, float eps,
                                    float momentum, float *y, float *save_mean,
                                    float *save_invstd, float *running_mean, float *running_var)
{
    bn_args o = {.rows = rows, .cols = cols, .x = x, .gamma = gamma, .beta = beta, .eps = eps,
                 .momentum = momentum, .y = y, .save_mean = save_mean,
                 .save_invstd = save_invstd, .running_mean = running_mean,
                 .running_var = running_var};
    fr_cpu_ops_ranges(e, (cols + BN_BLOCK - 1) / BN_BLOCK, rows * BN_BLOCK, FR_CPU_GRAIN_HEAVY,
                      bn_train_blocks, &o);
}

static void bn_eval_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    size_t cols = o->cols;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        float invstd[BN_BLOCK];
        for (size_t c = 0; c < w; c++)
            invstd[c] = 1.0f / sqrtf(o->var_in[c0 + c] + o->eps);
        for (size_t r = 0; r < o->rows; r++)
            for (size_t c = 0; c < w; c++) {
                size_t q = r * cols + c0 + c;
                o->y[q] = o->gamma[c0 + c] * ((o->x[q] - o->mean_in[c0 + c]) * invstd[c]) +
                          o->beta[c0 + c];
            }
    }
}

void fr_cpu_batchnorm_forward_eval(fr_cpu_engine *e, size_t rows, size_t cols, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var,
                                   float eps, float *y)
{
    bn_args o = {.rows = rows, .cols = cols, .x = x, .gamma = gamma, .beta = beta,
                 .mean_in = running_mean, .var_in = running_var, .eps = eps, .y = y};
    fr_cpu_ops_ranges(e, (cols + BN_BLOCK - 1) / BN_BLOCK, rows * BN_BLOCK, FR_CPU_GRAIN_LIGHT,
                      bn_eval_blocks, &o);
}

static void bn_backward_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    size_t rows = o->rows, cols = o->cols;
    const float *restrict x = o->x, *restrict dy = o->dy;
    float *restrict dx = o->y;
    double n = (double)rows;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        /* Sums of dy and dy * x in double; sum dy xhat follows from them:
         * sum dy (x - mean) invstd = (sum dy x - mean sum dy) invstd. */
        double sum_dy[BN_BLOCK] = {0}, sum_dy_x[BN_BLOCK] = {0};
        float a[BN_BLOCK], b[BN_BLOCK], cst[BN_BLOCK];
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0, *restrict dr = dy + r * cols + c0;
            for (size_t c = 0; c < w; c++) {
                sum_dy[c] += dr[c];
                sum_dy_x[c] += (double)dr[c] * xr[c];
            }
        }
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            double mean = o->mean_in[j], invstd = o->invstd_in[j];
            double sum_dy_xhat = (sum_dy_x[c] - mean * sum_dy[c]) * invstd;
            o->dgamma[j] += (float)sum_dy_xhat;
            o->dbeta[j] += (float)sum_dy[c];
            double k = (double)o->gamma[j] * invstd / n;
            /* dx = k (n dy - sum_dy - xhat sum_dy_xhat), xhat = (x - mean) invstd
             *    = dy a - x b + cst */
            a[c] = (float)(k * n);
            b[c] = (float)(k * invstd * sum_dy_xhat);
            cst[c] = (float)(k * (mean * invstd * sum_dy_xhat - sum_dy[c]));
        }
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0, *restrict dr = dy + r * cols + c0;
            float *restrict out = dx + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                out[c] = dr[c] * a[c] - xr[c] * b[c] + cst[c];
        }
    }
}

void fr_cpu_batchnorm_backward(fr_cpu_engine *e, size_t rows, size_t cols, const float *x,
                               const float *gamma, const float *save_mean,
                               const float *save_invstd, const float *dy, float *dx,
                               float *dgamma, float *dbeta)
{
    bn_args o = {.rows = rows, .cols = cols, .x = x, .gamma = gamma, .dy = dy,
                 .mean_in = save_mean, .invstd_in = save_invstd, .y = dx, .dgamma = dgamma,
                 .dbeta = dbeta};
    fr_cpu_ops_ranges(e, (cols + BN_BLOCK - 1) / BN_BLOCK, rows * BN_BLOCK, FR_CPU_GRAIN_HEAVY,
                      bn_backward_blocks, &o);
}
