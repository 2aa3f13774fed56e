/* ref_ops.h — a plain scalar reference of every op of fedrec/backend.h,
 * computed in double and written for obviousness, not speed: what the
 * conformance test compares each backend and CPU path against. Inputs are
 * the float arrays the op received; outputs (and in-out operands) are
 * double arrays, except where a name says otherwise. */
#ifndef FR_REF_OPS_H
#define FR_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

/* BLAS. c/x/y are in-out in double. */
void ref_gemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha,
              const float *a, size_t lda, const float *b, size_t ldb,
              double beta, double *c, size_t ldc);
void ref_gemm_strided_batched(int ta, int tb, size_t m, size_t n, size_t k,
                              double alpha, const float *a, size_t lda,
                              size_t stride_a, const float *b, size_t ldb,
                              size_t stride_b, double beta, double *c,
                              size_t ldc, size_t stride_c, size_t batch);
void ref_axpy(size_t n, double alpha, const float *x, double *y);
double ref_dot(size_t n, const float *x, const float *y);
double ref_nrm2(size_t n, const float *x);
void ref_scal(size_t n, double alpha, double *x);

/* Element-wise and utility ops. */
void ref_copy(size_t n, const float *x, double *y);
void ref_fill(size_t n, double value, double *x);
void ref_mul(size_t n, const float *a, const float *b, double *y);
void ref_bias_add(size_t rows, size_t cols, double *x, const float *bias);
void ref_col_sum(size_t rows, size_t cols, const float *x, double beta, double *out);
double ref_relu(double x);
double ref_relu_backward(double x, double dy);
double ref_sigmoid(double x);
double ref_sigmoid_backward(double y, double dy);
void ref_softmax_rows(size_t rows, size_t cols, const float *x, double *y);
void ref_softmax_rows_backward(size_t rows, size_t cols, const float *y,
                               const float *dy, double *dx);

/* Batch-norm; relu nonzero: a ReLU on the output. The backward pass
 * recomputes the batch statistics from x (it does not take the forward
 * pass's saved values on trust); with a fused ReLU it masks dy where
 * relu_out (the tested forward's output) is not positive, so a value
 * within rounding of the kink cannot flip the mask between op and
 * reference. relu_out NULL: no ReLU. */
void ref_batchnorm_train(size_t rows, size_t cols, const float *x,
                         const float *gamma, const float *beta, double eps,
                         double momentum, int relu, double *y, double *mean,
                         double *invstd, double *run_mean, double *run_var);
void ref_batchnorm_eval(size_t rows, size_t cols, const float *x,
                        const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var,
                        double eps, int relu, double *y);
void ref_batchnorm_backward(size_t rows, size_t cols, const float *x,
                            const float *gamma, const float *relu_out,
                            const float *dy, double eps, double *dx,
                            double *dgamma, double *dbeta);

/* Embeddings. */
void ref_embedding_gather(size_t n_idx, size_t dim, const float *table,
                          const int32_t *idx, double *out);
void ref_embedding_scatter_add(size_t n_idx, size_t dim, const float *dout,
                               const int32_t *idx, double *dtable);
/* The same in float, adding in index order: what the deterministic
 * contract of scatter-add makes every backend produce bit for bit. */
void ref_embedding_scatter_add_ordered(size_t n_idx, size_t dim,
                                       const float *dout, const int32_t *idx,
                                       float *dtable);

/* Gathered row products: out[j] = x[xi[j]] . y[yi[j]] (+ bias[xi[j]] where
 * bias is not NULL); rows of dim values at strides ldx, ldy. */
void ref_rows_dot(size_t n, size_t dim, const float *x, size_t ldx,
                  const int32_t *xi, const float *y, size_t ldy,
                  const int32_t *yi, const float *bias, double *out);
/* Segmented row sums, scattered: y[yi[s]] += alpha * sum over the
 * contributions k of segment s of coef[ci[k]] x[xi[k]] (ci NULL: coef[k];
 * xi NULL: row k; coef NULL: 1). ref_segment_rows_axpy in double; the
 * _ordered form in float, each column's sum formed in increasing k from 0
 * and added once, as the op's contract prescribes: with coefficients and
 * alpha powers of two (exact products, so a fused multiply-add rounds the
 * same) every backend must match it bit for bit. */
void ref_segment_rows_axpy(size_t n_seg, size_t dim, const int32_t *start,
                           const int32_t *yi, double alpha, const float *coef,
                           const int32_t *ci, const float *x, size_t ldx,
                           const int32_t *xi, double *y, size_t ldy);
void ref_segment_rows_axpy_ordered(size_t n_seg, size_t dim,
                                   const int32_t *start, const int32_t *yi,
                                   float alpha, const float *coef,
                                   const int32_t *ci, const float *x,
                                   size_t ldx, const int32_t *xi, float *y,
                                   size_t ldy);

/* Optimisers: one value (ref_adam) and the row and dense forms on top. */
void ref_sgd_rows(size_t n_rows, size_t dim, const int32_t *rows,
                  const float *grad, double *param, double lr, double wd);
void ref_adam(double *w, double *m, double *v, double g, double lr,
              double b1, double b2, double eps, double wd, int decoupled,
              long step);
void ref_adam_rows(size_t n_rows, size_t dim, const int32_t *rows,
                   const float *grad, double *param, double *m, double *v,
                   double lr, double b1, double b2, double eps, double wd,
                   int decoupled, long step);
void ref_adam_dense(size_t n, const float *grad, double *param, double *m,
                    double *v, double lr, double b1, double b2, double eps,
                    double wd, int decoupled, long step);

/* Loss. */
void ref_bce(double z, double y, double *loss, double *dz);

#endif
