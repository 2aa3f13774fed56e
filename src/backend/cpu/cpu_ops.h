/* cpu_ops.h — the non-BLAS ops on host pointers (internal). The CPU
 * backend (cpu_backend.c) calls them; a device backend reaches them through
 * the dispatcher's fallback or its small-op threshold. Shapes are
 * row-major; see fedrec/backend.h for each op's contract.
 *
 * Threads. Every kernel takes the CPU engine and splits large inputs over
 * its workers (e may be NULL: one thread). Inputs under twice an op's grain
 * stay on the calling thread: waking the pool costs more than a small op.
 * A split only divides the work: every output element is computed from the
 * same operands in the same order whatever the split, so results are
 * bit-identical for any thread count.
 * - Element-wise ops and row ops (softmax, gather): contiguous ranges.
 * - Batch-norm: blocks of columns; each column is summed in row order,
 *   chunk by chunk, the chunks merged in double.
 * - col_sum stays on one thread: it is bound by memory bandwidth, and a
 *   column split measured slower than one thread on two cores.
 * - Scatter-add and the row optimisers: task t of T owns the destination
 *   rows with id % T == t and applies their updates in index order, so
 *   repeated ids sum in order without atomics and no two tasks write one
 *   row.
 *
 * Aliasing: an output may be the very array of an input of the same shape
 * (in place); partial overlaps are not supported, except by fr_cpu_copy,
 * which then behaves as memmove.
 *
 * Formulas (g the gradient, w the parameter, t = h->step >= 1):
 *   sigmoid:   y = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) otherwise (the
 *              exponent is never positive, so nothing overflows)
 *   softmax:   y = e^(x - max) / sum e^(x - max), per row
 *   BCE:       loss = max(z, 0) - z y + log1p(e^-|z|), dz = sigmoid(z) - y
 *   batch-norm (per column over N rows): mean; var the biased variance;
 *              invstd = 1 / sqrt(var + eps); y = gamma (x - mean) invstd + beta;
 *              running_mean = (1 - momentum) running_mean + momentum mean;
 *              running_var  = (1 - momentum) running_var + momentum var N / (N - 1).
 *              Backward, with xhat = (x - mean) invstd:
 *              dx = gamma invstd / N (N dy - sum dy - xhat sum(dy xhat));
 *              dgamma += sum(dy xhat); dbeta += sum dy.
 *              With a fused ReLU, y = max(v, 0) for v = (x - mean) scale +
 *              beta, scale = gamma invstd, and backward first masks dy by
 *              v > 0, v recomputed by the forward's own expression.
 *   SGD rows:  w -= lr (g + weight_decay w)
 *   Adam:      g' = g + weight_decay w                  (AdamW: g' = g)
 *              m = beta1 m + (1 - beta1) g'
 *              v = beta2 v + (1 - beta2) g'^2
 *              w -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 *              AdamW then also: w -= lr weight_decay w_old (w before the step)
 *   Lazy Adam (rows): the same on the listed rows only; other rows and their
 *              moments are neither read nor written. */
#ifndef FR_CPU_OPS_H
#define FR_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "backend/cpu/cpu_engine.h"
#include "fedrec/backend.h"

/* Elements of work one task must get before a split pays (measured on
 * two cores): for ops that run at memcpy speed (copy, fill, gather), for
 * other ops bound by memory traffic (mul, relu, bias, scatter, SGD), and
 * for ops with an exp, sqrt or division per element. The conformance test
 * sizes its inputs from these to reach the threaded paths. */
#define FR_CPU_GRAIN_COPY ((size_t)1 << 20)
#define FR_CPU_GRAIN_LIGHT ((size_t)1 << 17)
#define FR_CPU_GRAIN_HEAVY ((size_t)1 << 13)

/* How many tasks to split `work` elements into: 1 under 2 * grain (or
 * without an engine), else work / grain capped at the engine's threads. */
size_t fr_cpu_ops_tasks(const fr_cpu_engine *e, size_t work, size_t grain);

/* Run fn(arg, begin, end) on contiguous ranges covering [0, n), one per
 * task, where each of the n items is item_work elements of work. */
typedef void (*fr_cpu_range_fn)(void *arg, size_t begin, size_t end);
void fr_cpu_ops_ranges(fr_cpu_engine *e, size_t n, size_t item_work,
                       size_t grain, fr_cpu_range_fn fn, void *arg);

/* Run fn(arg, task, tasks) for every task of a split of `work` elements,
 * for kernels that divide their output by owner (see "Threads" above)
 * rather than by range. */
typedef void (*fr_cpu_owner_fn)(void *arg, size_t task, size_t tasks);
void fr_cpu_ops_owners(fr_cpu_engine *e, size_t work, size_t grain,
                       fr_cpu_owner_fn fn, void *arg);

