/* fedmsmt.c — federated multi-scenario multi-task training (see
 * fedrec/fedmsmt.h): the clients (one per scenario, each its own MMoE,
 * optimizer and rows) as the federation core's per-client state
 * (fr_fed_create_per_client), the run (the core's rounds, then evaluation
 * of every client on its own rows, the best round, checkpoints), and the
 * options.
 *
 * The core sees each client as two flat parameter vectors: what it
 * received at the start of the round (the core's state) and what it has
 * after training (its upload). A federated unit's update is their
 * difference over the unit's slices (fedmsmt_units.c gives them, with the
 * method's rule for each kind of unit); the core screens and combines the
 * units and hands each participant its vector back, which is loaded into
 * the client and becomes what it received for the next round. Local
 * slices keep their trained values. Clients train one after another, each
 * on all of the backend's threads, and the core sums in client order, so
 * results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/clock.h"
#include "core/pool.h"
#include "core/progress_call.h"
#include "fed/fed_core.h"
#include "job/fedmsmt_job.h"
#include "fedrec/optim.h"

static const char *const method_names[] = {"pfmsmtrec", "fedavg", "fedprox", "fedbn", "local"};

const char *fr_fed_method_name(fr_fed_method m)
{
    return (unsigned)m <= FR_FED_LOCAL ? method_names[m] : "?";
}

fr_status fr_fed_method_parse(const char *name, fr_fed_method *out)
{
    for (int m = 0; m <= FR_FED_LOCAL; m++)
        if (!strcmp(name, method_names[m])) {
            *out = (fr_fed_method)m;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID, "federated method '%s': expected pfmsmtrec, fedavg, fedprox, fedbn or local",
                   name);
}

void fr_fedmsmt_options_default(fr_fedmsmt_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = FR_FED_PFMSMTREC;
    fr_msmt_options_default(&o->model);
    o->model.arch = FR_ARCH_MMOE;
    o->shared_experts = 4;
    o->private_experts = 4;
    o->fedbn = 1;
    o->coordination = 1;
    o->experts_agg = FR_FED_AGG_PERSONAL;
    o->towers_agg = FR_FED_AGG_PERSONAL;
    o->embedding_agg = FR_FED_AGG_MEAN;
    o->temperature = 1.0;
    o->rounds = 20;
    o->local_epochs = 1;
    o->batch = 2048;
    o->optimizer = FR_OPTIM_ADAM;
    o->lr = 1e-3f;
    o->weight_decay = 1e-6f;
    fr_participation_default(&o->participation);
}

fr_status fr_fedmsmt_parse_membership(const char *text, size_t clients, fr_fedmsmt_options *o)
{
    size_t row = 0, col = 0, width = 0;
    memset(o->member, 0, sizeof o->member);
    for (const char *p = text;; p++) {
        if (*p == ';' || *p == '\0') {
            if (row == 0)
                width = col;
            else if (col != width)
                return fr_fail(FR_ERR_INVALID, "membership row %zu has %zu experts, row 1 has %zu", row + 1, col,
                               width);
            if (col == 0)
                return fr_fail(FR_ERR_INVALID, "membership row %zu is empty", row + 1);
            row++;
            col = 0;
            if (*p == '\0')
                break;
            continue;
        }
        if (*p == ' ')
            continue;
        if (*p != '0' && *p != '1')
            return fr_fail(FR_ERR_INVALID, "membership row %zu, column %zu: '%c', expected 0 or 1", row + 1, col + 1,
                           *p);
        if (row >= FR_TABLE_MAX_SCENARIOS || col >= FR_FED_MAX_POOL)
            return fr_fail(FR_ERR_INVALID, "membership: at most %d rows of %d experts", FR_TABLE_MAX_SCENARIOS,
                           FR_FED_MAX_POOL);
        o->member[row][col++] = (unsigned char)(*p == '1');
    }
    if (row != clients)
        return fr_fail(FR_ERR_INVALID, "membership has %zu rows; the data has %zu clients (scenarios)", row, clients);
    o->n_pool = width;
    return FR_OK;
}


static fr_status add_prox(void *arg)
{
    fed_client *c = arg;
    fr_param_set *ps = fr_msmt_model_params(c->m);
    fr_backend *be = fr_param_set_backend(ps);
    for (size_t i = 0; i < fr_param_set_count(ps); i++) {
        fr_param *p = fr_param_set_at(ps, i);
        if (!c->anchor[i])
            continue;
        size_t n = p->rows * p->cols;
        /* grad += mu (w - anchor) */
        FR_TRY(fr_axpy(be, n, (float)c->prox_mu, fr_view_of(p->value, 0), fr_view_of(p->grad, 0)));
        FR_TRY(fr_axpy(be, n, -(float)c->prox_mu, fr_view_of(c->anchor[i], 0), fr_view_of(p->grad, 0)));
    }
    return FR_OK;
}

