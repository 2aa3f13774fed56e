/* cpu_vec_exp.h — the exponential kernel every instruction-set path
 * shares (internal): plain C that each cpu_isa_*.c includes, so the
 * compiler vectorises it with that file's -m flags (SSE2, AVX2, AVX-512,
 * Advanced SIMD) and one source serves them all. Nothing here branches or
 * calls the library: e^x for x = n ln 2 + r, |r| <= ln 2 / 2, is e^r by its
 * degree-6 Taylor polynomial (relative error < 2e-7) times 2^n built in
 * the exponent bits. */
#ifndef FR_CPU_VEC_EXP_H
#define FR_CPU_VEC_EXP_H

#include <stddef.h>
#include <stdint.h>

/* e^x for x in [-87, 0.1]: n is rounded to nearest by truncating
 * x log2(e) - 0.5 toward zero, right for the non-positive arguments this
 * serves (a small positive x gives n = 0, still exact to the bound). */
static inline float fr_vec_exp_small(float x)
{
    int n = (int)(x * 1.44269504f - 0.5f);
    float r = x - (float)n * 0.693145752f - (float)n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    union {
        int32_t i;
        float f;
    } two = {.i = (n + 127) << 23};
    return p * two.f;
}

/* x[i] = e^(scale x[i] + shift) for i < n (arguments in [-87, 0.1]);
 * returns sum_i w[i] x[i] (w NULL: sum_i x[i]), accumulated in 16 running
 * partial sums and then in order, so the result does not depend on how a
 * caller splits its rows (paths with fused multiply-adds may round
 * differently). */
static float fr_vec_exp_affine_dot(size_t n, float scale, float shift, float *x, const float *w)
{
    for (size_t i = 0; i < n; i++)
        x[i] = fr_vec_exp_small(scale * x[i] + shift);
    float acc[16] = {0}, sum = 0;
    size_t i = 0;
    if (w) {
        for (; i + 16 <= n; i += 16)
            for (int j = 0; j < 16; j++)
                acc[j] += w[i + j] * x[i + j];
        for (; i < n; i++)
            sum += w[i] * x[i];
    } else {
        for (; i + 16 <= n; i += 16)
            for (int j = 0; j < 16; j++)
                acc[j] += x[i + j];
        for (; i < n; i++)
            sum += x[i];
    }
    for (int j = 0; j < 16; j++)
        sum += acc[j];
    return sum;
}

#endif
