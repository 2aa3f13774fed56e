/* test_optim.c — optimiser steps against hand-computed values: SGD with
 * weight decay and a per-parameter learning-rate scale; Adam and AdamW over
 * two steps against a double-precision reference; dense steps of a
 * row-sparse table against the same reference; lazy row updates leaving
 * untouched rows and their moments alone; a state restored into a fresh
 * optimiser (step count, moments) going on bit for bit as the original,
 * and not without its moments; a small logistic regression
 * trained end to end whose loss must fall well below its start; and ops
 * that flush denormal floats to zero (Adam's moments of rarely used rows
 * decay into them, at a hundredfold cost per operation) while leaving the
 * caller's own floating-point mode as it was. */
#include <float.h>
#include <math.h>
#include <string.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#include "fedrec/fedrec.h"
#include "testutil.h"

static fr_backend *be;

static void set(fr_buffer *b, const float *v, size_t n)
{
    fr_buffer_upload(b, 0, v, n * sizeof *v);
}

static float get(fr_buffer *b, size_t i)
{
    float v;
    fr_buffer_download(b, i * sizeof v, &v, sizeof v);
    return v;
}

static double adam_ref(double w, double *m, double *v, double g, double lr, double wd,
                       int decoupled, int step)
{
    double w0 = w;
    if (!decoupled)
        g += wd * w0;
    *m = 0.9 * *m + 0.1 * g;
    *v = 0.999 * *v + 0.001 * g * g;
    double mh = *m / (1 - pow(0.9, step)), vh = *v / (1 - pow(0.999, step));
    w = w0 - lr * mh / (sqrt(vh) + 1e-8);
    if (decoupled)
        w -= lr * wd * w0;
    return w;
}


/* Adam on a dense vector and a table whose row 2 (and at step 3 row 0)
 * a step touches: the same gradients for every optimiser given. */
static void adam_step_of(fr_optimizer *o, fr_param_set *ps, fr_param *d, fr_param *e, int step)
{
    CHECK_OK(fr_param_set_zero_grad(ps));
    set(d->grad, (float[]){0.1f * (float)step, -0.3f, 0.7f / (float)step}, 3);
    int32_t rows[2] = {2, 0}, slots[2];
    CHECK_OK(fr_param_touch_rows(e, be, rows, step == 3 ? 2 : 1, slots));
    fr_buffer_upload(e->grad, 0, (float[]){0.3f / (float)step, -0.1f, 0.2f, 0.4f}, (step == 3 ? 4 : 2) * sizeof(float));
    CHECK_OK(fr_optimizer_step(o));
}

static void copy_buffer(fr_buffer *from, fr_buffer *to, size_t floats)
{
    float tmp[16];
    CHECK_OK(fr_buffer_download(from, 0, tmp, floats * sizeof(float)));
    CHECK_OK(fr_buffer_upload(to, 0, tmp, floats * sizeof(float)));
}

/* Two steps, then the state into a fresh optimiser over a copy of the
 * parameters; a third step of each must agree bit for bit (and, with
 * with_moments = 0, the moments left behind, must not). */
static int restored_agrees(int with_moments)
{
    fr_param_set *ps[2];
    fr_param *d[2], *e[2];
    fr_optimizer *o[2];
    for (int k = 0; k < 2; k++) {
        fr_param_set_create(be, &ps[k]);
        fr_param_add(ps[k], "dense", FR_ROLE_GLOBAL, 1, 3, 0, 1, &d[k]);
        fr_param_add(ps[k], "table", FR_ROLE_GLOBAL, 4, 2, 1, 1, &e[k]);
        set(d[k]->value, (float[]){0.5f, -1.0f, 2.0f}, 3);
        set(e[k]->value, (float[]){1, 2, 3, 4, 5, 6, 7, 8}, 8);
        CHECK_OK(fr_optimizer_create(ps[k], FR_OPTIM_ADAM, 0.01f, 0.1f, &o[k]));
    }
    adam_step_of(o[0], ps[0], d[0], e[0], 1);
    adam_step_of(o[0], ps[0], d[0], e[0], 2);
    copy_buffer(d[0]->value, d[1]->value, 3);
    copy_buffer(e[0]->value, e[1]->value, 8);
    CHECK_OK(fr_optimizer_set_steps(o[1], fr_optimizer_steps(o[0])));
    for (int p = 0; with_moments && p < 2; p++) {
        fr_param *from = p ? e[0] : d[0], *to = p ? e[1] : d[1];
        fr_buffer *m0, *v0, *m1, *v1;
        CHECK_OK(fr_optimizer_moments(o[0], from, &m0, &v0));
        CHECK_OK(fr_optimizer_moments_alloc(o[1], to, &m1, &v1));
        CHECK(m0 && v0 && m1 && v1, "moments of '%s' missing", from->name);
        if (m0 && m1) {
            copy_buffer(m0, m1, from->rows * from->cols);
            copy_buffer(v0, v1, from->rows * from->cols);
        }
    }
    adam_step_of(o[0], ps[0], d[0], e[0], 3);
    adam_step_of(o[1], ps[1], d[1], e[1], 3);
    int same = 1;
    for (size_t i = 0; i < 3; i++)
        same &= get(d[0]->value, i) == get(d[1]->value, i);
    for (size_t i = 0; i < 8; i++)
        same &= get(e[0]->value, i) == get(e[1]->value, i);
    for (int k = 0; k < 2; k++) {
        fr_optimizer_free(o[k]);
        fr_param_set_free(ps[k]);
    }
    return same;
}

