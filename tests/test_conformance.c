/* test_conformance.c — every backend op on every CPU path built and
 * supported here, with 1 and 2 threads, against the scalar reference of
 * ref_ops.c, on random inputs of several shapes: single rows and columns,
 * odd sizes, views at nonzero offsets, extreme values, and sizes above the
 * host kernels' thread grains (cpu_ops.h) so the threaded paths run too.
 *
 * Each compared value counts towards its op's error columns: max abs is
 * |got - ref|; max rel is |got - ref| / |ref| over values with |ref| >=
 * 1e-3; the checked measure is |got - ref| / (mag + |ref|), where mag is 1,
 * or for a sum (GEMM, dot, col_sum, batch-norm gradient sums, the BCE loss)
 * the sum of the magnitudes of its terms, and must stay within the op's
 * tolerance.
 * Exact ops (copy, fill, relu, gather) have tolerance 0.
 *
 * Also checked: every op's results are bit-identical for 1 and 2 threads;
 * GEMM leaves C's padding alone and ignores NaN in C when beta is 0;
 * scatter-add with repeated ids equals the in-order float sum bit for bit,
 * and so does the segmented row sum where its products are exact;
 * lazy Adam leaves untouched rows and their moments bit-identical; empty
 * ops succeed. Where this build has the OpenCL backend and the machine an
 * OpenCL device (PoCL on a CPU in CI), every op also runs there, once on
 * the device and once through the CPU fallback on device buffers. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "fedrec/backend.h"
#include "fedrec/rng.h"
#include "ref_ops.h"
#include "testutil.h"

enum { OP_GEMM, OP_BATCHED, OP_AXPY, OP_DOT, OP_NRM2, OP_SCAL, OP_COPY, OP_FILL,
       OP_MUL, OP_BIAS, OP_COLSUM, OP_RELU, OP_RELU_B, OP_SIG, OP_SIG_B, OP_SOFTMAX,
       OP_SOFTMAX_B, OP_BN_TRAIN, OP_BN_EVAL, OP_BN_B, OP_GATHER, OP_SCATTER, OP_SGD_ROWS,
       OP_ADAM_ROWS, OP_ADAM, OP_BCE, OP_ROWS_DOT, OP_SEGMENT, N_OPS };
static const struct { const char *name; double tol; } ops[N_OPS] = {
    {"gemm", 1e-6}, {"gemm_strided_batched", 1e-6}, {"axpy", 1e-6}, {"dot", 1e-6},
    {"nrm2", 1e-6}, {"scal", 1e-6}, {"copy", 0}, {"fill", 0}, {"mul", 1e-7},
    {"bias_add", 1e-7}, {"col_sum", 1e-6}, {"relu", 0}, {"relu_backward", 0},
    {"sigmoid", 1e-6}, {"sigmoid_backward", 1e-6}, {"softmax_rows", 1e-6},
    {"softmax_rows_backward", 1e-6}, {"batchnorm_forward_train", 1e-5},
    {"batchnorm_forward_eval", 1e-5}, {"batchnorm_backward", 1e-5},
    {"embedding_gather", 0}, {"embedding_scatter_add", 1e-6}, {"sgd_rows", 1e-6},
    {"adam_rows", 1e-5}, {"adam", 1e-5}, {"bce_with_logits", 1e-6}, {"rows_dot", 1e-6},
    {"segment_rows_axpy", 1e-6},
};

/* Where ops run: the CPU paths, then OpenCL on the device and through the
 * CPU fallback. */
enum { PATH_SCALAR, PATH_AVX2, PATH_AVX512, PATH_NEON, PATH_CL, PATH_CL_FALLBACK, N_PATHS };
static const char *const path_names[N_PATHS] = {"scalar", "avx2", "avx512", "neon", "opencl",
                                                "cl-fallback"};

static double worst_abs[N_OPS], worst_rel[N_OPS], worst[N_OPS];
static unsigned paths_of[N_OPS];
static int runs[N_OPS];
static uint64_t digest[N_OPS]; /* FNV-1a of every result of the current suite run */

static fr_backend *be;
static fr_rng rng;
static int path;

static void mix(int op, const void *p, size_t bytes)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < bytes; i++)
        digest[op] = (digest[op] ^ c[i]) * 1099511628211u;
}

/* One result of op: got from the backend, ref from the reference, mag the
 * magnitude of the terms it sums (1 for a non-reduction). */
static void note_mag(int op, float got, double ref, double mag)
{
    mix(op, &got, sizeof got);
    double err = fabs((double)got - ref);
    if (got != got || ref != ref)
        err = (got != got) == (ref != ref) ? 0 : INFINITY; /* NaN only where NaN is due */
    double checked = err == 0 ? 0 : err / (mag + fabs(ref));
    if (err > worst_abs[op])
        worst_abs[op] = err;
    if (fabs(ref) >= 1e-3 && err / fabs(ref) > worst_rel[op])
        worst_rel[op] = err / fabs(ref);
    if (checked > worst[op])
        worst[op] = checked;
}

static void note(int op, float got, double ref)
{
    note_mag(op, got, ref, 1.0);
}

static void ran(int op)
{
    runs[op]++;
    paths_of[op] |= 1u << path;
}

static void random_floats(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (2.0f * fr_rng_uniform(&rng) - 1.0f);
}

static float *alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        abort();
    return p;
}

static double *alloc_doubles(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

static double *widen(const float *x, size_t n)
{
    double *d = alloc_doubles(n);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

/* A zeroed buffer of n values (plus a margin) holding x (if not NULL) at
 * offset off. */
static fr_view upload(const void *x, size_t n, size_t off)
{
    fr_buffer *b = NULL;
    CHECK_OK(fr_buffer_alloc_zero(be, (n + off + 3) * sizeof(float), &b));
    if (n && x)
        CHECK_OK(fr_buffer_upload(b, off * sizeof(float), x, n * sizeof(float)));
    return fr_view_of(b, off);
}

static float *download(fr_view v, size_t n)
{
    float *h = alloc_floats(n);
    if (n)
        CHECK_OK(fr_buffer_download(v.buf, v.off * sizeof(float), h, n * sizeof(float)));
    return h;
}

static void release(fr_view v)
{
    fr_buffer_free(v.buf);
}

/* ---- BLAS -------------------------------------------------------------- */

/* C's row stride is n + 1: the padding column must come back untouched.
 * nan_c fills C with NaN, which beta == 0 must ignore. */
static void test_gemm(size_t m, size_t n, size_t k, int ta, int tb, float alpha, float beta,
                      size_t off, int nan_c)
{
    size_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
    size_t na = (ta ? k : m) * lda, nb = (tb ? n : k) * ldb, nc = m * ldc;
    float *a = alloc_floats(na), *b = alloc_floats(nb), *c = alloc_floats(nc);
    random_floats(a, na, 1);
    random_floats(b, nb, 1);
    random_floats(c, nc, 1);
    if (nan_c)
        for (size_t i = 0; i < nc; i++)
            c[i] = NAN;
    double *ref = widen(c, nc);
    ref_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
    fr_view va = upload(a, na, off), vb = upload(b, nb, off + 1), vc = upload(c, nc, off + 2);
    CHECK_OK(fr_gemm(be, ta ? FR_TRANS : FR_NO_TRANS, tb ? FR_TRANS : FR_NO_TRANS, m, n, k, alpha,
                     va, lda, vb, ldb, beta, vc, ldc));
    float *got = download(vc, nc);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++)
            note_mag(OP_GEMM, got[i * ldc + j], ref[i * ldc + j], fabs(alpha) * (double)k);
        CHECK(!memcmp(&got[i * ldc + n], &c[i * ldc + n], sizeof(float)),
              "gemm %zux%zux%zu wrote C's padding at row %zu", m, n, k, i);
    }
    ran(OP_GEMM);
    release(va); release(vb); release(vc);
    free(a); free(b); free(c); free(ref); free(got);
}

