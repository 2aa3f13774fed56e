/* pfedrec.c — the PFedRec engine (see fedrec/pfedrec.h).
 *
 * A round: sample clients (stream (seed, round, 0, FR_RNG_SAMPLING)); train
 * each sampled client in parallel on a private overlay of the item rows it
 * touches, starting from the round's global table; evaluate its fine-tuned
 * model on its validation and test candidates; keep its changed rows; then
 * apply every client's changes to the global table in client-id order.
 * Draws per client come from streams keyed by (seed, round + 1, client), so
 * nothing depends on which worker ran which client. Per-client state is
 * w, b and the last evaluation figures: O(users * dim), not O(users * items). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "core/progress_call.h"
#include "fed/pfedrec_internal.h"
#include "io/crc32.h"
#include "fedrec/privacy.h"
#include "fedrec/rng.h"

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

/* Clients a round samples out of n_users. */
static size_t sample_size(double fraction, size_t n_users)
{
    size_t want = n_users;
    if (fraction < 1.0) {
        want = (size_t)(fraction * (double)n_users + 0.5);
        if (want < 1)
            want = 1;
    }
    return want;
}

double fr_pfedrec_sampling_rate(const fr_pfedrec_options *o, size_t n_users)
{
    return n_users ? (double)sample_size(o->client_fraction, n_users) / (double)n_users : 1.0;
}

const float *fr_pfedrec_items(const fr_pfedrec *p)
{
    return p->items;
}

void fr_pfedrec_free(fr_pfedrec *p)
{
    if (!p)
        return;
    fr_cpu_engine_destroy(p->engine);
    free(p->items);
    free(p->w);
    free(p->b);
    free(p->val_hr);
    free(p->val_ndcg);
    free(p->test_hr);
    free(p->test_ndcg);
    free(p->sampled);
    free(p->shared);
    free(p->m_users);
    free(p->v_users);
    free(p->m_items);
    free(p->v_items);
    free(p->pool_user);
    free(p->pool_item);
    free(p->pool_label);
    free(p->pool_start);
    for (size_t k = 0; p->outs && k < p->n_users; k++) {
        free(p->outs[k].rows);
        free(p->outs[k].delta);
        free(p->outs[k].shared_delta);
    }
    free(p->outs);
    free(p->todo);
    free(p->rows_to);
    free(p->block_start);
    free(p->job_fingerprint);
    fr_pf_keep_free(p);
    free(p);
}

/* ---- rounds ------------------------------------------------------------------ */

typedef struct round_job {
    fr_pfedrec *p;
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

/* Squared L2 norm of a client's whole update (item rows, FedNCF layers). */
static double update_norm2(const fr_pfedrec *p, const client_out *out, const float *shared)
{
    double norm2 = 0;
    for (size_t i = 0, n = out->n_rows * p->dim; i < n; i++)
        norm2 += (double)out->delta[i] * out->delta[i];
    for (size_t i = 0; shared && i < p->n_shared; i++)
        norm2 += (double)shared[i] * shared[i];
    return norm2;
}

/* Whether every value the client would mask (weight x change, as
 * fr_pf_secure_aggregate computes it) is below secure aggregation's bound
 * for a sum over the round's sampled clients: beyond it the fixed-point
 * sum would wrap around unseen. */
static int fits_secure_sum(const fr_pfedrec *p, const client_out *out, const float *shared)
{
    double bound = fr_secagg_bound(p->n_sampled);
    float weight = p->o.weighted ? (float)out->samples : 1.0f;
    for (size_t i = 0, n = out->n_rows * p->dim; i < n; i++)
        if (!(fabs((double)(weight * out->delta[i])) < bound))
            return 0;
    for (size_t i = 0; shared && i < p->n_shared; i++)
        if (!(fabs((double)(weight * shared[i])) < bound))
            return 0;
    return 1;
}

void fr_pf_screen_update(fr_pfedrec *p, size_t u, client_out *out)
{
    size_t n = out->n_rows * p->dim, d = p->dim;
    float *shared = p->shared ? out->shared_delta : NULL;
    if (p->o.fault_nan > 0 || p->o.fault_huge > 0) {
        fr_rng rng;
        fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)u, FR_RNG_FAULT);
        double draw = fr_rng_uniform_double(&rng);
        float factor = draw < p->o.fault_nan ? NAN : draw < p->o.fault_nan + p->o.fault_huge ? 1e6f : 1.0f;
        for (size_t i = 0; factor != 1.0f && i < n; i++)
            out->delta[i] *= factor;
        for (size_t i = 0; shared && factor != 1.0f && i < p->n_shared; i++)
            shared[i] *= factor;
    }
    double norm2 = update_norm2(p, out, shared);
    int finite = isfinite(norm2);
    if (p->o.share_score) { /* the score function travels too */
        for (size_t c = 0; c < d; c++)
            finite = finite && isfinite(p->w[u * d + c]);
        finite = finite && isfinite(p->b[u]);
    }
    if (!finite) {
        out->rejected = 1;
        return;
    }
    if (p->o.local_noise > 0) { /* before the clip, which then bounds what leaves the client (DP needs it) */
        fr_pf_local_noise(p, u, out);
        norm2 = update_norm2(p, out, shared);
    }
    if (p->o.clip_norm > 0 && norm2 > p->o.clip_norm * p->o.clip_norm) {
        float scale = (float)(p->o.clip_norm / sqrt(norm2));
        for (size_t i = 0; i < n; i++)
            out->delta[i] *= scale;
        for (size_t i = 0; shared && i < p->n_shared; i++)
            shared[i] *= scale;
    }
    if (p->o.secure_agg && !fits_secure_sum(p, out, shared))
        out->rejected = 1;
}