static void client_free(fed_client *c)
{
    if (c->anchor) {
        for (size_t i = 0; i < c->n_anchor; i++)
            fr_buffer_free(c->anchor[i]);
        free(c->anchor);
    }
    fr_optimizer_free(c->opt);
    fr_msmt_model_free(c->m);
    for (int k = 0; k < 3; k++)
        free(c->rows[k]);
    if (!c->received_core)
        free(c->received);
}

/* The options of client c's model: an MMoE over the experts it holds. */
static fr_msmt_options client_model_options(const fr_fedmsmt_options *o, const fed_template *tp, size_t c)
{
    fr_msmt_options mo = o->model;
    mo.arch = FR_ARCH_MMOE;
    mo.experts = tp->held[c];
    if (mo.max_batch < o->batch)
        mo.max_batch = o->batch;
    return mo;
}

fr_status fr_fedmsmt_client_model_create(fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o, size_t c,
                                         fr_msmt_model **out)
{
    *out = NULL;
    fed_template tp;
    FR_TRY(fr_fedmsmt_template_make(o, t->n_scenarios, &tp));
    if (c >= tp.clients)
        return fr_fail(FR_ERR_INVALID, "client %zu of %zu", c, tp.clients);
    fr_msmt_options mo = client_model_options(o, &tp, c);
    return fr_msmt_model_create(be, t, &mo, out);
}

fr_status fr_fedmsmt_client_experts(const fr_fedmsmt_options *o, size_t clients, size_t c,
                                    size_t pool_index[FR_FED_MAX_POOL], size_t *held, size_t *pool)
{
    fed_template tp;
    FR_TRY(fr_fedmsmt_template_make(o, clients, &tp));
    if (c >= tp.clients)
        return fr_fail(FR_ERR_INVALID, "client %zu of %zu", c, tp.clients);
    *held = 0;
    for (size_t g = 0; g < tp.pool; g++)
        if (tp.member[c][g])
            pool_index[(*held)++] = g;
    if (pool)
        *pool = tp.pool;
    return FR_OK;
}

void fr_fedmsmt_result_release(fr_fedmsmt_result *r)
{
    for (size_t c = 0; c < FR_TABLE_MAX_SCENARIOS; c++) {
        fr_msmt_model_free(r->model[c]);
        r->model[c] = NULL;
    }
}

/* Client c: its rows, its model (holding tp->held[c] experts), optimizer,
 * units and flat vectors. */
