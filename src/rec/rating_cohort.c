/* rating_cohort.c — PFedRec's and FedMF's clients trained as cohorts on
 * any backend (the client interface's train_cohort, fedrec/fed_client.h),
 * and what every cohort trainer shares (rating_cohort_internal.h; FedNCF's
 * steps are rating_cohort_ncf.c's).
 *
 * A round's clients are trained together, batch by batch: batch k of every
 * client that has one is one "step" of a few ops on fr_backend — gathered
 * row products for the logits (fr_rows_dot), BCE, the per-client gradient
 * of the score function as segmented row sums scattered into the clients'
 * rows (fr_segment_rows_axpy), and the item rows' updates as segmented sums
 * over the samples of each loaded row. On a device a round is then tens to
 * hundreds of launches, not one per sample or client.
 *
 * What the host does: everything random (each client's negatives and
 * shuffles, from the same streams as the one-by-one path, so the samples
 * and their order are the same), laying out the index lists of every step
 * of the cohort (uploaded once), and packing each client's upload from the
 * trained rows. The arithmetic is the one-by-one path's (rating_client.c)
 * in another float order: results agree within rounding, not bit for bit.
 *
 * Device memory of a cohort: the item table, then each client's private
 * copy of the rows it touches (its overlay), in one buffer, so that
 * evaluation reads overlay or table rows through one index list. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "fedrec/backend.h"
#include "fedrec/metrics.h"
#include "fedrec/rng.h"
#include "rec/rating.h"
#include "rec/rating_cohort.h"
#include "rec/rating_cohort_internal.h"

fr_status fr_rc_grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return FR_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * size);
    if (!nv)
        return fr_fail_nomem("cohort index lists", c * size);
    *v = nv;
    *cap = c;
    return FR_OK;
}

fr_status fr_rc_ipush(ivec *a, int32_t x)
{
    if (a->n == a->cap)
        FR_TRY(fr_rc_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v));
    a->v[a->n++] = x;
    return FR_OK;
}

fr_status fr_rc_fpush(fvec *a, float x)
{
    if (a->n == a->cap)
        FR_TRY(fr_rc_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v));
    a->v[a->n++] = x;
    return FR_OK;
}

void fr_rating_cohort_free(fr_rating_cohort *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_BUFS; i++)
        fr_buffer_free(c->buf[i]);
    fr_pf_scratch_free(&c->hs);
    free(c->cl);
    free(c->row_item);
    free(c->row);
    free(c->label);
    free(c->steps);
    free(c->I.v);
    free(c->eval_rows.v);
    free(c->eval_xi.v);
    free(c->F.v);
    free(c->overlay);
    free(c->w);
    free(c->b);
    free(c->scores);
    free(c->losses);
    free(c->order);
    free(c->nsteps);
    free(c->shared);
    free(c->rank);
    free(c);
}

fr_status fr_rating_cohort_create(const fr_rating *p, fr_backend *be, fr_rating_cohort **out)
{
    *out = NULL;
    if (p->o.algorithm == FR_ALGO_CENTRAL_MF)
        return fr_fail(FR_ERR_UNSUPPORTED, "cohort training on a backend: centralised MF has no clients");
    if (p->o.algorithm == FR_ALGO_FEDNCF && p->o.n_ncf_layers == 0)
        return fr_fail(FR_ERR_UNSUPPORTED, "cohort training on a backend: FedNCF needs at least one hidden layer");
    fr_rating_cohort *c = calloc(1, sizeof *c);
    if (!c)
        return fr_fail_nomem("cohort state", sizeof *c);
    c->be = be;
    fr_status s = fr_pf_scratch_init(&c->hs, p);
    if (s != FR_OK) {
        free(c);
        return s;
    }
    *out = c;
    return FR_OK;
}

/* Device buffer i holds at least `bytes` (contents not kept). */
fr_status fr_rc_dev(fr_rating_cohort *c, int i, size_t bytes)
{
    return fr_buffer_reserve(c->be, &c->buf[i], bytes);
}

