/* cpu_backend.c — the CPU backend: buffers in 64-byte aligned host memory,
 * BLAS ops through the CPU engine, the rest through the host kernels of
 * cpu/cpu_ops.h, both on the engine's threads. Its ops read views with fr_view_host_in/out, so they work
 * on any backend's buffers (through host shadows): this is also the
 * fallback of every op a device backend leaves NULL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_ops.h"
#include "core/error_internal.h"

#define IN(v) fr_view_host_in(v)
#define OUT(v) fr_view_host_out(v)
#define IDX(v) fr_view_host_idx(v)
/* The backend struct and its engine live together; the struct is the ops'
 * context. */
typedef struct cpu_backend {
    fr_backend be;
    fr_cpu_engine *engine;
} cpu_backend;

#define ENGINE(ctx) (((cpu_backend *)(ctx))->engine)

static fr_status cpu_buffer_alloc(void *ctx, size_t bytes, fr_buffer **out)
{
    (void)ctx;
    /* aligned_alloc wants a multiple of the alignment; a size within 63
     * bytes of SIZE_MAX would round up to 0. */
    if (bytes > SIZE_MAX - 63)
        return fr_fail_nomem("CPU buffer", bytes);
    fr_buffer *b = calloc(1, sizeof *b);
    size_t rounded = (bytes + 63) / 64 * 64;
    void *mem = aligned_alloc(64, rounded ? rounded : 64);
    if (!b || !mem) {
        free(b);
        free(mem);
        return fr_fail_nomem("CPU buffer", bytes);
    }
    b->bytes = bytes;
    b->host = mem;
    b->host_valid = 1;
    *out = b;
    return FR_OK;
}

static void cpu_buffer_free(void *ctx, fr_buffer *buf)
{
    (void)ctx;
    free(buf->host);
    free(buf);
}

static fr_status cpu_upload(void *ctx, fr_buffer *dst, size_t off,
                            const void *src, size_t bytes)
{
    (void)ctx;
    memcpy((char *)dst->host + off, src, bytes);
    return FR_OK;
}

static fr_status cpu_download(void *ctx, const fr_buffer *src, size_t off,
                              void *dst, size_t bytes)
{
    (void)ctx;
    memcpy(dst, (const char *)src->host + off, bytes);
    return FR_OK;
}

static void cpu_destroy(void *ctx)
{
    cpu_backend *cb = ctx;
    fr_cpu_engine_destroy(cb->engine);
    free(cb);
}

static fr_status cpu_gemm(void *ctx, fr_transpose ta, fr_transpose tb,
                          size_t m, size_t n, size_t k, float alpha, fr_view a,
                          size_t lda, fr_view b, size_t ldb, float beta,
                          fr_view c, size_t ldc)
{
    fr_cpu_sgemm(ENGINE(ctx), ta, tb, m, n, k, alpha, m && k ? IN(a) : NULL, lda,
                 n && k ? IN(b) : NULL, ldb, beta, m && n ? OUT(c) : NULL, ldc);
    return FR_OK;
}

static fr_status cpu_gemm_batched(void *ctx, fr_transpose ta, fr_transpose tb,
                                  size_t m, size_t n, size_t k, float alpha,
                                  fr_view a, size_t lda, size_t sa, fr_view b,
                                  size_t ldb, size_t sb, float beta, fr_view c,
                                  size_t ldc, size_t sc, size_t batch)
{
    if (batch == 0 || m == 0 || n == 0)
        return FR_OK;
    fr_cpu_sgemm_strided_batched(ENGINE(ctx), ta, tb, m, n, k, alpha,
                                 k ? IN(a) : NULL, lda, sa, k ? IN(b) : NULL, ldb, sb,
                                 beta, OUT(c), ldc, sc, batch);
    return FR_OK;
}

static fr_status cpu_axpy(void *ctx, size_t n, float alpha, fr_view x, fr_view y)
{
    if (n)
        fr_cpu_saxpy(ENGINE(ctx), n, alpha, IN(x), OUT(y));
    return FR_OK;
}

