/* rating_client.c — one client's round of the MF family (the train call
 * of the client interface, rating.c): drawing its
 * negatives, the local updates (PFedRec's two steps, or FedMF's and
 * FedNCF's joint step) on a private overlay of the item rows it touches,
 * evaluating its own model, and packing its changed rows for the server
 * grouped by the aggregation task that owns them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "rec/rating.h"
#include "fedrec/metrics.h"
#include "fedrec/rng.h"


void fr_pf_scratch_free(scratch *s)
{
    fr_ncf_scratch_free(s);
    free(s->slot);
    free(s->mark);
    free(s->loaded);
    free(s->local);
    free(s->grad);
    free(s->sample_item);
    free(s->sample_label);
    free(s->batch_rows);
    free(s->seen_in_batch);
}

fr_status fr_pf_scratch_init(scratch *s, const fr_rating *p)
{
    size_t n_items = p->n_items, dim = p->dim, batch = p->o.batch;
    memset(s, 0, sizeof *s);
    s->slot = malloc(n_items * sizeof *s->slot);
    s->mark = calloc(n_items, sizeof *s->mark);
    s->batch_rows = malloc(batch * sizeof *s->batch_rows);
    s->cap_rows = 256;
    s->loaded = malloc(s->cap_rows * sizeof *s->loaded);
    s->local = malloc(s->cap_rows * dim * sizeof *s->local);
    s->grad = calloc(s->cap_rows * dim, sizeof *s->grad);
    s->seen_in_batch = calloc(s->cap_rows, sizeof *s->seen_in_batch);
    if (!s->slot || !s->mark || !s->batch_rows || !s->loaded || !s->local || !s->grad ||
        !s->seen_in_batch) {
        fr_pf_scratch_free(s);
        return fr_fail_nomem("client scratch", n_items * 8);
    }
    for (size_t i = 0; i < n_items; i++)
        s->slot[i] = -1;
    if (p->o.algorithm == FR_ALGO_FEDNCF) {
        fr_status st = fr_ncf_scratch_init(p, s);
        if (st != FR_OK) {
            fr_pf_scratch_free(s);
            return st;
        }
    }
    return FR_OK;
}

fr_status fr_pf_load_row(scratch *s, const float *items, size_t dim, int32_t item, int32_t *slot)
{
    if (s->slot[item] >= 0) {
        *slot = s->slot[item];
        return FR_OK;
    }
    if (s->n_loaded == s->cap_rows) {
        size_t cap = s->cap_rows * 2;
        int32_t *l = realloc(s->loaded, cap * sizeof *l);
        if (l)
            s->loaded = l;
        float *loc = realloc(s->local, cap * dim * sizeof *loc);
        if (loc)
            s->local = loc;
        float *g = realloc(s->grad, cap * dim * sizeof *g);
        if (g)
            s->grad = g;
        uint32_t *seen = realloc(s->seen_in_batch, cap * sizeof *seen);
        if (seen) {
            s->seen_in_batch = seen;
            memset(seen + s->cap_rows, 0, (cap - s->cap_rows) * sizeof *seen);
        }
        if (!l || !loc || !g || !seen)
            return fr_fail_nomem("client rows", cap * dim * 8);
        memset(s->grad + s->cap_rows * dim, 0, (cap - s->cap_rows) * dim * sizeof *g);
        s->cap_rows = cap;
    }
    size_t k = s->n_loaded++;
    s->loaded[k] = item;
    s->slot[item] = (int32_t)k;
    memcpy(s->local + k * dim, items + (size_t)item * dim, dim * sizeof *items);
    *slot = (int32_t)k;
    return FR_OK;
}

void fr_pf_scratch_reset(scratch *s)
{
    for (size_t k = 0; k < s->n_loaded; k++)
        s->slot[s->loaded[k]] = -1;
    s->n_loaded = 0;
}

static fr_status reserve_samples(scratch *s, size_t n)
{
    if (n <= s->cap_samples)
        return FR_OK;
    int32_t *it = realloc(s->sample_item, n * sizeof *it);
    if (it)
        s->sample_item = it;
    float *lab = realloc(s->sample_label, n * sizeof *lab);
    if (lab)
        s->sample_label = lab;
    if (!it || !lab)
        return fr_fail_nomem("client samples", n * 8);
    s->cap_samples = n;
    return FR_OK;
}

/* ---- one client's round ------------------------------------------------------ */

