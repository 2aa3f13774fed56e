/* mtr_cohort.c — the federated multi-task MF client (mtr_client.c)
 * trained as cohorts on any backend (the client interface's train_cohort,
 * fedrec/fed_client.h).
 *
 * A cohort's clients take their local steps together: local step s of
 * every client is one "step" of a few fr_backend ops over all of them —
 * gathered row products (fr_rows_dot) for BPR's and the pairwise tasks'
 * triples and the rating task's pairs, their losses and logit gradients
 * (fr_bce_with_logits, fr_mul), each task's gradient on every slot row as
 * segmented sums over the samples that touch the row
 * (fr_segment_rows_axpy); DirectAU's normalised rows, differences, pair
 * products and gradient the same way (directau_ops); the inner products
 * the combiner's rule needs (fr_rows_dot: PMTRec's task norms of each row,
 * a global method's Gram matrix entries per row), the combination
 * sum_t w_t g_t of each row (fr_segment_rows_axpy) and the SGD step on the
 * slot rows (fr_sgd_rows). The rows live on the backend for the whole
 * cohort: each client's own copy of its user row and of every item row it
 * touches (its overlay), uploaded at the start, downloaded at the end.
 *
 * What the host does: everything random (each client's BPR negatives and
 * pairwise samples, drawn by the one-by-one path's own code from the same
 * streams, so the samples and the slots' order are the same), laying out
 * the index lists of every step (uploaded once), and, within a step, the
 * few numbers per row, pair or client that fr_backend has no op for:
 * - the combiner's weights, per client as one by one (combine.c's rules,
 *   fr_combine_row_weights and fr_combine_gram_weights), from the inner
 *   products (T or T (T + 1) / 2 floats a row, not the gradients); GradDrop,
 *   whose rule is per coordinate, downloads the gradients and combines on
 *   the host;
 * - DirectAU's row norms' inverses (a square root), its pair weights
 *   (an exponential of each pair product) and the loss.
 * A step is then a few tens of launches and three small round trips,
 * whatever the number of clients. The arithmetic is the one-by-one path's
 * in another float order: results agree within rounding, not bit for bit. */#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "mtr/mtr_cohort.h"

static void task_lists_free(task_lists *t)
{
    for (int j = 0; j < 3; j++)
        free(t->rows[j].v);
    free(t->start.v);
    free(t->seg.v);
    free(t->ci.v);
    free(t->xi.v);
}

void fr_mtr_cohort_free(fr_mtr_cohort *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_BUFS; i++)
        fr_buffer_free(c->buf[i]);
    for (size_t s = 0; s < c->n_step_lists; s++) {
        step_lists *sl = &c->steps[s];
        free(sl->slot_rows.v);
        ivec *dl[] = {&sl->diff_xi, &sl->distinct, &sl->pair_a, &sl->pair_b, &sl->al_start, &sl->al_seg,
                      &sl->al_xi, &sl->un_start, &sl->un_seg, &sl->un_xi};
        for (size_t k = 0; k < sizeof dl / sizeof dl[0]; k++)
            free(dl[k]->v);
        free(sl->count.v);
        free(sl->al_coef.v);
        free(sl->qa.v);
        free(sl->qb.v);
        free(sl->comb_start.v);
        free(sl->comb_seg.v);
        free(sl->comb_idx.v);
        for (size_t t = 0; t < T_MAX; t++)
            task_lists_free(&sl->task[t]);
    }
    free(c->steps);
    free(c->cl);
    free(c->cs);
    free(c->row_item.v);
    free(c->all.v);
    free(c->f);
    free(c->item_local);
    free(c->count);
    free(c->tmp_slot);
    free(c->tmp_ci);
    free(c->tmp_xi);
    free(c->rows);
    free(c->grads);
    free(c->losses);
    free(c->sq);
    free(c->inv);
    free(c->al);
    free(c->kk);
    free(c->un);
    free(c->e);
    free(c->r);
    free(c->distinct_of);
    free(c->fl.v);
    free(c->combined);
    free(c->q);
    free(c->w);
    free(c->dau_loss);
    free(c);
}

