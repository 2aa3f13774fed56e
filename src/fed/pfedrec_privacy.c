/* pfedrec_privacy.c — the rating engine's privacy options (fedrec/pfedrec.h,
 * doc/PRIVACY.md): a client's local Laplace noise on its upload, the
 * server's Gaussian noise of DP-FedAvg and its accounting, and secure
 * aggregation of the round's updates through pairwise masks; and the
 * check that these options fit each other and the aggregator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/pfedrec_internal.h"
#include "fedrec/privacy.h"
#include "fedrec/rng.h"

fr_status fr_pf_privacy_check(const fr_pfedrec_options *o)
{
    if (!(o->local_noise >= 0) || !isfinite(o->local_noise) || !(o->dp_noise >= 0) || !isfinite(o->dp_noise))
        return fr_fail(FR_ERR_INVALID, "rating engine: local_noise and dp_noise must be finite and >= 0");
    int federated = o->algorithm != FR_ALGO_CENTRAL_MF;
    if ((o->local_noise > 0 || o->dp_noise > 0 || o->secure_agg) && !federated)
        return fr_fail(FR_ERR_INVALID, "centralised MF has no clients: local noise, DP and secure aggregation are for the federated algorithms");
    if (o->dp_noise > 0) {
        if (!(o->clip_norm > 0))
            return fr_fail(FR_ERR_INVALID, "DP-FedAvg needs the clipping bound C (fed.clip_norm > 0): the noise is dp_noise x C");
        if (o->weighted || o->share_score)
            return fr_fail(FR_ERR_INVALID, "DP-FedAvg: not with a sample-weighted mean or a shared score function (the clip does not bound their influence)");
        if (!(o->dp_delta > 0 && o->dp_delta < 1))
            return fr_fail(FR_ERR_INVALID, "DP-FedAvg: delta must be in (0, 1), got %g", o->dp_delta);
    }
    if ((unsigned)o->aggregator > FR_AGG_TRIMMED_MEAN || !(o->trim >= 0 && o->trim < 0.5))
        return fr_fail(FR_ERR_INVALID, "rating engine: unknown aggregator %d or trim %g outside [0, 0.5)", (int)o->aggregator,
                       o->trim);
    if (o->aggregator != FR_AGG_MEAN && (o->weighted || o->dp_noise > 0 || o->secure_agg || !federated))
        return fr_fail(FR_ERR_INVALID, "robust aggregation (median, trimmed mean): not with a sample-weighted mean, DP or secure aggregation (they need the sum), nor for centralised MF");
    if (o->secure_agg && o->share_score)
        return fr_fail(FR_ERR_INVALID, "secure aggregation: not with a shared score function (the server averages the score functions in the clear)");
    if (o->secure_agg && o->secure_neighbours < 1)
        return fr_fail(FR_ERR_INVALID, "secure aggregation: needs at least 1 neighbour on each side");
    return FR_OK;
}

void fr_pf_local_noise(const fr_pfedrec *p, size_t u, client_out *out)
{
    double lambda = p->o.local_noise;
    fr_rng rng;
    fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)u, FR_RNG_LOCAL_NOISE);
    for (size_t i = 0, n = out->n_rows * p->dim; i < n; i++) {
        /* Laplace by inversion: u in (-1/2, 1/2), x = -lambda sgn(u) log(1 - 2|u|). */
        double v = fr_rng_uniform_double(&rng) - 0.5;
        double x = v < 0 ? lambda * log1p(2 * v) : -lambda * log1p(-2 * v);
        out->delta[i] += (float)x;
    }
}

void fr_pf_dp_noise(fr_pfedrec *p)
{
    size_t d = p->dim;
    /* The noise on the sum, divided like the sum by the sample size. */
    double sd = p->o.dp_noise * p->o.clip_norm / (double)p->n_sampled;
    fr_rng rng;
    for (size_t r = 0; r < p->n_items; r++) {
        fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)r, FR_RNG_DP_NOISE);
        for (size_t c = 0; c < d; c++)
            p->items[r * d + c] += (float)(sd * fr_rng_normal(&rng));
    }
    if (p->shared) {
        fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)p->n_items, FR_RNG_DP_NOISE);
        for (size_t i = 0; i < p->n_shared; i++)
            p->shared[i] += (float)(sd * fr_rng_normal(&rng));
    }
}

