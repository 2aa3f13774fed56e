/* ref_ops.h — plain scalar reference of every backend op, computed in
 * double and written for obviousness, not speed: what the conformance test
 * compares each backend and CPU path against. */
#ifndef FR_REF_OPS_H
#define FR_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

void ref_gemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha,
              const float *a, size_t lda, const float *b, size_t ldb,
              double beta, double *c, size_t ldc);
void ref_bias_add(size_t rows, size_t cols, double *x, const float *bias);
void ref_col_sum(size_t rows, size_t cols, const float *x, double beta, double *out);
double ref_relu(double x);
double ref_sigmoid(double x);
void ref_softmax_rows(size_t rows, size_t cols, const float *x, double *y);
void ref_softmax_rows_backward(size_t rows, size_t cols, const float *y,
                               const float *dy, double *dx);
void ref_batchnorm_train(size_t rows, size_t cols, const float *x,
                         const float *gamma, const float *beta, double eps,
                         double momentum, double *y, double *mean,
                         double *invstd, double *run_mean, double *run_var);
void ref_batchnorm_eval(size_t rows, size_t cols, const float *x,
                        const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var,
                        double eps, double *y);
void ref_batchnorm_backward(size_t rows, size_t cols, const float *x,
                            const float *gamma, const float *dy, double eps,
                            double *dx, double *dgamma, double *dbeta);
void ref_adam(double *w, double *m, double *v, double g, double lr,
              double b1, double b2, double eps, double wd, int decoupled,
              long step);
void ref_bce(double z, double y, double *loss, double *dz);

#endif