static fr_status client_make(fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o,
                             const fed_template *tp, size_t c, fed_client *cl)
{
    memset(cl, 0, sizeof *cl);
    for (int k = 0; k < 3; k++) {
        uint32_t *all;
        size_t n_all;
        FR_TRY(fr_table_split_rows(t, k, &all, &n_all));
        size_t n = 0;
        for (size_t i = 0; i < n_all; i++)
            if ((size_t)t->scenario[all[i]] == c)
                all[n++] = all[i];
        /* Keep this client's rows only: every client holding every row of
         * the split would cost clients x rows x 4 bytes. */
        uint32_t *own = realloc(all, (n ? n : 1) * sizeof *own);
        cl->rows[k] = own ? own : all;
        cl->n_rows[k] = n;
    }
    if (cl->n_rows[FR_SPLIT_TRAIN] < 2)
        return fr_fail(FR_ERR_INVALID, "client %zu (scenario '%s') has %zu training rows", c, t->scenario_names[c],
                       cl->n_rows[FR_SPLIT_TRAIN]);
    fr_msmt_options mo = client_model_options(o, tp, c);
    FR_TRY(fr_msmt_model_create(be, t, &mo, &cl->m));
    fr_param_set *ps = fr_msmt_model_params(cl->m);
    FR_TRY(fr_optimizer_create(ps, (fr_optim_kind)o->optimizer, o->lr, o->weight_decay, &cl->opt));
    FR_TRY(fr_fedmsmt_units(tp, c, ps, &mo, cl->units, MAX_UNITS, &cl->n_units));
    for (size_t u = 0; u < cl->n_units; u++) { /* as the federation core sees them */
        const fed_unit *fu = &cl->units[u];
        const unit_rule *rule = &tp->rule[fu->kind];
        cl->view[u] = (fr_fed_unit){(uint32_t)fu->kind * FR_FED_MAX_POOL * 4u + (uint32_t)fu->index, rule->agg,
                                    rule->coordinate, fu->kind == UNIT_EMB_TABLE, fu->seg, fu->n_seg, fu->numel};
    }
    cl->n_values = fr_param_set_numel(ps, FR_ROLES_ALL);
    cl->received = malloc((cl->n_values ? cl->n_values : 1) * sizeof *cl->received);
    if (!cl->received)
        return fr_fail_nomem("client parameters", cl->n_values * 4);
    FR_TRY(fr_param_set_export(ps, FR_ROLES_ALL, cl->received, cl->n_values));
    cl->prox_mu = o->prox_mu;
    if (o->prox_mu > 0) {
        size_t np = fr_param_set_count(ps);
        cl->anchor = calloc(np, sizeof *cl->anchor);
        if (!cl->anchor)
            return fr_fail_nomem("proximal anchors", np * sizeof *cl->anchor);
        cl->n_anchor = np;
        /* Dense trainable parameters only: an embedding table's gradient
         * holds the rows a batch touched, not the whole table. */
        for (size_t i = 0; i < np; i++) {
            fr_param *p = fr_param_set_at(ps, i);
            if (p->trainable && !p->row_sparse)
                FR_TRY(fr_buffer_alloc(be, p->rows * p->cols * sizeof(float), &cl->anchor[i]));
        }
    }
    return FR_OK;
}


/* ---- the clients, as the federation core's per-client state ---------------- */

/* The caller's progress hook told the batches of a whole round: the
 * passes of every client this rank trains, one after another. */
typedef struct round_progress {
    const fr_progress_hook *hook;
    size_t before, total; /* batches of the round's earlier passes; of all */
    int may_stop;         /* one rank: a stop request is honoured */
    int stop;
} round_progress;

static int round_progress_fn(void *arg, const fr_progress *p)
{
    round_progress *rp = arg;
    int stop = fr_progress_call(rp->hook, FR_PROGRESS_TRAIN, "batch", rp->before + p->done, rp->total);
    rp->stop |= stop && rp->may_stop;
    return rp->stop;
}

/* What the core's calls reach: the run's clients. */
typedef struct fedmsmt_run {
    fr_backend *be;
    const fr_table *t;
    const fr_fedmsmt_options *o;
    fed_client *cl;
    round_progress rp;
    int stopped; /* a client's training ended at the hook's stop request */
} fedmsmt_run;

static fr_status worker_create(void *model, void **worker)
{
    *worker = model; /* clients train one after another, on the backend's threads */
    return FR_OK;
}

static void worker_destroy(void *model, void *worker)
{
    (void)model;
    (void)worker;
}

/* Client c's local passes of round round + 1 from its model as it is (what
 * it received, or a late client's own), its vector after them into up. A
 * stop request (one rank) abandons the round: a failure the run
 * recognises by x->stopped. */
