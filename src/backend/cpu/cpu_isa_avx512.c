/* cpu_isa_avx512.c — the AVX-512 path (built with -mavx512f and friends,
 * entered only on CPUs and kernels that enable AVX-512 state). GEMM block
 * 12x32: 24 zmm accumulators, two B vectors and a broadcast of A fit in the
 * 32 registers with room for the loads to run ahead. */
#include <immintrin.h>
#include <math.h>

#include "backend/cpu/cpu_kernels.h"

#define MR 12
#define NR 32
/* Cache blocking (see cpu_kernels.h). */
#define KC 256
#define MC 144
#define NC 4096

static void gemm_micro_avx512(size_t kc, const float *a, const float *b,
                              float *c, size_t ldc, float alpha)
{
    /* Fully unrolled so the accumulators live in registers. */
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
        a += MR;
        b += NR;
    }
    __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        _mm512_storeu_ps(ci, _mm512_fmadd_ps(al, acc[i][0], _mm512_loadu_ps(ci)));
        _mm512_storeu_ps(ci + 16, _mm512_fmadd_ps(al, acc[i][1], _mm512_loadu_ps(ci + 16)));
    }
}

/* 12x16: one zmm per row, for products 16 columns wide or less. */
static void gemm_micro_avx512_narrow(size_t kc, const float *a, const float *b,
                                     float *c, size_t ldc, float alpha)
{
    __m512 acc[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
        acc[i] = _mm512_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, acc[i]);
        a += MR;
        b += 16;
    }
    __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        _mm512_storeu_ps(ci, _mm512_fmadd_ps(al, acc[i], _mm512_loadu_ps(ci)));
    }
}

static void axpy_avx512(size_t n, float alpha, const float *x, float *y)
{
    __m512 al = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(al, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(al, _mm512_maskz_loadu_ps(m, x + i),
                                                         _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static float dot_avx512(size_t n, const float *x, const float *y)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void scal_avx512(size_t n, float alpha, float *x)
{
    __m512 al = _mm512_set1_ps(alpha);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(al, _mm512_loadu_ps(x + i)));
    for (; i < n; i++)
        x[i] *= alpha;
}

static float nrm2_avx512(size_t n, const float *x)
{
    /* Squares summed in double: a float squared is exact there and far
     * from double's overflow and underflow limits. */
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        __m512d hi = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
        s0 = _mm512_fmadd_pd(lo, lo, s0);
        s1 = _mm512_fmadd_pd(hi, hi, s1);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; i < n; i++)
        s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

const fr_cpu_kernels fr_cpu_kernels_avx512 = {
    "avx512", MR, NR, gemm_micro_avx512, 16, gemm_micro_avx512_narrow,
    KC, MC, NC, axpy_avx512, dot_avx512, nrm2_avx512, scal_avx512,
};