fr_status fr_mtr_cohort_create(fr_mtr *m, fr_backend *be, fr_mtr_cohort **out)
{
    *out = NULL;
    fr_mtr_cohort *c = calloc(1, sizeof *c);
    if (!c)
        return fr_fail_nomem("cohort state", sizeof *c);
    c->be = be;
    size_t n_items = m->data->n_items;
    c->item_local = malloc(n_items * sizeof *c->item_local);
    c->count = malloc((m->slot_cap + 1) * sizeof *c->count);
    c->distinct_of = malloc(m->slot_cap * sizeof *c->distinct_of);
    if (!c->item_local || !c->count || !c->distinct_of) {
        fr_mtr_cohort_free(c);
        return fr_fail_nomem("cohort state", (n_items + 2 * m->slot_cap) * sizeof(int32_t));
    }
    for (size_t i = 0; i < n_items; i++)
        c->item_local[i] = -1;
    for (size_t k = 0; k < m->slot_cap; k++)
        c->distinct_of[k] = -1;
    /* GradDrop's rule is per coordinate: its combination stays on the
     * host, with the gradients downloaded; the others need only inner
     * products (PMTRec: each row's task norms; the global methods: the
     * Gram matrix). */
    size_t T = m->o.n_tasks;
    c->on_backend = m->o.combine.method != FR_COMBINE_GRADDROP;
    for (size_t t = 0; t < T; t++)
        c->has_directau |= m->o.tasks[t] == FR_MTR_DIRECTAU;
    c->n_pairs = m->o.combine.method == FR_COMBINE_PMTREC ? T : T * (T + 1) / 2;
    *out = c;
    return FR_OK;
}

/* Task t's gradient on the step's slots, into G (slots x dim from
 * g_at) and its samples' losses into L (N from l_at). */
static fr_status task_ops(fr_mtr *m, fr_mtr_cohort *c, const task_lists *tl, fr_mtr_task kind, size_t N,
                          size_t c_at, size_t l_at, size_t g_at)
{
    fr_backend *be = c->be;
    size_t d = m->dim;
    fr_view R = at(c, BUF_R, 0), z = at(c, BUF_Z, 0), z2 = at(c, BUF_Z, N), dz = at(c, BUF_DZ, 0);
    fr_view ones = at(c, BUF_F, 0), scale = at(c, BUF_F, N), neg_scale = at(c, BUF_F, 2 * N);
    fr_view scale2 = at(c, BUF_F, 3 * N), rating = at(c, BUF_F, 4 * N);
    fr_view ra = at(c, BUF_I, tl->at_rows[0]), rp = at(c, BUF_I, tl->at_rows[1]);
    fr_view coef = at(c, BUF_C, c_at), loss = at(c, BUF_L, l_at);
    if (kind == FR_MTR_RATING) {
        /* e = u.i - r; loss e^2, coefficient 2 e / n */
        FR_TRY(fr_rows_dot(be, N, d, R, d, ra, R, d, rp, NO_VIEW, z));
        FR_TRY(fr_axpy(be, N, -1.0f, rating, z));
        FR_TRY(fr_mul(be, N, z, z, loss));
        FR_TRY(fr_mul(be, N, z, scale2, coef));
    } else {
        /* x = a.p - a.q; loss softplus(-x) (BCE with label 1), its
         * derivative sigmoid(x) - 1 over n, and its negation */
        fr_view rq = at(c, BUF_I, tl->at_rows[2]);
        FR_TRY(fr_rows_dot(be, N, d, R, d, ra, R, d, rp, NO_VIEW, z));
        FR_TRY(fr_rows_dot(be, N, d, R, d, ra, R, d, rq, NO_VIEW, z2));
        FR_TRY(fr_axpy(be, N, -1.0f, z2, z));
        FR_TRY(fr_bce_with_logits(be, N, z, ones, loss, dz));
        FR_TRY(fr_mul(be, N, dz, scale, coef));
        FR_TRY(fr_mul(be, N, dz, neg_scale, at(c, BUF_C, c_at + N)));
    }
    return fr_segment_rows_axpy(be, tl->seg.n, tl->ci.n, d, at(c, BUF_I, tl->at_start), at(c, BUF_I, tl->at_seg),
                                1.0f, coef, at(c, BUF_I, tl->at_ci), R, d, at(c, BUF_I, tl->at_xi),
                                at(c, BUF_G, g_at), d);
}