float fr_pf_sigmoid(float z)
{
    float e = expf(-fabsf(z));
    return z >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* Shares e^-|z| between the sigmoid and the loss. Each factor of the
 * product is at most 2: flushed past 2^1000 it stays below DBL_MAX. */
float fr_pf_sigmoid_bce(float z, float y, fr_pf_loss *loss)
{
    float ez = expf(-fabsf(z));
    loss->linear += (double)(fmaxf(z, 0.0f) - z * y);
    loss->product *= 1.0 + (double)ez;
    if (loss->product > 0x1p1000) {
        loss->logs += log(loss->product);
        loss->product = 1.0;
    }
    return z >= 0 ? 1.0f / (1.0f + ez) : ez / (1.0f + ez);
}

double fr_pf_loss_total(const fr_pf_loss *l)
{
    return l->linear + (l->logs + log(l->product));
}

/* Training samples, as the reference code draws them: every training
 * positive, and for each positive `negatives` distinct items the user never
 * interacted with (strict mode: nor its evaluation negatives). Negatives of
 * different positives may repeat. Stream (seed, round + 1, user). */
static size_t negatives_each(const fr_rating *p, size_t u)
{
    const fr_loo_split *sp = p->split;
    size_t seen = sp->seen_start[u + 1] - sp->seen_start[u];
    size_t banned = seen + (p->o.strict && sp->has_eval[u] ? 2 * sp->negatives_per_eval : 0);
    size_t available = p->n_items > banned ? p->n_items - banned : 0;
    return p->o.negatives < available ? p->o.negatives : available;
}

size_t fr_pf_samples_of(const fr_rating *p, size_t u)
{
    size_t n_pos = p->split->train_start[u + 1] - p->split->train_start[u];
    return n_pos * (1 + negatives_each(p, u));
}

fr_status fr_pf_draw_samples(const fr_rating *p, scratch *s, size_t u, size_t *count)
{
    const fr_loo_split *sp = p->split;
    size_t n_pos = sp->train_start[u + 1] - sp->train_start[u];
    size_t k2 = 2 * sp->negatives_per_eval;
    size_t per = negatives_each(p, u);
    size_t n_neg = per * n_pos;
    FR_TRY(reserve_samples(s, n_pos + n_neg));
    for (size_t k = 0; k < n_pos; k++) {
        s->sample_item[k] = sp->train_items[sp->train_start[u] + k];
        s->sample_label[k] = 1.0f;
    }
    /* Stamps: `banned` marks what is never drawable for this user, each
     * positive's group gets a fresh stamp for its own picks. */
    if (s->stamp > UINT32_MAX - (uint32_t)n_pos - 2) {
        memset(s->mark, 0, p->n_items * sizeof *s->mark);
        s->stamp = 0;
    }
    uint32_t never = ++s->stamp;
    for (size_t k = sp->seen_start[u]; k < sp->seen_start[u + 1]; k++)
        s->mark[sp->seen_items[k]] = never;
    if (p->o.strict && sp->has_eval[u])
        for (size_t k = 0; k < k2; k++)
            s->mark[sp->eval_negatives[u * k2 + k]] = never;
    fr_rng rng;
    fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)u, FR_RNG_NEGATIVES);
    size_t at = n_pos;
    for (size_t pos = 0; pos < n_pos; pos++) {
        uint32_t group = ++s->stamp;
        for (size_t k = 0; k < per;) {
            int32_t cand = (int32_t)fr_rng_below(&rng, (uint32_t)p->n_items);
            if (s->mark[cand] == never || s->mark[cand] == group)
                continue;
            s->mark[cand] = group;
            s->sample_item[at] = cand;
            s->sample_label[at++] = 0.0f;
            k++;
        }
    }
    *count = at;
    return FR_OK;
}