static fr_status client_train(void *model, void *worker, unsigned round, size_t c, const fr_fed_state *state,
                              fr_fed_upload *up)
{
    (void)worker;
    (void)state;
    fedmsmt_run *x = model;
    const fr_fedmsmt_options *o = x->o;
    fed_client *k = &x->cl[c];
    size_t r1 = (size_t)round + 1;
    fr_param_set *ps = fr_msmt_model_params(k->m);
    fr_status s = FR_OK;
    for (size_t i = 0; s == FR_OK && k->anchor && i < fr_param_set_count(ps); i++) {
        fr_param *p = fr_param_set_at(ps, i);
        if (k->anchor[i])
            s = fr_copy(x->be, p->rows * p->cols, fr_view_of(p->value, 0), fr_view_of(k->anchor[i], 0));
    }
    double loss_mean = 0.0;
    for (size_t e = 0; s == FR_OK && !x->rp.stop && e < o->local_epochs; e++) {
        fr_msmt_pass_options po = {o->batch, o->block_rows, o->seed,
                                   (uint32_t)((r1 - 1) * o->local_epochs + e + 1), (uint32_t)(c + 1),
                                   k->opt, k->anchor ? add_prox : NULL, k,
                                   {o->progress.fn ? round_progress_fn : NULL, &x->rp}};
        double loss = 0.0;
        s = fr_msmt_pass(k->m, x->t, &po, k->rows[FR_SPLIT_TRAIN], k->n_rows[FR_SPLIT_TRAIN], &k->step, &loss);
        loss_mean += loss / (double)o->local_epochs;
        x->rp.before += fr_msmt_pass_batches(k->n_rows[FR_SPLIT_TRAIN], o->batch, o->block_rows);
    }
    if (s == FR_OK && x->rp.stop) {
        x->stopped = 1;
        return fr_fail(FR_ERR_INVALID, "federated training: stopped at the progress hook's request");
    }
    up->samples = k->n_rows[FR_SPLIT_TRAIN];
    up->loss_sum = loss_mean;
    if (s == FR_OK)
        s = fr_param_set_export(ps, FR_ROLES_ALL, up->values, k->n_values);
    return s;
}

static double client_cost(void *model, size_t c)
{
    (void)model;
    (void)c;
    return 1.0; /* contiguous placement: blocks of equal client counts */
}

static size_t client_values(void *model, size_t c)
{
    return ((fedmsmt_run *)model)->cl[c].n_values;
}

static const fr_fed_unit *client_units(void *model, size_t c, size_t *n)
{
    fed_client *k = &((fedmsmt_run *)model)->cl[c];
    *n = k->n_units;
    return k->view;
}

static fr_status client_load(void *model, size_t c, const float *values)
{
    fed_client *k = &((fedmsmt_run *)model)->cl[c];
    return fr_param_set_import(fr_msmt_model_params(k->m), FR_ROLES_ALL, values, k->n_values);
}

static const fr_fed_client_ops client_ops = {worker_create, worker_destroy, NULL, client_train, client_cost, 0,
                                             NULL, NULL, 0, NULL, NULL, NULL, 0};
static const fr_fed_vector_ops vector_ops = {client_values, client_units, client_load};

/* The core's options for this run: every client each round, the
 * participation and screening options, the units' own rules. */
static void core_options(const fr_fedmsmt_options *o, fr_fed_options *f)
{
    memset(f, 0, sizeof *f);
    f->seed = o->seed;
    f->client_fraction = 1.0;
    f->participation = o->participation;
    f->clip_norm = o->clip_norm;
    f->fault_nan = o->fault_nan;
    f->fault_huge = o->fault_huge;
    f->aggregator = FR_AGG_MEAN;
    f->temperature = o->temperature;
    f->local_only = o->method == FR_FED_LOCAL;
    f->name = "federated training";
}

/* The core over the clients: each client's starting vector becomes its
 * state (what it received), the server's initial model goes out (every
 * unit as its first holder has it); with several ranks, the ranks compare
 * their jobs and place the clients. */
static fr_status core_make(fr_comm *comm, const fr_table *t, const fr_fedmsmt_options *o, fedmsmt_run *x,
                           size_t C, fr_pool **pool, fr_fed **f)
{
    fr_fed_options fo;
    core_options(o, &fo);
    fr_status s = fr_pool_create(1, pool);
    if (s == FR_OK)
        s = fr_fed_create_per_client(&fo, C, *pool, &client_ops, &vector_ops, x, f);
    fr_fed_state *st = s == FR_OK ? fr_fed_state_of(*f) : NULL;
    for (size_t c = 0; st && c < C; c++) {
        memcpy(st->client[c], x->cl[c].received, x->cl[c].n_values * sizeof *st->client[c]);
        free(x->cl[c].received);
        x->cl[c].received = st->client[c];
        x->cl[c].received_core = 1;
    }
    if (s == FR_OK)
        s = fr_fed_clients_start(*f);
    int ranks = comm ? fr_comm_size(comm) : 1;
    if (ranks > 1) /* the same set-up on every rank: one verdict, one message */
        s = fr_comm_agree(comm, s);
    if (s == FR_OK && ranks > 1) /* every rank must have built the same job; clients placed */
        s = fr_fed_set_comm(*f, comm, o->job_fingerprint, fr_table_fingerprint(t), "feature table");
    return s;
}

