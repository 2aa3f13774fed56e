/* test_gradcheck.c — every layer's and loss's hand-written backward pass
 * against finite differences of an independent forward pass in double.
 *
 * For a layer with output y the checked scalar is L = sum_i r_i y_i with a
 * fixed random r, so dL/dy = r is what backward receives. The layer runs
 * forward and backward on the backend, in float. The test then takes the
 * inputs and parameters into double and differentiates a reference
 * forward, written here from the layer's documented formula (fedrec/nn.h,
 * fedrec/loss.h), by central differences with step GC_STEP on every
 * element. In double those differences are exact to about 1e-9, so the
 * errors left are the float rounding of the analytic gradient, and the
 * bound GC_TOL is a margin over the worst of them (measured on the CPU and
 * on PoCL's OpenCL: 2.2e-5), small enough that a gradient off by 1 %
 * fails by a factor of 50. (The check before took float differences of
 * the float forward: its worst error was 2.8e-3 and its bound 2e-2, with
 * a floor that let a 1-2 % error through.)
 * The layer's own float output must match the reference forward as well
 * (GC_TOL_FORWARD), so the function differentiated is the layer's.
 *
 * Error of an element: |num - ana| / max(|num|, GC_FLOOR * max_k |num_k|):
 * relative, except for elements far below the tensor's largest, which are
 * judged against GC_FLOOR of it (their float rounding comes from terms of
 * the largest size: batch-norm's dx is a difference of such terms).
 *
 * Mutation hook, so the check is seen to fail: FR_GRADCHECK_MUTATE=<case>
 * scales every analytic gradient of that case by FR_GRADCHECK_SCALE
 * (default 1.01) before the comparison. tests/test_gradcheck_mutants.sh
 * runs every case so and passes only if each of its tensors is rejected
 * (but those whose exact gradient is 0, see compare(), which no scale
 * changes).
 *
 * The checks run on the CPU backend and, where there is an OpenCL device,
 * on OpenCL too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/fedrec.h"
#include "testutil.h"

/* Central-difference step, in double, on values of size about 1. */
#define GC_STEP 1e-6
/* Bound on an analytic gradient's error: the worst measured is 2.2e-5
 * (the MLP's dx, through two batch-norms), a gradient scaled by 1.01 is
 * 1e-2 off. */
#define GC_TOL 2e-4
/* Bound on the float forward's error against the reference (measured
 * worst 9.7e-6: a LoRA output of 3e-3 summed from terms of size 1, judged
 * against a hundredth of the largest output, 1.06). */
#define GC_TOL_FORWARD 1e-4
/* Bound on the analytic values of a gradient that is exactly zero, as a
 * share of the case's largest gradient (measured worst 1.9e-7). */
#define GC_TOL_ZERO 1e-5
/* Elements below this share of the tensor's largest are judged against it. */
#define GC_FLOOR 1e-2
/* A ReLU input nearer its kink than this could flip between the float
 * layer and the reference, or under a step: pick other data. */
#define GC_KINK_MIN 1e-4

static fr_backend *be;
static fr_rng rng;
static fr_field_embedding fe;
static const char *mutate_case; /* FR_GRADCHECK_MUTATE */
static double mutate_scale = 1.01;
static int mutated;             /* cases the mutation hit */

/* A case: forward writes *out (n_out values) on the backend; backward
 * takes dy; reference computes the same output in double from the
 * snapshot below (X(k): input k, P(p): parameter p). */
typedef struct gc_case {
    const char *name;
    fr_status (*forward)(struct gc_case *c, fr_view *out, size_t *n_out);
    fr_status (*backward)(struct gc_case *c, fr_view dy);
    void (*reference)(struct gc_case *c, double *y);
    void *state;
    fr_param_set *ps;
    /* Inputs to check: value buffer, element count, gradient buffer. */
    fr_buffer *in[3], *din[3];
    size_t in_n[3];
    size_t n_in;
} gc_case;

#define GC_CASE(name, fwd, bwd, ref) {name, fwd, bwd, ref, NULL, NULL, {NULL}, {NULL}, {0}, 0}

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

static double *host_double(fr_buffer *b, size_t n)
{
    float *h = host_of(b, n);
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = h[i];
    free(h);
    return d;
}

/* ---- the double snapshot and the reference's building blocks ------------ */

