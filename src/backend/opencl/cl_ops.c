/* cl_ops.c — the op entries of the OpenCL backend: BLAS through CLBlast,
 * everything else through the kernels of cl/. Each op below the backend's
 * size threshold runs on the CPU backend instead (a kernel launch costs
 * more than a tiny op) on host shadows it brings up to date first; each
 * device op first pushes host-written shadows down and, once it has been
 * enqueued, marks what it writes as changed on the device (the coherence
 * protocol of backend_impl.h: a failure at any step leaves every buffer's
 * flags telling the truth). */
#include "backend/opencl/cl_internal.h" /* first: config.h sets the OpenCL version */

#include <clblast_c.h>
#include <math.h>

#include "core/error_internal.h"

#define CL(ctx) ((fr_cl_backend *)(ctx))

/* The views a CPU op touches, for RUN_ON_CPU: VIEWS(x, y). */
#define VIEWS(...) ((const fr_view[]){__VA_ARGS__})
#define N_VIEWS(list) (sizeof(list) / sizeof(fr_view))

/* Bring the shadows of n views up to date; the first failed download is
 * the op's error, before it computes anything from a stale shadow. */
static fr_status shadows_current(const fr_view *views, size_t n)
{
    for (size_t i = 0; i < n; i++)
        FR_TRY(fr_buffer_sync_host(views[i].buf));
    return FR_OK;
}

/* Return the CPU backend's op on host shadows, the first n_synced of
 * `views` synced beforehand: its status, else that of any shadow sync its
 * own host views met (a failure left from before is forgotten first). */
#define RUN_ON_CPU(cl, views, n_synced, op, ...)                              \
    do {                                                                      \
        (void)fr_view_host_status();                                          \
        FR_TRY(shadows_current(views, n_synced));                             \
        fr_status cpu_s_ = (cl)->be.cpu->ops->op((cl)->be.cpu->ctx, __VA_ARGS__); \
        fr_status sync_s_ = fr_view_host_status();                            \
        return cpu_s_ != FR_OK ? cpu_s_ : sync_s_;                            \
    } while (0)

/* Below the threshold: the CPU backend's op on host shadows. Empty ops go
 * there too: their views may have no buffer, and the CPU ops handle every
 * empty case (col_sum over 0 rows and GEMM with k = 0 still scale their
 * output). Empty ops sync nothing beforehand, since their views may be
 * unchecked or name large buffers they never read; what they touch is
 * only the output they scale, and a failed sync of it fails the op
 * without marking the stale shadow dirty, so the device copy stands. */
#define SMALL_ON_CPU(ctx, elements, views, op, ...)                           \
    do {                                                                      \
        size_t small_elements_ = (elements);                                  \
        if (small_elements_ == 0 || small_elements_ < CL(ctx)->min_elements)  \
            RUN_ON_CPU(CL(ctx), views, small_elements_ ? N_VIEWS(views) : 0,  \
                       op, __VA_ARGS__);                                      \
    } while (0)

/* CLBlast routine `call`, unless a test made launches fail. */
#define BLAST_CALL(cl, call)                                                  \
    (fr_cl_fault_now((cl), FR_CL_FAULT_LAUNCH) ? CLBlastOpenCLOutOfResources : (call))

/* ---- kernel arguments ------------------------------------------------------ */

/* A kernel's arguments as they are set: the first failure to set one or
 * to push a shadow down, and the buffers the kernel writes. */
typedef struct kargs {
    fr_cl_backend *cl;
    cl_kernel k;
    cl_uint i;
    cl_int err;
    fr_status status;
    fr_buffer *outs[5];
    size_t n_outs;
} kargs;

static kargs args_for(fr_cl_backend *cl, int k)
{
    kargs a = {cl, cl->kernels[k], 0, CL_SUCCESS, FR_OK, {NULL}, 0};
    return a;
}

