/* cpu_isa_neon.c — the NEON path for 64-bit Arm (AArch64, where Advanced
 * SIMD with FMA is part of the base architecture, so a build that has this
 * path can always run it).
 *
 * GEMM block 8 x 8: sixteen q-register accumulators (two per row of C) and
 * two B vectors, with each A value multiplied in by element (fmla by
 * scalar). Kept deliberately simple: one loop over K, no hand scheduling. */
#include <arm_neon.h>
#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_vec_exp.h"

#define MR 8
#define NR 8

#if defined(__GNUC__)
#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 8")
#else
#define FR_INLINE static inline
#define FR_UNROLL
#endif

/* C row (4 values) = alpha * acc + beta * C row, never reading C when
 * beta == 0. */
FR_INLINE void store4(float *c, float32x4_t acc, float alpha, float beta)
{
    float32x4_t r = beta != 0.0f ? vfmaq_n_f32(vmulq_n_f32(vld1q_f32(c), beta), acc, alpha)
                                 : vmulq_n_f32(acc, alpha);
    vst1q_f32(c, r);
}

FR_INLINE void tile_8x8(size_t kc, const float *a, size_t rs, size_t cs,
                        const float *b, float *c, size_t ldc, float alpha,
                        float beta)
{
    float32x4_t acc[MR][2];
    FR_UNROLL
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t p = 0; p < kc; p++) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        FR_UNROLL
        for (int i = 0; i < MR; i++) {
            float av = a[(size_t)i * rs];
            acc[i][0] = vfmaq_n_f32(acc[i][0], b0, av);
            acc[i][1] = vfmaq_n_f32(acc[i][1], b1, av);
        }
        a += cs;
        b += NR;
    }
    FR_UNROLL
    for (int i = 0; i < MR; i++) {
        store4(c + (size_t)i * ldc, acc[i][0], alpha, beta);
        store4(c + (size_t)i * ldc + 4, acc[i][1], alpha, beta);
    }
}

static void gemm_micro_neon(size_t kc, const float *a, size_t rs_a,
                            size_t cs_a, const float *b, float *c, size_t ldc,
                            float alpha, float beta)
{
    /* Packed panels get compile-time strides. */
    if (rs_a == 1 && cs_a == MR)
        tile_8x8(kc, a, 1, MR, b, c, ldc, alpha, beta);
    else
        tile_8x8(kc, a, rs_a, cs_a, b, c, ldc, alpha, beta);
}

static void axpy_neon(size_t n, float alpha, const float *x, float *y)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
    for (; i < n; i++)
        y[i] = fmaf(alpha, x[i], y[i]);
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
        s = fmaf(x[i], y[i], s);
    return s;
}

static float nrm2_neon(size_t n, const float *x)
{
    float64x2_t s0 = vdupq_n_f64(0.0), s1 = vdupq_n_f64(0.0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
        s0 = vfmaq_f64(s0, lo, lo);
        s1 = vfmaq_f64(s1, hi, hi);
    }
    double ssq = vaddvq_f64(vaddq_f64(s0, s1));
    for (; i < n; i++)
        ssq += (double)x[i] * (double)x[i];
    return (float)sqrt(ssq);
}

static void scal_neon(size_t n, float alpha, float *x)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), alpha));
    for (; i < n; i++)
        x[i] *= alpha;
}

static size_t first_not_below_neon(size_t n, const float *x, float bar)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] < bar))
            return i;
    return n;
}

const fr_cpu_kernels fr_cpu_kernels_neon = {
    .name = "neon",
    .gemm = {MR, NR, gemm_micro_neon},
    .narrow = {0, 0, NULL},
    /* B micro-panel 256 x 8 (8 KiB) in L1; A block 128 x 256 in L2. */
    .kc = 256, .mc = 128, .nc = 2048,
    .axpy = axpy_neon,
    .dot = dot_neon,
    .nrm2 = nrm2_neon,
    .scal = scal_neon,
    .exp_affine_dot = fr_vec_exp_affine_dot,
    .first_not_below = first_not_below_neon,
};