/* Strided batches with gaps between the matrices, which must stay as they
 * were. */
static void test_batched(int ta, int tb, size_t m, size_t n, size_t k, size_t batch, float beta)
{
    size_t lda = ta ? m : k, ldb = tb ? k : n;
    size_t sa = m * k + 1, sb = k * n + 2, sc = m * n + 3;
    float *a = alloc_floats(sa * batch), *b = alloc_floats(sb * batch), *c = alloc_floats(sc * batch);
    random_floats(a, sa * batch, 1);
    random_floats(b, sb * batch, 1);
    random_floats(c, sc * batch, 1);
    double *ref = widen(c, sc * batch);
    ref_gemm_strided_batched(ta, tb, m, n, k, 0.5, a, lda, sa, b, ldb, sb, beta, ref, n, sc, batch);
    fr_view va = upload(a, sa * batch, 1), vb = upload(b, sb * batch, 0), vc = upload(c, sc * batch, 2);
    CHECK_OK(fr_gemm_strided_batched(be, ta ? FR_TRANS : FR_NO_TRANS, tb ? FR_TRANS : FR_NO_TRANS,
                                     m, n, k, 0.5f, va, lda, sa, vb, ldb, sb, beta, vc, n, sc, batch));
    float *got = download(vc, sc * batch);
    for (size_t i = 0; i < batch; i++) {
        for (size_t q = 0; q < m * n; q++)
            note_mag(OP_BATCHED, got[i * sc + q], ref[i * sc + q], 0.5 * (double)k);
        CHECK(!memcmp(&got[i * sc + m * n], &c[i * sc + m * n], (sc - m * n) * sizeof(float)),
              "gemm_strided_batched wrote the gap after matrix %zu", i);
    }
    ran(OP_BATCHED);
    release(va); release(vb); release(vc);
    free(a); free(b); free(c); free(got); free(ref);
}

/* C matrices stacked without gaps (stride m n), NaN in C and beta 0: C is
 * cleared first (OpenCL clears the stack at once) and NaN never reaches
 * the result. */
static void test_batched_stacked(size_t m, size_t n, size_t k, size_t batch)
{
    size_t sa = m * k, sb = k * n, sc = m * n;
    float *a = alloc_floats(sa * batch), *b = alloc_floats(sb * batch), *c = alloc_floats(sc * batch);
    random_floats(a, sa * batch, 1);
    random_floats(b, sb * batch, 1);
    for (size_t i = 0; i < sc * batch; i++)
        c[i] = NAN;
    double *ref = alloc_doubles(sc * batch);
    ref_gemm_strided_batched(0, 0, m, n, k, 1.0, a, k, sa, b, n, sb, 0.0, ref, n, sc, batch);
    fr_view va = upload(a, sa * batch, 1), vb = upload(b, sb * batch, 0), vc = upload(c, sc * batch, 2);
    CHECK_OK(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, m, n, k, 1.0f, va, k, sa, vb, n, sb, 0.0f, vc,
                                     n, sc, batch));
    float *got = download(vc, sc * batch);
    for (size_t q = 0; q < sc * batch; q++)
        note_mag(OP_BATCHED, got[q], ref[q], (double)k);
    ran(OP_BATCHED);
    release(va); release(vb); release(vc);
    free(a); free(b); free(c); free(got); free(ref);
}

static void test_blas1(size_t n)
{
    float *x = alloc_floats(n), *y = alloc_floats(n);
    random_floats(x, n, 2);
    random_floats(y, n, 2);
    fr_view vx = upload(x, n, 1), vy = upload(y, n, 3), vz = upload(y, n, 0);
    double terms = 0;
    for (size_t i = 0; i < n; i++)
        terms += fabs((double)x[i] * y[i]);
    float r = NAN;
    CHECK_OK(fr_dot(be, n, vx, vy, &r));
    note_mag(OP_DOT, r, ref_dot(n, x, y), terms);
    CHECK_OK(fr_nrm2(be, n, vx, &r));
    note(OP_NRM2, r, ref_nrm2(n, x));
    ran(OP_DOT);
    ran(OP_NRM2);

    double *ref = widen(y, n);
    CHECK_OK(fr_axpy(be, n, -1.5f, vx, vy));
    ref_axpy(n, -1.5, x, ref);
    float *got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_AXPY, got[i], ref[i]);
    free(got);
    ran(OP_AXPY);

    CHECK_OK(fr_scal(be, n, 3.0f, vx));
    float *sx = download(vx, n); /* x scaled: the next ops' input */
    double *rx = widen(x, n);
    ref_scal(n, 3.0, rx);
    for (size_t i = 0; i < n; i++)
        note(OP_SCAL, sx[i], rx[i]);
    ran(OP_SCAL);

    CHECK_OK(fr_copy(be, n, vx, vy));
    got = download(vy, n);
    ref_copy(n, sx, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_COPY, got[i], ref[i]);
    free(got);
    ran(OP_COPY);

    CHECK_OK(fr_mul(be, n, vx, vz, vy));
    got = download(vy, n);
    ref_mul(n, sx, y, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_MUL, got[i], ref[i]);
    free(got);
    CHECK_OK(fr_mul(be, n, vz, vz, vz)); /* in place */
    got = download(vz, n);
    ref_mul(n, y, y, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_MUL, got[i], ref[i]);
    free(got);
    ran(OP_MUL);

    CHECK_OK(fr_fill(be, n, 0.125f, vy));
    got = download(vy, n);
    ref_fill(n, 0.125, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_FILL, got[i], ref[i]);
    free(got);
    ran(OP_FILL);

    /* The CPU copy moves overlapping views like memmove (cpu_ops.h). */
    if (n > 2 && path < PATH_CL) {
        CHECK_OK(fr_copy(be, n - 1, fr_view_of(vx.buf, vx.off + 1), vx));
        got = download(vx, n);
        for (size_t i = 0; i + 1 < n; i++)
            note(OP_COPY, got[i], sx[i + 1]);
        free(got);
        CHECK_OK(fr_copy(be, n - 2, vx, fr_view_of(vx.buf, vx.off + 2)));
        got = download(vx, n);
        for (size_t i = 2; i < n; i++)
            note(OP_COPY, got[i], sx[i - 1]);
        free(got);
    }
    release(vx); release(vy); release(vz);
    free(x); free(y); free(ref); free(rx); free(sx);
}