static void arg(kargs *a, size_t size, const void *v)
{
    cl_int err = clSetKernelArg(a->k, a->i++, size, v);
    if (err != CL_SUCCESS && a->err == CL_SUCCESS)
        a->err = err;
}

static void arg_u(kargs *a, size_t v)
{
    cl_uint x = (cl_uint)v;
    arg(a, sizeof x, &x);
}

static void arg_f(kargs *a, float v)
{
    arg(a, sizeof v, &v);
}

static void arg_i(kargs *a, int v)
{
    cl_int x = v;
    arg(a, sizeof x, &x);
}

/* A view: its buffer (shadow pushed down first) and its offset. */
static void arg_v(kargs *a, fr_view v)
{
    if (a->status == FR_OK)
        a->status = fr_cl_to_device(a->cl, v.buf);
    cl_mem m = fr_cl_mem(v);
    arg(a, sizeof m, &m);
    arg_u(a, v.off);
}

/* A view the kernel writes (and may read). */
static void arg_out(kargs *a, fr_view v)
{
    arg_v(a, v);
    if (a->n_outs < sizeof a->outs / sizeof a->outs[0])
        a->outs[a->n_outs++] = v.buf;
    else if (a->status == FR_OK)
        a->status = fr_fail(FR_ERR_BACKEND, "OpenCL: a kernel with more than %zu outputs",
                            sizeof a->outs / sizeof a->outs[0]);
}

/* Launch the kernel once every argument is set and every shadow pushed
 * down; only then are its outputs' shadows stale (a failure before the
 * launch leaves them as they were, dirty ones still dirty and valid). */
static fr_status run(kargs *a, int k, size_t global, const char *what)
{
    if (a->status != FR_OK)
        return a->status;
    if (a->err != CL_SUCCESS)
        return fr_cl_fail(a->cl, what, a->err);
    FR_TRY(fr_cl_launch(a->cl, k, global, what));
    for (size_t i = 0; i < a->n_outs; i++)
        fr_cl_written(a->outs[i]);
    return FR_OK;
}

/* ---- BLAS through CLBlast --------------------------------------------------- */

static fr_status blast(fr_cl_backend *cl, CLBlastStatusCode code, const char *what)
{
    if (code == CLBlastSuccess)
        return FR_OK;
    const char *name = fr_cl_error_name((cl_int)code);
    return fr_fail(FR_ERR_BACKEND, "CLBlast %s on '%s' (%s) failed: status %d%s%s%s", what,
                   cl->device_name, cl->platform_name, (int)code, name ? " (" : "",
                   name ? name : "", name ? ")" : "");
}

static CLBlastTranspose tr(fr_transpose t)
{
    return t == FR_TRANS ? CLBlastTransposeYes : CLBlastTransposeNo;
}

/* beta == 0 must ignore C (NaN in C must not survive), which CLBlast's
 * beta * C does not promise: clear the m x n block first. */
static fr_status clear_c(fr_cl_backend *cl, size_t m, size_t n, fr_view c, size_t ldc)
{
    kargs a = args_for(cl, FR_CLK_FILL_MATRIX);
    arg_u(&a, m);
    arg_u(&a, n);
    arg_f(&a, 0.0f);
    arg_out(&a, c);
    arg_u(&a, ldc);
    return run(&a, FR_CLK_FILL_MATRIX, m * n, "gemm (clearing C)");
}

/* The scratch CLBlast's GEMM needs, grown to `bytes`. */
static fr_status gemm_temp(fr_cl_backend *cl, size_t bytes)
{
    if (bytes <= cl->gemm_temp_bytes)
        return FR_OK;
    if (cl->gemm_temp)
        clReleaseMemObject(cl->gemm_temp);
    cl_int err;
    cl->gemm_temp = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        cl->gemm_temp = NULL;
        cl->gemm_temp_bytes = 0;
        return fr_cl_fail(cl, "GEMM temporary buffer", err);
    }
    cl->gemm_temp_bytes = bytes;
    return FR_OK;
}

