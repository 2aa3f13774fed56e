/* cpu_ops.h — the non-BLAS ops on host pointers (internal). The CPU
 * backend calls them directly; a device backend reaches them through the
 * dispatcher's fallback. Shapes are row-major; see fedrec/backend.h for
 * each op's contract.
 *
 * Optimiser formulas (g the gradient, w the parameter, t the step):
 *   SGD rows:  w -= lr * (g + weight_decay * w)
 *   Adam:      g' = g + weight_decay * w            (AdamW: g' = g)
 *              m = beta1 m + (1 - beta1) g'
 *              v = beta2 v + (1 - beta2) g'^2
 *              w -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 *              AdamW then also: w -= lr * weight_decay * w_old
 *   Lazy Adam (rows): the same, for the listed rows only; other rows and
 *   their moments do not move. */
#ifndef FR_CPU_OPS_H
#define FR_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"

void fr_cpu_bias_add(size_t rows, size_t cols, float *x, const float *bias);
void fr_cpu_col_sum(size_t rows, size_t cols, const float *x, float beta, float *out);
void fr_cpu_relu(size_t n, const float *x, float *y);
void fr_cpu_relu_backward(size_t n, const float *x, const float *dy, float *dx);
void fr_cpu_sigmoid(size_t n, const float *x, float *y);
void fr_cpu_sigmoid_backward(size_t n, const float *y, const float *dy, float *dx);
void fr_cpu_softmax_rows(size_t rows, size_t cols, const float *x, float *y);
void fr_cpu_softmax_rows_backward(size_t rows, size_t cols, const float *y,
                                  const float *dy, float *dx);
void fr_cpu_bce_with_logits(size_t n, const float *z, const float *label,
                            float *loss, float *dz);

void fr_cpu_batchnorm_forward_train(size_t rows, size_t cols, const float *x,
                                    const float *gamma, const float *beta,
                                    float eps, float momentum, float *y,
                                    float *save_mean, float *save_invstd,
                                    float *running_mean, float *running_var);
void fr_cpu_batchnorm_forward_eval(size_t rows, size_t cols, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *running_mean,
                                   const float *running_var, float eps, float *y);
void fr_cpu_batchnorm_backward(size_t rows, size_t cols, const float *x,
                               const float *gamma, const float *save_mean,
                               const float *save_invstd, const float *dy,
                               float *dx, float *dgamma, float *dbeta);

void fr_cpu_embedding_gather(size_t n_idx, size_t dim, const float *table,
                             const int32_t *idx, float *out);
void fr_cpu_embedding_scatter_add(size_t n_idx, size_t dim, const float *dout,
                                  const int32_t *idx, float *dtable);
void fr_cpu_sgd_rows(size_t n_rows, size_t dim, const int32_t *rows,
                     const float *grad, float *param, float lr, float weight_decay);
void fr_cpu_adam_rows(size_t n_rows, size_t dim, const int32_t *rows,
                      const float *grad, float *param, float *m, float *v,
                      const fr_adam_step *h);
void fr_cpu_adam(size_t n, const float *grad, float *param, float *m, float *v,
                 const fr_adam_step *h);

#endif
