/* rating_model.c — the rating model's trained model (see
 * fedrec/pfedrec.h, "The trained model"): keeping what each round's
 * evaluation used, copying it out, putting a saved one back, and
 * evaluating or scoring with it through the rounds' own code, so that a
 * saved model evaluates to the figures its round printed. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "rec/rating.h"

void fr_pf_keep_free(fr_rating *p)
{
    free(p->eval_items);
    free(p->eval_shared);
    free(p->eval_w);
    free(p->eval_b);
    for (size_t u = 0; u < p->n_users; u++) { /* either list may be missing (out of memory) */
        if (p->pers_items)
            free(p->pers_items[u]);
        if (p->pers_rows)
            free(p->pers_rows[u]);
    }
    free(p->pers_items);
    free(p->pers_rows);
    free(p->pers_n);
    free(p->pers_cap);
    p->eval_items = p->eval_shared = p->eval_w = p->eval_b = NULL;
    p->pers_items = NULL;
    p->pers_rows = NULL;
    p->pers_n = p->pers_cap = NULL;
    p->keep = 0;
    p->kept_round = 0;
}

/* Whether the algorithm evaluates with each client's own item rows. */
static int has_personal_rows(const fr_rating *p)
{
    return p->o.algorithm == FR_ALGO_PFEDREC && !p->o.eval_global_items;
}

/* The per-user row lists (empty). */
static fr_status alloc_personal(fr_rating *p)
{
    size_t nu = p->n_users;
    p->pers_n = calloc(nu ? nu : 1, sizeof *p->pers_n);
    p->pers_cap = calloc(nu ? nu : 1, sizeof *p->pers_cap);
    p->pers_items = calloc(nu ? nu : 1, sizeof *p->pers_items);
    p->pers_rows = calloc(nu ? nu : 1, sizeof *p->pers_rows);
    if (!p->pers_n || !p->pers_cap || !p->pers_items || !p->pers_rows)
        return fr_fail_nomem("personal item rows", nu * 32);
    return FR_OK;
}

fr_status fr_rating_keep_model(fr_rating *p)
{
    fr_pf_keep_free(p);
    size_t nu = p->n_users, d = p->dim;
    p->eval_w = malloc((nu ? nu : 1) * d * sizeof *p->eval_w);
    p->eval_b = malloc((nu ? nu : 1) * sizeof *p->eval_b);
    if (p->o.algorithm != FR_ALGO_CENTRAL_MF) /* centralised MF evaluates the table itself */
        p->eval_items = malloc(p->n_items * d * sizeof *p->eval_items);
    if (p->shared)
        p->eval_shared = malloc(p->n_shared * sizeof *p->eval_shared);
    fr_status s = FR_OK;
    if (!p->eval_w || !p->eval_b || (p->o.algorithm != FR_ALGO_CENTRAL_MF && !p->eval_items) ||
        (p->shared && !p->eval_shared))
        s = fr_fail_nomem("kept model", (p->n_items + nu) * d * sizeof(float));
    if (s == FR_OK && has_personal_rows(p))
        s = alloc_personal(p);
    if (s != FR_OK) {
        fr_pf_keep_free(p);
        return s;
    }
    memcpy(p->eval_w, p->w, nu * d * sizeof *p->w);
    memcpy(p->eval_b, p->b, nu * sizeof *p->b);
    p->keep = 1;
    p->kept_round = 0;
    return FR_OK;
}

void fr_pf_keep_round_start(fr_rating *p)
{
    memcpy(p->eval_items, p->items, p->n_items * p->dim * sizeof *p->items);
    if (p->shared)
        memcpy(p->eval_shared, p->shared, p->n_shared * sizeof *p->shared);
}

