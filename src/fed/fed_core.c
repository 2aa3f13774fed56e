/* fed_core.c — the federation core's rounds (see fed_core.h).
 *
 * A round: the model's round_begin; sample clients (stream (seed, round,
 * 0, FR_RNG_SAMPLING)), in increasing id order; mark those the simulated
 * clock makes late; train this rank's share on the pool's threads through
 * the client interface, screening each update as it comes; with several
 * ranks, exchange the records; then aggregate the participants' updates
 * in client-id order (mean, robust, secure), add DP noise, average the
 * shared personal values. Draws per client come from streams keyed by
 * (seed, round + 1, client), so nothing depends on which thread or rank
 * ran which client. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "core/progress_call.h"
#include "fed/fed_internal.h"
#include "fedrec/rng.h"

/* Clients a round samples out of n. */
static size_t sample_size(double fraction, size_t n)
{
    size_t want = n;
    if (fraction < 1.0) {
        want = (size_t)(fraction * (double)n + 0.5);
        if (want < 1)
            want = 1;
    }
    return want;
}

double fr_fed_sampling_rate(double client_fraction, size_t n_clients)
{
    return n_clients ? (double)sample_size(client_fraction, n_clients) / (double)n_clients : 1.0;
}

fr_status fr_fed_options_check(const fr_fed_options *o)
{
    if (!(o->client_fraction > 0.0 && o->client_fraction <= 1.0))
        return fr_fail(FR_ERR_INVALID, "federation: need 0 < client fraction <= 1, got %g", o->client_fraction);
    FR_TRY(fr_participation_check(&o->participation));
    if (!(o->clip_norm >= 0) || !(o->fault_nan >= 0 && o->fault_huge >= 0 && o->fault_nan + o->fault_huge <= 1))
        return fr_fail(FR_ERR_INVALID, "federation: need clip_norm >= 0 and fault probabilities >= 0 summing to at most 1");
    if ((unsigned)o->aggregator > FR_AGG_ROW_MEAN || !(o->trim >= 0 && o->trim < 0.5))
        return fr_fail(FR_ERR_INVALID, "federation: unknown aggregator %d or trim %g outside [0, 0.5)", (int)o->aggregator,
                       o->trim);
    if (!(o->local_noise >= 0) || !isfinite(o->local_noise) || !(o->dp_noise >= 0) || !isfinite(o->dp_noise))
        return fr_fail(FR_ERR_INVALID, "federation: local_noise and dp_noise must be finite and >= 0");
    if (o->dp_noise > 0 && (!(o->clip_norm > 0) || !(o->dp_delta > 0 && o->dp_delta < 1)))
        return fr_fail(FR_ERR_INVALID, "DP-FedAvg needs clip_norm > 0 and 0 < delta < 1");
    if (o->aggregator == FR_AGG_ROW_MEAN && (!(o->server_lr > 0) || o->weighted || o->dp_noise > 0 || o->secure_agg))
        return fr_fail(FR_ERR_INVALID, "federation: the per-row mean needs a server learning rate > 0 (got %g), and is not for a sample-weighted mean, DP or secure aggregation",
                       (double)o->server_lr);
    if (o->secure_agg && o->secure_neighbours < 1)
        return fr_fail(FR_ERR_INVALID, "secure aggregation: needs at least 1 neighbour on each side");
    return FR_OK;
}

fr_fed_state *fr_fed_state_of(fr_fed *f)
{
    return &f->st;
}

void fr_fed_borrow_table(fr_fed *f, float *table)
{
    if (!f->table_borrowed)
        free(f->st.table);
    f->st.table = table;
    f->table_borrowed = 1;
}

fr_comm *fr_fed_comm(const fr_fed *f)
{
    return f->comm;
}

int fr_fed_rank(const fr_fed *f)
{
    return f->rank;
}

int fr_fed_ranks(const fr_fed *f)
{
    return f->ranks;
}

