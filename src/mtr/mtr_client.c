/* mtr_client.c — the multi-task MF model's client for the federation core
 * (fedrec/fed_client.h; the rounds are the core's, wired by
 * src/job/mtrec_federated.c, see fedrec/mtrec.h, fr_mtr_federated_round):
 * the FedMF arrangement with the tasks and a gradient combiner inside
 * each client.
 *
 * A round: the core samples clients (stream (seed, round, 0,
 * FR_RNG_SAMPLING)); each, starting from the round's global item table, takes its own
 * interactions as one batch for each of its local steps (BPR negatives
 * from (seed, round, user + step x users, FR_RNG_NEGATIVES)), computes
 * every task's gradient on its user row and the item rows it touched,
 * combines them with the combiner, which is then computed from this
 * client's gradients alone (PMTRec: the weights of its own row and of each
 * item row as it sees it), steps its private row and its local copies of
 * the item rows by SGD, and uploads each changed item row's change. Local
 * copies live in the table itself during the client's turn (clients run
 * one after another: the core runs this client on one thread) and go back
 * to the global values after it. The core adds to each item row the mean
 * of the steps uploaded for it times a server learning rate (FedAvg's
 * server step; the mean of one-step updates is small next to a client's
 * own: FR_AGG_ROW_MEAN), in client-id order.
 *
 * Within a client the user side of DirectAU's uniformity is one distinct
 * row, so it is constant (no gradient); social links would need other
 * users' private rows and are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "mtr/mtr_internal.h"

void fr_mtr_federated_release(fr_mtr *m)
{
    if (m->fed_job_free)
        m->fed_job_free(m->fed_job);
    m->fed_job = NULL;
    m->fed_job_free = NULL;
    free(m->fed_start);
    free(m->fed_rows);
    free(m->fed_global);
    free(m->fed_changed);
    free(m->fed_changed_list);
    free(m->fed_fig);
    free(m->fed_fig_round);
    free(m->fed_fig_steps);
    fr_mtr_cohort_free(m->cohort);
    m->cohort = NULL;
    m->fed_fig = NULL;
    m->fed_fig_round = NULL;
    m->fed_fig_steps = NULL;
    m->fed_fig_steps_cap = 0;
    m->fed_global = NULL;
    m->fed_changed = NULL;
    m->fed_changed_list = NULL;
    m->fed_start = NULL;
    m->fed_rows = NULL;
    m->fed_ready = 0;
}

fr_status fr_mtr_client_prepare(fr_mtr *m)
{
    const fr_mtr_data *d = m->data;
    for (size_t k = 0; k < m->o.n_tasks; k++)
        if (m->o.tasks[k] == FR_MTR_SOCIAL)
            return fr_fail(FR_ERR_INVALID, "federated multi-task training: task social needs other users' rows, which stay on their clients; drop it from the tasks");
    if (m->o.combine.method == FR_COMBINE_GRADVAC)
        return fr_fail(FR_ERR_INVALID, "federated multi-task training: gradvac keeps targets across steps, which clients would share; use another combiner");
    /* every client's interactions must fit one step's scratch: checked
     * before anything is allocated */
    size_t *count = calloc(d->n_users ? d->n_users : 1, sizeof *count);
    if (!count)
        return fr_fail_nomem("federated multi-task state", d->n_users * sizeof *count);
    for (size_t i = 0; i < d->n_train; i++)
        count[d->train_user[i]]++;
    for (size_t u = 0; u < d->n_users; u++)
        if (count[u] > m->o.batch) {
            fr_status s = fr_fail(FR_ERR_INVALID, "federated multi-task training: user '%s' has %zu training interactions, more than the batch size %zu a client's step holds (raise train.batch_size)",
                                  d->user_names && d->user_names[u] ? d->user_names[u] : "?", count[u], m->o.batch);
            free(count);
            return s;
        }
    free(count);
    m->fed_start = calloc(d->n_users + 1, sizeof *m->fed_start);
    m->fed_rows = malloc((d->n_train ? d->n_train : 1) * sizeof *m->fed_rows);
    m->fed_global = malloc((d->n_items ? d->n_items : 1) * m->dim * sizeof *m->fed_global);
    m->fed_changed = calloc(d->n_items ? d->n_items : 1, 1);
    m->fed_changed_list = malloc((d->n_items ? d->n_items : 1) * sizeof *m->fed_changed_list);
    if (!m->fed_start || !m->fed_rows || !m->fed_global || !m->fed_changed || !m->fed_changed_list) {
        fr_mtr_federated_release(m);
        return fr_fail_nomem("federated multi-task state", d->n_items * m->dim * 4 + d->n_train * 4);
    }
    for (size_t i = 0; i < d->n_train; i++)
        m->fed_start[d->train_user[i] + 1]++;
    for (size_t u = 0; u < d->n_users; u++)
        m->fed_start[u + 1] += m->fed_start[u];
    size_t *fill = malloc((d->n_users ? d->n_users : 1) * sizeof *fill);
    if (!fill) {
        fr_mtr_federated_release(m);
        return fr_fail_nomem("federated multi-task state", d->n_users * sizeof *fill);
    }
    memcpy(fill, m->fed_start, d->n_users * sizeof *fill);
    for (size_t i = 0; i < d->n_train; i++)
        m->fed_rows[fill[d->train_user[i]]++] = (int32_t)i;
    free(fill);
    m->fed_ready = 1;
    return FR_OK;
}

