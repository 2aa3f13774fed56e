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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/error_internal.h"
#include "fedrec/metrics.h"
#include "fedrec/pfedrec.h"
#include "fedrec/rng.h"
#include "io/atomic_file.h"
#include "io/crc32.h"

#define MAX_AGG_TASKS 64

typedef struct client_out {
    int32_t *rows;       /* items whose embedding the client changed */
    float *delta;        /* n_rows x dim: local - global */
    size_t n_rows;
    size_t cap_rows;     /* rows the buffers hold: kept across rounds, so
                          * a round does not fault in fresh pages */
    /* rows grouped by the aggregation task that owns them: group t is
     * rows[group_start[t] .. group_start[t + 1]). */
    uint32_t group_start[MAX_AGG_TASKS + 1];
    size_t samples;
    double loss_sum;
    double t_negatives, t_train, t_eval;
    fr_status status;
} client_out;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct fr_pfedrec {
    const fr_loo_split *split;
    fr_pfedrec_options o;
    size_t n_users, n_items, dim;
    float *items;        /* global item table */
    float *w;            /* n_users x dim score weights */
    float *b;            /* n_users score biases */
    double *val_hr, *val_ndcg, *test_hr, *test_ndcg;  /* per user, last model */
    fr_cpu_engine *engine;
    /* The round in progress. */
    unsigned round;
    int32_t *sampled;
    size_t n_sampled;
    client_out *outs;
};

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
    for (size_t k = 0; p->outs && k < p->n_users; k++) {
        free(p->outs[k].rows);
        free(p->outs[k].delta);
    }
    free(p->outs);
    free(p);
}

/* ---- per-worker scratch ---------------------------------------------------- */

typedef struct scratch {
    int32_t *slot;       /* item -> row of `local`, -1 if not loaded */
    uint32_t *mark;      /* item -> stamp: taken in the current draw */
    uint32_t stamp;
    int32_t *loaded;     /* items with a slot, in load order */
    size_t n_loaded, cap_rows;
    float *local, *grad; /* loaded rows and their batch gradients */
    int32_t *sample_item;
    float *sample_label;
    size_t cap_samples;
    int32_t *batch_rows; /* slots touched by the current batch */
} scratch;

static void scratch_free(scratch *s)
{
    free(s->slot);
    free(s->mark);
    free(s->loaded);
    free(s->local);
    free(s->grad);
    free(s->sample_item);
    free(s->sample_label);
    free(s->batch_rows);
}

static fr_status scratch_init(scratch *s, size_t n_items, size_t dim, size_t batch)
{
    memset(s, 0, sizeof *s);
    s->slot = malloc(n_items * sizeof *s->slot);
    s->mark = calloc(n_items, sizeof *s->mark);
    s->batch_rows = malloc(batch * sizeof *s->batch_rows);
    s->cap_rows = 256;
    s->loaded = malloc(s->cap_rows * sizeof *s->loaded);
    s->local = malloc(s->cap_rows * dim * sizeof *s->local);
    s->grad = calloc(s->cap_rows * dim, sizeof *s->grad);
    if (!s->slot || !s->mark || !s->batch_rows || !s->loaded || !s->local || !s->grad) {
        scratch_free(s);
        return fr_fail_nomem("client scratch", n_items * 8);
    }
    for (size_t i = 0; i < n_items; i++)
        s->slot[i] = -1;
    return FR_OK;
}

/* Slot of item in the client's overlay, copying the global row on first use. */
static fr_status load_row(scratch *s, const float *items, size_t dim, int32_t item, int32_t *slot)
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
        if (!l || !loc || !g)
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

static void scratch_reset(scratch *s)
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

/* Aggregation tasks: one per worker, at most MAX_AGG_TASKS. */
static size_t agg_tasks(const fr_pfedrec *p)
{
    size_t t = (size_t)fr_cpu_engine_threads(p->engine);
    return t > MAX_AGG_TASKS ? MAX_AGG_TASKS : t;
}

