/* ops_norm.c — batch-norm over the rows of a matrix, per column, on host
 * pointers (formulas in cpu_ops.h). Work goes in blocks of columns: a
 * block's statistics live in small arrays while the rows stream past in
 * memory order, and blocks are what threads share out. Statistics are
 * summed in double (from float partial sums of BN_CHUNK rows), deviations
 * from the mean in a second pass: features can have large means, where
 * one-pass float sums lose the variance. */
#include <math.h>

#include "backend/cpu/cpu_ops.h"

/* Column blocks are as wide as the split over threads allows, up to
 * BN_BLOCK: each row's slice of a block is then a long contiguous run,
 * which the prefetchers stream. Narrow blocks (64 columns of a 2048-wide
 * matrix) read rows 8 KiB apart, which all fall in a few cache sets and
 * miss on every pass. The column sums do not depend on the block width. */
#define BN_BLOCK 512
#define BN_MIN_BLOCK 16
/* Rows summed in float before the partial sums go into the double
 * accumulators: float sums vectorise four to sixteen wide where double
 * ones (with a conversion each) ran two wide; sixteen terms in float lose
 * at most a few units in the last place of the partial sum. */
#define BN_CHUNK 16

typedef struct bn_args {
    size_t rows, cols;
    const float *x, *gamma, *beta, *dy;
    size_t block;                     /* columns per block */
    const float *mean_in, *invstd_in; /* saved (backward) or running (eval) */
    const float *var_in;
    float eps, momentum;
    float *y, *save_mean, *save_invstd, *running_mean, *running_var;
    float *dgamma, *dbeta;
} bn_args;

/* Columns [c0, c0 + w) of block blk. */
static size_t block_cols(const bn_args *o, size_t blk, size_t *c0)
{
    *c0 = blk * o->block;
    return o->cols - *c0 < o->block ? o->cols - *c0 : o->block;
}

/* Split the columns into blocks, one or more per task, and run fn over
 * them. */
static void run_blocks(fr_cpu_engine *e, bn_args *o, size_t grain, fr_cpu_range_fn fn)
{
    size_t tasks = fr_cpu_ops_tasks(e, o->rows * o->cols, grain);
    size_t per_task = (o->cols + tasks - 1) / tasks;
    size_t block = (per_task + BN_MIN_BLOCK - 1) / BN_MIN_BLOCK * BN_MIN_BLOCK;
    o->block = block > BN_BLOCK ? BN_BLOCK : block;
    size_t blocks = (o->cols + o->block - 1) / o->block;
    fr_cpu_ops_ranges(e, blocks, o->rows * o->block, grain, fn, o);
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
        float fmean[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK], part[BN_BLOCK];
        for (size_t r0 = 0; r0 < rows; r0 += BN_CHUNK) {
            size_t r1 = rows - r0 < BN_CHUNK ? rows : r0 + BN_CHUNK;
            for (size_t c = 0; c < w; c++)
                part[c] = 0.0f;
            for (size_t r = r0; r < r1; r++) {
                const float *restrict xr = x + r * cols + c0;
                for (size_t c = 0; c < w; c++)
                    part[c] += xr[c];
            }
            for (size_t c = 0; c < w; c++)
                mean[c] += part[c];
        }
        for (size_t c = 0; c < w; c++) {
            mean[c] /= (double)rows;
            fmean[c] = (float)mean[c];
        }
        /* Two passes (mean, then squared deviations): no cancellation. */
        for (size_t r0 = 0; r0 < rows; r0 += BN_CHUNK) {
            size_t r1 = rows - r0 < BN_CHUNK ? rows : r0 + BN_CHUNK;
            for (size_t c = 0; c < w; c++)
                part[c] = 0.0f;
            for (size_t r = r0; r < r1; r++) {
                const float *restrict xr = x + r * cols + c0;
                for (size_t c = 0; c < w; c++) {
                    float d = xr[c] - fmean[c];
                    part[c] += d * d;
                }
            }
            for (size_t c = 0; c < w; c++)
                ssd[c] += part[c];
        }
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            double biased = ssd[c] / (double)rows;
            double unbiased = rows > 1 ? ssd[c] / (double)(rows - 1) : biased;
            float invstd = (float)(1.0 / sqrt(biased + o->eps));
            o->save_mean[j] = fmean[c];
            o->save_invstd[j] = invstd;
            o->running_mean[j] = (1.0f - o->momentum) * o->running_mean[j] + o->momentum * fmean[c];
            o->running_var[j] = (1.0f - o->momentum) * o->running_var[j] + o->momentum * (float)unbiased;
            /* y = gamma (x - mean) invstd + beta = (x - mean) scale + shift;
             * centred first, so a large mean does not cancel. */
            scale[c] = o->gamma[j] * invstd;
            shift[c] = o->beta[j];
        }
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0;
            float *restrict yr = y + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                yr[c] = (xr[c] - fmean[c]) * scale[c] + shift[c];
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
    run_blocks(e, &o, FR_CPU_GRAIN_HEAVY, bn_train_blocks);
}