void fr_fed_free(fr_fed *p)
{
    if (!p)
        return;
    if (!p->table_borrowed)
        free(p->st.table);
    free(p->st.dense);
    fr_fed_ordered_free(p);
    free(p->row_sum);
    free(p->row_count);
    free(p->spare.rows);
    free(p->spare.delta);
    free(p->sampled);
    for (size_t k = 0; p->outs && k < p->n_clients; k++) {
        free(p->outs[k].rows);
        free(p->outs[k].delta);
        free(p->outs[k].dense_delta);
        free(p->outs[k].values);
    }
    fr_fed_clients_free(p);
    free(p->outs);
    free(p->todo);
    free(p->rows_to);
    free(p->block_start);
    free(p);
}

fr_status fr_fed_create(const fr_fed_options *o, size_t n_clients, size_t n_rows, size_t width, size_t n_dense,
                        fr_pool *pool, const fr_fed_client_ops *ops, void *model, fr_fed **out)
{
    *out = NULL;
    FR_TRY(fr_fed_options_check(o));
    if (n_clients == 0 || (n_rows > 0 && width == 0))
        return fr_fail(FR_ERR_INVALID, "federation: %zu clients and rows of %zu values; need at least one client and a row width",
                       n_clients, width);
    if (o->share_personal && (ops->n_personal == 0 || !ops->personal_get || !ops->personal_set))
        return fr_fail(FR_ERR_INVALID, "federation: shared personal values asked of a model that has none");
    fr_fed *p = calloc(1, sizeof *p);
    if (!p)
        return fr_fail_nomem("federation", sizeof *p);
    p->o = *o;
    p->n_clients = n_clients;
    p->st.n_rows = n_rows;
    p->st.width = width;
    p->st.n_dense = n_dense;
    p->pool = pool;
    p->ops = ops;
    p->model = model;
    p->ranks = 1;
    p->st.table = n_rows ? calloc(n_rows * width, sizeof *p->st.table) : NULL;
    p->st.dense = n_dense ? calloc(n_dense, sizeof *p->st.dense) : NULL;
    p->sampled = malloc(n_clients * sizeof *p->sampled);
    p->outs = calloc(n_clients, sizeof *p->outs);
    p->todo = malloc(n_clients * sizeof *p->todo);
    if ((n_rows && !p->st.table) || (n_dense && !p->st.dense) || !p->sampled || !p->outs || !p->todo) {
        fr_fed_free(p);
        return fr_fail_nomem("federation state", (n_rows * width + n_dense) * sizeof(float) + n_clients * 64);
    }
    *out = p;
    return FR_OK;
}

fr_status fr_fed_create_per_client(const fr_fed_options *o, size_t n_clients, fr_pool *pool,
                                   const fr_fed_client_ops *ops, const fr_fed_vector_ops *vops, void *model,
                                   fr_fed **out)
{
    FR_TRY(fr_fed_create(o, n_clients, 0, 0, 0, pool, ops, model, out));
    fr_fed *p = *out;
    p->per_client = 1;
    p->vops = *vops;
    fr_status s = fr_fed_clients_ready(p);
    if (s != FR_OK) {
        fr_fed_free(p);
        *out = NULL;
    }
    return s;
}

/* ---- rounds ------------------------------------------------------------------ */

typedef struct round_job {
    fr_fed *p;
    size_t chunk;        /* clients per task */
    /* The progress hook's count of clients through, and who is calling
     * it (calls must not overlap; a busy hook skips a count). */
    atomic_size_t done;
    atomic_flag hook_busy;
} round_job;

/* A worker's client is through: tell the hook, unless another worker is
 * telling it now. The round always finishes: a stop request is the
 * caller's to act on between rounds. */
static void client_through(round_job *job)
{
    size_t done = atomic_fetch_add(&job->done, 1) + 1;
    if (job->p->o.progress.fn && !atomic_flag_test_and_set(&job->hook_busy)) {
        fr_progress_call(&job->p->o.progress, FR_PROGRESS_TRAIN, "client", done, job->p->n_todo);
        atomic_flag_clear(&job->hook_busy);
    }
}