/* The aggregation task that owns item row `item`. */
static size_t group_of(const fr_pfedrec *p, int32_t item, size_t groups)
{
    return (size_t)item * groups / p->n_items;
}

static float sigmoidf(float z)
{
    float e = expf(-fabsf(z));
    return z >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* Training samples: every training positive, plus negatives*positives items
 * the user never interacted with (strict: nor its evaluation negatives),
 * drawn without replacement from stream (seed, round + 1, user). */
static fr_status draw_samples(const fr_pfedrec *p, scratch *s, size_t u, size_t *count)
{
    const fr_loo_split *sp = p->split;
    size_t n_pos = sp->train_start[u + 1] - sp->train_start[u];
    size_t seen = sp->seen_start[u + 1] - sp->seen_start[u];
    size_t k2 = 2 * sp->negatives_per_eval;
    size_t banned = seen + (p->o.strict && sp->has_eval[u] ? k2 : 0);
    size_t available = p->n_items > banned ? p->n_items - banned : 0;
    size_t n_neg = p->o.negatives * n_pos;
    if (n_neg > available)
        n_neg = available;
    FR_TRY(reserve_samples(s, n_pos + n_neg));
    for (size_t k = 0; k < n_pos; k++) {
        s->sample_item[k] = sp->train_items[sp->train_start[u] + k];
        s->sample_label[k] = 1.0f;
    }
    if (++s->stamp == 0) { /* stamps wrapped: clear the marks once */
        memset(s->mark, 0, p->n_items * sizeof *s->mark);
        s->stamp = 1;
    }
    /* Marked = not drawable: seen items, (strict) evaluation negatives,
     * and what this draw already took. */
    for (size_t k = sp->seen_start[u]; k < sp->seen_start[u + 1]; k++)
        s->mark[sp->seen_items[k]] = s->stamp;
    if (p->o.strict && sp->has_eval[u])
        for (size_t k = 0; k < k2; k++)
            s->mark[sp->eval_negatives[u * k2 + k]] = s->stamp;
    fr_rng rng;
    fr_rng_init(&rng, p->o.seed, p->round + 1, (uint32_t)u, FR_RNG_NEGATIVES);
    for (size_t k = 0; k < n_neg;) {
        int32_t cand = (int32_t)fr_rng_below(&rng, (uint32_t)p->n_items);
        if (s->mark[cand] == s->stamp)
            continue;
        s->mark[cand] = s->stamp;
        s->sample_item[n_pos + k] = cand;
        s->sample_label[n_pos + k] = 0.0f;
        k++;
    }
    *count = n_pos + n_neg;
    return FR_OK;
}

/* Dots and axpys of dim values through the CPU path's SIMD kernels. */
#define DOT(p, x, y) fr_cpu_engine_kernels((p)->engine)->dot((p)->dim, (x), (y))
#define AXPY(p, a, x, y) fr_cpu_engine_kernels((p)->engine)->axpy((p)->dim, (a), (x), (y))

/* Score of item for user u's model: the client's overlay row when it has
 * one (and item personalisation is on), else the global row. */
static float score(const fr_pfedrec *p, const scratch *s, const float *w, float b, int32_t item)
{
    const float *row = p->items + (size_t)item * p->dim;
    if (!p->o.eval_global_items && p->o.algorithm == FR_ALGO_PFEDREC && s->slot[item] >= 0)
        row = s->local + (size_t)s->slot[item] * p->dim;
    return DOT(p, w, row) + b;
}

static void evaluate(fr_pfedrec *p, const scratch *s, size_t u, const float *w, float b)
{
    const fr_loo_split *sp = p->split;
    if (!sp->has_eval[u])
        return;
    size_t k = sp->negatives_per_eval;
    const int32_t *neg = sp->eval_negatives + u * 2 * k;
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

/* FedMF: one forward, then u and the item rows stepped together from the
 * same gradients (no bias). */
static void fedmf_batch(fr_pfedrec *p, scratch *s, float *u, size_t at, size_t m, float lr,
                        float lr_item, float *gu, client_out *out)
{
    size_t d = p->dim, n_rows = 0;
    memset(gu, 0, d * sizeof *gu);
    for (size_t j = at; j < at + m; j++) {
        int32_t slot = s->slot[s->sample_item[j]];
        float *e = s->local + (size_t)slot * d, *ge = s->grad + (size_t)slot * d;
        float z = DOT(p, u, e), y = s->sample_label[j];
        float ez = expf(-fabsf(z));
        float prob = z >= 0 ? 1.0f / (1.0f + ez) : ez / (1.0f + ez);
        out->loss_sum += fmaxf(z, 0.0f) - z * y + log1pf(ez);
        float g = (prob - y) / (float)m;
        AXPY(p, g, e, gu);
        int fresh = 1;
        for (size_t c = 0; c < d && fresh; c++)
            fresh = ge[c] == 0.0f;
        if (fresh)
            s->batch_rows[n_rows++] = slot;
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

static fr_status train_client(fr_pfedrec *p, scratch *s, size_t u, client_out *out)
{
    size_t d = p->dim, n;
    float *w = p->w + u * d, *bias = p->b + u;
    double t0 = now_seconds();
    FR_TRY(draw_samples(p, s, u, &n));
    double t1 = now_seconds();
    out->t_negatives = t1 - t0;
    out->samples = n;
    for (size_t k = 0; k < n; k++) {
        int32_t slot;
        FR_TRY(load_row(s, p->items, d, s->sample_item[k], &slot));
    }
    float lr = p->o.lr, lr_item = p->o.lr * (float)p->n_items * p->o.lr_eta;
    float gw[1024];
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
                fedmf_batch(p, s, w, at, m, lr, lr_item, gw, out);
                continue;
            }
            /* Step 1: the score function only. */
            memset(gw, 0, d * sizeof *gw);
            float gb = 0.0f;
            for (size_t j = at; j < at + m; j++) {
                const float *e = s->local + (size_t)s->slot[s->sample_item[j]] * d;
                float z = DOT(p, w, e) + *bias, y = s->sample_label[j];
                float ez = expf(-fabsf(z));
                float prob = z >= 0 ? 1.0f / (1.0f + ez) : ez / (1.0f + ez);
                out->loss_sum += fmaxf(z, 0.0f) - z * y + log1pf(ez);
                float g = (prob - y) / (float)m;
                AXPY(p, g, e, gw);
                gb += g;
            }
            for (size_t c = 0; c < d; c++)
                w[c] -= lr * gw[c];
            *bias -= lr * gb;
            /* Step 2: the item embeddings only, with the updated w. */
            size_t n_rows = 0;
            for (size_t j = at; j < at + m; j++) {
                int32_t slot = s->slot[s->sample_item[j]];
                float *e = s->local + (size_t)slot * d, *ge = s->grad + (size_t)slot * d;
                float z = DOT(p, w, e) + *bias;
                float g = (sigmoidf(z) - s->sample_label[j]) / (float)m;
                int fresh = 1;
                for (size_t c = 0; c < d && fresh; c++)
                    fresh = ge[c] == 0.0f;
                if (fresh)
                    s->batch_rows[n_rows++] = slot;
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
    double t2 = now_seconds();
    evaluate(p, s, u, w, *bias);
    double t3 = now_seconds();
    out->t_train = t2 - t1;
    out->t_eval = t3 - t2;
    /* The upload: changed rows and their change. */
    size_t need = p->o.dense_upload ? p->n_items : s->n_loaded;
    if (need > out->cap_rows || !out->rows) {
        size_t cap = need > 16 ? need : 16;
        int32_t *rows = realloc(out->rows, cap * sizeof *rows);
        if (rows)
            out->rows = rows;
        float *delta = realloc(out->delta, cap * d * sizeof *delta);
        if (delta)
            out->delta = delta;
        if (!rows || !delta)
            return fr_fail_nomem("client update", cap * d * 4);
        out->cap_rows = cap;
    }
    /* Counting sort of the changed rows into the aggregation tasks' item
     * ranges, so each task reads only its own rows: count, then place. */
    size_t groups = agg_tasks(p), count[MAX_AGG_TASKS + 1] = {0};
    for (size_t k = 0; k < s->n_loaded; k++) {
        const float *g = p->items + (size_t)s->loaded[k] * d, *l = s->local + k * d;
        int changed = p->o.dense_upload || memcmp(g, l, d * sizeof *g) != 0;
        /* Mark unchanged rows in `loaded` as -1 - item for the second pass. */
        if (!changed)
            s->loaded[k] = -1 - s->loaded[k];
        else
            count[group_of(p, s->loaded[k], groups) + 1]++;
    }
    for (size_t t = 0; t < groups; t++)
        count[t + 1] += count[t];
    for (size_t t = 0; t <= groups; t++)
        out->group_start[t] = (uint32_t)count[t];
    size_t kept = count[groups];
    for (size_t k = 0; k < s->n_loaded; k++) {
        if (s->loaded[k] < 0) {
            s->loaded[k] = -1 - s->loaded[k]; /* restore for scratch_reset */
            continue;
        }
        const float *g = p->items + (size_t)s->loaded[k] * d, *l = s->local + k * d;
        size_t at = count[group_of(p, s->loaded[k], groups)]++;
        out->rows[at] = s->loaded[k];
        for (size_t c = 0; c < d; c++)
            out->delta[at * d + c] = l[c] - g[c];
    }
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
            out->group_start[t] = (uint32_t)(t * p->n_items / groups);
        for (size_t t = 0; t < groups; t++) /* exact boundaries of group_of */
            while (out->group_start[t + 1] > out->group_start[t] &&
                   group_of(p, (int32_t)out->group_start[t + 1] - 1, groups) > t)
                out->group_start[t + 1]--;
    }
    return FR_OK;
}

/* ---- rounds ------------------------------------------------------------------ */

typedef struct round_job {
    fr_pfedrec *p;
    size_t chunk;        /* clients per task */
} round_job;

static void run_chunk(void *arg, size_t task)
{
    round_job *job = arg;
    fr_pfedrec *p = job->p;
    size_t begin = task * job->chunk, end = begin + job->chunk;
    if (end > p->n_sampled)
        end = p->n_sampled;
    scratch s;
    fr_status st = scratch_init(&s, p->n_items, p->dim, p->o.batch);
    for (size_t k = begin; k < end; k++) {
        client_out *out = &p->outs[k];
        out->status = st;
        if (st != FR_OK)
            continue;
        out->status = train_client(p, &s, (size_t)p->sampled[k], out);
        scratch_reset(&s);
    }
    if (st == FR_OK)
        scratch_free(&s);
}

/* Aggregation split over item-row ranges: each task applies, in client-id
 * order, the changes that fall in its range, so every row sums the same
 * way whatever the number of tasks. */
typedef struct agg_job {
    fr_pfedrec *p;
    size_t n_tasks;
    double total_samples;
} agg_job;

static void aggregate_range(void *arg, size_t task)
{
    agg_job *job = arg;
    fr_pfedrec *p = job->p;
    size_t d = p->dim;
    for (size_t k = 0; k < p->n_sampled; k++) {
        const client_out *o = &p->outs[k];
        float scale = p->o.weighted ? (float)((double)o->samples / job->total_samples)
                                    : 1.0f / (float)p->n_sampled;
        for (size_t r = o->group_start[task]; r < o->group_start[task + 1]; r++) {
            float *row = p->items + (size_t)o->rows[r] * d;
            const float *delta = o->delta + r * d;
            for (size_t c = 0; c < d; c++)
                row[c] += scale * delta[c];
        }
    }
}

/* Clients of this round: all, or a uniform sample of the fraction asked
 * (at least one), in increasing id order. */
static void sample_clients(fr_pfedrec *p)
{
    size_t nu = p->n_users, want = nu;
    if (p->o.client_fraction < 1.0) {
        want = (size_t)(p->o.client_fraction * (double)nu + 0.5);
        if (want < 1)
            want = 1;
    }
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
        /* Sort the sample: aggregation runs in client-id order. */
        for (size_t i = 1; i < want; i++)
            for (size_t j = i; j > 0 && p->sampled[j - 1] > p->sampled[j]; j--) {
                int32_t t = p->sampled[j];
                p->sampled[j] = p->sampled[j - 1];
                p->sampled[j - 1] = t;
            }
    }
    p->n_sampled = want;
}

static void summarise(const fr_pfedrec *p, fr_pfedrec_round *out)
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

fr_status fr_pfedrec_run_round(fr_pfedrec *p, unsigned round, fr_pfedrec_round *out)
{
    double t0 = now_seconds();
    memset(out, 0, sizeof *out);
    p->round = round;
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
        float *delta = o->delta;
        size_t cap = o->cap_rows;
        memset(o, 0, sizeof *o);
        o->rows = rows;
        o->delta = delta;
        o->cap_rows = cap;
    }
    int threads = fr_cpu_engine_threads(p->engine);
    round_job job = {p, (p->n_sampled + 8 * (size_t)threads - 1) / (8 * (size_t)threads)};
    if (job.chunk == 0)
        job.chunk = 1;
    fr_cpu_parallel_for(p->engine, (p->n_sampled + job.chunk - 1) / job.chunk, run_chunk, &job);

    /* Aggregate in client-id order: E += sum_c scale_c * delta_c. */
    double t_agg = now_seconds();
    fr_status s = FR_OK;
    double total_samples = 0, loss = 0;
    for (size_t k = 0; k < p->n_sampled; k++) {
        if (p->outs[k].status != FR_OK && s == FR_OK)
            s = p->outs[k].status;
        total_samples += (double)p->outs[k].samples;
        loss += p->outs[k].loss_sum;
    }
    if (s == FR_OK) {
        agg_job aj = {p, agg_tasks(p), total_samples};
        fr_cpu_parallel_for(p->engine, aj.n_tasks, aggregate_range, &aj);
    }
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++)
        out->bytes_up += (uint64_t)p->outs[k].n_rows * (d * sizeof(float) + sizeof(int32_t)) +
                         (p->o.share_score ? (d + 1) * sizeof(float) : 0);
    if (s == FR_OK && p->o.share_score) {
        /* The server's new score function: the mean of the trained ones. */
        memset(mean_w, 0, (d + 1) * sizeof *mean_w);
        for (size_t k = 0; k < p->n_sampled; k++) {
            size_t u = (size_t)p->sampled[k];
            for (size_t c = 0; c < d; c++)
                mean_w[c] += p->w[u * d + c] / (float)p->n_sampled;
            mean_w[d] += p->b[u] / (float)p->n_sampled;
        }
        for (size_t u = 0; u < p->n_users; u++) {
            memcpy(p->w + u * d, mean_w, d * sizeof *mean_w);
            p->b[u] = mean_w[d];
        }
    }
    out->t_aggregate = now_seconds() - t_agg;
    for (size_t k = 0; k < p->n_sampled; k++) {
        out->t_negatives += p->outs[k].t_negatives;
        out->t_train += p->outs[k].t_train;
        out->t_eval += p->outs[k].t_eval;
    }
    free(mean_w);
    if (s != FR_OK)
        return s;
    out->clients = p->n_sampled;
    out->train_loss = total_samples > 0 ? loss / total_samples : 0.0;
    if (!isfinite(out->train_loss))
        return fr_fail(FR_ERR_NUMERIC, "PFedRec round %u: training loss is %g (learning rates too high?)",
                       round, out->train_loss);
    summarise(p, out);
    out->seconds = now_seconds() - t0;
    return FR_OK;
}

