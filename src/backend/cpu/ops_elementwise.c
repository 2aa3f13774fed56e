/* ops_elementwise.c — copy, fill, mul, bias, column sums, activations and
 * row-wise softmax on host pointers (see cpu_ops.h for threads, aliasing
 * and formulas). Plain loops the compiler vectorises; most kernels are a
 * range function run over fr_cpu_ops_ranges. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"

/* Operands of one element-wise or row op. */
typedef struct ew_args {
    const float *a, *b;
    float *y;
    float s;
    size_t cols;
} ew_args;

static void copy_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    memcpy(o->y + i0, o->a + i0, (i1 - i0) * sizeof(float));
}

void fr_cpu_copy(fr_cpu_engine *e, size_t n, const float *x, float *y)
{
    uintptr_t px = (uintptr_t)x, py = (uintptr_t)y, bytes = n * sizeof(float);
    if (x == y)
        return;
    if (px < py + bytes && py < px + bytes) {
        /* Overlapping views: the order of the moves matters, one thread. */
        memmove(y, x, bytes);
        return;
    }
    ew_args o = {x, NULL, y, 0, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_COPY, copy_range, &o);
}

static void fill_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    for (size_t i = i0; i < i1; i++)
        o->y[i] = o->s;
}

void fr_cpu_fill(fr_cpu_engine *e, size_t n, float value, float *x)
{
    ew_args o = {NULL, NULL, x, value, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_COPY, fill_range, &o);
}

static void mul_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    for (size_t i = i0; i < i1; i++)
        o->y[i] = o->a[i] * o->b[i];
}

void fr_cpu_mul(fr_cpu_engine *e, size_t n, const float *a, const float *b, float *y)
{
    ew_args o = {a, b, y, 0, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_LIGHT, mul_range, &o);
}

static void bias_range(void *p, size_t r0, size_t r1)
{
    const ew_args *o = p;
    const float *restrict bias = o->a;
    size_t cols = o->cols;
    for (size_t r = r0; r < r1; r++) {
        float *restrict row = o->y + r * cols;
        for (size_t c = 0; c < cols; c++)
            row[c] += bias[c];
    }
}

void fr_cpu_bias_add(fr_cpu_engine *e, size_t rows, size_t cols, float *x, const float *bias)
{
    ew_args o = {bias, NULL, x, 0, cols};
    fr_cpu_ops_ranges(e, rows, cols, FR_CPU_GRAIN_LIGHT, bias_range, &o);
}

void fr_cpu_col_sum(fr_cpu_engine *e, size_t rows, size_t cols, const float *x, float beta,
                    float *out)
{
    /* One thread (see cpu_ops.h); rows stream past in memory order and
     * each column accumulates in row order. */
    (void)e;
    for (size_t c = 0; c < cols; c++)
        out[c] = beta == 0.0f ? 0.0f : beta * out[c]; /* beta 0: NaN in out ignored */
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (size_t c = 0; c < cols; c++)
            out[c] += row[c];
    }
}

/* Branch-free, through restrict locals, so the compiler vectorises them:
 * a branch on the sign of activations mispredicts half the time. */
static void relu_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    const float *restrict a = o->a;
    float *restrict y = o->y;
    for (size_t i = i0; i < i1; i++) {
        float v = a[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

void fr_cpu_relu(fr_cpu_engine *e, size_t n, const float *x, float *y)
{
    ew_args o = {x, NULL, y, 0, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_LIGHT, relu_range, &o);
}

static void relu_backward_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    const float *restrict a = o->a, *restrict b = o->b;
    float *restrict y = o->y;
    for (size_t i = i0; i < i1; i++) {
        float g = b[i]; /* loaded unconditionally: the select has no branch */
        y[i] = a[i] > 0.0f ? g : 0.0f;
    }
}

void fr_cpu_relu_backward(fr_cpu_engine *e, size_t n, const float *x, const float *dy, float *dx)
{
    ew_args o = {x, dy, dx, 0, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_LIGHT, relu_backward_range, &o);
}

static void sigmoid_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    /* exp of a non-positive argument only: never overflows. */
    for (size_t i = i0; i < i1; i++) {
        float x = o->a[i], t = expf(-fabsf(x));
        o->y[i] = x >= 0.0f ? 1.0f / (1.0f + t) : t / (1.0f + t);
    }
}

void fr_cpu_sigmoid(fr_cpu_engine *e, size_t n, const float *x, float *y)
{
    ew_args o = {x, NULL, y, 0, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_HEAVY, sigmoid_range, &o);
}

static void sigmoid_backward_range(void *p, size_t i0, size_t i1)
{
    const ew_args *o = p;
    for (size_t i = i0; i < i1; i++)
        o->y[i] = o->b[i] * o->a[i] * (1.0f - o->a[i]);
}

void fr_cpu_sigmoid_backward(fr_cpu_engine *e, size_t n, const float *y, const float *dy,
                             float *dx)
{
    ew_args o = {y, dy, dx, 0, 0};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_LIGHT, sigmoid_backward_range, &o);
}

static void softmax_range(void *p, size_t r0, size_t r1)
{
    const ew_args *o = p;
    size_t cols = o->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *xr = o->a + r * cols;
        float *yr = o->y + r * cols;
        float mx = -INFINITY;
        for (size_t c = 0; c < cols; c++)
            mx = xr[c] > mx ? xr[c] : mx;
        /* After subtracting the max every exponent is <= 0 and one is 0:
         * no overflow, and the sum is at least 1. */
        double sum = 0;
        for (size_t c = 0; c < cols; c++) {
            yr[c] = expf(xr[c] - mx);
            sum += yr[c];
        }
        double inv = 1.0 / sum;
        for (size_t c = 0; c < cols; c++)
            yr[c] = (float)(yr[c] * inv);
    }
}

void fr_cpu_softmax_rows(fr_cpu_engine *e, size_t rows, size_t cols, const float *x, float *y)
{
    ew_args o = {x, NULL, y, 0, cols};
    fr_cpu_ops_ranges(e, rows, cols, FR_CPU_GRAIN_HEAVY, softmax_range, &o);
}

static void softmax_backward_range(void *p, size_t r0, size_t r1)
{
    const ew_args *o = p;
    size_t cols = o->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *yr = o->a + r * cols, *dyr = o->b + r * cols;
        float *dxr = o->y + r * cols;
        double dot = 0;
        for (size_t c = 0; c < cols; c++)
            dot += (double)yr[c] * dyr[c];
        for (size_t c = 0; c < cols; c++)
            dxr[c] = (float)(yr[c] * (dyr[c] - dot));
    }
}

void fr_cpu_softmax_rows_backward(fr_cpu_engine *e, size_t rows, size_t cols, const float *y,
                                  const float *dy, float *dx)
{
    ew_args o = {y, dy, dx, 0, cols};
    fr_cpu_ops_ranges(e, rows, cols, FR_CPU_GRAIN_LIGHT, softmax_backward_range, &o);
}