static int compare_item(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Room for n rows in user u's list. */
static fr_status reserve_rows(fr_rating *p, size_t u, size_t n)
{
    if (n <= p->pers_cap[u])
        return FR_OK;
    size_t cap = n < 16 ? 16 : n + n / 4;
    int32_t *items = realloc(p->pers_items[u], cap * sizeof *items);
    if (items)
        p->pers_items[u] = items;
    float *rows = realloc(p->pers_rows[u], cap * p->dim * sizeof *rows);
    if (rows)
        p->pers_rows[u] = rows;
    if (!items || !rows)
        return fr_fail_nomem("personal item rows", cap * p->dim * sizeof *rows);
    p->pers_cap[u] = cap;
    return FR_OK;
}

fr_status fr_pf_keep_client(fr_rating *p, const scratch *s, size_t u, const float *w, float b)
{
    size_t d = p->dim;
    memcpy(p->eval_w + u * d, w, d * sizeof *w);
    p->eval_b[u] = b;
    if (!has_personal_rows(p))
        return FR_OK;
    /* The rows its training changed, by item: the others read the table. */
    size_t changed = 0;
    for (size_t k = 0; k < s->n_loaded; k++)
        changed += memcmp(s->local + k * d, p->items + (size_t)s->loaded[k] * d, d * sizeof(float)) != 0;
    FR_TRY(reserve_rows(p, u, changed));
    int32_t *items = p->pers_items[u];
    size_t n = 0;
    for (size_t k = 0; k < s->n_loaded; k++)
        if (memcmp(s->local + k * d, p->items + (size_t)s->loaded[k] * d, d * sizeof(float)) != 0)
            items[n++] = s->loaded[k];
    if (n)
        qsort(items, n, sizeof *items, compare_item);
    for (size_t r = 0; r < n; r++)
        memcpy(p->pers_rows[u] + r * d, s->local + (size_t)s->slot[items[r]] * d, d * sizeof(float));
    p->pers_n[u] = n;
    return FR_OK;
}

void fr_pfedrec_model_free(fr_pfedrec_model *m)
{
    if (!m)
        return;
    free(m->items);
    free(m->w);
    free(m->b);
    free(m->shared);
    free(m->personal_start);
    free(m->personal_items);
    free(m->personal_rows);
    memset(m, 0, sizeof *m);
}

/* Grow *buf to hold n elements of size bytes (kept when big enough). */
fr_status fr_pf_grow(void **buf, size_t *have, size_t n, size_t size)
{
    if (*buf && *have >= n)
        return FR_OK;
    void *nb = realloc(*buf, (n ? n : 1) * size);
    if (!nb)
        return fr_fail_nomem("model copy", n * size);
    *buf = nb;
    *have = n;
    return FR_OK;
}

fr_status fr_rating_model_take(fr_rating *p, fr_pfedrec_model *m)
{
    if (!p->keep)
        return fr_fail(FR_ERR_INVALID, "the rating engine keeps no model (fr_pfedrec_keep_model was not called)");
    if (p->kept_round == 0)
        return fr_fail(FR_ERR_INVALID, "no round has run since the engine began to keep its model");
    size_t nu = p->n_users, ni = p->n_items, d = p->dim;
    int same_shape = m->items && m->n_users == nu && m->n_items == ni && m->dim == d &&
                     m->algorithm == p->o.algorithm;
    if (!same_shape) {
        fr_pfedrec_model_free(m);
        m->items = malloc(ni * d * sizeof *m->items);
        m->w = malloc((nu ? nu : 1) * d * sizeof *m->w);
        m->b = malloc((nu ? nu : 1) * sizeof *m->b);
        if (p->shared)
            m->shared = malloc(p->n_shared * sizeof *m->shared);
        if (has_personal_rows(p))
            m->personal_start = malloc((nu + 1) * sizeof *m->personal_start);
        if (!m->items || !m->w || !m->b || (p->shared && !m->shared) ||
            (has_personal_rows(p) && !m->personal_start)) {
            fr_pfedrec_model_free(m);
            return fr_fail_nomem("model copy", (ni + nu) * d * sizeof(float));
        }
    }
    m->algorithm = p->o.algorithm;
    m->n_users = nu;
    m->n_items = ni;
    m->dim = d;
    m->n_shared = p->n_shared;
    m->round = p->kept_round;
    /* Centralised MF evaluates the tables after the epoch as they are. */
    int central = p->o.algorithm == FR_ALGO_CENTRAL_MF;
    memcpy(m->items, central ? p->items : p->eval_items, ni * d * sizeof *m->items);
    memcpy(m->w, central ? p->w : p->eval_w, nu * d * sizeof *m->w);
    memcpy(m->b, central ? p->b : p->eval_b, nu * sizeof *m->b);
    if (p->shared)
        memcpy(m->shared, p->eval_shared, p->n_shared * sizeof *m->shared);
    if (!has_personal_rows(p))
        return FR_OK;
    size_t total = 0;
    for (size_t u = 0; u < nu; u++) {
        m->personal_start[u] = total;
        total += p->pers_n[u];
    }
    m->personal_start[nu] = total;
    size_t cap_items = m->personal_cap, cap_rows = m->personal_cap;
    FR_TRY(fr_pf_grow((void **)&m->personal_items, &cap_items, total, sizeof *m->personal_items));
    FR_TRY(fr_pf_grow((void **)&m->personal_rows, &cap_rows, total * d, sizeof *m->personal_rows));
    m->personal_cap = total > m->personal_cap ? total : m->personal_cap;
    for (size_t u = 0; u < nu; u++) {
        if (!p->pers_n[u]) /* a user never trained has no list at all */
            continue;
        memcpy(m->personal_items + m->personal_start[u], p->pers_items[u], p->pers_n[u] * sizeof(int32_t));
        memcpy(m->personal_rows + m->personal_start[u] * d, p->pers_rows[u], p->pers_n[u] * d * sizeof(float));
    }
    return FR_OK;
}

fr_status fr_pf_model_check(const fr_rating *p, const fr_pfedrec_model *m)
{
    size_t nu = p->n_users, ni = p->n_items, d = p->dim;
    if (m->algorithm != p->o.algorithm || m->n_users != nu || m->n_items != ni || m->dim != d ||
        m->n_shared != p->n_shared || (p->shared && !m->shared))
        return fr_fail(FR_ERR_INVALID, "the model (algorithm %d, %zu users, %zu items, rows of %zu, %zu layer values) does not fit this engine (algorithm %d, %zu, %zu, %zu, %zu)",
                       (int)m->algorithm, m->n_users, m->n_items, m->dim, m->n_shared, (int)p->o.algorithm, nu,
                       ni, d, p->n_shared);
    if (has_personal_rows(p) && !m->personal_start)
        return fr_fail(FR_ERR_INVALID, "PFedRec with item personalisation needs each user's personal rows; the model has none");
    for (size_t u = 0; m->personal_start && u < nu; u++) {
        size_t begin = m->personal_start[u], end = m->personal_start[u + 1];
        if (end < begin || end > m->personal_start[nu])
            return fr_fail(FR_ERR_INVALID, "the model's personal rows of user %zu run from %zu to %zu", u, begin, end);
        for (size_t k = begin; k < end; k++)
            if (m->personal_items[k] < 0 || (size_t)m->personal_items[k] >= ni ||
                (k > begin && m->personal_items[k] <= m->personal_items[k - 1]))
                return fr_fail(FR_ERR_INVALID, "the model's personal rows of user %zu are not distinct items in increasing order below %zu",
                               u, ni);
    }
    return FR_OK;
}

/* Every user's personal rows of m into the engine's lists (allocated
 * here; freed with the kept model on failure). */
static fr_status personal_from(fr_rating *p, const fr_pfedrec_model *m)
{
    size_t d = p->dim;
    FR_TRY(alloc_personal(p));
    for (size_t u = 0; u < p->n_users; u++) {
        size_t begin = m->personal_start[u], n = m->personal_start[u + 1] - begin;
        fr_status s = reserve_rows(p, u, n);
        if (s != FR_OK)
            return s;
        if (n) {
            memcpy(p->pers_items[u], m->personal_items + begin, n * sizeof(int32_t));
            memcpy(p->pers_rows[u], m->personal_rows + begin * d, n * d * sizeof(float));
        }
        p->pers_n[u] = n;
    }
    return FR_OK;
}

fr_status fr_pf_keep_restore(fr_rating *p, const fr_pfedrec_model *m)
{
    if (!p->keep)
        return FR_OK;
    FR_TRY(fr_pf_model_check(p, m));
    size_t nu = p->n_users, d = p->dim;
    if (p->eval_items)
        memcpy(p->eval_items, m->items, p->n_items * d * sizeof *p->eval_items);
    if (p->eval_shared)
        memcpy(p->eval_shared, m->shared, p->n_shared * sizeof *p->eval_shared);
    memcpy(p->eval_w, m->w, nu * d * sizeof *p->eval_w);
    memcpy(p->eval_b, m->b, nu * sizeof *p->eval_b);
    if (has_personal_rows(p)) {
        for (size_t u = 0; u < nu; u++) { /* the empty lists keep_model made */
            free(p->pers_items[u]);
            free(p->pers_rows[u]);
        }
        free(p->pers_items);
        free(p->pers_rows);
        free(p->pers_n);
        free(p->pers_cap);
        p->pers_items = NULL;
        p->pers_rows = NULL;
        p->pers_n = p->pers_cap = NULL;
        fr_status s = personal_from(p, m);
        if (s != FR_OK) {
            fr_pf_keep_free(p);
            return s;
        }
    }
    p->kept_round = m->round;
    return FR_OK;
}

fr_status fr_rating_model_use(fr_rating *p, const fr_pfedrec_model *m)
{
    size_t nu = p->n_users, ni = p->n_items, d = p->dim;
    FR_TRY(fr_pf_model_check(p, m));
    fr_pf_keep_free(p);
    if (has_personal_rows(p)) {
        fr_status s = personal_from(p, m);
        if (s != FR_OK) {
            fr_pf_keep_free(p);
            return s;
        }
    }
    memcpy(p->items, m->items, ni * d * sizeof *p->items);
    memcpy(p->w, m->w, nu * d * sizeof *p->w);
    memcpy(p->b, m->b, nu * sizeof *p->b);
    if (p->shared)
        memcpy(p->shared, m->shared, p->n_shared * sizeof *p->shared);
    return FR_OK;
}

/* Put user u's personal rows over the table in s (a fresh overlay). */
static fr_status overlay(fr_rating *p, scratch *s, size_t u)
{
    if (!p->pers_n)
        return FR_OK;
    size_t d = p->dim;
    for (size_t r = 0; r < p->pers_n[u]; r++) {
        int32_t slot;
        FR_TRY(fr_pf_load_row(s, p->items, d, p->pers_items[u][r], &slot));
        memcpy(s->local + (size_t)slot * d, p->pers_rows[u] + r * d, d * sizeof(float));
    }
    return FR_OK;
}

typedef struct eval_job {
    fr_rating *p;
    size_t chunk;
    fr_status status[512];
} eval_job;

static void evaluate_users(void *arg, size_t task)
{
    eval_job *job = arg;
    fr_rating *p = job->p;
    size_t begin = task * job->chunk, end = begin + job->chunk;
    if (end > p->n_users)
        end = p->n_users;
    scratch s;
    fr_status st = fr_pf_scratch_init(&s, p);
    job->status[task] = st;
    if (st != FR_OK)
        return;
    for (size_t u = begin; st == FR_OK && u < end; u++) {
        st = overlay(p, &s, u);
        if (st == FR_OK)
            fr_pf_evaluate(p, &s, u, p->w + u * p->dim, p->b[u]);
        fr_pf_scratch_reset(&s);
    }
    job->status[task] = st;
    fr_pf_scratch_free(&s);
}

fr_status fr_rating_evaluate(fr_rating *p, fr_pfedrec_round *out)
{
    memset(out, 0, sizeof *out);
    eval_job *job = calloc(1, sizeof *job);
    if (!job)
        return fr_fail_nomem("evaluation", sizeof *job);
    size_t tasks = 8 * (size_t)fr_host_threads(p->host);
    if (tasks > sizeof job->status / sizeof job->status[0])
        tasks = sizeof job->status / sizeof job->status[0];
    job->p = p;
    job->chunk = (p->n_users + tasks - 1) / tasks;
    if (job->chunk == 0)
        job->chunk = 1;
    tasks = (p->n_users + job->chunk - 1) / job->chunk;
    double t0 = fr_clock_seconds();
    fr_host_parallel_for(p->host, tasks, evaluate_users, job);
    fr_status s = FR_OK;
    for (size_t t = 0; t < tasks && s == FR_OK; t++)
        s = job->status[t];
    free(job);
    FR_TRY(s);
    fr_rating_summarise(p, out);
    out->seconds = fr_clock_seconds() - t0;
    out->t_eval = out->seconds;
    return FR_OK;
}

fr_status fr_rating_scores(fr_rating *p, size_t u, float *scores)
{
    if (u >= p->n_users)
        return fr_fail(FR_ERR_INVALID, "user %zu of %zu", u, p->n_users);
    scratch s;
    FR_TRY(fr_pf_scratch_init(&s, p));
    fr_status st = overlay(p, &s, u);
    if (st == FR_OK)
        fr_pf_score_items(p, &s, p->w + u * p->dim, p->b[u], scores);
    fr_pf_scratch_free(&s);
    return st;
}

void fr_pfedrec_ncf_layer(const fr_pfedrec_options *o, size_t l, size_t *out, size_t *in,
                          size_t *weight, size_t *bias)
{
    size_t width = 2 * o->dim, at = 0;
    for (size_t k = 0; k < l && k < o->n_ncf_layers; k++) {
        at += o->ncf_layers[k] * width + o->ncf_layers[k];
        width = o->ncf_layers[k];
    }
    if (l < o->n_ncf_layers) {
        *out = o->ncf_layers[l];
        *in = width;
    } else { /* the output layer: the GMF products, then the last hidden layer */
        *out = 1;
        *in = o->dim + width;
    }
    *weight = at;
    *bias = at + *out * *in;
}
