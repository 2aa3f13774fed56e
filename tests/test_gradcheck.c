/* test_gradcheck.c — every layer's and loss's hand-written backward pass
 * against central finite differences. For a layer with output y the
 * checked scalar is L = sum_i r_i y_i with a fixed random r, so dL/dy = r
 * is what backward receives. Each input and each parameter is perturbed
 * element by element (up to 24 elements per tensor) by +-eps, and
 * (L+ - L-) / 2 eps must match the analytic gradient:
 * |num - ana| <= 2e-2 * max(0.05, |num| + |ana|). They run on the CPU
 * backend and, where there is an OpenCL device, on OpenCL too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/fedrec.h"
#include "testutil.h"

static fr_backend *be;
static fr_rng rng;
static fr_field_embedding fe;

/* A case: forward writes *out (n_out values); backward takes dy. */
typedef struct gc_case {
    const char *name;
    fr_status (*forward)(struct gc_case *c, fr_view *out, size_t *n_out);
    fr_status (*backward)(struct gc_case *c, fr_view dy);
    void *state;
    fr_param_set *ps;
    /* Inputs to check: value buffer, element count, gradient buffer. */
    fr_buffer *in[3], *din[3];
    size_t in_n[3];
    size_t n_in;
} gc_case;

#define GC_CASE(name, fwd, bwd) {name, fwd, bwd, NULL, NULL, {NULL}, {NULL}, {0}, 0}

static fr_buffer *random_buffer(size_t n, float lo, float hi)
{
    float *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) {
        h[i] = lo + (hi - lo) * fr_rng_uniform(&rng);
        if (fr_rng_uniform(&rng) < 0.5f && lo >= 0)
            h[i] = -h[i]; /* |x| in [lo, hi]: away from ReLU's kink */
    }
    fr_buffer *b;
    fr_buffer_alloc(be, n * sizeof *h, &b);
    fr_buffer_upload(b, 0, h, n * sizeof *h);
    free(h);
    return b;
}

static fr_buffer *zero_buffer(size_t n)
{
    fr_buffer *b;
    fr_buffer_alloc_zero(be, (n ? n : 1) * sizeof(float), &b);
    return b;
}

static float *host_of(fr_buffer *b, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    fr_buffer_download(b, 0, h, n * sizeof *h);
    return h;
}

static double *weights;

static double scalar(gc_case *c)
{
    fr_view out;
    size_t n;
    CHECK_OK(c->forward(c, &out, &n));
    float *y = malloc(n * sizeof *y);
    fr_buffer_download(out.buf, out.off * sizeof *y, y, n * sizeof *y);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += weights[i] * y[i];
    free(y);
    return s;
}

static void compare(const char *cs, const char *what, fr_buffer *value, size_t n,
                    const float *analytic, float eps)
{
    size_t step = n > 24 ? n / 24 : 1;
    double worst = 0;
    for (size_t i = 0; i < n; i += step) {
        float orig;
        fr_buffer_download(value, i * 4, &orig, 4);
        float plus = orig + eps, minus = orig - eps;
        fr_buffer_upload(value, i * 4, &plus, 4);
        /* Dropout and batch-norm see the same batch every time. */
        extern gc_case *current;
        double lp = scalar(current);
        fr_buffer_upload(value, i * 4, &minus, 4);
        double lm = scalar(current);
        fr_buffer_upload(value, i * 4, &orig, 4);
        double num = (lp - lm) / (2.0 * eps), ana = analytic[i];
        double err = fabs(num - ana) / fmax(0.05, fabs(num) + fabs(ana));
        worst = fmax(worst, err);
        CHECK(err <= 2e-2, "%s: d%s[%zu]: numeric %.6g, analytic %.6g", cs, what, i, num, ana);
    }
    fprintf(stderr, "  %-22s d%-18s worst relative error %.2e\n", cs, what, worst);
}

gc_case *current;

