/* ops_norm.c — batch-norm over the rows of a matrix, per column, on host
 * pointers. Statistics are accumulated in double: batches are small and
 * features can have large means, where float sums lose the variance. */
#include <math.h>

#include "backend/cpu/cpu_ops.h"

void fr_cpu_batchnorm_forward_train(size_t rows, size_t cols, const float *x,
                                    const float *gamma, const float *beta,
                                    float eps, float momentum, float *y,
                                    float *save_mean, float *save_invstd,
                                    float *running_mean, float *running_var)
{
    for (size_t c = 0; c < cols; c++) {
        double mean = 0, var = 0;
        for (size_t r = 0; r < rows; r++)
            mean += x[r * cols + c];
        mean /= (double)rows;
        for (size_t r = 0; r < rows; r++) {
            double d = x[r * cols + c] - mean;
            var += d * d;
        }
        double biased = var / (double)rows;
        double unbiased = rows > 1 ? var / (double)(rows - 1) : biased;
        float invstd = (float)(1.0 / sqrt(biased + eps));
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
        for (size_t r = 0; r < rows; r++)
            y[r * cols + c] = gamma[c] * ((x[r * cols + c] - (float)mean) * invstd) + beta[c];
    }
}

void fr_cpu_batchnorm_forward_eval(size_t rows, size_t cols, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *running_mean,
                                   const float *running_var, float eps, float *y)
{
    for (size_t c = 0; c < cols; c++) {
        float invstd = 1.0f / sqrtf(running_var[c] + eps);
        for (size_t r = 0; r < rows; r++)
            y[r * cols + c] = gamma[c] * ((x[r * cols + c] - running_mean[c]) * invstd) + beta[c];
    }
}

void fr_cpu_batchnorm_backward(size_t rows, size_t cols, const float *x,
                               const float *gamma, const float *save_mean,
                               const float *save_invstd, const float *dy,
                               float *dx, float *dgamma, float *dbeta)
{
    /* With xhat = (x - mean) * invstd:
     * dx = gamma * invstd / N * (N dy - sum(dy) - xhat * sum(dy * xhat)). */
    for (size_t c = 0; c < cols; c++) {
        double sum_dy = 0, sum_dy_xhat = 0;
        float mean = save_mean[c], invstd = save_invstd[c];
        for (size_t r = 0; r < rows; r++) {
            double xhat = (x[r * cols + c] - mean) * invstd;
            sum_dy += dy[r * cols + c];
            sum_dy_xhat += dy[r * cols + c] * xhat;
        }
        dgamma[c] += (float)sum_dy_xhat;
        dbeta[c] += (float)sum_dy;
        double n = (double)rows;
        double k = gamma[c] * invstd / n;
        for (size_t r = 0; r < rows; r++) {
            double xhat = (x[r * cols + c] - mean) * invstd;
            dx[r * cols + c] = (float)(k * (n * dy[r * cols + c] - sum_dy - xhat * sum_dy_xhat));
        }
    }
}
