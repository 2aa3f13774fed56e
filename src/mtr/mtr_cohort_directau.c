/* mtr_cohort_directau.c — DirectAU in a federated multi-task cohort
 * (mtr_cohort.h): its lists at the layout, and a step's ops on the
 * backend with the few scalars the host computes between them (the rows'
 * inverse norms, the pairs' weights, the loss). The one-by-one path's
 * DirectAU is in mtr_tasks.c. */
#include <math.h>
#include <string.h>

#include "mtr/mtr_cohort.h"

/* DirectAU's lists for client i's step (st drawn, slots made, cs its
 * slots): the one-by-one path's batch of the user's row (one distinct
 * row: its uniformity is constant, no gradient) and the items' rows with
 * their multiplicities, distinct items in first-seen order. */
fr_status fr_mtr_cohort_lay_out_directau(fr_mtr_cohort *c, size_t i, const fr_mtr_step *st, step_lists *sl,
                                         client_slots *cs)
{
    const cohort_client *cc = &c->cl[i];
    size_t n = st->n, at = cs->at;
    int32_t user = (int32_t)at + st->slot_of[st->user[0]];
    cs->distinct_at = sl->distinct.n;
    cs->pair_at = sl->pair_a.n;
    size_t nd = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t local = st->slot_of[st->item[k]];
        if (c->distinct_of[local] < 0) {
            c->distinct_of[local] = (int32_t)nd++;
            FR_TRY(ipush(&sl->distinct, (int32_t)at + local));
            FR_TRY(fpush(&sl->count, 0.0f));
        }
        sl->count.v[cs->distinct_at + (size_t)c->distinct_of[local]] += 1.0f;
        FR_TRY(ipush(&sl->diff_xi, user));
        FR_TRY(ipush(&sl->diff_xi, (int32_t)at + local));
    }
    cs->n_distinct = nd;
    const int32_t *dist = sl->distinct.v + cs->distinct_at;
    for (size_t a = 0; a < nd; a++)
        for (size_t b = a; b < nd; b++) {
            FR_TRY(ipush(&sl->pair_a, dist[a]));
            FR_TRY(ipush(&sl->pair_b, dist[b]));
        }
    /* the alignment: the user's row gets 2 / n of each sample's
     * difference, each item's row -2 / n of its samples' */
    float two = 2.0f / (float)n;
    FR_TRY(ipush(&sl->al_start, (int32_t)sl->al_xi.n));
    FR_TRY(ipush(&sl->al_seg, user));
    for (size_t k = 0; k < n; k++) {
        FR_TRY(ipush(&sl->al_xi, (int32_t)(cc->sample_at + k)));
        FR_TRY(fpush(&sl->al_coef, two));
    }
    /* each item's samples in sample order: a counting sort by item */
    int32_t *by_item = c->tmp_slot; /* room for 4 n (lay_out_client) */
    memset(c->count, 0, (nd + 1) * sizeof *c->count);
    for (size_t k = 0; k < n; k++)
        c->count[c->distinct_of[st->slot_of[st->item[k]]] + 1]++;
    for (size_t a = 0; a < nd; a++)
        c->count[a + 1] += c->count[a];
    for (size_t k = 0; k < n; k++)
        by_item[c->count[c->distinct_of[st->slot_of[st->item[k]]]]++] = (int32_t)k;
    for (size_t a = 0, k = 0; a < nd; a++) {
        FR_TRY(ipush(&sl->al_start, (int32_t)sl->al_xi.n));
        FR_TRY(ipush(&sl->al_seg, dist[a]));
        for (; k < (size_t)c->count[a]; k++) {
            FR_TRY(ipush(&sl->al_xi, (int32_t)(cc->sample_at + (size_t)by_item[k])));
            FR_TRY(fpush(&sl->al_coef, -two));
        }
    }
    /* the uniformity: each item's row gets its own row and the others' */
    cs->un_at = sl->un_xi.n;
    for (size_t a = 0; a < nd; a++) {
        FR_TRY(ipush(&sl->un_start, (int32_t)sl->un_xi.n));
        FR_TRY(ipush(&sl->un_seg, dist[a]));
        FR_TRY(ipush(&sl->un_xi, dist[a]));
        for (size_t b = 0; b < nd; b++)
            if (b != a)
                FR_TRY(ipush(&sl->un_xi, dist[b]));
    }
    for (size_t a = 0; a < nd; a++)
        c->distinct_of[dist[a] - (int32_t)at] = -1;
    return FR_OK;
}