void fr_mtr_fed_options_default(fr_mtr_fed_options *fo)
{
    fo->client_fraction = 1.0;
    fo->client_lr = 0.05f;
    fo->server_lr = 1.0f;
    fo->local_steps = 1;
    fr_participation_default(&fo->participation);
    fo->clip_norm = fo->fault_nan = fo->fault_huge = fo->local_noise = 0.0;
    fo->backend = NULL;
    fo->cohort = 0;
}

/* ---- a client's figures ----------------------------------------------- */

/* A step's figures: T losses, T weights, T norms, the conflicts, whether
 * the step counted (the combiner ran). */
static size_t fig_stride(const fr_mtr *m)
{
    return 3 * m->o.n_tasks + 2;
}

static void fig_keep(const fr_mtr *m, double *at, const fr_mtr_epoch *e)
{
    size_t T = m->o.n_tasks;
    for (size_t t = 0; t < T; t++) {
        at[t] = e->loss[t];
        at[T + t] = e->combine.weight[t];
        at[2 * T + t] = e->combine.norm[t];
    }
    at[3 * T] = (double)e->combine.conflicts;
    at[3 * T + 1] = (double)e->steps;
}

void fr_mtr_client_keep_figures(fr_mtr *m, size_t u, size_t step, const fr_mtr_epoch *e)
{
    fig_keep(m, m->fed_fig + (u * m->fed_fig_steps_cap + step) * fig_stride(m), e);
    m->fed_fig_steps[u] = (uint32_t)(step + 1);
}

fr_status fr_mtr_client_round_ready(fr_mtr *m, const fr_mtr_fed_options *fo, fr_fed_client_ops *ops)
{
    size_t n = m->data->n_users, stride = fig_stride(m);
    if (fo->local_steps > m->fed_fig_steps_cap) {
        free(m->fed_fig);
        free(m->fed_fig_round);
        free(m->fed_fig_steps);
        m->fed_fig = calloc((n ? n : 1) * fo->local_steps * stride, sizeof *m->fed_fig);
        m->fed_fig_round = calloc(n ? n : 1, sizeof *m->fed_fig_round);
        m->fed_fig_steps = calloc(n ? n : 1, sizeof *m->fed_fig_steps);
        m->fed_fig_steps_cap = m->fed_fig && m->fed_fig_round && m->fed_fig_steps ? fo->local_steps : 0;
        if (!m->fed_fig_steps_cap)
            return fr_fail_nomem("federated clients' figures", n * fo->local_steps * stride * sizeof(double));
    }
    m->fed_o = *fo;
    /* a record: the steps, their figures, the user row */
    ops->record_bytes = sizeof(uint64_t) + fo->local_steps * stride * sizeof(double) + m->dim * sizeof(float);
    return FR_OK;
}