fr_status fr_pf_dp_epsilon(const fr_pfedrec *p, unsigned rounds, double *epsilon)
{
    double q = (double)p->n_sampled / (double)p->n_users;
    return fr_dp_epsilon(q, p->o.dp_noise, rounds, p->o.dp_delta, epsilon, NULL);
}

/* Secure aggregation: every participant's update (item table and FedNCF
 * layers, dense, times its weight's numerator) masked; the tasks each add
 * the masked vectors of their share of the participants into their own
 * sum (integer sums do not depend on order), then the sums are added and
 * decoded once. */
typedef struct secagg_job {
    fr_pfedrec *p;
    fr_secagg sa;
    const size_t *index;      /* participant j's index into outs */
    size_t n_tasks, len;
    uint64_t *sums;           /* n_tasks x len */
} secagg_job;

static fr_status secagg_task(void *arg, size_t task)
{
    secagg_job *job = arg;
    fr_pfedrec *p = job->p;
    size_t d = p->dim, len = job->len, items_len = p->n_items * d;
    float *x = malloc(len * sizeof *x);
    uint64_t *masked = malloc(len * sizeof *masked);
    uint64_t *sum = job->sums + task * len;
    fr_status s = x && masked ? FR_OK : fr_fail_nomem("secure aggregation", len * 12);
    for (size_t j = task; s == FR_OK && j < job->sa.n_clients; j += job->n_tasks) {
        const client_out *o = &p->outs[job->index[j]];
        float weight = p->o.weighted ? (float)o->samples : 1.0f;
        memset(x, 0, len * sizeof *x);
        for (size_t r = 0; r < o->n_rows; r++)
            for (size_t c = 0; c < d; c++)
                x[(size_t)o->rows[r] * d + c] = weight * o->delta[r * d + c];
        for (size_t i = 0; p->shared && i < p->n_shared; i++)
            x[items_len + i] = weight * o->shared_delta[i];
        s = fr_secagg_mask(&job->sa, j, x, len, masked);
        if (s == FR_OK)
            fr_secagg_add(sum, masked, len);
    }
    free(x);
    free(masked);
    return s;
}

fr_status fr_pf_secure_aggregate(fr_pfedrec *p, double total_samples, size_t participants)
{
    size_t d = p->dim, len = p->n_items * d + p->n_shared;
    size_t tasks = (size_t)fr_cpu_engine_threads(p->engine);
    if (tasks > participants)
        tasks = participants;
    if (tasks == 0)
        return FR_OK;
    int32_t *ids = malloc(participants * sizeof *ids);
    size_t *index = malloc(participants * sizeof *index);
    uint64_t *sums = calloc(tasks * len, sizeof *sums);
    float *mean = malloc(len * sizeof *mean);
    fr_status s = ids && index && sums && mean ? FR_OK : fr_fail_nomem("secure aggregation", tasks * len * 8);
    size_t n = 0;
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++)
        if (fr_pf_participates(&p->outs[k])) {
            ids[n] = p->sampled[k];
            index[n++] = k;
        }
    if (s == FR_OK) {
        secagg_job job = {p, {p->o.seed, p->round + 1, ids, n, p->o.secure_neighbours}, index, tasks, len, sums};
        s = fr_cpu_parallel_try(p->engine, tasks, secagg_task, &job);
        for (size_t t = 1; s == FR_OK && t < tasks; t++)
            fr_secagg_add(sums, sums + t * len, len);
    }
    if (s == FR_OK) {
        double scale = p->o.weighted ? 1.0 / total_samples
                     : p->o.dp_noise > 0 ? 1.0 / (double)p->n_sampled
                                         : 1.0 / (double)participants;
        fr_secagg_decode(sums, len, scale, mean);
        for (size_t i = 0; i < p->n_items * d; i++)
            p->items[i] += mean[i];
        for (size_t i = 0; p->shared && i < p->n_shared; i++)
            p->shared[i] += mean[p->n_items * d + i];
    }
    free(ids);
    free(index);
    free(sums);
    free(mean);
    return s;
}
