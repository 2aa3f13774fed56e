/* mtr_tasks.c — the multi-task recommender's tasks (see fedrec/mtrec.h
 * for the loss forms): each adds its mean loss over the step's samples and
 * its gradient on every touched row to its own gradient buffer, so the
 * combiner sees the tasks apart. Rows are in one table (users, then items).
 *
 * DirectAU's uniformity over B rows uses the Gram matrix K = X X^T of the
 * normalised rows: |x_k - x_l|^2 = 2 - 2 K_kl, so the pair weights are
 * E_kl = exp(4 K_kl - 4); with S = sum_{k<l} E_kl the loss is
 * log(S / (B (B - 1) / 2)) and its gradient on x_k is
 * -(4 / S) (x_k sum_l E_kl - (E X)_k): two GEMMs and B^2 exponentials.
 * A batch names many rows more than once, so the work runs over its
 * distinct rows with their multiplicities (see uniformity()): the same
 * loss, (distinct / B)^2 of the work. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error_internal.h"
#include "mtr/mtr_internal.h"

const char *fr_mtr_task_name(fr_mtr_task t)
{
    static const char *const names[FR_MTR_TASK_KINDS] = {"bpr", "directau", "rating", "social",
                                                         "itempair", "category"};
    return (unsigned)t < FR_MTR_TASK_KINDS ? names[t] : "?";
}

fr_status fr_mtr_task_parse(const char *name, fr_mtr_task *out)
{
    for (int t = 0; t < FR_MTR_TASK_KINDS; t++)
        if (strcmp(name, fr_mtr_task_name((fr_mtr_task)t)) == 0) {
            *out = (fr_mtr_task)t;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID,
                   "unknown task '%s' (expected bpr, directau, rating, social, itempair or category)", name);
}

int32_t fr_mtr_touch(fr_mtr *m, fr_mtr_step *st, int32_t row)
{
    int32_t slot = st->slot_of[row];
    if (slot >= 0)
        return slot;
    slot = (int32_t)st->n_slots++;
    st->slot_of[row] = slot;
    st->rows[slot] = row;
    (void)m; /* the task gradients of the slots are cleared in fr_mtr_task_grad */
    return slot;
}

static float dot(const float *a, const float *b, size_t d)
{
    float s = 0;
    for (size_t j = 0; j < d; j++)
        s += a[j] * b[j];
    return s;
}

/* log(1 + e^x), stable */
static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* -log sigmoid(a.p - a.n) over triples of table rows, mean over n. */
#define BPR_PREFETCH 8
static double bpr_triples(fr_mtr *m, fr_mtr_step *st, float *grad, const int32_t *anchor,
                          const int32_t *positive, const int32_t *negative, size_t n)
{
    size_t d = m->dim;
    double loss = 0;
    for (size_t k = 0; k < n; k++) {
        if (k + BPR_PREFETCH < n) { /* the rows are scattered over a table larger than the cache */
            __builtin_prefetch(m->table + (size_t)anchor[k + BPR_PREFETCH] * d);
            __builtin_prefetch(m->table + (size_t)positive[k + BPR_PREFETCH] * d);
            __builtin_prefetch(m->table + (size_t)negative[k + BPR_PREFETCH] * d);
        }
        const float *a = m->table + (size_t)anchor[k] * d;
        const float *p = m->table + (size_t)positive[k] * d;
        const float *q = m->table + (size_t)negative[k] * d;
        float x = dot(a, p, d) - dot(a, q, d);
        loss += softplus(-(double)x);
        /* d/dx of -log sigmoid(x) = -sigmoid(-x) */
        float g = (float)(-1.0 / (1.0 + exp((double)x)) / (double)n);
        float *ga = grad + (size_t)st->slot_of[anchor[k]] * d;
        float *gp = grad + (size_t)st->slot_of[positive[k]] * d;
        float *gq = grad + (size_t)st->slot_of[negative[k]] * d;
        for (size_t j = 0; j < d; j++) {
            ga[j] += g * (p[j] - q[j]);
            gp[j] += g * a[j];
            gq[j] -= g * a[j];
        }
    }
    return n ? loss / (double)n : 0;
}

static double rating_task(fr_mtr *m, fr_mtr_step *st, float *grad)
{
    size_t d = m->dim, n = st->n;
    double loss = 0;
    for (size_t k = 0; k < n; k++) {
        const float *u = m->table + (size_t)st->user[k] * d;
        const float *i = m->table + (size_t)st->item[k] * d;
        float err = st->rating[k] - dot(u, i, d);
        loss += (double)err * err;
        float g = -2.0f * err / (float)n;
        float *gu = grad + (size_t)st->slot_of[st->user[k]] * d;
        float *gi = grad + (size_t)st->slot_of[st->item[k]] * d;
        for (size_t j = 0; j < d; j++) {
            gu[j] += g * i[j];
            gi[j] += g * u[j];
        }
    }
    return n ? loss / (double)n : 0;
}

