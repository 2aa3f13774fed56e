/* fed_privacy.c — the federation core's privacy (fedrec/fed.h,
 * doc/PRIVACY.md): a client's local Laplace noise on its upload, the
 * server's Gaussian noise of DP-FedAvg and its accounting, and secure
 * aggregation of the round's updates through pairwise masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"
#include "fedrec/privacy.h"
#include "fedrec/rng.h"

void fr_fed_local_noise(const fr_fed *p, size_t u, fr_fed_upload *out)
{
    double lambda = p->o.local_noise;
    fr_rng rng;
    fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)u, FR_RNG_LOCAL_NOISE);
    for (size_t i = 0, n = out->n_rows * p->st.width; i < n; i++) {
        /* Laplace by inversion: u in (-1/2, 1/2), x = -lambda sgn(u) log(1 - 2|u|). */
        double v = fr_rng_uniform_double(&rng) - 0.5;
        double x = v < 0 ? lambda * log1p(2 * v) : -lambda * log1p(-2 * v);
        out->delta[i] += (float)x;
    }
}

void fr_fed_dp_noise(fr_fed *p)
{
    size_t d = p->st.width;
    /* The noise on the sum, divided like the sum by the sample size. */
    double sd = p->o.dp_noise * p->o.clip_norm / (double)p->n_sampled;
    fr_rng rng;
    for (size_t r = 0; r < p->st.n_rows; r++) {
        fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)r, FR_RNG_DP_NOISE);
        for (size_t c = 0; c < d; c++)
            p->st.table[r * d + c] += (float)(sd * fr_rng_normal(&rng));
    }
    if (p->st.dense) {
        fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)p->st.n_rows, FR_RNG_DP_NOISE);
        for (size_t i = 0; i < p->st.n_dense; i++)
            p->st.dense[i] += (float)(sd * fr_rng_normal(&rng));
    }
}

fr_status fr_fed_dp_epsilon(const fr_fed *p, unsigned rounds, double *epsilon)
{
    double q = (double)p->n_sampled / (double)p->n_clients;
    return fr_dp_epsilon(q, p->o.dp_noise, rounds, p->o.dp_delta, epsilon, NULL);
}

/* Secure aggregation: every participant's update (item table and FedNCF
 * layers, dense, times its weight's numerator) masked; the tasks each add
 * the masked vectors of their share of the participants into their own
 * sum (integer sums do not depend on order), then the sums are added and
 * decoded once. */
typedef struct secagg_job {
    fr_fed *p;
    fr_secagg sa;
    const size_t *index;      /* participant j's index into outs */
    size_t n_tasks, len;
    uint64_t *sums;           /* n_tasks x len */
} secagg_job;

static fr_status secagg_task(void *arg, size_t task)
{
    secagg_job *job = arg;
    fr_fed *p = job->p;
    size_t d = p->st.width, len = job->len, items_len = p->st.n_rows * d;
    float *x = malloc(len * sizeof *x);
    uint64_t *masked = malloc(len * sizeof *masked);
    uint64_t *sum = job->sums + task * len;
    fr_status s = x && masked ? FR_OK : fr_fail_nomem("secure aggregation", len * 12);
    for (size_t j = task; s == FR_OK && j < job->sa.n_clients; j += job->n_tasks) {
        const fr_fed_upload *o = &p->outs[job->index[j]];
        float weight = p->o.weighted ? (float)o->samples : 1.0f;
        memset(x, 0, len * sizeof *x);
        for (size_t r = 0; r < o->n_rows; r++)
            for (size_t c = 0; c < d; c++)
                x[(size_t)o->rows[r] * d + c] = weight * o->delta[r * d + c];
        for (size_t i = 0; p->st.dense && i < p->st.n_dense; i++)
            x[items_len + i] = weight * o->dense_delta[i];
        s = fr_secagg_mask(&job->sa, j, x, len, masked);
        if (s == FR_OK)
            fr_secagg_add(sum, masked, len);
    }
    free(x);
    free(masked);
    return s;
}

fr_status fr_fed_secure_aggregate(fr_fed *p, double total_samples, size_t participants)
{
    size_t d = p->st.width, len = p->st.n_rows * d + p->st.n_dense;
    size_t tasks = (size_t)fr_pool_threads(p->pool);
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
        if (fr_fed_participates(&p->outs[k])) {
            ids[n] = p->sampled[k];
            index[n++] = k;
        }
    if (s == FR_OK) {
        secagg_job job = {p, {p->o.seed, p->round + 1, ids, n, p->o.secure_neighbours}, index, tasks, len, sums};
        s = fr_pool_try(p->pool, tasks, secagg_task, &job);
        for (size_t t = 1; s == FR_OK && t < tasks; t++)
            fr_secagg_add(sums, sums + t * len, len);
    }
    if (s == FR_OK) {
        double scale = p->o.weighted ? 1.0 / total_samples
                     : p->o.dp_noise > 0 ? 1.0 / (double)p->n_sampled
                                         : 1.0 / (double)participants;
        fr_secagg_decode(sums, len, scale, mean);
        for (size_t i = 0; i < p->st.n_rows * d; i++)
            p->st.table[i] += mean[i];
        for (size_t i = 0; p->st.dense && i < p->st.n_dense; i++)
            p->st.dense[i] += mean[p->st.n_rows * d + i];
    }
    free(ids);
    free(index);
    free(sums);
    free(mean);
    return s;
}
