/* rating.c — the MF family's model: its state, its initialisation, its
 * figures, and the client interface the federation core drives
 * (fedrec/fed_client.h). One client's round is rating_client.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "rec/rating.h"
#include "rec/rating_cohort.h"
#include "fedrec/rng.h"

void fr_rating_free(fr_rating *p)
{
    if (!p)
        return;
    fr_rating_cohort_free(p->cohort);
    fr_host_free(p->host);
    free(p->owned_items);
    free(p->w);
    free(p->b);
    free(p->val_hr);
    free(p->item_group);
    free(p->val_ndcg);
    free(p->test_hr);
    free(p->test_ndcg);
    free(p->m_users);
    free(p->v_users);
    free(p->m_items);
    free(p->v_items);
    free(p->pool_user);
    free(p->pool_item);
    free(p->pool_label);
    free(p->pool_start);
    fr_pf_keep_free(p);
    free(p);
}

fr_status fr_rating_create(const fr_loo_split *split, const fr_pfedrec_options *o, fr_rating **out)
{
    *out = NULL;
    fr_rating *p = calloc(1, sizeof *p);
    if (!p)
        return fr_fail_nomem("rating model", sizeof *p);
    p->split = split;
    p->o = *o;
    p->o.job_fingerprint = NULL; /* the job's, not the model's */
    p->n_users = split->n_users;
    p->n_items = split->n_items;
    p->dim = o->algorithm == FR_ALGO_FEDNCF ? 2 * o->dim : o->dim;
    p->n_shared = o->algorithm == FR_ALGO_FEDNCF ? fr_ncf_shared_count(o) : 0;
    size_t nu = p->n_users, d = p->dim;
    p->w = malloc(nu * d * sizeof *p->w);
    p->b = malloc(nu * sizeof *p->b);
    p->val_hr = calloc(nu, sizeof(double));
    p->val_ndcg = calloc(nu, sizeof(double));
    p->test_hr = calloc(nu, sizeof(double));
    p->test_ndcg = calloc(nu, sizeof(double));
    p->item_group = malloc(p->n_items ? p->n_items : 1);
    if (o->algorithm == FR_ALGO_CENTRAL_MF)
        p->items = p->owned_items = malloc(p->n_items * d * sizeof *p->items);
    if (!p->w || !p->b || !p->val_hr || !p->val_ndcg || !p->test_hr || !p->test_ndcg || !p->item_group ||
        (o->algorithm == FR_ALGO_CENTRAL_MF && !p->owned_items)) {
        size_t bytes = (p->n_items + nu) * d * sizeof(float); /* p is gone after the free */
        fr_rating_free(p);
        return fr_fail_nomem("rating model", bytes);
    }
    _Static_assert(FR_FED_GROUPS <= 256, "an item's upload group is kept in a byte");
    for (size_t i = 0; i < p->n_items; i++)
        p->item_group[i] = (uint8_t)fr_fed_group_of(i, p->n_items);
    fr_status s = FR_OK;
    if (o->algorithm == FR_ALGO_CENTRAL_MF)
        s = fr_pf_central_alloc(p);
    if (s == FR_OK)
        s = fr_host_create((fr_cpu_isa)o->cpu_isa, o->threads, &p->host);
    if (s != FR_OK) {
        fr_rating_free(p);
        return s;
    }
    p->k = fr_host_vec_of(p->host);
    if (o->backend && (s = fr_rating_cohort_create(p, o->backend, &p->cohort)) != FR_OK) {
        fr_rating_free(p);
        return s;
    }
    *out = p;
    return FR_OK;
}

