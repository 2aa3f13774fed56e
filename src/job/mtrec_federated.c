/* mtrec_federated.c — federated multi-task MF (fedrec/mtrec.h,
 * fr_mtr_federated_round): the multi-task model's client (src/mtr/
 * mtr_client.c) trained by the federation core (src/fed/fed_core.h), every
 * user a client, the item rows of the model's table the server's state,
 * aggregated by the per-row mean of the uploads times the server's
 * learning rate. The clients share the model's step scratch, so the core
 * runs them on a pool of one thread, in client order; with a backend in
 * the options they train on it as cohorts instead (src/mtr/mtr_cohort.c). */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "fed/fed_core.h"
#include "mtr/mtr_internal.h"

typedef struct mtrec_fed {
    fr_pool *pool;
    fr_fed *f;
    fr_fed_client_ops ops;
    fr_mtr_fed_traffic last;  /* the last round's exchanges */
} mtrec_fed;

static void mtrec_fed_free(void *arg)
{
    mtrec_fed *j = arg;
    if (!j)
        return;
    fr_fed_free(j->f);
    fr_pool_destroy(j->pool);
    free(j);
}

/* The core for m, made at the first round (or by set_comm). */
static fr_status mtrec_fed_make(fr_mtr *m, const fr_mtr_fed_options *fo, int round_robin)
{
    FR_TRY(fr_mtr_client_prepare(m));
    if (fo->backend) { /* the clients as cohorts on it */
        fr_status cs = fr_mtr_cohort_create(m, fo->backend, &m->cohort);
        if (cs != FR_OK) {
            fr_mtr_federated_release(m);
            return cs;
        }
        m->cohort_clients = fo->cohort ? fo->cohort : FR_MTR_COHORT_DEFAULT;
    }
    mtrec_fed *j = calloc(1, sizeof *j);
    if (!j) {
        fr_mtr_federated_release(m);
        return fr_fail_nomem("federated rounds", sizeof *j);
    }
    fr_fed_options o;
    memset(&o, 0, sizeof o);
    o.seed = m->o.seed;
    o.client_fraction = fo->client_fraction;
    o.participation = fo->participation;
    o.clip_norm = fo->clip_norm;
    o.fault_nan = fo->fault_nan;
    o.fault_huge = fo->fault_huge;
    o.local_noise = fo->local_noise;
    if (round_robin)
        o.participation.placement = FR_PLACE_ROUND_ROBIN;
    o.aggregator = FR_AGG_ROW_MEAN;
    o.server_lr = fo->server_lr;
    o.progress = m->o.progress;
    o.name = "federated multi-task";
    fr_mtr_client_ops(m, &j->ops);
    const fr_mtr_data *d = m->data;
    fr_status s = fr_pool_create(1, &j->pool);
    if (s == FR_OK)
        s = fr_fed_create(&o, d->n_users, d->n_items, m->dim, 0, j->pool, &j->ops, m, &j->f);
    if (s != FR_OK) {
        mtrec_fed_free(j);
        return s;
    }
    fr_fed_borrow_table(j->f, m->table + d->n_users * m->dim);
    m->fed_job = j;
    m->fed_job_free = mtrec_fed_free;
    return FR_OK;
}

fr_status fr_mtr_federated_round(fr_mtr *m, unsigned round, const fr_mtr_fed_options *fo,
                                 fr_mtr_epoch *out, uint64_t *upload_bytes)
{
    double t0 = fr_clock_seconds();
    memset(out, 0, sizeof *out);
    *upload_bytes = 0;
    if (!(fo->client_fraction > 0 && fo->client_fraction <= 1) || !(fo->client_lr > 0) || !(fo->server_lr > 0) ||
        fo->local_steps < 1)
        return fr_fail(FR_ERR_INVALID, "federated round: client fraction %g must be in (0, 1], the client and server learning rates %g and %g positive, local steps %zu at least 1",
                       fo->client_fraction, (double)fo->client_lr, (double)fo->server_lr, fo->local_steps);
    if (!m->fed_job)
        FR_TRY(mtrec_fed_make(m, fo, 0));
    mtrec_fed *j = m->fed_job;
    FR_TRY(fr_mtr_client_round_ready(m, fo, &j->ops));
    fr_fed_round r;
    FR_TRY(fr_fed_run_round(j->f, round, &r));
    fr_mtr_fed_traffic t = {r.bytes_sent, r.bytes_received, r.t_comm, r.t_local, r.trained_here};
    j->last = t;
    /* the clients' figures in client order, whichever rank trained them */
    fr_mtr_client_figures(m, round, out);
    *upload_bytes = r.bytes_up;
    fr_mtr_epoch_finish(m, out, t0);
    return FR_OK;
}

fr_status fr_mtr_federated_set_comm(fr_mtr *m, const fr_mtr_fed_options *fo, fr_comm *c,
                                    const char *job_fingerprint, const char *data_name, int round_robin)
{
    if (m->fed_job)
        return fr_fail(FR_ERR_INVALID, "federated multi-task training: the ranks are set before the first round");
    uint64_t data_fingerprint = fr_mtr_data_fingerprint(m->data);
    int several = c && fr_comm_size(c) > 1;
    /* The same job everywhere first (so that a rank refusing it below
     * refuses it on every rank), and a failure to make the core agreed on,
     * so that no rank waits in the core's check. */
    if (several)
        FR_TRY(fr_comm_same_job(c, job_fingerprint, data_fingerprint, data_name));
    fr_status s = mtrec_fed_make(m, fo, round_robin);
    if (several)
        s = fr_comm_agree(c, s);
    if (s != FR_OK)
        return s;
    mtrec_fed *j = m->fed_job;
    return fr_fed_set_comm(j->f, c, job_fingerprint, data_fingerprint, data_name);
}

void fr_mtr_federated_traffic(const fr_mtr *m, fr_mtr_fed_traffic *out)
{
    const mtrec_fed *j = m->fed_job;
    if (j)
        *out = j->last;
    else
        memset(out, 0, sizeof *out);
}