/* Past the round's wall-clock deadline? */
static int past_deadline(const fr_pfedrec *p)
{
    return fr_participation_past(&p->o.participation, p->round_start);
}

/* Trains a chunk of the round's clients in order; stops at the first
 * failure (which ends the round) and returns it, its message on this
 * thread for the engine to carry to the caller. */
static fr_status run_chunk(void *arg, size_t task)
{
    round_job *job = arg;
    fr_pfedrec *p = job->p;
    size_t begin = task * job->chunk, end = begin + job->chunk;
    if (end > p->n_todo)
        end = p->n_todo;
    scratch s;
    fr_status st = fr_pf_scratch_init(&s, p);
    if (st != FR_OK)
        return st;
    for (size_t i = begin; st == FR_OK && i < end; i++) {
        client_out *out = &p->outs[p->todo[i]];
        if (past_deadline(p)) { /* a straggler: not started in time */
            out->late = 1;
            continue;
        }
        st = fr_pf_train_client(p, &s, (size_t)p->sampled[p->todo[i]], out);
        out->trained = 1;
        if (st == FR_OK)
            fr_pf_screen_update(p, (size_t)p->sampled[p->todo[i]], out);
        out->late = past_deadline(p);
        fr_pf_scratch_reset(&s);
        client_through(job);
    }
    fr_pf_scratch_free(&s);
    return st;
}

/* Aggregation split over item-row ranges: each task applies, in client-id
 * order, the changes that fall in its range, so every row sums the same
 * way whatever the number of tasks. */
typedef struct agg_job {
    fr_pfedrec *p;
    size_t n_tasks, participants, k_begin, k_end, g_begin, g_end;
    double total_samples;
} agg_job;

/* Task t applies the upload groups of its share of [g_begin, g_end). */
static void aggregate_range(void *arg, size_t task)
{
    agg_job *job = arg;
    fr_pfedrec *p = job->p;
    size_t d = p->dim, width = job->g_end - job->g_begin;
    size_t g_lo = job->g_begin + task * width / job->n_tasks;
    size_t g_hi = job->g_begin + (task + 1) * width / job->n_tasks;
    for (size_t k = job->k_begin; k < job->k_end; k++) {
        const client_out *o = &p->outs[k];
        if (!fr_pf_participates(o))
            continue;
        float scale = fr_pf_scale(p, o, job->total_samples, job->participants);
        for (size_t r = o->group_start[g_lo]; r < o->group_start[g_hi]; r++)
            fr_pf_apply_row(p->items + (size_t)o->rows[r] * d, scale, o->delta + r * d, d);
    }
}

void fr_pf_apply_clients(fr_pfedrec *p, size_t k_begin, size_t k_end, size_t g_begin, size_t g_end,
                         double total_samples, size_t participants)
{
    size_t tasks = fr_pf_agg_tasks(p);
    if (tasks > g_end - g_begin)
        tasks = g_end - g_begin;
    if (tasks == 0)
        return;
    agg_job aj = {p, tasks, participants, k_begin, k_end, g_begin, g_end, total_samples};
    fr_cpu_parallel_for(p->engine, aj.n_tasks, aggregate_range, &aj);
}