/* Rows [begin, end) of the pair-weight matrix: E = exp(4 K - 4) in place
 * by the CPU path's vectorised kernel, the diagonal zeroed, and
 * R_a = sum_a' c_a' E_aa' (a' != a). */
typedef struct weight_rows {
    const fr_host_vec *kernels;
    float *e;
    const float *c;
    float *r;
    size_t u, chunk;
} weight_rows;

static void pair_weight_rows(void *arg, size_t task)
{
    weight_rows *w = arg;
    size_t u = w->u, begin = task * w->chunk, end = begin + w->chunk;
    if (end > u)
        end = u;
    for (size_t k = begin; k < end; k++) {
        float *row = w->e + k * u;
        w->r[k] = w->kernels->exp_affine_dot(u, 4.0f, -4.0f, row, w->c) - w->c[k] * row[k];
        row[k] = 0;
    }
}

/* Uniformity of b batch rows given as u distinct normalised rows x with
 * multiplicities c (sum c = b). Pairs of two occurrences of one row have
 * weight exp(0) = 1 and no gradient, so
 *   S = 1/2 sum_{a != a'} c_a c_a' E_aa' + sum_a c_a (c_a - 1) / 2,
 * and the gradient on distinct row a (all its occurrences) is
 *   -(4 c_a / S) (x_a R_a - (E C X)_a),  R_a = sum_a' c_a' E_aa',
 * R coming out of the exponential pass and E C X from one GEMM (d
 * columns: a multiple of the micro-kernel's width at d = 32). Adds coef
 * times the gradient to dx and returns the loss (r: u floats of scratch). */
static double uniformity(fr_mtr *m, const float *x, const float *c, size_t u, size_t b, float coef,
                         float *dx, float *r)
{
    size_t d = m->dim;
    if (b < 2)
        return 0;
    float *e = m->au_gram, *y = m->au_y, *prod = m->au_prod;
    fr_host_sgemm(m->host, FR_NO_TRANS, FR_TRANS, u, u, d, 1.0f, x, d, x, d, 0.0f, e, u);
    size_t tasks = (size_t)fr_host_threads(m->host) * 4;
    weight_rows wr = {fr_host_vec_of(m->host), e, c, r, u, (u + tasks - 1) / tasks};
    fr_host_parallel_for(m->host, (u + wr.chunk - 1) / wr.chunk, pair_weight_rows, &wr);
    for (size_t a = 0; a < u; a++)
        for (size_t j = 0; j < d; j++)
            y[a * d + j] = c[a] * x[a * d + j];
    fr_host_sgemm(m->host, FR_NO_TRANS, FR_NO_TRANS, u, d, u, 1.0f, e, u, y, d, 0.0f, prod, d);
    double s = 0;
    for (size_t a = 0; a < u; a++)
        s += 0.5 * (double)c[a] * r[a] + 0.5 * (double)c[a] * ((double)c[a] - 1);
    double pairs = (double)b * (double)(b - 1) / 2;
    if (!(s > 0))
        return log(pairs > 0 ? 1e-30 : 1);
    float scale = (float)(-4.0 / s) * coef;
    for (size_t a = 0; a < u; a++) {
        float sa = scale * c[a];
        for (size_t j = 0; j < d; j++)
            dx[a * d + j] += sa * (r[a] * x[a * d + j] - prod[a * d + j]);
    }
    return log(s / pairs);
}

/* Normalise the n rows `rows` of the table into x (norms into norm). */
static void normalise_rows(fr_mtr *m, const int32_t *rows, size_t n, float *x, float *norm)
{
    size_t d = m->dim;
    for (size_t k = 0; k < n; k++) {
        const float *v = m->table + (size_t)rows[k] * d;
        float len = sqrtf(dot(v, v, d));
        norm[k] = len > 1e-12f ? len : 1e-12f;
        float inv = 1.0f / norm[k];
        for (size_t j = 0; j < d; j++)
            x[k * d + j] = v[j] * inv;
    }
}

