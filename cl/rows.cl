/* rows.cl - gathered row products and segmented row sums: the ops that
 * train a round's clients as one batch (fr_rows_dot, fr_segment_rows_axpy
 * in fedrec/backend.h). A segmented sum runs one work-item per (segment,
 * column) and walks its contributions in order: no float atomics, the same
 * result on every run. Optional inputs come with a flag and a stand-in
 * buffer, never a NULL argument. */

__kernel void fr_rows_dot(uint n, uint dim, __global const float *x, uint xo, uint ldx,
                          __global const int *xi, uint xio, __global const float *y, uint yo,
                          uint ldy, __global const int *yi, uint yio, uint has_bias,
                          __global const float *bias, uint bo, __global float *out, uint oo)
{
    uint j = get_global_id(0);
    if (j >= n)
        return;
    uint r = (uint)xi[xio + j];
    __global const float *xr = x + xo + r * ldx;
    __global const float *yr = y + yo + (uint)yi[yio + j] * ldy;
    float z = 0.0f;
    for (uint c = 0; c < dim; c++)
        z = fma(xr[c], yr[c], z);
    out[oo + j] = has_bias ? z + bias[bo + r] : z;
}

__kernel void fr_segment_rows_axpy(uint n_seg, uint dim, __global const int *start, uint so,
                                   __global const int *yi, uint yio, float alpha,
                                   uint has_coef, __global const float *coef, uint co,
                                   uint has_ci, __global const int *ci, uint cio,
                                   __global const float *x, uint xo, uint ldx, uint has_xi,
                                   __global const int *xi, uint xio, __global float *y, uint yo,
                                   uint ldy)
{
    uint id = get_global_id(0);
    if (id >= n_seg * dim)
        return;
    uint s = id / dim, c = id % dim;
    uint k0 = (uint)start[so + s], k1 = (uint)start[so + s + 1];
    if (k0 == k1)
        return;
    float acc = 0.0f;
    for (uint k = k0; k < k1; k++) {
        float g = has_coef ? coef[co + (has_ci ? (uint)ci[cio + k] : k)] : 1.0f;
        uint r = has_xi ? (uint)xi[xio + k] : k;
        acc = fma(g, x[xo + r * ldx + c], acc);
    }
    __global float *yr = y + yo + (uint)yi[yio + s] * ldy;
    yr[c] = fma(alpha, acc, yr[c]);
}