fr_status fr_pfedrec_create(const fr_loo_split *split, const fr_pfedrec_options *o,
                            fr_pfedrec **out)
{
    *out = NULL;
    if (o->dim == 0 || o->dim > 1024 || o->batch == 0 || o->local_epochs == 0 ||
        !(o->client_fraction > 0.0 && o->client_fraction <= 1.0) || !(o->lr > 0) ||
        !(o->lr_eta > 0) || o->top_k == 0)
        return fr_fail(FR_ERR_INVALID, "PFedRec: need 1 <= dim <= 1024, batch >= 1, local epochs >= 1, 0 < client fraction <= 1, lr > 0, lr_eta > 0, top_k >= 1");
    if ((unsigned)o->algorithm > FR_ALGO_FEDMF)
        return fr_fail(FR_ERR_INVALID, "rating engine: unknown algorithm %d", (int)o->algorithm);
    if (split->negatives_per_eval > 1024)
        return fr_fail(FR_ERR_INVALID, "PFedRec: at most 1024 evaluation negatives per user");
    fr_pfedrec *p = calloc(1, sizeof *p);
    if (!p)
        return fr_fail_nomem("PFedRec", sizeof *p);
    p->split = split;
    p->o = *o;
    p->n_users = split->n_users;
    p->n_items = split->n_items;
    p->dim = o->dim;
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
    if (!p->items || !p->w || !p->b || !p->val_hr || !p->val_ndcg || !p->test_hr ||
        !p->test_ndcg || !p->sampled || !p->outs) {
        fr_pfedrec_free(p);
        return fr_fail_nomem("PFedRec state", (p->n_items + nu) * d * 4);
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
    fr_rng_init(&rng, o->seed, 0, 0xFFFFFFFFu, FR_RNG_INIT);
    for (size_t i = 0; i < p->n_items * d; i++)
        p->items[i] = fr_rng_normal(&rng);
    float bound = 1.0f / sqrtf((float)d);
    for (size_t u = 0; u < nu; u++) {
        fr_rng_init(&rng, o->seed, 0, (uint32_t)u, FR_RNG_INIT);
        for (size_t c = 0; c < d; c++)
            p->w[u * d + c] = (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
        p->b[u] = o->algorithm == FR_ALGO_FEDMF ? 0.0f : (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
    }
    /* Every client starts evaluated with the initial model. */
    scratch sc;
    s = scratch_init(&sc, p->n_items, d, o->batch);
    if (s != FR_OK) {
        fr_pfedrec_free(p);
        return s;
    }
    for (size_t u = 0; u < nu; u++)
        evaluate(p, &sc, u, p->w + u * d, p->b[u]);
    scratch_free(&sc);
    *out = p;
    return FR_OK;
}

/* ---- checkpoints ------------------------------------------------------------ */


#define CKPT_VERSION 1u
static const char ckpt_magic[8] = {'F', 'R', 'P', 'F', 'R', 'E', 'C', '\n'};

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, rounds_done;
    uint64_t n_users, n_items, dim, n_ratings, seed, n_extra;
} ckpt_header;

static uint64_t n_ratings_of(const fr_loo_split *s)
{
    return (uint64_t)s->seen_start[s->n_users];
}

/* The arrays of a checkpoint, in file order. */
typedef struct ckpt_part {
    void *data;
    size_t bytes;
} ckpt_part;

static size_t parts_of(const fr_pfedrec *p, ckpt_part *parts)
{
    size_t nu = p->n_users, d = p->dim;
    parts[0] = (ckpt_part){p->items, p->n_items * d * sizeof(float)};
    parts[1] = (ckpt_part){p->w, nu * d * sizeof(float)};
    parts[2] = (ckpt_part){p->b, nu * sizeof(float)};
    parts[3] = (ckpt_part){p->val_hr, nu * sizeof(double)};
    parts[4] = (ckpt_part){p->val_ndcg, nu * sizeof(double)};
    parts[5] = (ckpt_part){p->test_hr, nu * sizeof(double)};
    parts[6] = (ckpt_part){p->test_ndcg, nu * sizeof(double)};
    return 7;
}

fr_status fr_pfedrec_save(const fr_pfedrec *p, const char *path, unsigned rounds_done,
                          const double *extra, size_t n_extra)
{
    if (n_extra > 64)
        return fr_fail(FR_ERR_INVALID, "checkpoint: at most 64 extra values");
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, ckpt_magic, sizeof h.magic);
    h.version = CKPT_VERSION;
    h.rounds_done = rounds_done;
    h.n_users = p->n_users;
    h.n_items = p->n_items;
    h.dim = p->dim;
    h.n_ratings = n_ratings_of(p->split);
    h.seed = p->o.seed;
    h.n_extra = n_extra;
    fr_atomic_file af;
    FR_TRY(fr_atomic_open(&af, path));
    ckpt_part parts[8];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){(void *)extra, n_extra * sizeof *extra};
    /* Native byte order: checkpoints resume a run on the machine family
     * that wrote them; the header check refuses a foreign layout. */
    uint32_t crc = fr_crc32(0, &h, sizeof h);
    int ok = fwrite(&h, sizeof h, 1, af.f) == 1;
    for (size_t k = 0; ok && k < n; k++) {
        crc = fr_crc32(crc, parts[k].data, parts[k].bytes);
        ok = parts[k].bytes == 0 || fwrite(parts[k].data, parts[k].bytes, 1, af.f) == 1;
    }
    ok = ok && fwrite(&crc, sizeof crc, 1, af.f) == 1;
    if (!ok) {
        fr_atomic_abort(&af);
        return fr_fail(FR_ERR_IO, "%s: cannot write the checkpoint (the previous one, if any, is kept)", path);
    }
    return fr_atomic_commit(&af);
}