/* Client i's part of DirectAU's step on the host: its loss (the mean
 * squared difference of its samples' normalised rows, and the items'
 * uniformity from their pairs' products, as the one-by-one path's
 * uniformity() over distinct rows) and its uniformity coefficients: for
 * item a, scale c_a R_a on its own row and -scale c_a c_b E_ab on item
 * b's, E_ab = exp(4 x_a.x_b - 4) (b = a too: x_a.x_a rounds off 1),
 * R_a = sum_{b != a} c_b E_ab,
 * scale = -4 (gamma / 2) / S. The user's row is one distinct row: its
 * uniformity is 0 with no gradient. */
static fr_status directau_client(fr_mtr *m, fr_mtr_cohort *c, size_t i, size_t step)
{
    const cohort_client *cc = &c->cl[i];
    const client_slots *cs = &c->cs[step * c->cap_cl + i];
    const step_lists *sl = &c->steps[step];
    size_t n = cc->n, nd = cs->n_distinct;
    const float *count = sl->count.v + cs->distinct_at;
    double align = 0;
    for (size_t k = 0; k < n; k++)
        align += (double)c->al[cc->sample_at + k];
    align /= (double)n;
    FR_TRY(host_grow(&c->e, &c->cap_e, nd * nd, "DirectAU pair weights"));
    FR_TRY(host_grow(&c->r, &c->cap_r, nd, "DirectAU pair weights"));
    float *e = c->e, *r = c->r, *un = c->un + cs->un_at;
    const float *kk = c->kk + cs->pair_at;
    size_t p = 0;
    for (size_t a = 0; a < nd; a++)
        for (size_t b = a; b < nd; b++, p++)
            e[a * nd + b] = e[b * nd + a] = expf(4.0f * kk[p] - 4.0f);
    double uniform = 0;
    float scale = 0;
    if (n >= 2) {
        double s = 0;
        for (size_t a = 0; a < nd; a++) {
            /* over every b, then less b = a's term, as the one-by-one
             * path sums them (it would round otherwise) */
            float sum = 0;
            for (size_t b = 0; b < nd; b++)
                sum += count[b] * e[a * nd + b];
            r[a] = sum - count[a] * e[a * nd + a];
            s += 0.5 * (double)count[a] * r[a] + 0.5 * (double)count[a] * ((double)count[a] - 1);
        }
        double pairs = (double)n * (double)(n - 1) / 2;
        if (s > 0) {
            scale = (float)(-4.0 / s) * (float)(m->o.gamma / 2);
            uniform = log(s / pairs);
        } else {
            uniform = log(pairs > 0 ? 1e-30 : 1);
        }
    }
    for (size_t a = 0; a < nd; a++) {
        float sa = scale * count[a];
        *un++ = sa * (n >= 2 ? r[a] : 0.0f);
        for (size_t b = 0; b < nd; b++)
            if (b != a)
                *un++ = -sa * count[b] * e[a * nd + b];
    }
    c->dau_loss[i] = align + m->o.gamma * uniform / 2;
    return FR_OK;
}

/* DirectAU's gradient on the step's slots (task rows t of G), on the
 * backend but for a few numbers per row and per pair: the slot rows'
 * squared norms come down and their inverses go up; the rows normalised
 * (x = v / |v|), the samples' differences x_user - x_item and their
 * squares, the distinct items' pairs' products; those come down and the
 * uniformity's coefficients go up; the gradient on the normalised rows
 * (alignment over the differences, uniformity over the rows) and through
 * the normalisation, (dx - x (x . dx)) / |v|, into G. */