static const fr_view none = {NULL, 0};

/* Room for n samples' rows and labels, both or neither (the capacity
 * counts only what both hold). */
static fr_status grow_samples(fr_rating_cohort *c, size_t n)
{
    if (n <= c->cap_samples)
        return FR_OK;
    size_t cap = c->cap_samples ? c->cap_samples : 1024;
    while (cap < n)
        cap *= 2;
    int32_t *row = realloc(c->row, cap * sizeof *row);
    if (!row)
        return fr_fail_nomem("cohort samples", cap * 8);
    c->row = row;
    float *label = realloc(c->label, cap * sizeof *label);
    if (!label)
        return fr_fail_nomem("cohort samples", cap * 8);
    c->label = label;
    c->cap_samples = cap;
    return FR_OK;
}

/* Lays out client i's samples and overlay rows: its negatives drawn as
 * the one-by-one path draws them, each distinct item given an overlay row,
 * and its evaluation rows (overlay rows where it has them and the model
 * evaluates on them). */
fr_status fr_rc_lay_out_client(const fr_rating *p, fr_rating_cohort *c, size_t i)
{
    cohort_client *cc = &c->cl[i];
    scratch *s = &c->hs;
    size_t u = cc->user, n;
    double t0 = fr_clock_seconds();
    FR_TRY(fr_pf_draw_samples(p, s, u, &n));
    cc->t_negatives = fr_clock_seconds() - t0;
    cc->sample_at = c->n_samples;
    cc->n_samples = n;
    cc->row_at = c->n_rows;
    FR_TRY(grow_samples(c, c->n_samples + n));
    FR_TRY(fr_rc_grow((void **)&c->row_item, &c->cap_rows, c->n_rows + n, sizeof *c->row_item));
    size_t base = p->n_items + cc->row_at, local = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t item = s->sample_item[k];
        if (s->slot[item] < 0) {
            s->slot[item] = (int32_t)local;
            c->row_item[cc->row_at + local++] = item;
        }
        c->row[c->n_samples + k] = (int32_t)(base + (size_t)s->slot[item]);
        c->label[c->n_samples + k] = s->sample_label[k];
    }
    cc->n_rows = local;
    c->n_rows += local;
    c->n_samples += n;
    cc->eval_at = SIZE_MAX;
    const fr_loo_split *sp = p->split;
    fr_status st = FR_OK;
    if (!p->skip_eval && sp->has_eval[u]) {
        size_t K = sp->negatives_per_eval;
        const int32_t *neg = sp->eval_negatives + u * 2 * K;
        int overlay = p->o.algorithm == FR_ALGO_PFEDREC && !p->o.eval_global_items;
        cc->eval_at = c->eval_rows.n;
        for (size_t half = 0; half < 2; half++) {
            int32_t first = half ? sp->test_item[u] : sp->val_item[u];
            for (size_t k = 0; k <= K; k++) {
                int32_t item = k == 0 ? first : neg[half * K + k - 1];
                int32_t r = overlay && s->slot[item] >= 0 ? (int32_t)(base + (size_t)s->slot[item]) : item;
                if (st == FR_OK)
                    st = fr_rc_ipush(&c->eval_rows, r);
                if (st == FR_OK)
                    st = fr_rc_ipush(&c->eval_xi, (int32_t)i);
            }
        }
    }
    for (size_t k = 0; k < local; k++) /* the slot map back to empty, failure or not */
        s->slot[c->row_item[cc->row_at + k]] = -1;
    return st;
}

/* Client i's samples shuffled for epoch e, as the one-by-one path does:
 * stream (seed, round + 1, user, SHUFFLE) at e << 32, applied to the
 * order the last epoch left. */