/* ---- element-wise, rows, loss ---------------------------------------- */

/* Labels: mostly 0 and 1, some soft. */
static void random_labels(float *lab, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float u = fr_rng_uniform(&rng);
        lab[i] = u < 0.4f ? 0.0f : u < 0.8f ? 1.0f : u;
    }
}

/* Every element-wise and row op on x (rows x cols). */
static void test_rows_ops_on(size_t rows, size_t cols, const float *x)
{
    size_t n = rows * cols;
    float *dy = alloc_floats(n), *bias = alloc_floats(cols), *out = alloc_floats(cols);
    float *lab = alloc_floats(n);
    random_floats(dy, n, 1);
    random_floats(bias, cols, 1);
    random_floats(out, cols, 1);
    random_labels(lab, n);
    double *ref = alloc_doubles(n > cols ? n : cols);
    fr_view vx = upload(x, n, 2), vdy = upload(dy, n, 1), vb = upload(bias, cols, 0);
    fr_view vy = upload(NULL, n, 1), vo = upload(out, cols, 4);

    CHECK_OK(fr_copy(be, n, vx, vy));
    CHECK_OK(fr_bias_add(be, rows, cols, vy, vb));
    float *got = download(vy, n);
    ref_copy(n, x, ref);
    ref_bias_add(rows, cols, ref, bias);
    for (size_t i = 0; i < n; i++)
        note(OP_BIAS, got[i], ref[i]);
    free(got);
    ran(OP_BIAS);

    /* beta 1 accumulates; beta 0 overwrites, NaN in out included. */
    for (int pass = 0; pass < 3; pass++) {
        float beta = pass == 0 ? 1.0f : pass == 1 ? 0.5f : 0.0f;
        if (pass == 2)
            CHECK_OK(fr_fill(be, cols, NAN, vo));
        float *o0 = download(vo, cols);
        CHECK_OK(fr_col_sum(be, rows, cols, vdy, beta, vo));
        got = download(vo, cols);
        for (size_t c = 0; c < cols; c++)
            ref[c] = o0[c];
        ref_col_sum(rows, cols, dy, beta, ref);
        for (size_t c = 0; c < cols; c++)
            note_mag(OP_COLSUM, got[c], ref[c], (double)rows);
        free(got);
        free(o0);
    }
    ran(OP_COLSUM);

    CHECK_OK(fr_relu(be, n, vx, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_RELU, got[i], ref_relu(x[i]));
    free(got);
    ran(OP_RELU);
    CHECK_OK(fr_relu_backward(be, n, vx, vdy, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_RELU_B, got[i], ref_relu_backward(x[i], dy[i]));
    free(got);
    ran(OP_RELU_B);

    CHECK_OK(fr_sigmoid(be, n, vx, vy));
    float *sig = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_SIG, sig[i], ref_sigmoid(x[i]));
    ran(OP_SIG);
    fr_view vs = upload(sig, n, 0);
    CHECK_OK(fr_sigmoid_backward(be, n, vs, vdy, vy));
    got = download(vy, n);
    for (size_t i = 0; i < n; i++)
        note(OP_SIG_B, got[i], ref_sigmoid_backward(sig[i], dy[i]));
    free(got);
    ran(OP_SIG_B);

    CHECK_OK(fr_softmax_rows(be, rows, cols, vx, vy));
    float *sm = download(vy, n);
    ref_softmax_rows(rows, cols, x, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_SOFTMAX, sm[i], ref[i]);
    ran(OP_SOFTMAX);
    fr_view vsm = upload(sm, n, 0);
    CHECK_OK(fr_softmax_rows_backward(be, rows, cols, vsm, vdy, vy));
    got = download(vy, n);
    ref_softmax_rows_backward(rows, cols, sm, dy, ref);
    for (size_t i = 0; i < n; i++)
        note(OP_SOFTMAX_B, got[i], ref[i]);
    free(got);
    ran(OP_SOFTMAX_B);

    fr_view vl = upload(lab, n, 0), vloss = upload(NULL, n, 3);
    CHECK_OK(fr_bce_with_logits(be, n, vx, vl, vloss, vy));
    float *loss = download(vloss, n);
    got = download(vy, n);
    for (size_t i = 0; i < n; i++) {
        double rl, rd;
        ref_bce(x[i], lab[i], &rl, &rd);
        /* The loss is a difference of terms as large as |z| (z (1 - y)
         * for z > 0): its float error scales with them. */
        note_mag(OP_BCE, loss[i], rl, 1.0 + fmax(x[i], 0.0) + fabs((double)x[i] * lab[i]));
        note(OP_BCE, got[i], rd);
    }
    free(loss);
    free(got);
    ran(OP_BCE);

    fr_view all[] = {vx, vdy, vb, vy, vo, vs, vsm, vl, vloss};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(dy); free(bias); free(out); free(lab); free(ref); free(sig); free(sm);
}

static void test_rows_ops(size_t rows, size_t cols, float scale)
{
    float *x = alloc_floats(rows * cols);
    random_floats(x, rows * cols, scale);
    test_rows_ops_on(rows, cols, x);
    free(x);
}

/* Values where naive sigmoid, softmax and BCE overflow, underflow or
 * cancel: every row holds both signs, so softmax sees huge spreads. */
static void test_extremes(void)
{
    static const float v[] = {-1e30f, -1e4f, -104.0f, -88.7f, -20.0f, -1.0f, -1e-30f, 0.0f,
                              1e-30f, 1.0f, 20.0f, 88.7f, 104.0f, 1e4f, 1e30f, 3.4e38f};
    enum { N = sizeof v / sizeof v[0] };
    float x[3 * N];
    for (size_t i = 0; i < N; i++) {
        x[i] = v[i];
        x[N + i] = v[N - 1 - i];
        x[2 * N + i] = -v[(i * 7) % N];
    }
    test_rows_ops_on(3, N, x);
    test_rows_ops_on(3 * N, 1, x);
}

/* ---- batch-norm ------------------------------------------------------- */

/* act: plain batch-norm or with the ReLU fused (the backward then checked
 * against the reference masked by this forward's output). */
static void test_batchnorm(size_t rows, size_t cols, fr_bn_activation act)
{
    int relu = act == FR_BN_RELU;
    size_t n = rows * cols;
    float *x = alloc_floats(n), *dy = alloc_floats(n), *g = alloc_floats(cols), *b = alloc_floats(cols);
    float *rm = alloc_floats(cols), *rv = alloc_floats(cols);
    random_floats(x, n, 3);
    for (size_t i = 0; i < n; i++)
        x[i] += 5.0f; /* a large mean: the variance must not cancel */
    random_floats(dy, n, 1);
    random_floats(g, cols, 1);
    random_floats(b, cols, 1);
    random_floats(rm, cols, 1);
    for (size_t c = 0; c < cols; c++)
        rv[c] = 0.5f + fr_rng_uniform(&rng);
    double *y = alloc_doubles(n), *mean = alloc_doubles(cols), *is = alloc_doubles(cols);
    double *rrm = widen(rm, cols), *rrv = widen(rv, cols), *dg = alloc_doubles(cols);
    double *db = alloc_doubles(cols), *dx = alloc_doubles(n);
    fr_view vx = upload(x, n, 1), vdy = upload(dy, n, 0), vg = upload(g, cols, 2), vb = upload(b, cols, 0);
    fr_view vrm = upload(rm, cols, 0), vrv = upload(rv, cols, 1), vy = upload(NULL, n, 0);
    fr_view vmean = upload(NULL, cols, 0), vis = upload(NULL, cols, 0);
    fr_view vdg = upload(NULL, cols, 0), vdb = upload(NULL, cols, 0), vdx = upload(NULL, n, 0);

    CHECK_OK(fr_batchnorm_forward_eval(be, rows, cols, vx, vg, vb, vrm, vrv, 1e-5f, act, vy));
    float *got = download(vy, n);
    ref_batchnorm_eval(rows, cols, x, g, b, rm, rv, 1e-5, relu, y);
    for (size_t i = 0; i < n; i++)
        note(OP_BN_EVAL, got[i], y[i]);
    free(got);
    ran(OP_BN_EVAL);

    if (rows < 2) {
        /* Batch statistics need two rows: refused, nothing written. */
        CHECK(fr_batchnorm_forward_train(be, rows, cols, vx, vg, vb, 1e-5f, 0.1f, act, vy, vmean, vis,
                                         vrm, vrv) == FR_ERR_INVALID,
              "batch-norm training on %zu row accepted", rows);
    } else {
        CHECK_OK(fr_batchnorm_forward_train(be, rows, cols, vx, vg, vb, 1e-5f, 0.1f, act, vy, vmean,
                                            vis, vrm, vrv));
        ref_batchnorm_train(rows, cols, x, g, b, 1e-5, 0.1, relu, y, mean, is, rrm, rrv);
        float *fwd = download(vy, n);
        size_t zeros = 0;
        for (size_t i = 0; i < n; i++) {
            note(OP_BN_TRAIN, fwd[i], y[i]);
            zeros += fwd[i] == 0.0f;
        }
        /* With the ReLU about half the outputs are cut (beta is in
         * [-1, 1]); without it none is zero. */
        if (relu && cols >= 16)
            CHECK(zeros > n / 10 && zeros < n - n / 10, "fused ReLU cut %zu of %zu outputs", zeros, n);
        else if (!relu)
            CHECK(zeros == 0, "batch-norm without ReLU gave %zu zeros", zeros);
        float *gm = download(vrm, cols), *gv = download(vrv, cols);
        float *sm = download(vmean, cols), *si = download(vis, cols);
        for (size_t c = 0; c < cols; c++) {
            note(OP_BN_TRAIN, gm[c], rrm[c]);
            note(OP_BN_TRAIN, gv[c], rrv[c]);
            note(OP_BN_TRAIN, sm[c], mean[c]);
            note(OP_BN_TRAIN, si[c], is[c]);
        }
        free(gm); free(gv); free(sm); free(si);
        ran(OP_BN_TRAIN);

        /* Gradients accumulate into nonzero dgamma and dbeta. */
        CHECK_OK(fr_fill(be, cols, 0.25f, vdg));
        CHECK_OK(fr_fill(be, cols, -0.5f, vdb));
        for (size_t c = 0; c < cols; c++) {
            dg[c] = 0.25;
            db[c] = -0.5;
        }
        CHECK_OK(fr_batchnorm_backward(be, rows, cols, vx, vg, vb, vmean, vis, act, vdy, vdx, vdg, vdb));
        ref_batchnorm_backward(rows, cols, x, g, relu ? fwd : NULL, dy, 1e-5, dx, dg, db);
        free(fwd);
        got = download(vdx, n);
        for (size_t i = 0; i < n; i++)
            note(OP_BN_B, got[i], dx[i]);
        free(got);
        got = download(vdg, cols);
        gv = download(vdb, cols);
        for (size_t c = 0; c < cols; c++) {
            note_mag(OP_BN_B, got[c], dg[c], (double)rows);
            note_mag(OP_BN_B, gv[c], db[c], (double)rows);
        }
        free(got); free(gv);
        ran(OP_BN_B);
    }
    fr_view all[] = {vx, vdy, vg, vb, vrm, vrv, vy, vmean, vis, vdg, vdb, vdx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(x); free(dy); free(g); free(b); free(rm); free(rv);
    free(y); free(mean); free(is); free(rrm); free(rrv); free(dg); free(db); free(dx);
}

/* ---- embeddings and optimisers --------------------------------------- */

static void test_sparse(size_t rows, size_t dim, size_t n_idx)
{
    size_t nt = rows * dim;
    float *table = alloc_floats(nt), *dout = alloc_floats(n_idx * dim);
    int32_t *idx = malloc((n_idx + 1) * sizeof *idx);
    random_floats(table, nt, 1);
    random_floats(dout, n_idx * dim, 1);
    /* Ids from half the table: repeats, and rows nobody touches. */
    for (size_t i = 0; i < n_idx; i++)
        idx[i] = (int32_t)fr_rng_below(&rng, (uint32_t)(rows < 4 ? rows : rows / 2));
    fr_view vt = upload(table, nt, 1), vdo = upload(dout, n_idx * dim, 0);
    fr_view vi = upload(idx, n_idx, 2), vo = upload(NULL, n_idx * dim, 0);

    CHECK_OK(fr_embedding_gather(be, n_idx, dim, vt, vi, vo));
    float *got = download(vo, n_idx * dim);
    double *ref = alloc_doubles(nt > n_idx * dim ? nt : n_idx * dim);
    ref_embedding_gather(n_idx, dim, table, idx, ref);
    for (size_t q = 0; q < n_idx * dim; q++)
        note(OP_GATHER, got[q], ref[q]);
    free(got);
    ran(OP_GATHER);

    CHECK_OK(fr_embedding_scatter_add(be, n_idx, dim, vdo, vi, vt));
    got = download(vt, nt);
    ref_copy(nt, table, ref);
    ref_embedding_scatter_add(n_idx, dim, dout, idx, ref);
    float *ordered = alloc_floats(nt);
    memcpy(ordered, table, nt * sizeof *ordered);
    ref_embedding_scatter_add_ordered(n_idx, dim, dout, idx, ordered);
    for (size_t q = 0; q < nt; q++)
        note(OP_SCATTER, got[q], ref[q]);
    CHECK(!memcmp(got, ordered, nt * sizeof *got),
          "scatter-add on %s (%zu ids into %zu rows) differs from the in-order sum",
          path_names[path], n_idx, rows);
    free(got);
    free(ordered);
    ran(OP_SCATTER);

    /* Row updates on distinct rows: every other row, in shuffled order. */
    size_t n_rows = rows / 2;
    int32_t *urows = malloc((n_rows + 1) * sizeof *urows);
    for (size_t i = 0; i < n_rows; i++)
        urows[i] = (int32_t)(2 * i);
    for (size_t i = n_rows; i > 1; i--) {
        size_t j = fr_rng_below(&rng, (uint32_t)i);
        int32_t t = urows[i - 1];
        urows[i - 1] = urows[j];
        urows[j] = t;
    }
    float *grad = alloc_floats(n_rows * dim), *w = alloc_floats(nt);
    random_floats(grad, n_rows * dim, 1);
    random_floats(w, nt, 1);
    fr_view vr = upload(urows, n_rows, 0), vg = upload(grad, n_rows * dim, 1);
    fr_view vw = upload(w, nt, 0);
    CHECK_OK(fr_sgd_rows(be, n_rows, dim, vr, vg, vw, 0.1f, 0.01f));
    got = download(vw, nt);
    ref_copy(nt, w, ref);
    ref_sgd_rows(n_rows, dim, urows, grad, ref, 0.1, 0.01);
    for (size_t q = 0; q < nt; q++)
        note(OP_SGD_ROWS, got[q], ref[q]);
    free(got);
    ran(OP_SGD_ROWS);

    /* Lazy Adam, three steps (plain, L2, decoupled) from nonzero moments:
     * untouched rows and their moments stay bit-identical. */
    float *m0 = alloc_floats(nt), *v0 = alloc_floats(nt);
    random_floats(m0, nt, 0.1f);
    for (size_t q = 0; q < nt; q++)
        v0[q] = 0.01f * fr_rng_uniform(&rng);
    fr_view vm = upload(m0, nt, 0), vv = upload(v0, nt, 2), vw2 = upload(w, nt, 0);
    double *rw = widen(w, nt), *rm = widen(m0, nt), *rv = widen(v0, nt);
    for (long step = 1; step <= 3; step++) {
        double wd = step == 1 ? 0.0 : 0.1;
        fr_adam_step h = {0.01f, 0.9f, 0.999f, 1e-8f, (float)wd, step == 3, step};
        CHECK_OK(fr_adam_rows(be, n_rows, dim, vr, vg, vw2, vm, vv, &h));
        ref_adam_rows(n_rows, dim, urows, grad, rw, rm, rv, 0.01, 0.9, 0.999, 1e-8, wd, step == 3,
                      step);
    }
    got = download(vw2, nt);
    float *gm = download(vm, nt), *gv = download(vv, nt);
    size_t moved = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < dim; d++) {
            size_t q = r * dim + d;
            if (r % 2 || r / 2 >= n_rows) {
                moved += memcmp(&got[q], &w[q], 4) || memcmp(&gm[q], &m0[q], 4) ||
                         memcmp(&gv[q], &v0[q], 4);
            } else {
                note(OP_ADAM_ROWS, got[q], rw[q]);
                note(OP_ADAM_ROWS, gm[q], rm[q]);
                note(OP_ADAM_ROWS, gv[q], rv[q]);
            }
        }
    CHECK(moved == 0, "adam_rows on %s changed %zu values of untouched rows", path_names[path], moved);
    free(got); free(gm); free(gv);
    ran(OP_ADAM_ROWS);

    /* Dense Adam over the whole table: plain, then L2, then AdamW. */
    fr_view vgd = upload(table, nt, 0), vw3 = upload(w, nt, 1);
    fr_view vm3 = upload(NULL, nt, 0), vv3 = upload(NULL, nt, 0);
    for (size_t q = 0; q < nt; q++) {
        rw[q] = w[q];
        rm[q] = rv[q] = 0;
    }
    for (long step = 1; step <= 3; step++) {
        double wd = step == 1 ? 0.0 : 0.2;
        fr_adam_step h = {0.05f, 0.8f, 0.99f, 1e-6f, (float)wd, step == 3, step};
        CHECK_OK(fr_adam(be, nt, vgd, vw3, vm3, vv3, &h));
        ref_adam_dense(nt, table, rw, rm, rv, 0.05, 0.8, 0.99, 1e-6, wd, step == 3, step);
        got = download(vw3, nt);
        gm = download(vm3, nt);
        gv = download(vv3, nt);
        for (size_t q = 0; q < nt; q++) {
            note(OP_ADAM, got[q], rw[q]);
            note(OP_ADAM, gm[q], rm[q]);
            note(OP_ADAM, gv[q], rv[q]);
        }
        free(got); free(gm); free(gv);
    }
    ran(OP_ADAM);

    fr_view all[] = {vt, vdo, vi, vo, vr, vg, vw, vm, vv, vw2, vgd, vw3, vm3, vv3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(table); free(dout); free(idx); free(ref); free(urows); free(grad); free(w);
    free(m0); free(v0); free(rw); free(rm); free(rv);
}

/* ---- row products and segmented row sums (many small models) --------- */

static int32_t *random_ids(size_t n, size_t below)
{
    int32_t *ids = malloc((n + 1) * sizeof *ids);
    if (!ids)
        abort();
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)fr_rng_below(&rng, (uint32_t)below);
    return ids;
}

/* n products of rows of x (x_rows x dim at stride ldx) and of y (y_rows x
 * dim at stride ldy), with repeated ids, with a bias or without; every
 * view at its own nonzero offset. */
static void test_rows_dot(size_t n, size_t dim, size_t ldx, size_t ldy, size_t x_rows,
                          size_t y_rows, int with_bias)
{
    size_t nx = x_rows * ldx, ny = y_rows * ldy;
    float *x = alloc_floats(nx), *y = alloc_floats(ny), *bias = alloc_floats(x_rows);
    random_floats(x, nx, 1);
    random_floats(y, ny, 2);
    random_floats(bias, x_rows, 3);
    int32_t *xi = random_ids(n, x_rows), *yi = random_ids(n, y_rows);
    fr_view vx = upload(x, nx, 1), vxi = upload(xi, n, 2), vy = upload(y, ny, 3);
    fr_view vyi = upload(yi, n, 1), vb = with_bias ? upload(bias, x_rows, 2) : fr_view_of(NULL, 0);
    fr_view vo = upload(NULL, n, 3);
    CHECK_OK(fr_rows_dot(be, n, dim, vx, ldx, vxi, vy, ldy, vyi, vb, vo));
    float *got = download(vo, n);
    double *ref = alloc_doubles(n);
    ref_rows_dot(n, dim, x, ldx, xi, y, ldy, yi, with_bias ? bias : NULL, ref);
    for (size_t j = 0; j < n; j++) {
        double mag = with_bias ? fabs(bias[xi[j]]) : 0;
        for (size_t c = 0; c < dim; c++)
            mag += fabs((double)x[(size_t)xi[j] * ldx + c] * y[(size_t)yi[j] * ldy + c]);
        note_mag(OP_ROWS_DOT, got[j], ref[j], mag);
    }
    ran(OP_ROWS_DOT);
    fr_view all[] = {vx, vxi, vy, vyi, vb, vo};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(x); free(y); free(bias); free(xi); free(yi); free(got); free(ref);
}

enum { COEF_NONE, COEF_DIRECT, COEF_INDEXED };

/* n_seg segments of n_contrib contributions in all, every fourth segment
 * (1, 5, 9, ...) empty, scattered into distinct rows of y (y_rows rows of
 * dim values at stride ldy, its padding and untouched rows checked to
 * stay as they were). coef: none, one per contribution, or a table of
 * n_coef read through ci. use_xi: contributions read rows of x (x_rows)
 * through xi, else row k. exact: coefficients and alpha powers of two, so
 * the result must equal the in-order float sum bit for bit. */
static void test_segment(size_t n_seg, size_t n_contrib, size_t dim, size_t ldx, size_t ldy,
                         size_t x_rows, size_t y_rows, int coef_mode, int use_xi, float alpha,
                         int exact)
{
    /* Segment of each contribution, in increasing order: counts, then
     * prefix sums. */
    int32_t *start = calloc(n_seg + 2, sizeof *start);
    if (!start)
        abort();
    for (size_t k = 0; k < n_contrib; k++) {
        size_t s;
        do
            s = fr_rng_below(&rng, (uint32_t)n_seg);
        while (n_seg > 1 && s % 4 == 1);
        start[s + 1]++;
    }
    for (size_t s = 0; s < n_seg; s++)
        start[s + 1] += start[s];
    /* Distinct target rows, shuffled. */
    int32_t *yi = malloc(y_rows * sizeof *yi);
    if (!yi)
        abort();
    for (size_t r = 0; r < y_rows; r++)
        yi[r] = (int32_t)r;
    for (size_t r = y_rows; r > 1; r--) {
        size_t j = fr_rng_below(&rng, (uint32_t)r);
        int32_t t = yi[r - 1];
        yi[r - 1] = yi[j];
        yi[j] = t;
    }
    if (!use_xi)
        x_rows = n_contrib;
    size_t nx = x_rows * ldx, ny = y_rows * ldy;
    size_t n_coef = coef_mode == COEF_INDEXED ? n_contrib / 3 + 1 : n_contrib;
    float *x = alloc_floats(nx), *y = alloc_floats(ny), *coef = alloc_floats(n_coef);
    random_floats(x, nx, 1);
    random_floats(y, ny, 1);
    static const float pow2[] = {0.25f, -0.5f, 1.0f, -1.0f, 2.0f, 0.5f, -4.0f};
    for (size_t i = 0; i < n_coef; i++)
        coef[i] = exact ? pow2[fr_rng_below(&rng, 7)] : 2.0f * fr_rng_uniform(&rng) - 1.0f;
    int32_t *ci = random_ids(n_contrib, n_coef), *xi = random_ids(n_contrib, x_rows ? x_rows : 1);
    fr_view none = fr_view_of(NULL, 0);
    fr_view vs = upload(start, n_seg + 1, 1), vyi = upload(yi, n_seg, 2);
    fr_view vc = coef_mode != COEF_NONE ? upload(coef, n_coef, 3) : none;
    fr_view vci = coef_mode == COEF_INDEXED ? upload(ci, n_contrib, 1) : none;
    fr_view vx = upload(x, nx, 2), vxi = use_xi ? upload(xi, n_contrib, 3) : none;
    fr_view vy = upload(y, ny, 1);
    CHECK_OK(fr_segment_rows_axpy(be, n_seg, n_contrib, dim, vs, vyi, alpha, vc, vci, vx, ldx, vxi,
                                  vy, ldy));
    float *got = download(vy, ny);
    const float *c_ref = coef_mode != COEF_NONE ? coef : NULL;
    const int32_t *ci_ref = coef_mode == COEF_INDEXED ? ci : NULL, *xi_ref = use_xi ? xi : NULL;
    double *ref = widen(y, ny);
    ref_segment_rows_axpy(n_seg, dim, start, yi, alpha, c_ref, ci_ref, x, ldx, xi_ref, ref, ldy);
    /* Each written value sums |alpha coef x| over its segment, plus |y|. */
    double *mag = alloc_doubles(ny);
    for (size_t s = 0; s < n_seg; s++)
        for (int32_t k = start[s]; k < start[s + 1]; k++) {
            double g = c_ref ? c_ref[ci_ref ? ci_ref[k] : k] : 1.0;
            size_t r = xi_ref ? (size_t)xi_ref[k] : (size_t)k;
            for (size_t c = 0; c < dim; c++)
                mag[(size_t)yi[s] * ldy + c] += fabs(alpha * g * x[r * ldx + c]);
        }
    for (size_t q = 0; q < ny; q++)
        note_mag(OP_SEGMENT, got[q], ref[q], mag[q] + fabs(y[q]));
    if (exact) {
        float *ordered = alloc_floats(ny);
        memcpy(ordered, y, ny * sizeof *ordered);
        ref_segment_rows_axpy_ordered(n_seg, dim, start, yi, alpha, c_ref, ci_ref, x, ldx, xi_ref,
                                      ordered, ldy);
        size_t differ = 0;
        for (size_t q = 0; q < ny; q++)
            differ += memcmp(&got[q], &ordered[q], sizeof *got) != 0;
        CHECK(differ == 0,
              "segment_rows_axpy on %s (%zu segments, %zu contributions, dim %zu): %zu values differ "
              "from the in-order float sum",
              path_names[path], n_seg, n_contrib, dim, differ);
        free(ordered);
    }
    ran(OP_SEGMENT);
    fr_view all[] = {vs, vyi, vc, vci, vx, vxi, vy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
    free(start); free(yi); free(x); free(y); free(coef); free(ci); free(xi); free(got); free(ref);
    free(mag);
}

/* Ops on nothing succeed and touch nothing, NULL buffers included. */
static void test_empty(void)
{
    fr_view none = fr_view_of(NULL, 0);
    float r = 1.0f;
    fr_adam_step h = {0.1f, 0.9f, 0.999f, 1e-8f, 0, 0, 1};
    CHECK_OK(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 0, 0, 0, 1.0f, none, 1, none, 1, 0.0f, none, 1));
    CHECK_OK(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, 2, 2, 2, 1.0f, none, 2, 4, none,
                                     2, 4, 0.0f, none, 2, 4, 0));
    CHECK_OK(fr_dot(be, 0, none, none, &r));
    CHECK(r == 0.0f, "empty dot gave %g", r);
    CHECK_OK(fr_relu(be, 0, none, none));
    CHECK_OK(fr_softmax_rows(be, 0, 5, none, none));
    CHECK_OK(fr_col_sum(be, 4, 0, none, 1.0f, none));
    CHECK_OK(fr_batchnorm_forward_eval(be, 3, 0, none, none, none, none, none, 1e-5f, FR_BN_IDENTITY, none));
    CHECK_OK(fr_embedding_gather(be, 0, 4, none, none, none));
    CHECK_OK(fr_embedding_scatter_add(be, 0, 4, none, none, none));
    CHECK_OK(fr_adam(be, 0, none, none, none, none, &h));
    CHECK_OK(fr_bce_with_logits(be, 0, none, none, none, none));
    CHECK_OK(fr_rows_dot(be, 0, 4, none, 4, none, none, 4, none, none, none));
    CHECK_OK(fr_segment_rows_axpy(be, 0, 5, 4, none, none, 1.0f, none, none, none, 4, none, none, 4));
    CHECK_OK(fr_segment_rows_axpy(be, 3, 5, 0, none, none, 1.0f, none, none, none, 4, none, none, 4));
}