static fr_status cpu_dot(void *ctx, size_t n, fr_view x, fr_view y, float *r)
{
    *r = n ? fr_cpu_sdot(ENGINE(ctx), n, IN(x), IN(y)) : 0.0f;
    return FR_OK;
}

static fr_status cpu_nrm2(void *ctx, size_t n, fr_view x, float *r)
{
    *r = n ? fr_cpu_snrm2(ENGINE(ctx), n, IN(x)) : 0.0f;
    return FR_OK;
}

static fr_status cpu_scal(void *ctx, size_t n, float alpha, fr_view x)
{
    if (n)
        fr_cpu_sscal(ENGINE(ctx), n, alpha, OUT(x));
    return FR_OK;
}

static fr_status cpu_copy(void *ctx, size_t n, fr_view x, fr_view y)
{
    if (n)
        fr_cpu_copy(ENGINE(ctx), n, IN(x), OUT(y));
    return FR_OK;
}

static fr_status cpu_fill(void *ctx, size_t n, float value, fr_view x)
{
    if (n)
        fr_cpu_fill(ENGINE(ctx), n, value, OUT(x));
    return FR_OK;
}

static fr_status cpu_mul(void *ctx, size_t n, fr_view a, fr_view b, fr_view y)
{
    if (n)
        fr_cpu_mul(ENGINE(ctx), n, IN(a), IN(b), OUT(y));
    return FR_OK;
}

/* Ops whose host kernel takes the views in order, nothing to add: guard
 * empty inputs (a zero-size view may have no buffer) and forward. */
#define EMPTY_OK(cond) \
    if (cond)          \
        return FR_OK

static fr_status cpu_bias_add(void *ctx, size_t rows, size_t cols, fr_view x, fr_view bias)
{
    EMPTY_OK(!rows || !cols);
    fr_cpu_bias_add(ENGINE(ctx), rows, cols, OUT(x), IN(bias));
    return FR_OK;
}

static fr_status cpu_col_sum(void *ctx, size_t rows, size_t cols, fr_view x,
                             float beta, fr_view out)
{
    EMPTY_OK(!cols);
    fr_cpu_col_sum(ENGINE(ctx), rows, cols, rows ? IN(x) : NULL, beta, OUT(out));
    return FR_OK;
}

static fr_status cpu_relu(void *ctx, size_t n, fr_view x, fr_view y)
{
    EMPTY_OK(!n);
    fr_cpu_relu(ENGINE(ctx), n, IN(x), OUT(y));
    return FR_OK;
}

static fr_status cpu_relu_backward(void *ctx, size_t n, fr_view x, fr_view dy, fr_view dx)
{
    EMPTY_OK(!n);
    fr_cpu_relu_backward(ENGINE(ctx), n, IN(x), IN(dy), OUT(dx));
    return FR_OK;
}

static fr_status cpu_sigmoid(void *ctx, size_t n, fr_view x, fr_view y)
{
    EMPTY_OK(!n);
    fr_cpu_sigmoid(ENGINE(ctx), n, IN(x), OUT(y));
    return FR_OK;
}

static fr_status cpu_sigmoid_backward(void *ctx, size_t n, fr_view y, fr_view dy, fr_view dx)
{
    EMPTY_OK(!n);
    fr_cpu_sigmoid_backward(ENGINE(ctx), n, IN(y), IN(dy), OUT(dx));
    return FR_OK;
}

static fr_status cpu_softmax_rows(void *ctx, size_t rows, size_t cols, fr_view x, fr_view y)
{
    EMPTY_OK(!rows || !cols);
    fr_cpu_softmax_rows(ENGINE(ctx), rows, cols, IN(x), OUT(y));
    return FR_OK;
}

static fr_status cpu_softmax_rows_backward(void *ctx, size_t rows, size_t cols,
                                           fr_view y, fr_view dy, fr_view dx)
{
    EMPTY_OK(!rows || !cols);
    fr_cpu_softmax_rows_backward(ENGINE(ctx), rows, cols, IN(y), IN(dy), OUT(dx));
    return FR_OK;
}