/* After a CLBlast routine on buffers pushed down first: what it writes is
 * changed on the device even when it failed, since it may have run some
 * of its kernels; the shadow, not dirty, is only forgotten. */
static fr_status blast_wrote(fr_cl_backend *cl, fr_buffer *out, CLBlastStatusCode code,
                             const char *what)
{
    fr_cl_written(out);
    return blast(cl, code, what);
}

static fr_status cl_gemm(void *ctx, fr_transpose ta, fr_transpose tb, size_t m, size_t n,
                         size_t k, float alpha, fr_view a, size_t lda, fr_view b, size_t ldb,
                         float beta, fr_view c, size_t ldc)
{
    SMALL_ON_CPU(ctx, m * n * k, VIEWS(a, b, c), gemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta,
                 c, ldc);
    fr_cl_backend *cl = CL(ctx);
    if (m == 0 || n == 0)
        return FR_OK;
    int product = k != 0 && alpha != 0.0f; /* else alpha A B adds nothing */
    if (!product && beta == 1.0f)
        return FR_OK;
    /* C = beta C, beta neither 0 nor 1: rare, so on the CPU, with k = 0
     * so that it reads neither A nor B. */
    if (!product && beta != 0.0f)
        RUN_ON_CPU(cl, VIEWS(c), 1, gemm, ta, tb, m, n, 0, 0.0f, a, lda, b, ldb, beta, c, ldc);
    /* Every input down before anything runs, so a failed upload changes
     * nothing on the device. */
    if (product) {
        FR_TRY(fr_cl_to_device(cl, a.buf));
        FR_TRY(fr_cl_to_device(cl, b.buf));
    }
    FR_TRY(fr_cl_to_device(cl, c.buf));
    if (beta == 0.0f)
        FR_TRY(clear_c(cl, m, n, c, ldc));
    if (!product)
        return FR_OK;
    size_t temp = 0;
    CLBlastStatusCode code = CLBlastSGemmTempBufferSize(
        CLBlastLayoutRowMajor, tr(ta), tr(tb), m, n, k, a.off, lda, b.off, ldb, c.off, ldc,
        &cl->queue, &temp);
    FR_TRY(blast(cl, code, "GEMM temporary buffer size"));
    FR_TRY(gemm_temp(cl, temp));
    code = BLAST_CALL(cl, CLBlastSgemmWithTempBuffer(
                              CLBlastLayoutRowMajor, tr(ta), tr(tb), m, n, k, alpha, fr_cl_mem(a),
                              a.off, lda, fr_cl_mem(b), b.off, ldb, beta, fr_cl_mem(c), c.off, ldc,
                              &cl->queue, NULL, temp ? cl->gemm_temp : NULL));
    return blast_wrote(cl, c.buf, code, "SGEMM");
}

static fr_status cl_gemm_batched(void *ctx, fr_transpose ta, fr_transpose tb, size_t m,
                                 size_t n, size_t k, float alpha, fr_view a, size_t lda,
                                 size_t sa, fr_view b, size_t ldb, size_t sb, float beta,
                                 fr_view c, size_t ldc, size_t sc, size_t batch)
{
    SMALL_ON_CPU(ctx, m * n * k * batch, VIEWS(a, b, c), gemm_strided_batched, ta, tb, m, n, k,
                 alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
    fr_cl_backend *cl = CL(ctx);
    if (m == 0 || n == 0 || batch == 0)
        return FR_OK;
    int product = k != 0 && alpha != 0.0f; /* as in cl_gemm */
    if (!product && beta == 1.0f)
        return FR_OK;
    if (!product && beta != 0.0f)
        RUN_ON_CPU(cl, VIEWS(c), 1, gemm_strided_batched, ta, tb, m, n, 0, 0.0f, a, lda, sa, b,
                   ldb, sb, beta, c, ldc, sc, batch);
    if (product) {
        FR_TRY(fr_cl_to_device(cl, a.buf));
        FR_TRY(fr_cl_to_device(cl, b.buf));
    }
    FR_TRY(fr_cl_to_device(cl, c.buf));
    if (beta == 0.0f && sc == m * ldc) /* the C matrices stacked: one clear */
        FR_TRY(clear_c(cl, batch * m, n, c, ldc));
    else if (beta == 0.0f)
        for (size_t i = 0; i < batch; i++)
            FR_TRY(clear_c(cl, m, n, fr_view_of(c.buf, c.off + i * sc), ldc));
    if (!product)
        return FR_OK;
    CLBlastStatusCode code = BLAST_CALL(cl, CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, tr(ta), tr(tb), m, n, k, alpha, fr_cl_mem(a), a.off, lda, sa,
        fr_cl_mem(b), b.off, ldb, sb, beta, fr_cl_mem(c), c.off, ldc, sc, batch, &cl->queue, NULL));
    return blast_wrote(cl, c.buf, code, "strided-batched SGEMM");
}