static void run_case(gc_case *c, float eps)
{
    current = c;
    fr_view out;
    size_t n_out;
    CHECK_OK(c->forward(c, &out, &n_out));
    free(weights);
    weights = malloc(n_out * sizeof *weights);
    float *wf = malloc(n_out * sizeof *wf);
    for (size_t i = 0; i < n_out; i++)
        wf[i] = (float)(weights[i] = 2.0 * fr_rng_uniform(&rng) - 1.0);
    fr_buffer *dy;
    fr_buffer_alloc(be, n_out * sizeof *wf, &dy);
    fr_buffer_upload(dy, 0, wf, n_out * sizeof *wf);
    free(wf);
    if (c->ps)
        CHECK_OK(fr_param_set_zero_grad(c->ps));
    CHECK_OK(c->forward(c, &out, &n_out));
    CHECK_OK(c->backward(c, fr_view_of(dy, 0)));
    /* Take every analytic gradient before perturbing: a forward may
     * rewrite gradient buffers (the losses do). */
    float *gin[3] = {NULL, NULL, NULL};
    for (size_t k = 0; k < c->n_in; k++)
        gin[k] = host_of(c->din[k], c->in_n[k]);
    for (size_t k = 0; k < c->n_in; k++) {
        char what[32];
        snprintf(what, sizeof what, "input%zu", k);
        compare(c->name, what, c->in[k], c->in_n[k], gin[k], eps);
        free(gin[k]);
    }
    for (size_t i = 0; c->ps && i < fr_param_set_count(c->ps); i++) {
        fr_param *p = fr_param_set_at(c->ps, i);
        if (!p->trainable)
            continue;
        size_t n = p->rows * p->cols;
        float *g = calloc(n, sizeof *g);
        if (p->row_sparse) {
            /* Spread the compact rows back over the table. */
            float *compact = host_of(p->grad, p->n_touched * p->cols);
            for (size_t t = 0; t < p->n_touched; t++)
                memcpy(g + (size_t)p->touched[t] * p->cols, compact + t * p->cols, p->cols * 4);
            free(compact);
        } else {
            fr_buffer_download(p->grad, 0, g, n * sizeof *g);
        }
        /* The field embedding's padding row is a constant by design (it
         * is never trained): leave it out. */
        if (p == fe.emb.table)
            n -= p->cols;
        compare(c->name, p->name, p->value, n, g, eps);
        free(g);
    }
    fr_buffer_free(dy);
}

/* ---- the cases ----------------------------------------------------------- */

#define B 4

static fr_linear lin;
static fr_status lin_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = B * lin.out;
    return fr_linear_forward(&lin, be, B, fr_view_of(c->in[0], 0), *out);
}
static fr_status lin_bwd(gc_case *c, fr_view dy)
{
    return fr_linear_backward(&lin, be, B, fr_view_of(c->in[0], 0), dy, fr_view_of(c->din[0], 0));
}

static fr_embedding emb;
static const int32_t emb_ids[6] = {1, 4, 1, 0, 4, 1};
static fr_status emb_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = 6 * emb.dim;
    return fr_embedding_forward(&emb, be, 6, fr_view_of(c->in[2], 0), *out);
}
static fr_status emb_bwd(gc_case *c, fr_view dy)
{
    (void)c;
    return fr_embedding_backward(&emb, be, 6, emb_ids, dy);
}

static const int32_t fe_ids[B * 3] = {0, 4, 7, 2, 3, 8, 0, 5, 6, 1, 4, 7};
static fr_status fe_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = B * fr_field_embedding_width(&fe);
    return fr_field_embedding_forward(&fe, be, B, fe_ids, fr_view_of(c->in[0], 0), *out);
}
static fr_status fe_bwd(gc_case *c, fr_view dy)
{
    fr_status s = fr_field_embedding_backward(&fe, be, B, fr_view_of(c->in[0], 0), dy);
    if (s != FR_OK)
        return s;
    return fr_field_embedding_backward_numbers(&fe, be, B, dy, fr_view_of(c->din[0], 0));
}