void fr_mtr_client_figures(const fr_mtr *m, unsigned round, fr_mtr_epoch *out)
{
    size_t T = m->o.n_tasks, stride = fig_stride(m);
    for (size_t u = 0; u < m->data->n_users; u++) {
        if (m->fed_fig_round[u] != round + 1)
            continue;
        for (size_t step = 0; step < m->fed_fig_steps[u]; step++) {
            const double *at = m->fed_fig + (u * m->fed_fig_steps_cap + step) * stride;
            for (size_t t = 0; t < T; t++)
                out->loss[t] += at[t];
            if (at[3 * T + 1] == 0) /* the combiner did not run */
                continue;
            for (size_t t = 0; t < T; t++) {
                out->combine.weight[t] += at[T + t];
                out->combine.norm[t] += at[2 * T + t];
            }
            out->combine.conflicts += (unsigned)at[3 * T];
            out->steps++;
        }
    }
}

/* The other ranks' view of a trained client: its figures and its row. */
static void record_pack(void *model, size_t client, void *record)
{
    fr_mtr *m = model;
    size_t stride = fig_stride(m);
    size_t steps = m->fed_fig_round[client] == m->fed_round + 1 ? m->fed_fig_steps[client] : 0;
    uint64_t n = steps;
    char *at = record;
    memcpy(at, &n, sizeof n);
    at += sizeof n;
    size_t fig_bytes = m->fed_o.local_steps * stride * sizeof(double);
    memset(at, 0, fig_bytes);
    memcpy(at, m->fed_fig + client * m->fed_fig_steps_cap * stride, steps * stride * sizeof(double));
    at += fig_bytes;
    memcpy(at, m->table + client * m->dim, m->dim * sizeof(float));
}

static void record_unpack(void *model, size_t client, const void *record)
{
    fr_mtr *m = model;
    size_t stride = fig_stride(m);
    uint64_t n;
    const char *at = record;
    memcpy(&n, at, sizeof n);
    at += sizeof n;
    if (n > m->fed_o.local_steps) /* never from a rank of the same job (the core compares the jobs) */
        n = m->fed_o.local_steps;
    memcpy(m->fed_fig + client * m->fed_fig_steps_cap * stride, at, (size_t)n * stride * sizeof(double));
    m->fed_fig_round[client] = m->fed_round + 1;
    m->fed_fig_steps[client] = (uint32_t)n;
    at += m->fed_o.local_steps * stride * sizeof(double);
    memcpy(m->table + client * m->dim, at, m->dim * sizeof(float));
}

/* ---- the client interface ---------------------------------------------- */

/* The clients share the model's step scratch: no worker state (the core
 * runs them on a one-thread pool). */
static fr_status worker_create(void *model, void **worker)
{
    *worker = model;
    return FR_OK;
}

static void worker_destroy(void *model, void *worker)
{
    (void)model;
    (void)worker;
}

/* The round's item table, which each client goes back to after its turn. */
static void round_begin(void *model, unsigned round)
{
    fr_mtr *m = model;
    m->fed_round = round;
    const fr_mtr_data *d = m->data;
    memcpy(m->fed_global, m->table + d->n_users * m->dim, d->n_items * m->dim * sizeof *m->fed_global);
}

/* The upload of n_changed item rows items[k], whose local values are at
 * local + items[k] x dim (by_item) or local + k x dim: each row's change
 * from the round's global value, the rows counting-sorted into the
 * upload's groups (in the order given within a group). */
static fr_status upload_rows(const fr_mtr *m, const int32_t *items, const float *local, int by_item,
                             size_t n_changed, fr_fed_upload *up)
{
    size_t dim = m->dim, n_items = m->data->n_items;
    FR_TRY(fr_fed_upload_reserve(up, n_changed, dim));
    size_t count[FR_FED_GROUPS + 1] = {0};
    for (size_t k = 0; k < n_changed; k++)
        count[fr_fed_group_of((size_t)items[k], n_items) + 1]++;
    for (size_t g = 0; g < FR_FED_GROUPS; g++)
        count[g + 1] += count[g];
    for (size_t g = 0; g <= FR_FED_GROUPS; g++)
        up->group_start[g] = (uint32_t)count[g];
    for (size_t k = 0; k < n_changed; k++) {
        size_t item = (size_t)items[k];
        const float *w = local + (by_item ? item : k) * dim;
        const float *global = m->fed_global + item * dim;
        size_t at = count[fr_fed_group_of(item, n_items)]++;
        up->rows[at] = (int32_t)item;
        for (size_t j = 0; j < dim; j++)
            up->delta[at * dim + j] = w[j] - global[j];
    }
    return FR_OK;
}

