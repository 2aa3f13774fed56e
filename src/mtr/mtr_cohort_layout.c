/* mtr_cohort_layout.c — a federated multi-task cohort's layout
 * (mtr_cohort.h): each client's local steps drawn as the one-by-one path
 * draws them, its overlay rows, and every step's index lists over the
 * cohort's clients in order, gathered for one upload. */
#include <string.h>

#include "mtr/mtr_cohort.h"

/* The lists of `steps` local steps, emptied (their room kept). */
fr_status fr_mtr_cohort_steps_ready(fr_mtr_cohort *c, size_t steps)
{
    if (steps > c->n_step_lists) {
        step_lists *sl = realloc(c->steps, steps * sizeof *sl);
        if (!sl)
            return fr_fail_nomem("cohort steps", steps * sizeof *sl);
        memset(sl + c->n_step_lists, 0, (steps - c->n_step_lists) * sizeof *sl);
        c->steps = sl;
        c->n_step_lists = steps;
    }
    for (size_t s = 0; s < steps; s++) {
        step_lists *sl = &c->steps[s];
        sl->slot_rows.n = 0;
        ivec *dl[] = {&sl->diff_xi, &sl->distinct, &sl->pair_a, &sl->pair_b, &sl->al_start, &sl->al_seg,
                      &sl->al_xi, &sl->un_start, &sl->un_seg, &sl->un_xi};
        for (size_t k = 0; k < sizeof dl / sizeof dl[0]; k++)
            dl[k]->n = 0;
        sl->count.n = sl->al_coef.n = 0;
        sl->qa.n = sl->qb.n = sl->comb_start.n = sl->comb_seg.n = sl->comb_idx.n = 0;
        for (size_t t = 0; t < T_MAX; t++) {
            task_lists *tl = &sl->task[t];
            tl->rows[0].n = tl->rows[1].n = tl->rows[2].n = 0;
            tl->start.n = tl->seg.n = tl->ci.n = tl->xi.n = 0;
        }
    }
    return FR_OK;
}

/* The overlay row of table row `row` for client i (a new one for an item
 * it had not touched yet). */
static fr_status overlay_row(fr_mtr *m, fr_mtr_cohort *c, size_t i, int32_t row, int32_t *out)
{
    cohort_client *cc = &c->cl[i];
    size_t n_users = m->data->n_users;
    if ((size_t)row < n_users) { /* its own row: no task reads another user's */
        *out = (int32_t)cc->row_at;
        return FR_OK;
    }
    size_t item = (size_t)row - n_users;
    if (c->item_local[item] < 0) {
        c->item_local[item] = (int32_t)cc->n_rows++;
        FR_TRY(ipush(&c->row_item, (int32_t)item));
    }
    *out = (int32_t)(cc->row_at + (size_t)c->item_local[item]);
    return FR_OK;
}

/* A contribution to the gradient of local slot `slot`: coefficient ci
 * times source row xi. */
static void contribute(fr_mtr_cohort *c, size_t *n, int32_t slot, int32_t ci, int32_t xi)
{
    c->tmp_slot[*n] = slot;
    c->tmp_ci[*n] = ci;
    c->tmp_xi[*n] = xi;
    (*n)++;
}

/* Task t's lists for client i's step (st drawn, slots made): its samples'
 * rows and its gradient's segments, the contributions of each slot in
 * sample order (counting sort by slot, stable). N: the samples of a step
 * (all clients), which offsets the negated coefficients. */