/* Every op, on the open backend `be`. Shapes marked "threads" exceed twice
 * the grain of the ops they feed, so with 2 threads the host kernels
 * split them. */
static void run_suite(void)
{
    fr_rng_init(&rng, 11, 0, 0, FR_RNG_TEST);
    memset(digest, 0, sizeof digest);
    const size_t light = FR_CPU_GRAIN_LIGHT, copy = FR_CPU_GRAIN_COPY;
    const size_t shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {33, 65, 40}, {130, 70, 64}, {1, 40, 9},
                                {17, 1, 5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            test_gemm(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1,
                      s % 2 ? -0.5f : 1.0f, t == 1 ? 0.0f : 0.5f, s, 0);
    for (int t = 0; t < 4; t++)
        test_gemm(19, 23, 11, t & 1, t >> 1, 1.0f, 0.0f, 1, 1); /* NaN in C, beta 0 */
    test_gemm(300, 200, 150, 0, 0, 1.0f, 0.0f, 3, 0);
    for (int t = 0; t < 4; t++) {
        test_batched(t & 1, t >> 1, 9, 7, 5, 4, 1.0f);
        test_batched(t & 1, t >> 1, 3, 1, 2, 1, 0.0f);
    }
    test_batched(0, 1, 8, 8, 8, 64, 0.5f);
    test_batched_stacked(24, 6, 5, 40);
    test_batched_stacked(3, 1, 7, 9);

    const size_t lens[] = {1, 7, 64, 1000, 100003, 2 * copy + 17 /* threads */};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        test_blas1(lens[i]);

    test_rows_ops(1, 9, 1);
    test_rows_ops(17, 1, 3);
    test_rows_ops(64, 33, 30);
    test_rows_ops(5, 5, 200);
    test_rows_ops(2 * light / 500 + 1, 500, 4); /* threads */
    test_extremes();

    for (fr_bn_activation act = FR_BN_IDENTITY; act <= FR_BN_RELU; act++) {
        test_batchnorm(1, 5, act);
        test_batchnorm(2, 3, act);
        test_batchnorm(50, 1, act);
        test_batchnorm(100, 17, act);
        test_batchnorm(2 * light / 128 + 1, 130, act); /* threads: a column block each */
        test_batchnorm(64, 1100, act);                 /* blocks capped at 512 columns */
        test_batchnorm(1000, 3, act);                  /* many row chunks merged */
    }

    test_sparse(10, 4, 25);
    test_sparse(50, 1, 77);
    test_sparse(300, 16, 1000);
    test_sparse(4 * light / 32 + 2, 32, 2 * copy / 32 + 3); /* threads: owners and ranges */

    test_rows_dot(1, 1, 1, 1, 1, 1, 0);
    test_rows_dot(1, 1, 1, 1, 1, 1, 1);
    test_rows_dot(7, 5, 9, 6, 4, 3, 1);        /* strides above dim */
    test_rows_dot(200, 33, 40, 35, 50, 20, 0);
    test_rows_dot(150, 300, 300, 301, 60, 70, 1);
    test_rows_dot(light / 64 + 9, 64, 67, 64, 300, 100, 1); /* threads */

    /* (n_seg, n_contrib, dim, ldx, ldy, x_rows, y_rows, coef, xi, alpha, exact) */
    test_segment(1, 1, 1, 1, 1, 1, 1, COEF_NONE, 0, 1.0f, 1);
    test_segment(6, 0, 3, 3, 4, 2, 8, COEF_DIRECT, 1, 2.0f, 1); /* every segment empty */
    test_segment(9, 30, 7, 9, 8, 12, 11, COEF_DIRECT, 1, -0.5f, 1);
    test_segment(9, 30, 7, 7, 7, 0, 9, COEF_INDEXED, 0, 1.0f, 1);
    test_segment(40, 200, 300, 301, 303, 90, 45, COEF_INDEXED, 1, 2.0f, 1); /* two column blocks */
    test_segment(25, 100, 513, 513, 520, 0, 30, COEF_NONE, 0, 0.25f, 1);    /* three */
    test_segment(12, 80, 256, 256, 256, 20, 12, COEF_NONE, 1, -1.0f, 1);     /* one, full */
    test_segment(33, 120, 20, 21, 20, 50, 40, COEF_INDEXED, 1, -0.7f, 0);
    test_segment(33, 120, 20, 20, 22, 0, 33, COEF_DIRECT, 0, 0.3f, 0);
    test_segment(600, 3000, 260, 260, 261, 700, 650, COEF_INDEXED, 1, -2.0f, 1); /* threads */
    test_segment(700, 2800, 200, 203, 200, 0, 700, COEF_DIRECT, 0, 0.5f, 1);    /* threads */
    test_empty();
}

/* Open a CPU backend with the given path and threads. */
static fr_status open_cpu(fr_cpu_isa isa, int threads)
{
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = FR_BACKEND_CPU;
    opt.cpu_isa = isa;
    opt.threads = threads;
    return fr_backend_open(&opt, &be);
}

static void run_opencl(void)
{
    fr_opencl_device_info *devices = NULL;
    size_t n_devices = 0;
    CHECK_OK(fr_opencl_list_devices(&devices, &n_devices));
    if (!fr_opencl_built())
        TEST_SKIP_PART("test_conformance: the OpenCL ops: this build has no OpenCL backend (configure found no "
                       "OpenCL ICD loader or CLBlast)");
    else if (n_devices == 0)
        TEST_SKIP_PART("test_conformance: the OpenCL ops: no OpenCL device here (pocl-opencl-icd gives one on any "
                       "CPU)");
    else {
        /* Every op on the device (threshold 0), then every op through the
         * CPU fallback on device buffers (threshold above every size). */
        for (path = PATH_CL; path <= PATH_CL_FALLBACK; path++) {
            fr_backend_options opt;
            fr_backend_options_default(&opt);
            opt.kind = FR_BACKEND_OPENCL;
            opt.threads = 1;
            opt.opencl_min_elements = path == PATH_CL ? 0 : (size_t)1 << 40;
            fr_status s = fr_backend_open(&opt, &be);
            CHECK_OK(s);
            if (s != FR_OK)
                break;
            if (path == PATH_CL)
                fprintf(stderr, "OpenCL: %s\n", fr_backend_describe(be));
            run_suite();
            fr_backend_close(be);
        }
    }
    free(devices);
}

/* Options: unknown paths and thread counts refused; 0 threads = cores. */
static void test_open(void)
{
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = FR_BACKEND_CPU;
    opt.cpu_isa = (fr_cpu_isa)99;
    be = (fr_backend *)&opt;
    CHECK(fr_backend_open(&opt, &be) == FR_ERR_INVALID && !be && strstr(fr_last_error(), "99"),
          "CPU path 99: %s", fr_last_error());
    opt.cpu_isa = FR_ISA_AUTO;
    opt.threads = 5000;
    CHECK(fr_backend_open(&opt, &be) == FR_ERR_INVALID && strstr(fr_last_error(), "5000"),
          "5000 threads: %s", fr_last_error());
    opt.threads = 0;
    CHECK_OK(fr_backend_open(&opt, &be));
    if (be) {
        CHECK(fr_backend_threads(be) >= 1 && fr_backend_cpu_isa(be) == fr_cpu_isa_best() &&
                  !strcmp(fr_backend_name(be), "cpu") && strstr(fr_backend_describe(be), "cpu ("),
              "default CPU backend: %s", fr_backend_describe(be));
        fr_backend_close(be);
    }
}

int main(void)
{
    test_open();
    static const fr_cpu_isa isas[] = {FR_ISA_SCALAR, FR_ISA_AVX2, FR_ISA_AVX512, FR_ISA_NEON};
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (!fr_cpu_isa_built(isas[ii]) || !fr_cpu_isa_supported(isas[ii])) {
            /* A path this build or CPU lacks is refused, naming it. */
            CHECK(open_cpu(isas[ii], 1) == FR_ERR_UNSUPPORTED &&
                      strstr(fr_last_error(), fr_cpu_isa_name(isas[ii])),
                  "missing path %s: %s", fr_cpu_isa_name(isas[ii]), fr_last_error());
            /* Built for this architecture but not runnable on this CPU:
             * its conformance is not tested here. */
            if (fr_cpu_isa_built(isas[ii]))
                TEST_SKIP_PART("test_conformance: the %s path: built, but this CPU does not support it",
                               fr_cpu_isa_name(isas[ii]));
            continue;
        }
        path = PATH_SCALAR + (int)ii;
        uint64_t by_threads[2][N_OPS];
        for (int threads = 1; threads <= 2; threads++) {
            fr_status s = open_cpu(isas[ii], threads);
            CHECK_OK(s);
            if (s != FR_OK)
                continue;
            CHECK(fr_backend_cpu_isa(be) == isas[ii] && fr_backend_threads(be) == threads,
                  "opened %s with %d threads, got %s with %d", fr_cpu_isa_name(isas[ii]), threads,
                  fr_cpu_isa_name(fr_backend_cpu_isa(be)), fr_backend_threads(be));
            run_suite();
            memcpy(by_threads[threads - 1], digest, sizeof digest);
            fr_backend_close(be);
        }
        for (int op = 0; op < N_OPS; op++)
            CHECK(by_threads[0][op] == by_threads[1][op],
                  "%s on %s: results differ between 1 and 2 threads", ops[op].name,
                  path_names[path]);
    }
    run_opencl();

    fprintf(stderr, "\nconformance against the scalar reference (CPU paths each with 1 and 2 "
                    "threads, bit-identical);\nchecked: |got - ref| <= tol * (mag + |ref|); "
                    "rel over |ref| >= 1e-3\n");
    fprintf(stderr, "%-24s %-42s %10s %10s %10s %8s\n", "op", "paths", "max abs", "max rel",
            "checked", "tol");
    for (int op = 0; op < N_OPS; op++) {
        char paths[128] = "";
        for (int p = 0; p < N_PATHS; p++)
            if (paths_of[op] & (1u << p))
                snprintf(paths + strlen(paths), sizeof paths - strlen(paths), "%s%s",
                         paths[0] ? " " : "", path_names[p]);
        fprintf(stderr, "%-24s %-42s %10.3g %10.3g %10.3g %8.0e\n", ops[op].name, paths,
                worst_abs[op], worst_rel[op], worst[op], ops[op].tol);
        CHECK(runs[op] > 0, "op %s never ran", ops[op].name);
        CHECK(worst[op] <= ops[op].tol, "op %s: error %.3g over tolerance %.0e", ops[op].name,
              worst[op], ops[op].tol);
    }
    return fr_test_finish("test_conformance");
}
