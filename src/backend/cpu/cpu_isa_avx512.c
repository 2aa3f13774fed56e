/* cpu_isa_avx512.c — the AVX-512 path, built with -mavx512f/dq/bw/vl and
 * entered only on CPUs (and OSes) that enable AVX-512 state.
 *
 * GEMM block 12 x 32: 24 zmm accumulators, two B vectors, and A values
 * taken as embedded-broadcast memory operands of the FMAs, so the 32
 * registers hold the whole tile with no spills. Narrow products (at most
 * 16 columns) use 12 x 16 instead of padding B to 32. Reading A through
 * (rs_a, cs_a) strides lets the driver skip packing A where packing would
 * cost as much as the arithmetic (few columns, small K). */
#include <immintrin.h>
#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_vec_exp.h"

#define MR 12
#define NR 32
#define NR_NARROW 16

/* The accumulator arrays must become registers: force the inlining and
 * the full unrolling of the loops over rows (gcc and clang both read
 * "GCC unroll"). */
#if defined(__GNUC__)
#define FR_INLINE static inline __attribute__((always_inline))
#define FR_UNROLL _Pragma("GCC unroll 16")
#else
#define FR_INLINE static inline
#define FR_UNROLL
#endif

/* C row = alpha * acc + beta * C row, never reading C when beta == 0. */
FR_INLINE void store_row(float *c, __m512 acc, __m512 al, __m512 be, int read_c)
{
    __m512 r = read_c ? _mm512_fmadd_ps(al, acc, _mm512_mul_ps(be, _mm512_loadu_ps(c)))
                      : _mm512_mul_ps(al, acc);
    _mm512_storeu_ps(c, r);
}

/* The 12 x 32 tile. Inlined into two callers below so the packed case gets
 * compile-time strides (one pointer, immediate offsets). */
FR_INLINE void tile_12x32(size_t kc, const float *a, size_t rs, size_t cs,
                          const float *b, float *c, size_t ldc, float alpha,
                          float beta)
{
    __m512 acc[MR][2];
    FR_UNROLL
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        FR_UNROLL
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[(size_t)i * rs]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
        a += cs;
        b += NR;
    }
    __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
    int read_c = beta != 0.0f;
    FR_UNROLL
    for (int i = 0; i < MR; i++) {
        store_row(c + (size_t)i * ldc, acc[i][0], al, be, read_c);
        store_row(c + (size_t)i * ldc + 16, acc[i][1], al, be, read_c);
    }
}

static void gemm_micro_avx512(size_t kc, const float *a, size_t rs_a,
                              size_t cs_a, const float *b, float *c,
                              size_t ldc, float alpha, float beta)
{
    if (rs_a == 1 && cs_a == MR)
        tile_12x32(kc, a, 1, MR, b, c, ldc, alpha, beta);
    else
        tile_12x32(kc, a, rs_a, cs_a, b, c, ldc, alpha, beta);
}

FR_INLINE void tile_12x16(size_t kc, const float *a, size_t rs, size_t cs,
                          const float *b, float *c, size_t ldc, float alpha,
                          float beta)
{
    __m512 acc[MR];
    FR_UNROLL
    for (int i = 0; i < MR; i++)
        acc[i] = _mm512_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b);
        FR_UNROLL
        for (int i = 0; i < MR; i++)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)i * rs]), b0, acc[i]);
        a += cs;
        b += NR_NARROW;
    }
    __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
    int read_c = beta != 0.0f;
    FR_UNROLL
    for (int i = 0; i < MR; i++)
        store_row(c + (size_t)i * ldc, acc[i], al, be, read_c);
}

static void gemm_micro_avx512_narrow(size_t kc, const float *a, size_t rs_a,
                                     size_t cs_a, const float *b, float *c,
                                     size_t ldc, float alpha, float beta)
{
    if (rs_a == 1 && cs_a == MR)
        tile_12x16(kc, a, 1, MR, b, c, ldc, alpha, beta);
    else
        tile_12x16(kc, a, rs_a, cs_a, b, c, ldc, alpha, beta);
}

/* Mask of the first r < 16 lanes. */
static inline __mmask16 tail_mask(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
}

static void axpy_avx512(size_t n, float alpha, const float *x, float *y)
{
    __m512 al = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(al, _mm512_loadu_ps(x + i),
                                                _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(al, _mm512_maskz_loadu_ps(m, x + i),
                                              _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static float dot_avx512(size_t n, const float *x, const float *y)
{
    /* Two accumulators hide the FMA latency. */
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i),
                             _mm512_maskz_loadu_ps(m, y + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float nrm2_avx512(size_t n, const float *x)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        __m512d hi = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
        s0 = _mm512_fmadd_pd(lo, lo, s0);
        s1 = _mm512_fmadd_pd(hi, hi, s1);
    }
    for (; i < n; i += 8) {
        size_t r = n - i < 8 ? n - i : 8;
        __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps((__mmask8)((1u << r) - 1u), x + i));
        s0 = _mm512_fmadd_pd(v, v, s0);
    }
    return (float)sqrt(_mm512_reduce_add_pd(_mm512_add_pd(s0, s1)));
}

static void scal_avx512(size_t n, float alpha, float *x)
{
    __m512 al = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(al, _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(al, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* 64 scores per round (four compares, one test): a bar that few scores
 * reach is passed at memory speed. _CMP_NLT_UQ is !(x < bar), NaN true. */
static size_t first_not_below_avx512(size_t n, const float *x, float bar)
{
    __m512 b = _mm512_set1_ps(bar);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), b, _CMP_NLT_UQ);
        __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), b, _CMP_NLT_UQ);
        __mmask16 m2 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 32), b, _CMP_NLT_UQ);
        __mmask16 m3 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 48), b, _CMP_NLT_UQ);
        if (m0 | m1 | m2 | m3)
            break;
    }
    for (; i + 16 <= n; i += 16) {
        unsigned m = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), b, _CMP_NLT_UQ);
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    for (; i < n; i++)
        if (!(x[i] < bar))
            return i;
    return n;
}

const fr_cpu_kernels fr_cpu_kernels_avx512 = {
    .name = "avx512",
    .gemm = {MR, NR, gemm_micro_avx512},
    .narrow = {MR, NR_NARROW, gemm_micro_avx512_narrow},
    /* Measured on Zen 4 (32 KiB L1, 1 MiB L2): kc 512 beat 128..384 by a
     * few percent (fewer passes over C; the 64 KiB B micro-panel streams
     * from L2 fast enough), mc 96..240 were equal. A block 144 x 512 =
     * 288 KiB in L2. */
    .kc = 512, .mc = 144, .nc = 4096,
    .axpy = axpy_avx512,
    .dot = dot_avx512,
    .nrm2 = nrm2_avx512,
    .scal = scal_avx512,
    .exp_affine_dot = fr_vec_exp_affine_dot,
    .first_not_below = first_not_below_avx512,
};