void fr_rc_shuffle_client(const fr_rating *p, fr_rating_cohort *c, size_t i, size_t epoch)
{
    cohort_client *cc = &c->cl[i];
    int32_t *row = c->row + cc->sample_at;
    float *label = c->label + cc->sample_at;
    fr_rng rng;
    fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)cc->user, FR_RNG_SHUFFLE);
    fr_rng_seek(&rng, (uint64_t)epoch << 32);
    for (size_t a = cc->n_samples; a > 1; a--) {
        size_t j = fr_rng_below(&rng, (uint32_t)a);
        int32_t tr = row[a - 1];
        float tl = label[a - 1];
        row[a - 1] = row[j];
        label[a - 1] = label[j];
        row[j] = tr;
        label[j] = tl;
    }
}

/* Keys of a batch's samples: row, then position (a stable order by row). */
int fr_rc_compare_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

fr_status fr_rc_push_by_row(fr_rating_cohort *c, const int32_t *rows, size_t m, size_t base)
{
    FR_TRY(fr_rc_grow((void **)&c->order, &c->cap_order, m, sizeof *c->order));
    for (size_t j = 0; j < m; j++)
        c->order[j] = (uint64_t)(uint32_t)rows[j] << 32 | j;
    qsort(c->order, m, sizeof *c->order, fr_rc_compare_key);
    for (size_t j = 0; j < m; j++)
        FR_TRY(fr_rc_ipush(&c->I, (int32_t)(base + (c->order[j] & 0xFFFFFFFFu))));
    return FR_OK;
}

fr_status fr_rc_row_segments(ivec *I, size_t rows_at, size_t order_at, size_t n, size_t *start, size_t *seg,
                             size_t *n_seg)
{
    *n_seg = 0;
    *start = I->n;
    for (size_t j = 0; j < n; j++) {
        int32_t r = I->v[rows_at + (size_t)I->v[order_at + j]];
        if (j == 0 || r != I->v[rows_at + (size_t)I->v[order_at + j - 1]]) {
            FR_TRY(fr_rc_ipush(I, (int32_t)j));
            (*n_seg)++;
        }
    }
    FR_TRY(fr_rc_ipush(I, (int32_t)n));
    *seg = I->n;
    for (size_t t = 0; t < *n_seg; t++) {
        size_t j = (size_t)I->v[*start + t];
        FR_TRY(fr_rc_ipush(I, I->v[rows_at + (size_t)I->v[order_at + j]]));
    }
    return FR_OK;
}

/* Samples in batch k of a client (0: it has no batch k). */
static size_t batch_of(const cohort_client *cc, size_t k, size_t B)
{
    if (cc->n_samples <= k * B)
        return 0;
    return cc->n_samples - k * B < B ? cc->n_samples - k * B : B;
}

/* The steps of epoch e: batch k of every client that has one, clients in
 * cohort order, appended to the step list and the index lists. */