/* Past the round's wall-clock deadline? */
static int past_deadline(const fr_fed *p)
{
    return fr_participation_past(&p->o.participation, p->round_start);
}

/* Trains a chunk of the round's clients in order; stops at the first
 * failure (which ends the round) and returns it, its message on this
 * thread for the pool to carry to the caller. */
static fr_status run_chunk(void *arg, size_t task)
{
    round_job *job = arg;
    fr_fed *p = job->p;
    size_t begin = task * job->chunk, end = begin + job->chunk;
    if (end > p->n_todo)
        end = p->n_todo;
    void *worker = NULL;
    fr_status st = p->ordered ? fr_fed_ordered_worker(p, &worker) : p->ops->worker_create(p->model, &worker);
    if (st != FR_OK) {
        if (p->ordered)
            fr_fed_ordered_abort(p);
        return st;
    }
    for (size_t i = begin; st == FR_OK && i < end; i++) {
        fr_fed_upload *out = &p->outs[p->todo[i]];
        if (past_deadline(p)) { /* a straggler: not started in time */
            out->late = 1;
            if (p->ordered)
                fr_fed_ordered_done(p, i);
            continue;
        }
        if (p->ordered) {
            fr_fed_ordered_wait(p, i); /* not too far ahead of the fold */
            if (!out->rows) /* buffers of an upload already folded */
                fr_fed_ordered_take(p, out);
        }
        size_t c = (size_t)p->sampled[p->todo[i]];
        if (p->streaming && !out->rows) { /* the buffers the last client's upload left */
            out->rows = p->spare.rows;
            out->delta = p->spare.delta;
            out->cap_rows = p->spare.cap_rows;
            p->spare.rows = NULL;
            p->spare.delta = NULL;
            p->spare.cap_rows = 0;
        }
        st = p->ops->train(p->model, worker, p->round, c, &p->st, out);
        out->trained = 1;
        if (st == FR_OK && !p->per_client) /* per-client state: screened once every arrival is known */
            fr_fed_screen_update(p, c, out);
        out->late = past_deadline(p);
        if (p->streaming) { /* folded in client order, its buffers passed on */
            if (st == FR_OK && fr_fed_participates(out))
                fr_fed_row_fold(p, out);
            if (!p->spare.rows) {
                p->spare.rows = out->rows;
                p->spare.delta = out->delta;
                p->spare.cap_rows = out->cap_rows;
                out->rows = NULL;
                out->delta = NULL;
                out->cap_rows = 0;
            }
        }
        if (p->ordered && st == FR_OK)
            fr_fed_ordered_done(p, i);
        client_through(job);
    }
    if (p->ordered)
        fr_fed_ordered_worker_back(p, worker);
    else
        p->ops->worker_destroy(p->model, worker);
    if (p->ordered && st != FR_OK) /* the fold will not reach past this client */
        fr_fed_ordered_abort(p);
    return st;
}

/* The model trains cohorts (train_cohort): this rank's clients of the
 * round in groups of cohort_clients, in client order, from the driving
 * thread; each group's clients are late when the group ends past the
 * deadline, and a group not started by then is not trained. */
static fr_status run_cohorts(round_job *job)
{
    fr_fed *p = job->p;
    size_t per = p->ops->cohort_clients ? p->ops->cohort_clients : p->n_todo;
    if (per > p->n_todo)
        per = p->n_todo;
    if (per == 0)
        return FR_OK;
    size_t *clients = malloc(per * sizeof *clients);
    fr_fed_upload **ups = malloc(per * sizeof *ups);
    if (!clients || !ups) {
        free(clients);
        free(ups);
        return fr_fail_nomem("a cohort's client list", per * 16);
    }
    fr_status st = FR_OK;
    for (size_t at = 0; st == FR_OK && at < p->n_todo; at += per) {
        size_t n = p->n_todo - at < per ? p->n_todo - at : per;
        if (past_deadline(p)) { /* stragglers: not started in time */
            for (size_t i = at; i < p->n_todo; i++)
                p->outs[p->todo[i]].late = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            clients[i] = (size_t)p->sampled[p->todo[at + i]];
            ups[i] = &p->outs[p->todo[at + i]];
            if (p->ordered && !ups[i]->rows)
                fr_fed_ordered_take(p, ups[i]);
        }
        st = p->ops->train_cohort(p->model, p->round, clients, n, &p->st, ups);
        int late = past_deadline(p);
        for (size_t i = 0; i < n; i++) {
            ups[i]->trained = 1;
            if (st == FR_OK)
                fr_fed_screen_update(p, clients[i], ups[i]);
            ups[i]->late = late;
            if (p->ordered && st == FR_OK)
                fr_fed_ordered_done(p, at + i);
            client_through(job);
        }
    }
    free(clients);
    free(ups);
    return st;
}