/* Chain rule through x = v / |v|: dv = (dx - x (x . dx)) / |v|. */
static void add_normalise_backward(fr_mtr *m, fr_mtr_step *st, float *grad, const int32_t *rows,
                                   size_t n, const float *x, const float *norm, const float *dx)
{
    size_t d = m->dim;
    for (size_t k = 0; k < n; k++) {
        const float *xk = x + k * d, *dk = dx + k * d;
        float proj = dot(xk, dk, d), inv = 1.0f / norm[k];
        float *g = grad + (size_t)st->slot_of[rows[k]] * d;
        for (size_t j = 0; j < d; j++)
            g[j] += (dk[j] - xk[j] * proj) * inv;
    }
}

/* The distinct rows of the n table rows `rows` (first-seen order) with
 * their multiplicities; occ[k] = the distinct index of occurrence k. */
static size_t distinct_rows(fr_mtr *m, fr_mtr_step *st, const int32_t *rows, size_t n,
                            int32_t *distinct, float *count, int32_t *occ)
{
    size_t u = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t slot = st->slot_of[rows[k]];
        int32_t a = m->distinct_of_slot[slot];
        if (a < 0) {
            a = (int32_t)u++;
            m->distinct_of_slot[slot] = a;
            distinct[a] = rows[k];
            count[a] = 0;
        }
        count[a] += 1.0f;
        occ[k] = a;
    }
    for (size_t a = 0; a < u; a++)
        m->distinct_of_slot[st->slot_of[distinct[a]]] = -1;
    return u;
}

static double directau(fr_mtr *m, fr_mtr_step *st, float *grad)
{
    size_t d = m->dim, n = st->n;
    int32_t *users = m->au_rows, *items = m->au_rows + n;
    int32_t *occ_u = m->au_occ, *occ_i = m->au_occ + n;
    float *cu = m->au_count, *ci = m->au_count + n;
    size_t nu = distinct_rows(m, st, st->user, n, users, cu, occ_u);
    size_t ni = distinct_rows(m, st, st->item, n, items, ci, occ_i);
    float *xu = m->au_x, *xi = m->au_x + n * d;
    float *lu = m->au_norm, *li = m->au_norm + n, *ru = m->au_norm + 2 * n, *ri = m->au_norm + 3 * n;
    float *du = m->au_dx, *di = m->au_dx + n * d;
    normalise_rows(m, users, nu, xu, lu);
    normalise_rows(m, items, ni, xi, li);
    memset(m->au_dx, 0, 2 * n * d * sizeof(float));
    double align = 0;
    for (size_t k = 0; k < n; k++) {
        const float *a = xu + (size_t)occ_u[k] * d, *b = xi + (size_t)occ_i[k] * d;
        float *ga = du + (size_t)occ_u[k] * d, *gb = di + (size_t)occ_i[k] * d;
        for (size_t j = 0; j < d; j++) {
            float diff = a[j] - b[j];
            align += (double)diff * diff;
            ga[j] += 2.0f * diff / (float)n;
            gb[j] -= 2.0f * diff / (float)n;
        }
    }
    align /= (double)n;
    float half_gamma = (float)(m->o.gamma / 2);
    double uu = uniformity(m, xu, cu, nu, n, half_gamma, du, ru);
    double ui = uniformity(m, xi, ci, ni, n, half_gamma, di, ri);
    add_normalise_backward(m, st, grad, users, nu, xu, lu, du);
    add_normalise_backward(m, st, grad, items, ni, xi, li, di);
    return align + m->o.gamma * (uu + ui) / 2;
}

/* A random row of [0, count) not in row `of`'s neighbour list (start,
 * list), offset by base; tries a bounded number of times. */
static int32_t draw_outside(fr_rng *rng, size_t count, const size_t *start, const int32_t *list,
                            size_t of, int32_t base)
{
    int32_t x = 0;
    for (int tries = 0; tries < 64; tries++) {
        x = (int32_t)fr_rng_below(rng, (uint32_t)count);
        if ((size_t)x != of && !(start && fr_mtr_list_contains(start, list, of, x)))
            break;
    }
    return x + base;
}

/* The category whose stretch of category_items holds entry `at`: the
 * first c with category_start[c + 1] > at (empty categories skipped). */
static size_t category_of_entry(const fr_mtr_data *d, size_t at)
{
    size_t lo = 0, hi = d->n_categories - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->category_start[mid + 1] > at)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Whether items x and y have a category in common (sorted lists). */
static int share_category(const fr_mtr_data *d, int32_t x, int32_t y)
{
    const int32_t *a = d->item_categories + d->item_category_start[x];
    const int32_t *ae = d->item_categories + d->item_category_start[x + 1];
    const int32_t *b = d->item_categories + d->item_category_start[y];
    const int32_t *be = d->item_categories + d->item_category_start[y + 1];
    while (a < ae && b < be) {
        if (*a == *b)
            return 1;
        if (*a < *b)
            a++;
        else
            b++;
    }
    return 0;
}