static fr_status lay_out_task(fr_mtr *m, fr_mtr_cohort *c, size_t i, const fr_mtr_step *st, size_t t,
                              step_lists *sl, size_t slot_at, size_t N)
{
    cohort_client *cc = &c->cl[i];
    task_lists *tl = &sl->task[t];
    fr_mtr_task kind = m->o.tasks[t];
    size_t n = st->n, n_contrib = 0;
    const int32_t *a, *p, *q = NULL;
    if (kind == FR_MTR_BPR) {
        a = st->user;
        p = st->item;
        q = st->negative;
    } else if (kind == FR_MTR_RATING) {
        a = st->user;
        p = st->item;
    } else {
        a = m->aux[t][0];
        p = m->aux[t][1];
        q = m->aux[t][2];
    }
    for (size_t k = 0; k < n; k++) {
        int32_t j = (int32_t)(cc->sample_at + k), ra, rp, rq = 0;
        FR_TRY(overlay_row(m, c, i, a[k], &ra));
        FR_TRY(overlay_row(m, c, i, p[k], &rp));
        FR_TRY(ipush(&tl->rows[0], ra));
        FR_TRY(ipush(&tl->rows[1], rp));
        int32_t sa = st->slot_of[a[k]], sp = st->slot_of[p[k]];
        if (q) { /* -log sigmoid(a.p - a.q): a gets g (p - q), p g a, q -g a */
            FR_TRY(overlay_row(m, c, i, q[k], &rq));
            FR_TRY(ipush(&tl->rows[2], rq));
            int32_t sq = st->slot_of[q[k]];
            contribute(c, &n_contrib, sa, j, rp);
            contribute(c, &n_contrib, sa, (int32_t)N + j, rq);
            contribute(c, &n_contrib, sp, j, ra);
            contribute(c, &n_contrib, sq, (int32_t)N + j, ra);
        } else { /* (r - u.i)^2: u gets g i, i g u */
            contribute(c, &n_contrib, sa, j, rp);
            contribute(c, &n_contrib, sp, j, ra);
        }
    }
    size_t slots = st->n_slots;
    memset(c->count, 0, (slots + 1) * sizeof *c->count);
    for (size_t k = 0; k < n_contrib; k++)
        c->count[c->tmp_slot[k] + 1]++;
    size_t base = tl->ci.n;
    for (size_t s = 0; s < slots; s++) {
        if (c->count[s + 1] > 0) { /* a segment: the slot's place in the step's slots */
            FR_TRY(ipush(&tl->start, (int32_t)(base + (size_t)c->count[s])));
            FR_TRY(ipush(&tl->seg, (int32_t)(slot_at + s)));
        }
        c->count[s + 1] += c->count[s];
    }
    FR_TRY(grow((void **)&tl->ci.v, &tl->ci.cap, base + n_contrib, sizeof *tl->ci.v, "cohort index lists"));
    FR_TRY(grow((void **)&tl->xi.v, &tl->xi.cap, base + n_contrib, sizeof *tl->xi.v, "cohort index lists"));
    for (size_t k = 0; k < n_contrib; k++) {
        size_t to = base + (size_t)c->count[c->tmp_slot[k]]++;
        tl->ci.v[to] = c->tmp_ci[k];
        tl->xi.v[to] = c->tmp_xi[k];
    }
    tl->ci.n = tl->xi.n = base + n_contrib;
    return FR_OK;
}

/* Client i's local steps: each drawn as the one-by-one path draws it
 * (stream (seed, round, user + step x users, ...)), its slots in the same
 * order, and every task's lists appended to the step's. */
