/* rating_ncf.c — FedNCF's network (see fedrec/pfedrec.h): NCF's GMF and
 * MLP towers fused by one output layer,
 *   logit = v_g . (u_g * e_g) + v_m . MLP([u_m ; e_m]) + c,
 * with ReLU hidden layers. A user row and an item row each hold the GMF
 * half then the MLP half (2 * dim floats). Forward and backward run a
 * batch at a time through the worker's one-thread host GEMM; the
 * activations stay in the worker's scratch between the two. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "rec/rating.h"
#include "fedrec/rng.h"

size_t fr_ncf_shared_count(const fr_pfedrec_options *o)
{
    size_t in = 2 * o->dim, n = 0;
    for (size_t l = 0; l < o->n_ncf_layers; l++) {
        n += o->ncf_layers[l] * in + o->ncf_layers[l];
        in = o->ncf_layers[l];
    }
    return n + o->dim + in + 1;
}

static size_t widest(const fr_pfedrec_options *o)
{
    size_t w = 2 * o->dim;
    for (size_t l = 0; l < o->n_ncf_layers; l++)
        if (o->ncf_layers[l] > w)
            w = o->ncf_layers[l];
    return w;
}

void fr_ncf_init_shared(const fr_pfedrec_options *o, float *shared)
{
    fr_rng rng;
    fr_rng_init(&rng, o->seed, 0, FR_PF_NCF_INIT_STREAM, FR_RNG_INIT);
    size_t in = 2 * o->dim;
    float *at = shared;
    for (size_t l = 0; l <= o->n_ncf_layers; l++) {
        /* The output layer reads dim GMF products and the last width. */
        size_t fan_in = l < o->n_ncf_layers ? in : o->dim + in;
        size_t out = l < o->n_ncf_layers ? o->ncf_layers[l] : 1;
        float bound = 1.0f / sqrtf((float)fan_in);
        for (size_t k = 0; k < out * fan_in + out; k++)
            *at++ = (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
        in = out;
    }
}

void fr_ncf_scratch_free(scratch *s)
{
    fr_host_free(s->gemm);
    free(s->ncf_local);
    free(s->ncf_grad);
    free(s->ncf_act);
    free(s->ncf_ptrs);
    free(s->ncf_logits);
    s->gemm = NULL;
    s->ncf_local = s->ncf_grad = s->ncf_act = s->ncf_logits = NULL;
    s->ncf_ptrs = NULL;
}

/* Activations of R rows: the input, then each layer's pre-activation and
 * output, then two gradient buffers as wide as the widest layer. */
static size_t act_floats(const fr_pfedrec_options *o, size_t rows)
{
    size_t per_row = 2 * o->dim + 2 * widest(o);
    for (size_t l = 0; l < o->n_ncf_layers; l++)
        per_row += 2 * o->ncf_layers[l];
    return per_row * rows;
}

fr_status fr_ncf_scratch_init(const fr_rating *p, scratch *s)
{
    const fr_pfedrec_options *o = &p->o;
    size_t rows = o->batch > p->split->negatives_per_eval + 1 ? o->batch
                                                              : p->split->negatives_per_eval + 1;
    FR_TRY(fr_host_create(fr_host_isa(p->host), 1, &s->gemm));
    s->ncf_rows = rows;
    s->ncf_local = malloc(p->n_shared * sizeof *s->ncf_local);
    s->ncf_grad = malloc(p->n_shared * sizeof *s->ncf_grad);
    s->ncf_act = malloc(act_floats(o, rows) * sizeof *s->ncf_act);
    s->ncf_ptrs = malloc(2 * rows * sizeof *s->ncf_ptrs);
    s->ncf_logits = malloc(2 * rows * sizeof *s->ncf_logits);
    if (!s->ncf_local || !s->ncf_grad || !s->ncf_act || !s->ncf_ptrs || !s->ncf_logits) {
        fr_ncf_scratch_free(s);
        return fr_fail_nomem("FedNCF scratch", act_floats(o, rows) * 4);
    }
    return FR_OK;
}

/* Where the buffers of layer l start in the activations (R rows). */
static float *input_of(const fr_rating *p, scratch *s)
{
    (void)p;
    return s->ncf_act;
}

static float *preact_of(const fr_rating *p, scratch *s, size_t l)
{
    float *at = s->ncf_act + s->ncf_rows * 2 * p->o.dim;
    for (size_t k = 0; k < l; k++)
        at += 2 * s->ncf_rows * p->o.ncf_layers[k];
    return at;
}

static float *output_of(const fr_rating *p, scratch *s, size_t l)
{
    return preact_of(p, s, l) + s->ncf_rows * p->o.ncf_layers[l];
}