static int compare_client(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Clients of this round: all, or a uniform sample of the fraction asked
 * (at least one), in increasing id order. */
static void sample_clients(fr_pfedrec *p)
{
    size_t nu = p->n_users, want = sample_size(p->o.client_fraction, nu);
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
static void plan_training(fr_pfedrec *p)
{
    p->n_todo = 0;
    p->round_start = fr_clock_seconds();
    for (size_t k = 0; k < p->n_sampled; k++) {
        size_t u = (size_t)p->sampled[k];
        if (fr_participation_late_drawn(&p->o.participation, p->o.seed, p->round + 1, (uint32_t)u)) {
            p->outs[k].late = 1;
            continue;
        }
        if (p->ranks <= 1 || fr_pf_owner(p, u) == p->rank)
            p->todo[p->n_todo++] = k;
    }
}

void fr_pf_summarise(const fr_pfedrec *p, fr_pfedrec_round *out)
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

void fr_pfedrec_set_evaluate(fr_pfedrec *p, int evaluate)
{
    p->skip_eval = !evaluate;
}

/* The round's figures: the users' last ones, or NaN in a round that did
 * not evaluate. */
static void figures(const fr_pfedrec *p, fr_pfedrec_round *out)
{
    out->evaluated = !p->skip_eval;
    if (out->evaluated)
        fr_pf_summarise(p, out);
    else
        out->val_hr = out->val_ndcg = out->test_hr = out->test_ndcg = NAN;
}

fr_status fr_pfedrec_run_round(fr_pfedrec *p, unsigned round, fr_pfedrec_round *out)
{
    double t0 = fr_clock_seconds();
    memset(out, 0, sizeof *out);
    p->round = round;
    if (p->o.algorithm == FR_ALGO_CENTRAL_MF) {
        FR_TRY(fr_pf_central_epoch(p, out));
        figures(p, out);
        out->seconds = fr_clock_seconds() - t0;
        if (p->keep)
            p->kept_round = round + 1;
        return FR_OK;
    }
    if (p->keep) /* the clients are evaluated on the table the round starts from */
        fr_pf_keep_round_start(p);
    sample_clients(p);
    size_t d = p->dim;
    /* With a shared score function every client starts from the mean. */
    float *mean_w = NULL;
    if (p->o.share_score) {
        mean_w = calloc(d + 1, sizeof *mean_w);
        if (!mean_w)
            return fr_fail_nomem("shared score", (d + 1) * 4);
        for (size_t u = 0; u < p->n_users; u++) {
            for (size_t c = 0; c < d; c++)
                mean_w[c] += p->w[u * d + c] / (float)p->n_users;
            mean_w[d] += p->b[u] / (float)p->n_users;
        }
        for (size_t k = 0; k < p->n_sampled; k++) {
            memcpy(p->w + (size_t)p->sampled[k] * d, mean_w, d * sizeof *mean_w);
            p->b[p->sampled[k]] = mean_w[d];
        }
    }
    for (size_t k = 0; k < p->n_sampled; k++) { /* keep the buffers */
        client_out *o = &p->outs[k];
        int32_t *rows = o->rows;
        float *delta = o->delta, *shared_delta = o->shared_delta;
        size_t cap = o->cap_rows;
        memset(o, 0, sizeof *o);
        o->rows = rows;
        o->delta = delta;
        o->shared_delta = shared_delta;
        o->cap_rows = cap;
    }
    plan_training(p);
    int threads = fr_cpu_engine_threads(p->engine);
    round_job job = {p, (p->n_todo + 8 * (size_t)threads - 1) / (8 * (size_t)threads), 0, ATOMIC_FLAG_INIT};
    if (job.chunk == 0)
        job.chunk = 1;
    double t_local = fr_clock_seconds();
    /* The first failing client's status, with its message. */
    fr_status s = fr_cpu_parallel_try(p->engine, (p->n_todo + job.chunk - 1) / job.chunk, run_chunk, &job);
    out->t_local = fr_clock_seconds() - t_local;
    double t_comm = 0;
    uint64_t sent0 = 0, received0 = 0;
    if (p->ranks > 1) { /* every rank learns every trained client's record */
        fr_comm_traffic(p->comm, &sent0, &received0);
        double tc = fr_clock_seconds();
        s = fr_pf_exchange_records(p, s);
        t_comm += fr_clock_seconds() - tc;
    }

    /* Aggregate in client-id order: E += sum_c scale_c * delta_c over the
     * updates that arrived in time. */
    double t_agg = fr_clock_seconds();
    double total_samples = 0, trained_samples = 0, loss = 0;
    size_t participants = 0, trained = 0;
    size_t rejected = 0;
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++) {
        const client_out *o = &p->outs[k];
        if (!o->trained)
            continue;
        if (o->rejected) { /* its loss may be what is not finite */
            rejected++;
            continue;
        }
        trained++;
        trained_samples += (double)o->samples;
        loss += o->loss_sum;
        if (fr_pf_participates(o)) {
            participants++;
            total_samples += (double)o->samples;
        }
    }
    int aggregate = fr_participation_quorum(&p->o.participation, participants);
    if (s == FR_OK && aggregate) {
        if (p->o.secure_agg) {
            s = fr_pf_secure_aggregate(p, total_samples, participants);
        } else if (p->o.aggregator != FR_AGG_MEAN) {
            s = fr_pf_robust_aggregate(p, participants);
        } else if (p->ranks > 1) {
            double tc = fr_clock_seconds();
            s = p->o.participation.placement == FR_PLACE_CONTIGUOUS ? fr_pf_aggregate_chain(p, total_samples, participants)
                                                      : fr_pf_aggregate_ranks(p, total_samples, participants);
            t_comm += fr_clock_seconds() - tc;
        } else {
            fr_pf_apply_clients(p, 0, p->n_sampled, 0, FR_PF_GROUPS, total_samples, participants);
        }
        /* FedNCF's shared layers: the same mean, in client-id order
         * (secure and robust aggregation took them with the item rows). */
        for (size_t k = 0; s == FR_OK && p->shared && !p->o.secure_agg && p->o.aggregator == FR_AGG_MEAN &&
                           k < p->n_sampled; k++) {
            const client_out *o = &p->outs[k];
            if (fr_pf_participates(o))
                fr_pf_apply_row(p->shared, fr_pf_scale(p, o, total_samples, participants), o->shared_delta,
                                p->n_shared);
        }
    }
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++)
        if (fr_pf_participates(&p->outs[k]) && p->o.secure_agg) /* dense, masked, 64-bit */
            out->bytes_up += (uint64_t)(p->n_items * d + p->n_shared) * sizeof(uint64_t);
        else if (fr_pf_participates(&p->outs[k]))
            out->bytes_up += (uint64_t)p->outs[k].n_rows * (d * sizeof(float) + sizeof(int32_t)) +
                             (p->o.share_score ? (d + 1) * sizeof(float) : 0) +
                             p->n_shared * sizeof(float);
    if (s == FR_OK && aggregate && p->o.dp_noise > 0)
        fr_pf_dp_noise(p);
    if (s == FR_OK && p->o.dp_noise > 0)
        s = fr_pf_dp_epsilon(p, round + 1, &out->dp_epsilon);
    if (s == FR_OK && aggregate && p->o.share_score) {
        /* The server's new score function: the mean of the trained ones. */
        memset(mean_w, 0, (d + 1) * sizeof *mean_w);
        for (size_t k = 0; k < p->n_sampled; k++) {
            if (!fr_pf_participates(&p->outs[k]))
                continue;
            size_t u = (size_t)p->sampled[k];
            for (size_t c = 0; c < d; c++)
                mean_w[c] += p->w[u * d + c] / (float)participants;
            mean_w[d] += p->b[u] / (float)participants;
        }
        for (size_t u = 0; u < p->n_users; u++) {
            memcpy(p->w + u * d, mean_w, d * sizeof *mean_w);
            p->b[u] = mean_w[d];
        }
    }
    out->t_aggregate = fr_clock_seconds() - t_agg;
    for (size_t k = 0; k < p->n_sampled; k++) {
        out->t_negatives += p->outs[k].t_negatives;
        out->t_train += p->outs[k].t_train;
        out->t_eval += p->outs[k].t_eval;
    }
    free(mean_w);
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
    out->aggregated = aggregate;
    out->train_loss = trained_samples > 0 ? loss / trained_samples : 0.0;
    if (rejected > 0 && trained == 0) {
        s = fr_fail(FR_ERR_NUMERIC, "PFedRec round %u: every trained client's update (%zu) was rejected as not finite%s (learning rates too high?)",
                    round, rejected, p->o.secure_agg ? " or too large for secure aggregation's fixed point" : "");
        return p->ranks > 1 ? fr_comm_agree(p->comm, s) : s;
    }
    if (!isfinite(out->train_loss)) {
        s = fr_fail(FR_ERR_NUMERIC, "PFedRec round %u: training loss is %g (learning rates too high?)", round,
                    out->train_loss);
        /* Every rank sees the same loss: one shared verdict, one message. */
        return p->ranks > 1 ? fr_comm_agree(p->comm, s) : s;
    }
    figures(p, out);
    out->seconds = fr_clock_seconds() - t0;
    if (p->keep)
        p->kept_round = round + 1;
    return FR_OK;
}