/* Dots and axpys of dim values through the CPU path's SIMD kernels. */
#define DOT(p, x, y) (p)->k->dot((p)->dim, (x), (y))
#define AXPY(p, a, x, y) (p)->k->axpy((p)->dim, (a), (x), (y))

/* Score of item for user u's model: the client's overlay row when it has
 * one (and item personalisation is on), else the global row. */
static float score(const fr_rating *p, const scratch *s, const float *w, float b, int32_t item)
{
    const float *row = p->items + (size_t)item * p->dim;
    if (!p->o.eval_global_items && p->o.algorithm == FR_ALGO_PFEDREC && s->slot[item] >= 0)
        row = s->local + (size_t)s->slot[item] * p->dim;
    return DOT(p, w, row) + b;
}

/* FedNCF: the held-out item and its negatives in one forward through the
 * round's global layers and items. */
static void ncf_evaluate(fr_rating *p, scratch *s, const float *u, int32_t pos,
                         const int32_t *neg, size_t k, double *hr, double *ndcg)
{
    float **rows = s->ncf_ptrs, *logits = s->ncf_logits;
    rows[0] = p->items + (size_t)pos * p->dim;
    for (size_t i = 0; i < k; i++)
        rows[1 + i] = p->items + (size_t)neg[i] * p->dim;
    fr_ncf_forward(p, s, p->shared, u, (const float *const *)rows, k + 1, logits);
    fr_hit_ndcg(logits[0], logits + 1, k, p->o.top_k, hr, ndcg);
}

void fr_pf_evaluate(fr_rating *p, scratch *s, size_t u, const float *w, float b)
{
    const fr_loo_split *sp = p->split;
    if (!sp->has_eval[u])
        return;
    size_t k = sp->negatives_per_eval;
    const int32_t *neg = sp->eval_negatives + u * 2 * k;
    if (p->o.algorithm == FR_ALGO_FEDNCF) {
        ncf_evaluate(p, s, w, sp->val_item[u], neg, k, &p->val_hr[u], &p->val_ndcg[u]);
        ncf_evaluate(p, s, w, sp->test_item[u], neg + k, k, &p->test_hr[u], &p->test_ndcg[u]);
        return;
    }
    float negs[1024] = {0};
    float *ns = k <= 1024 ? negs : malloc(k * sizeof *ns);
    if (!ns)
        return;
    for (size_t i = 0; i < k; i++)
        ns[i] = score(p, s, w, b, neg[i]);
    fr_hit_ndcg(score(p, s, w, b, sp->val_item[u]), ns, k, p->o.top_k, &p->val_hr[u], &p->val_ndcg[u]);
    for (size_t i = 0; i < k; i++)
        ns[i] = score(p, s, w, b, neg[k + i]);
    fr_hit_ndcg(score(p, s, w, b, sp->test_item[u]), ns, k, p->o.top_k, &p->test_hr[u], &p->test_ndcg[u]);
    if (ns != negs)
        free(ns);
}

void fr_pf_score_items(const fr_rating *p, scratch *s, const float *w, float b, float *scores)
{
    if (p->o.algorithm != FR_ALGO_FEDNCF) {
        for (size_t i = 0; i < p->n_items; i++)
            scores[i] = score(p, s, w, b, (int32_t)i);
        return;
    }
    /* FedNCF: the items in blocks of the activation buffers' rows. */
    float **rows = s->ncf_ptrs;
    for (size_t at = 0; at < p->n_items; at += s->ncf_rows) {
        size_t m = p->n_items - at < s->ncf_rows ? p->n_items - at : s->ncf_rows;
        for (size_t j = 0; j < m; j++)
            rows[j] = p->items + (at + j) * p->dim;
        fr_ncf_forward(p, s, p->shared, w, (const float *const *)rows, m, scores + at);
    }
}