void fr_mtr_task_draw(fr_mtr *m, size_t k, unsigned epoch, uint64_t step, size_t n)
{
    const fr_mtr_data *data = m->data;
    fr_rng rng;
    fr_rng_init(&rng, m->o.seed, epoch, (uint32_t)(step * FR_COMBINE_MAX_TASKS + k), FR_RNG_AUX);
    int32_t *a = m->aux[k][0], *p = m->aux[k][1], *q = m->aux[k][2];
    int32_t item_base = (int32_t)data->n_users;
    for (size_t s = 0; s < n; s++) {
        switch (m->o.tasks[k]) {
        case FR_MTR_SOCIAL: {
            const fr_mtr_relation *r = &data->links;
            size_t e = fr_rng_below(&rng, (uint32_t)r->n_pairs);
            int flip = fr_rng_below(&rng, 2);
            int32_t u = flip ? r->b[e] : r->a[e], v = flip ? r->a[e] : r->b[e];
            a[s] = u;
            p[s] = v;
            q[s] = draw_outside(&rng, data->n_users, r->start, r->neighbours, (size_t)u, 0);
            break;
        }
        case FR_MTR_ITEMPAIR: {
            const fr_mtr_relation *r = &data->pairs;
            size_t e = fr_rng_below(&rng, (uint32_t)r->n_pairs);
            int flip = fr_rng_below(&rng, 2);
            int32_t i = flip ? r->b[e] : r->a[e], j = flip ? r->a[e] : r->b[e];
            a[s] = i + item_base;
            p[s] = j + item_base;
            q[s] = draw_outside(&rng, data->n_items, r->start, r->neighbours, (size_t)i, item_base);
            break;
        }
        default: { /* FR_MTR_CATEGORY: an anchor, another item of one of its
                    * categories, an item sharing none of them (items
                    * without a category are never drawn) */
            size_t total = data->category_start[data->n_categories];
            int32_t i = 0;
            size_t b = 0, e = 0, entry = 0;
            for (int tries = 0; tries < 64; tries++) { /* an anchor with a partner */
                /* a (category, item) membership, uniform: an item with
                 * several categories is drawn once for each */
                entry = fr_rng_below(&rng, (uint32_t)total);
                size_t c = category_of_entry(data, entry);
                i = data->category_items[entry];
                b = data->category_start[c];
                e = data->category_start[c + 1];
                if (e - b > 1)
                    break;
            }
            size_t at = entry; /* i's place in that category's list: the membership drawn */
            int32_t j = i;
            if (e - b > 1) {
                size_t r = fr_rng_below(&rng, (uint32_t)(e - b - 1));
                j = data->category_items[b + r + (b + r >= at)];
            }
            int32_t o = i; /* a membership outside [b, e), exact; drawn again
                            * while its item shares a category with i, at
                            * most 64 times: where nearly every item shares
                            * one (a few huge categories) the last draw
                            * stands (doc/MTREC.md) */
            for (int tries = 0; total > e - b && tries < 64; tries++) {
                size_t r = fr_rng_below(&rng, (uint32_t)(total - (e - b)));
                o = data->category_items[r < b ? r : r + (e - b)];
                if (!share_category(data, i, o))
                    break;
            }
            a[s] = i + item_base;
            p[s] = j + item_base;
            q[s] = o + item_base;
            break;
        }
        }
    }
}

fr_status fr_mtr_task_grad(fr_mtr *m, fr_mtr_step *st, size_t k, unsigned epoch, uint64_t step,
                           double *loss)
{
    float *grad = m->task_grad[k];
    /* every slot's row starts at zero: cleared here, on the task's own
     * thread in one pass, rather than row by row as slots are made */
    memset(grad, 0, st->n_slots * m->dim * sizeof *grad);
    switch (m->o.tasks[k]) {
    case FR_MTR_BPR:
        *loss = bpr_triples(m, st, grad, st->user, st->item, st->negative, st->n);
        break;
    case FR_MTR_DIRECTAU:
        *loss = directau(m, st, grad);
        break;
    case FR_MTR_RATING:
        *loss = rating_task(m, st, grad);
        break;
    default:
        *loss = bpr_triples(m, st, grad, m->aux[k][0], m->aux[k][1], m->aux[k][2], st->n);
        break;
    }
    if (!isfinite(*loss))
        return fr_fail(FR_ERR_NUMERIC, "task %s: the loss is not finite (epoch %u, step %llu)",
                       fr_mtr_task_name(m->o.tasks[k]), epoch, (unsigned long long)step);
    return FR_OK;
}
