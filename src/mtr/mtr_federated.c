/* mtr_federated.c — multi-task training with every user a client (see
 * fedrec/mtrec.h, fr_mtr_federated_round): the PFedRec engine's FedMF
 * arrangement with the tasks and a gradient combiner inside each client.
 *
 * A round: clients sampled (stream (seed, round, 0, FR_RNG_SAMPLING)),
 * each, starting from the round's global item table, takes its own
 * interactions as one batch for each of its local steps (BPR negatives
 * from (seed, round, user + step x users, FR_RNG_NEGATIVES)), computes
 * every task's gradient on its user row and the item rows it touched,
 * combines them with the combiner, which is then computed from this
 * client's gradients alone (PMTRec: the weights of its own row and of each
 * item row as it sees it), steps its private row and its local copies of
 * the item rows by SGD, and uploads each changed item row's change. Local
 * copies live in the table itself during the client's turn (clients run
 * one after another) and go back to the global values after it. The server adds to each item row the mean
 * of the steps uploaded for it times a server learning rate (FedAvg's
 * server step; the mean of one-step updates is small next to a client's
 * own), in client-id order (thread-independent).
 *
 * Within a client the user side of DirectAU's uniformity is one distinct
 * row, so it is constant (no gradient); social links would need other
 * users' private rows and are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/progress_call.h"
#include "core/error_internal.h"
#include "mtr/mtr_internal.h"

void fr_mtr_federated_release(fr_mtr *m)
{
    free(m->fed_start);
    free(m->fed_rows);
    free(m->fed_order);
    free(m->fed_sum);
    free(m->fed_count);
    free(m->fed_sampled);
    free(m->fed_global);
    free(m->fed_changed);
    free(m->fed_changed_list);
    m->fed_global = NULL;
    m->fed_changed = NULL;
    m->fed_changed_list = NULL;
    m->fed_start = NULL;
    m->fed_rows = m->fed_order = NULL;
    m->fed_sum = NULL;
    m->fed_count = NULL;
    m->fed_sampled = NULL;
    m->fed_ready = 0;
}

static fr_status federated_init(fr_mtr *m)
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
    m->fed_sum = calloc(d->n_items * m->dim, sizeof *m->fed_sum);
    m->fed_count = calloc(d->n_items ? d->n_items : 1, sizeof *m->fed_count);
    m->fed_sampled = malloc(d->n_users ? d->n_users : 1);
    m->fed_order = malloc((d->n_users ? d->n_users : 1) * sizeof *m->fed_order);
    m->fed_global = malloc((d->n_items ? d->n_items : 1) * m->dim * sizeof *m->fed_global);
    m->fed_changed = calloc(d->n_items ? d->n_items : 1, 1);
    m->fed_changed_list = malloc((d->n_items ? d->n_items : 1) * sizeof *m->fed_changed_list);
    if (!m->fed_start || !m->fed_rows || !m->fed_sum || !m->fed_count || !m->fed_sampled || !m->fed_order ||
        !m->fed_global || !m->fed_changed || !m->fed_changed_list) {
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

/* The round's clients: all, or a uniform sample of the fraction (at least
 * one), marked in fed_sampled. */
static size_t sample(fr_mtr *m, unsigned round, double fraction)
{
    size_t nu = m->data->n_users, want = nu;
    memset(m->fed_sampled, fraction >= 1.0, nu);
    if (fraction >= 1.0)
        return nu;
    want = (size_t)(fraction * (double)nu + 0.5);
    if (want < 1)
        want = 1;
    for (size_t u = 0; u < nu; u++)
        m->fed_order[u] = (int32_t)u;
    fr_rng rng;
    fr_rng_init(&rng, m->o.seed, round, 0, FR_RNG_SAMPLING);
    for (size_t i = 0; i < want; i++) { /* partial Fisher-Yates */
        size_t j = i + fr_rng_below(&rng, (uint32_t)(nu - i));
        int32_t t = m->fed_order[i];
        m->fed_order[i] = m->fed_order[j];
        m->fed_order[j] = t;
        m->fed_sampled[m->fed_order[i]] = 1;
    }
    return want;
}

/* One client's round: local_steps SGD steps on its own row and on the
 * item rows in place (its local copies), then each item row it changed
 * uploads (local - global) and goes back to the round's global value. */
