/* cpu_isa_scalar.c — the portable path: plain C kernels that run on any
 * CPU, and the fallback when no SIMD path is built or supported. A 4x4
 * register block keeps it reasonably fast without intrinsics. */
#include <math.h>

#include "backend/cpu/cpu_kernels.h"

#define MR 4
#define NR 4
/* Cache blocking (see cpu_kernels.h). */
#define KC 128
#define MC 128
#define NC 4096

static void gemm_micro_scalar(size_t kc, const float *a, const float *b,
                              float *c, size_t ldc, float alpha)
{
    float acc[MR][NR] = {{0}};
    for (size_t p = 0; p < kc; p++) {
        const float *ap = a + p * MR, *bp = b + p * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += ap[i] * bp[j];
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            c[i * ldc + j] += alpha * acc[i][j];
}

static void axpy_scalar(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static float dot_scalar(size_t n, const float *x, const float *y)
{
    /* Four partial sums, as the SIMD paths do, for similar rounding. */
    float s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += x[i + k] * y[i + k];
    for (; i < n; i++)
        s[0] += x[i] * y[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void scal_scalar(size_t n, float alpha, float *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
}

static float nrm2_scalar(size_t n, const float *x)
{
    /* A float squared is exact in double and far from its limits. */
    double s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        s0 += (double)x[i] * x[i];
        s1 += (double)x[i + 1] * x[i + 1];
    }
    if (i < n)
        s0 += (double)x[i] * x[i];
    return (float)sqrt(s0 + s1);
}

const fr_cpu_kernels fr_cpu_kernels_scalar = {
    "scalar", MR, NR, gemm_micro_scalar, 0, NULL,
    KC, MC, NC, axpy_scalar, dot_scalar, nrm2_scalar, scal_scalar,
};