static fr_status cl_axpy(void *ctx, size_t n, float alpha, fr_view x, fr_view y)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x, y), axpy, n, alpha, x, y);
    fr_cl_backend *cl = CL(ctx);
    FR_TRY(fr_cl_to_device(cl, x.buf));
    FR_TRY(fr_cl_to_device(cl, y.buf));
    CLBlastStatusCode code = BLAST_CALL(cl, CLBlastSaxpy(n, alpha, fr_cl_mem(x), x.off, 1, fr_cl_mem(y),
                                                         y.off, 1, &cl->queue, NULL));
    return blast_wrote(cl, y.buf, code, "SAXPY");
}

static fr_status read_scalar(fr_cl_backend *cl, float *result)
{
    return fr_cl_read(cl, cl->scalar, 0, sizeof *result, result, "reading a result");
}

static fr_status cl_dot(void *ctx, size_t n, fr_view x, fr_view y, float *result)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x, y), dot, n, x, y, result);
    fr_cl_backend *cl = CL(ctx);
    FR_TRY(fr_cl_to_device(cl, x.buf));
    FR_TRY(fr_cl_to_device(cl, y.buf));
    FR_TRY(blast(cl, BLAST_CALL(cl, CLBlastSdot(n, cl->scalar, 0, fr_cl_mem(x), x.off, 1, fr_cl_mem(y),
                                                y.off, 1, &cl->queue, NULL)),
                 "SDOT"));
    return read_scalar(cl, result);
}

static fr_status cl_nrm2(void *ctx, size_t n, fr_view x, float *result)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x), nrm2, n, x, result);
    fr_cl_backend *cl = CL(ctx);
    FR_TRY(fr_cl_to_device(cl, x.buf));
    FR_TRY(blast(cl, BLAST_CALL(cl, CLBlastSnrm2(n, cl->scalar, 0, fr_cl_mem(x), x.off, 1, &cl->queue,
                                                 NULL)),
                 "SNRM2"));
    return read_scalar(cl, result);
}

static fr_status cl_scal(void *ctx, size_t n, float alpha, fr_view x)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x), scal, n, alpha, x);
    fr_cl_backend *cl = CL(ctx);
    FR_TRY(fr_cl_to_device(cl, x.buf));
    CLBlastStatusCode code = BLAST_CALL(cl, CLBlastSscal(n, alpha, fr_cl_mem(x), x.off, 1, &cl->queue,
                                                         NULL));
    return blast_wrote(cl, x.buf, code, "SSCAL");
}

/* ---- kernels of cl/ ------------------------------------------------------------ */

static fr_status cl_fill(void *ctx, size_t n, float value, fr_view x)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x), fill, n, value, x);
    kargs a = args_for(CL(ctx), FR_CLK_FILL);
    arg_u(&a, n);
    arg_f(&a, value);
    arg_out(&a, x);
    return run(&a, FR_CLK_FILL, n, "fill");
}