fr_status fr_pfedrec_set_comm(fr_pfedrec *p, fr_comm *c)
{
    int ranks = c ? fr_comm_size(c) : 1;
    if (ranks > 1 && p->o.algorithm == FR_ALGO_CENTRAL_MF)
        return fr_fail(FR_ERR_UNSUPPORTED, "centralised MF pools every user's data in one place: run it on one rank (without mpirun), not %d",
                       ranks);
    if (ranks > 1 && p->o.aggregator != FR_AGG_MEAN)
        return fr_fail(FR_ERR_UNSUPPORTED, "robust aggregation (median, trimmed mean) needs every upload in one place: run it without mpirun, not on %d ranks",
                       ranks);
    if (ranks > 1 && p->o.secure_agg)
        return fr_fail(FR_ERR_UNSUPPORTED, "secure aggregation runs in one process: run it without mpirun, not on %d ranks",
                       ranks);
    if (ranks > 1) /* the same configuration and data on every rank */
        FR_TRY(fr_comm_same_job(c, p->o.job_fingerprint, p->data_fingerprint, "rating data"));
    /* Contiguous blocks of about equal work: a client costs its training
     * samples plus its evaluation candidates (validation and test). */
    size_t *start = calloc((size_t)ranks + 1, sizeof *start);
    if (!start)
        return fr_fail_nomem("rank blocks", ((size_t)ranks + 1) * sizeof *start);
    double total = 0, at = 0, per_eval = 2.0 * (1.0 + (double)p->split->negatives_per_eval);
    for (size_t u = 0; u < p->n_users; u++)
        total += (double)fr_pf_samples_of(p, u) + per_eval;
    int r = 1;
    for (size_t u = 0; u < p->n_users && r < ranks; u++) {
        while (r < ranks && at >= total * (double)r / (double)ranks)
            start[r++] = u;
        at += (double)fr_pf_samples_of(p, u) + per_eval;
    }
    while (r <= ranks)
        start[r++] = p->n_users;
    free(p->block_start);
    p->block_start = start;
    p->comm = c;
    p->rank = c ? fr_comm_rank(c) : 0;
    p->ranks = ranks;
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
    p->n_users = split->n_users;
    p->n_items = split->n_items;
    p->dim = o->algorithm == FR_ALGO_FEDNCF ? 2 * o->dim : o->dim;
    size_t nu = p->n_users, d = p->dim;
    p->items = malloc(p->n_items * d * sizeof *p->items);
    p->w = malloc(nu * d * sizeof *p->w);
    p->b = malloc(nu * sizeof *p->b);
    p->val_hr = calloc(nu, sizeof(double));
    p->val_ndcg = calloc(nu, sizeof(double));
    p->test_hr = calloc(nu, sizeof(double));
    p->test_ndcg = calloc(nu, sizeof(double));
    p->sampled = malloc(nu * sizeof *p->sampled);
    p->outs = calloc(nu, sizeof *p->outs);
    p->todo = malloc(nu * sizeof *p->todo);
    p->ranks = 1;
    if (!p->items || !p->w || !p->b || !p->val_hr || !p->val_ndcg || !p->test_hr ||
        !p->test_ndcg || !p->sampled || !p->outs || !p->todo) {
        size_t bytes = (p->n_items + nu) * d * sizeof(float); /* p is gone after the free */
        fr_pfedrec_free(p);
        return fr_fail_nomem("PFedRec state", bytes);
    }
    if (o->algorithm == FR_ALGO_FEDNCF) {
        size_t n_shared = fr_ncf_shared_count(o);
        p->n_shared = n_shared;
        if (!(p->shared = malloc(n_shared * sizeof *p->shared))) {
            fr_pfedrec_free(p);
            return fr_fail_nomem("FedNCF layers", n_shared * sizeof(float));
        }
        fr_ncf_init_shared(o, p->shared);
    }
    if (o->algorithm == FR_ALGO_CENTRAL_MF) {
        fr_status st = fr_pf_central_alloc(p);
        if (st != FR_OK) {
            fr_pfedrec_free(p);
            return st;
        }
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 1);
    fr_cpu_isa isa = o->cpu_isa ? (fr_cpu_isa)o->cpu_isa : fr_cpu_isa_best();
    fr_status s = fr_cpu_engine_create(isa, threads, &p->engine);
    if (s != FR_OK) {
        fr_pfedrec_free(p);
        return s;
    }
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
    s = fr_pf_scratch_init(&sc, p);
    if (s != FR_OK) {
        fr_pfedrec_free(p);
        return s;
    }
    for (size_t u = 0; u < nu; u++)
        fr_pf_evaluate(p, &sc, u, p->w + u * d, p->b[u]);
    fr_pf_scratch_free(&sc);
    *out = p;
    return FR_OK;
}