fr_status fr_pfedrec_load(fr_pfedrec *p, const char *path, unsigned *rounds_done,
                          double *extra, size_t n_extra)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path);
    ckpt_header h;
    fr_status s = FR_OK;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, ckpt_magic, sizeof h.magic) != 0)
        s = fr_fail(FR_ERR_FORMAT, "%s: not a fedrec PFedRec checkpoint", path);
    else if (h.version != CKPT_VERSION)
        s = fr_fail(FR_ERR_FORMAT, "%s: checkpoint version %u, this fedrec reads %u", path, h.version,
                    CKPT_VERSION);
    else if (h.n_users != p->n_users || h.n_items != p->n_items || h.dim != p->dim ||
             h.n_ratings != n_ratings_of(p->split) || h.seed != p->o.seed || h.n_extra != n_extra)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (%llu users, %llu items, %llu ratings, dim %llu, seed %llu; this run: %zu, %zu, %llu, %zu, %llu)",
                    path, (unsigned long long)h.n_users, (unsigned long long)h.n_items,
                    (unsigned long long)h.n_ratings, (unsigned long long)h.dim,
                    (unsigned long long)h.seed, p->n_users, p->n_items,
                    (unsigned long long)n_ratings_of(p->split), p->dim,
                    (unsigned long long)p->o.seed);
    /* Read everything into copies first: a bad file changes nothing. */
    ckpt_part parts[8], copies[8];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){extra, n_extra * sizeof *extra};
    memset(copies, 0, sizeof copies);
    uint32_t crc = fr_crc32(0, &h, sizeof h), stored = 0;
    for (size_t k = 0; s == FR_OK && k < n; k++) {
        copies[k].bytes = parts[k].bytes;
        copies[k].data = malloc(parts[k].bytes ? parts[k].bytes : 1);
        if (!copies[k].data)
            s = fr_fail_nomem("checkpoint", parts[k].bytes);
        else if (parts[k].bytes && fread(copies[k].data, parts[k].bytes, 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        else
            crc = fr_crc32(crc, copies[k].data, parts[k].bytes);
    }
    if (s == FR_OK && fread(&stored, sizeof stored, 1, f) != 1)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (s == FR_OK && stored != crc)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is corrupt (checksum %08x, expected %08x)", path, crc, stored);
    if (s == FR_OK && fgetc(f) != EOF)
        s = fr_fail(FR_ERR_FORMAT, "%s: unexpected bytes after the checkpoint", path);
    fclose(f);
    for (size_t k = 0; k < n; k++) {
        if (s == FR_OK && parts[k].bytes)
            memcpy(parts[k].data, copies[k].data, parts[k].bytes);
        free(copies[k].data);
    }
    if (s == FR_OK)
        *rounds_done = h.rounds_done;
    return s;
}