/* Gathered row products and segmented row sums (ops_rows.c; fedrec/backend.h's
 * fr_rows_dot and fr_segment_rows_axpy). NULL bias, coef, ci or xi as there. */
void fr_cpu_rows_dot(fr_cpu_engine *e, size_t n, size_t dim, const float *x, size_t ldx,
                     const int32_t *xi, const float *y, size_t ldy, const int32_t *yi,
                     const float *bias, float *out);
void fr_cpu_segment_rows_axpy(fr_cpu_engine *e, size_t n_seg, size_t n_contrib, size_t dim,
                              const int32_t *start, const int32_t *yi, float alpha,
                              const float *coef, const int32_t *ci, const float *x, size_t ldx,
                              const int32_t *xi, float *y, size_t ldy);

/* Element-wise and row ops (ops_elementwise.c). */
void fr_cpu_copy(fr_cpu_engine *e, size_t n, const float *x, float *y);
void fr_cpu_fill(fr_cpu_engine *e, size_t n, float value, float *x);
void fr_cpu_mul(fr_cpu_engine *e, size_t n, const float *a, const float *b,
                float *y);
void fr_cpu_bias_add(fr_cpu_engine *e, size_t rows, size_t cols, float *x,
                     const float *bias);
/* out = beta * out + column sums; beta == 0 ignores out (NaN included). */
void fr_cpu_col_sum(fr_cpu_engine *e, size_t rows, size_t cols,
                    const float *x, float beta, float *out);
void fr_cpu_relu(fr_cpu_engine *e, size_t n, const float *x, float *y);
void fr_cpu_relu_backward(fr_cpu_engine *e, size_t n, const float *x,
                          const float *dy, float *dx);
void fr_cpu_sigmoid(fr_cpu_engine *e, size_t n, const float *x, float *y);
void fr_cpu_sigmoid_backward(fr_cpu_engine *e, size_t n, const float *y,
                             const float *dy, float *dx);
void fr_cpu_softmax_rows(fr_cpu_engine *e, size_t rows, size_t cols,
                         const float *x, float *y);
void fr_cpu_softmax_rows_backward(fr_cpu_engine *e, size_t rows, size_t cols,
                                  const float *y, const float *dy, float *dx);

/* Loss (ops_loss.c). */
void fr_cpu_bce_with_logits(fr_cpu_engine *e, size_t n, const float *z,
                            const float *label, float *loss, float *dz);

/* Batch-norm (ops_norm.c); rows >= 1 (the dispatcher asks 2 for training);
 * relu nonzero: a ReLU on the output (fr_bn_activation). */
void fr_cpu_batchnorm_forward_train(fr_cpu_engine *e, size_t rows,
                                    size_t cols, const float *x,
                                    const float *gamma, const float *beta,
                                    float eps, float momentum, int relu,
                                    float *y, float *save_mean,
                                    float *save_invstd, float *running_mean,
                                    float *running_var);
void fr_cpu_batchnorm_forward_eval(fr_cpu_engine *e, size_t rows, size_t cols,
                                   const float *x, const float *gamma,
                                   const float *beta,
                                   const float *running_mean,
                                   const float *running_var, float eps,
                                   int relu, float *y);
void fr_cpu_batchnorm_backward(fr_cpu_engine *e, size_t rows, size_t cols,
                               const float *x, const float *gamma,
                               const float *beta, const float *save_mean,
                               const float *save_invstd, int relu,
                               const float *dy, float *dx, float *dgamma,
                               float *dbeta);

/* Embeddings (ops_embedding.c); ids are in range (the dispatcher checks). */
void fr_cpu_embedding_gather(fr_cpu_engine *e, size_t n_idx, size_t dim,
                             const float *table, const int32_t *idx,
                             float *out);
void fr_cpu_embedding_scatter_add(fr_cpu_engine *e, size_t n_idx, size_t dim,
                                  const float *dout, const int32_t *idx,
                                  float *dtable);

/* Optimisers (ops_optim.c). */
void fr_cpu_sgd_rows(fr_cpu_engine *e, size_t n_rows, size_t dim,
                     const int32_t *rows, const float *grad, float *param,
                     float lr, float weight_decay);
void fr_cpu_adam_rows(fr_cpu_engine *e, size_t n_rows, size_t dim,
                      const int32_t *rows, const float *grad, float *param,
                      float *m, float *v, const fr_adam_step *h);
void fr_cpu_adam(fr_cpu_engine *e, size_t n, const float *grad, float *param,
                 float *m, float *v, const fr_adam_step *h);

#endif
