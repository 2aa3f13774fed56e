/* cpu_isa_neon.c — the NEON path for 64-bit Arm (AArch64, where NEON and
 * FMA are always present). GEMM block 8x8: sixteen q-register accumulators,
 * two B vectors, and A read four at a time for lane-indexed FMAs. */
#include <arm_neon.h>
#include <math.h>

#include "backend/cpu/cpu_kernels.h"

#define MR 8
#define NR 8
/* Cache blocking (see cpu_kernels.h). */
#define KC 256
#define MC 128
#define NC 4096

static void gemm_micro_neon(size_t kc, const float *a, const float *b,
                            float *c, size_t ldc, float alpha)
{
    float32x4_t acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t p = 0; p < kc; p++) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        acc[0][0] = vfmaq_laneq_f32(acc[0][0], b0, a0, 0);
        acc[0][1] = vfmaq_laneq_f32(acc[0][1], b1, a0, 0);
        acc[1][0] = vfmaq_laneq_f32(acc[1][0], b0, a0, 1);
        acc[1][1] = vfmaq_laneq_f32(acc[1][1], b1, a0, 1);
        acc[2][0] = vfmaq_laneq_f32(acc[2][0], b0, a0, 2);
        acc[2][1] = vfmaq_laneq_f32(acc[2][1], b1, a0, 2);
        acc[3][0] = vfmaq_laneq_f32(acc[3][0], b0, a0, 3);
        acc[3][1] = vfmaq_laneq_f32(acc[3][1], b1, a0, 3);
        acc[4][0] = vfmaq_laneq_f32(acc[4][0], b0, a1, 0);
        acc[4][1] = vfmaq_laneq_f32(acc[4][1], b1, a1, 0);
        acc[5][0] = vfmaq_laneq_f32(acc[5][0], b0, a1, 1);
        acc[5][1] = vfmaq_laneq_f32(acc[5][1], b1, a1, 1);
        acc[6][0] = vfmaq_laneq_f32(acc[6][0], b0, a1, 2);
        acc[6][1] = vfmaq_laneq_f32(acc[6][1], b1, a1, 2);
        acc[7][0] = vfmaq_laneq_f32(acc[7][0], b0, a1, 3);
        acc[7][1] = vfmaq_laneq_f32(acc[7][1], b1, a1, 3);
        a += MR;
        b += NR;
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        vst1q_f32(ci, vfmaq_n_f32(vld1q_f32(ci), acc[i][0], alpha));
        vst1q_f32(ci + 4, vfmaq_n_f32(vld1q_f32(ci + 4), acc[i][1], alpha));
    }
}

static void axpy_neon(size_t n, float alpha, const float *x, float *y)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

static float dot_neon(size_t n, const float *x, const float *y)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(x + i), vld1q_f32(y + i));
        s1 = vfmaq_f32(s1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static void scal_neon(size_t n, float alpha, float *x)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), alpha));
    for (; i < n; i++)
        x[i] *= alpha;
}

static float nrm2_neon(size_t n, const float *x)
{
    /* Squares summed in double: a float squared is exact there and far
     * from double's overflow and underflow limits. */
    float64x2_t s0 = vdupq_n_f64(0.0), s1 = vdupq_n_f64(0.0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
        s0 = vfmaq_f64(s0, lo, lo);
        s1 = vfmaq_f64(s1, hi, hi);
    }
    double s = vaddvq_f64(vaddq_f64(s0, s1));
    for (; i < n; i++)
        s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

const fr_cpu_kernels fr_cpu_kernels_neon = {
    "neon", MR, NR, gemm_micro_neon, 0, NULL,
    KC, MC, NC, axpy_neon, dot_neon, nrm2_neon, scal_neon,
};