/* FedMF: one forward, then u and the item rows stepped together from the
 * same gradients (no bias). */
static void fedmf_batch(fr_rating *p, scratch *s, float *u, size_t at, size_t m, float lr,
                        float lr_item, float *gu)
{
    size_t d = p->dim, n_rows = 0;
    s->batch_id++;
    memset(gu, 0, d * sizeof *gu);
    for (size_t j = at; j < at + m; j++) {
        int32_t slot = s->slot[s->sample_item[j]];
        float *e = s->local + (size_t)slot * d, *ge = s->grad + (size_t)slot * d;
        float z = DOT(p, u, e), y = s->sample_label[j];
        float prob = fr_pf_sigmoid_bce(z, y, &s->loss);
        float g = (prob - y) / (float)m;
        AXPY(p, g, e, gu);
        if (s->seen_in_batch[slot] != s->batch_id) { /* first time this batch */
            s->seen_in_batch[slot] = s->batch_id;
            s->batch_rows[n_rows++] = slot;
        }
        AXPY(p, g, u, ge);
    }
    AXPY(p, -lr, gu, u);
    for (size_t r = 0; r < n_rows; r++) {
        float *e = s->local + (size_t)s->batch_rows[r] * d;
        float *ge = s->grad + (size_t)s->batch_rows[r] * d;
        AXPY(p, -lr_item, ge, e);
        memset(ge, 0, d * sizeof *ge);
    }
}

/* FedNCF: one forward and backward through the client's copy of the
 * shared layers, then the user row, the layers and the item rows stepped
 * together. */
static void fedncf_batch(fr_rating *p, scratch *s, float *u, size_t at, size_t m, float lr,
                         float lr_item, float *gu)
{
    size_t d = p->dim, n_rows = 0;
    float **rows = s->ncf_ptrs, **grads = s->ncf_ptrs + s->ncf_rows;
    float *logits = s->ncf_logits, *dlogit = s->ncf_logits + s->ncf_rows;
    s->batch_id++;
    for (size_t j = 0; j < m; j++) {
        int32_t slot = s->slot[s->sample_item[at + j]];
        rows[j] = s->local + (size_t)slot * d;
        grads[j] = s->grad + (size_t)slot * d;
        if (s->seen_in_batch[slot] != s->batch_id) { /* first time this batch */
            s->seen_in_batch[slot] = s->batch_id;
            s->batch_rows[n_rows++] = slot;
        }
    }
    fr_ncf_forward(p, s, s->ncf_local, u, (const float *const *)rows, m, logits);
    for (size_t j = 0; j < m; j++) {
        float y = s->sample_label[at + j];
        dlogit[j] = (fr_pf_sigmoid_bce(logits[j], y, &s->loss) - y) / (float)m;
    }
    memset(gu, 0, d * sizeof *gu);
    memset(s->ncf_grad, 0, p->n_shared * sizeof *s->ncf_grad);
    fr_ncf_backward(p, s, s->ncf_local, u, (const float *const *)rows, m, dlogit, gu, grads);
    AXPY(p, -lr, gu, u);
    p->k->axpy(p->n_shared, -lr, s->ncf_grad, s->ncf_local);
    for (size_t r = 0; r < n_rows; r++) {
        float *e = s->local + (size_t)s->batch_rows[r] * d;
        float *ge = s->grad + (size_t)s->batch_rows[r] * d;
        AXPY(p, -lr_item, ge, e);
        memset(ge, 0, d * sizeof *ge);
    }
}

