/* sparse.cl - embedding gather and scatter-add, sparse row updates and
 * dense Adam. Scatter-add runs one work-item per column and visits the
 * index list in order: repeated ids sum in a fixed order, with no float
 * atomics, so results are the same on every run. */

__kernel void fr_embedding_gather(uint n_idx, uint dim, __global const float *table, uint to,
                                  __global const int *idx, uint io, __global float *out, uint oo)
{
    uint i = get_global_id(0);
    if (i < n_idx * dim)
        out[oo + i] = table[to + (uint)idx[io + i / dim] * dim + i % dim];
}

__kernel void fr_embedding_scatter_add(uint n_idx, uint dim, __global const float *dout, uint doo,
                                       __global const int *idx, uint io, __global float *dtable,
                                       uint dto)
{
    uint d = get_global_id(0);
    if (d >= dim)
        return;
    for (uint i = 0; i < n_idx; i++)
        dtable[dto + (uint)idx[io + i] * dim + d] += dout[doo + i * dim + d];
}

__kernel void fr_sgd_rows(uint n_rows, uint dim, __global const int *rows, uint ro,
                          __global const float *grad, uint go, __global float *param, uint po,
                          float lr, float weight_decay)
{
    uint i = get_global_id(0);
    if (i >= n_rows * dim)
        return;
    uint p = po + (uint)rows[ro + i / dim] * dim + i % dim;
    param[p] -= lr * (grad[go + i] + weight_decay * param[p]);
}

/* One Adam / AdamW step of one value (formulas in src/backend/cpu/cpu_ops.h). */
inline void adam_one(__global const float *g, __global float *w, __global float *m,
                     __global float *v, float lr, float beta1, float beta2, float eps,
                     float weight_decay, int decoupled, float bc1, float bc2)
{
    float w_old = *w;
    float gd = decoupled ? *g : *g + weight_decay * w_old;
    *m = beta1 * *m + (1.0f - beta1) * gd;
    *v = beta2 * *v + (1.0f - beta2) * gd * gd;
    float nw = w_old - lr * (*m / bc1) / (sqrt(*v / bc2) + eps);
    if (decoupled)
        nw -= lr * weight_decay * w_old;
    *w = nw;
}

__kernel void fr_adam_rows(uint n_rows, uint dim, __global const int *rows, uint ro,
                           __global const float *grad, uint go, __global float *param, uint po,
                           __global float *m, uint mo, __global float *v, uint vo, float lr,
                           float beta1, float beta2, float eps, float weight_decay,
                           int decoupled, float bc1, float bc2)
{
    uint i = get_global_id(0);
    if (i >= n_rows * dim)
        return;
    uint r = (uint)rows[ro + i / dim] * dim + i % dim;
    adam_one(grad + go + i, param + po + r, m + mo + r, v + vo + r, lr, beta1, beta2, eps,
             weight_decay, decoupled, bc1, bc2);
}

__kernel void fr_adam(uint n, __global const float *grad, uint go, __global float *param, uint po,
                      __global float *m, uint mo, __global float *v, uint vo, float lr,
                      float beta1, float beta2, float eps, float weight_decay, int decoupled,
                      float bc1, float bc2)
{
    uint i = get_global_id(0);
    if (i < n)
        adam_one(grad + go + i, param + po + i, m + mo + i, v + vo + i, lr, beta1, beta2, eps,
                 weight_decay, decoupled, bc1, bc2);
}