static fr_status lay_out_epoch(const fr_rating *p, fr_rating_cohort *c, size_t n_cl, size_t *loss_at)
{
    size_t B = p->o.batch, max_batches = 0;
    for (size_t i = 0; i < n_cl; i++) {
        size_t nb = (c->cl[i].n_samples + B - 1) / B;
        if (nb > max_batches)
            max_batches = nb;
    }
    ivec *I = &c->I;
    fvec *F = &c->F;
    for (size_t k = 0; k < max_batches; k++) {
        FR_TRY(fr_rc_grow((void **)&c->steps, &c->cap_steps, c->n_steps + 1, sizeof *c->steps));
        cohort_step *st = &c->steps[c->n_steps++];
        memset(st, 0, sizeof *st);
        st->loss_at = *loss_at;
        /* Per sample: client, row; labels and scales. */
        st->xi = I->n;
        for (size_t i = 0; i < n_cl; i++) {
            const cohort_client *cc = &c->cl[i];
            size_t m = batch_of(cc, k, B);
            if (m == 0)
                continue;
            for (size_t j = 0; j < m; j++)
                FR_TRY(fr_rc_ipush(I, (int32_t)i));
            st->n += m;
            st->n_clients++;
        }
        st->yi = I->n;
        st->label = F->n;
        for (size_t i = 0; i < n_cl; i++) {
            const cohort_client *cc = &c->cl[i];
            size_t m = batch_of(cc, k, B);
            if (m == 0)
                continue;
            for (size_t j = 0; j < m; j++) {
                FR_TRY(fr_rc_ipush(I, c->row[cc->sample_at + k * B + j]));
                FR_TRY(fr_rc_fpush(F, c->label[cc->sample_at + k * B + j]));
            }
        }
        st->scale = F->n;
        st->start1 = I->n;
        size_t pos = 0;
        for (size_t i = 0; i < n_cl; i++) {
            const cohort_client *cc = &c->cl[i];
            size_t m = batch_of(cc, k, B);
            if (m == 0)
                continue;
            for (size_t j = 0; j < m; j++)
                FR_TRY(fr_rc_fpush(F, 1.0f / (float)m));
            FR_TRY(fr_rc_ipush(I, (int32_t)pos));
            pos += m;
        }
        FR_TRY(fr_rc_ipush(I, (int32_t)pos));
        st->seg1 = I->n;
        for (size_t i = 0; i < n_cl; i++)
            if (batch_of(&c->cl[i], k, B))
                FR_TRY(fr_rc_ipush(I, (int32_t)i));
        /* The item step: each client's batch sorted by row (stable), rows
         * of different clients being distinct. */
        st->ci2 = I->n;
        pos = 0;
        for (size_t i = 0; i < n_cl; i++) {
            const cohort_client *cc = &c->cl[i];
            size_t m = batch_of(cc, k, B);
            if (m == 0)
                continue;
            FR_TRY(fr_rc_push_by_row(c, c->row + cc->sample_at + k * B, m, pos));
            pos += m;
        }
        st->xi2 = I->n;
        for (size_t j = 0; j < st->n; j++)
            FR_TRY(fr_rc_ipush(I, I->v[st->xi + (size_t)I->v[st->ci2 + j]]));
        FR_TRY(fr_rc_row_segments(I, st->yi, st->ci2, st->n, &st->start2, &st->seg2, &st->n_rows));
        *loss_at += st->n;
    }
    return FR_OK;
}

/* Runs one step: PFedRec's two steps (score function, then item rows
 * with the updated score function) or FedMF's joint step. */
static fr_status run_step(const fr_rating *p, fr_rating_cohort *c, const cohort_step *st, size_t n_cl)
{
    fr_backend *be = c->be;
    size_t d = p->dim;
    float lr = p->o.lr, lr_item = p->o.lr * (float)p->n_items * p->o.lr_eta;
    fr_view D = fr_rc_at(c, BUF_D, 0), W = fr_rc_at(c, BUF_W, 0), b = fr_rc_at(c, BUF_B, 0);
    fr_view z = fr_rc_at(c, BUF_Z, 0), dz = fr_rc_at(c, BUF_DZ, 0), g = fr_rc_at(c, BUF_GRAD, 0);
    fr_view xi = fr_rc_at(c, BUF_I, st->xi), yi = fr_rc_at(c, BUF_I, st->yi);
    fr_view label = fr_rc_at(c, BUF_F, st->label), scale = fr_rc_at(c, BUF_F, st->scale);
    fr_view start1 = fr_rc_at(c, BUF_I, st->start1), seg1 = fr_rc_at(c, BUF_I, st->seg1);
    fr_view start2 = fr_rc_at(c, BUF_I, st->start2), seg2 = fr_rc_at(c, BUF_I, st->seg2);
    fr_view ci2 = fr_rc_at(c, BUF_I, st->ci2), xi2 = fr_rc_at(c, BUF_I, st->xi2);
    fr_view loss = fr_rc_at(c, BUF_LOSS, st->loss_at);
    int pfedrec = p->o.algorithm == FR_ALGO_PFEDREC;
    /* The logits, their BCE gradients scaled by 1 / batch. */
    FR_TRY(fr_rows_dot(be, st->n, d, W, d, xi, D, d, yi, pfedrec ? b : none, z));
    FR_TRY(fr_bce_with_logits(be, st->n, z, label, loss, dz));
    FR_TRY(fr_mul(be, st->n, dz, scale, g));
    if (pfedrec) {
        /* Step 1: w -= lr sum g e, b -= lr sum g, per client. */
        FR_TRY(fr_segment_rows_axpy(be, st->n_clients, st->n, d, start1, seg1, -lr, g, none, D, d, yi, W, d));
        FR_TRY(fr_segment_rows_axpy(be, st->n_clients, st->n, 1, start1, seg1, -lr, none, none, g, 1, none, b, 1));
        /* Step 2: the item rows, from the updated score function. */
        FR_TRY(fr_rows_dot(be, st->n, d, W, d, xi, D, d, yi, b, z));
        FR_TRY(fr_bce_with_logits(be, st->n, z, label, fr_rc_at(c, BUF_JUNK, 0), dz));
        FR_TRY(fr_mul(be, st->n, dz, scale, g));
        return fr_segment_rows_axpy(be, st->n_rows, st->n, d, start2, seg2, -lr_item, g, ci2, W, d, xi2, D, d);
    }
    /* FedMF: u and the item rows from the same gradients. */
    fr_view G = fr_rc_at(c, BUF_G, 0);
    FR_TRY(fr_fill(be, n_cl * d, 0.0f, G));
    FR_TRY(fr_segment_rows_axpy(be, st->n_clients, st->n, d, start1, seg1, 1.0f, g, none, D, d, yi, G, d));
    FR_TRY(fr_segment_rows_axpy(be, st->n_rows, st->n, d, start2, seg2, -lr_item, g, ci2, W, d, xi2, D, d));
    return fr_axpy(be, n_cl * d, -lr, G, W);
}