static gc_case *current;
static double *snap_in[3];
static double **snap_par; /* one per parameter of the case's set, all of them */
static size_t snap_n_par;
static double *weights;   /* r, the weights of L */
static size_t n_weights;

static const double *X(size_t k)
{
    return snap_in[k];
}

static const double *P(const fr_param *p)
{
    for (size_t i = 0; i < snap_n_par; i++)
        if (fr_param_set_at(current->ps, i) == p)
            return snap_par[i];
    fprintf(stderr, "the reference asked for a parameter outside case %s\n", current->name);
    abort();
}

static double kink_nearest; /* of the ReLU inputs since the last reset */

static double relu_d(double v)
{
    kink_nearest = fmin(kink_nearest, fabs(v));
    return v > 0 ? v : 0;
}

static double sigmoid_d(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* log(1 + e^v), without overflow. */
static double softplus_d(double v)
{
    return fmax(v, 0.0) + log1p(exp(-fabs(v)));
}

/* y (batch x out) = x (batch x in) W (in x out) + b; b may be NULL. */
static void linear_d(size_t batch, size_t in, size_t out, const double *x, const double *w,
                     const double *b, double *y)
{
    for (size_t r = 0; r < batch; r++)
        for (size_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t i = 0; i < in; i++)
                s += x[r * in + i] * w[i * out + o];
            y[r * out + o] = s;
        }
}

/* Batch-norm over the columns of x (batch x f): training normalises by the
 * batch mean and biased variance, eval by the running statistics; then
 * gamma, beta and an optional ReLU. */
static void batchnorm_d(size_t batch, size_t f, const double *x, const double *gamma,
                        const double *beta, const double *run_mean, const double *run_var,
                        double eps, int training, int relu, double *y)
{
    for (size_t c = 0; c < f; c++) {
        double mu = run_mean[c], var = run_var[c];
        if (training) {
            mu = var = 0;
            for (size_t r = 0; r < batch; r++)
                mu += x[r * f + c];
            mu /= (double)batch;
            for (size_t r = 0; r < batch; r++)
                var += (x[r * f + c] - mu) * (x[r * f + c] - mu);
            var /= (double)batch;
        }
        for (size_t r = 0; r < batch; r++) {
            double v = gamma[c] * (x[r * f + c] - mu) / sqrt(var + eps) + beta[c];
            y[r * f + c] = relu ? relu_d(v) : v;
        }
    }
}

/* Inverted dropout's multipliers as fedrec/nn.h documents them: value i
 * kept when the i-th uniform of stream (seed, step, layer, FR_RNG_DROPOUT)
 * is below 1 - rate, then scaled by 1 / (1 - rate). */
static void dropout_scale_d(uint64_t seed, uint32_t step, uint32_t layer, float rate, size_t n,
                            double *mult)
{
    fr_rng r;
    fr_rng_init(&r, seed, step, layer, FR_RNG_DROPOUT);
    for (size_t i = 0; i < n; i++)
        mult[i] = fr_rng_uniform(&r) < 1.0f - rate ? 1.0 / (1.0 - (double)rate) : 0.0;
}

/* L of the reference at the current snapshot. */
static double reference_scalar(gc_case *c, double *y)
{
    c->reference(c, y);
    double s = 0;
    for (size_t i = 0; i < n_weights; i++)
        s += weights[i] * y[i];
    return s;
}

/* d L / d v[i] for every element of v (n values of the snapshot), by
 * central differences of the reference. */
static double *numeric_gradient(gc_case *c, double *v, size_t n)
{
    double *num = malloc((n ? n : 1) * sizeof *num), *y = malloc(n_weights * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        double orig = v[i];
        v[i] = orig + GC_STEP;
        double lp = reference_scalar(c, y);
        v[i] = orig - GC_STEP;
        double lm = reference_scalar(c, y);
        v[i] = orig;
        num[i] = (lp - lm) / (2 * GC_STEP);
    }
    free(y);
    return num;
}

static double largest_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/* The numeric gradient num against the analytic one. A tensor whose
 * numeric gradient is zero to double rounding next to the case's largest
 * (a bias before training-mode batch-norm: the mean takes it out) has no
 * scale of its own: its analytic values must be float rounding of zero,
 * below GC_TOL_ZERO of the case's largest gradient. */