/* Client i's losses of the step (each task's mean over its samples; the
 * first that is not finite fails it, as one by one). */
static fr_status client_losses(const fr_mtr *m, const fr_mtr_cohort *c, size_t i, unsigned round,
                               uint64_t draw_step, size_t N, fr_mtr_epoch *e)
{
    const cohort_client *cc = &c->cl[i];
    for (size_t t = 0; t < m->o.n_tasks; t++) {
        if (m->o.tasks[t] == FR_MTR_DIRECTAU) {
            e->loss[t] = c->dau_loss[i];
        } else {
            double sum = 0;
            const float *l = c->losses + t * N + cc->sample_at;
            for (size_t k = 0; k < cc->n; k++)
                sum += (double)l[k];
            e->loss[t] = sum / (double)cc->n;
        }
        if (!isfinite(e->loss[t]))
            return fr_fail(FR_ERR_NUMERIC, "task %s: the loss is not finite (epoch %u, step %llu)",
                           fr_mtr_task_name(m->o.tasks[t]), round, (unsigned long long)draw_step);
    }
    return FR_OK;
}

static fr_status not_finite(unsigned round, uint64_t draw_step)
{
    return fr_fail(FR_ERR_NUMERIC, "combiner: a task gradient holds NaN or infinity (epoch %u, step %llu)", round,
                   (unsigned long long)draw_step);
}

/* Client i's weights of the step from the inner products of its task
 * gradients (c->q): PMTRec's per slot row from the row's task norms, a
 * global method's from the client's Gram matrix (summed over its rows in
 * double); into c->w (weight t S + s for gradient row t S + s). */
static fr_status client_weights(fr_mtr *m, fr_mtr_cohort *c, size_t i, size_t step, unsigned round,
                                uint64_t draw_step, size_t S, fr_combine_stats *stats)
{
    const client_slots *cs = &c->cs[step * c->cap_cl + i];
    size_t T = m->o.n_tasks;
    double w[T_MAX];
    memset(stats, 0, sizeof *stats);
    if (m->o.combine.method == FR_COMBINE_PMTREC) {
        double weight_sum[T_MAX] = {0}, norm_sum[T_MAX] = {0};
        for (size_t k = cs->at; k < cs->at + cs->n; k++) {
            double norm[T_MAX];
            for (size_t t = 0; t < T; t++) {
                double sq = (double)c->q[t * S + k];
                if (!isfinite(sq))
                    return not_finite(round, draw_step);
                norm[t] = sqrt(fmax(sq, 0));
                norm_sum[t] += norm[t];
            }
            fr_combine_row_weights(m->combiner, norm, round, w);
            for (size_t t = 0; t < T; t++) {
                c->w[t * S + k] = (float)w[t];
                weight_sum[t] += w[t];
            }
        }
        for (size_t t = 0; cs->n && t < T; t++) {
            stats->weight[t] = weight_sum[t] / (double)cs->n;
            stats->norm[t] = norm_sum[t] / (double)cs->n;
        }
        return FR_OK;
    }
    double gram[T_MAX * T_MAX];
    size_t p = 0;
    for (size_t a = 0; a < T; a++)
        for (size_t b = a; b < T; b++, p++) {
            double sum = 0;
            const float *q = c->q + p * S + cs->at;
            for (size_t k = 0; k < cs->n; k++)
                sum += (double)q[k];
            gram[a * T + b] = gram[b * T + a] = sum;
        }
    FR_TRY(fr_combine_gram_weights(m->combiner, gram, round, draw_step, w, stats));
    for (size_t t = 0; t < T; t++)
        for (size_t k = cs->at; k < cs->at + cs->n; k++)
            c->w[t * S + k] = (float)w[t];
    return FR_OK;
}

/* Client i's combination on the host (GradDrop), from the step's
 * downloaded task gradients into its rows of c->combined. */
static fr_status client_combine(fr_mtr *m, fr_mtr_cohort *c, size_t i, size_t step, unsigned round,
                                uint64_t draw_step, size_t S, fr_combine_stats *stats)
{
    const client_slots *cs = &c->cs[step * c->cap_cl + i];
    size_t d = m->dim;
    float *grads[T_MAX];
    for (size_t t = 0; t < m->o.n_tasks; t++)
        grads[t] = c->grads + (t * S + cs->at) * d;
    return fr_mtr_combine(m, grads, cs->n, round, draw_step, c->combined + cs->at * d, stats);
}