fr_status fr_rating_init(fr_rating *p)
{
    const fr_pfedrec_options *o = &p->o;
    size_t nu = p->n_users, d = p->dim;
    if (p->shared)
        fr_ncf_init_shared(o, p->shared);
    /* Item table N(0, 1); score functions U(-1/sqrt(d), 1/sqrt(d)) like
     * PyTorch's nn.Linear default. */
    fr_rng rng;
    fr_rng_init(&rng, o->seed, 0, FR_PF_ITEMS_INIT_STREAM, FR_RNG_INIT);
    for (size_t i = 0; i < p->n_items * d; i++)
        p->items[i] = fr_rng_normal(&rng);
    float bound = 1.0f / sqrtf((float)d);
    if (o->algorithm == FR_ALGO_PFEDREC) {
        /* One score function, drawn once from its own stream and copied to
         * every client, as the reference deep-copies the server's one
         * initial model into each client: with a common w every client
         * pushes its positives' rows the same way, so the first rounds'
         * mean item table holds a direction every client can read
         * (separate draws cancel out in the mean; spec, "Model"). */
        fr_rng_init(&rng, o->seed, 0, FR_PF_SCORE_INIT_STREAM, FR_RNG_INIT);
        for (size_t c = 0; c < d; c++)
            p->w[c] = (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
        p->b[0] = (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
        for (size_t u = 1; u < nu; u++) {
            memcpy(p->w + u * d, p->w, d * sizeof *p->w);
            p->b[u] = p->b[0];
        }
    } else {
        /* FedMF / FedNCF / centralised MF: a user embedding is the user's
         * own row, drawn per user (no bias). */
        for (size_t u = 0; u < nu; u++) {
            fr_rng_init(&rng, o->seed, 0, (uint32_t)u, FR_RNG_INIT);
            for (size_t c = 0; c < d; c++)
                p->w[u * d + c] = (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
            p->b[u] = 0.0f;
        }
    }
    /* Every client starts evaluated with the initial model. */
    scratch sc;
    FR_TRY(fr_pf_scratch_init(&sc, p));
    for (size_t u = 0; u < nu; u++)
        fr_pf_evaluate(p, &sc, u, p->w + u * d, p->b[u]);
    fr_pf_scratch_free(&sc);
    return FR_OK;
}

void fr_rating_summarise(const fr_rating *p, fr_pfedrec_round *out)
{
    double vh = 0, vn = 0, th = 0, tn = 0;
    for (size_t u = 0; u < p->n_users; u++) {
        if (!p->split->has_eval[u])
            continue;
        vh += p->val_hr[u];
        vn += p->val_ndcg[u];
        th += p->test_hr[u];
        tn += p->test_ndcg[u];
    }
    double n = p->split->n_evaluated ? (double)p->split->n_evaluated : 1.0;
    out->val_hr = vh / n;
    out->val_ndcg = vn / n;
    out->test_hr = th / n;
    out->test_ndcg = tn / n;
}

void fr_rating_figures(const fr_rating *p, fr_pfedrec_round *out)
{
    out->evaluated = !p->skip_eval;
    if (out->evaluated)
        fr_rating_summarise(p, out);
    else
        out->val_hr = out->val_ndcg = out->test_hr = out->test_ndcg = NAN;
}

/* ---- the client interface ------------------------------------------------ */

static fr_status worker_create(void *model, void **worker)
{
    scratch *s = malloc(sizeof *s);
    if (!s)
        return fr_fail_nomem("client scratch", sizeof *s);
    fr_status st = fr_pf_scratch_init(s, model);
    if (st != FR_OK) {
        free(s);
        return st;
    }
    *worker = s;
    return FR_OK;
}

static void worker_destroy(void *model, void *worker)
{
    (void)model;
    if (worker) {
        fr_pf_scratch_free(worker);
        free(worker);
    }
}

static void round_begin(void *model, unsigned round)
{
    fr_rating *p = model;
    p->round = round;
    if (p->keep) /* the clients are evaluated on the table the round starts from */
        fr_pf_keep_round_start(p);
}

static fr_status train(void *model, void *worker, unsigned round, size_t client, const fr_fed_state *state,
                       fr_fed_upload *up)
{
    fr_rating *p = model;
    (void)round; /* p->round, set at the round's start */
    (void)state; /* p->items and p->shared point into it */
    fr_status s = fr_pf_train_client(p, worker, client, up);
    fr_pf_scratch_reset(worker);
    return s;
}

static fr_status train_cohort(void *model, unsigned round, const size_t *clients, size_t n,
                              const fr_fed_state *state, fr_fed_upload *const *ups)
{
    fr_rating *p = model;
    (void)round; /* p->round, set at the round's start */
    (void)state; /* p->items points into it */
    return fr_rating_cohort_train(p, p->cohort, clients, n, ups);
}

/* A client's work: its training samples plus its evaluation candidates
 * (validation and test). */
static double cost(void *model, size_t client)
{
    fr_rating *p = model;
    return (double)fr_pf_samples_of(p, client) + 2.0 * (1.0 + (double)p->split->negatives_per_eval);
}

/* Personal values under a shared score function: w, then b. */
static void personal_get(void *model, size_t client, float *v)
{
    fr_rating *p = model;
    memcpy(v, p->w + client * p->dim, p->dim * sizeof *v);
    v[p->dim] = p->b[client];
}

static void personal_set(void *model, size_t client, const float *v)
{
    fr_rating *p = model;
    memcpy(p->w + client * p->dim, v, p->dim * sizeof *v);
    p->b[client] = v[p->dim];
}

/* The record other ranks need: the client's last figures. */
typedef struct figures_record {
    double val_hr, val_ndcg, test_hr, test_ndcg;
} figures_record;

static void record_pack(void *model, size_t client, void *record)
{
    const fr_rating *p = model;
    figures_record r = {p->val_hr[client], p->val_ndcg[client], p->test_hr[client], p->test_ndcg[client]};
    memcpy(record, &r, sizeof r);
}

static void record_unpack(void *model, size_t client, const void *record)
{
    fr_rating *p = model;
    figures_record r;
    memcpy(&r, record, sizeof r);
    p->val_hr[client] = r.val_hr;
    p->val_ndcg[client] = r.val_ndcg;
    p->test_hr[client] = r.test_hr;
    p->test_ndcg[client] = r.test_ndcg;
}

void fr_rating_client_ops(const fr_rating *p, fr_fed_client_ops *ops)
{
    fr_fed_client_ops o = {worker_create, worker_destroy, round_begin, train, cost, p->dim + 1, personal_get,
                           personal_set, sizeof(figures_record), record_pack, record_unpack,
                           p->cohort ? train_cohort : NULL, fr_pfedrec_cohort_clients(&p->o)};
    *ops = o;
}

size_t fr_pfedrec_cohort_clients(const fr_pfedrec_options *o)
{
    if (o->cohort)
        return o->cohort;
    /* FedNCF holds a batch of activations per client: a GEMM's worth of
     * rows (128 x 256 by default) without hundreds of MB on the device. */
    return o->algorithm == FR_ALGO_FEDNCF ? 128 : 1024;
}
