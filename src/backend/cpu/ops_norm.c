/* ops_norm.c — batch-norm over the rows of a matrix, per column, on host
 * pointers, with an optional fused ReLU (formulas in cpu_ops.h). Work goes
 * in blocks of columns: a block's statistics live in small arrays while
 * the rows stream past in memory order, and blocks are what threads share
 * out. The arrays are large (a 2048 x 2048 expert layer is 16 MiB, far
 * past L2), so what costs is passes over memory: the forward reads x once
 * for the statistics and once to write y; the backward reads x and dy
 * once for its sums and once to write dx. Features can have large means,
 * where one-pass float sums of x and x^2 lose the variance: each chunk of
 * BN_CHUNK rows is summed about its own mean while it is in L1, and the
 * chunks are merged in double. */
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
 * at most a few units in the last place of the partial sum. A chunk of a
 * block (16 x 512 floats, 32 KiB) is still in L1 when it is read again. */
#define BN_CHUNK 16

typedef struct bn_args {
    size_t rows, cols;
    const float *x, *gamma, *beta, *dy;
    size_t block;                     /* columns per block */
    const float *mean_in, *invstd_in; /* saved (backward) or running (eval) */
    const float *var_in;
    float eps, momentum;
    int relu;                         /* fused ReLU on the output */
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

/* The normalised value before the ReLU: the one expression both the
 * forward and the backward (for the ReLU's mask) evaluate, so that they
 * agree on every element. */
static inline float bn_affine(float x, float mean, float scale, float shift)
{
    return (x - mean) * scale + shift;
}

/* Mean and sum of squared deviations of columns [c0, c0 + w), reading x
 * once: a chunk's float sum gives its mean, its squared deviations from
 * that mean are summed re-reading the chunk from L1, and the chunks merge
 * in double (Chan, Golub and LeVeque's pairwise update). */
static void block_stats(const bn_args *o, size_t c0, size_t w, double *mean, double *m2)
{
    size_t rows = o->rows, cols = o->cols;
    const float *restrict x = o->x;
    float part[BN_BLOCK], cmean[BN_BLOCK];
    for (size_t c = 0; c < w; c++)
        mean[c] = m2[c] = 0.0;
    double seen = 0.0;
    for (size_t r0 = 0; r0 < rows; r0 += BN_CHUNK) {
        size_t r1 = rows - r0 < BN_CHUNK ? rows : r0 + BN_CHUNK;
        float inv = 1.0f / (float)(r1 - r0);
        for (size_t c = 0; c < w; c++)
            part[c] = 0.0f;
        for (size_t r = r0; r < r1; r++) {
            const float *restrict xr = x + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                part[c] += xr[c];
        }
        for (size_t c = 0; c < w; c++) {
            cmean[c] = part[c] * inv;
            part[c] = 0.0f;
        }
        for (size_t r = r0; r < r1; r++) {
            const float *restrict xr = x + r * cols + c0;
            for (size_t c = 0; c < w; c++) {
                float d = xr[c] - cmean[c];
                part[c] += d * d;
            }
        }
        double n_b = (double)(r1 - r0), n = seen + n_b, wb = n_b / n, cross = seen * wb;
        for (size_t c = 0; c < w; c++) {
            double delta = (double)cmean[c] - mean[c];
            mean[c] += delta * wb;
            m2[c] += (double)part[c] + delta * delta * cross;
        }
        seen = n;
    }
}

/* y = act((x - mean) scale + shift) over the rows of columns [c0, c0 + w). */
static void block_apply(const bn_args *o, size_t c0, size_t w, const float *mean,
                        const float *scale, const float *shift)
{
    size_t cols = o->cols;
    for (size_t r = 0; r < o->rows; r++) {
        const float *restrict xr = o->x + r * cols + c0;
        float *restrict yr = o->y + r * cols + c0;
        if (o->relu)
            for (size_t c = 0; c < w; c++) {
                float v = bn_affine(xr[c], mean[c], scale[c], shift[c]);
                yr[c] = v > 0.0f ? v : 0.0f;
            }
        else
            for (size_t c = 0; c < w; c++)
                yr[c] = bn_affine(xr[c], mean[c], scale[c], shift[c]);
    }
}

static void bn_train_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    size_t rows = o->rows;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        double mean[BN_BLOCK], ssd[BN_BLOCK];
        float fmean[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK];
        block_stats(o, c0, w, mean, ssd);
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
            /* y = gamma (x - mean) invstd + beta = (x - mean) scale + shift;
             * centred first, so a large mean does not cancel. The
             * backward rebuilds scale from the saved invstd: the same
             * float product. */
            scale[c] = o->gamma[j] * invstd;
            shift[c] = o->beta[j];
        }
        block_apply(o, c0, w, fmean, scale, shift);
    }
}

void fr_cpu_batchnorm_forward_train(fr_cpu_engine *e, size_t rows, size_t cols, const float *x,
                                    const float *gamma, const float *beta, float eps,
                                    float momentum, int relu, float *y, float *save_mean,
                                    float *save_invstd, float *running_mean, float *running_var)
{
    bn_args o = {.rows = rows, .cols = cols, .x = x, .gamma = gamma, .beta = beta, .eps = eps,
                 .momentum = momentum, .relu = relu, .y = y, .save_mean = save_mean,
                 .save_invstd = save_invstd, .running_mean = running_mean,
                 .running_var = running_var};
    run_blocks(e, &o, FR_CPU_GRAIN_HEAVY, bn_train_blocks);
}

