/* pfedrec.c — the rating jobs (fedrec/pfedrec.h): PFedRec, FedMF and
 * FedNCF as the MF family's model (src/rec/rating.h) trained by the
 * federation core (src/fed/fed_core.h) through its client interface, and
 * centralised MF as the model's own epochs. A round of a federated job is
 * the core's round, then the model's figures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/host_pool.h"
#include "core/clock.h"
#include "core/error_internal.h"
#include "job/pfedrec_job.h"

void fr_pfedrec_options_default(fr_pfedrec_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 0;
    o->dim = 32;
    o->lr = 0.1f;
    o->lr_eta = 80.0f;
    o->batch = 256;
    o->negatives = 4;
    o->local_epochs = 1;
    o->client_fraction = 1.0;
    o->top_k = 10;
    o->ncf_layers[0] = 32;
    o->ncf_layers[1] = 16;
    o->ncf_layers[2] = 8;
    o->n_ncf_layers = 3;
    o->central_lr = 0.001f;
    o->dp_delta = 1e-5;
    o->trim = 0.1;
    o->secure_neighbours = 8;
    fr_participation_default(&o->participation);
}

double fr_pfedrec_sampling_rate(const fr_pfedrec_options *o, size_t n_users)
{
    return fr_fed_sampling_rate(o->client_fraction, n_users);
}

const float *fr_pfedrec_items(const fr_pfedrec *p)
{
    return p->m->items;
}

void fr_pfedrec_free(fr_pfedrec *p)
{
    if (!p)
        return;
    fr_fed_free(p->f);
    fr_rating_free(p->m);
    free(p->job_fingerprint);
    free(p);
}

void fr_pfedrec_set_evaluate(fr_pfedrec *p, int evaluate)
{
    p->m->skip_eval = !evaluate;
}

static const char *algorithm_name(fr_rating_algorithm a)
{
    return a == FR_ALGO_FEDMF ? "FedMF" : a == FR_ALGO_FEDNCF ? "FedNCF" : a == FR_ALGO_CENTRAL_MF ? "centralised MF" : "PFedRec";
}

/* The federation core's options out of the job's. */
static void fed_options(const fr_pfedrec_options *o, fr_fed_options *f)
{
    memset(f, 0, sizeof *f);
    f->seed = o->seed;
    f->client_fraction = o->client_fraction;
    f->weighted = o->weighted;
    f->share_personal = o->share_score;
    f->participation = o->participation;
    f->clip_norm = o->clip_norm;
    f->fault_nan = o->fault_nan;
    f->fault_huge = o->fault_huge;
    f->aggregator = o->aggregator;
    f->trim = o->trim;
    f->local_noise = o->local_noise;
    f->dp_noise = o->dp_noise;
    f->dp_delta = o->dp_delta;
    f->secure_agg = o->secure_agg;
    f->secure_neighbours = o->secure_neighbours;
    f->progress = o->progress;
    f->name = algorithm_name(o->algorithm);
}

fr_status fr_pfedrec_run_round(fr_pfedrec *p, unsigned round, fr_pfedrec_round *out)
{
    double t0 = fr_clock_seconds();
    memset(out, 0, sizeof *out);
    fr_rating *m = p->m;
    if (!p->f) { /* centralised MF: one epoch */
        m->round = round;
        FR_TRY(fr_pf_central_epoch(m, out));
        fr_rating_figures(m, out);
        out->seconds = fr_clock_seconds() - t0;
        if (m->keep)
            m->kept_round = round + 1;
        return FR_OK;
    }
    fr_fed_round r;
    FR_TRY(fr_fed_run_round(p->f, round, &r));
    out->train_loss = r.train_loss;
    out->clients = r.clients;
    out->participants = r.participants;
    out->rejected = r.rejected;
    out->trained_here = r.trained_here;
    out->aggregated = r.aggregated;
    out->dp_epsilon = r.dp_epsilon;
    out->bytes_up = r.bytes_up;
    out->bytes_sent = r.bytes_sent;
    out->bytes_received = r.bytes_received;
    out->t_comm = r.t_comm;
    out->t_local = r.t_local;
    out->t_negatives = r.t_negatives;
    out->t_train = r.t_train;
    out->t_eval = r.t_eval;
    out->t_aggregate = r.t_aggregate;
    fr_rating_figures(m, out);
    out->seconds = fr_clock_seconds() - t0;
    if (m->keep)
        m->kept_round = round + 1;
    return FR_OK;
}

fr_status fr_pfedrec_set_comm(fr_pfedrec *p, fr_comm *c)
{
    int ranks = c ? fr_comm_size(c) : 1;
    if (!p->f) {
        if (ranks > 1)
            return fr_fail(FR_ERR_UNSUPPORTED, "centralised MF pools every user's data in one place: run it on one rank (without mpirun), not %d",
                           ranks);
        return FR_OK;
    }
    return fr_fed_set_comm(p->f, c, p->o.job_fingerprint, p->data_fingerprint, "rating data");
}

static fr_status fr_pf_privacy_check(const fr_pfedrec_options *o)
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

