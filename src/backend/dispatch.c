/* dispatch.c — the public op entry points. Each checks its arguments (every
 * view must lie inside its buffer, and belong to this backend), then runs
 * the backend's own op, or, where the backend leaves the entry NULL, the
 * CPU backend's op on host views of the same buffers. */
#include <stdatomic.h>

#include "backend/backend_impl.h"
#include "core/fpenv.h"
#include "core/error_internal.h"

/* The status of a fallback op: its own, else that of the shadow syncs it
 * needed (host views cannot fail, so a failed sync is reported here). */
static fr_status fallback_done(fr_status s)
{
    fr_status sync = fr_view_host_status();
    return s != FR_OK ? s : sync;
}

/* Run the backend's op, or the CPU fallback (forgetting any sync failure
 * left over from before, then checking for one of its own), with
 * denormals flushed to zero (fpenv.h). */
#define DISPATCH(op, ...)                                                   \
    do {                                                                    \
        fr_fpenv env_ = fr_fpenv_flush_denormals();                         \
        atomic_fetch_add_explicit(&be->ops_issued, 1, memory_order_relaxed); \
        fr_status s_ = be->ops->op ? be->ops->op(be->ctx, __VA_ARGS__)      \
                       : ((void)fr_view_host_status(),                      \
                          fallback_done(be->cpu->ops->op(be->cpu->ctx, __VA_ARGS__))); \
        fr_fpenv_restore(env_);                                             \
        return s_;                                                          \
    } while (0)

/* a * b, or SIZE_MAX when it overflows (no buffer holds SIZE_MAX floats,
 * so an overflowing extent is then rejected as out of range). */