static void bn_eval_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        float mean[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK];
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            scale[c] = o->gamma[j] / sqrtf(o->var_in[j] + o->eps);
            mean[c] = o->mean_in[j];
            shift[c] = o->beta[j];
        }
        block_apply(o, c0, w, mean, scale, shift);
    }
}

void fr_cpu_batchnorm_forward_eval(fr_cpu_engine *e, size_t rows, size_t cols, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var,
                                   float eps, int relu, float *y)
{
    bn_args o = {.rows = rows, .cols = cols, .x = x, .gamma = gamma, .beta = beta,
                 .mean_in = running_mean, .var_in = running_var, .eps = eps, .relu = relu,
                 .y = y};
    run_blocks(e, &o, FR_CPU_GRAIN_LIGHT, bn_eval_blocks);
}

/* One row's slice of dy, masked by the fused ReLU (zero where the
 * forward's output was) into g; plain dy without the ReLU. The loops stay
 * free of branches, so they vectorise. */
static inline const float *masked_row(int relu, size_t w, const float *restrict dr,
                                      const float *restrict xr, const float *restrict m,
                                      const float *restrict scale, const float *restrict shift,
                                      float *restrict g)
{
    if (!relu)
        return dr;
    for (size_t c = 0; c < w; c++) {
        float d = dr[c]; /* loaded unconditionally: the select has no branch */
        g[c] = bn_affine(xr[c], m[c], scale[c], shift[c]) > 0.0f ? d : 0.0f;
    }
    return g;
}

static void bn_backward_blocks(void *p, size_t b0, size_t b1)
{
    const bn_args *o = p;
    size_t rows = o->rows, cols = o->cols;
    const float *restrict x = o->x, *restrict dy = o->dy;
    float *restrict dx = o->y;
    double n = (double)rows;
    int relu = o->relu;
    for (size_t blk = b0; blk < b1; blk++) {
        size_t c0, w = block_cols(o, blk, &c0);
        /* Sums of g and of g (x - mean), g = dy after the ReLU's mask;
         * the latter = sum g xhat / invstd; centring first keeps large
         * means from cancelling. */
        double sum_dy[BN_BLOCK] = {0}, sum_dy_d[BN_BLOCK] = {0};
        float m[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK], a[BN_BLOCK], b[BN_BLOCK],
            cst[BN_BLOCK], part_dy[BN_BLOCK], part_dy_d[BN_BLOCK], gbuf[BN_BLOCK];
        for (size_t c = 0; c < w; c++) {
            size_t j = c0 + c;
            m[c] = o->mean_in[j];
            scale[c] = o->gamma[j] * o->invstd_in[j];
            shift[c] = o->beta[j];
        }
        for (size_t r0 = 0; r0 < rows; r0 += BN_CHUNK) {
            size_t r1 = rows - r0 < BN_CHUNK ? rows : r0 + BN_CHUNK;
            for (size_t c = 0; c < w; c++)
                part_dy[c] = part_dy_d[c] = 0.0f;
            for (size_t r = r0; r < r1; r++) {
                const float *restrict xr = x + r * cols + c0;
                const float *restrict g = masked_row(relu, w, dy + r * cols + c0, xr, m, scale, shift, gbuf);
                for (size_t c = 0; c < w; c++) {
                    part_dy[c] += g[c];
                    part_dy_d[c] += g[c] * (xr[c] - m[c]);
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
            /* dx = k (n g - sum_g - xhat sum_g_xhat), xhat = (x - mean) invstd
             *    = g a - (x - mean) b + cst */
            a[c] = (float)(k * n);
            b[c] = (float)(k * invstd * sum_dy_xhat);
            cst[c] = (float)(-k * sum_dy[c]);
        }
        for (size_t r = 0; r < rows; r++) {
            const float *restrict xr = x + r * cols + c0;
            const float *restrict g = masked_row(relu, w, dy + r * cols + c0, xr, m, scale, shift, gbuf);
            float *restrict out = dx + r * cols + c0;
            for (size_t c = 0; c < w; c++)
                out[c] = g[c] * a[c] - (xr[c] - m[c]) * b[c] + cst[c];
        }
    }
}

void fr_cpu_batchnorm_backward(fr_cpu_engine *e, size_t rows, size_t cols, const float *x,
                               const float *gamma, const float *beta, const float *save_mean,
                               const float *save_invstd, int relu, const float *dy, float *dx,
                               float *dgamma, float *dbeta)
{
    bn_args o = {.rows = rows, .cols = cols, .x = x, .gamma = gamma, .beta = beta, .dy = dy,
                 .mean_in = save_mean, .invstd_in = save_invstd, .relu = relu, .y = dx,
                 .dgamma = dgamma, .dbeta = dbeta};
    run_blocks(e, &o, FR_CPU_GRAIN_HEAVY, bn_backward_blocks);
}