static int compare_client(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Clients of this round: all, or a uniform sample of the fraction asked
 * (at least one), in increasing id order. */
static void sample_clients(fr_fed *p)
{
    size_t nu = p->n_clients, want = sample_size(p->o.client_fraction, nu);
    for (size_t u = 0; u < nu; u++)
        p->sampled[u] = (int32_t)u;
    if (want < nu) {
        fr_rng rng;
        fr_rng_init(&rng, p->o.seed, p->round, 0, FR_RNG_SAMPLING);
        for (size_t i = 0; i < want; i++) { /* partial Fisher-Yates */
            size_t j = i + fr_rng_below(&rng, (uint32_t)(nu - i));
            int32_t t = p->sampled[i];
            p->sampled[i] = p->sampled[j];
            p->sampled[j] = t;
        }
        /* Sort the sample: aggregation runs in client-id order (qsort:
         * an insertion sort here was quadratic in the sample size, which
         * a million-client run cannot afford). */
        qsort(p->sampled, want, sizeof *p->sampled, compare_client);
    }
    p->n_sampled = want;
}

/* This rank's clients of the round into p->todo; under the simulated
 * clock, the sampled clients whose drawn arrival misses the deadline are
 * marked late and not trained (on every rank alike). */
static void plan_training(fr_fed *p)
{
    p->n_todo = 0;
    p->round_start = fr_clock_seconds();
    for (size_t k = 0; k < p->n_sampled; k++) {
        size_t u = (size_t)p->sampled[k];
        if (fr_participation_late_drawn(&p->o.participation, p->o.seed, p->round + 1, (uint32_t)u)) {
            p->outs[k].late = 1;
            continue;
        }
        if (p->ranks <= 1 || fr_fed_owner(p, u) == p->rank)
            p->todo[p->n_todo++] = k;
    }
}

/* The uploads' buffers stay; their marks and counts start afresh. */
static fr_status reset_uploads(fr_fed *p)
{
    for (size_t k = 0; k < p->n_sampled; k++) {
        fr_fed_upload *o = &p->outs[k];
        int32_t *rows = o->rows;
        float *delta = o->delta, *dense_delta = o->dense_delta, *values = o->values;
        size_t cap = o->cap_rows, cap_values = o->cap_values;
        memset(o, 0, sizeof *o);
        o->rows = rows;
        o->delta = delta;
        o->dense_delta = dense_delta;
        o->cap_rows = cap;
        o->values = values;
        o->cap_values = cap_values;
        if (p->per_client) /* sized for its client, on every rank (the records fill them) */
            FR_TRY(fr_fed_clients_values(p, k));
    }
    return FR_OK;
}

/* Shared personal values: every sampled client starts from the mean over
 * all clients (mean: n_personal values). */
static void personal_start(fr_fed *p, float *mean, float *v)
{
    size_t n = p->ops->n_personal;
    memset(mean, 0, n * sizeof *mean);
    for (size_t u = 0; u < p->n_clients; u++) {
        p->ops->personal_get(p->model, u, v);
        for (size_t c = 0; c < n; c++)
            mean[c] += v[c] / (float)p->n_clients;
    }
    for (size_t k = 0; k < p->n_sampled; k++)
        p->ops->personal_set(p->model, (size_t)p->sampled[k], mean);
}

/* After the aggregate: every client gets the participants' mean. */
static void personal_end(fr_fed *p, size_t participants, float *mean, float *v)
{
    size_t n = p->ops->n_personal;
    memset(mean, 0, n * sizeof *mean);
    for (size_t k = 0; k < p->n_sampled; k++) {
        if (!fr_fed_participates(&p->outs[k]))
            continue;
        p->ops->personal_get(p->model, (size_t)p->sampled[k], v);
        for (size_t c = 0; c < n; c++)
            mean[c] += v[c] / (float)participants;
    }
    for (size_t u = 0; u < p->n_clients; u++)
        p->ops->personal_set(p->model, u, mean);
}

/* The round's aggregate of the participants' updates into the state. */
static fr_status aggregate(fr_fed *p, double total_samples, size_t participants, double *t_comm,
                           size_t *conflicts)
{
    fr_status s;
    if (p->per_client) { /* unit by unit, each participant its own result */
        s = fr_fed_clients_aggregate(p, conflicts);
        return s == FR_OK ? fr_fed_clients_load(p) : s;
    } else if (p->ordered) { /* folded as the uploads came, dense part included */
        fr_fed_ordered_commit(p, participants);
        return FR_OK;
    } else if (p->o.secure_agg) {
        s = fr_fed_secure_aggregate(p, total_samples, participants);
    } else if (p->o.aggregator == FR_AGG_ROW_MEAN && p->ranks <= 1) {
        s = fr_fed_row_mean(p);
    } else if (p->o.aggregator != FR_AGG_MEAN && p->o.aggregator != FR_AGG_ROW_MEAN) {
        s = fr_fed_robust_aggregate(p, participants);
    } else if (p->ranks > 1) { /* the per-row mean goes by range whatever the placement */
        double tc = fr_clock_seconds();
        s = p->o.participation.placement == FR_PLACE_CONTIGUOUS && p->o.aggregator == FR_AGG_MEAN
                ? fr_fed_aggregate_chain(p, total_samples, participants)
                : fr_fed_aggregate_ranks(p, total_samples, participants);
        *t_comm += fr_clock_seconds() - tc;
    } else {
        fr_fed_apply_clients(p, 0, p->n_sampled, 0, FR_FED_GROUPS, total_samples, participants);
        s = FR_OK;
    }
    /* The dense part: the same mean, in client-id order (secure and
     * robust aggregation took it with the rows). */
    for (size_t k = 0; s == FR_OK && p->st.dense && !p->o.secure_agg &&
                       (p->o.aggregator == FR_AGG_MEAN || p->o.aggregator == FR_AGG_ROW_MEAN) &&
                       k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (fr_fed_participates(o))
            fr_fed_apply_row(p->st.dense, fr_fed_scale(p, o, total_samples, participants), o->dense_delta,
                             p->st.n_dense);
    }
    return s;
}

fr_status fr_fed_run_round(fr_fed *p, unsigned round, fr_fed_round *out)
{
    memset(out, 0, sizeof *out);
    p->round = round;
    if (p->ops->round_begin)
        p->ops->round_begin(p->model, round);
    sample_clients(p);
    size_t d = p->st.width, n_personal = p->o.share_personal ? p->ops->n_personal : 0;
    float *mean = NULL, *v = NULL;
    if (n_personal) {
        mean = malloc(n_personal * sizeof *mean);
        v = malloc(n_personal * sizeof *v);
        if (!mean || !v) {
            free(mean);
            free(v);
            return fr_fail_nomem("shared personal values", n_personal * 8);
        }
        personal_start(p, mean, v);
    }
    fr_status rs0 = reset_uploads(p);
    if (rs0 != FR_OK) {
        free(mean);
        free(v);
        return rs0;
    }
    plan_training(p);
    /* Clients one after another in client order: the per-row mean folds
     * each upload as it comes. */
    p->streaming = p->o.aggregator == FR_AGG_ROW_MEAN && fr_pool_threads(p->pool) == 1 && p->ranks <= 1 &&
                   !p->ops->train_cohort;
    if (p->streaming) {
        fr_status rs = fr_fed_row_sums_ready(p);
        if (rs != FR_OK) {
            free(mean);
            free(v);
            return rs;
        }
    }
    p->ordered = !p->streaming && fr_fed_ordered_applies(p);
    if (p->ordered) {
        fr_status os = fr_fed_ordered_begin(p);
        if (os != FR_OK) {
            free(mean);
            free(v);
            return os;
        }
    }
    int threads = fr_pool_threads(p->pool);
    round_job job = {p, (p->n_todo + 8 * (size_t)threads - 1) / (8 * (size_t)threads), 0, ATOMIC_FLAG_INIT};
    /* Folding in order: small chunks, so that few uploads wait behind a
     * slower chunk (workers are kept over chunks, fed_ordered.c). */
    if (p->ordered && job.chunk > 4)
        job.chunk = 4;
    if (job.chunk == 0)
        job.chunk = 1;
    double t_local = fr_clock_seconds();
    /* The first failing client's status, with its message. */
    fr_status s = p->ops->train_cohort ? run_cohorts(&job)
                  : fr_pool_try(p->pool, (p->n_todo + job.chunk - 1) / job.chunk, run_chunk, &job);
    if (p->ordered) {
        fr_fed_ordered_finish(p);
        fr_fed_ordered_end_round(p);
    }
    out->t_local = fr_clock_seconds() - t_local;
    double t_comm = 0;
    uint64_t sent0 = 0, received0 = 0;
    if (p->ranks > 1) { /* every rank learns every trained client's record */
        fr_comm_traffic(p->comm, &sent0, &received0);
        double tc = fr_clock_seconds();
        s = p->per_client ? fr_fed_exchange_clients(p, s) : fr_fed_exchange_records(p, s);
        t_comm += fr_clock_seconds() - tc;
    }

    /* Aggregate in client-id order: E += sum_c scale_c * delta_c over the
     * updates that arrived in time. */
    double t_agg = fr_clock_seconds();
    /* Per-client state: the arrivals screened now, on every rank alike
     * (which units an update shares depends on who arrived). */
    if (s == FR_OK && p->per_client && !p->o.local_only)
        s = fr_fed_clients_screen(p);
    double total_samples = 0, trained_samples = 0, loss = 0, client_losses = 0;
    size_t participants = 0, trained = 0, rejected = 0, clients_trained = 0;
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (!o->trained)
            continue;
        clients_trained++; /* per-client state: every trained client's mean loss, refused or not */
        client_losses += o->loss_sum;
        if (o->rejected) { /* its loss may be what is not finite */
            rejected++;
            continue;
        }
        trained++;
        trained_samples += (double)o->samples;
        loss += o->loss_sum;
        if (fr_fed_participates(o)) {
            participants++;
            total_samples += (double)o->samples;
        }
    }
    int aggregated = !p->o.local_only && fr_participation_quorum(&p->o.participation, participants);
    if (s == FR_OK && aggregated)
        s = aggregate(p, total_samples, participants, &t_comm, &out->conflicts);
    else if (p->streaming) /* folded, but not to be applied */
        fr_fed_row_discard(p);
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++)
        if (p->per_client)
            out->bytes_up += p->outs[k].bytes_up;
        else if (fr_fed_participates(&p->outs[k]) && p->o.secure_agg) /* dense, masked, 64-bit */
            out->bytes_up += (uint64_t)(p->st.n_rows * d + p->st.n_dense) * sizeof(uint64_t);
        else if (fr_fed_participates(&p->outs[k]))
            out->bytes_up += (uint64_t)p->outs[k].n_rows * (d * sizeof(float) + sizeof(int32_t)) +
                             n_personal * sizeof(float) + p->st.n_dense * sizeof(float);
    if (s == FR_OK && aggregated && p->o.dp_noise > 0)
        fr_fed_dp_noise(p);
    if (s == FR_OK && p->o.dp_noise > 0)
        s = fr_fed_dp_epsilon(p, round + 1, &out->dp_epsilon);
    if (s == FR_OK && aggregated && n_personal)
        personal_end(p, participants, mean, v);
    out->t_aggregate = fr_clock_seconds() - t_agg;
    for (size_t k = 0; k < p->n_sampled; k++) {
        out->t_negatives += p->outs[k].t_negatives;
        out->t_train += p->outs[k].t_train;
        out->t_eval += p->outs[k].t_eval;
    }
    free(mean);
    free(v);
    if (p->ranks > 1) {
        uint64_t sent, received;
        fr_comm_traffic(p->comm, &sent, &received);
        out->bytes_sent = sent - sent0;
        out->bytes_received = received - received0;
        out->t_comm = t_comm;
    }
    if (s != FR_OK)
        return s;
    out->clients = p->n_sampled;
    out->participants = participants;
    out->rejected = rejected;
    for (size_t i = 0; i < p->n_todo; i++)
        out->trained_here += (size_t)p->outs[p->todo[i]].trained;
    out->aggregated = aggregated;
    out->train_loss = trained_samples > 0 ? loss / trained_samples : 0.0;
    if (p->per_client) {
        /* A refused client keeps what it trained: no round fails for its
         * update; the loss is the model's to judge (the mean over the
         * trained clients of each one's). */
        out->train_loss = clients_trained ? client_losses / (double)clients_trained : 0.0;
        return FR_OK;
    }
    const char *name = p->o.name ? p->o.name : "federated";
    if (rejected > 0 && trained == 0) {
        s = fr_fail(FR_ERR_NUMERIC, "%s round %u: every trained client's update (%zu) was rejected as not finite%s (learning rates too high?)",
                    name, round, rejected, p->o.secure_agg ? " or too large for secure aggregation's fixed point" : "");
        return p->ranks > 1 ? fr_comm_agree(p->comm, s) : s;
    }
    if (!isfinite(out->train_loss)) {
        s = fr_fail(FR_ERR_NUMERIC, "%s round %u: training loss is %g (learning rates too high?)", name, round,
                    out->train_loss);
        /* Every rank sees the same loss: one shared verdict, one message. */
        return p->ranks > 1 ? fr_comm_agree(p->comm, s) : s;
    }
    return FR_OK;
}

