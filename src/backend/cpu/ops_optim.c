/* ops_optim.c — sparse SGD and lazy Adam row updates and dense Adam/AdamW
 * on host pointers (formulas in cpu_ops.h). Row updates split over
 * threads by owner, like scatter-add: row ids are meant to be distinct,
 * but a repeated id then still updates in list order on one thread
 * instead of racing. */
#include <math.h>

#include "backend/cpu/cpu_ops.h"

typedef struct optim_args {
    size_t n_rows, dim;
    const int32_t *rows; /* NULL: dense */
    const float *grad;
    float *param, *m, *v;
    float lr, weight_decay;      /* SGD */
    const fr_adam_step *h;       /* Adam */
    float bc1, bc2;              /* Adam bias corrections */
} optim_args;

static void sgd_owner(void *p, size_t task, size_t tasks)
{
    const optim_args *o = p;
    for (size_t i = 0; i < o->n_rows; i++) {
        size_t r = (size_t)o->rows[i];
        if (r % tasks != task)
            continue;
        float *w = o->param + r * o->dim;
        const float *g = o->grad + i * o->dim;
        for (size_t d = 0; d < o->dim; d++)
            w[d] -= o->lr * (g[d] + o->weight_decay * w[d]);
    }
}

static size_t work_of(size_t n, size_t dim)
{
    return dim && n > (size_t)-1 / dim ? (size_t)-1 : n * dim;
}

void fr_cpu_sgd_rows(fr_cpu_engine *e, size_t n_rows, size_t dim, const int32_t *rows,
                     const float *grad, float *param, float lr, float weight_decay)
{
    optim_args o = {.n_rows = n_rows, .dim = dim, .rows = rows, .grad = grad, .param = param,
                    .lr = lr, .weight_decay = weight_decay};
    fr_cpu_ops_owners(e, work_of(n_rows, dim), FR_CPU_GRAIN_LIGHT, sgd_owner, &o);
}

/* One Adam step over n contiguous values. */
static void adam_span(size_t n, const float *g, float *w, float *m, float *v,
                      const fr_adam_step *h, float bc1, float bc2)
{
    for (size_t d = 0; d < n; d++) {
        float w_old = w[d];
        float gd = h->decoupled ? g[d] : g[d] + h->weight_decay * w_old;
        m[d] = h->beta1 * m[d] + (1.0f - h->beta1) * gd;
        v[d] = h->beta2 * v[d] + (1.0f - h->beta2) * gd * gd;
        float mhat = m[d] / bc1, vhat = v[d] / bc2;
        w[d] = w_old - h->lr * mhat / (sqrtf(vhat) + h->eps);
        if (h->decoupled)
            w[d] -= h->lr * h->weight_decay * w_old;
    }
}

static void bias_corrections(const fr_adam_step *h, float *bc1, float *bc2)
{
    /* In double: beta2^t for t in the thousands needs the precision. */
    *bc1 = (float)(1.0 - pow(h->beta1, (double)h->step));
    *bc2 = (float)(1.0 - pow(h->beta2, (double)h->step));
}

static void adam_rows_owner(void *p, size_t task, size_t tasks)
{
    const optim_args *o = p;
    for (size_t i = 0; i < o->n_rows; i++) {
        size_t r = (size_t)o->rows[i];
        if (r % tasks != task)
            continue;
        size_t at = r * o->dim;
        adam_span(o->dim, o->grad + i * o->dim, o->param + at, o->m + at, o->v + at, o->h,
                  o->bc1, o->bc2);
    }
}

void fr_cpu_adam_rows(fr_cpu_engine *e, size_t n_rows, size_t dim, const int32_t *rows,
                      const float *grad, float *param, float *m, float *v,
                      const fr_adam_step *h)
{
    optim_args o = {.n_rows = n_rows, .dim = dim, .rows = rows, .grad = grad, .param = param,
                    .m = m, .v = v, .h = h};
    bias_corrections(h, &o.bc1, &o.bc2);
    fr_cpu_ops_owners(e, work_of(n_rows, dim), FR_CPU_GRAIN_HEAVY, adam_rows_owner, &o);
}

static void adam_range(void *p, size_t i0, size_t i1)
{
    const optim_args *o = p;
    adam_span(i1 - i0, o->grad + i0, o->param + i0, o->m + i0, o->v + i0, o->h, o->bc1, o->bc2);
}

void fr_cpu_adam(fr_cpu_engine *e, size_t n, const float *grad, float *param, float *m,
                 float *v, const fr_adam_step *h)
{
    optim_args o = {.grad = grad, .param = param, .m = m, .v = v, .h = h};
    bias_corrections(h, &o.bc1, &o.bc2);
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_HEAVY, adam_range, &o);
}