static fr_status cl_copy(void *ctx, size_t n, fr_view x, fr_view y)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x, y), copy, n, x, y);
    kargs a = args_for(CL(ctx), FR_CLK_COPY);
    arg_u(&a, n);
    arg_v(&a, x);
    arg_out(&a, y);
    return run(&a, FR_CLK_COPY, n, "copy");
}

static fr_status cl_mul(void *ctx, size_t n, fr_view x, fr_view y, fr_view out)
{
    SMALL_ON_CPU(ctx, n, VIEWS(x, y, out), mul, n, x, y, out);
    kargs a = args_for(CL(ctx), FR_CLK_MUL);
    arg_u(&a, n);
    arg_v(&a, x);
    arg_v(&a, y);
    arg_out(&a, out);
    return run(&a, FR_CLK_MUL, n, "mul");
}

static fr_status cl_bias_add(void *ctx, size_t rows, size_t cols, fr_view x, fr_view bias)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(x, bias), bias_add, rows, cols, x, bias);
    kargs a = args_for(CL(ctx), FR_CLK_BIAS_ADD);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_out(&a, x);
    arg_v(&a, bias);
    return run(&a, FR_CLK_BIAS_ADD, rows * cols, "bias_add");
}

static fr_status cl_col_sum(void *ctx, size_t rows, size_t cols, fr_view x, float beta, fr_view out)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(x, out), col_sum, rows, cols, x, beta, out);
    kargs a = args_for(CL(ctx), FR_CLK_COL_SUM);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_v(&a, x);
    arg_f(&a, beta);
    arg_out(&a, out);
    return run(&a, FR_CLK_COL_SUM, cols, "col_sum");
}

/* Ops of the form (n, in, out) and (n, in1, in2, out). */
#define UNARY_OP(name, id)                                                   \
    static fr_status cl_##name(void *ctx, size_t n, fr_view x, fr_view y)    \
    {                                                                        \
        SMALL_ON_CPU(ctx, n, VIEWS(x, y), name, n, x, y);                    \
        kargs a = args_for(CL(ctx), id);                                     \
        arg_u(&a, n);                                                        \
        arg_v(&a, x);                                                        \
        arg_out(&a, y);                                                      \
        return run(&a, id, n, #name);                                        \
    }
#define BINARY_OP(name, id)                                                  \
    static fr_status cl_##name(void *ctx, size_t n, fr_view s, fr_view dy,   \
                               fr_view dx)                                   \
    {                                                                        \
        SMALL_ON_CPU(ctx, n, VIEWS(s, dy, dx), name, n, s, dy, dx);          \
        kargs a = args_for(CL(ctx), id);                                     \
        arg_u(&a, n);                                                        \
        arg_v(&a, s);                                                        \
        arg_v(&a, dy);                                                       \
        arg_out(&a, dx);                                                     \
        return run(&a, id, n, #name);                                        \
    }
UNARY_OP(relu, FR_CLK_RELU)
UNARY_OP(sigmoid, FR_CLK_SIGMOID)
BINARY_OP(relu_backward, FR_CLK_RELU_BACKWARD)
BINARY_OP(sigmoid_backward, FR_CLK_SIGMOID_BACKWARD)

static fr_status cl_softmax_rows(void *ctx, size_t rows, size_t cols, fr_view x, fr_view y)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(x, y), softmax_rows, rows, cols, x, y);
    kargs a = args_for(CL(ctx), FR_CLK_SOFTMAX_ROWS);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_v(&a, x);
    arg_out(&a, y);
    return run(&a, FR_CLK_SOFTMAX_ROWS, rows, "softmax_rows");
}

static fr_status cl_softmax_rows_backward(void *ctx, size_t rows, size_t cols, fr_view y,
                                          fr_view dy, fr_view dx)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(y, dy, dx), softmax_rows_backward, rows, cols, y, dy,
                 dx);
    kargs a = args_for(CL(ctx), FR_CLK_SOFTMAX_ROWS_BACKWARD);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_v(&a, y);
    arg_v(&a, dy);
    arg_out(&a, dx);
    return run(&a, FR_CLK_SOFTMAX_ROWS_BACKWARD, rows, "softmax_rows_backward");
}

