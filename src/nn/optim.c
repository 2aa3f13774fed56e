/* optim.c — SGD and Adam/AdamW steps over a parameter set, with lazy row
 * updates for row-sparse parameters (see fedrec/optim.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/optim.h"

typedef struct moments {
    fr_buffer *m, *v;
    fr_buffer *dense_grad; /* dense_rows: a row-sparse gradient spread out */
} moments;

struct fr_optimizer {
    fr_param_set *ps;
    fr_optim_kind kind;
    float lr, weight_decay, beta1, beta2, eps;
    int64_t steps;
    moments *state;   /* per parameter index, grown as the set grows */
    size_t n_state;
    int dense_rows;   /* step row-sparse parameters densely */
};

void fr_optimizer_set_dense_rows(fr_optimizer *o, int dense)
{
    o->dense_rows = dense != 0;
}

const char *fr_optim_kind_name(fr_optim_kind kind)
{
    switch (kind) {
    case FR_OPTIM_SGD: return "sgd";
    case FR_OPTIM_ADAM: return "adam";
    case FR_OPTIM_ADAMW: return "adamw";
    }
    return "unknown";
}

fr_status fr_optim_kind_parse(const char *name, fr_optim_kind *kind)
{
    for (int k = FR_OPTIM_SGD; k <= FR_OPTIM_ADAMW; k++)
        if (!strcmp(name, fr_optim_kind_name((fr_optim_kind)k))) {
            *kind = (fr_optim_kind)k;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID, "optimiser '%s': expected sgd, adam or adamw", name);
}

fr_status fr_optimizer_create(fr_param_set *ps, fr_optim_kind kind, float lr,
                              float weight_decay, fr_optimizer **out)
{
    *out = NULL;
    if ((unsigned)kind > FR_OPTIM_ADAMW)
        return fr_fail(FR_ERR_INVALID, "optimiser kind %d: expected sgd, adam or adamw", (int)kind);
    if (!(lr > 0.0f) || !(weight_decay >= 0.0f))
        return fr_fail(FR_ERR_INVALID, "optimiser: lr %g must be > 0 and weight decay %g >= 0",
                       lr, weight_decay);
    fr_optimizer *o = calloc(1, sizeof *o);
    if (!o)
        return fr_fail_nomem("optimiser", sizeof *o);
    o->ps = ps;
    o->kind = kind;
    o->lr = lr;
    o->weight_decay = weight_decay;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    *out = o;
    return FR_OK;
}

void fr_optimizer_free(fr_optimizer *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n_state; i++) {
        fr_buffer_free(o->state[i].m);
        fr_buffer_free(o->state[i].v);
        fr_buffer_free(o->state[i].dense_grad);
    }
    free(o->state);
    free(o);
}

fr_status fr_optimizer_set_adam(fr_optimizer *o, float beta1, float beta2, float eps)
{
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps > 0))
        return fr_fail(FR_ERR_INVALID, "Adam: need 0 <= beta1, beta2 < 1 and eps > 0 (got %g, %g, %g)",
                       beta1, beta2, eps);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    return FR_OK;
}

int64_t fr_optimizer_steps(const fr_optimizer *o)
{
    return o->steps;
}

static fr_status moments_for(fr_optimizer *o, fr_backend *be, size_t i,
                             const fr_param *p, moments **out)
{
    if (i >= o->n_state) {
        size_t n = fr_param_set_count(o->ps);
        moments *ns = realloc(o->state, n * sizeof *ns);
        if (!ns)
            return fr_fail_nomem("optimiser state", n * sizeof *ns);
        for (size_t k = o->n_state; k < n; k++)
            ns[k].m = ns[k].v = ns[k].dense_grad = NULL;
        o->state = ns;
        o->n_state = n;
    }
    moments *st = &o->state[i];
    if (!st->m) {
        size_t bytes = p->rows * p->cols * sizeof(float);
        FR_TRY(fr_buffer_alloc_zero(be, bytes ? bytes : 4, &st->m));
        FR_TRY(fr_buffer_alloc_zero(be, bytes ? bytes : 4, &st->v));
    }
    *out = st;
    return FR_OK;
}