fr_status fr_pfedrec_options_check(const fr_pfedrec_options *o)
{
    if (o->dim == 0 || o->dim > 1024 || o->batch == 0 || o->local_epochs == 0 ||
        !(o->client_fraction > 0.0 && o->client_fraction <= 1.0) || !(o->lr > 0) ||
        !(o->lr_eta > 0) || o->top_k == 0)
        return fr_fail(FR_ERR_INVALID, "PFedRec: need 1 <= dim <= 1024, batch >= 1, local epochs >= 1, 0 < client fraction <= 1, lr > 0, lr_eta > 0, top_k >= 1");
    FR_TRY(fr_participation_check(&o->participation));
    if (!(o->clip_norm >= 0) || !(o->fault_nan >= 0 && o->fault_huge >= 0 && o->fault_nan + o->fault_huge <= 1))
        return fr_fail(FR_ERR_INVALID, "PFedRec: need clip_norm >= 0 and fault probabilities >= 0 summing to at most 1");
    if ((unsigned)o->algorithm > FR_ALGO_CENTRAL_MF)
        return fr_fail(FR_ERR_INVALID, "rating engine: unknown algorithm %d", (int)o->algorithm);
    if (o->algorithm == FR_ALGO_FEDNCF) {
        if (o->dim > 512 || o->n_ncf_layers < 1 || o->n_ncf_layers > FR_NCF_MAX_LAYERS)
            return fr_fail(FR_ERR_INVALID, "FedNCF: need dim <= 512 and 1 to %d hidden layers (got dim %zu, %zu layers)",
                           FR_NCF_MAX_LAYERS, o->dim, o->n_ncf_layers);
        for (size_t l = 0; l < o->n_ncf_layers; l++)
            if (o->ncf_layers[l] < 1 || o->ncf_layers[l] > 4096)
                return fr_fail(FR_ERR_INVALID, "FedNCF: hidden layer %zu has width %zu, expected 1 to 4096",
                               l + 1, o->ncf_layers[l]);
    }
    FR_TRY(fr_pf_privacy_check(o));
    if (o->algorithm == FR_ALGO_CENTRAL_MF && !(o->central_lr > 0))
        return fr_fail(FR_ERR_INVALID, "centralised MF: the learning rate must be > 0");
    return FR_OK;
}

fr_status fr_pfedrec_create(const fr_loo_split *split, const fr_pfedrec_options *o,
                            fr_pfedrec **out)
{
    *out = NULL;
    FR_TRY(fr_pfedrec_options_check(o));
    if (split->negatives_per_eval > 1024)
        return fr_fail(FR_ERR_INVALID, "PFedRec: at most 1024 evaluation negatives per user");
    fr_pfedrec *p = calloc(1, sizeof *p);
    if (!p)
        return fr_fail_nomem("PFedRec", sizeof *p);
    p->split = split;
    p->o = *o;
    p->o.job_fingerprint = NULL;
    if (o->job_fingerprint && !(p->o.job_fingerprint = p->job_fingerprint = strdup(o->job_fingerprint))) {
        free(p);
        return fr_fail_nomem("job fingerprint", strlen(o->job_fingerprint) + 1);
    }
    p->data_fingerprint = fr_loo_split_fingerprint(split);
    fr_status s = fr_rating_create(split, o, &p->m);
    if (s == FR_OK && o->algorithm != FR_ALGO_CENTRAL_MF) {
        fr_fed_options fo;
        fed_options(o, &fo);
        fr_rating_client_ops(p->m, &p->ops);
        s = fr_fed_create(&fo, p->m->n_users, p->m->n_items, p->m->dim, p->m->n_shared,
                          fr_host_pool(p->m->host), &p->ops, p->m, &p->f);
        if (s == FR_OK) { /* the model reads the server's table and layers */
            fr_fed_state *st = fr_fed_state_of(p->f);
            p->m->items = st->table;
            p->m->shared = st->dense;
        }
    }
    if (s == FR_OK)
        s = fr_rating_init(p->m);
    if (s != FR_OK) {
        fr_pfedrec_free(p);
        return s;
    }
    *out = p;
    return FR_OK;
}

/* ---- the model (src/rec/rating_model.c) ---------------------------------- */

fr_status fr_pfedrec_keep_model(fr_pfedrec *p)
{
    return fr_rating_keep_model(p->m);
}

fr_status fr_pfedrec_model_take(fr_pfedrec *p, fr_pfedrec_model *m)
{
    return fr_rating_model_take(p->m, m);
}

fr_status fr_pfedrec_model_use(fr_pfedrec *p, const fr_pfedrec_model *m)
{
    return fr_rating_model_use(p->m, m);
}

fr_status fr_pfedrec_evaluate(fr_pfedrec *p, fr_pfedrec_round *out)
{
    return fr_rating_evaluate(p->m, out);
}

fr_status fr_pfedrec_scores(fr_pfedrec *p, size_t u, float *scores)
{
    return fr_rating_scores(p->m, u, scores);
}