fr_status fr_rc_host_grow(void **v, size_t *cap, size_t n, size_t size, const char *what)
{
    if (n <= *cap)
        return FR_OK;
    void *nv = realloc(*v, n * size);
    if (!nv)
        return fr_fail_nomem(what, n * size);
    *v = nv;
    *cap = n;
    return FR_OK;
}

/* The model's view of client i for keeping it: its loaded items and
 * trained rows in the host scratch's shape. */
fr_status fr_rc_keep_client(fr_rating *p, fr_rating_cohort *c, size_t i)
{
    cohort_client *cc = &c->cl[i];
    scratch *s = &c->hs;
    int32_t *loaded = s->loaded;
    float *local = s->local;
    size_t n_loaded = s->n_loaded;
    s->loaded = c->row_item + cc->row_at;
    s->local = c->overlay + cc->row_at * p->dim;
    s->n_loaded = cc->n_rows;
    for (size_t k = 0; k < cc->n_rows; k++)
        s->slot[s->loaded[k]] = (int32_t)k;
    fr_status st = fr_pf_keep_client(p, s, cc->user, p->w + cc->user * p->dim, p->b[cc->user]);
    for (size_t k = 0; k < cc->n_rows; k++)
        s->slot[s->loaded[k]] = -1;
    s->loaded = loaded;
    s->local = local;
    s->n_loaded = n_loaded;
    return st;
}

