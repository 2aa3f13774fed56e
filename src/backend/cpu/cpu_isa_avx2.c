/* cpu_isa_avx2.c — the AVX2+FMA path (built with -mavx2 -mfma, entered
 * only on CPUs that have both). GEMM block 6x16: twelve ymm accumulators,
 * two B vectors and one broadcast A value stay in the 16 registers. */
#include <immintrin.h>
#include <math.h>

#include "backend/cpu/cpu_kernels.h"

#define MR 6
#define NR 16
/* Cache blocking (see cpu_kernels.h). */
#define KC 256
#define MC 144
#define NC 4096

static void gemm_micro_avx2(size_t kc, const float *a, const float *b,
                            float *c, size_t ldc, float alpha)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 av;
        av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
        a += MR;
        b += NR;
    }
    __m256 al = _mm256_set1_ps(alpha);
#define FR_STORE_ROW(i, lo, hi)                                                  \
    _mm256_storeu_ps(c + (i) * ldc, _mm256_fmadd_ps(al, lo, _mm256_loadu_ps(c + (i) * ldc))); \
    _mm256_storeu_ps(c + (i) * ldc + 8, _mm256_fmadd_ps(al, hi, _mm256_loadu_ps(c + (i) * ldc + 8)))
    FR_STORE_ROW(0, c00, c01);
    FR_STORE_ROW(1, c10, c11);
    FR_STORE_ROW(2, c20, c21);
    FR_STORE_ROW(3, c30, c31);
    FR_STORE_ROW(4, c40, c41);
    FR_STORE_ROW(5, c50, c51);
#undef FR_STORE_ROW
}

static void axpy_avx2(size_t n, float alpha, const float *x, float *y)
{
    __m256 al = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(al, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

static float dot_avx2(size_t n, const float *x, const float *y)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
    }
    s0 = _mm256_add_ps(s0, s1);
    float lanes[8];
    _mm256_storeu_ps(lanes, s0);
    float s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
              ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
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

static float nrm2_avx2(size_t n, const float *x)
{
    /* Squares summed in double: a float squared is exact there and far
     * from double's overflow and underflow limits. */
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
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++)
        s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

const fr_cpu_kernels fr_cpu_kernels_avx2 = {
    "avx2", MR, NR, gemm_micro_avx2, 0, NULL,
    KC, MC, NC, axpy_avx2, dot_avx2, nrm2_avx2, scal_avx2,
};