fr_status fr_fed_set_comm(fr_fed *p, fr_comm *c, const char *job_fingerprint, uint64_t data_fingerprint,
                          const char *data_name)
{
    int ranks = c ? fr_comm_size(c) : 1;
    if (ranks > 1 && p->o.aggregator != FR_AGG_MEAN && p->o.aggregator != FR_AGG_ROW_MEAN)
        return fr_fail(FR_ERR_UNSUPPORTED, "robust aggregation (median, trimmed mean) needs every upload in one place: run it without mpirun, not on %d ranks",
                       ranks);
    if (ranks > 1 && p->o.secure_agg)
        return fr_fail(FR_ERR_UNSUPPORTED, "secure aggregation runs in one process: run it without mpirun, not on %d ranks",
                       ranks);
    if (ranks > 1) /* the same configuration and data on every rank */
        FR_TRY(fr_comm_same_job(c, job_fingerprint, data_fingerprint, data_name));
    /* Contiguous blocks of about equal work, by the clients' cost. */
    size_t *start = calloc((size_t)ranks + 1, sizeof *start);
    if (!start)
        return fr_fail_nomem("rank blocks", ((size_t)ranks + 1) * sizeof *start);
    double total = 0, at = 0;
    for (size_t u = 0; u < p->n_clients; u++)
        total += p->ops->cost(p->model, u);
    int r = 1;
    for (size_t u = 0; u < p->n_clients && r < ranks; u++) {
        while (r < ranks && at >= total * (double)r / (double)ranks)
            start[r++] = u;
        at += p->ops->cost(p->model, u);
    }
    while (r <= ranks)
        start[r++] = p->n_clients;
    free(p->block_start);
    p->block_start = start;
    p->comm = c;
    p->rank = c ? fr_comm_rank(c) : 0;
    p->ranks = ranks;
    return FR_OK;
}
