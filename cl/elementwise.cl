/* elementwise.cl - element-wise kernels of the OpenCL backend. Every
 * buffer argument comes with its offset in elements (views into larger
 * buffers); one work-item per element unless noted. */

__kernel void fr_fill(uint n, float value, __global float *x, uint xo)
{
    uint i = get_global_id(0);
    if (i < n)
        x[xo + i] = value;
}

/* Fill a rows x cols block of a matrix with row stride ld. */
__kernel void fr_fill_matrix(uint rows, uint cols, float value, __global float *x,
                             uint xo, uint ld)
{
    uint i = get_global_id(0);
    if (i < rows * cols)
        x[xo + (i / cols) * ld + i % cols] = value;
}

__kernel void fr_copy(uint n, __global const float *x, uint xo, __global float *y, uint yo)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yo + i] = x[xo + i];
}

__kernel void fr_mul(uint n, __global const float *a, uint ao, __global const float *b,
                     uint bo, __global float *y, uint yo)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yo + i] = a[ao + i] * b[bo + i];
}

__kernel void fr_bias_add(uint rows, uint cols, __global float *x, uint xo,
                          __global const float *bias, uint bo)
{
    uint i = get_global_id(0);
    if (i < rows * cols)
        x[xo + i] += bias[bo + i % cols];
}

/* One work-item per column; rows summed in order (deterministic). */
__kernel void fr_col_sum(uint rows, uint cols, __global const float *x, uint xo,
                         float beta, __global float *out, uint oo)
{
    uint c = get_global_id(0);
    if (c >= cols)
        return;
    float s = 0.0f;
    for (uint r = 0; r < rows; r++)
        s += x[xo + r * cols + c];
    out[oo + c] = (beta == 0.0f ? 0.0f : beta * out[oo + c]) + s;
}

__kernel void fr_relu(uint n, __global const float *x, uint xo, __global float *y, uint yo)
{
    uint i = get_global_id(0);
    if (i < n)
        y[yo + i] = fmax(x[xo + i], 0.0f);
}

__kernel void fr_relu_backward(uint n, __global const float *x, uint xo,
                               __global const float *dy, uint dyo, __global float *dx, uint dxo)
{
    uint i = get_global_id(0);
    if (i < n)
        dx[dxo + i] = x[xo + i] > 0.0f ? dy[dyo + i] : 0.0f;
}

/* exp of a non-positive argument only: never overflows. */
__kernel void fr_sigmoid(uint n, __global const float *x, uint xo, __global float *y, uint yo)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float v = x[xo + i], e = exp(-fabs(v));
    y[yo + i] = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

__kernel void fr_sigmoid_backward(uint n, __global const float *y, uint yo,
                                  __global const float *dy, uint dyo, __global float *dx, uint dxo)
{
    uint i = get_global_id(0);
    if (i < n)
        dx[dxo + i] = dy[dyo + i] * y[yo + i] * (1.0f - y[yo + i]);
}

/* One work-item per row. */
__kernel void fr_softmax_rows(uint rows, uint cols, __global const float *x, uint xo,
                              __global float *y, uint yo)
{
    uint r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + xo + r * cols;
    __global float *yr = y + yo + r * cols;
    float mx = -INFINITY, s = 0.0f;
    for (uint c = 0; c < cols; c++)
        mx = fmax(mx, xr[c]);
    for (uint c = 0; c < cols; c++) {
        yr[c] = exp(xr[c] - mx);
        s += yr[c];
    }
    float inv = 1.0f / s;
    for (uint c = 0; c < cols; c++)
        yr[c] *= inv;
}

__kernel void fr_softmax_rows_backward(uint rows, uint cols, __global const float *y, uint yo,
                                       __global const float *dy, uint dyo,
                                       __global float *dx, uint dxo)
{
    uint r = get_global_id(0);
    if (r >= rows)
        return;
    float dot = 0.0f;
    for (uint c = 0; c < cols; c++)
        dot += y[yo + r * cols + c] * dy[dyo + r * cols + c];
    for (uint c = 0; c < cols; c++)
        dx[dxo + r * cols + c] = y[yo + r * cols + c] * (dy[dyo + r * cols + c] - dot);
}

/* loss = max(z,0) - z y + log(1 + e^-|z|), dz = sigmoid(z) - y. */
__kernel void fr_bce_with_logits(uint n, __global const float *z, uint zo,
                                 __global const float *label, uint lo, __global float *loss,
                                 uint losso, __global float *dz, uint dzo)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float v = z[zo + i], e = exp(-fabs(v));
    float p = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    loss[losso + i] = fmax(v, 0.0f) - v * label[lo + i] + log1p(e);
    dz[dzo + i] = p - label[lo + i];
}