int main(void)
{
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.threads = 1;
    CHECK_OK(fr_backend_open(&opt, &be));

    /* SGD: w -= lr * scale * (g + wd * w). */
    {
        fr_param_set *ps;
        fr_param *a, *b;
        fr_param_set_create(be, &ps);
        fr_param_add(ps, "a", FR_ROLE_GLOBAL, 1, 2, 0, 1, &a);
        fr_param_add(ps, "b", FR_ROLE_LOCAL, 1, 2, 0, 1, &b);
        b->lr_scale = 0.5f;
        set(a->value, (float[]){1.0f, -2.0f}, 2);
        set(a->grad, (float[]){0.5f, 0.25f}, 2);
        set(b->value, (float[]){1.0f, 1.0f}, 2);
        set(b->grad, (float[]){1.0f, -1.0f}, 2);
        fr_optimizer *o;
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_SGD, 0.1f, 0.01f, &o));
        CHECK_OK(fr_optimizer_step(o));
        CHECK_NEAR(get(a->value, 0), 1.0 - 0.1 * (0.5 + 0.01 * 1.0), 1e-6);
        CHECK_NEAR(get(a->value, 1), -2.0 - 0.1 * (0.25 - 0.02), 1e-6);
        CHECK_NEAR(get(b->value, 0), 1.0 - 0.05 * (1.0 + 0.01), 1e-6);
        CHECK_NEAR(get(b->value, 1), 1.0 - 0.05 * (-1.0 + 0.01), 1e-6);
        fr_optimizer_free(o);
        fr_param_set_free(ps);
    }
    /* Adam and AdamW, two steps, dense and row-sparse. */
    for (int decoupled = 0; decoupled <= 1; decoupled++) {
        fr_param_set *ps;
        fr_param *d, *e;
        fr_param_set_create(be, &ps);
        fr_param_add(ps, "dense", FR_ROLE_GLOBAL, 1, 3, 0, 1, &d);
        fr_param_add(ps, "table", FR_ROLE_GLOBAL, 4, 2, 1, 1, &e);
        const float w0[3] = {0.5f, -1.0f, 2.0f}, g1[3] = {0.1f, -0.3f, 0.7f}, g2[3] = {-0.2f, 0.4f, 0.1f};
        const float t0[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        set(d->value, w0, 3);
        set(e->value, t0, 8);
        fr_optimizer *o;
        CHECK_OK(fr_optimizer_create(ps, decoupled ? FR_OPTIM_ADAMW : FR_OPTIM_ADAM, 0.01f, 0.1f, &o));
        double rw[3], rm[3] = {0}, rv[3] = {0}, tw = 5, tm = 0, tv = 0;
        for (int k = 0; k < 3; k++)
            rw[k] = w0[k];
        for (int step = 1; step <= 2; step++) {
            CHECK_OK(fr_param_set_zero_grad(ps));
            set(d->grad, step == 1 ? g1 : g2, 3);
            int32_t row = 2, slot;
            CHECK_OK(fr_param_touch_rows(e, be, &row, 1, &slot));
            float gr[2] = {step == 1 ? 0.3f : -0.1f, 0.0f};
            fr_buffer_upload(e->grad, (size_t)slot * 2 * 4, gr, sizeof gr);
            CHECK_OK(fr_optimizer_step(o));
            for (int k = 0; k < 3; k++)
                rw[k] = adam_ref(rw[k], &rm[k], &rv[k], (step == 1 ? g1 : g2)[k], 0.01, 0.1, decoupled, step);
            tw = adam_ref(tw, &tm, &tv, gr[0], 0.01, 0.1, decoupled, step);
            /* After each step, not only the last. */
            for (int k = 0; k < 3; k++)
                CHECK_NEAR(get(d->value, (size_t)k), rw[k], 1e-6);
            CHECK_NEAR(get(e->value, 4), tw, 1e-6);
        }
        for (int k = 0; k < 3; k++)
            CHECK_NEAR(get(d->value, (size_t)k), rw[k], 1e-6);
        CHECK_NEAR(get(e->value, 4), tw, 1e-6);
        for (int k = 0; k < 8; k++)
            if (k != 4 && k != 5)
                CHECK(get(e->value, (size_t)k) == t0[k], "lazy update moved untouched value %d", k);
        CHECK(fr_optimizer_steps(o) == 2, "step count %lld", (long long)fr_optimizer_steps(o));
        fr_optimizer_free(o);
        fr_param_set_free(ps);
    }
    /* A restored state goes on as the original, bit for bit; without its
     * moments it does not (so the comparison can fail). */
    CHECK(restored_agrees(1), "a restored optimiser's step differs from the original's");
    CHECK(!restored_agrees(0), "without the moments the restored step still agrees: the check cannot fail");
    {
        fr_param_set *ps;
        fr_param *t, *stat;
        fr_param_set_create(be, &ps);
        fr_param_add(ps, "t", FR_ROLE_GLOBAL, 1, 2, 0, 1, &t);
        fr_param_add(ps, "stat", FR_ROLE_BN_LOCAL, 1, 2, 0, 0, &stat);
        fr_optimizer *sgd, *adam;
        fr_buffer *m, *v;
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_SGD, 0.1f, 0.0f, &sgd));
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_ADAM, 0.1f, 0.0f, &adam));
        CHECK(fr_optimizer_moments_alloc(sgd, t, &m, &v) == FR_ERR_INVALID, "SGD moments allocated");
        CHECK(fr_optimizer_moments_alloc(adam, stat, &m, &v) == FR_ERR_INVALID, "moments of a running statistic");
        CHECK(fr_optimizer_set_steps(adam, -1) == FR_ERR_INVALID, "a negative step count accepted");
        CHECK_OK(fr_optimizer_moments_alloc(adam, t, &m, &v));
        CHECK(m && v && get(m, 1) == 0.0f && get(v, 0) == 0.0f, "allocated moments are not zero");
        fr_optimizer_free(sgd);
        fr_optimizer_free(adam);
        fr_param_set_free(ps);
    }
    /* SGD on a row-sparse table: touched rows only, weight decay included,
     * with the learning rate scaled per group by name prefix and role. */
    {
        fr_param_set *ps;
        fr_param *t, *dense, *stat;
        fr_param_set_create(be, &ps);
        fr_param_add(ps, "user.table", FR_ROLE_LOCAL, 5, 2, 1, 1, &t);
        fr_param_add(ps, "tower.weight", FR_ROLE_GLOBAL, 1, 2, 0, 1, &dense);
        fr_param_add(ps, "bn.running_mean", FR_ROLE_BN_LOCAL, 1, 2, 0, 0, &stat);
        const float t0[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, s0[2] = {0.5f, 0.25f};
        set(t->value, t0, 10);
        set(dense->value, (float[]){1.0f, 1.0f}, 2);
        set(dense->grad, (float[]){1.0f, 1.0f}, 2);
        set(stat->value, s0, 2);
        size_t matched;
        CHECK_OK(fr_param_set_lr_scale(ps, FR_ROLE_BIT(FR_ROLE_LOCAL), "user.", 4.0f, &matched));
        CHECK(matched == 1 && t->lr_scale == 4.0f && dense->lr_scale == 1.0f, "lr scale by prefix");
        int32_t rows[2] = {3, 1}, slots[2];
        CHECK_OK(fr_param_touch_rows(t, be, rows, 2, slots));
        fr_buffer_upload(t->grad, 0, (float[]){0.5f, -0.5f, 2.0f, 1.0f}, 16);
        fr_optimizer *o;
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_SGD, 0.1f, 0.01f, &o));
        CHECK_OK(fr_optimizer_step(o));
        /* Row 3 took slot 0 (grad 0.5, -0.5), row 1 slot 1 (2, 1); lr 0.4. */
        CHECK_NEAR(get(t->value, 6), 7.0 - 0.4 * (0.5 + 0.01 * 7.0), 1e-5);
        CHECK_NEAR(get(t->value, 7), 8.0 - 0.4 * (-0.5 + 0.01 * 8.0), 1e-5);
        CHECK_NEAR(get(t->value, 2), 3.0 - 0.4 * (2.0 + 0.01 * 3.0), 1e-5);
        CHECK_NEAR(get(t->value, 3), 4.0 - 0.4 * (1.0 + 0.01 * 4.0), 1e-5);
        CHECK_NEAR(get(dense->value, 0), 1.0 - 0.1 * (1.0 + 0.01), 1e-6);
        for (int k = 0; k < 10; k++)
            if (k / 2 != 1 && k / 2 != 3)
                CHECK(get(t->value, (size_t)k) == t0[k], "SGD moved untouched table value %d", k);
        CHECK(get(stat->value, 0) == s0[0] && get(stat->value, 1) == s0[1],
              "SGD moved a non-trainable parameter");
        fr_buffer *m, *v;
        CHECK_OK(fr_optimizer_moments(o, t, &m, &v));
        CHECK(!m && !v, "SGD has moments");
        fr_optimizer_free(o);
        fr_param_set_free(ps);
    }
    /* Lazy Adam: a row left out of a step keeps its moments bit for bit,
     * and its next update is the one a reference that skipped it gives. */
    {
        fr_param_set *ps;
        fr_param *t, *stat;
        fr_param_set_create(be, &ps);
        fr_param_add(ps, "table", FR_ROLE_GLOBAL, 4, 1, 1, 1, &t);
        fr_param_add(ps, "stat", FR_ROLE_BN_LOCAL, 1, 1, 0, 0, &stat);
        set(t->value, (float[]){1, 2, 3, 4}, 4);
        fr_optimizer *o;
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_ADAM, 0.01f, 0.0f, &o));
        fr_buffer *m, *v;
        CHECK_OK(fr_optimizer_moments(o, t, &m, &v));
        CHECK(!m && !v, "moments before the first step");
        double w0 = 1, m0 = 0, v0 = 0, w2 = 3, m2 = 0, v2 = 0;
        /* Step 1: rows 0 and 2; step 2: row 2 only; step 3: rows 0 and 2. */
        const int32_t both[2] = {0, 2}, only[1] = {2};
        const float gs[3][2] = {{0.5f, -0.2f}, {0.3f, 0.0f}, {-0.4f, 0.1f}};
        float m_after1 = NAN, v_after1 = NAN;
        for (int step = 1; step <= 3; step++) {
            int32_t slots[2];
            CHECK_OK(fr_param_set_zero_grad(ps));
            size_t n = step == 2 ? 1 : 2;
            CHECK_OK(fr_param_touch_rows(t, be, step == 2 ? only : both, n, slots));
            float g[2] = {step == 2 ? gs[1][0] : gs[step - 1][0], gs[step - 1][1]};
            fr_buffer_upload(t->grad, 0, g, n * sizeof *g);
            CHECK_OK(fr_optimizer_step(o));
            CHECK_OK(fr_optimizer_moments(o, t, &m, &v));
            CHECK(m && v, "no moments after step %d", step);
            if (step != 2)
                w0 = adam_ref(w0, &m0, &v0, g[0], 0.01, 0, 0, step);
            w2 = adam_ref(w2, &m2, &v2, step == 2 ? g[0] : g[1], 0.01, 0, 0, step);
            if (step == 1) {
                m_after1 = get(m, 0);
                v_after1 = get(v, 0);
            }
            if (step == 2) {
                CHECK(get(m, 0) == m_after1 && get(v, 0) == v_after1,
                      "moments of a row left out of the step moved");
                CHECK(get(m, 1) == 0.0f && get(v, 3) == 0.0f && get(t->value, 1) == 2.0f &&
                          get(t->value, 3) == 4.0f,
                      "never-touched rows or their moments moved");
            }
        }
        CHECK_NEAR(get(t->value, 0), w0, 1e-6);
        CHECK_NEAR(get(t->value, 2), w2, 1e-6);
        CHECK_NEAR(get(m, 0), m0, 1e-7);
        CHECK_NEAR(get(v, 2), v2, 1e-8);
        CHECK_OK(fr_optimizer_moments(o, stat, &m, &v));
        CHECK(!m && !v, "a non-trainable parameter has moments");
        fr_param *stranger;
        fr_param_set *other;
        fr_param_set_create(be, &other);
        fr_param_add(other, "x", FR_ROLE_GLOBAL, 1, 1, 0, 1, &stranger);
        CHECK(fr_optimizer_moments(o, stranger, &m, &v) == FR_ERR_INVALID,
              "moments of a parameter of another set");
        fr_param_set_free(other);
        fr_optimizer_free(o);
        fr_param_set_free(ps);
    }
    /* Names round-trip; an unknown one is refused. */
    for (int k = FR_OPTIM_SGD; k <= FR_OPTIM_ADAMW; k++) {
        fr_optim_kind parsed;
        CHECK_OK(fr_optim_kind_parse(fr_optim_kind_name((fr_optim_kind)k), &parsed));
        CHECK(parsed == (fr_optim_kind)k, "optimiser name %d does not round-trip", k);
    }
    {
        fr_optim_kind parsed;
        CHECK(fr_optim_kind_parse("adagrad", &parsed) == FR_ERR_INVALID, "unknown optimiser accepted");
    }
    /* Dense rows (PyTorch's dense Adam on an embedding): every row steps
     * every time, untouched ones with a zero gradient, so weight decay
     * shrinks a row the batch left out and its moments decay. */
    {
        fr_param_set *ps;
        fr_param *t;
        fr_param_set_create(be, &ps);
        fr_param_add(ps, "table", FR_ROLE_GLOBAL, 3, 1, 1, 1, &t);
        set(t->value, (float[]){1, 2, 3}, 3);
        fr_optimizer *o;
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_ADAM, 0.01f, 0.1f, &o));
        fr_optimizer_set_dense_rows(o, 1);
        double w[3] = {1, 2, 3}, m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
        /* Step 1: row 1 only; step 2: rows 2 and 0; step 3: none. */
        const int32_t r1[1] = {1}, r2[2] = {2, 0};
        for (int step = 1; step <= 3; step++) {
            int32_t slots[2];
            CHECK_OK(fr_param_set_zero_grad(ps));
            double g[3] = {0, 0, 0};
            if (step == 1) {
                CHECK_OK(fr_param_touch_rows(t, be, r1, 1, slots));
                fr_buffer_upload(t->grad, 0, (float[]){0.5f}, sizeof(float));
                g[1] = 0.5;
            } else if (step == 2) {
                CHECK_OK(fr_param_touch_rows(t, be, r2, 2, slots));
                fr_buffer_upload(t->grad, 0, (float[]){-0.3f, 0.2f}, 2 * sizeof(float));
                g[2] = -0.3;
                g[0] = 0.2;
            }
            CHECK_OK(fr_optimizer_step(o));
            for (int r = 0; r < 3; r++)
                w[r] = adam_ref(w[r], &m[r], &v[r], g[r], 0.01, 0.1, 0, step);
        }
        for (int r = 0; r < 3; r++)
            CHECK_NEAR(get(t->value, (size_t)r), w[r], 1e-6);
        CHECK(get(t->value, 1) < 2.0f - 0.015f, "dense rows: the row left out did not keep moving");
        fr_optimizer_free(o);
        fr_param_set_free(ps);
    }
    /* End to end: logistic regression on separable-ish data. */
    {
        enum { N = 256, D = 5 };
        fr_param_set *ps;
        fr_param_set_create(be, &ps);
        fr_linear lin;
        CHECK_OK(fr_linear_init(&lin, ps, "lr", D, 1, 1, FR_ROLE_GLOBAL, 1));
        float x[N * D], y[N];
        fr_rng rng;
        fr_rng_init(&rng, 5, 0, 0, FR_RNG_TEST);
        const float truth[D] = {2, -1, 0.5f, 0, 1.5f};
        for (int i = 0; i < N; i++) {
            float z = 0.3f;
            for (int j = 0; j < D; j++) {
                x[i * D + j] = fr_rng_normal(&rng);
                z += truth[j] * x[i * D + j];
            }
            y[i] = fr_rng_uniform(&rng) < 1.0f / (1.0f + expf(-3.0f * z)) ? 1.0f : 0.0f;
        }
        fr_buffer *bx, *by, *logits, *dlogits, *scratch;
        fr_buffer_alloc(be, sizeof x, &bx);
        fr_buffer_alloc(be, sizeof y, &by);
        fr_buffer_alloc(be, sizeof y, &logits);
        fr_buffer_alloc(be, sizeof y, &dlogits);
        fr_buffer_alloc(be, sizeof y, &scratch);
        set(bx, x, N * D);
        set(by, y, N);
        fr_optimizer *o;
        CHECK_OK(fr_optimizer_create(ps, FR_OPTIM_ADAM, 0.05f, 0.0f, &o));
        float first = 0, last = 0;
        for (int it = 0; it < 200; it++) {
            fr_param_set_zero_grad(ps);
            fr_linear_forward(&lin, be, N, fr_view_of(bx, 0), fr_view_of(logits, 0));
            float loss;
            CHECK_OK(fr_loss_bce(be, N, fr_view_of(logits, 0), fr_view_of(by, 0), fr_view_of(NULL, 0),
                                 fr_view_of(scratch, 0), fr_view_of(dlogits, 0), &loss));
            fr_linear_backward(&lin, be, N, fr_view_of(bx, 0), fr_view_of(dlogits, 0), fr_view_of(NULL, 0));
            CHECK_OK(fr_optimizer_step(o));
            if (it == 0)
                first = loss;
            last = loss;
        }
        CHECK(last < 0.5f * first && last < 0.35f, "logistic regression loss %g -> %g", first, last);
        fr_buffer_free(bx); fr_buffer_free(by); fr_buffer_free(logits);
        fr_buffer_free(dlogits); fr_buffer_free(scratch);
        fr_optimizer_free(o);
        fr_param_set_free(ps);
    }
    fr_optimizer *o;
    fr_param_set *ps;
    fr_param_set_create(be, &ps);
    CHECK(fr_optimizer_create(ps, FR_OPTIM_ADAM, 0.0f, 0.0f, &o) == FR_ERR_INVALID, "lr 0 accepted");
    fr_param_set_free(ps);
    /* Denormals: a denormal input reads as zero and a result below
     * FLT_MIN is flushed; the caller's mode is untouched. */
    {
        volatile float tiny = FLT_MIN / 64.0f; /* denormal */
        CHECK(tiny > 0.0f && tiny < FLT_MIN, "the test's input is denormal in the caller's mode");
#ifdef HAVE_MXCSR
        unsigned int mode = _mm_getcsr();
#endif
        fr_buffer *x, *y;
        CHECK_OK(fr_buffer_alloc_zero(be, 4 * sizeof(float), &x));
        CHECK_OK(fr_buffer_alloc_zero(be, 4 * sizeof(float), &y));
        set(x, (float[]){tiny, 1.0f, FLT_MIN, -tiny}, 4);
        set(y, (float[]){0.0f, 0.0f, 0.0f, 0.0f}, 4);
        CHECK_OK(fr_axpy(be, 4, 0.5f, fr_view_of(x, 0), fr_view_of(y, 0)));
        CHECK(get(y, 0) == 0.0f && get(y, 3) == 0.0f, "a denormal input reads as zero: %g %g",
              (double)get(y, 0), (double)get(y, 3));
        CHECK(get(y, 1) == 0.5f, "normal values are unchanged: %g", (double)get(y, 1));
        CHECK(get(y, 2) == 0.0f, "a result below FLT_MIN is flushed: %g", (double)get(y, 2));
#ifdef HAVE_MXCSR
        CHECK(_mm_getcsr() == mode, "the caller's MXCSR is restored (%#x, was %#x)", _mm_getcsr(), mode);
#endif
        volatile float again = tiny * 1.0f;
        CHECK(again > 0.0f, "the caller still computes with denormals");
        fr_buffer_free(x);
        fr_buffer_free(y);
    }

    fr_backend_close(be);
    return fr_test_finish("test_optim");
}