static void bn_eval_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    size_t cols = o->cols;
    const float *restrict x = o->x;
    float *restrict y = o->y;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        float mean[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK];
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            scale[c] = o->gamma[j] / sqrtf(o->var_in[j] + o->eps);
            mean[c] = o->mean_in[j];
            shift[c] = o->beta[j];
        }
        for (size_t r = 0; r < o->rows; r++) {
            const float *restrict xr = x + r * cols + c0;
            float *restrict yr = y + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                yr[c] = (xr[c] - mean[c]) * scale[c] + shift[c];
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
    run_blocks(e, &o, FR_CPU_GRAIN_LIGHT, bn_eval_blocks);
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
        /* Sums of dy and of dy (x - mean), the latter = sum dy xhat / invstd;
         * centring first keeps large means from cancelling. */
        double sum_dy[BN_BLOCK] = {0}, sum_dy_d[BN_BLOCK] = {0};
        float m[BN_BLOCK], a[BN_BLOCK], b[BN_BLOCK], cst[BN_BLOCK], part_dy[BN_BLOCK], part_dy_d[BN_BLOCK];
        for (size_t c = 0; c < w; c++)
            m[c] = o->mean_in[c0 + c];
        for (size_t r0 = 0; r0 < rows; r0 += BN_CHUNK) {
            size_t r1 = rows - r0 < BN_CHUNK ? rows : r0 + BN_CHUNK;
            for (size_t c = 0; c < w; c++)
                part_dy[c] = part_dy_d[c] = 0.0f;
            for (size_t r = r0; r < r1; r++) {
                const float *restrict xr = x + r * cols + c0, *restrict dr = dy + r * cols + c0;
                for (size_t c = 0; c < w; c++) {
                    part_dy[c] += dr[c];
                    part_dy_d[c] += dr[c] * (xr[c] - m[c]);
                }
            }
            for (size_t c = 0; c < w; c++) {
                sum_dy[c] += part_dy[c];
                sum_dy_d[c] += part_dy_d[c];
            }
        }
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            double invstd = o->invstd_in[j];
            double sum_dy_xhat = sum_dy_d[c] * invstd;
            o->dgamma[j] += (float)sum_dy_xhat;
            o->dbeta[j] += (float)sum_dy[c];
            double k = (double)o->gamma[j] * invstd / n;
            /* dx = k (n dy - sum_dy - xhat sum_dy_xhat), xhat = (x - mean) invstd
             *    = dy a - (x - mean) b + cst */
            a[c] = (float)(k * n);
            b[c] = (float)(k * invstd * sum_dy_xhat);
            cst[c] = (float)(-k * sum_dy[c]);
        }
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0, *restrict dr = dy + r * cols + c0;
            float *restrict out = dx + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                out[c] = dr[c] * a[c] - (xr[c] - m[c]) * b[c] + cst[c];
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
    run_blocks(e, &o, FR_CPU_GRAIN_HEAVY, bn_backward_blocks);
}
