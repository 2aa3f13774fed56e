/* rating_central.c — centralised MF, the upper reference of the rating
 * engine (see fedrec/pfedrec.h): FedMF's model with every user's data in
 * one place. A round is one epoch: each user's positives and negatives are
 * drawn exactly as a client would draw them that round (same streams),
 * pooled, shuffled together (stream (seed, round + 1, 0xFFFFFFFF,
 * SHUFFLE)) and fed in batches; each batch steps the user and item rows it
 * touched with lazy Adam (moments of untouched rows stay as they are, like
 * PyTorch's SparseAdam). Then every user is evaluated with the new model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/progress_call.h"
#include "rec/rating.h"
#include "fedrec/rng.h"

fr_status fr_pf_central_alloc(fr_rating *p)
{
    size_t nu = p->n_users, ni = p->n_items, d = p->dim;
    p->m_users = calloc(nu * d, sizeof(float));
    p->v_users = calloc(nu * d, sizeof(float));
    p->m_items = calloc(ni * d, sizeof(float));
    p->v_items = calloc(ni * d, sizeof(float));
    p->pool_start = malloc((nu + 1) * sizeof *p->pool_start);
    if (!p->m_users || !p->v_users || !p->m_items || !p->v_items || !p->pool_start)
        return fr_fail_nomem("centralised MF state", 2 * (nu + ni) * d * 4);
    p->pool_start[0] = 0;
    for (size_t u = 0; u < nu; u++)
        p->pool_start[u + 1] = p->pool_start[u] + fr_pf_samples_of(p, u);
    size_t total = p->pool_start[nu];
    p->pool_user = malloc((total ? total : 1) * sizeof *p->pool_user);
    p->pool_item = malloc((total ? total : 1) * sizeof *p->pool_item);
    p->pool_label = malloc((total ? total : 1) * sizeof *p->pool_label);
    if (!p->pool_user || !p->pool_item || !p->pool_label)
        return fr_fail_nomem("centralised MF samples", total * 12);
    return FR_OK;
}

/* Draw (task = a range of users) or evaluate, in parallel over users. */
typedef struct central_job {
    fr_rating *p;
    size_t chunk;
    int evaluate;
    double seconds[FR_RATING_MAX_TASKS * 8];
} central_job;

static fr_status central_users(void *arg, size_t task)
{
    central_job *job = arg;
    fr_rating *p = job->p;
    double t0 = fr_clock_seconds();
    size_t begin = task * job->chunk, end = begin + job->chunk;
    if (end > p->n_users)
        end = p->n_users;
    scratch s;
    fr_status st = fr_pf_scratch_init(&s, p);
    if (st != FR_OK)
        return st;
    for (size_t u = begin; st == FR_OK && u < end; u++) {
        if (job->evaluate) {
            fr_pf_evaluate(p, &s, u, p->w + u * p->dim, 0.0f);
            continue;
        }
        size_t n = 0;
        st = fr_pf_draw_samples(p, &s, u, &n);
        if (st != FR_OK)
            break;
        size_t at = p->pool_start[u];
        for (size_t k = 0; k < n; k++) {
            p->pool_user[at + k] = (int32_t)u;
            p->pool_item[at + k] = s.sample_item[k];
            p->pool_label[at + k] = s.sample_label[k];
        }
    }
    fr_pf_scratch_free(&s); /* a failed draw too */
    job->seconds[task] = fr_clock_seconds() - t0;
    return st;
}

static fr_status for_all_users(fr_rating *p, int evaluate, double *seconds)
{
    central_job *job = calloc(1, sizeof *job);
    if (!job)
        return fr_fail_nomem("centralised MF", sizeof *job);
    size_t tasks_max = FR_RATING_MAX_TASKS * 8;
    size_t want = 8 * (size_t)fr_host_threads(p->host);
    if (want > tasks_max)
        want = tasks_max;
    job->p = p;
    job->evaluate = evaluate;
    job->chunk = (p->n_users + want - 1) / want;
    if (job->chunk == 0)
        job->chunk = 1;
    size_t tasks = (p->n_users + job->chunk - 1) / job->chunk;
    fr_status st = fr_host_parallel_try(p->host, tasks, central_users, job);
    for (size_t t = 0; t < tasks; t++)
        *seconds += job->seconds[t];
    free(job);
    return st;
}

/* Dense slot of a row in the batch's gradient list, added on first use. */
static size_t slot_of(int32_t *slot, int32_t row, int32_t *rows, size_t *n_rows, float *grad,
                      size_t d)
{
    if (slot[row] < 0) {
        slot[row] = (int32_t)*n_rows;
        rows[*n_rows] = row;
        memset(grad + *n_rows * d, 0, d * sizeof *grad);
        ++*n_rows;
    }
    return (size_t)slot[row];
}