/* Client i's part of a step on the host: its losses, its weights (or its
 * combined rows), its figures. */
static fr_status client_step(fr_mtr *m, fr_mtr_cohort *c, size_t i, size_t step, unsigned round, size_t N,
                             size_t S)
{
    size_t u = c->cl[i].user, T = m->o.n_tasks;
    uint64_t draw_step = u + step * m->data->n_users;
    fr_mtr_epoch e;
    memset(&e, 0, sizeof e);
    fr_combine_stats stats;
    fr_status s = client_losses(m, c, i, round, draw_step, N, &e);
    if (s == FR_OK)
        s = c->on_backend ? client_weights(m, c, i, step, round, draw_step, S, &stats)
                          : client_combine(m, c, i, step, round, draw_step, S, &stats);
    if (s == FR_OK) {
        for (size_t t = 0; t < T; t++) {
            e.combine.weight[t] = stats.weight[t];
            e.combine.norm[t] = stats.norm[t];
        }
        e.combine.conflicts = stats.conflicts;
        e.steps = 1;
    }
    fr_mtr_client_keep_figures(m, u, step, &e);
    return s;
}

/* One local step of the cohort: the tasks' gradients on the backend
 * (DirectAU's with its scalars from the host), the weights per client on
 * the host from the gradients' inner products, the combination and the
 * SGD step on the backend. GradDrop: the gradients downloaded and
 * combined on the host, the combined rows uploaded. */
static fr_status run_step(fr_mtr *m, fr_mtr_cohort *c, size_t step, size_t n_cl, unsigned round, size_t N)
{
    fr_backend *be = c->be;
    step_lists *sl = &c->steps[step];
    size_t d = m->dim, T = m->o.n_tasks, S = sl->slot_rows.n;
    FR_TRY(fr_fill(be, T * S * d, 0.0f, at(c, BUF_G, 0)));
    for (size_t t = 0; t < T; t++)
        FR_TRY(m->o.tasks[t] == FR_MTR_DIRECTAU
                   ? fr_mtr_cohort_directau_ops(m, c, step, n_cl, t)
                   : task_ops(m, c, &sl->task[t], m->o.tasks[t], N, t * 2 * N, t * N, t * S * d));
    fr_view slot_rows = at(c, BUF_I, sl->at_slot_rows);
    if (c->on_backend) {
        size_t nq = c->n_pairs * S;
        FR_TRY(fr_rows_dot(be, nq, d, at(c, BUF_G, 0), d, at(c, BUF_I, sl->at_qa), at(c, BUF_G, 0), d,
                           at(c, BUF_I, sl->at_qb), NO_VIEW, at(c, BUF_Q, 0)));
        FR_TRY(fr_buffer_download(c->buf[BUF_Q], 0, c->q, nq * 4));
    } else {
        FR_TRY(fr_buffer_download(c->buf[BUF_G], 0, c->grads, T * S * d * 4));
    }
    FR_TRY(fr_buffer_download(c->buf[BUF_L], 0, c->losses, T * N * 4));
    for (size_t i = 0; i < n_cl; i++)
        FR_TRY(client_step(m, c, i, step, round, N, S));
    fr_view combined = at(c, BUF_CB, 0);
    if (c->on_backend) {
        FR_TRY(fr_buffer_upload(c->buf[BUF_W], 0, c->w, T * S * 4));
        FR_TRY(fr_fill(be, S * d, 0.0f, combined));
        fr_view idx = at(c, BUF_I, sl->at_comb_idx);
        FR_TRY(fr_segment_rows_axpy(be, S, T * S, d, at(c, BUF_I, sl->at_comb_start), at(c, BUF_I, sl->at_comb_seg),
                                    1.0f, at(c, BUF_W, 0), idx, at(c, BUF_G, 0), d, idx, combined, d));
    } else {
        FR_TRY(fr_buffer_upload(c->buf[BUF_CB], 0, c->combined, S * d * 4));
    }
    return fr_sgd_rows(be, S, d, slot_rows, combined, at(c, BUF_R, 0), m->fed_o.client_lr, m->o.weight_decay);
}

