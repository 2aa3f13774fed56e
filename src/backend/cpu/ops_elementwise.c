/* ops_elementwise.c — bias, column sums, activations, softmax and the
 * BCE loss on host pointers. Written as simple loops the compiler
 * vectorises; numerically stable forms where inputs can be large. */
#include <math.h>

#include "backend/cpu/cpu_ops.h"

void fr_cpu_bias_add(size_t rows, size_t cols, float *x, const float *bias)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            x[r * cols + c] += bias[c];
}

void fr_cpu_col_sum(size_t rows, size_t cols, const float *x, float beta,
                    float *out)
{
    for (size_t c = 0; c < cols; c++)
        out[c] = beta == 0.0f ? 0.0f : beta * out[c];
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            out[c] += x[r * cols + c];
}

void fr_cpu_relu(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void fr_cpu_relu_backward(size_t n, const float *x, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void fr_cpu_sigmoid(size_t n, const float *x, float *y)
{
    /* exp of a non-positive argument only: never overflows. */
    for (size_t i = 0; i < n; i++) {
        float e = expf(-fabsf(x[i]));
        y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

void fr_cpu_sigmoid_backward(size_t n, const float *y, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void fr_cpu_softmax_rows(size_t rows, size_t cols, const float *x, float *y)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = -INFINITY;
        for (size_t c = 0; c < cols; c++)
            mx = xr[c] > mx ? xr[c] : mx;
        float sum = 0.0f;
        for (size_t c = 0; c < cols; c++) {
            yr[c] = expf(xr[c] - mx);
            sum += yr[c];
        }
        float inv = 1.0f / sum;
        for (size_t c = 0; c < cols; c++)
            yr[c] *= inv;
    }
}

void fr_cpu_softmax_rows_backward(size_t rows, size_t cols, const float *y,
                                  const float *dy, float *dx)
{
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        float dot = 0.0f;
        for (size_t c = 0; c < cols; c++)
            dot += yr[c] * dyr[c];
        for (size_t c = 0; c < cols; c++)
            dxr[c] = yr[c] * (dyr[c] - dot);
    }
}

void fr_cpu_bce_with_logits(size_t n, const float *z, const float *label,
                            float *loss, float *dz)
{
    for (size_t i = 0; i < n; i++) {
        float e = expf(-fabsf(z[i]));
        float p = z[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        loss[i] = fmaxf(z[i], 0.0f) - z[i] * label[i] + log1pf(e);
        dz[i] = p - label[i];
    }
}