fr_status fr_rating_cohort_train(fr_rating *p, fr_rating_cohort *c, const size_t *clients, size_t n_cl,
                                 fr_fed_upload *const *ups)
{
    if (p->o.algorithm == FR_ALGO_FEDNCF)
        return fr_rating_cohort_train_ncf(p, c, clients, n_cl, ups);
    fr_backend *be = c->be;
    size_t d = p->dim;
    double t0 = fr_clock_seconds();
    FR_TRY(fr_rc_host_grow((void **)&c->cl, &c->cap_cl, n_cl, sizeof *c->cl, "cohort clients"));
    c->n_rows = c->n_samples = c->n_steps = 0;
    c->I.n = c->F.n = c->eval_rows.n = c->eval_xi.n = 0;
    double t_neg = 0;
    for (size_t i = 0; i < n_cl; i++) {
        memset(&c->cl[i], 0, sizeof c->cl[i]);
        c->cl[i].user = clients[i];
        c->cl[i].orig = i;
        FR_TRY(fr_rc_lay_out_client(p, c, i));
        t_neg += c->cl[i].t_negatives;
    }
    /* The overlay's gather list, then every epoch's steps. */
    size_t gather_at = c->I.n;
    for (size_t r = 0; r < c->n_rows; r++)
        FR_TRY(fr_rc_ipush(&c->I, c->row_item[r]));
    size_t loss_n = 0;
    for (size_t e = 0; e < p->o.local_epochs; e++) {
        for (size_t i = 0; i < n_cl; i++)
            fr_rc_shuffle_client(p, c, i, e);
        FR_TRY(lay_out_epoch(p, c, n_cl, &loss_n));
    }
    size_t max_n = 1;
    for (size_t t = 0; t < c->n_steps; t++)
        if (c->steps[t].n > max_n)
            max_n = c->steps[t].n;
    size_t rows_d = p->n_items + c->n_rows;
    FR_TRY(fr_rc_dev(c, BUF_D, rows_d * d * 4));
    FR_TRY(fr_rc_dev(c, BUF_W, n_cl * d * 4));
    FR_TRY(fr_rc_dev(c, BUF_B, n_cl * 4));
    if (p->o.algorithm == FR_ALGO_FEDMF)
        FR_TRY(fr_rc_dev(c, BUF_G, n_cl * d * 4));
    FR_TRY(fr_rc_dev(c, BUF_Z, max_n * 4));
    FR_TRY(fr_rc_dev(c, BUF_DZ, max_n * 4));
    FR_TRY(fr_rc_dev(c, BUF_GRAD, max_n * 4));
    FR_TRY(fr_rc_dev(c, BUF_JUNK, max_n * 4));
    FR_TRY(fr_rc_dev(c, BUF_LOSS, loss_n * 4));
    FR_TRY(fr_rc_dev(c, BUF_I, c->I.n * 4));
    FR_TRY(fr_rc_dev(c, BUF_F, c->F.n * 4));
    /* Uploads: the table, the clients' score functions, the index lists. */
    FR_TRY(fr_rc_host_grow((void **)&c->w, &c->cap_w, n_cl * d, sizeof *c->w, "cohort score functions"));
    FR_TRY(fr_rc_host_grow((void **)&c->b, &c->cap_b, n_cl, sizeof *c->b, "cohort biases"));
    for (size_t i = 0; i < n_cl; i++) {
        memcpy(c->w + i * d, p->w + clients[i] * d, d * sizeof *c->w);
        c->b[i] = p->b[clients[i]];
    }
    FR_TRY(fr_buffer_upload(c->buf[BUF_D], 0, p->items, p->n_items * d * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_W], 0, c->w, n_cl * d * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_B], 0, c->b, n_cl * 4));
    if (c->I.n)
        FR_TRY(fr_buffer_upload(c->buf[BUF_I], 0, c->I.v, c->I.n * 4));
    if (c->F.n)
        FR_TRY(fr_buffer_upload(c->buf[BUF_F], 0, c->F.v, c->F.n * 4));
    /* Each client's overlay: its rows of the table. */
    FR_TRY(fr_embedding_gather(be, c->n_rows, d, fr_rc_at(c, BUF_D, 0), fr_rc_at(c, BUF_I, gather_at),
                               fr_rc_at(c, BUF_D, p->n_items * d)));
    for (size_t t = 0; t < c->n_steps; t++)
        FR_TRY(run_step(p, c, &c->steps[t], n_cl));
    FR_TRY(fr_backend_finish(be)); /* the training's time is the device's too */
    double t1 = fr_clock_seconds();
    /* Evaluation: every client's candidates in one product. */
    if (c->eval_rows.n) {
        size_t ne = c->eval_rows.n;
        FR_TRY(fr_rc_dev(c, BUF_EVAL_ROWS, ne * 4));
        FR_TRY(fr_rc_dev(c, BUF_EVAL_XI, ne * 4));
        FR_TRY(fr_rc_dev(c, BUF_SCORES, ne * 4));
        FR_TRY(fr_buffer_upload(c->buf[BUF_EVAL_ROWS], 0, c->eval_rows.v, ne * 4));
        FR_TRY(fr_buffer_upload(c->buf[BUF_EVAL_XI], 0, c->eval_xi.v, ne * 4));
        FR_TRY(fr_rows_dot(be, ne, d, fr_rc_at(c, BUF_W, 0), d, fr_rc_at(c, BUF_EVAL_XI, 0), fr_rc_at(c, BUF_D, 0), d,
                           fr_rc_at(c, BUF_EVAL_ROWS, 0), fr_rc_at(c, BUF_B, 0), fr_rc_at(c, BUF_SCORES, 0)));
        FR_TRY(fr_rc_host_grow((void **)&c->scores, &c->cap_scores, ne, sizeof *c->scores, "cohort scores"));
        FR_TRY(fr_buffer_download(c->buf[BUF_SCORES], 0, c->scores, ne * 4));
    }
    /* Downloads: the trained rows, score functions and losses. */
    FR_TRY(fr_rc_host_grow((void **)&c->overlay, &c->cap_overlay, c->n_rows * d + 1, sizeof *c->overlay,
                     "cohort rows"));
    FR_TRY(fr_rc_host_grow((void **)&c->losses, &c->cap_losses, loss_n + 1, sizeof *c->losses, "cohort losses"));
    if (c->n_rows)
        FR_TRY(fr_buffer_download(c->buf[BUF_D], p->n_items * d * 4, c->overlay, c->n_rows * d * 4));
    FR_TRY(fr_buffer_download(c->buf[BUF_W], 0, c->w, n_cl * d * 4));
    FR_TRY(fr_buffer_download(c->buf[BUF_B], 0, c->b, n_cl * 4));
    if (loss_n)
        FR_TRY(fr_buffer_download(c->buf[BUF_LOSS], 0, c->losses, loss_n * 4));
    double t2 = fr_clock_seconds();
    /* Each client's loss: its samples' losses, in step order. */
    for (size_t t = 0; t < c->n_steps; t++) {
        const cohort_step *st = &c->steps[t];
        const int32_t *start = c->I.v + st->start1, *seg = c->I.v + st->seg1;
        for (size_t k = 0; k < st->n_clients; k++)
            for (int32_t j = start[k]; j < start[k + 1]; j++)
                c->cl[seg[k]].loss += (double)c->losses[st->loss_at + (size_t)j];
    }
    for (size_t i = 0; i < n_cl; i++) {
        p->b[c->cl[i].user] = c->b[i];
        FR_TRY(fr_rc_finish_client(p, c, i, ups[i], (t1 - t0 - t_neg) / (double)n_cl, (t2 - t1) / (double)n_cl));
    }
    return FR_OK;
}

fr_status fr_rc_finish_client(fr_rating *p, fr_rating_cohort *c, size_t i, fr_fed_upload *up, double t_train,
                              double t_eval)
{
    cohort_client *cc = &c->cl[i];
    size_t u = cc->user, d = p->dim, K = p->split->negatives_per_eval;
    memcpy(p->w + u * d, c->w + i * d, d * sizeof *c->w);
    if (cc->eval_at != SIZE_MAX) {
        const float *sc = c->scores + cc->eval_at;
        fr_hit_ndcg(sc[0], sc + 1, K, p->o.top_k, &p->val_hr[u], &p->val_ndcg[u]);
        fr_hit_ndcg(sc[K + 1], sc + K + 2, K, p->o.top_k, &p->test_hr[u], &p->test_ndcg[u]);
    }
    if (p->keep)
        FR_TRY(fr_rc_keep_client(p, c, i));
    up->samples = cc->n_samples;
    up->loss_sum = cc->loss;
    up->t_negatives = cc->t_negatives;
    up->t_train = t_train;
    up->t_eval = t_eval;
    return fr_pf_pack_upload(p, c->row_item + cc->row_at, c->overlay + cc->row_at * d, cc->n_rows, up);
}