/* Client c's cells of its own evaluation into the round's table. */
static void merge_eval(fr_msmt_eval *into, const fr_msmt_eval *e, size_t c)
{
    for (size_t t = 0; t < e->n_tasks; t++) {
        into->auc[c][t] = e->auc[c][t];
        into->logloss[c][t] = e->logloss[c][t];
    }
    into->rows[c] = e->rows[c];
}

static void finish_means(fr_msmt_eval *e)
{
    size_t cells = 0;
    e->mean_auc = e->mean_logloss = 0.0;
    for (size_t s = 0; s < e->n_scenarios; s++)
        for (size_t t = 0; t < e->n_tasks; t++)
            if (!isnan(e->auc[s][t])) {
                e->mean_auc += e->auc[s][t];
                e->mean_logloss += e->logloss[s][t];
                cells++;
            }
    e->mean_auc = cells ? e->mean_auc / (double)cells : NAN;
    e->mean_logloss = cells ? e->mean_logloss / (double)cells : NAN;
}

fr_status fr_fedmsmt_evaluate(fr_msmt_model *const *models, const fr_table *t, int split, fr_msmt_eval *out)
{
    size_t C = t->n_scenarios;
    memset(out, 0, sizeof *out);
    out->n_scenarios = C;
    out->n_tasks = t->n_tasks;
    for (size_t c = 0; c < C; c++)
        for (size_t k = 0; k < t->n_tasks; k++)
            out->auc[c][k] = out->logloss[c][k] = NAN;
    uint32_t *all;
    size_t n_all;
    FR_TRY(fr_table_split_rows(t, split, &all, &n_all));
    uint32_t *own = malloc((n_all ? n_all : 1) * sizeof *own);
    fr_status s = own ? FR_OK : fr_fail_nomem("evaluation rows", n_all * sizeof *own);
    for (size_t c = 0; s == FR_OK && c < C; c++) {
        size_t n = 0;
        for (size_t i = 0; i < n_all; i++)
            if ((size_t)t->scenario[all[i]] == c)
                own[n++] = all[i];
        fr_msmt_eval e;
        s = fr_msmt_evaluate_rows(models[c], t, own, n, &e);
        if (s == FR_OK)
            merge_eval(out, &e, c);
    }
    free(own);
    free(all);
    finish_means(out);
    return s;
}

static fr_status check_options(const fr_fedmsmt_options *o)
{
    if (o->rounds < 1 || o->local_epochs < 1 || o->batch < 2 || !(o->lr > 0))
        return fr_fail(FR_ERR_INVALID, "federated training: need rounds >= 1, local epochs >= 1, batch >= 2, lr > 0");
    if ((unsigned)o->method > FR_FED_LOCAL)
        return fr_fail(FR_ERR_INVALID, "federated training: unknown method %d", (int)o->method);
    if (o->method == FR_FED_FEDPROX && !(o->prox_mu > 0))
        return fr_fail(FR_ERR_INVALID, "FedProx needs a proximal term: prox_mu > 0 (got %g)", o->prox_mu);
    if (!(o->prox_mu >= 0) || !(o->temperature > 0))
        return fr_fail(FR_ERR_INVALID, "federated training: need prox_mu >= 0 and temperature > 0");
    FR_TRY(fr_participation_check(&o->participation));
    if (o->checkpoint.n_extra > FR_FEDMSMT_CHECKPOINT_MAX_EXTRA)
        return fr_fail(FR_ERR_INVALID, "federated training: a checkpoint keeps at most %d of the caller's values (asked: %zu)",
                       FR_FEDMSMT_CHECKPOINT_MAX_EXTRA, o->checkpoint.n_extra);
    if (!(o->clip_norm >= 0) || !(o->fault_nan >= 0) || !(o->fault_huge >= 0) || o->fault_nan + o->fault_huge > 1)
        return fr_fail(FR_ERR_INVALID, "federated training: need clip_norm >= 0 and fault probabilities in [0, 1] adding up to at most 1 (got %g, %g, %g)",
                       o->clip_norm, o->fault_nan, o->fault_huge);
    if (o->experts_agg == FR_FED_AGG_LOCAL || o->embedding_agg == FR_FED_AGG_PERSONAL)
        return fr_fail(FR_ERR_INVALID, "federated training: experts aggregate personal or mean, the embedding mean or local");
    if (o->model.arch != FR_ARCH_MMOE)
        return fr_fail(FR_ERR_INVALID, "federated training runs MMoE clients (got %s)", fr_msmt_arch_name(o->model.arch));
    return FR_OK;
}