static int act_kind; /* 0 relu, 1 sigmoid */
static fr_status act_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = c->in_n[0];
    return (act_kind ? fr_sigmoid : fr_relu)(be, *n, fr_view_of(c->in[0], 0), *out);
}
static fr_status act_bwd(gc_case *c, fr_view dy)
{
    fr_buffer *y = c->state;
    if (act_kind)
        return fr_sigmoid_backward(be, c->in_n[0], fr_view_of(y, 0), dy, fr_view_of(c->din[0], 0));
    return fr_relu_backward(be, c->in_n[0], fr_view_of(c->in[0], 0), dy, fr_view_of(c->din[0], 0));
}

static fr_softmax_gate gate;
static fr_buffer *gate_logits, *gate_dlogits;
static fr_status gate_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = B * gate.experts;
    return fr_softmax_gate_forward(&gate, be, B, fr_view_of(c->in[0], 0), fr_view_of(gate_logits, 0), *out);
}
static fr_status gate_bwd(gc_case *c, fr_view dy)
{
    return fr_softmax_gate_backward(&gate, be, B, fr_view_of(c->in[0], 0), fr_view_of(c->state, 0), dy,
                                    fr_view_of(gate_dlogits, 0), fr_view_of(c->din[0], 0));
}

static fr_batchnorm bn;
static int bn_training = 1;
static fr_status bn_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = 6 * bn.features;
    return fr_bn_forward(&bn, be, 6, fr_view_of(c->in[0], 0), *out, bn_training);
}
static fr_status bn_bwd(gc_case *c, fr_view dy)
{
    return fr_bn_backward(&bn, be, 6, fr_view_of(c->in[0], 0), dy, fr_view_of(c->din[0], 0));
}

static fr_dropout drop;
static fr_status drop_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = c->in_n[0];
    return fr_dropout_forward(&drop, be, *n, 7, fr_view_of(c->in[0], 0), *out, 1);
}
static fr_status drop_bwd(gc_case *c, fr_view dy)
{
    return fr_dropout_backward(&drop, be, c->in_n[0], dy, fr_view_of(c->din[0], 0), 1);
}

static fr_lora_linear lora;
static fr_buffer *lora_xa, *lora_dxa;
static fr_status lora_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = B * lora.base.out;
    return fr_lora_linear_forward(&lora, be, B, fr_view_of(c->in[0], 0), fr_view_of(lora_xa, 0), *out);
}
static fr_status lora_bwd(gc_case *c, fr_view dy)
{
    return fr_lora_linear_backward(&lora, be, B, fr_view_of(c->in[0], 0), fr_view_of(lora_xa, 0), dy,
                                   fr_view_of(lora_dxa, 0), fr_view_of(c->din[0], 0));
}

static fr_mlp mlp;
static int mlp_training = 1;
static fr_status mlp_fwd(gc_case *c, fr_view *out, size_t *n)
{
    *n = 5 * fr_mlp_out_width(&mlp);
    return fr_mlp_forward(&mlp, be, 5, fr_view_of(c->in[0], 0), 3, mlp_training, out);
}
static fr_status mlp_bwd(gc_case *c, fr_view dy)
{
    return fr_mlp_backward(&mlp, be, 5, fr_view_of(c->in[0], 0), dy, fr_view_of(c->din[0], 0),
                           mlp_training);
}

/* Losses: the scalar is the loss itself (weights = 1 on a 1-value output). */
static int loss_kind; /* 0 BCE, 1 BPR, 2 MSE */
static fr_buffer *loss_out, *loss_aux, *loss_scratch, *loss_w;
static fr_status loss_fwd(gc_case *c, fr_view *out, size_t *n)
{
    float l = 0;
    fr_status s;
    fr_view a = fr_view_of(c->in[0], 0), scratch = fr_view_of(loss_scratch, 0);
    if (loss_kind == 0)
        s = fr_loss_bce(be, 6, a, fr_view_of(loss_aux, 0), fr_view_of(loss_w, 0), scratch,
                        fr_view_of(c->din[0], 0), &l);
    else if (loss_kind == 1)
        s = fr_loss_bpr(be, 6, a, fr_view_of(c->in[1], 0), scratch, fr_view_of(c->din[0], 0),
                        fr_view_of(c->din[1], 0), &l);
    else
        s = fr_loss_mse(be, 6, a, fr_view_of(loss_aux, 0), fr_view_of(c->din[0], 0), &l);
    fr_buffer_upload(loss_out, 0, &l, 4);
    *out = fr_view_of(loss_out, 0);
    *n = 1;
    return s;
}
static fr_status loss_bwd(gc_case *c, fr_view dy)
{
    /* The forward already wrote the gradients; scale by dL/dloss. */
    float w;
    fr_buffer_download(dy.buf, 0, &w, 4);
    for (size_t k = 0; k < c->n_in; k++)
        fr_scal(be, 6, w, fr_view_of(c->din[k], 0));
    return FR_OK;
}