fr_status fr_mtr_cohort_directau_ops(fr_mtr *m, fr_mtr_cohort *c, size_t step, size_t n_cl, size_t t)
{
    fr_backend *be = c->be;
    step_lists *sl = &c->steps[step];
    size_t d = m->dim, S = sl->slot_rows.n, N = c->n_samples, P = sl->pair_a.n, n_un = sl->un_xi.n;
    fr_view R = at(c, BUF_R, 0), X = at(c, BUF_X, 0), DIFF = at(c, BUF_DIFF, 0), DX = at(c, BUF_DX, 0);
    fr_view iota = at(c, BUF_I, c->at_iota), even = at(c, BUF_I, c->at_even);
    fr_view slot_rows = at(c, BUF_I, sl->at_slot_rows);
    FR_TRY(fr_rows_dot(be, S, d, R, d, slot_rows, R, d, slot_rows, NO_VIEW, at(c, BUF_SQ, 0)));
    FR_TRY(fr_buffer_download(c->buf[BUF_SQ], 0, c->sq, S * 4));
    for (size_t k = 0; k < S; k++) { /* as the host normalises: |v| at least 1e-12 */
        float len = sqrtf(c->sq[k]), norm = len > 1e-12f ? len : 1e-12f;
        c->inv[k] = 1.0f / norm;
        c->inv[2 * S + k] = -c->inv[k];
    }
    FR_TRY(fr_buffer_upload(c->buf[BUF_INV], 0, c->inv, S * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_INV], 2 * S * 4, c->inv + 2 * S, S * 4));
    FR_TRY(fr_fill(be, S * d, 0.0f, X));
    FR_TRY(fr_segment_rows_axpy(be, S, S, d, iota, iota, 1.0f, at(c, BUF_INV, 0), NO_VIEW, R, d, slot_rows, X, d));
    FR_TRY(fr_fill(be, N * d, 0.0f, DIFF));
    FR_TRY(fr_segment_rows_axpy(be, N, 2 * N, d, even, iota, 1.0f, at(c, BUF_F, 5 * N), NO_VIEW, X, d,
                                at(c, BUF_I, sl->at_diff_xi), DIFF, d));
    FR_TRY(fr_rows_dot(be, N, d, DIFF, d, iota, DIFF, d, iota, NO_VIEW, at(c, BUF_AL, 0)));
    if (P)
        FR_TRY(fr_rows_dot(be, P, d, X, d, at(c, BUF_I, sl->at_pair_a), X, d, at(c, BUF_I, sl->at_pair_b), NO_VIEW,
                           at(c, BUF_K, 0)));
    FR_TRY(fr_buffer_download(c->buf[BUF_AL], 0, c->al, N * 4));
    if (P)
        FR_TRY(fr_buffer_download(c->buf[BUF_K], 0, c->kk, P * 4));
    for (size_t i = 0; i < n_cl; i++)
        FR_TRY(directau_client(m, c, i, step));
    if (n_un)
        FR_TRY(fr_buffer_upload(c->buf[BUF_UN], 0, c->un, n_un * 4));
    FR_TRY(fr_fill(be, S * d, 0.0f, DX));
    FR_TRY(fr_segment_rows_axpy(be, sl->al_seg.n, sl->al_xi.n, d, at(c, BUF_I, sl->at_al_start),
                                at(c, BUF_I, sl->at_al_seg), 1.0f, at(c, BUF_F2, sl->at_al_coef), NO_VIEW, DIFF, d,
                                at(c, BUF_I, sl->at_al_xi), DX, d));
    FR_TRY(fr_segment_rows_axpy(be, sl->un_seg.n, n_un, d, at(c, BUF_I, sl->at_un_start),
                                at(c, BUF_I, sl->at_un_seg), 1.0f, at(c, BUF_UN, 0), NO_VIEW, X, d,
                                at(c, BUF_I, sl->at_un_xi), DX, d));
    /* through the normalisation: inv dx - inv (x . dx) x */
    FR_TRY(fr_rows_dot(be, S, d, X, d, iota, DX, d, iota, NO_VIEW, at(c, BUF_PROJ, 0)));
    FR_TRY(fr_mul(be, S, at(c, BUF_PROJ, 0), at(c, BUF_INV, 2 * S), at(c, BUF_INV, S)));
    fr_view G = at(c, BUF_G, t * S * d);
    FR_TRY(fr_segment_rows_axpy(be, S, S, d, iota, iota, 1.0f, at(c, BUF_INV, 0), NO_VIEW, DX, d, NO_VIEW, G, d));
    return fr_segment_rows_axpy(be, S, S, d, iota, iota, 1.0f, at(c, BUF_INV, S), NO_VIEW, X, d, NO_VIEW, G, d);
}
