/* test_conformance.c — every backend op on every CPU path built and
 * supported here, with 1 and 2 threads, against the scalar reference of
 * ref_ops.c, on random inputs from several shapes (single rows and
 * columns, odd sizes, views at nonzero offsets, extreme values). The error
 * measure is |got - ref| / (1 + |ref|); each op's tolerance is in the
 * table printed at the end. GEMM results must also be bit-identical for 1
 * and 2 threads. Where this build has the OpenCL backend and the machine an
 * OpenCL device (PoCL on a CPU in CI), every op also runs there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/backend.h"
#include "fedrec/rng.h"
#include "ref_ops.h"
#include "testutil.h"

enum { OP_GEMM, OP_BATCHED, OP_AXPY, OP_DOT, OP_NRM2, OP_SCAL, OP_COPY, OP_FILL,
       OP_MUL, OP_BIAS, OP_COLSUM, OP_RELU, OP_RELU_B, OP_SIG, OP_SIG_B, OP_SOFTMAX,
       OP_SOFTMAX_B, OP_BN_TRAIN, OP_BN_EVAL, OP_BN_B, OP_GATHER, OP_SCATTER, OP_SGD_ROWS,
       OP_ADAM_ROWS, OP_ADAM, OP_BCE, N_OPS };
static const struct { const char *name; double tol; } ops[N_OPS] = {
    {"gemm", 1e-5}, {"gemm_strided_batched", 1e-5}, {"axpy", 1e-6}, {"dot", 1e-5},
    {"nrm2", 1e-6}, {"scal", 1e-6}, {"copy", 0}, {"fill", 0}, {"mul", 1e-7},
    {"bias_add", 1e-7}, {"col_sum", 1e-5}, {"relu", 0}, {"relu_backward", 0},
    {"sigmoid", 1e-6}, {"sigmoid_backward", 1e-6}, {"softmax_rows", 1e-6},
    {"softmax_rows_backward", 1e-6}, {"batchnorm_forward_train", 1e-5},
    {"batchnorm_forward_eval", 1e-5}, {"batchnorm_backward", 1e-4},
    {"embedding_gather", 0}, {"embedding_scatter_add", 1e-6}, {"sgd_rows", 1e-6},
    {"adam_rows", 1e-5}, {"adam", 1e-5}, {"bce_with_logits", 1e-6},
};
static double worst[N_OPS];
static int runs[N_OPS];

static fr_backend *be;
static fr_rng rng;

static void note(int op, double got, double ref)
{
    double e = fabs(got - ref) / (1.0 + fabs(ref));
    if (!(e == e))
        e = INFINITY;
    if (e > worst[op])
        worst[op] = e;
}

static void random_floats(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (2.0f * fr_rng_uniform(&rng) - 1.0f);
}

/* A buffer of n floats (plus a margin) with x at offset off. */
static fr_view upload(const float *x, size_t n, size_t off)
{
    fr_buffer *b;
    fr_buffer_alloc_zero(be, (n + off + 3) * sizeof(float), &b);
    if (n && x)
        fr_buffer_upload(b, off * sizeof(float), x, n * sizeof(float));
    return fr_view_of(b, off);
}

static float *download(fr_view v, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (n)
        fr_buffer_download(v.buf, v.off * sizeof(float), h, n * sizeof(float));
    return h;
}

static void release(fr_view v)
{
    fr_buffer_free(v.buf);
}