fr_status fr_fedmsmt_run(fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o,
                         void (*on_round)(void *arg, const fr_fedmsmt_round *r), void *arg,
                         fr_fedmsmt_result *out)
{
    return fr_fedmsmt_run_ranks(NULL, be, t, o, on_round, arg, out);
}


/* The parameters of the clients this rank runs, into kept (a round that
 * improved the validation AUC: what was just evaluated). */
static fr_status keep_clients(const fed_client *cl, size_t C, const fr_fed *f, float **kept)
{
    for (size_t c = 0; c < C; c++)
        if (fr_fed_owner(f, c) == fr_fed_rank(f))
            FR_TRY(fr_param_set_export(fr_msmt_model_params(cl[c].m), FR_ROLES_ALL, kept[c], cl[c].n_values));
    return FR_OK;
}

/* The end of a keep_models run: every rank gets each client's kept
 * parameters from the rank that ran it (the others' copies of a client
 * that was late or never aggregated are stale), loads them into the
 * client's model and hands the model to out. */
static fr_status hand_over(fr_comm *comm, fr_fed *f, fed_client *cl, size_t C, int ranks, float **kept,
                           fr_status s, fr_fedmsmt_result *out)
{
    if (ranks > 1) {
        s = fr_comm_agree(comm, s);
        size_t n_values[FR_TABLE_MAX_SCENARIOS];
        for (size_t c = 0; c < C; c++)
            n_values[c] = cl[c].n_values;
        if (s == FR_OK)
            s = fr_fedmsmt_exchange_kept(f, C, kept, n_values);
    }
    for (size_t c = 0; s == FR_OK && c < C; c++)
        s = fr_param_set_import(fr_msmt_model_params(cl[c].m), FR_ROLES_ALL, kept[c], cl[c].n_values);
    for (size_t c = 0; s == FR_OK && c < C; c++) {
        out->model[c] = cl[c].m;
        cl[c].m = NULL;
    }
    return s;
}