static void with_input(gc_case *c, size_t n, float lo, float hi)
{
    c->in[c->n_in] = random_buffer(n, lo, hi);
    c->din[c->n_in] = zero_buffer(n);
    c->in_n[c->n_in] = n;
    c->n_in++;
}

static void finish(gc_case *c)
{
    for (size_t k = 0; k < c->n_in; k++) {
        fr_buffer_free(c->in[k]);
        fr_buffer_free(c->din[k]);
    }
    fr_buffer_free(c->state);
    fr_param_set_free(c->ps);
}

/* Every case on the open backend `be`. */
static void run_all(void)
{
    fr_rng_init(&rng, 3, 0, 0, FR_RNG_TEST);

    { /* Linear */
        gc_case c = GC_CASE("linear", lin_fwd, lin_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_linear_init(&lin, c.ps, "fc", 5, 3, 1, FR_ROLE_GLOBAL, 1));
        fr_param_init_uniform(lin.bias, 2, 0.5f);
        with_input(&c, B * 5, -1, 1);
        c.state = zero_buffer(B * 3);
        run_case(&c, 1e-2f);
        finish(&c);
    }
    { /* Embedding with repeated ids; untouched rows have no gradient. */
        gc_case c = GC_CASE("embedding", emb_fwd, emb_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_embedding_init(&emb, c.ps, "emb", 6, 3, FR_ROLE_GLOBAL, 1, 0.5f));
        c.in[2] = zero_buffer(6);
        fr_buffer_upload(c.in[2], 0, emb_ids, sizeof emb_ids);
        c.state = zero_buffer(6 * 3);
        run_case(&c, 1e-2f);
        CHECK(emb.table->n_touched == 3, "embedding touched %zu rows, expected 3", emb.table->n_touched);
        CHECK(emb.table->slot_of_row[2] < 0 && emb.table->slot_of_row[3] < 0 &&
                  emb.table->slot_of_row[5] < 0,
              "untouched rows got gradient slots");
        fr_buffer_free(c.in[2]);
        fr_embedding_release(&emb);
        finish(&c);
    }
    { /* Field embedding with a numeric token */
        gc_case c = GC_CASE("field_embedding", fe_fwd, fe_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_field_embedding_init(&fe, c.ps, "fe", 3, 9, 2, 2, FR_ROLE_GLOBAL, 1));
        fr_param_init_uniform(fe.numeric.bias, 4, 0.5f);
        with_input(&c, B * 2, -1, 1); /* numeric features; d(input) via backward_numbers */
        c.state = zero_buffer(B * fr_field_embedding_width(&fe));
        run_case(&c, 1e-2f);
        /* The padding row (id 9) never receives gradient. */
        CHECK(fe.emb.table->slot_of_row[9] < 0, "padding row was touched");
        float pad[2];
        fr_buffer_download(fe.emb.table->value, 9 * 2 * 4, pad, sizeof pad);
        CHECK(pad[0] == 0 && pad[1] == 0, "padding row is not zero");
        /* The batch uses each of ids 0..8 at least once: nine touched rows,
         * the padding row not among them. */
        CHECK(fe.emb.table->n_touched == 9, "field embedding touched %zu rows, expected 9",
              fe.emb.table->n_touched);
        CHECK(fr_field_embedding_backward(&fe, be, B + 1, fr_view_of(c.in[0], 0),
                                          fr_view_of(c.state, 0)) == FR_ERR_INVALID,
              "backward accepted a batch larger than the last forward");
        fr_field_embedding_release(&fe);
        finish(&c);
    }
    for (act_kind = 0; act_kind < 2; act_kind++) { /* ReLU, sigmoid */
        gc_case c = GC_CASE(act_kind ? "sigmoid" : "relu", act_fwd, act_bwd);
        with_input(&c, 20, 0.1f, 3.0f);
        c.state = zero_buffer(20);
        run_case(&c, 1e-2f);
        finish(&c);
    }
    { /* Softmax gate */
        gc_case c = GC_CASE("softmax_gate", gate_fwd, gate_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_softmax_gate_init(&gate, c.ps, "gate", 4, 3, FR_ROLE_GLOBAL, 1));
        with_input(&c, B * 4, -1, 1);
        c.state = zero_buffer(B * 3);
        gate_logits = zero_buffer(B * 3);
        gate_dlogits = zero_buffer(B * 3);
        run_case(&c, 1e-2f);
        fr_buffer_free(gate_logits);
        fr_buffer_free(gate_dlogits);
        finish(&c);
    }
    { /* Batch-norm, training mode */
        gc_case c = GC_CASE("batchnorm", bn_fwd, bn_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_bn_init(&bn, c.ps, "bn", 3, FR_ROLE_GLOBAL, FR_BN_IDENTITY));
        fr_param_init_uniform(bn.gamma, 5, 1.0f);
        fr_param_init_uniform(bn.beta, 6, 1.0f);
        with_input(&c, 6 * 3, -2, 2);
        c.state = zero_buffer(6 * 3);
        run_case(&c, 1e-2f);
        CHECK(!bn.running_mean->trainable && bn.running_mean->role == FR_ROLE_BN_LOCAL,
              "running statistics must be bn-local and not trainable");
        /* One example has no batch statistics. */
        CHECK(fr_bn_forward(&bn, be, 1, fr_view_of(c.in[0], 0), fr_view_of(c.state, 0), 1) ==
                  FR_ERR_INVALID,
              "batch-norm trained on a batch of one");
        fr_bn_release(&bn);
        finish(&c);
    }
    { /* Batch-norm, eval mode: running statistics, an affine map per feature. */
        gc_case c = GC_CASE("batchnorm_eval", bn_fwd, bn_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_bn_init(&bn, c.ps, "bne", 3, FR_ROLE_GLOBAL, FR_BN_IDENTITY));
        fr_param_init_uniform(bn.gamma, 5, 1.0f);
        fr_param_init_uniform(bn.beta, 6, 1.0f);
        const float rmean[3] = {0.5f, -1.0f, 0.25f}, rvar[3] = {0.5f, 2.0f, 1.5f};
        fr_buffer_upload(bn.running_mean->value, 0, rmean, sizeof rmean);
        fr_buffer_upload(bn.running_var->value, 0, rvar, sizeof rvar);
        with_input(&c, 6 * 3, -2, 2);
        c.state = zero_buffer(6 * 3);
        bn_training = 0;
        run_case(&c, 1e-2f);
        bn_training = 1;
        /* Eval mode reads the running statistics and never moves them. */
        float after[3];
        fr_buffer_download(bn.running_var->value, 0, after, sizeof after);
        CHECK(!memcmp(after, rvar, sizeof rvar), "eval forward moved the running variance");
        fr_bn_release(&bn);
        finish(&c);
    }
    for (int training = 1; training >= 0; training--) { /* Batch-norm with the ReLU fused */
        gc_case c = GC_CASE(training ? "batchnorm_relu" : "batchnorm_relu_eval", bn_fwd, bn_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_bn_init(&bn, c.ps, training ? "bnr" : "bnre", 4, FR_ROLE_GLOBAL, FR_BN_RELU));
        fr_param_init_uniform(bn.gamma, 5, 1.0f);
        fr_param_init_uniform(bn.beta, 6, 0.5f);
        const float rmean[4] = {0.5f, -1.0f, 0.25f, 0.0f}, rvar[4] = {0.5f, 2.0f, 1.5f, 1.0f};
        fr_buffer_upload(bn.running_mean->value, 0, rmean, sizeof rmean);
        fr_buffer_upload(bn.running_var->value, 0, rvar, sizeof rvar);
        with_input(&c, 6 * 4, -2, 2);
        c.state = zero_buffer(6 * 4);
        bn_training = training;
        /* The values before the ReLU (the same layer without it) must keep
         * clear of the kink for the finite differences; some must be cut,
         * or the mask would go untested. */
        bn.act = FR_BN_IDENTITY;
        fr_view pre;
        size_t n_pre;
        CHECK_OK(bn_fwd(&c, &pre, &n_pre));
        float *v = host_of(c.state, n_pre), nearest = INFINITY;
        size_t cut = 0;
        for (size_t i = 0; i < n_pre; i++) {
            nearest = fminf(nearest, fabsf(v[i]));
            cut += v[i] <= 0.0f;
        }
        free(v);
        bn.act = FR_BN_RELU;
        CHECK(nearest > 2e-2f, "a value before the ReLU is %g from the kink: pick other data", nearest);
        CHECK(cut >= 4 && cut <= n_pre - 4, "the ReLU cuts %zu of %zu values: pick other data", cut, n_pre);
        run_case(&c, 1e-3f);
        bn_training = 1;
        fr_bn_release(&bn);
        finish(&c);
    }
    { /* Batch-norm with frozen gamma/beta: backward still gives dx. */
        gc_case c = GC_CASE("batchnorm_frozen", bn_fwd, bn_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_bn_init(&bn, c.ps, "bnf", 3, FR_ROLE_FROZEN, FR_BN_IDENTITY));
        CHECK(!bn.gamma->trainable && !bn.gamma->grad, "frozen gamma has a gradient");
        fr_param_init_uniform(bn.gamma, 5, 1.0f);
        with_input(&c, 6 * 3, -2, 2);
        c.state = zero_buffer(6 * 3);
        run_case(&c, 1e-2f);
        fr_bn_release(&bn);
        finish(&c);
    }
    { /* Dropout with a fixed mask */
        gc_case c = GC_CASE("dropout", drop_fwd, drop_bwd);
        CHECK_OK(fr_dropout_init(&drop, 0.3f, 9, 1));
        with_input(&c, 40, -1, 1);
        c.state = zero_buffer(40);
        run_case(&c, 1e-2f);
        /* The mask is a function of (seed, step, layer): the same step gives
         * the same output, another step another one; eval is the identity. */
        float *x = host_of(c.in[0], 40), *y1 = host_of(c.state, 40), *y2;
        size_t kept = 0;
        for (size_t i = 0; i < 40; i++) {
            CHECK(y1[i] == 0.0f || fabsf(y1[i] - x[i] / 0.7f) <= 1e-6f * fabsf(x[i]) + 1e-7f,
                  "dropout value %zu: %g from %g", i, y1[i], x[i]);
            kept += y1[i] != 0.0f;
        }
        CHECK(kept > 0 && kept < 40, "dropout kept %zu of 40", kept);
        CHECK_OK(fr_dropout_forward(&drop, be, 40, 8, fr_view_of(c.in[0], 0), fr_view_of(c.state, 0), 1));
        y2 = host_of(c.state, 40);
        CHECK(memcmp(y1, y2, 40 * sizeof *y1) != 0, "steps 7 and 8 drew the same mask");
        free(y2);
        CHECK_OK(fr_dropout_forward(&drop, be, 40, 7, fr_view_of(c.in[0], 0), fr_view_of(c.state, 0), 1));
        y2 = host_of(c.state, 40);
        CHECK(!memcmp(y1, y2, 40 * sizeof *y1), "step 7 twice drew different masks");
        free(y2);
        CHECK_OK(fr_dropout_forward(&drop, be, 40, 7, fr_view_of(c.in[0], 0), fr_view_of(c.state, 0), 0));
        y2 = host_of(c.state, 40);
        CHECK(!memcmp(x, y2, 40 * sizeof *x), "eval-mode dropout is not the identity");
        free(y2);
        free(x);
        free(y1);
        fr_dropout_release(&drop);
        finish(&c);
    }
    { /* Dropout rate: the kept fraction of many values is near 1 - rate. */
        fr_dropout d;
        CHECK_OK(fr_dropout_init(&d, 0.3f, 9, 2));
        fr_buffer *x = zero_buffer(20000), *y = zero_buffer(20000);
        fr_fill(be, 20000, 1.0f, fr_view_of(x, 0));
        CHECK_OK(fr_dropout_forward(&d, be, 20000, 1, fr_view_of(x, 0), fr_view_of(y, 0), 1));
        float *h = host_of(y, 20000);
        double kept = 0;
        for (size_t i = 0; i < 20000; i++)
            kept += h[i] != 0.0f;
        CHECK(fabs(kept / 20000 - 0.7) < 0.02, "dropout kept fraction %g, expected 0.7", kept / 20000);
        free(h);
        fr_buffer_free(x);
        fr_buffer_free(y);
        fr_dropout_release(&d);
    }
    { /* LoRA with a frozen base */
        gc_case c = GC_CASE("lora_linear", lora_fwd, lora_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_lora_linear_init(&lora, c.ps, "lora", 5, 4, 2, 4.0f, 0, FR_ROLE_GLOBAL, 1));
        fr_param_init_uniform(lora.b, 7, 0.5f); /* B starts at zero; make dA visible */
        CHECK(!lora.base.weight->trainable && !lora.base.weight->grad, "LoRA base weight must be frozen");
        with_input(&c, B * 5, -1, 1);
        c.state = zero_buffer(B * 4);
        lora_xa = zero_buffer(B * 2);
        lora_dxa = zero_buffer(B * 2);
        run_case(&c, 1e-2f);
        fr_buffer_free(lora_xa);
        fr_buffer_free(lora_dxa);
        finish(&c);
    }
    { /* LoRA with a trainable base: W and b get gradients too. */
        gc_case c = GC_CASE("lora_linear_base", lora_fwd, lora_bwd);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_lora_linear_init(&lora, c.ps, "lorab", 5, 4, 3, 2.0f, 1, FR_ROLE_LOCAL, 1));
        fr_param_init_uniform(lora.b, 7, 0.5f);
        fr_param_init_uniform(lora.base.bias, 8, 0.5f);
        CHECK(lora.base.weight->trainable && lora.base.weight->role == FR_ROLE_LOCAL,
              "trainable LoRA base lost its role");
        with_input(&c, B * 5, -1, 1);
        c.state = zero_buffer(B * 4);
        lora_xa = zero_buffer(B * 3);
        lora_dxa = zero_buffer(B * 3);
        run_case(&c, 1e-2f);
        fr_buffer_free(lora_xa);
        fr_buffer_free(lora_dxa);
        finish(&c);
    }
    { /* MLP block: Linear, batch-norm, ReLU, dropout, two layers */
        gc_case c = GC_CASE("mlp", mlp_fwd, mlp_bwd);
        fr_param_set_create(be, &c.ps);
        const size_t widths[] = {6, 4};
        CHECK_OK(fr_mlp_init(&mlp, c.ps, "mlp", 5, widths, 2, 1, 0.2f, 5, FR_ROLE_GLOBAL, 1));
        with_input(&c, 5 * 5, -1, 1);
        run_case(&c, 5e-3f);
        fr_mlp_release(&mlp);
        finish(&c);
    }
    { /* MLP block in eval mode: batch-norm on running statistics, no dropout. */
        gc_case c = GC_CASE("mlp_eval", mlp_fwd, mlp_bwd);
        fr_param_set_create(be, &c.ps);
        const size_t widths[] = {6, 4};
        CHECK_OK(fr_mlp_init(&mlp, c.ps, "mlpe", 5, widths, 2, 1, 0.2f, 5, FR_ROLE_GLOBAL, 1));
        with_input(&c, 5 * 5, -1, 1);
        fr_view ignored;
        CHECK_OK(fr_mlp_forward(&mlp, be, 5, fr_view_of(c.in[0], 0), 1, 1, &ignored)); /* move the statistics */
        mlp_training = 0;
        run_case(&c, 5e-3f);
        mlp_training = 1;
        fr_mlp_release(&mlp);
        finish(&c);
    }
    { /* Plain MLP block (no batch-norm, no dropout), three layers. */
        gc_case c = GC_CASE("mlp_plain", mlp_fwd, mlp_bwd);
        fr_param_set_create(be, &c.ps);
        const size_t widths[] = {7, 6, 3};
        CHECK_OK(fr_mlp_init(&mlp, c.ps, "mlpp", 5, widths, 3, 0, 0.0f, 5, FR_ROLE_GLOBAL, 1));
        for (size_t i = 0; i < 3; i++)
            fr_param_init_uniform(mlp.fc[i].bias, 20 + i, 0.3f);
        with_input(&c, 5 * 5, -1, 1);
        /* Without batch-norm some pre-activations land near ReLU's kink
         * (with these seeds the nearest is 9e-3 away): a small step (1e-3
         * moves a pre-activation by about that times a weight or input,
         * all below 1.5 here), and a check that none is within reach. */
        fr_view o;
        CHECK_OK(fr_mlp_forward(&mlp, be, 5, fr_view_of(c.in[0], 0), 1, 1, &o));
        float nearest = INFINITY;
        for (size_t i = 0; i < 3; i++) {
            float *pre = host_of(mlp.pre[i], 5 * widths[i]);
            for (size_t k = 0; k < 5 * widths[i]; k++)
                nearest = fminf(nearest, fabsf(pre[k]));
            free(pre);
        }
        CHECK(nearest > 4e-3f, "a pre-activation is %g from ReLU's kink: pick other data", nearest);
        run_case(&c, 1e-3f);
        CHECK(fr_mlp_forward(&mlp, be, 6, fr_view_of(c.in[0], 0), 1, 1, &o) == FR_ERR_INVALID,
              "MLP forward accepted a batch above max_batch");
        fr_mlp_release(&mlp);
        finish(&c);
    }
    for (loss_kind = 0; loss_kind < 3; loss_kind++) { /* BCE (weighted), BPR, MSE */
        const char *names[] = {"bce_loss", "bpr_loss", "mse_loss"};
        gc_case c = GC_CASE(names[loss_kind], loss_fwd, loss_bwd);
        with_input(&c, 6, -3, 3);
        if (loss_kind == 1)
            with_input(&c, 6, -3, 3);
        const float labels[6] = {1, 0, 1, 1, 0, 0};
        loss_aux = zero_buffer(6);
        fr_buffer_upload(loss_aux, 0, labels, sizeof labels);
        loss_w = random_buffer(6, 0.5f, 2.0f);
        loss_out = zero_buffer(1);
        loss_scratch = zero_buffer(18);
        run_case(&c, 1e-2f);
        fr_buffer_free(loss_aux);
        fr_buffer_free(loss_w);
        fr_buffer_free(loss_out);
        fr_buffer_free(loss_scratch);
        finish(&c);
    }
    free(weights);
    weights = NULL;
}

int main(void)
{
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = FR_BACKEND_CPU;
    opt.threads = 1;
    CHECK_OK(fr_backend_open(&opt, &be));
    fprintf(stderr, "backend %s\n", fr_backend_describe(be));
    run_all();
    fr_backend_close(be);
    /* The same checks with every op on an OpenCL device, where there is one. */
    fr_opencl_device_info *devices;
    size_t n_devices;
    CHECK_OK(fr_opencl_list_devices(&devices, &n_devices));
    free(devices);
    if (fr_opencl_built() && n_devices > 0) {
        opt.kind = FR_BACKEND_OPENCL;
        opt.opencl_min_elements = 0;
        CHECK_OK(fr_backend_open(&opt, &be));
        fprintf(stderr, "backend %s\n", fr_backend_describe(be));
        run_all();
        fr_backend_close(be);
    } else if (!fr_opencl_built()) {
        TEST_SKIP_PART("test_gradcheck: the gradient checks on OpenCL: this build has no OpenCL backend");
    } else {
        TEST_SKIP_PART("test_gradcheck: the gradient checks on OpenCL: no OpenCL device here (pocl-opencl-icd "
                       "gives one on any CPU)");
    }
    return fr_test_finish("test_gradcheck");
}
