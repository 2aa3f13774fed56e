/* cpu_isa_avx2.c — the AVX2 + FMA path, built with -mavx2 -mfma and
 * entered only on CPUs (and OSes) that have both and save ymm state.
 *
 * GEMM block 6 x 16: twelve ymm accumulators, two B vectors and one
 * broadcast A value fit the 16 registers. Narrow products (at most 8
 * columns) use 12 x 8: still twelve independent accumulators, enough to
 * cover the FMA latency, without padding B to 16 columns. */
#include <immintrin.h>
#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_vec_exp.h"

#define MR 6
#define NR 16
#define MR_NARROW 12
#define NR_NARROW 8

/* The accumulator arrays must become registers: force the inlining and
 * the full unrolling of the loops over rows. */
#if defined(__GNUC__)
#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 16")
#else
#define FR_INLINE static inline
#define FR_UNROLL
#endif

/* C row = alpha * acc + beta * C row, never reading C when beta == 0. */
FR_INLINE void store_row(float *c, __m256 acc, __m256 al, __m256 be, int read_c)
{
    __m256 r = read_c ? _mm256_fmadd_ps(al, acc, _mm256_mul_ps(be, _mm256_loadu_ps(c)))
                      : _mm256_mul_ps(al, acc);
    _mm256_storeu_ps(c, r);
}

FR_INLINE void tile_6x16(size_t kc, const float *a, size_t rs, size_t cs,
                         const float *b, float *c, size_t ldc, float alpha,
                         float beta)
{
    __m256 acc[MR][2];
    FR_UNROLL
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        FR_UNROLL
        for (int i = 0; i < MR; i++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)i * rs);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
        a += cs;
        b += NR;
    }
    __m256 al = _mm256_set1_ps(alpha), be = _mm256_set1_ps(beta);
    int read_c = beta != 0.0f;
    FR_UNROLL
    for (int i = 0; i < MR; i++) {
        store_row(c + (size_t)i * ldc, acc[i][0], al, be, read_c);
        store_row(c + (size_t)i * ldc + 8, acc[i][1], al, be, read_c);
    }
}

static void gemm_micro_avx2(size_t kc, const float *a, size_t rs_a,
                            size_t cs_a, const float *b, float *c, size_t ldc,
                            float alpha, float beta)
{
    /* Packed panels get compile-time strides. */
    if (rs_a == 1 && cs_a == MR)
        tile_6x16(kc, a, 1, MR, b, c, ldc, alpha, beta);
    else
        tile_6x16(kc, a, rs_a, cs_a, b, c, ldc, alpha, beta);
}

FR_INLINE void tile_12x8(size_t kc, const float *a, size_t rs, size_t cs,
                         const float *b, float *c, size_t ldc, float alpha,
                         float beta)
{
    __m256 acc[MR_NARROW];
    FR_UNROLL
    for (int i = 0; i < MR_NARROW; i++)
        acc[i] = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b);
        FR_UNROLL
        for (int i = 0; i < MR_NARROW; i++)
            acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + (size_t)i * rs), b0, acc[i]);
        a += cs;
        b += NR_NARROW;
    }
    __m256 al = _mm256_set1_ps(alpha), be = _mm256_set1_ps(beta);
    int read_c = beta != 0.0f;
    FR_UNROLL
    for (int i = 0; i < MR_NARROW; i++)
        store_row(c + (size_t)i * ldc, acc[i], al, be, read_c);
}

static void gemm_micro_avx2_narrow(size_t kc, const float *a, size_t rs_a,
                                   size_t cs_a, const float *b, float *c,
                                   size_t ldc, float alpha, float beta)
{
    if (rs_a == 1 && cs_a == MR_NARROW)
        tile_12x8(kc, a, 1, MR_NARROW, b, c, ldc, alpha, beta);
    else
        tile_12x8(kc, a, rs_a, cs_a, b, c, ldc, alpha, beta);
}

/* Sum of the eight lanes, in a fixed order. */
static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void axpy_avx2(size_t n, float alpha, const float *x, float *y)
{
    __m256 al = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(al, _mm256_loadu_ps(x + i),
                                                _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] = fmaf(alpha, x[i], y[i]);
}

static float dot_avx2(size_t n, const float *x, const float *y)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < n; i++)
        s = fmaf(x[i], y[i], s);
    return s;
}

static float nrm2_avx2(size_t n, const float *x)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double ssq = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++)
        ssq += (double)x[i] * (double)x[i];
    return (float)sqrt(ssq);
}

static void scal_avx2(size_t n, float alpha, float *x)
{
    __m256 al = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(al, _mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        x[i] *= alpha;
}

/* 32 scores per round (four compares, one test); _CMP_NLT_UQ is
 * !(x < bar), NaN true. */
static size_t first_not_below_avx2(size_t n, const float *x, float bar)
{
    __m256 b = _mm256_set1_ps(bar);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 m0 = _mm256_cmp_ps(_mm256_loadu_ps(x + i), b, _CMP_NLT_UQ);
        __m256 m1 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), b, _CMP_NLT_UQ);
        __m256 m2 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 16), b, _CMP_NLT_UQ);
        __m256 m3 = _mm256_cmp_ps(_mm256_loadu_ps(x + i + 24), b, _CMP_NLT_UQ);
        if (_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(m0, m1), _mm256_or_ps(m2, m3))))
            break;
    }
    for (; i + 8 <= n; i += 8) {
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), b, _CMP_NLT_UQ));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    for (; i < n; i++)
        if (!(x[i] < bar))
            return i;
    return n;
}

const fr_cpu_kernels fr_cpu_kernels_avx2 = {
    .name = "avx2",
    .gemm = {MR, NR, gemm_micro_avx2},
    .narrow = {MR_NARROW, NR_NARROW, gemm_micro_avx2_narrow},
    /* B micro-panel 256 x 16 (16 KiB) in L1; A block 144 x 256 in L2. */
    .kc = 256, .mc = 144, .nc = 4096,
    .axpy = axpy_avx2,
    .dot = dot_avx2,
    .nrm2 = nrm2_avx2,
    .scal = scal_avx2,
    .exp_affine_dot = fr_vec_exp_affine_dot,
    .first_not_below = first_not_below_avx2,
};
