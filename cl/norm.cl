/* norm.cl - batch-norm kernels, with an optional fused ReLU on the output
 * (relu != 0): one work-item per column (feature), rows visited in order,
 * so statistics do not depend on scheduling. The backward recomputes the
 * ReLU's mask with the forward's own expression (bn_affine). */

/* The normalised value before the ReLU, as the forward computes it. */
inline float bn_affine(float x, float mean, float invstd, float gamma, float beta)
{
    return gamma * ((x - mean) * invstd) + beta;
}

__kernel void fr_batchnorm_forward_train(uint rows, uint cols, __global const float *x, uint xo,
                                         __global const float *gamma, uint go,
                                         __global const float *beta, uint bo, float eps,
                                         float momentum, uint relu, __global float *y, uint yo,
                                         __global float *save_mean, uint smo,
                                         __global float *save_invstd, uint sio,
                                         __global float *run_mean, uint rmo,
                                         __global float *run_var, uint rvo)
{
    uint c = get_global_id(0);
    if (c >= cols)
        return;
    /* Two passes (mean, then squared deviations): stable for large means. */
    float mean = 0.0f, var = 0.0f;
    for (uint r = 0; r < rows; r++)
        mean += x[xo + r * cols + c];
    mean /= (float)rows;
    for (uint r = 0; r < rows; r++) {
        float d = x[xo + r * cols + c] - mean;
        var += d * d;
    }
    float biased = var / (float)rows;
    float unbiased = rows > 1 ? var / (float)(rows - 1) : biased;
    float invstd = rsqrt(biased + eps);
    save_mean[smo + c] = mean;
    save_invstd[sio + c] = invstd;
    run_mean[rmo + c] = (1.0f - momentum) * run_mean[rmo + c] + momentum * mean;
    run_var[rvo + c] = (1.0f - momentum) * run_var[rvo + c] + momentum * unbiased;
    float g = gamma[go + c], b = beta[bo + c];
    for (uint r = 0; r < rows; r++) {
        float v = bn_affine(x[xo + r * cols + c], mean, invstd, g, b);
        y[yo + r * cols + c] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

__kernel void fr_batchnorm_forward_eval(uint rows, uint cols, __global const float *x, uint xo,
                                        __global const float *gamma, uint go,
                                        __global const float *beta, uint bo,
                                        __global const float *run_mean, uint rmo,
                                        __global const float *run_var, uint rvo, float eps,
                                        uint relu, __global float *y, uint yo)
{
    uint i = get_global_id(0);
    if (i >= rows * cols)
        return;
    uint c = i % cols;
    float invstd = 1.0f / sqrt(run_var[rvo + c] + eps);
    float v = bn_affine(x[xo + i], run_mean[rmo + c], invstd, gamma[go + c], beta[bo + c]);
    y[yo + i] = relu && !(v > 0.0f) ? 0.0f : v;
}

__kernel void fr_batchnorm_backward(uint rows, uint cols, __global const float *x, uint xo,
                                    __global const float *gamma, uint go,
                                    __global const float *beta, uint bo,
                                    __global const float *save_mean, uint smo,
                                    __global const float *save_invstd, uint sio, uint relu,
                                    __global const float *dy, uint dyo, __global float *dx,
                                    uint dxo, __global float *dgamma, uint dgo,
                                    __global float *dbeta, uint dbo)
{
    uint c = get_global_id(0);
    if (c >= cols)
        return;
    float mean = save_mean[smo + c], invstd = save_invstd[sio + c];
    float g = gamma[go + c], b = beta[bo + c];
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (uint r = 0; r < rows; r++) {
        float xv = x[xo + r * cols + c];
        float d = dy[dyo + r * cols + c];
        if (relu && !(bn_affine(xv, mean, invstd, g, b) > 0.0f))
            d = 0.0f;
        sum_dy += d;
        sum_dy_xhat += d * ((xv - mean) * invstd);
    }
    dgamma[dgo + c] += sum_dy_xhat;
    dbeta[dbo + c] += sum_dy;
    float n = (float)rows, k = g * invstd / n;
    for (uint r = 0; r < rows; r++) {
        float xv = x[xo + r * cols + c];
        float d = dy[dyo + r * cols + c];
        if (relu && !(bn_affine(xv, mean, invstd, g, b) > 0.0f))
            d = 0.0f;
        float xhat = (xv - mean) * invstd;
        dx[dxo + r * cols + c] = k * (n * d - sum_dy - xhat * sum_dy_xhat);
    }
}