fr_status fr_fedmsmt_run_ranks(fr_comm *comm, fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o,
                               void (*on_round)(void *arg, const fr_fedmsmt_round *r), void *arg,
                               fr_fedmsmt_result *out)
{
    memset(out, 0, sizeof *out);
    FR_TRY(check_options(o));
    int ranks = comm ? fr_comm_size(comm) : 1, me = comm ? fr_comm_rank(comm) : 0;
    fed_template tp;
    size_t C = t->n_scenarios;
    FR_TRY(fr_fedmsmt_template_make(o, C, &tp));
    fed_client *cl = calloc(C, sizeof *cl);
    fr_fedmsmt_round *r = calloc(1, sizeof *r);
    if (!cl || !r) {
        free(cl);
        free(r);
        return fr_fail_nomem("clients", C * sizeof *cl);
    }
    out->clients = C;
    out->pool = tp.pool;
    fr_status s = FR_OK;
    /* keep_models: every client's parameters at the best round so far. */
    float **kept = o->keep_models ? calloc(C, sizeof *kept) : NULL;
    if (o->keep_models && !kept)
        s = fr_fail_nomem("kept models", C * sizeof *kept);
    for (size_t c = 0; s == FR_OK && c < C; c++) {
        s = client_make(be, t, o, &tp, c, &cl[c]);
        out->experts_held[c] = tp.held[c];
    }
    for (size_t c = 0; s == FR_OK && kept && c < C; c++)
        if (!(kept[c] = malloc((cl[c].n_values ? cl[c].n_values : 1) * sizeof *kept[c])))
            s = fr_fail_nomem("kept models", cl[c].n_values * sizeof *kept[c]);
    fedmsmt_run x = {be, t, o, cl, {&o->progress, 0, 0, ranks == 1, 0}, 0};
    fr_pool *pool = NULL;
    fr_fed *f = NULL;
    if (s == FR_OK)
        s = core_make(comm, t, o, &x, C, &pool, &f);
    else if (ranks > 1) /* the same set-up on every rank: one verdict, one message */
        s = fr_comm_agree(comm, s);
    double t0 = fr_clock_seconds();
    uint64_t upload_sum[FR_TABLE_MAX_SCENARIOS] = {0};
    fedmsmt_state st = {cl, C, kept, -1.0, out, upload_sum};
    const fr_fedmsmt_checkpoint *ck = &o->checkpoint;
    int checkpoints = ck->path && *ck->path;
    if (s == FR_OK && checkpoints && ck->resume) {
        /* Several ranks: rank 0 reads, every rank takes the state. */
        s = me == 0 ? fr_fedmsmt_checkpoint_read(o, t, &st) : FR_OK;
        if (ranks > 1)
            s = fr_fedmsmt_broadcast_state(f, o, &st, s);
        if (s == FR_OK && ck->resumed)
            s = ck->resumed(arg, out->rounds);
        if (ranks > 1)
            s = fr_comm_agree(comm, s);
    }
    for (size_t round = out->rounds + 1; s == FR_OK && round <= o->rounds; round++) {
        memset(r, 0, sizeof *r);
        r->round = round;
        double tr = fr_clock_seconds();
        uint64_t sent0 = 0, received0 = 0;
        if (ranks > 1)
            fr_comm_traffic(comm, &sent0, &received0);
        const fr_participation *pa = &o->participation;
        x.rp = (round_progress){&o->progress, 0, 0, ranks == 1, 0};
        for (size_t c = 0; c < C; c++)
            if (fr_fed_owner(f, c) == me && !fr_participation_late_drawn(pa, o->seed, (uint32_t)round, (uint32_t)c))
                x.rp.total += o->local_epochs * fr_msmt_pass_batches(cl[c].n_rows[FR_SPLIT_TRAIN], o->batch, o->block_rows);
        if (ranks > 1 && o->progress.fn) {
            /* Several ranks stop between rounds only, all after the same
             * one: whether any rank's hook asks, agreed before each round. */
            int any = 0;
            s = fr_comm_max_int(comm, fr_progress_call(&o->progress, FR_PROGRESS_TRAIN, "batch", 0, x.rp.total) != 0,
                                &any);
            if (s == FR_OK && any) {
                out->stopped = 1;
                break;
            }
        }
        /* The core's round: training, arrivals, screening, the units
         * combined and loaded back (round: 0-based). */
        fr_fed_round fround;
        x.stopped = 0;
        s = fr_fed_run_round(f, (unsigned)(round - 1), &fround);
        if (s != FR_OK && x.stopped) { /* one rank: the round is abandoned */
            s = FR_OK;
            out->stopped = 1;
            break;
        }
        r->local_seconds = fround.t_local;
        r->comm_seconds = fround.t_comm;
        r->trained_here = fround.trained_here;
        r->train_loss = fround.train_loss;
        r->participants = fround.participants;
        r->rejected = fround.rejected;
        r->aggregated = fround.aggregated;
        r->conflicts = fround.conflicts;
        for (size_t c = 0; s == FR_OK && c < C; c++) {
            const fr_fed_upload *up = fr_fed_upload_of(f, c);
            r->upload_bytes[c] = up ? up->bytes_up : 0;
        }
        r->aggregate_seconds = fround.t_aggregate;
        r->train_seconds = fr_clock_seconds() - tr - r->aggregate_seconds;
        double te = fr_clock_seconds();
        /* eval_every: the same rounds on every rank */
        r->evaluated = o->eval_every <= 1 || round % o->eval_every == 0 || round == o->rounds;
        if (r->evaluated)
            fr_progress_call(&o->progress, FR_PROGRESS_EVAL, "client", 0, C);
        r->valid.n_scenarios = r->test.n_scenarios = C;
        r->valid.n_tasks = r->test.n_tasks = t->n_tasks;
        for (size_t c = 0; c < C; c++)
            for (size_t k = 0; k < t->n_tasks; k++)
                r->valid.auc[c][k] = r->test.auc[c][k] = r->valid.logloss[c][k] = r->test.logloss[c][k] = NAN;
        for (size_t c = 0; s == FR_OK && r->evaluated && c < C; c++) {
            if (fr_fed_owner(f, c) != me)
                continue;
            fr_msmt_eval e;
            s = fr_msmt_evaluate_rows(cl[c].m, t, cl[c].rows[FR_SPLIT_VALID], cl[c].n_rows[FR_SPLIT_VALID], &e);
            if (s == FR_OK)
                merge_eval(&r->valid, &e, c);
            if (s == FR_OK)
                s = fr_msmt_evaluate_rows(cl[c].m, t, cl[c].rows[FR_SPLIT_TEST], cl[c].n_rows[FR_SPLIT_TEST], &e);
            if (s == FR_OK)
                merge_eval(&r->test, &e, c);
        }
        if (ranks > 1) {
            double tx = fr_clock_seconds();
            s = fr_comm_agree(comm, s);
            if (s == FR_OK && r->evaluated)
                s = fr_fedmsmt_exchange_eval(f, t->n_tasks, &r->valid, &r->test);
            r->comm_seconds += fr_clock_seconds() - tx;
            uint64_t sent, received;
            fr_comm_traffic(comm, &sent, &received);
            r->bytes_sent = sent - sent0;
            r->bytes_received = received - received0;
        }
        finish_means(&r->valid);
        finish_means(&r->test);
        r->eval_seconds = fr_clock_seconds() - te;
        r->seconds = fr_clock_seconds() - tr;
        if (s == FR_OK && !isfinite(r->train_loss)) {
            s = fr_fail(FR_ERR_NUMERIC, "federated training: loss is %g in round %zu (learning rate too high?)",
                        r->train_loss, round);
            if (ranks > 1) /* every rank sees the same loss: one shared verdict */
                s = fr_comm_agree(comm, s);
        }
        if (s != FR_OK)
            break;
        r->improved = r->evaluated && r->valid.mean_auc > st.best;
        if (r->evaluated && (r->improved || !out->best_round)) { /* until one is best: the last evaluated */
            out->valid = r->valid;
            out->test = r->test;
        }
        if (kept && (r->improved || o->keep_last)) {
            s = keep_clients(cl, C, f, kept);
            if (ranks > 1) /* every rank improved alike: one verdict */
                s = fr_comm_agree(comm, s);
        }
        if (s != FR_OK)
            break;
        if (r->improved) {
            st.best = r->valid.mean_auc;
            out->best_round = round;
        }
        r->seconds = fr_clock_seconds() - tr; /* keeping the best parameters included */
        out->rounds = round;
        out->train_seconds += r->train_seconds;
        out->eval_seconds += r->eval_seconds;
        out->aggregate_seconds += r->aggregate_seconds;
        out->conflicts += r->conflicts;
        for (size_t c = 0; c < C; c++)
            upload_sum[c] += r->upload_bytes[c];
        if (on_round)
            on_round(arg, r);
        if (checkpoints && (ck->every <= 1 || round % ck->every == 0 || round == o->rounds)) {
            /* Several ranks: every client's state to rank 0, which writes
             * the one-process file; one verdict. */
            if (ranks > 1)
                s = fr_fedmsmt_share_state(f, cl, C, kept);
            if (s == FR_OK && me == 0)
                s = fr_fedmsmt_checkpoint_write(o, t, &st);
            if (ranks > 1)
                s = fr_comm_agree(comm, s);
        }
    }
    /* No round with a defined validation AUC (no validation rows, or one
     * class only in every cell): report the last round. */
    if (s == FR_OK && out->rounds && !out->best_round) {
        out->best_round = out->rounds; /* its figures are in out already */
        if (kept && !o->keep_last) /* keep_last: already kept */
            s = keep_clients(cl, C, f, kept);
    }
    if (s == FR_OK && !out->rounds) { /* stopped in the first round: nothing to report */
        fr_msmt_eval *e[2] = {&out->valid, &out->test};
        for (int q = 0; q < 2; q++) {
            e[q]->n_scenarios = C;
            e[q]->n_tasks = t->n_tasks;
            for (size_t c = 0; c < C; c++)
                for (size_t k = 0; k < t->n_tasks; k++)
                    e[q]->auc[c][k] = e[q]->logloss[c][k] = NAN;
            e[q]->mean_auc = e[q]->mean_logloss = NAN;
        }
    }
    if (kept) /* collective: agrees on s first */
        s = hand_over(comm, f, cl, C, ranks, kept, s, out);
    for (size_t c = 0; c < C && out->rounds; c++)
        out->upload_bytes_per_round[c] = upload_sum[c] / out->rounds;
    out->seconds = fr_clock_seconds() - t0;
    for (size_t c = 0; c < C; c++) {
        client_free(&cl[c]);
        if (kept)
            free(kept[c]);
    }
    fr_fed_free(f);
    fr_pool_destroy(pool);
    free(kept);
    free(cl);
    free(r);
    return s;
}