static size_t mul_sat(size_t a, size_t b)
{
    return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* View v must hold `elems` elements and belong to be. */
static fr_status need(const fr_backend *be, const char *op, const char *arg,
                      fr_view v, size_t elems)
{
    if (elems == 0)
        return FR_OK;
    if (!v.buf)
        return fr_fail(FR_ERR_INVALID, "%s: argument %s is a NULL buffer", op, arg);
    if (v.buf->owner != be)
        return fr_fail(FR_ERR_INVALID, "%s: argument %s belongs to another backend (%s)",
                       op, arg, v.buf->owner->ops->name);
    size_t cap = v.buf->bytes / 4;
    if (elems == SIZE_MAX)
        return fr_fail(FR_ERR_INVALID, "%s: argument %s: its extent overflows (sizes too large)",
                       op, arg);
    if (v.off > cap || elems > cap - v.off)
        return fr_fail(FR_ERR_INVALID, "%s: argument %s needs elements [%zu, %zu) but its buffer holds %zu",
                       op, arg, v.off, add_sat(v.off, elems), cap);
    return FR_OK;
}

/* View v must hold a rows x cols matrix (rows * cols may overflow). */
static fr_status need_rc(const fr_backend *be, const char *op, const char *arg,
                         fr_view v, size_t rows, size_t cols)
{
    return need(be, op, arg, v, mul_sat(rows, cols));
}

/* Elements spanned by a rows x cols matrix with row stride ld. */
static fr_status need_matrix(const fr_backend *be, const char *op,
                             const char *arg, fr_view v, size_t rows,
                             size_t cols, size_t ld)
{
    if (rows == 0 || cols == 0)
        return FR_OK;
    if (ld < cols)
        return fr_fail(FR_ERR_INVALID, "%s: leading dimension of %s is %zu, expected at least %zu",
                       op, arg, ld, cols);
    return need(be, op, arg, v, add_sat(mul_sat(rows - 1, ld), cols));
}

static fr_status check_gemm(const fr_backend *be, const char *op,
                            fr_transpose ta, fr_transpose tb, size_t m,
                            size_t n, size_t k, fr_view a, size_t lda,
                            fr_view b, size_t ldb, fr_view c, size_t ldc,
                            size_t batch, size_t sa, size_t sb, size_t sc)
{
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    /* The first and the last matrix of the batch bound all the others. */
    size_t firsts_lasts[2] = {0, batch ? batch - 1 : 0};
    for (int i = 0; i < (batch ? 2 : 0); i++) {
        size_t at = firsts_lasts[i];
        FR_TRY(need_matrix(be, op, "A", fr_view_of(a.buf, add_sat(a.off, mul_sat(at, sa))), ar, ac, lda));
        FR_TRY(need_matrix(be, op, "B", fr_view_of(b.buf, add_sat(b.off, mul_sat(at, sb))), br, bc, ldb));
        FR_TRY(need_matrix(be, op, "C", fr_view_of(c.buf, add_sat(c.off, mul_sat(at, sc))), m, n, ldc));
    }
    return FR_OK;
}

fr_status fr_gemm(fr_backend *be, fr_transpose ta, fr_transpose tb, size_t m,
                  size_t n, size_t k, float alpha, fr_view a, size_t lda,
                  fr_view b, size_t ldb, float beta, fr_view c, size_t ldc)
{
    FR_TRY(check_gemm(be, "gemm", ta, tb, m, n, k, a, lda, b, ldb, c, ldc, 1, 0, 0, 0));
    DISPATCH(gemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

fr_status fr_gemm_strided_batched(fr_backend *be, fr_transpose ta,
                                  fr_transpose tb, size_t m, size_t n,
                                  size_t k, float alpha, fr_view a, size_t lda,
                                  size_t stride_a, fr_view b, size_t ldb,
                                  size_t stride_b, float beta, fr_view c,
                                  size_t ldc, size_t stride_c, size_t batch)
{
    FR_TRY(check_gemm(be, "gemm_strided_batched", ta, tb, m, n, k, a, lda, b, ldb, c, ldc,
                      batch, stride_a, stride_b, stride_c));
    DISPATCH(gemm_strided_batched, ta, tb, m, n, k, alpha, a, lda, stride_a, b, ldb,
             stride_b, beta, c, ldc, stride_c, batch);
}

fr_status fr_axpy(fr_backend *be, size_t n, float alpha, fr_view x, fr_view y)
{
    FR_TRY(need(be, "axpy", "x", x, n));
    FR_TRY(need(be, "axpy", "y", y, n));
    DISPATCH(axpy, n, alpha, x, y);
}

fr_status fr_dot(fr_backend *be, size_t n, fr_view x, fr_view y, float *result)
{
    FR_TRY(need(be, "dot", "x", x, n));
    FR_TRY(need(be, "dot", "y", y, n));
    DISPATCH(dot, n, x, y, result);
}

fr_status fr_nrm2(fr_backend *be, size_t n, fr_view x, float *result)
{
    FR_TRY(need(be, "nrm2", "x", x, n));
    DISPATCH(nrm2, n, x, result);
}

fr_status fr_scal(fr_backend *be, size_t n, float alpha, fr_view x)
{
    FR_TRY(need(be, "scal", "x", x, n));
    DISPATCH(scal, n, alpha, x);
}

fr_status fr_copy(fr_backend *be, size_t n, fr_view x, fr_view y)
{
    FR_TRY(need(be, "copy", "x", x, n));
    FR_TRY(need(be, "copy", "y", y, n));
    DISPATCH(copy, n, x, y);
}

fr_status fr_fill(fr_backend *be, size_t n, float value, fr_view x)
{
    FR_TRY(need(be, "fill", "x", x, n));
    DISPATCH(fill, n, value, x);
}

fr_status fr_mul(fr_backend *be, size_t n, fr_view a, fr_view b, fr_view y)
{
    FR_TRY(need(be, "mul", "a", a, n));
    FR_TRY(need(be, "mul", "b", b, n));
    FR_TRY(need(be, "mul", "y", y, n));
    DISPATCH(mul, n, a, b, y);
}

fr_status fr_bias_add(fr_backend *be, size_t rows, size_t cols, fr_view x,
                      fr_view bias)
{
    FR_TRY(need_rc(be, "bias_add", "x", x, rows, cols));
    FR_TRY(need(be, "bias_add", "bias", bias, rows ? cols : 0));
    DISPATCH(bias_add, rows, cols, x, bias);
}

fr_status fr_col_sum(fr_backend *be, size_t rows, size_t cols, fr_view x,
                     float beta, fr_view out)
{
    FR_TRY(need_rc(be, "col_sum", "x", x, rows, cols));
    FR_TRY(need(be, "col_sum", "out", out, cols));
    DISPATCH(col_sum, rows, cols, x, beta, out);
}

/* Unary element-wise ops with one input, one output. */
#define UNARY(fn, opname)                                                   \
    fr_status fr_##fn(fr_backend *be, size_t n, fr_view x, fr_view y)       \
    {                                                                       \
        FR_TRY(need(be, opname, "x", x, n));                                \
        FR_TRY(need(be, opname, "y", y, n));                                \
        DISPATCH(fn, n, x, y);                                              \
    }
UNARY(relu, "relu")
UNARY(sigmoid, "sigmoid")

/* Backward element-wise ops: saved tensor, upstream gradient, result. */
#define BACKWARD(fn, opname, saved)                                         \
    fr_status fr_##fn(fr_backend *be, size_t n, fr_view s, fr_view dy,      \
                      fr_view dx)                                           \
    {                                                                       \
        FR_TRY(need(be, opname, saved, s, n));                              \
        FR_TRY(need(be, opname, "dy", dy, n));                              \
        FR_TRY(need(be, opname, "dx", dx, n));                              \
        DISPATCH(fn, n, s, dy, dx);                                         \
    }
BACKWARD(relu_backward, "relu_backward", "x")
BACKWARD(sigmoid_backward, "sigmoid_backward", "y")

fr_status fr_softmax_rows(fr_backend *be, size_t rows, size_t cols, fr_view x,
                          fr_view y)
{
    FR_TRY(need_rc(be, "softmax_rows", "x", x, rows, cols));
    FR_TRY(need_rc(be, "softmax_rows", "y", y, rows, cols));
    DISPATCH(softmax_rows, rows, cols, x, y);
}

fr_status fr_softmax_rows_backward(fr_backend *be, size_t rows, size_t cols,
                                   fr_view y, fr_view dy, fr_view dx)
{
    const char *op = "softmax_rows_backward";
    FR_TRY(need_rc(be, op, "y", y, rows, cols));
    FR_TRY(need_rc(be, op, "dy", dy, rows, cols));
    FR_TRY(need_rc(be, op, "dx", dx, rows, cols));
    DISPATCH(softmax_rows_backward, rows, cols, y, dy, dx);
}

/* act must be one of the fr_bn_activation values. */
static fr_status need_bn_act(const char *op, fr_bn_activation act)
{
    if (act != FR_BN_IDENTITY && act != FR_BN_RELU)
        return fr_fail(FR_ERR_INVALID, "%s: activation %d is neither FR_BN_IDENTITY nor FR_BN_RELU", op,
                       (int)act);
    return FR_OK;
}

fr_status fr_batchnorm_forward_train(fr_backend *be, size_t rows, size_t cols,
                                     fr_view x, fr_view gamma, fr_view beta,
                                     float eps, float momentum,
                                     fr_bn_activation act, fr_view y,
                                     fr_view save_mean, fr_view save_invstd,
                                     fr_view running_mean, fr_view running_var)
{
    const char *op = "batchnorm_forward_train";
    FR_TRY(need_bn_act(op, act));
    if (rows < 2 && cols > 0)
        return fr_fail(FR_ERR_INVALID, "%s: %zu row(s); batch statistics need at least 2", op, rows);
    FR_TRY(need_rc(be, op, "x", x, rows, cols));
    FR_TRY(need_rc(be, op, "y", y, rows, cols));
    FR_TRY(need(be, op, "gamma", gamma, cols));
    FR_TRY(need(be, op, "beta", beta, cols));
    FR_TRY(need(be, op, "save_mean", save_mean, cols));
    FR_TRY(need(be, op, "save_invstd", save_invstd, cols));
    FR_TRY(need(be, op, "running_mean", running_mean, cols));
    FR_TRY(need(be, op, "running_var", running_var, cols));
    DISPATCH(batchnorm_forward_train, rows, cols, x, gamma, beta, eps, momentum, act, y,
             save_mean, save_invstd, running_mean, running_var);
}

fr_status fr_batchnorm_forward_eval(fr_backend *be, size_t rows, size_t cols,
                                    fr_view x, fr_view gamma, fr_view beta,
                                    fr_view running_mean, fr_view running_var,
                                    float eps, fr_bn_activation act, fr_view y)
{
    const char *op = "batchnorm_forward_eval";
    FR_TRY(need_bn_act(op, act));
    FR_TRY(need_rc(be, op, "x", x, rows, cols));
    FR_TRY(need_rc(be, op, "y", y, rows, cols));
    FR_TRY(need(be, op, "gamma", gamma, cols));
    FR_TRY(need(be, op, "beta", beta, cols));
    FR_TRY(need(be, op, "running_mean", running_mean, cols));
    FR_TRY(need(be, op, "running_var", running_var, cols));
    DISPATCH(batchnorm_forward_eval, rows, cols, x, gamma, beta, running_mean,
             running_var, eps, act, y);
}

fr_status fr_batchnorm_backward(fr_backend *be, size_t rows, size_t cols,
                                fr_view x, fr_view gamma, fr_view beta,
                                fr_view save_mean, fr_view save_invstd,
                                fr_bn_activation act, fr_view dy, fr_view dx,
                                fr_view dgamma, fr_view dbeta)
{
    const char *op = "batchnorm_backward";
    FR_TRY(need_bn_act(op, act));
    FR_TRY(need_rc(be, op, "x", x, rows, cols));
    FR_TRY(need_rc(be, op, "dy", dy, rows, cols));
    FR_TRY(need_rc(be, op, "dx", dx, rows, cols));
    FR_TRY(need(be, op, "gamma", gamma, cols));
    FR_TRY(need(be, op, "beta", beta, cols));
    FR_TRY(need(be, op, "save_mean", save_mean, cols));
    FR_TRY(need(be, op, "save_invstd", save_invstd, cols));
    FR_TRY(need(be, op, "dgamma", dgamma, cols));
    FR_TRY(need(be, op, "dbeta", dbeta, cols));
    DISPATCH(batchnorm_backward, rows, cols, x, gamma, beta, save_mean, save_invstd, act, dy,
             dx, dgamma, dbeta);
}

/* Index lists are read on the host to check every id against the table:
 * an out-of-range id would otherwise read or write outside the buffer. */
static fr_status check_ids(fr_backend *be, const char *op, const char *arg,
                           fr_view idx, size_t n, size_t table_rows)
{
    FR_TRY(need(be, op, arg, idx, n));
    if (n == 0)
        return FR_OK;
    (void)fr_view_host_status();
    const int32_t *ids = fr_view_host_idx(idx);
    FR_TRY(fr_view_host_status());
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= table_rows)
            return fr_fail(FR_ERR_INVALID, "%s: %s: index %zu is %d, expected 0..%zu (rows of the table)",
                           op, arg, i, (int)ids[i], table_rows ? table_rows - 1 : 0);
    return FR_OK;
}

/* A row table of `dim` columns from v to the end of its buffer: v must be
 * a buffer of this backend holding at least one row; *rows says how many. */
static fr_status need_table(const fr_backend *be, const char *op,
                            const char *arg, fr_view v, size_t dim,
                            size_t *rows)
{
    FR_TRY(need(be, op, arg, v, dim));
    *rows = v.buf->bytes / 4 > v.off ? (v.buf->bytes / 4 - v.off) / dim : 0;
    return FR_OK;
}

/* Checks of the row ops (gather, scatter-add, SGD and Adam rows): the
 * compact n x dim matrix, the table and its id list. Nothing to do when
 * n * dim == 0, where the table and the ids are not looked at. */
static fr_status check_rows_op(fr_backend *be, const char *op, size_t n,
                               size_t dim, const char *compact_arg,
                               fr_view compact, const char *table_arg,
                               fr_view table, const char *idx_arg, fr_view idx,
                               size_t *table_rows)
{
    *table_rows = 0;
    FR_TRY(need_rc(be, op, compact_arg, compact, n, dim));
    if (n == 0 || dim == 0)
        return FR_OK;
    FR_TRY(need_table(be, op, table_arg, table, dim, table_rows));
    return check_ids(be, op, idx_arg, idx, n, *table_rows);
}

fr_status fr_embedding_gather(fr_backend *be, size_t n_idx, size_t dim,
                              fr_view table, fr_view idx, fr_view out)
{
    size_t rows;
    FR_TRY(check_rows_op(be, "embedding_gather", n_idx, dim, "out", out, "table", table, "idx", idx, &rows));
    DISPATCH(embedding_gather, n_idx, dim, table, idx, out);
}

fr_status fr_embedding_scatter_add(fr_backend *be, size_t n_idx, size_t dim,
                                   fr_view dout, fr_view idx, fr_view dtable)
{
    size_t rows;
    FR_TRY(check_rows_op(be, "embedding_scatter_add", n_idx, dim, "dout", dout, "dtable", dtable, "idx", idx, &rows));
    DISPATCH(embedding_scatter_add, n_idx, dim, dout, idx, dtable);
}

fr_status fr_sgd_rows(fr_backend *be, size_t n_rows, size_t dim, fr_view rows,
                      fr_view grad, fr_view param, float lr, float weight_decay)
{
    size_t table;
    FR_TRY(check_rows_op(be, "sgd_rows", n_rows, dim, "grad", grad, "param", param, "rows", rows, &table));
    DISPATCH(sgd_rows, n_rows, dim, rows, grad, param, lr, weight_decay);
}

static fr_status check_adam(const fr_adam_step *h, const char *op)
{
    if (!h || h->step < 1)
        return fr_fail(FR_ERR_INVALID, "%s: step must be >= 1 (bias correction)", op);
    if (!(h->beta1 >= 0 && h->beta1 < 1 && h->beta2 >= 0 && h->beta2 < 1 && h->eps > 0))
        return fr_fail(FR_ERR_INVALID, "%s: need 0 <= beta1, beta2 < 1 and eps > 0 (got %g, %g, %g)",
                       op, h->beta1, h->beta2, h->eps);
    return FR_OK;
}

fr_status fr_adam_rows(fr_backend *be, size_t n_rows, size_t dim, fr_view rows,
                       fr_view grad, fr_view param, fr_view m, fr_view v,
                       const fr_adam_step *h)
{
    const char *op = "adam_rows";
    FR_TRY(check_adam(h, op));
    size_t table, table_m = 0, table_v = 0;
    FR_TRY(check_rows_op(be, op, n_rows, dim, "grad", grad, "param", param, "rows", rows, &table));
    if (table) {
        FR_TRY(need_table(be, op, "m", m, dim, &table_m));
        FR_TRY(need_table(be, op, "v", v, dim, &table_v));
        if (table_m < table || table_v < table)
            return fr_fail(FR_ERR_INVALID, "%s: moments m and v hold %zu and %zu rows, the parameter table %zu",
                           op, table_m, table_v, table);
    }
    DISPATCH(adam_rows, n_rows, dim, rows, grad, param, m, v, h);
}

fr_status fr_adam(fr_backend *be, size_t n, fr_view grad, fr_view param,
                  fr_view m, fr_view v, const fr_adam_step *h)
{
    FR_TRY(check_adam(h, "adam"));
    FR_TRY(need(be, "adam", "grad", grad, n));
    FR_TRY(need(be, "adam", "param", param, n));
    FR_TRY(need(be, "adam", "m", m, n));
    FR_TRY(need(be, "adam", "v", v, n));
    DISPATCH(adam, n, grad, param, m, v, h);
}

fr_status fr_bce_with_logits(fr_backend *be, size_t n, fr_view logits,
                             fr_view labels, fr_view loss, fr_view dlogits)
{
    const char *op = "bce_with_logits";
    FR_TRY(need(be, op, "logits", logits, n));
    FR_TRY(need(be, op, "labels", labels, n));
    FR_TRY(need(be, op, "loss", loss, n));
    FR_TRY(need(be, op, "dlogits", dlogits, n));
    DISPATCH(bce_with_logits, n, logits, labels, loss, dlogits);
}

/* Whether views a (na elements) and b (nb) share memory. */
static int overlap(fr_view a, size_t na, fr_view b, size_t nb)
{
    return a.buf && a.buf == b.buf && na && nb && a.off < add_sat(b.off, nb) && b.off < add_sat(a.off, na);
}

/* Output `out` (n_out elements) must not share memory with any input
 * (an op would rewrite its own indices after they were checked). */
static fr_status apart(const char *op, const char *out_name, fr_view out, size_t n_out, const char *const *names,
                       const fr_view *in, const size_t *n_in, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (overlap(out, n_out, in[i], n_in[i]))
            return fr_fail(FR_ERR_INVALID, "%s: %s shares memory with %s: an output must not overlap the op's inputs",
                           op, out_name, names[i]);
    return FR_OK;
}

/* Elements from v to the end of its buffer. */
static size_t rest(fr_view v)
{
    return v.buf && v.buf->bytes / 4 > v.off ? v.buf->bytes / 4 - v.off : 0;
}

fr_status fr_rows_dot(fr_backend *be, size_t n, size_t dim, fr_view x, size_t ldx, fr_view xi,
                      fr_view y, size_t ldy, fr_view yi, fr_view bias, fr_view out)
{
    const char *op = "rows_dot";
    FR_TRY(need(be, op, "out", out, n));
    if (n == 0)
        return FR_OK;
    if (dim == 0 || ldx < dim || ldy < dim)
        return fr_fail(FR_ERR_INVALID, "%s: dim %zu with row strides %zu and %zu: expected 0 < dim <= each stride",
                       op, dim, ldx, ldy);
    size_t x_rows, y_rows;
    FR_TRY(need(be, op, "x", x, dim));
    FR_TRY(need(be, op, "y", y, dim));
    x_rows = (x.buf->bytes / 4 - x.off - dim) / ldx + 1;
    y_rows = (y.buf->bytes / 4 - y.off - dim) / ldy + 1;
    if (bias.buf) {
        size_t b_rows;
        FR_TRY(need_table(be, op, "bias", bias, 1, &b_rows));
        if (b_rows < x_rows)
            x_rows = b_rows;
    }
    FR_TRY(check_ids(be, op, "xi", xi, n, x_rows));
    FR_TRY(check_ids(be, op, "yi", yi, n, y_rows));
    const char *names[] = {"x", "xi", "y", "yi", "bias"};
    fr_view in[] = {x, xi, y, yi, bias};
    size_t n_in[] = {rest(x), n, rest(y), n, bias.buf ? rest(bias) : 0};
    FR_TRY(apart(op, "out", out, n, names, in, n_in, 5));
    DISPATCH(rows_dot, n, dim, x, ldx, xi, y, ldy, yi, bias, out);
}

fr_status fr_segment_rows_axpy(fr_backend *be, size_t n_seg, size_t n_contrib, size_t dim,
                               fr_view start, fr_view yi, float alpha, fr_view coef,
                               fr_view ci, fr_view x, size_t ldx, fr_view xi, fr_view y,
                               size_t ldy)
{
    const char *op = "segment_rows_axpy";
    if (n_seg == 0 || dim == 0)
        return FR_OK;
    if (ldx < dim || ldy < dim)
        return fr_fail(FR_ERR_INVALID, "%s: dim %zu with row strides %zu and %zu: expected dim <= each stride",
                       op, dim, ldx, ldy);
    FR_TRY(need(be, op, "start", start, add_sat(n_seg, 1)));
    (void)fr_view_host_status();
    const int32_t *st = fr_view_host_idx(start);
    FR_TRY(fr_view_host_status());
    for (size_t s = 0; s <= n_seg; s++)
        if (st[s] < 0 || (size_t)st[s] > n_contrib || (s > 0 && st[s] < st[s - 1]))
            return fr_fail(FR_ERR_INVALID, "%s: start[%zu] is %d, expected a nondecreasing value in 0..%zu",
                           op, s, (int)st[s], n_contrib);
    FR_TRY(need(be, op, "x", x, dim));
    FR_TRY(need(be, op, "y", y, dim));
    size_t x_rows = (x.buf->bytes / 4 - x.off - dim) / ldx + 1;
    size_t y_rows = (y.buf->bytes / 4 - y.off - dim) / ldy + 1;
    FR_TRY(check_ids(be, op, "yi", yi, n_seg, y_rows));
    size_t coef_n = n_contrib;
    if (ci.buf && coef.buf) {
        size_t coef_rows;
        FR_TRY(need_table(be, op, "coef", coef, 1, &coef_rows));
        FR_TRY(check_ids(be, op, "ci", ci, n_contrib, coef_rows));
    } else if (coef.buf) {
        FR_TRY(need(be, op, "coef", coef, coef_n));
    }
    if (xi.buf)
        FR_TRY(check_ids(be, op, "xi", xi, n_contrib, x_rows));
    else if (n_contrib > x_rows)
        return fr_fail(FR_ERR_INVALID, "%s: x holds %zu rows, the %zu contributions read one each",
                       op, x_rows, n_contrib);
    /* y's rows may lie anywhere from y to its buffer's end. */
    const char *names[] = {"start", "yi", "coef", "ci", "xi", "x"};
    fr_view in[] = {start, yi, coef, ci, xi, x};
    size_t n_in[] = {n_seg + 1, n_seg, coef.buf ? rest(coef) : 0, ci.buf ? n_contrib : 0, xi.buf ? n_contrib : 0,
                     rest(x)};
    FR_TRY(apart(op, "y", y, rest(y), names, in, n_in, 6));
    DISPATCH(segment_rows_axpy, n_seg, n_contrib, dim, start, yi, alpha, coef, ci, x, ldx, xi, y,
             ldy);
}