static fr_status cpu_bn_train(void *ctx, size_t rows, size_t cols, fr_view x,
                              fr_view gamma, fr_view beta, float eps, float momentum,
                              fr_bn_activation act, fr_view y, fr_view save_mean,
                              fr_view save_invstd, fr_view running_mean, fr_view running_var)
{
    EMPTY_OK(!rows || !cols);
    fr_cpu_batchnorm_forward_train(ENGINE(ctx), rows, cols, IN(x), IN(gamma), IN(beta), eps,
                                   momentum, act == FR_BN_RELU, OUT(y), OUT(save_mean),
                                   OUT(save_invstd), OUT(running_mean), OUT(running_var));
    return FR_OK;
}

static fr_status cpu_bn_eval(void *ctx, size_t rows, size_t cols, fr_view x,
                             fr_view gamma, fr_view beta, fr_view running_mean,
                             fr_view running_var, float eps, fr_bn_activation act, fr_view y)
{
    EMPTY_OK(!rows || !cols);
    fr_cpu_batchnorm_forward_eval(ENGINE(ctx), rows, cols, IN(x), IN(gamma), IN(beta),
                                  IN(running_mean), IN(running_var), eps, act == FR_BN_RELU,
                                  OUT(y));
    return FR_OK;
}

static fr_status cpu_bn_backward(void *ctx, size_t rows, size_t cols, fr_view x,
                                 fr_view gamma, fr_view beta, fr_view save_mean,
                                 fr_view save_invstd, fr_bn_activation act, fr_view dy,
                                 fr_view dx, fr_view dgamma, fr_view dbeta)
{
    EMPTY_OK(!rows || !cols);
    fr_cpu_batchnorm_backward(ENGINE(ctx), rows, cols, IN(x), IN(gamma), IN(beta),
                              IN(save_mean), IN(save_invstd), act == FR_BN_RELU, IN(dy),
                              OUT(dx), OUT(dgamma), OUT(dbeta));
    return FR_OK;
}

static fr_status cpu_gather(void *ctx, size_t n_idx, size_t dim, fr_view table,
                            fr_view idx, fr_view out)
{
    EMPTY_OK(!n_idx || !dim);
    fr_cpu_embedding_gather(ENGINE(ctx), n_idx, dim, IN(table), IDX(idx), OUT(out));
    return FR_OK;
}

static fr_status cpu_scatter_add(void *ctx, size_t n_idx, size_t dim, fr_view dout,
                                 fr_view idx, fr_view dtable)
{
    EMPTY_OK(!n_idx || !dim);
    fr_cpu_embedding_scatter_add(ENGINE(ctx), n_idx, dim, IN(dout), IDX(idx), OUT(dtable));
    return FR_OK;
}

/* Optional views (bias, coef, ci, xi): NULL when their buffer is. */
#define IN_OPT(v) ((v).buf ? fr_view_host_in(v) : NULL)
#define IDX_OPT(v) ((v).buf ? fr_view_host_idx(v) : NULL)

static fr_status cpu_rows_dot(void *ctx, size_t n, size_t dim, fr_view x, size_t ldx, fr_view xi,
                              fr_view y, size_t ldy, fr_view yi, fr_view bias, fr_view out)
{
    EMPTY_OK(!n);
    fr_cpu_rows_dot(ENGINE(ctx), n, dim, IN(x), ldx, IDX(xi), IN(y), ldy, IDX(yi), IN_OPT(bias),
                    OUT(out));
    return FR_OK;
}

static fr_status cpu_segment_rows_axpy(void *ctx, size_t n_seg, size_t n_contrib, size_t dim,
                                       fr_view start, fr_view yi, float alpha, fr_view coef,
                                       fr_view ci, fr_view x, size_t ldx, fr_view xi, fr_view y,
                                       size_t ldy)
{
    EMPTY_OK(!n_seg || !dim);
    fr_cpu_segment_rows_axpy(ENGINE(ctx), n_seg, n_contrib, dim, IDX(start), IDX(yi), alpha,
                             IN_OPT(coef), IDX_OPT(ci), IN(x), ldx, IDX_OPT(xi), OUT(y), ldy);
    return FR_OK;
}