static void test_gemm(size_t m, size_t n, size_t k, int ta, int tb, float alpha, float beta,
                      size_t off, float **keep)
{
    size_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
    size_t na = (ta ? k : m) * lda, nb = (tb ? n : k) * ldb, nc = m * ldc;
    float *a = malloc(na * 4 + 4), *b = malloc(nb * 4 + 4), *c = malloc(nc * 4 + 4);
    random_floats(a, na, 1);
    random_floats(b, nb, 1);
    random_floats(c, nc, 1);
    double *ref = malloc((nc + 1) * sizeof *ref);
    for (size_t i = 0; i < nc; i++)
        ref[i] = c[i];
    ref_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
    fr_view va = upload(a, na, off), vb = upload(b, nb, off + 1), vc = upload(c, nc, off + 2);
    CHECK_OK(fr_gemm(be, ta ? FR_TRANS : FR_NO_TRANS, tb ? FR_TRANS : FR_NO_TRANS, m, n, k, alpha,
                     va, lda, vb, ldb, beta, vc, ldc));
    float *got = download(vc, nc);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            note(OP_GEMM, got[i * ldc + j], ref[i * ldc + j]);
    runs[OP_GEMM]++;
    if (keep)
        *keep = got;
    else
        free(got);
    release(va); release(vb); release(vc);
    free(a); free(b); free(c); free(ref);
}

static void test_batched(void)
{
    size_t m = 9, n = 7, k = 5, batch = 4, sa = m * k + 1, sb = k * n + 2, sc = m * n + 3;
    float *a = malloc(sa * batch * 4), *b = malloc(sb * batch * 4), *c = malloc(sc * batch * 4);
    random_floats(a, sa * batch, 1);
    random_floats(b, sb * batch, 1);
    random_floats(c, sc * batch, 1);
    fr_view va = upload(a, sa * batch, 1), vb = upload(b, sb * batch, 0), vc = upload(c, sc * batch, 2);
    CHECK_OK(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_TRANS, m, n, k, 0.5f, va, k, sa, vb, k, sb,
                                     1.0f, vc, n, sc, batch));
    float *got = download(vc, sc * batch);
    double *ref = malloc(m * n * sizeof *ref);
    for (size_t i = 0; i < batch; i++) {
        for (size_t q = 0; q < m * n; q++)
            ref[q] = c[i * sc + q];
        ref_gemm(0, 1, m, n, k, 0.5, a + i * sa, k, b + i * sb, k, 1.0, ref, n);
        for (size_t q = 0; q < m * n; q++)
            note(OP_BATCHED, got[i * sc + q], ref[q]);
    }
    runs[OP_BATCHED]++;
    release(va); release(vb); release(vc);
    free(a); free(b); free(c); free(got); free(ref);
}