static void compare(gc_case *c, const char *what, const double *num, size_t n, const float *analytic,
                    double case_largest)
{
    double largest = largest_abs(num, n), worst = 0, tol = GC_TOL;
    size_t at = 0;
    int zero = largest <= 1e-9 * case_largest;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs(num[i] - analytic[i]);
        double scale = zero ? case_largest : fmax(fabs(num[i]), GC_FLOOR * largest);
        double err = diff == 0 ? 0 : scale > 0 ? diff / scale : INFINITY;
        if (err > worst) {
            worst = err;
            at = i;
        }
    }
    if (zero)
        tol = GC_TOL_ZERO;
    char label[64];
    snprintf(label, sizeof label, "d%s", what);
    fprintf(stderr, "  %-22s %-22s worst error %.2e  tolerance %.0e%s%s\n", c->name, label, worst, tol,
            zero ? "  (exact gradient 0)" : "", worst > tol ? "  FAIL" : "");
    CHECK(worst <= tol, "%s: %s[%zu]: numeric %.9g, analytic %.9g (error %.2e)", c->name, label, at,
          n ? num[at] : 0.0, n ? (double)analytic[at] : 0.0, worst);
}

static void run_case(gc_case *c)
{
    current = c;
    fr_view out;
    size_t n_out;
    CHECK_OK(c->forward(c, &out, &n_out));
    /* r is drawn in float, so backward and the reference see one r. */
    free(weights);
    weights = malloc(n_out * sizeof *weights);
    n_weights = n_out;
    float *wf = malloc(n_out * sizeof *wf);
    for (size_t i = 0; i < n_out; i++)
        weights[i] = wf[i] = (float)(2.0 * fr_rng_uniform(&rng) - 1.0);
    fr_buffer *dy;
    fr_buffer_alloc(be, n_out * sizeof *wf, &dy);
    fr_buffer_upload(dy, 0, wf, n_out * sizeof *wf);
    free(wf);
    if (c->ps)
        CHECK_OK(fr_param_set_zero_grad(c->ps));
    CHECK_OK(c->forward(c, &out, &n_out));
    float *y = malloc(n_out * sizeof *y);
    fr_buffer_download(out.buf, out.off * sizeof *y, y, n_out * sizeof *y);
    CHECK_OK(c->backward(c, fr_view_of(dy, 0)));

    /* The analytic gradients, and the snapshot they belong to. */
    size_t n_par = c->ps ? fr_param_set_count(c->ps) : 0;
    float *gin[3] = {NULL, NULL, NULL}, **gpar = calloc(n_par + 1, sizeof *gpar);
    for (size_t k = 0; k < c->n_in; k++) {
        gin[k] = host_of(c->din[k], c->in_n[k]);
        snap_in[k] = host_double(c->in[k], c->in_n[k]);
    }
    snap_n_par = n_par;
    snap_par = calloc(n_par + 1, sizeof *snap_par);
    for (size_t i = 0; i < n_par; i++) {
        fr_param *p = fr_param_set_at(c->ps, i);
        size_t n = p->rows * p->cols;
        snap_par[i] = host_double(p->value, n);
        if (!p->trainable)
            continue;
        gpar[i] = calloc(n, sizeof *gpar[i]);
        if (p->row_sparse) {
            /* Spread the compact rows back over the table. */
            float *compact = host_of(p->grad, p->n_touched * p->cols);
            for (size_t t = 0; t < p->n_touched; t++)
                memcpy(gpar[i] + (size_t)p->touched[t] * p->cols, compact + t * p->cols, p->cols * 4);
            free(compact);
        } else {
            fr_buffer_download(p->grad, 0, gpar[i], n * sizeof *gpar[i]);
        }
    }
    if (mutate_case && !strcmp(mutate_case, c->name)) {
        fprintf(stderr, "  MUTANT: %s's analytic gradients scaled by %g\n", c->name, mutate_scale);
        mutated++;
        for (size_t k = 0; k < c->n_in; k++)
            for (size_t j = 0; j < c->in_n[k]; j++)
                gin[k][j] = (float)(gin[k][j] * mutate_scale);
        for (size_t i = 0; i < n_par; i++) {
            fr_param *p = fr_param_set_at(c->ps, i);
            for (size_t j = 0; gpar[i] && j < p->rows * p->cols; j++)
                gpar[i][j] = (float)(gpar[i][j] * mutate_scale);
        }
    }

    /* The layer's float forward is the reference's function. */
    double *yref = malloc(n_out * sizeof *yref), largest = 0, worst = 0;
    kink_nearest = INFINITY;
    c->reference(c, yref);
    CHECK(kink_nearest > GC_KINK_MIN, "%s: a ReLU input is %g from the kink: pick other data", c->name,
          kink_nearest);
    for (size_t i = 0; i < n_out; i++)
        largest = fmax(largest, fabs(yref[i]));
    for (size_t i = 0; i < n_out; i++) {
        double scale = fmax(fabs(yref[i]), GC_FLOOR * largest), diff = fabs(y[i] - yref[i]);
        double err = diff == 0 ? 0 : scale > 0 ? diff / scale : INFINITY;
        CHECK(err <= GC_TOL_FORWARD, "%s: y[%zu] = %.9g, the reference gives %.9g", c->name, i, y[i],
              yref[i]);
        worst = fmax(worst, err);
    }
    fprintf(stderr, "  %-22s %-22s worst error %.2e  tolerance %.0e%s\n", c->name, "forward", worst,
            GC_TOL_FORWARD, worst > GC_TOL_FORWARD ? "  FAIL" : "");
    free(yref);
    free(y);

    /* Every numeric gradient first: the case's largest scales the
     * tensors whose gradient is zero. */
    double *nin[3] = {NULL, NULL, NULL}, **npar = calloc(n_par + 1, sizeof *npar), case_largest = 0;
    size_t *npar_n = calloc(n_par + 1, sizeof *npar_n);
    for (size_t k = 0; k < c->n_in; k++) {
        nin[k] = numeric_gradient(c, snap_in[k], c->in_n[k]);
        case_largest = fmax(case_largest, largest_abs(nin[k], c->in_n[k]));
    }
    for (size_t i = 0; i < n_par; i++) {
        fr_param *p = fr_param_set_at(c->ps, i);
        if (!gpar[i])
            continue;
        npar_n[i] = p->rows * p->cols;
        /* The field embedding's padding row is a constant by design (it
         * is never trained): leave it out. */
        if (p == fe.emb.table)
            npar_n[i] -= p->cols;
        npar[i] = numeric_gradient(c, snap_par[i], npar_n[i]);
        case_largest = fmax(case_largest, largest_abs(npar[i], npar_n[i]));
    }
    for (size_t k = 0; k < c->n_in; k++) {
        char what[32];
        snprintf(what, sizeof what, "input%zu", k);
        compare(c, what, nin[k], c->in_n[k], gin[k], case_largest);
        free(nin[k]);
    }
    for (size_t i = 0; i < n_par; i++) {
        if (npar[i])
            compare(c, fr_param_set_at(c->ps, i)->name, npar[i], npar_n[i], gpar[i], case_largest);
        free(npar[i]);
    }
    free(npar);
    free(npar_n);
    for (size_t k = 0; k < c->n_in; k++) {
        free(gin[k]);
        free(snap_in[k]);
        snap_in[k] = NULL;
    }
    for (size_t i = 0; i < n_par; i++) {
        free(gpar[i]);
        free(snap_par[i]);
    }
    free(gpar);
    free(snap_par);
    snap_par = NULL;
    snap_n_par = 0;
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
static void lin_ref(gc_case *c, double *y)
{
    (void)c;
    linear_d(B, lin.in, lin.out, X(0), P(lin.weight), P(lin.bias), y);
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
static void emb_ref(gc_case *c, double *y)
{
    (void)c;
    const double *t = P(emb.table);
    for (size_t k = 0; k < 6; k++)
        for (size_t j = 0; j < emb.dim; j++)
            y[k * emb.dim + j] = t[(size_t)emb_ids[k] * emb.dim + j];
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
/* Per example: the fields' rows, then the numeric token num W + b. */
static void fe_ref(gc_case *c, double *y)
{
    (void)c;
    size_t d = fe.dim, width = (fe.fields + 1) * d;
    const double *t = P(fe.emb.table);
    for (size_t b = 0; b < B; b++) {
        for (size_t f = 0; f < fe.fields; f++)
            for (size_t j = 0; j < d; j++)
                y[b * width + f * d + j] = t[(size_t)fe_ids[b * fe.fields + f] * d + j];
        linear_d(1, fe.n_numeric, d, X(0) + b * fe.n_numeric, P(fe.numeric.weight), P(fe.numeric.bias),
                 y + b * width + fe.fields * d);
    }
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
static void act_ref(gc_case *c, double *y)
{
    for (size_t i = 0; i < c->in_n[0]; i++)
        y[i] = act_kind ? sigmoid_d(X(0)[i]) : relu_d(X(0)[i]);
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
static void gate_ref(gc_case *c, double *y)
{
    (void)c;
    size_t e = gate.experts;
    linear_d(B, gate.proj.in, e, X(0), P(gate.proj.weight), P(gate.proj.bias), y);
    for (size_t r = 0; r < B; r++) {
        double top = -INFINITY, sum = 0;
        for (size_t j = 0; j < e; j++)
            top = fmax(top, y[r * e + j]);
        for (size_t j = 0; j < e; j++)
            sum += y[r * e + j] = exp(y[r * e + j] - top);
        for (size_t j = 0; j < e; j++)
            y[r * e + j] /= sum;
    }
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
static void bn_ref(gc_case *c, double *y)
{
    (void)c;
    batchnorm_d(6, bn.features, X(0), P(bn.gamma), P(bn.beta), P(bn.running_mean), P(bn.running_var),
                bn.eps, bn_training, bn.act == FR_BN_RELU, y);
}

static fr_dropout drop;
#define DROP_STEP 7
static fr_status drop_fwd(gc_case *c, fr_view *out, size_t *n)
{
    fr_buffer *y = c->state;
    *out = fr_view_of(y, 0);
    *n = c->in_n[0];
    return fr_dropout_forward(&drop, be, *n, DROP_STEP, fr_view_of(c->in[0], 0), *out, 1);
}
static fr_status drop_bwd(gc_case *c, fr_view dy)
{
    return fr_dropout_backward(&drop, be, c->in_n[0], dy, fr_view_of(c->din[0], 0), 1);
}
static void drop_ref(gc_case *c, double *y)
{
    size_t n = c->in_n[0];
    dropout_scale_d(drop.seed, DROP_STEP, drop.layer_id, drop.rate, n, y);
    for (size_t i = 0; i < n; i++)
        y[i] *= X(0)[i];
}

static fr_lora_linear lora;
static double lora_alpha;
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
/* y = x W + b + (alpha / rank) (x A) B. */
static void lora_ref(gc_case *c, double *y)
{
    (void)c;
    size_t in = lora.base.in, out = lora.base.out, r = lora.rank;
    double xa[B * 8], low[B * 8];
    linear_d(B, in, out, X(0), P(lora.base.weight), P(lora.base.bias), y);
    linear_d(B, in, r, X(0), P(lora.a), NULL, xa);
    linear_d(B, r, out, xa, P(lora.b), NULL, low);
    for (size_t i = 0; i < B * out; i++)
        y[i] += lora_alpha / (double)r * low[i];
}

static fr_mlp mlp;
static int mlp_training = 1;
#define MLP_STEP 3
static fr_status mlp_fwd(gc_case *c, fr_view *out, size_t *n)
{
    *n = 5 * fr_mlp_out_width(&mlp);
    return fr_mlp_forward(&mlp, be, 5, fr_view_of(c->in[0], 0), MLP_STEP, mlp_training, out);
}
static fr_status mlp_bwd(gc_case *c, fr_view dy)
{
    return fr_mlp_backward(&mlp, be, 5, fr_view_of(c->in[0], 0), dy, fr_view_of(c->din[0], 0),
                           mlp_training);
}
/* Per layer: Linear, then batch-norm with the ReLU or the ReLU alone,
 * then (training) dropout. */
static void mlp_ref(gc_case *c, double *y)
{
    (void)c;
    double a[5 * 16], pre[5 * 16], mult[5 * 16];
    memcpy(a, X(0), 5 * mlp.in * sizeof *a);
    for (size_t l = 0; l < mlp.n_layers; l++) {
        size_t in = l ? mlp.width[l - 1] : mlp.in, w = mlp.width[l];
        linear_d(5, in, w, a, P(mlp.fc[l].weight), P(mlp.fc[l].bias), pre);
        if (mlp.use_bn)
            batchnorm_d(5, w, pre, P(mlp.bn[l].gamma), P(mlp.bn[l].beta), P(mlp.bn[l].running_mean),
                        P(mlp.bn[l].running_var), mlp.bn[l].eps, mlp_training, 1, a);
        else
            for (size_t i = 0; i < 5 * w; i++)
                a[i] = relu_d(pre[i]);
        if (mlp.dropout > 0 && mlp_training) {
            dropout_scale_d(mlp.drop[l].seed, MLP_STEP, mlp.drop[l].layer_id, mlp.dropout, 5 * w, mult);
            for (size_t i = 0; i < 5 * w; i++)
                a[i] *= mult[i];
        }
    }
    memcpy(y, a, 5 * fr_mlp_out_width(&mlp) * sizeof *y);
}

/* Losses: the scalar is the loss itself (weights = 1 on a 1-value output). */
static int loss_kind; /* 0 BCE, 1 BPR, 2 MSE */
static fr_buffer *loss_out, *loss_aux, *loss_scratch, *loss_w;
static const float loss_labels[6] = {1, 0, 1, 1, 0, 0};
static float loss_w_host[6]; /* the BCE weights, for the reference */
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
/* BCE: mean of w_i (softplus(x_i) - y_i x_i); BPR: mean of
 * -log sigmoid(pos_i - neg_i); MSE: mean of (p_i - t_i)^2. */
static void loss_ref(gc_case *c, double *y)
{
    (void)c;
    const float *w = loss_w_host;
    double s = 0;
    for (size_t i = 0; i < 6; i++) {
        double x = X(0)[i];
        if (loss_kind == 0)
            s += w[i] * (softplus_d(x) - loss_labels[i] * x);
        else if (loss_kind == 1)
            s += softplus_d(-(x - X(1)[i]));
        else
            s += (x - loss_labels[i]) * (x - loss_labels[i]);
    }
    y[0] = s / 6.0;
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
        gc_case c = GC_CASE("linear", lin_fwd, lin_bwd, lin_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_linear_init(&lin, c.ps, "fc", 5, 3, 1, FR_ROLE_GLOBAL, 1));
        fr_param_init_uniform(lin.bias, 2, 0.5f);
        with_input(&c, B * 5, -1, 1);
        c.state = zero_buffer(B * 3);
        run_case(&c);
        finish(&c);
    }
    { /* Embedding with repeated ids; untouched rows have no gradient. */
        gc_case c = GC_CASE("embedding", emb_fwd, emb_bwd, emb_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_embedding_init(&emb, c.ps, "emb", 6, 3, FR_ROLE_GLOBAL, 1, 0.5f));
        c.in[2] = zero_buffer(6);
        fr_buffer_upload(c.in[2], 0, emb_ids, sizeof emb_ids);
        c.state = zero_buffer(6 * 3);
        run_case(&c);
        CHECK(emb.table->n_touched == 3, "embedding touched %zu rows, expected 3", emb.table->n_touched);
        CHECK(emb.table->slot_of_row[2] < 0 && emb.table->slot_of_row[3] < 0 &&
                  emb.table->slot_of_row[5] < 0,
              "untouched rows got gradient slots");
        fr_buffer_free(c.in[2]);
        fr_embedding_release(&emb);
        finish(&c);
    }
    { /* Field embedding with a numeric token */
        gc_case c = GC_CASE("field_embedding", fe_fwd, fe_bwd, fe_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_field_embedding_init(&fe, c.ps, "fe", 3, 9, 2, 2, FR_ROLE_GLOBAL, 1));
        fr_param_init_uniform(fe.numeric.bias, 4, 0.5f);
        with_input(&c, B * 2, -1, 1); /* numeric features; d(input) via backward_numbers */
        c.state = zero_buffer(B * fr_field_embedding_width(&fe));
        run_case(&c);
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
        gc_case c = GC_CASE(act_kind ? "sigmoid" : "relu", act_fwd, act_bwd, act_ref);
        with_input(&c, 20, 0.1f, 3.0f);
        c.state = zero_buffer(20);
        run_case(&c);
        finish(&c);
    }
    { /* Softmax gate */
        gc_case c = GC_CASE("softmax_gate", gate_fwd, gate_bwd, gate_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_softmax_gate_init(&gate, c.ps, "gate", 4, 3, FR_ROLE_GLOBAL, 1));
        with_input(&c, B * 4, -1, 1);
        c.state = zero_buffer(B * 3);
        gate_logits = zero_buffer(B * 3);
        gate_dlogits = zero_buffer(B * 3);
        run_case(&c);
        fr_buffer_free(gate_logits);
        fr_buffer_free(gate_dlogits);
        finish(&c);
    }
    { /* Batch-norm, training mode */
        gc_case c = GC_CASE("batchnorm", bn_fwd, bn_bwd, bn_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_bn_init(&bn, c.ps, "bn", 3, FR_ROLE_GLOBAL, FR_BN_IDENTITY));
        fr_param_init_uniform(bn.gamma, 5, 1.0f);
        fr_param_init_uniform(bn.beta, 6, 1.0f);
        with_input(&c, 6 * 3, -2, 2);
        c.state = zero_buffer(6 * 3);
        run_case(&c);
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
        gc_case c = GC_CASE("batchnorm_eval", bn_fwd, bn_bwd, bn_ref);
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
        run_case(&c);
        bn_training = 1;
        /* Eval mode reads the running statistics and never moves them. */
        float after[3];
        fr_buffer_download(bn.running_var->value, 0, after, sizeof after);
        CHECK(!memcmp(after, rvar, sizeof rvar), "eval forward moved the running variance");
        fr_bn_release(&bn);
        finish(&c);
    }
    for (int training = 1; training >= 0; training--) { /* Batch-norm with the ReLU fused */
        gc_case c = GC_CASE(training ? "batchnorm_relu" : "batchnorm_relu_eval", bn_fwd, bn_bwd, bn_ref);
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
        run_case(&c);
        bn_training = 1;
        fr_bn_release(&bn);
        finish(&c);
    }
    { /* Batch-norm with frozen gamma/beta: backward still gives dx. */
        gc_case c = GC_CASE("batchnorm_frozen", bn_fwd, bn_bwd, bn_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_bn_init(&bn, c.ps, "bnf", 3, FR_ROLE_FROZEN, FR_BN_IDENTITY));
        CHECK(!bn.gamma->trainable && !bn.gamma->grad, "frozen gamma has a gradient");
        fr_param_init_uniform(bn.gamma, 5, 1.0f);
        with_input(&c, 6 * 3, -2, 2);
        c.state = zero_buffer(6 * 3);
        run_case(&c);
        fr_bn_release(&bn);
        finish(&c);
    }
    { /* Dropout with a fixed mask */
        gc_case c = GC_CASE("dropout", drop_fwd, drop_bwd, drop_ref);
        CHECK_OK(fr_dropout_init(&drop, 0.3f, 9, 1));
        with_input(&c, 40, -1, 1);
        c.state = zero_buffer(40);
        run_case(&c);
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
        gc_case c = GC_CASE("lora_linear", lora_fwd, lora_bwd, lora_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_lora_linear_init(&lora, c.ps, "lora", 5, 4, 2, 4.0f, 0, FR_ROLE_GLOBAL, 1));
        lora_alpha = 4.0;
        fr_param_init_uniform(lora.b, 7, 0.5f); /* B starts at zero; make dA visible */
        CHECK(!lora.base.weight->trainable && !lora.base.weight->grad, "LoRA base weight must be frozen");
        with_input(&c, B * 5, -1, 1);
        c.state = zero_buffer(B * 4);
        lora_xa = zero_buffer(B * 2);
        lora_dxa = zero_buffer(B * 2);
        run_case(&c);
        fr_buffer_free(lora_xa);
        fr_buffer_free(lora_dxa);
        finish(&c);
    }
    { /* LoRA with a trainable base: W and b get gradients too. */
        gc_case c = GC_CASE("lora_linear_base", lora_fwd, lora_bwd, lora_ref);
        fr_param_set_create(be, &c.ps);
        CHECK_OK(fr_lora_linear_init(&lora, c.ps, "lorab", 5, 4, 3, 2.0f, 1, FR_ROLE_LOCAL, 1));
        lora_alpha = 2.0;
        fr_param_init_uniform(lora.b, 7, 0.5f);
        fr_param_init_uniform(lora.base.bias, 8, 0.5f);
        CHECK(lora.base.weight->trainable && lora.base.weight->role == FR_ROLE_LOCAL,
              "trainable LoRA base lost its role");
        with_input(&c, B * 5, -1, 1);
        c.state = zero_buffer(B * 4);
        lora_xa = zero_buffer(B * 3);
        lora_dxa = zero_buffer(B * 3);
        run_case(&c);
        fr_buffer_free(lora_xa);
        fr_buffer_free(lora_dxa);
        finish(&c);
    }
    { /* MLP block: Linear, batch-norm, ReLU, dropout, two layers */
        gc_case c = GC_CASE("mlp", mlp_fwd, mlp_bwd, mlp_ref);
        fr_param_set_create(be, &c.ps);
        const size_t widths[] = {6, 4};
        CHECK_OK(fr_mlp_init(&mlp, c.ps, "mlp", 5, widths, 2, 1, 0.2f, 5, FR_ROLE_GLOBAL, 1));
        with_input(&c, 5 * 5, -1, 1);
        run_case(&c);
        fr_mlp_release(&mlp);
        finish(&c);
    }
    { /* MLP block in eval mode: batch-norm on running statistics, no dropout. */
        gc_case c = GC_CASE("mlp_eval", mlp_fwd, mlp_bwd, mlp_ref);
        fr_param_set_create(be, &c.ps);
        const size_t widths[] = {6, 4};
        CHECK_OK(fr_mlp_init(&mlp, c.ps, "mlpe", 5, widths, 2, 1, 0.2f, 5, FR_ROLE_GLOBAL, 1));
        with_input(&c, 5 * 5, -1, 1);
        fr_view ignored;
        CHECK_OK(fr_mlp_forward(&mlp, be, 5, fr_view_of(c.in[0], 0), 1, 1, &ignored)); /* move the statistics */
        mlp_training = 0;
        run_case(&c);
        mlp_training = 1;
        fr_mlp_release(&mlp);
        finish(&c);
    }
    { /* Plain MLP block (no batch-norm, no dropout), three layers. */
        gc_case c = GC_CASE("mlp_plain", mlp_fwd, mlp_bwd, mlp_ref);
        fr_param_set_create(be, &c.ps);
        const size_t widths[] = {7, 6, 3};
        CHECK_OK(fr_mlp_init(&mlp, c.ps, "mlpp", 5, widths, 3, 0, 0.0f, 5, FR_ROLE_GLOBAL, 1));
        for (size_t i = 0; i < 3; i++)
            fr_param_init_uniform(mlp.fc[i].bias, 20 + i, 0.3f);
        with_input(&c, 5 * 5, -1, 1);
        /* Without batch-norm some pre-activations land near ReLU's kink
         * (with these seeds the nearest is 9e-3 away); run_case checks
         * that none is within GC_KINK_MIN. */
        fr_view o;
        run_case(&c);
        CHECK(fr_mlp_forward(&mlp, be, 6, fr_view_of(c.in[0], 0), 1, 1, &o) == FR_ERR_INVALID,
              "MLP forward accepted a batch above max_batch");
        fr_mlp_release(&mlp);
        finish(&c);
    }
    for (loss_kind = 0; loss_kind < 3; loss_kind++) { /* BCE (weighted), BPR, MSE */
        const char *names[] = {"bce_loss", "bpr_loss", "mse_loss"};
        gc_case c = GC_CASE(names[loss_kind], loss_fwd, loss_bwd, loss_ref);
        with_input(&c, 6, -3, 3);
        if (loss_kind == 1)
            with_input(&c, 6, -3, 3);
        loss_aux = zero_buffer(6);
        fr_buffer_upload(loss_aux, 0, loss_labels, sizeof loss_labels);
        loss_w = random_buffer(6, 0.5f, 2.0f);
        fr_buffer_download(loss_w, 0, loss_w_host, sizeof loss_w_host);
        loss_out = zero_buffer(1);
        loss_scratch = zero_buffer(18);
        run_case(&c);
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
    mutate_case = getenv("FR_GRADCHECK_MUTATE");
    if (mutate_case && !*mutate_case)
        mutate_case = NULL;
    const char *scale = getenv("FR_GRADCHECK_SCALE");
    if (scale && *scale) {
        char *end;
        mutate_scale = strtod(scale, &end);
        if (*end || !(mutate_scale > 0)) {
            fprintf(stderr, "FR_GRADCHECK_SCALE '%s': expected a positive number\n", scale);
            return 2;
        }
    }
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
    /* A mutation that hit no case proves nothing: say so. */
    if (mutate_case && !mutated) {
        fprintf(stderr, "FR_GRADCHECK_MUTATE '%s': no such case\n", mutate_case);
        return 2;
    }
    return fr_test_finish("test_gradcheck");
}