static fr_status cl_bce(void *ctx, size_t n, fr_view z, fr_view labels, fr_view loss, fr_view dz)
{
    SMALL_ON_CPU(ctx, n, VIEWS(z, labels, loss, dz), bce_with_logits, n, z, labels, loss, dz);
    kargs a = args_for(CL(ctx), FR_CLK_BCE);
    arg_u(&a, n);
    arg_v(&a, z);
    arg_v(&a, labels);
    arg_out(&a, loss);
    arg_out(&a, dz);
    return run(&a, FR_CLK_BCE, n, "bce_with_logits");
}

static fr_status cl_bn_train(void *ctx, size_t rows, size_t cols, fr_view x, fr_view gamma,
                             fr_view beta, float eps, float momentum, fr_bn_activation act,
                             fr_view y, fr_view mean, fr_view invstd, fr_view run_mean,
                             fr_view run_var)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(x, gamma, beta, y, mean, invstd, run_mean, run_var),
                 batchnorm_forward_train, rows, cols, x, gamma, beta, eps, momentum, act, y, mean,
                 invstd, run_mean, run_var);
    kargs a = args_for(CL(ctx), FR_CLK_BN_TRAIN);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_v(&a, x);
    arg_v(&a, gamma);
    arg_v(&a, beta);
    arg_f(&a, eps);
    arg_f(&a, momentum);
    arg_u(&a, act == FR_BN_RELU);
    arg_out(&a, y);
    arg_out(&a, mean);
    arg_out(&a, invstd);
    arg_out(&a, run_mean);
    arg_out(&a, run_var);
    return run(&a, FR_CLK_BN_TRAIN, cols, "batchnorm_forward_train");
}

static fr_status cl_bn_eval(void *ctx, size_t rows, size_t cols, fr_view x, fr_view gamma,
                            fr_view beta, fr_view run_mean, fr_view run_var, float eps,
                            fr_bn_activation act, fr_view y)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(x, gamma, beta, run_mean, run_var, y),
                 batchnorm_forward_eval, rows, cols, x, gamma, beta, run_mean, run_var, eps, act, y);
    kargs a = args_for(CL(ctx), FR_CLK_BN_EVAL);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_v(&a, x);
    arg_v(&a, gamma);
    arg_v(&a, beta);
    arg_v(&a, run_mean);
    arg_v(&a, run_var);
    arg_f(&a, eps);
    arg_u(&a, act == FR_BN_RELU);
    arg_out(&a, y);
    return run(&a, FR_CLK_BN_EVAL, rows * cols, "batchnorm_forward_eval");
}

static fr_status cl_bn_backward(void *ctx, size_t rows, size_t cols, fr_view x, fr_view gamma,
                                fr_view beta, fr_view mean, fr_view invstd, fr_bn_activation act,
                                fr_view dy, fr_view dx, fr_view dgamma, fr_view dbeta)
{
    SMALL_ON_CPU(ctx, rows * cols, VIEWS(x, gamma, beta, mean, invstd, dy, dx, dgamma, dbeta),
                 batchnorm_backward, rows, cols, x, gamma, beta, mean, invstd, act, dy, dx, dgamma,
                 dbeta);
    kargs a = args_for(CL(ctx), FR_CLK_BN_BACKWARD);
    arg_u(&a, rows);
    arg_u(&a, cols);
    arg_v(&a, x);
    arg_v(&a, gamma);
    arg_v(&a, beta);
    arg_v(&a, mean);
    arg_v(&a, invstd);
    arg_u(&a, act == FR_BN_RELU);
    arg_v(&a, dy);
    arg_out(&a, dx);
    arg_out(&a, dgamma);
    arg_out(&a, dbeta);
    return run(&a, FR_CLK_BN_BACKWARD, cols, "batchnorm_backward");
}