fr_status fr_pf_central_epoch(fr_rating *p, fr_pfedrec_round *out)
{
    size_t d = p->dim, total = p->pool_start[p->n_users], batch = p->o.batch;
    FR_TRY(for_all_users(p, 0, &out->t_negatives));
    double t0 = fr_clock_seconds();
    fr_rng rng;
    fr_rng_init(&rng, p->o.seed, p->round + 1, 0xFFFFFFFFu, FR_RNG_SHUFFLE);
    for (size_t i = total; i > 1; i--) {
        size_t j = fr_rng_below(&rng, (uint32_t)i);
        int32_t tu = p->pool_user[i - 1], ti = p->pool_item[i - 1];
        float tl = p->pool_label[i - 1];
        p->pool_user[i - 1] = p->pool_user[j];
        p->pool_item[i - 1] = p->pool_item[j];
        p->pool_label[i - 1] = p->pool_label[j];
        p->pool_user[j] = tu;
        p->pool_item[j] = ti;
        p->pool_label[j] = tl;
    }
    int32_t *user_slot = malloc(p->n_users * sizeof *user_slot);
    int32_t *item_slot = malloc(p->n_items * sizeof *item_slot);
    int32_t *urows = malloc(batch * sizeof *urows), *irows = malloc(batch * sizeof *irows);
    float *ugrad = malloc(batch * d * sizeof *ugrad), *igrad = malloc(batch * d * sizeof *igrad);
    if (!user_slot || !item_slot || !urows || !irows || !ugrad || !igrad) {
        free(user_slot);
        free(item_slot);
        free(urows);
        free(irows);
        free(ugrad);
        free(igrad);
        return fr_fail_nomem("centralised MF batch", batch * d * 8);
    }
    memset(user_slot, 0xff, p->n_users * sizeof *user_slot);
    memset(item_slot, 0xff, p->n_items * sizeof *item_slot);
    const fr_host_vec *k = fr_host_vec_of(p->host);
    fr_adam_step h = {.lr = p->o.central_lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    fr_pf_loss loss;
    fr_pf_loss_init(&loss);
    size_t batches = (total + batch - 1) / batch;
    for (size_t at = 0; at < total; at += batch) {
        size_t m = total - at < batch ? total - at : batch, nu = 0, ni = 0;
        for (size_t j = at; j < at + m; j++) {
            int32_t u = p->pool_user[j], i = p->pool_item[j];
            float *wu = p->w + (size_t)u * d, *ei = p->items + (size_t)i * d;
            float y = p->pool_label[j];
            float g = (fr_pf_sigmoid_bce(k->dot(d, wu, ei), y, &loss) - y) / (float)m;
            size_t su = slot_of(user_slot, u, urows, &nu, ugrad, d);
            size_t si = slot_of(item_slot, i, irows, &ni, igrad, d);
            k->axpy(d, g, ei, ugrad + su * d);
            k->axpy(d, g, wu, igrad + si * d);
        }
        h.step = (int64_t)++p->adam_step;
        fr_host_adam_rows(p->host, nu, d, urows, ugrad, p->w, p->m_users, p->v_users, &h);
        fr_host_adam_rows(p->host, ni, d, irows, igrad, p->items, p->m_items, p->v_items, &h);
        for (size_t r = 0; r < nu; r++)
            user_slot[urows[r]] = -1;
        for (size_t r = 0; r < ni; r++)
            item_slot[irows[r]] = -1;
        fr_progress_call(&p->o.progress, FR_PROGRESS_TRAIN, "batch", at / batch + 1, batches);
    }
    free(user_slot);
    free(item_slot);
    free(urows);
    free(irows);
    free(ugrad);
    free(igrad);
    out->t_train = fr_clock_seconds() - t0;
    out->train_loss = total ? fr_pf_loss_total(&loss) / (double)total : 0.0;
    /* Every user's data is in the model: a "round" of all clients, all
     * of them taken in (the rating jobs' report and summary read these). */
    out->clients = out->participants = out->trained_here = p->n_users;
    out->aggregated = 1;
    if (!isfinite(out->train_loss))
        return fr_fail(FR_ERR_NUMERIC, "centralised MF epoch %u: training loss is %g (learning rate too high?)",
                       p->round, out->train_loss);
    return p->skip_eval ? FR_OK : for_all_users(p, 1, &out->t_eval); /* train.eval_every */
}