static fr_status cpu_sgd_rows(void *ctx, size_t n_rows, size_t dim, fr_view rows,
                              fr_view grad, fr_view param, float lr, float wd)
{
    EMPTY_OK(!n_rows || !dim);
    fr_cpu_sgd_rows(ENGINE(ctx), n_rows, dim, IDX(rows), IN(grad), OUT(param), lr, wd);
    return FR_OK;
}

static fr_status cpu_adam_rows(void *ctx, size_t n_rows, size_t dim, fr_view rows,
                               fr_view grad, fr_view param, fr_view m, fr_view v,
                               const fr_adam_step *h)
{
    EMPTY_OK(!n_rows || !dim);
    fr_cpu_adam_rows(ENGINE(ctx), n_rows, dim, IDX(rows), IN(grad), OUT(param), OUT(m), OUT(v), h);
    return FR_OK;
}

static fr_status cpu_adam(void *ctx, size_t n, fr_view grad, fr_view param,
                          fr_view m, fr_view v, const fr_adam_step *h)
{
    EMPTY_OK(!n);
    fr_cpu_adam(ENGINE(ctx), n, IN(grad), OUT(param), OUT(m), OUT(v), h);
    return FR_OK;
}

static fr_status cpu_bce(void *ctx, size_t n, fr_view logits, fr_view labels,
                         fr_view loss, fr_view dlogits)
{
    EMPTY_OK(!n);
    fr_cpu_bce_with_logits(ENGINE(ctx), n, IN(logits), IN(labels), OUT(loss), OUT(dlogits));
    return FR_OK;
}

const fr_backend_ops fr_cpu_backend_ops = {
    .name = "cpu",
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .sync_to_host = NULL,
    .finish = NULL,
    .destroy = cpu_destroy,
    .gemm = cpu_gemm,
    .gemm_strided_batched = cpu_gemm_batched,
    .axpy = cpu_axpy,
    .dot = cpu_dot,
    .nrm2 = cpu_nrm2,
    .scal = cpu_scal,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .mul = cpu_mul,
    .bias_add = cpu_bias_add,
    .col_sum = cpu_col_sum,
    .relu = cpu_relu,
    .relu_backward = cpu_relu_backward,
    .sigmoid = cpu_sigmoid,
    .sigmoid_backward = cpu_sigmoid_backward,
    .softmax_rows = cpu_softmax_rows,
    .softmax_rows_backward = cpu_softmax_rows_backward,
    .batchnorm_forward_train = cpu_bn_train,
    .batchnorm_forward_eval = cpu_bn_eval,
    .batchnorm_backward = cpu_bn_backward,
    .embedding_gather = cpu_gather,
    .rows_dot = cpu_rows_dot,
    .segment_rows_axpy = cpu_segment_rows_axpy,
    .embedding_scatter_add = cpu_scatter_add,
    .sgd_rows = cpu_sgd_rows,
    .adam_rows = cpu_adam_rows,
    .adam = cpu_adam,
    .bce_with_logits = cpu_bce,
};

fr_status fr_cpu_backend_open(fr_cpu_isa isa, int threads, fr_backend **out)
{
    *out = NULL;
    cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb)
        return fr_fail_nomem("CPU backend", sizeof *cb);
    fr_status s = fr_cpu_engine_create(isa, threads, &cb->engine);
    if (s != FR_OK) {
        free(cb);
        return s;
    }
    cb->be.ops = &fr_cpu_backend_ops;
    cb->be.ctx = cb;
    cb->be.cpu = &cb->be;
    cb->be.isa = isa;
    cb->be.threads = threads;
    snprintf(cb->be.description, sizeof cb->be.description, "cpu (%s, %d thread%s)",
             fr_cpu_isa_name(isa), threads, threads == 1 ? "" : "s");
    *out = &cb->be;
    return FR_OK;
}