static void test_blas1(size_t n)
{
    float *x = malloc(n * 4 + 4), *y = malloc(n * 4 + 4);
    random_floats(x, n, 2);
    random_floats(y, n, 2);
    fr_view vx = upload(x, n, 1), vy = upload(y, n, 3);
    float r;
    CHECK_OK(fr_dot(be, n, vx, vy, &r));
    double d = 0, q = 0;
    for (size_t i = 0; i < n; i++) {
        d += (double)x[i] * y[i];
        q += (double)x[i] * x[i];
    }
    note(OP_DOT, r / (1.0 + sqrt(q * (double)n)), d / (1.0 + sqrt(q * (double)n)));
    CHECK_OK(fr_nrm2(be, n, vx, &r));
    note(OP_NRM2, r, sqrt(q));
    CHECK_OK(fr_axpy(be, n, -1.5f, vx, vy));
    float *got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_AXPY, got[i], y[i] - 1.5 * x[i]);
    free(got);
    CHECK_OK(fr_scal(be, n, 3.0f, vx));
    got = download(vx, n);
    for (size_t i = 0; i < n; i++)
        note(OP_SCAL, got[i], 3.0 * x[i]);
    free(got);
    CHECK_OK(fr_copy(be, n, vx, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_COPY, got[i], 3.0f * x[i]);
    free(got);
    fr_view vz = upload(y, n, 0);
    CHECK_OK(fr_mul(be, n, vx, vz, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_MUL, got[i], (double)(3.0f * x[i]) * y[i]);
    free(got);
    CHECK_OK(fr_fill(be, n, 0.125f, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_FILL, got[i], 0.125);
    free(got);
    runs[OP_DOT]++; runs[OP_NRM2]++; runs[OP_AXPY]++; runs[OP_SCAL]++;
    runs[OP_COPY]++; runs[OP_MUL]++; runs[OP_FILL]++;
    release(vx); release(vy); release(vz);
    free(x); free(y);
}

static void test_rows_ops(size_t rows, size_t cols, float scale)
{
    size_t n = rows * cols;
    float *x = malloc(n * 4), *dy = malloc(n * 4), *bias = malloc(cols * 4), *out = malloc(cols * 4);
    random_floats(x, n, scale);
    random_floats(dy, n, 1);
    random_floats(bias, cols, 1);
    random_floats(out, cols, 1);
    if (n > 2) {
        x[0] = 1e4f * (scale > 10 ? 1 : 0) + x[0];
        x[1] = -x[0];
    }
    double *ref = malloc((n + cols) * sizeof *ref);
    fr_view vx = upload(x, n, 2), vdy = upload(dy, n, 1), vb = upload(bias, cols, 0);
    fr_view vy = upload(NULL, n, 1), vo = upload(out, cols, 4);
    /* bias_add on a copy */
    CHECK_OK(fr_copy(be, n, vx, vy));
    CHECK_OK(fr_bias_add(be, rows, cols, vy, vb));
    float *got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        ref[i] = x[i];
    ref_bias_add(rows, cols, ref, bias);
    for (size_t i = 0; i < n; i++)
        note(OP_BIAS, got[i], ref[i]);
    free(got);
    for (int beta = 0; beta <= 1; beta++) {
        float *o0 = download(vo, cols);
        CHECK_OK(fr_col_sum(be, rows, cols, vdy, (float)beta, vo));
        got = download(vo, cols);
        for (size_t c = 0; c < cols; c++)
            ref[c] = o0[c];
        ref_col_sum(rows, cols, dy, beta, ref);
        for (size_t c = 0; c < cols; c++)
            note(OP_COLSUM, got[c] / (1.0 + (double)rows), ref[c] / (1.0 + (double)rows));
        free(got);
        free(o0);
    }
    /* activations */
    CHECK_OK(fr_relu(be, n, vx, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_RELU, got[i], ref_relu(x[i]));
    free(got);
    CHECK_OK(fr_relu_backward(be, n, vx, vdy, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_RELU_B, got[i], x[i] > 0 ? dy[i] : 0);
    free(got);
    CHECK_OK(fr_sigmoid(be, n, vx, vy));
    float *sig = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_SIG, sig[i], ref_sigmoid(x[i]));
    fr_view vs = upload(sig, n, 0);
    CHECK_OK(fr_sigmoid_backward(be, n, vs, vdy, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_SIG_B, got[i], (double)dy[i] * sig[i] * (1.0 - sig[i]));
    free(got);
    free(sig);
    release(vs);
    /* softmax */
    CHECK_OK(fr_softmax_rows(be, rows, cols, vx, vy));
    float *sm = download(vy, n);
    ref_softmax_rows(rows, cols, x, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_SOFTMAX, sm[i], ref[i]);
    fr_view vsm = upload(sm, n, 0);
    CHECK_OK(fr_softmax_rows_backward(be, rows, cols, vsm, vdy, vy));
    got = download(vy, n);
    ref_softmax_rows_backward(rows, cols, sm, dy, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_SOFTMAX_B, got[i], ref[i]);
    free(got);
    free(sm);
    release(vsm);
    /* bce */
    float *lab = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        lab[i] = fr_rng_uniform(&rng) < 0.5f ? 0.0f : 1.0f;
    fr_view vl = upload(lab, n, 0), vloss = upload(NULL, n, 0);
    CHECK_OK(fr_bce_with_logits(be, n, vx, vl, vloss, vy));
    float *loss = download(vloss, n);
    got = download(vy, n);
    for (size_t i = 0; i < n; i++) {
        double rl, rd;
        ref_bce(x[i], lab[i], &rl, &rd);
        note(OP_BCE, loss[i], rl);
        note(OP_BCE, got[i], rd);
    }
    free(loss); free(got); free(lab);
    release(vl); release(vloss);
    runs[OP_BIAS]++; runs[OP_COLSUM]++; runs[OP_RELU]++; runs[OP_RELU_B]++; runs[OP_SIG]++;
    runs[OP_SIG_B]++; runs[OP_SOFTMAX]++; runs[OP_SOFTMAX_B]++; runs[OP_BCE]++;
    release(vx); release(vdy); release(vb); release(vy); release(vo);
    free(x); free(dy); free(bias); free(out); free(ref);
}

static void test_batchnorm(size_t rows, size_t cols)
{
    size_t n = rows * cols;
    float *x = malloc(n * 4), *dy = malloc(n * 4), *g = malloc(cols * 4), *b = malloc(cols * 4);
    float *rm = malloc(cols * 4), *rv = malloc(cols * 4);
    random_floats(x, n, 3);
    for (size_t i = 0; i < n; i++)
        x[i] += 5.0f; /* a large mean: variance must not cancel */
    random_floats(dy, n, 1);
    random_floats(g, cols, 1);
    random_floats(b, cols, 1);
    random_floats(rm, cols, 1);
    for (size_t c = 0; c < cols; c++)
        rv[c] = 0.5f + fr_rng_uniform(&rng);
    double *y = malloc(n * 8), *mean = malloc(cols * 8), *is = malloc(cols * 8);
    double *rrm = malloc(cols * 8), *rrv = malloc(cols * 8), *dg = calloc(cols, 8), *db = calloc(cols, 8);
    for (size_t c = 0; c < cols; c++) {
        rrm[c] = rm[c];
        rrv[c] = rv[c];
    }
    fr_view vx = upload(x, n, 1), vdy = upload(dy, n, 0), vg = upload(g, cols, 2), vb = upload(b, cols, 0);
    fr_view vrm = upload(rm, cols, 0), vrv = upload(rv, cols, 1), vy = upload(NULL, n, 0);
    fr_view vmean = upload(NULL, cols, 0), vis = upload(NULL, cols, 0);
    fr_view vdg = upload(NULL, cols, 0), vdb = upload(NULL, cols, 0), vdx = upload(NULL, n, 0);
    CHECK_OK(fr_batchnorm_forward_eval(be, rows, cols, vx, vg, vb, vrm, vrv, 1e-5f, vy));
    float *got = download(vy, n);
    ref_batchnorm_eval(rows, cols, x, g, b, rm, rv, 1e-5, y);
    for (size_t i = 0; i < n; i++)
        note(OP_BN_EVAL, got[i], y[i]);
    free(got);
    CHECK_OK(fr_batchnorm_forward_train(be, rows, cols, vx, vg, vb, 1e-5f, 0.1f, vy, vmean, vis, vrm, vrv));
    ref_batchnorm_train(rows, cols, x, g, b, 1e-5, 0.1, y, mean, is, rrm, rrv);
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_BN_TRAIN, got[i], y[i]);
    free(got);
    got = download(vrm, cols);
    float *gv = download(vrv, cols);
    for (size_t c = 0; c < cols; c++) {
        note(OP_BN_TRAIN, got[c], rrm[c]);
        note(OP_BN_TRAIN, gv[c], rrv[c]);
    }
    free(got);
    free(gv);
    CHECK_OK(fr_batchnorm_backward(be, rows, cols, vx, vg, vmean, vis, vdy, vdx, vdg, vdb));
    double *dx = malloc(n * 8);
    ref_batchnorm_backward(rows, cols, x, g, dy, 1e-5, dx, dg, db);
    got = download(vdx, n);
    for (size_t i = 0; i < n; i++)
        note(OP_BN_B, got[i], dx[i]);
    free(got);
    got = download(vdg, cols);
    gv = download(vdb, cols);
    for (size_t c = 0; c < cols; c++) {
        note(OP_BN_B, got[c] / (double)rows, dg[c] / (double)rows);
        note(OP_BN_B, gv[c] / (double)rows, db[c] / (double)rows);
    }
    free(got); free(gv); free(dx);
    runs[OP_BN_EVAL]++; runs[OP_BN_TRAIN]++; runs[OP_BN_B]++;
    fr_view all[] = {vx, vdy, vg, vb, vrm, vrv, vy, vmean, vis, vdg, vdb, vdx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(x); free(dy); free(g); free(b); free(rm); free(rv);
    free(y); free(mean); free(is); free(rrm); free(rrv); free(dg); free(db);
}

static void test_sparse(size_t rows, size_t dim, size_t n_idx)
{
    float *table = malloc(rows * dim * 4), *dout = malloc(n_idx * dim * 4);
    int32_t *idx = malloc(n_idx * 4);
    random_floats(table, rows * dim, 1);
    random_floats(dout, n_idx * dim, 1);
    for (size_t i = 0; i < n_idx; i++)
        idx[i] = (int32_t)fr_rng_below(&rng, (uint32_t)(rows < 4 ? rows : rows / 2)); /* repeats */
    fr_view vt = upload(table, rows * dim, 1), vdo = upload(dout, n_idx * dim, 0);
    fr_view vi = upload((const float *)(const void *)idx, n_idx, 2), vo = upload(NULL, n_idx * dim, 0);
    CHECK_OK(fr_embedding_gather(be, n_idx, dim, vt, vi, vo));
    float *got = download(vo, n_idx * dim);
    for (size_t i = 0; i < n_idx; i++)
        for (size_t d = 0; d < dim; d++)
            note(OP_GATHER, got[i * dim + d], table[(size_t)idx[i] * dim + d]);
    free(got);
    CHECK_OK(fr_embedding_scatter_add(be, n_idx, dim, vdo, vi, vt));
    got = download(vt, rows * dim);
    double *ref = malloc(rows * dim * 8);
    for (size_t q = 0; q < rows * dim; q++)
        ref[q] = table[q];
    for (size_t i = 0; i < n_idx; i++)
        for (size_t d = 0; d < dim; d++)
            ref[(size_t)idx[i] * dim + d] += dout[i * dim + d];
    for (size_t q = 0; q < rows * dim; q++)
        note(OP_SCATTER, got[q], ref[q]);
    free(got);
    /* Row updates on distinct rows: every other row. */
    size_t n_rows = rows / 2;
    int32_t *urows = malloc((n_rows + 1) * 4);
    for (size_t i = 0; i < n_rows; i++)
        urows[i] = (int32_t)(2 * i);
    float *grad = malloc((n_rows * dim + 1) * 4), *w = malloc(rows * dim * 4);
    random_floats(grad, n_rows * dim, 1);
    random_floats(w, rows * dim, 1);
    fr_view vr = upload((const float *)(const void *)urows, n_rows, 0), vg = upload(grad, n_rows * dim, 1);
    fr_view vw = upload(w, rows * dim, 0);
    CHECK_OK(fr_sgd_rows(be, n_rows, dim, vr, vg, vw, 0.1f, 0.01f));
    got = download(vw, rows * dim);
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < dim; d++) {
            size_t q = r * dim + d;
            double want = r % 2 ? w[q] : w[q] - 0.1 * (grad[(r / 2) * dim + d] + 0.01 * w[q]);
            note(OP_SGD_ROWS, got[q], want);
        }
    free(got);
    /* Lazy Adam, two steps: untouched rows and moments stay bit-identical. */
    float *m0 = calloc(rows * dim, 4), *v0 = calloc(rows * dim, 4);
    fr_view vm = upload(m0, rows * dim, 0), vv = upload(v0, rows * dim, 2);
    fr_view vw2 = upload(w, rows * dim, 0);
    double *rw = malloc(rows * dim * 8), *rm = calloc(rows * dim, 8), *rv = calloc(rows * dim, 8);
    for (size_t q = 0; q < rows * dim; q++)
        rw[q] = w[q];
    for (long step = 1; step <= 2; step++) {
        fr_adam_step h = {0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step == 2, step};
        CHECK_OK(fr_adam_rows(be, n_rows, dim, vr, vg, vw2, vm, vv, &h));
        for (size_t i = 0; i < n_rows; i++)
            for (size_t d = 0; d < dim; d++) {
                size_t q = (size_t)urows[i] * dim + d;
                ref_adam(&rw[q], &rm[q], &rv[q], grad[i * dim + d], 0.01, 0.9, 0.999, 1e-8, 0.1,
                         step == 2, step);
            }
    }
    got = download(vw2, rows * dim);
    float *gm = download(vm, rows * dim), *gv = download(vv, rows * dim);
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < dim; d++) {
            size_t q = r * dim + d;
            if (r % 2) {
                CHECK(got[q] == w[q] && gm[q] == 0.0f && gv[q] == 0.0f,
                      "adam_rows moved untouched row %zu", r);
            } else {
                note(OP_ADAM_ROWS, got[q], rw[q]);
                note(OP_ADAM_ROWS, gm[q], rm[q]);
            }
        }
    free(got); free(gm); free(gv);
    /* Dense Adam over the whole table. */
    fr_view vgd = upload(table, rows * dim, 0), vw3 = upload(w, rows * dim, 1);
    fr_view vm3 = upload(NULL, rows * dim, 0), vv3 = upload(NULL, rows * dim, 0);
    for (size_t q = 0; q < rows * dim; q++) {
        rw[q] = w[q];
        rm[q] = rv[q] = 0;
    }
    /* Plain Adam, then L2 Adam, then AdamW: three steps on the same state. */
    for (long step = 1; step <= 3; step++) {
        float wd = step == 1 ? 0.0f : 0.2f;
        fr_adam_step h = {0.05f, 0.8f, 0.99f, 1e-6f, wd, step == 3, step};
        CHECK_OK(fr_adam(be, rows * dim, vgd, vw3, vm3, vv3, &h));
        got = download(vw3, rows * dim);
        float *gm3 = download(vm3, rows * dim);
        for (size_t q = 0; q < rows * dim; q++) {
            ref_adam(&rw[q], &rm[q], &rv[q], table[q], 0.05, 0.8, 0.99, 1e-6, wd, step == 3, step);
            note(OP_ADAM, got[q], rw[q]);
            note(OP_ADAM, gm3[q], rm[q]);
        }
        free(got);
        free(gm3);
    }
    runs[OP_GATHER]++; runs[OP_SCATTER]++; runs[OP_SGD_ROWS]++; runs[OP_ADAM_ROWS]++; runs[OP_ADAM]++;
    fr_view all[] = {vt, vdo, vi, vo, vr, vg, vw, vm, vv, vw2, vgd, vw3, vm3, vv3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(table); free(dout); free(idx); free(ref); free(urows); free(grad); free(w);
    free(m0); free(v0); free(rw); free(rm); free(rv);
}

/* Every op once on the open backend `be`; the large GEMM's result is kept
 * in *keep when keep is not NULL. */
static void run_suite(float **keep)
{
    fr_rng_init(&rng, 11, 0, 0, FR_RNG_TEST);
    const size_t shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {33, 65, 40}, {130, 70, 64}, {1, 40, 9}};
    for (size_t s = 0; s < 5; s++)
        for (int t = 0; t < 4; t++)
            test_gemm(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1,
                      s % 2 ? -0.5f : 1.0f, t == 1 ? 0.0f : 0.5f, s, NULL);
    test_gemm(300, 200, 150, 0, 0, 1.0f, 0.0f, 3, keep);
    test_batched();
    const size_t lens[] = {1, 7, 64, 1000, 100003};
    for (size_t i = 0; i < 5; i++)
        test_blas1(lens[i]);
    test_rows_ops(1, 9, 1);
    test_rows_ops(17, 1, 3);
    test_rows_ops(64, 33, 30);
    test_rows_ops(5, 5, 200);
    test_batchnorm(2, 3);
    test_batchnorm(100, 17);
    test_sparse(10, 4, 25);
    test_sparse(300, 16, 1000);
}

int main(void)
{
    const fr_cpu_isa isas[] = {FR_ISA_SCALAR, FR_ISA_AVX2, FR_ISA_AVX512, FR_ISA_NEON};
    char paths[256] = "";
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (!fr_cpu_isa_built(isas[ii]) || !fr_cpu_isa_supported(isas[ii]))
            continue;
        strcat(paths, fr_cpu_isa_name(isas[ii]));
        strcat(paths, " ");
        float *by_threads[2] = {NULL, NULL};
        for (int threads = 1; threads <= 2; threads++) {
            fr_backend_options opt;
            fr_backend_options_default(&opt);
            opt.kind = FR_BACKEND_CPU;
            opt.cpu_isa = isas[ii];
            opt.threads = threads;
            CHECK_OK(fr_backend_open(&opt, &be));
            run_suite(&by_threads[threads - 1]);
            fr_backend_close(be);
        }
        CHECK(by_threads[0] && by_threads[1] &&
                  !memcmp(by_threads[0], by_threads[1], 300 * 201 * sizeof(float)),
              "%s: GEMM differs between 1 and 2 threads", fr_cpu_isa_name(isas[ii]));
        free(by_threads[0]);
        free(by_threads[1]);
    }
    strcat(paths, "(threads 1 and 2)");

    /* OpenCL: every op on the device (threshold 0), then every op through
     * the CPU fallback on device buffers (threshold above every size). */
    fr_opencl_device_info *devices = NULL;
    size_t n_devices = 0;
    CHECK_OK(fr_opencl_list_devices(&devices, &n_devices));
    if (!fr_opencl_built())
        fprintf(stderr, "OpenCL: not in this build; its conformance is not tested\n");
    else if (n_devices == 0)
        fprintf(stderr, "OpenCL: no device (install pocl-opencl-icd); its conformance is not tested\n");
    else {
        for (int pass = 0; pass < 2; pass++) {
            fr_backend_options opt;
            fr_backend_options_default(&opt);
            opt.kind = FR_BACKEND_OPENCL;
            opt.threads = 1;
            opt.opencl_min_elements = pass == 0 ? 0 : (size_t)1 << 40;
            fr_status s = fr_backend_open(&opt, &be);
            CHECK_OK(s);
            if (s != FR_OK)
                break;
            if (pass == 0)
                fprintf(stderr, "OpenCL: %s\n", fr_backend_describe(be));
            run_suite(NULL);
            fr_backend_close(be);
        }
        snprintf(paths + strlen(paths), sizeof paths - strlen(paths), ", opencl [%s] on device and through the CPU fallback",
                 devices[0].name);
    }
    free(devices);
    fprintf(stderr, "\nconformance against the scalar reference: %s\n", paths);
    fprintf(stderr, "%-26s %6s %12s %10s\n", "op", "runs", "max error", "tolerance");
    for (int op = 0; op < N_OPS; op++) {
        fprintf(stderr, "%-26s %6d %12.3g %10.0e\n", ops[op].name, runs[op], worst[op], ops[op].tol);
        CHECK(runs[op] > 0, "op %s never ran", ops[op].name);
        CHECK(worst[op] <= ops[op].tol, "op %s: error %.3g over tolerance %.0e", ops[op].name,
              worst[op], ops[op].tol);
    }
    return fr_test_finish("test_conformance");
}
