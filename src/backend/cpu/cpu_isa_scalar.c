/* cpu_isa_scalar.c — the portable path: plain C that runs on any CPU. It is
 * the fallback when no SIMD path is built or supported, and the reference
 * the SIMD paths are read against, so it is written for clarity: every
 * kernel is the textbook loop. A 4 x 8 register block still lets the
 * compiler keep the accumulators in registers (and vectorise the j loop
 * with the baseline SSE2 / Advanced SIMD it may assume). */
#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_vec_exp.h"

#define MR 4
#define NR 8

static void gemm_micro_scalar(size_t kc, const float *a, size_t rs_a,
                              size_t cs_a, const float *b, float *c,
                              size_t ldc, float alpha, float beta)
{
    float acc[MR][NR] = {{0}};
    for (size_t p = 0; p < kc; p++) {
        const float *bp = b + p * NR;
        for (size_t i = 0; i < MR; i++) {
            float av = a[i * rs_a + p * cs_a];
            for (size_t j = 0; j < NR; j++)
                acc[i][j] += av * bp[j];
        }
    }
    for (size_t i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        for (size_t j = 0; j < NR; j++)
            ci[j] = beta == 0.0f ? alpha * acc[i][j]
                                 : alpha * acc[i][j] + beta * ci[j];
    }
}

static void axpy_scalar(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static float dot_scalar(size_t n, const float *x, const float *y)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static float nrm2_scalar(size_t n, const float *x)
{
    double ssq = 0.0;
    for (size_t i = 0; i < n; i++)
        ssq += (double)x[i] * (double)x[i];
    return (float)sqrt(ssq);
}

static void scal_scalar(size_t n, float alpha, float *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
}

static size_t first_not_below_scalar(size_t n, const float *x, float bar)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] < bar))
            return i;
    return n;
}

const fr_cpu_kernels fr_cpu_kernels_scalar = {
    .name = "scalar",
    .gemm = {MR, NR, gemm_micro_scalar},
    .narrow = {0, 0, NULL},
    /* A 4 x 256 A panel and a 256 x 8 B panel (8 KiB) fit in L1 together. */
    .kc = 256, .mc = 128, .nc = 2048,
    .axpy = axpy_scalar,
    .dot = dot_scalar,
    .nrm2 = nrm2_scalar,
    .scal = scal_scalar,
    .exp_affine_dot = fr_vec_exp_affine_dot,
    .first_not_below = first_not_below_scalar,
};