static float *grad_buffer(const fr_rating *p, scratch *s, int which)
{
    return preact_of(p, s, p->o.n_ncf_layers) + (size_t)which * s->ncf_rows * widest(&p->o);
}

void fr_ncf_forward(const fr_rating *p, scratch *s, const float *shared, const float *u,
                    const float *const *item_rows, size_t m, float *logits)
{
    const fr_host_vec *k = fr_host_vec_of(s->gemm);
    size_t e = p->o.dim, in = 2 * e;
    float *x = input_of(p, s);
    for (size_t j = 0; j < m; j++) {
        memcpy(x + j * in, u + e, e * sizeof *x);
        memcpy(x + j * in + e, item_rows[j] + e, e * sizeof *x);
    }
    const float *w = shared;
    for (size_t l = 0; l < p->o.n_ncf_layers; l++) {
        size_t out = p->o.ncf_layers[l];
        float *z = preact_of(p, s, l), *y = output_of(p, s, l);
        fr_host_sgemm(s->gemm, FR_NO_TRANS, FR_TRANS, m, out, in, 1.0f, x, in, w, in, 0.0f, z, out);
        const float *bias = w + out * in;
        for (size_t j = 0; j < m; j++)
            for (size_t c = 0; c < out; c++) {
                float v = z[j * out + c] + bias[c];
                z[j * out + c] = v;
                y[j * out + c] = v > 0.0f ? v : 0.0f;
            }
        x = y;
        in = out;
        w = bias + out;
    }
    const float *v = w;   /* e GMF weights, `in` MLP weights, then the bias */
    for (size_t j = 0; j < m; j++) {
        float g = 0.0f;
        for (size_t c = 0; c < e; c++)
            g += v[c] * u[c] * item_rows[j][c];
        logits[j] = g + k->dot(in, v + e, x + j * in) + v[e + in];
    }
}

void fr_ncf_backward(const fr_rating *p, scratch *s, const float *shared, const float *u,
                     const float *const *item_rows, size_t m, const float *dlogit, float *gu,
                     float *const *item_grads)
{
    size_t e = p->o.dim, L = p->o.n_ncf_layers;
    /* Offsets of each layer's weights in `shared`. */
    size_t off[FR_NCF_MAX_LAYERS + 1], in = 2 * e, at = 0;
    for (size_t l = 0; l < L; l++) {
        off[l] = at;
        at += p->o.ncf_layers[l] * in + p->o.ncf_layers[l];
        in = p->o.ncf_layers[l];
    }
    off[L] = at;
    const float *v = shared + off[L];
    float *gv = s->ncf_grad + off[L];
    size_t last = in;
    const float *x_last = L ? output_of(p, s, L - 1) : input_of(p, s);
    float *dx = grad_buffer(p, s, 0), *dprev = grad_buffer(p, s, 1);
    for (size_t j = 0; j < m; j++) {
        float g = dlogit[j];
        const float *ej = item_rows[j];
        for (size_t c = 0; c < e; c++) {
            gv[c] += g * u[c] * ej[c];
            gu[c] += g * v[c] * ej[c];
            item_grads[j][c] += g * v[c] * u[c];
        }
        for (size_t c = 0; c < last; c++) {
            gv[e + c] += g * x_last[j * last + c];
            dx[j * last + c] = g * v[e + c];
        }
        gv[e + last] += g;
    }
    for (size_t l = L; l-- > 0;) {
        size_t out = p->o.ncf_layers[l], lin = l ? p->o.ncf_layers[l - 1] : 2 * e;
        const float *z = preact_of(p, s, l);
        const float *x_in = l ? output_of(p, s, l - 1) : input_of(p, s);
        const float *w = shared + off[l];
        float *gw = s->ncf_grad + off[l], *gb = gw + out * lin;
        for (size_t j = 0; j < m; j++)
            for (size_t c = 0; c < out; c++) {
                float d = z[j * out + c] > 0.0f ? dx[j * out + c] : 0.0f;
                dx[j * out + c] = d;
                gb[c] += d;
            }
        fr_host_sgemm(s->gemm, FR_TRANS, FR_NO_TRANS, out, lin, m, 1.0f, dx, out, x_in, lin, 1.0f,
                     gw, lin);
        fr_host_sgemm(s->gemm, FR_NO_TRANS, FR_NO_TRANS, m, lin, out, 1.0f, dx, out, w, lin, 0.0f,
                     dprev, lin);
        float *t = dx;
        dx = dprev;
        dprev = t;
    }
    /* dx now holds the gradient of the input rows [u_m ; e_m]. */
    for (size_t j = 0; j < m; j++)
        for (size_t c = 0; c < e; c++) {
            gu[e + c] += dx[j * 2 * e + c];
            item_grads[j][e + c] += dx[j * 2 * e + e + c];
        }
}