fr_status fr_mtr_cohort_lay_out_client(fr_mtr *m, fr_mtr_cohort *c, size_t i, unsigned round, size_t N)
{
    const fr_mtr_data *d = m->data;
    cohort_client *cc = &c->cl[i];
    size_t u = cc->user, begin = m->fed_start[u], n = cc->n;
    cc->row_at = c->row_item.n;
    cc->n_rows = 1;
    FR_TRY(ipush(&c->row_item, -1));
    if (4 * n > c->cap_tmp) { /* a task's contributions: at most 4 a sample */
        int32_t *a = realloc(c->tmp_slot, 4 * n * sizeof *a);
        if (a)
            c->tmp_slot = a;
        int32_t *b = a ? realloc(c->tmp_ci, 4 * n * sizeof *b) : NULL;
        if (b)
            c->tmp_ci = b;
        int32_t *x = b ? realloc(c->tmp_xi, 4 * n * sizeof *x) : NULL;
        if (!x)
            return fr_fail_nomem("cohort scratch", 12 * n * sizeof *x);
        c->tmp_xi = x;
        c->cap_tmp = 4 * n;
    }
    fr_status s = FR_OK;
    for (size_t step = 0; s == FR_OK && step < m->fed_o.local_steps; step++) {
        step_lists *sl = &c->steps[step];
        fr_mtr_step st;
        fr_mtr_step_init(m, &st, n);
        for (size_t k = 0; k < n; k++) {
            size_t r = (size_t)m->fed_rows[begin + k];
            m->step_user[k] = (int32_t)u;
            m->step_item[k] = d->train_item[r] + (int32_t)d->n_users;
            m->step_rating[k] = d->train_rating[r];
        }
        fr_mtr_step_draw(m, &st, round, u + step * d->n_users);
        client_slots *cs = &c->cs[step * c->cap_cl + i];
        cs->at = sl->slot_rows.n;
        cs->n = st.n_slots;
        for (size_t k = 0; s == FR_OK && k < st.n_slots; k++) {
            int32_t r;
            s = overlay_row(m, c, i, st.rows[k], &r);
            if (s == FR_OK)
                s = ipush(&sl->slot_rows, r);
        }
        for (size_t t = 0; s == FR_OK && t < m->o.n_tasks; t++)
            s = m->o.tasks[t] == FR_MTR_DIRECTAU ? fr_mtr_cohort_lay_out_directau(c, i, &st, sl, cs)
                                                 : lay_out_task(m, c, i, &st, t, sl, cs->at, N);
        fr_mtr_step_release(m, &st);
    }
    for (size_t k = 1; k < cc->n_rows; k++) /* the item map back to empty, failure or not */
        c->item_local[c->row_item.v[cc->row_at + k]] = -1;
    return s;
}

/* A step's combination lists, from its slot count S: the rows of the
 * inner products (task rows t S + s of the gradient buffer: PMTRec each
 * task's with itself, the global methods each pair a <= b), and each
 * slot's T contributions (weight t S + s times gradient row t S + s, in
 * task order, as fr_combine adds them). */
static fr_status combination_lists(const fr_mtr *m, step_lists *sl)
{
    size_t T = m->o.n_tasks, S = sl->slot_rows.n;
    int per_row = m->o.combine.method == FR_COMBINE_PMTREC;
    for (size_t a = 0; a < T; a++)
        for (size_t b = a; b < T; b++) {
            if (per_row && b != a)
                continue;
            for (size_t k = 0; k < S; k++) {
                FR_TRY(ipush(&sl->qa, (int32_t)(a * S + k)));
                FR_TRY(ipush(&sl->qb, (int32_t)(b * S + k)));
            }
        }
    for (size_t k = 0; k < S; k++) {
        FR_TRY(ipush(&sl->comb_start, (int32_t)(k * T)));
        FR_TRY(ipush(&sl->comb_seg, (int32_t)k));
        for (size_t t = 0; t < T; t++)
            FR_TRY(ipush(&sl->comb_idx, (int32_t)(t * S + k)));
    }
    return ipush(&sl->comb_start, (int32_t)(S * T));
}

/* The lists of every step appended to c->all (offsets kept), each task's
 * segment starts closed. */