fr_status fr_optimizer_step(fr_optimizer *o)
{
    fr_backend *be = fr_param_set_backend(o->ps);
    o->steps++;
    for (size_t i = 0; i < fr_param_set_count(o->ps); i++) {
        fr_param *p = fr_param_set_at(o->ps, i);
        if (!p->trainable)
            continue;
        float lr = o->lr * p->lr_scale;
        size_t n = p->rows * p->cols;
        fr_view w = fr_view_of(p->value, 0), g = fr_view_of(p->grad, 0);
        int sparse = p->row_sparse && !o->dense_rows;
        if (sparse && p->n_touched == 0)
            continue;
        if (p->row_sparse && !sparse) {
            /* Spread the compact rows over a zeroed table-sized gradient. */
            moments *st = NULL;
            FR_TRY(moments_for(o, be, i, p, &st));
            if (!st->dense_grad)
                FR_TRY(fr_buffer_alloc_zero(be, n * sizeof(float), &st->dense_grad));
            fr_view dg = fr_view_of(st->dense_grad, 0);
            FR_TRY(fr_fill(be, n, 0.0f, dg));
            if (p->n_touched)
                FR_TRY(fr_embedding_scatter_add(be, p->n_touched, p->cols, g, fr_view_of(p->touched_dev, 0), dg));
            g = dg;
        }
        if (o->kind == FR_OPTIM_SGD) {
            if (sparse) {
                FR_TRY(fr_sgd_rows(be, p->n_touched, p->cols, fr_view_of(p->touched_dev, 0), g, w,
                                   lr, o->weight_decay));
            } else {
                if (o->weight_decay > 0.0f)
                    FR_TRY(fr_scal(be, n, 1.0f - lr * o->weight_decay, w));
                FR_TRY(fr_axpy(be, n, -lr, g, w));
            }
            continue;
        }
        moments *st = NULL;
        FR_TRY(moments_for(o, be, i, p, &st));
        fr_adam_step h = {lr, o->beta1, o->beta2, o->eps, o->weight_decay,
                          o->kind == FR_OPTIM_ADAMW, o->steps};
        if (sparse)
            FR_TRY(fr_adam_rows(be, p->n_touched, p->cols, fr_view_of(p->touched_dev, 0), g, w,
                                fr_view_of(st->m, 0), fr_view_of(st->v, 0), &h));
        else
            FR_TRY(fr_adam(be, n, g, w, fr_view_of(st->m, 0), fr_view_of(st->v, 0), &h));
    }
    return FR_OK;
}

fr_status fr_optimizer_moments(const fr_optimizer *o, const fr_param *p,
                               fr_buffer **m, fr_buffer **v)
{
    *m = *v = NULL;
    for (size_t i = 0; i < fr_param_set_count(o->ps); i++) {
        if (fr_param_set_at(o->ps, i) != p)
            continue;
        if (i < o->n_state) {
            *m = o->state[i].m;
            *v = o->state[i].v;
        }
        return FR_OK;
    }
    return fr_fail(FR_ERR_INVALID, "optimiser moments: parameter '%s' is not in the optimiser's set",
                   p && p->name ? p->name : "(null)");
}

fr_status fr_optimizer_set_steps(fr_optimizer *o, int64_t steps)
{
    if (steps < 0)
        return fr_fail(FR_ERR_INVALID, "optimiser: step count %lld, expected >= 0", (long long)steps);
    o->steps = steps;
    return FR_OK;
}

fr_status fr_optimizer_moments_alloc(fr_optimizer *o, const fr_param *p, fr_buffer **m, fr_buffer **v)
{
    *m = *v = NULL;
    if (o->kind == FR_OPTIM_SGD)
        return fr_fail(FR_ERR_INVALID, "optimiser moments: SGD keeps none");
    for (size_t i = 0; i < fr_param_set_count(o->ps); i++) {
        if (fr_param_set_at(o->ps, i) != p)
            continue;
        if (!p->trainable)
            return fr_fail(FR_ERR_INVALID, "optimiser moments: parameter '%s' is not trained", p->name);
        moments *st = NULL;
        FR_TRY(moments_for(o, fr_param_set_backend(o->ps), i, p, &st));
        *m = st->m;
        *v = st->v;
        return FR_OK;
    }
    return fr_fail(FR_ERR_INVALID, "optimiser moments: parameter '%s' is not in the optimiser's set",
                   p && p->name ? p->name : "(null)");
}