static fr_status client_round(fr_mtr *m, size_t u, unsigned round, const fr_mtr_fed_options *fo,
                              fr_mtr_epoch *out, uint64_t *upload_rows)
{
    const fr_mtr_data *d = m->data;
    size_t begin = m->fed_start[u], n = m->fed_start[u + 1] - begin, dim = m->dim;
    if (n == 0)
        return FR_OK;
    float lr = fo->client_lr, wd = m->o.weight_decay;
    size_t n_changed = 0;
    fr_status s = FR_OK;
    for (size_t step = 0; s == FR_OK && step < fo->local_steps; step++) {
        fr_mtr_step st;
        fr_mtr_step_init(m, &st, n);
        for (size_t k = 0; k < n; k++) {
            size_t i = (size_t)m->fed_rows[begin + k];
            m->step_user[k] = (int32_t)u;
            m->step_item[k] = d->train_item[i] + (int32_t)d->n_users;
            m->step_rating[k] = d->train_rating[i];
        }
        /* the client's draws: stream (seed, round, user + step x users, ...) */
        s = fr_mtr_step_gradients(m, &st, round, u + step * d->n_users, out);
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
    for (size_t k = 0; k < n_changed; k++) { /* upload, and back to global */
        size_t item = (size_t)m->fed_changed_list[k];
        float *w = m->table + (d->n_users + item) * dim, *acc = m->fed_sum + item * dim;
        const float *global = m->fed_global + item * dim;
        for (size_t j = 0; j < dim; j++) {
            acc[j] += w[j] - global[j];
            w[j] = global[j];
        }
        m->fed_changed[item] = 0;
        m->fed_count[item]++;
    }
    *upload_rows += n_changed;
    return s;
}

void fr_mtr_fed_options_default(fr_mtr_fed_options *fo)
{
    fo->client_fraction = 1.0;
    fo->client_lr = 0.05f;
    fo->server_lr = 1.0f;
    fo->local_steps = 1;
}

fr_status fr_mtr_federated_round(fr_mtr *m, unsigned round, const fr_mtr_fed_options *fo,
                                 fr_mtr_epoch *out, uint64_t *upload_bytes)
{
    double t0 = fr_clock_seconds();
    memset(out, 0, sizeof *out);
    *upload_bytes = 0;
    double client_fraction = fo->client_fraction;
    float server_lr = fo->server_lr;
    if (!(client_fraction > 0 && client_fraction <= 1) || !(fo->client_lr > 0) || !(server_lr > 0) ||
        fo->local_steps < 1)
        return fr_fail(FR_ERR_INVALID, "federated round: client fraction %g must be in (0, 1], the client and server learning rates %g and %g positive, local steps %zu at least 1",
                       client_fraction, (double)fo->client_lr, (double)server_lr, fo->local_steps);
    if (!m->fed_ready)
        FR_TRY(federated_init(m));
    const fr_mtr_data *d = m->data;
    size_t dim = m->dim;
    size_t n_sampled = sample(m, round, client_fraction);
    memset(m->fed_sum, 0, d->n_items * dim * sizeof *m->fed_sum);
    memset(m->fed_count, 0, d->n_items * sizeof *m->fed_count);
    memcpy(m->fed_global, m->table + d->n_users * dim, d->n_items * dim * sizeof *m->fed_global);
    uint64_t rows = 0;
    fr_status s = FR_OK;
    size_t clients = n_sampled, done = 0;
    for (size_t u = 0; s == FR_OK && u < d->n_users; u++)
        if (m->fed_sampled[u]) {
            s = client_round(m, u, round, fo, out, &rows);
            done++;
            if (s == FR_OK && fr_progress_call(&m->o.progress, FR_PROGRESS_TRAIN, "client", done, clients) &&
                done < clients) {
                out->stopped = 1; /* abandoned: no item row moves */
                fr_mtr_epoch_finish(m, out, t0);
                return FR_OK;
            }
        }
    if (s != FR_OK)
        return s;
    for (size_t i = 0; i < d->n_items; i++) {
        if (!m->fed_count[i])
            continue;
        float *w = m->table + (d->n_users + i) * dim, inv = server_lr / (float)m->fed_count[i];
        for (size_t j = 0; j < dim; j++)
            w[j] += m->fed_sum[i * dim + j] * inv;
    }
    /* an uploaded row: its id and dim floats */
    *upload_bytes = rows * (dim * sizeof(float) + sizeof(int32_t));
    fr_mtr_epoch_finish(m, out, t0);
    return FR_OK;
}