fr_status fr_pf_train_client(fr_rating *p, scratch *s, size_t u, fr_fed_upload *out)
{
    size_t d = p->dim, n;
    float *w = p->w + u * d, *bias = p->b + u;
    double t0 = fr_clock_seconds();
    fr_pf_loss_init(&s->loss);
    FR_TRY(fr_pf_draw_samples(p, s, u, &n));
    double t1 = fr_clock_seconds();
    out->t_negatives = t1 - t0;
    out->samples = n;
    for (size_t k = 0; k < n; k++) {
        int32_t slot;
        FR_TRY(fr_pf_load_row(s, p->items, d, s->sample_item[k], &slot));
    }
    float lr = p->o.lr, lr_item = p->o.lr * (float)p->n_items * p->o.lr_eta;
    float gw[1024];
    if (p->o.algorithm == FR_ALGO_FEDNCF)
        memcpy(s->ncf_local, p->shared, p->n_shared * sizeof *s->ncf_local);
    for (size_t epoch = 0; epoch < p->o.local_epochs; epoch++) {
        fr_rng rng;
        fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)u, FR_RNG_SHUFFLE);
        fr_rng_seek(&rng, (uint64_t)epoch << 32);
        for (size_t i = n; i > 1; i--) {
            size_t j = fr_rng_below(&rng, (uint32_t)i);
            int32_t ti = s->sample_item[i - 1];
            float tl = s->sample_label[i - 1];
            s->sample_item[i - 1] = s->sample_item[j];
            s->sample_label[i - 1] = s->sample_label[j];
            s->sample_item[j] = ti;
            s->sample_label[j] = tl;
        }
        for (size_t at = 0; at < n; at += p->o.batch) {
            size_t m = n - at < p->o.batch ? n - at : p->o.batch;
            if (p->o.algorithm == FR_ALGO_FEDMF) {
                fedmf_batch(p, s, w, at, m, lr, lr_item, gw);
                continue;
            }
            if (p->o.algorithm == FR_ALGO_FEDNCF) {
                fedncf_batch(p, s, w, at, m, lr, lr_item, gw);
                continue;
            }
            /* Step 1: the score function only. */
            memset(gw, 0, d * sizeof *gw);
            float gb = 0.0f;
            for (size_t j = at; j < at + m; j++) {
                const float *e = s->local + (size_t)s->slot[s->sample_item[j]] * d;
                float z = DOT(p, w, e) + *bias, y = s->sample_label[j];
                float prob = fr_pf_sigmoid_bce(z, y, &s->loss);
                float g = (prob - y) / (float)m;
                AXPY(p, g, e, gw);
                gb += g;
            }
            for (size_t c = 0; c < d; c++)
                w[c] -= lr * gw[c];
            *bias -= lr * gb;
            /* Step 2: the item embeddings only, with the updated w. */
            size_t n_rows = 0;
            s->batch_id++;
            for (size_t j = at; j < at + m; j++) {
                int32_t slot = s->slot[s->sample_item[j]];
                float *e = s->local + (size_t)slot * d, *ge = s->grad + (size_t)slot * d;
                float z = DOT(p, w, e) + *bias;
                float g = (fr_pf_sigmoid(z) - s->sample_label[j]) / (float)m;
                if (s->seen_in_batch[slot] != s->batch_id) { /* first time this batch */
                    s->seen_in_batch[slot] = s->batch_id;
                    s->batch_rows[n_rows++] = slot;
                }
                AXPY(p, g, w, ge);
            }
            for (size_t r = 0; r < n_rows; r++) {
                float *e = s->local + (size_t)s->batch_rows[r] * d;
                float *ge = s->grad + (size_t)s->batch_rows[r] * d;
                AXPY(p, -lr_item, ge, e);
                memset(ge, 0, d * sizeof *ge);
            }
        }
    }
    out->loss_sum = fr_pf_loss_total(&s->loss);
    double t2 = fr_clock_seconds();
    if (!p->skip_eval) /* train.eval_every: a round that only trains */
        fr_pf_evaluate(p, s, u, w, *bias);
    if (p->keep) /* before the upload's packing marks the overlay */
        FR_TRY(fr_pf_keep_client(p, s, u, w, *bias));
    double t3 = fr_clock_seconds();
    out->t_train = t2 - t1;
    out->t_eval = t3 - t2;
    if (p->o.algorithm == FR_ALGO_FEDNCF) {
        if (!out->dense_delta && !(out->dense_delta = malloc(p->n_shared * sizeof(float))))
            return fr_fail_nomem("FedNCF update", p->n_shared * 4);
        for (size_t k = 0; k < p->n_shared; k++)
            out->dense_delta[k] = s->ncf_local[k] - p->shared[k];
    }
    return fr_pf_pack_upload(p, s->loaded, s->local, s->n_loaded, out);
}