/* One client's round: local_steps SGD steps on its own row and on the
 * item rows in place (its local copies), then each item row it changed
 * goes into the upload as (local - global), grouped by item range, and
 * back to the round's global value. */
static fr_status train(void *model, void *worker, unsigned round, size_t client, const fr_fed_state *state,
                       fr_fed_upload *up)
{
    fr_mtr *m = model;
    (void)worker;
    (void)state; /* the item rows of m->table */
    const fr_mtr_data *d = m->data;
    size_t u = client, begin = m->fed_start[u], n = m->fed_start[u + 1] - begin, dim = m->dim;
    up->n_rows = 0;
    memset(up->group_start, 0, sizeof up->group_start);
    up->samples = n;
    if (n == 0)
        return FR_OK;
    double t0 = fr_clock_seconds();
    float lr = m->fed_o.client_lr, wd = m->o.weight_decay;
    size_t n_changed = 0;
    fr_status s = FR_OK;
    m->fed_fig_round[u] = round + 1;
    m->fed_fig_steps[u] = 0;
    for (size_t step = 0; s == FR_OK && step < m->fed_o.local_steps; step++) {
        fr_mtr_step st;
        fr_mtr_step_init(m, &st, n);
        for (size_t k = 0; k < n; k++) {
            size_t i = (size_t)m->fed_rows[begin + k];
            m->step_user[k] = (int32_t)u;
            m->step_item[k] = d->train_item[i] + (int32_t)d->n_users;
            m->step_rating[k] = d->train_rating[i];
        }
        /* the client's draws: stream (seed, round, user + step x users, ...) */
        fr_mtr_epoch figures; /* this step's, kept for the sums in client order */
        memset(&figures, 0, sizeof figures);
        s = fr_mtr_step_gradients(m, &st, round, u + step * d->n_users, &figures);
        fr_mtr_client_keep_figures(m, u, step, &figures);
        for (size_t slot = 0; s == FR_OK && slot < st.n_slots; slot++) {
            size_t row = (size_t)st.rows[slot];
            float *w = m->table + row * dim;
            const float *g = m->combined + slot * dim;
            for (size_t j = 0; j < dim; j++)
                w[j] -= lr * (g[j] + wd * w[j]);
            if (row >= d->n_users && !m->fed_changed[row - d->n_users]) {
                m->fed_changed[row - d->n_users] = 1;
                m->fed_changed_list[n_changed++] = (int32_t)(row - d->n_users);
            }
        }
        fr_mtr_step_release(m, &st);
    }
    /* upload (the local rows are the table's), then back to global */
    if (s == FR_OK)
        s = upload_rows(m, m->fed_changed_list, m->table + d->n_users * dim, 1, n_changed, up);
    for (size_t k = 0; k < n_changed; k++) {
        size_t item = (size_t)m->fed_changed_list[k];
        memcpy(m->table + (d->n_users + item) * dim, m->fed_global + item * dim, dim * sizeof(float));
        m->fed_changed[item] = 0;
    }
    up->n_rows = s == FR_OK ? n_changed : 0;
    up->t_train = fr_clock_seconds() - t0;
    return s;
}

fr_status fr_mtr_client_pack(const fr_mtr *m, const int32_t *items, const float *local, size_t n_changed,
                             fr_fed_upload *up)
{
    fr_status s = upload_rows(m, items, local, 0, n_changed, up);
    up->n_rows = s == FR_OK ? n_changed : 0;
    return s;
}

static double cost(void *model, size_t client)
{
    fr_mtr *m = model;
    return (double)(m->fed_start[client + 1] - m->fed_start[client]);
}

/* A cohort of the round's clients on the backend (mtr_cohort.c). */
static fr_status train_cohort(void *model, unsigned round, const size_t *clients, size_t n,
                              const fr_fed_state *state, fr_fed_upload *const *ups)
{
    (void)state; /* the item rows of m->table */
    return fr_mtr_cohort_train(model, round, clients, n, ups);
}

void fr_mtr_client_ops(const fr_mtr *m, fr_fed_client_ops *ops)
{
    fr_fed_client_ops o = {worker_create, worker_destroy, round_begin, train, cost, 0, NULL, NULL,
                           0, record_pack, record_unpack, m->cohort ? train_cohort : NULL, m->cohort_clients};
    *ops = o;
}