fr_status fr_mtr_cohort_train(fr_mtr *m, unsigned round, const size_t *clients, size_t n,
                              fr_fed_upload *const *ups)
{
    fr_mtr_cohort *c = m->cohort;
    const fr_mtr_data *data = m->data;
    size_t d = m->dim, T = m->o.n_tasks, steps = m->fed_o.local_steps;
    double t0 = fr_clock_seconds();
    /* The clients with interactions; the others upload nothing (as one by one). */
    FR_TRY(grow((void **)&c->cl, &c->cap_cl, n, sizeof *c->cl, "cohort clients"));
    FR_TRY(grow((void **)&c->cs, &c->cap_cs, steps * c->cap_cl, sizeof *c->cs, "cohort slots"));
    size_t n_cl = 0, N = 0;
    for (size_t k = 0; k < n; k++) {
        size_t u = clients[k];
        fr_fed_upload *up = ups[k];
        up->n_rows = 0;
        memset(up->group_start, 0, sizeof up->group_start);
        up->samples = m->fed_start[u + 1] - m->fed_start[u];
        up->t_train = 0;
        if (up->samples == 0)
            continue;
        cohort_client *cc = &c->cl[n_cl++];
        memset(cc, 0, sizeof *cc);
        cc->user = u;
        cc->n = up->samples;
        cc->sample_at = N;
        N += cc->n;
        m->fed_fig_round[u] = round + 1;
        m->fed_fig_steps[u] = 0;
    }
    if (n_cl == 0)
        return FR_OK;
    /* The layout: every client's draws, overlay rows and lists. */
    FR_TRY(fr_mtr_cohort_steps_ready(c, steps));
    c->row_item.n = c->all.n = c->fl.n = 0;
    c->n_samples = N;
    for (size_t i = 0; i < n_cl; i++)
        FR_TRY(fr_mtr_cohort_lay_out_client(m, c, i, round, N));
    FR_TRY(fr_mtr_cohort_gather_lists(m, c));
    FR_TRY(host_grow(&c->f, &c->cap_f, 7 * N, "cohort samples"));
    for (size_t i = 0; i < n_cl; i++) {
        const cohort_client *cc = &c->cl[i];
        size_t begin = m->fed_start[cc->user];
        float inv = 1.0f / (float)cc->n, two = 2.0f / (float)cc->n;
        for (size_t k = 0; k < cc->n; k++) {
            size_t j = cc->sample_at + k;
            c->f[j] = 1.0f;
            c->f[N + j] = inv;
            c->f[2 * N + j] = -inv;
            c->f[3 * N + j] = two;
            c->f[4 * N + j] = data->train_rating[m->fed_rows[begin + k]];
            c->f[5 * N + 2 * j] = 1.0f; /* DirectAU's differences: user - item */
            c->f[5 * N + 2 * j + 1] = -1.0f;
        }
    }
    size_t S = 1, n_rows = c->row_item.n, P = 1, n_un = 1;
    for (size_t s = 0; s < steps; s++) {
        const step_lists *sl = &c->steps[s];
        S = sl->slot_rows.n > S ? sl->slot_rows.n : S;
        P = sl->pair_a.n > P ? sl->pair_a.n : P;
        n_un = sl->un_xi.n > n_un ? sl->un_xi.n : n_un;
    }
    /* The overlay's first values: each client's row and the round's item rows. */
    FR_TRY(host_grow(&c->rows, &c->cap_rows, n_rows * d, "cohort rows"));
    for (size_t i = 0; i < n_cl; i++) {
        const cohort_client *cc = &c->cl[i];
        memcpy(c->rows + cc->row_at * d, m->table + cc->user * d, d * sizeof *c->rows);
        for (size_t k = 1; k < cc->n_rows; k++)
            memcpy(c->rows + (cc->row_at + k) * d,
                   m->table + (data->n_users + (size_t)c->row_item.v[cc->row_at + k]) * d, d * sizeof *c->rows);
    }
    FR_TRY(host_grow(&c->losses, &c->cap_losses, T * N, "cohort losses"));
    if (c->on_backend) {
        FR_TRY(host_grow(&c->q, &c->cap_q, c->n_pairs * S, "cohort inner products"));
        FR_TRY(host_grow(&c->w, &c->cap_w, T * S, "cohort weights"));
    } else { /* GradDrop: the gradients come down, the combined rows go up */
        FR_TRY(host_grow(&c->grads, &c->cap_grads, T * S * d, "cohort gradients"));
        FR_TRY(host_grow(&c->combined, &c->cap_combined, S * d, "cohort gradients"));
    }
    FR_TRY(grow((void **)&c->dau_loss, &c->cap_dau_loss, n_cl, sizeof *c->dau_loss, "cohort losses"));
    if (c->has_directau) {
        FR_TRY(host_grow(&c->sq, &c->cap_sq, S, "DirectAU norms"));
        FR_TRY(host_grow(&c->inv, &c->cap_inv, 3 * S, "DirectAU norms"));
        FR_TRY(host_grow(&c->al, &c->cap_al, N, "DirectAU differences"));
        FR_TRY(host_grow(&c->kk, &c->cap_kk, P, "DirectAU pairs"));
        FR_TRY(host_grow(&c->un, &c->cap_un, n_un, "DirectAU coefficients"));
        FR_TRY(dev(c, BUF_X, S * d * 4));
        FR_TRY(dev(c, BUF_DIFF, N * d * 4));
        FR_TRY(dev(c, BUF_DX, S * d * 4));
        FR_TRY(dev(c, BUF_SQ, S * 4));
        FR_TRY(dev(c, BUF_INV, 3 * S * 4));
        FR_TRY(dev(c, BUF_AL, N * 4));
        FR_TRY(dev(c, BUF_K, P * 4));
        FR_TRY(dev(c, BUF_UN, n_un * 4));
        FR_TRY(dev(c, BUF_PROJ, S * 4));
        FR_TRY(dev(c, BUF_F2, c->fl.n * 4));
        if (c->fl.n)
            FR_TRY(fr_buffer_upload(c->buf[BUF_F2], 0, c->fl.v, c->fl.n * 4));
    }
    FR_TRY(dev(c, BUF_R, n_rows * d * 4));
    FR_TRY(dev(c, BUF_I, c->all.n * 4));
    FR_TRY(dev(c, BUF_F, 7 * N * 4));
    FR_TRY(dev(c, BUF_Z, 2 * N * 4));
    FR_TRY(dev(c, BUF_DZ, N * 4));
    FR_TRY(dev(c, BUF_C, T * 2 * N * 4));
    FR_TRY(dev(c, BUF_L, T * N * 4));
    FR_TRY(dev(c, BUF_G, T * S * d * 4));
    FR_TRY(dev(c, BUF_CB, S * d * 4));
    FR_TRY(dev(c, BUF_Q, c->n_pairs * S * 4));
    FR_TRY(dev(c, BUF_W, T * S * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_R], 0, c->rows, n_rows * d * 4));
    if (c->all.n)
        FR_TRY(fr_buffer_upload(c->buf[BUF_I], 0, c->all.v, c->all.n * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_F], 0, c->f, 7 * N * 4));
    /* DirectAU's rows of the losses are never written (the host computes its
     * loss): zeroed, since every step downloads them all. */
    FR_TRY(fr_fill(c->be, T * N, 0.0f, at(c, BUF_L, 0)));
    for (size_t s = 0; s < steps; s++)
        FR_TRY(run_step(m, c, s, n_cl, round, N));
    FR_TRY(fr_buffer_download(c->buf[BUF_R], 0, c->rows, n_rows * d * 4));
    /* Each client's row back into the table, its item rows' changes up. */
    double t_each = (fr_clock_seconds() - t0) / (double)n_cl;
    size_t i = 0;
    for (size_t k = 0; k < n; k++) {
        if (ups[k]->samples == 0)
            continue;
        const cohort_client *cc = &c->cl[i++];
        memcpy(m->table + cc->user * d, c->rows + cc->row_at * d, d * sizeof *c->rows);
        FR_TRY(fr_mtr_client_pack(m, c->row_item.v + cc->row_at + 1, c->rows + (cc->row_at + 1) * d,
                                  cc->n_rows - 1, ups[k]));
        ups[k]->t_train = t_each;
    }
    return FR_OK;
}