fr_status fr_pf_pack_upload(const fr_rating *p, int32_t *loaded, const float *local, size_t n_loaded,
                            fr_fed_upload *out)
{
    size_t d = p->dim;
    /* The upload: changed rows and their change. */
    size_t need = p->o.dense_upload ? p->n_items : n_loaded;
    FR_TRY(fr_fed_upload_reserve(out, need, d));
    /* The rows sorted into the upload groups (item ranges), so that each
     * aggregation task reads only its own: a counting sort of the loaded
     * rows' positions (in out->rows, for now), stable, then one pass in
     * group order that writes each row's change and keeps it (moving it
     * down over the unchanged ones) when a bit differs. */
    size_t groups = FR_FED_GROUPS, count[FR_FED_GROUPS + 1] = {0};
    const uint8_t *group = p->item_group;
    for (size_t k = 0; k < n_loaded; k++)
        count[group[loaded[k]] + 1]++;
    for (size_t t = 0; t < groups; t++)
        count[t + 1] += count[t];
    size_t place[FR_FED_GROUPS];
    memcpy(place, count, sizeof place);
    for (size_t k = 0; k < n_loaded; k++)
        out->rows[place[group[loaded[k]]]++] = (int32_t)k;
    size_t kept = 0;
    for (size_t t = 0; t < groups; t++) {
        out->group_start[t] = (uint32_t)kept;
        for (size_t at = count[t]; at < count[t + 1]; at++) {
            size_t k = (size_t)out->rows[at]; /* read before rows[kept <= at] is written */
            int32_t item = loaded[k];
            const float *g = p->items + (size_t)item * d, *l = local + k * d;
            float *delta = out->delta + kept * d;
            /* l - g as l + (-1) g: exact product, one rounding, the same
             * bits on every path. A row is kept when any bit differs. */
            int differ = memcmp(l, g, d * sizeof *l) != 0;
            memcpy(delta, l, d * sizeof *delta);
            p->k->axpy(d, -1.0f, g, delta);
            if (differ || p->o.dense_upload)
                out->rows[kept++] = item;
        }
    }
    out->group_start[groups] = (uint32_t)kept;
    out->n_rows = kept;
    if (p->o.dense_upload) {
        /* Every row: unchanged ones with a zero change. */
        float *all = calloc(p->n_items * d, sizeof *all);
        if (!all)
            return fr_fail_nomem("dense upload", p->n_items * d * 4);
        for (size_t r = 0; r < kept; r++)
            memcpy(all + (size_t)out->rows[r] * d, out->delta + r * d, d * sizeof *all);
        memcpy(out->delta, all, p->n_items * d * sizeof *all);
        free(all);
        for (size_t i = 0; i < p->n_items; i++)
            out->rows[i] = (int32_t)i;
        out->n_rows = p->n_items;
        /* Item order is already grouped by range. */
        for (size_t t = 0; t <= groups; t++)
            out->group_start[t] = (uint32_t)fr_fed_group_first(t, p->n_items);
    }
    return FR_OK;
}