fr_status fr_mtr_cohort_gather_lists(fr_mtr *m, fr_mtr_cohort *c)
{
    ivec *all = &c->all;
    for (size_t step = 0; step < m->fed_o.local_steps; step++) {
        step_lists *sl = &c->steps[step];
        const ivec *lists[16 + 7 * T_MAX];
        size_t *offsets[16 + 7 * T_MAX], n_lists = 0;
        lists[n_lists] = &sl->slot_rows;
        offsets[n_lists++] = &sl->at_slot_rows;
        if (c->has_directau) {
            FR_TRY(ipush(&sl->al_start, (int32_t)sl->al_xi.n));
            FR_TRY(ipush(&sl->un_start, (int32_t)sl->un_xi.n));
            ivec *dl[] = {&sl->diff_xi, &sl->pair_a, &sl->pair_b, &sl->al_start, &sl->al_seg,
                          &sl->al_xi, &sl->un_start, &sl->un_seg, &sl->un_xi};
            size_t *dat[] = {&sl->at_diff_xi, &sl->at_pair_a, &sl->at_pair_b, &sl->at_al_start, &sl->at_al_seg,
                             &sl->at_al_xi, &sl->at_un_start, &sl->at_un_seg, &sl->at_un_xi};
            for (size_t k = 0; k < sizeof dl / sizeof dl[0]; k++) {
                lists[n_lists] = dl[k];
                offsets[n_lists++] = dat[k];
            }
            FR_TRY(grow((void **)&c->fl.v, &c->fl.cap, c->fl.n + sl->al_coef.n + 1, sizeof *c->fl.v,
                        "cohort coefficient lists"));
            sl->at_al_coef = c->fl.n;
            if (sl->al_coef.n)
                memcpy(c->fl.v + c->fl.n, sl->al_coef.v, sl->al_coef.n * sizeof *c->fl.v);
            c->fl.n += sl->al_coef.n;
        }
        for (size_t t = 0; t < m->o.n_tasks; t++) {
            task_lists *tl = &sl->task[t];
            if (m->o.tasks[t] == FR_MTR_DIRECTAU)
                continue;
            FR_TRY(ipush(&tl->start, (int32_t)tl->ci.n));
            for (int j = 0; j < 3; j++) {
                lists[n_lists] = &tl->rows[j];
                offsets[n_lists++] = &tl->at_rows[j];
            }
            lists[n_lists] = &tl->start;
            offsets[n_lists++] = &tl->at_start;
            lists[n_lists] = &tl->seg;
            offsets[n_lists++] = &tl->at_seg;
            lists[n_lists] = &tl->ci;
            offsets[n_lists++] = &tl->at_ci;
            lists[n_lists] = &tl->xi;
            offsets[n_lists++] = &tl->at_xi;
        }
        if (c->on_backend) {
            FR_TRY(combination_lists(m, sl));
            ivec *comb[5] = {&sl->qa, &sl->qb, &sl->comb_start, &sl->comb_seg, &sl->comb_idx};
            size_t *comb_at[5] = {&sl->at_qa, &sl->at_qb, &sl->at_comb_start, &sl->at_comb_seg, &sl->at_comb_idx};
            for (int k = 0; k < 5; k++) {
                lists[n_lists] = comb[k];
                offsets[n_lists++] = comb_at[k];
            }
        }
        for (size_t k = 0; k < n_lists; k++) {
            FR_TRY(grow((void **)&all->v, &all->cap, all->n + lists[k]->n + 1, sizeof *all->v,
                        "cohort index lists"));
            *offsets[k] = all->n;
            if (lists[k]->n)
                memcpy(all->v + all->n, lists[k]->v, lists[k]->n * sizeof *all->v);
            all->n += lists[k]->n;
        }
    }
    /* 0, 1, 2, ... and 0, 2, 4, ...: segments of one or two contributions */
    size_t longest = 0;
    for (size_t step = 0; step < m->fed_o.local_steps; step++)
        if (c->steps[step].slot_rows.n > longest)
            longest = c->steps[step].slot_rows.n;
    if (c->n_samples > longest)
        longest = c->n_samples;
    FR_TRY(grow((void **)&all->v, &all->cap, all->n + 2 * (longest + 1), sizeof *all->v, "cohort index lists"));
    c->at_iota = all->n;
    for (size_t k = 0; k <= longest; k++)
        all->v[all->n++] = (int32_t)k;
    c->at_even = all->n;
    for (size_t k = 0; k <= longest; k++)
        all->v[all->n++] = (int32_t)(2 * k);
    return FR_OK;
}