static fr_status cl_gather(void *ctx, size_t n_idx, size_t dim, fr_view table, fr_view idx,
                           fr_view out)
{
    SMALL_ON_CPU(ctx, n_idx * dim, VIEWS(table, idx, out), embedding_gather, n_idx, dim, table, idx,
                 out);
    kargs a = args_for(CL(ctx), FR_CLK_GATHER);
    arg_u(&a, n_idx);
    arg_u(&a, dim);
    arg_v(&a, table);
    arg_v(&a, idx);
    arg_out(&a, out);
    return run(&a, FR_CLK_GATHER, n_idx * dim, "embedding_gather");
}

static fr_status cl_scatter_add(void *ctx, size_t n_idx, size_t dim, fr_view dout, fr_view idx,
                                fr_view dtable)
{
    SMALL_ON_CPU(ctx, n_idx * dim, VIEWS(dout, idx, dtable), embedding_scatter_add, n_idx, dim, dout,
                 idx, dtable);
    kargs a = args_for(CL(ctx), FR_CLK_SCATTER_ADD);
    arg_u(&a, n_idx);
    arg_u(&a, dim);
    arg_v(&a, dout);
    arg_v(&a, idx);
    arg_out(&a, dtable);
    return run(&a, FR_CLK_SCATTER_ADD, dim, "embedding_scatter_add");
}

/* An optional view: its flag, then the view, or `stand_in` (never read)
 * where it has no buffer. */
static void arg_opt(kargs *a, fr_view v, fr_view stand_in)
{
    arg_u(a, v.buf != NULL);
    arg_v(a, v.buf ? v : stand_in);
}

static fr_status cl_rows_dot(void *ctx, size_t n, size_t dim, fr_view x, size_t ldx, fr_view xi,
                             fr_view y, size_t ldy, fr_view yi, fr_view bias, fr_view out)
{
    /* Always on the device, however small: the rows these ops read and
     * write are a cohort's whole table (fr_rating_cohort), which a CPU run
     * would copy down and back up for a handful of products. */
    if (n == 0)
        return FR_OK;
    kargs a = args_for(CL(ctx), FR_CLK_ROWS_DOT);
    arg_u(&a, n);
    arg_u(&a, dim);
    arg_v(&a, x);
    arg_u(&a, ldx);
    arg_v(&a, xi);
    arg_v(&a, y);
    arg_u(&a, ldy);
    arg_v(&a, yi);
    arg_opt(&a, bias, x);
    arg_out(&a, out);
    return run(&a, FR_CLK_ROWS_DOT, n, "rows_dot");
}

static fr_status cl_segment_rows_axpy(void *ctx, size_t n_seg, size_t n_contrib, size_t dim,
                                      fr_view start, fr_view yi, float alpha, fr_view coef,
                                      fr_view ci, fr_view x, size_t ldx, fr_view xi, fr_view y,
                                      size_t ldy)
{
    (void)n_contrib; /* the segments' starts bound what the kernel reads */
    if (n_seg == 0 || dim == 0) /* always on the device: see cl_rows_dot */
        return FR_OK;
    kargs a = args_for(CL(ctx), FR_CLK_SEGMENT_ROWS_AXPY);
    arg_u(&a, n_seg);
    arg_u(&a, dim);
    arg_v(&a, start);
    arg_v(&a, yi);
    arg_f(&a, alpha);
    arg_opt(&a, coef, x);
    arg_opt(&a, ci, start);
    arg_v(&a, x);
    arg_u(&a, ldx);
    arg_opt(&a, xi, start);
    arg_out(&a, y);
    arg_u(&a, ldy);
    return run(&a, FR_CLK_SEGMENT_ROWS_AXPY, n_seg * dim, "segment_rows_axpy");
}

static fr_status cl_sgd_rows(void *ctx, size_t n_rows, size_t dim, fr_view rows, fr_view grad,
                             fr_view param, float lr, float wd)
{
    SMALL_ON_CPU(ctx, n_rows * dim, VIEWS(rows, grad, param), sgd_rows, n_rows, dim, rows, grad, param,
                 lr, wd);
    kargs a = args_for(CL(ctx), FR_CLK_SGD_ROWS);
    arg_u(&a, n_rows);
    arg_u(&a, dim);
    arg_v(&a, rows);
    arg_v(&a, grad);
    arg_out(&a, param);
    arg_f(&a, lr);
    arg_f(&a, wd);
    return run(&a, FR_CLK_SGD_ROWS, n_rows * dim, "sgd_rows");
}

static void adam_args(kargs *a, const fr_adam_step *h)
{
    arg_f(a, h->lr);
    arg_f(a, h->beta1);
    arg_f(a, h->beta2);
    arg_f(a, h->eps);
    arg_f(a, h->weight_decay);
    arg_i(a, h->decoupled);
    arg_f(a, (float)(1.0 - pow(h->beta1, (double)h->step)));
    arg_f(a, (float)(1.0 - pow(h->beta2, (double)h->step)));
}

static fr_status cl_adam_rows(void *ctx, size_t n_rows, size_t dim, fr_view rows, fr_view grad,
                              fr_view param, fr_view m, fr_view v, const fr_adam_step *h)
{
    SMALL_ON_CPU(ctx, n_rows * dim, VIEWS(rows, grad, param, m, v), adam_rows, n_rows, dim, rows, grad,
                 param, m, v, h);
    kargs a = args_for(CL(ctx), FR_CLK_ADAM_ROWS);
    arg_u(&a, n_rows);
    arg_u(&a, dim);
    arg_v(&a, rows);
    arg_v(&a, grad);
    arg_out(&a, param);
    arg_out(&a, m);
    arg_out(&a, v);
    adam_args(&a, h);
    return run(&a, FR_CLK_ADAM_ROWS, n_rows * dim, "adam_rows");
}

static fr_status cl_adam(void *ctx, size_t n, fr_view grad, fr_view param, fr_view m, fr_view v,
                         const fr_adam_step *h)
{
    SMALL_ON_CPU(ctx, n, VIEWS(grad, param, m, v), adam, n, grad, param, m, v, h);
    kargs a = args_for(CL(ctx), FR_CLK_ADAM);
    arg_u(&a, n);
    arg_v(&a, grad);
    arg_out(&a, param);
    arg_out(&a, m);
    arg_out(&a, v);
    adam_args(&a, h);
    return run(&a, FR_CLK_ADAM, n, "adam");
}

void fr_cl_fill_ops(fr_backend_ops *ops)
{
    ops->gemm = cl_gemm;
    ops->gemm_strided_batched = cl_gemm_batched;
    ops->axpy = cl_axpy;
    ops->dot = cl_dot;
    ops->nrm2 = cl_nrm2;
    ops->scal = cl_scal;
    ops->copy = cl_copy;
    ops->fill = cl_fill;
    ops->mul = cl_mul;
    ops->bias_add = cl_bias_add;
    ops->col_sum = cl_col_sum;
    ops->relu = cl_relu;
    ops->relu_backward = cl_relu_backward;
    ops->sigmoid = cl_sigmoid;
    ops->sigmoid_backward = cl_sigmoid_backward;
    ops->softmax_rows = cl_softmax_rows;
    ops->softmax_rows_backward = cl_softmax_rows_backward;
    ops->batchnorm_forward_train = cl_bn_train;
    ops->batchnorm_forward_eval = cl_bn_eval;
    ops->batchnorm_backward = cl_bn_backward;
    ops->embedding_gather = cl_gather;
    ops->rows_dot = cl_rows_dot;
    ops->segment_rows_axpy = cl_segment_rows_axpy;
    ops->embedding_scatter_add = cl_scatter_add;
    ops->sgd_rows = cl_sgd_rows;
    ops->adam_rows = cl_adam_rows;
    ops->adam = cl_adam;
    ops->bce_with_logits = cl_bce;
}
