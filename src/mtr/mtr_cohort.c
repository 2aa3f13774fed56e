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
 * in another float order: results agree within rounding, not bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "fedrec/backend.h"
#include "mtr/mtr_internal.h"

#define T_MAX FR_COMBINE_MAX_TASKS

/* A growable host vector of int32. */
typedef struct ivec {
    int32_t *v;
    size_t n, cap;
} ivec;

static fr_status grow(void **v, size_t *cap, size_t need, size_t size, const char *what)
{
    if (need <= *cap)
        return FR_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * size);
    if (!nv)
        return fr_fail_nomem(what, c * size);
    *v = nv;
    *cap = c;
    return FR_OK;
}

static fr_status host_grow(float **v, size_t *cap, size_t n, const char *what)
{
    return grow((void **)v, cap, n ? n : 1, sizeof **v, what);
}

/* A growable host vector of float. */
typedef struct fvec {
    float *v;
    size_t n, cap;
} fvec;

static fr_status ipush(ivec *a, int32_t x)
{
    if (a->n == a->cap)
        FR_TRY(grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, "cohort index lists"));
    a->v[a->n++] = x;
    return FR_OK;
}

static fr_status fpush(fvec *a, float x)
{
    if (a->n == a->cap)
        FR_TRY(grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, "cohort coefficient lists"));
    a->v[a->n++] = x;
    return FR_OK;
}

/* A task's lists in one local step, over the cohort's clients in order:
 * its samples' rows (overlay rows: a, p, q for triples, user and item for
 * the rating task), and its gradient as segments: each slot row it
 * touches, its contributions (coefficient index, source row) in the
 * order the one-by-one path adds them. */
typedef struct task_lists {
    ivec rows[3];
    ivec start, seg, ci, xi;
    size_t at_rows[3], at_start, at_seg, at_ci, at_xi; /* offsets in the uploaded list */
} task_lists;

/* One local step of the cohort. */
typedef struct step_lists {
    ivec slot_rows;           /* slot -> overlay row, clients in order */
    task_lists task[T_MAX];
    /* DirectAU: each sample's user and item slots (diff_xi, two a
     * sample: the rows of its difference); the distinct item slots of
     * each client (distinct, host only, with their counts) and their pairs
     * a <= b (pair_a, pair_b); the alignment's gradient as segments over
     * the samples' differences (al_*: the user's slot, then each distinct
     * item's; coefficients +-2 / n in al_coef) and the uniformity's over
     * the normalised rows (un_*: each distinct item's slot, its own row
     * then the others'; coefficients computed each step, n_un of them) */
    ivec diff_xi, distinct, pair_a, pair_b, al_start, al_seg, al_xi, un_start, un_seg, un_xi;
    fvec count, al_coef;
    size_t at_diff_xi, at_pair_a, at_pair_b, at_al_start, at_al_seg, at_al_xi, at_un_start, at_un_seg, at_un_xi;
    size_t at_al_coef;
    /* The combination on the backend: the inner products' row pairs
     * (qa, qb) and each slot's T contributions (comb_start, comb_seg,
     * comb_idx): built from the slot count alone */
    ivec qa, qb, comb_start, comb_seg, comb_idx;
    size_t at_slot_rows, at_qa, at_qb, at_comb_start, at_comb_seg, at_comb_idx;
} step_lists;

/* One client of a cohort. */
typedef struct cohort_client {
    size_t user, n;          /* its interactions: the samples of each step */
    size_t sample_at;        /* its samples' place in each step's lists */
    size_t row_at, n_rows;   /* its overlay: its user row, then its items' */
} cohort_client;

/* A client's slots in a step, and its DirectAU lists there: its distinct
 * items (in distinct), their pairs, its uniformity coefficients. */
typedef struct client_slots {
    size_t at, n;
    size_t distinct_at, n_distinct, pair_at, un_at;
} client_slots;

enum { BUF_R, BUF_I, BUF_F, BUF_Z, BUF_DZ, BUF_C, BUF_L, BUF_G, BUF_CB, BUF_Q, BUF_W,
       /* DirectAU's */
       BUF_X, BUF_DIFF, BUF_DX, BUF_SQ, BUF_INV, BUF_AL, BUF_K, BUF_UN, BUF_PROJ, BUF_F2, N_BUFS };

struct fr_mtr_cohort {
    fr_backend *be;
    fr_buffer *buf[N_BUFS];
    size_t have[N_BUFS];
    cohort_client *cl;
    size_t cap_cl;
    client_slots *cs;        /* [step x clients + client] */
    size_t cap_cs;
    step_lists *steps;
    size_t n_step_lists;
    ivec row_item;           /* overlay row -> item (-1: a user row) */
    ivec all;                /* the index lists, as uploaded */
    float *f;                /* the float lists: ones, 1/n, -1/n, 2/n, ratings */
    size_t cap_f;
    int32_t *item_local;     /* item -> its overlay row within the client being laid out, or -1 */
    int32_t *count;          /* contributions per slot (counting sort) */
    int32_t *tmp_slot, *tmp_ci, *tmp_xi;
    size_t cap_tmp;
    float *rows, *grads, *losses, *combined, *q, *w; /* host copies */
    size_t cap_rows, cap_grads, cap_losses, cap_combined, cap_q, cap_w;
    /* DirectAU: each client's loss of the step; the rows' squared norms,
     * their inverses (and negated), the samples' squared differences, the
     * pairs' products, the uniformity's coefficients (host copies); its
     * scratch: a slot's distinct index, a client's pair weights and row
     * sums; the global lists 0, 1, 2, ... and 0, 2, 4, ... (at_iota,
     * at_even in the uploaded lists) and the alignment's coefficients */
    double *dau_loss;
    size_t cap_dau_loss;
    float *sq, *inv, *al, *kk, *un, *e, *r;
    size_t cap_sq, cap_inv, cap_al, cap_kk, cap_un, cap_e, cap_r;
    int32_t *distinct_of;
    size_t at_iota, at_even;
    fvec fl;
    int on_backend;          /* the combination on the backend (not GradDrop) */
    int has_directau;        /* a task is DirectAU */
    size_t n_samples;        /* a step's samples (the cohort's clients' interactions) */
    size_t n_pairs;          /* inner products per slot: T (PMTRec) or T (T + 1) / 2 */
};

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

/* Device buffer i holds at least `bytes` (contents not kept). */
static fr_status dev(fr_mtr_cohort *c, int i, size_t bytes)
{
    if (bytes == 0)
        bytes = 4;
    if (c->buf[i] && c->have[i] >= bytes)
        return FR_OK;
    fr_buffer_free(c->buf[i]);
    c->buf[i] = NULL;
    c->have[i] = 0;
    size_t b = bytes + bytes / 4; /* room to grow before the next reallocation */
    FR_TRY(fr_buffer_alloc(c->be, b, &c->buf[i]));
    c->have[i] = b;
    return FR_OK;
}

static fr_view at(fr_mtr_cohort *c, int i, size_t off)
{
    return fr_view_of(c->buf[i], off);
}

static const fr_view none = {NULL, 0};

/* The lists of `steps` local steps, emptied (their room kept). */
static fr_status steps_ready(fr_mtr_cohort *c, size_t steps)
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

/* DirectAU's lists for client i's step (st drawn, slots made, cs its
 * slots): the one-by-one path's batch of the user's row (one distinct
 * row: its uniformity is constant, no gradient) and the items' rows with
 * their multiplicities, distinct items in first-seen order. */
static fr_status lay_out_directau(fr_mtr_cohort *c, size_t i, const fr_mtr_step *st, step_lists *sl,
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
    for (size_t a = 0; a < nd; a++) {
        FR_TRY(ipush(&sl->al_start, (int32_t)sl->al_xi.n));
        FR_TRY(ipush(&sl->al_seg, dist[a]));
        for (size_t k = 0; k < n; k++)
            if (c->distinct_of[st->slot_of[st->item[k]]] == (int32_t)a) {
                FR_TRY(ipush(&sl->al_xi, (int32_t)(cc->sample_at + k)));
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

/* Client i's local steps: each drawn as the one-by-one path draws it
 * (stream (seed, round, user + step x users, ...)), its slots in the same
 * order, and every task's lists appended to the step's. */
static fr_status lay_out_client(fr_mtr *m, fr_mtr_cohort *c, size_t i, unsigned round, size_t N)
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
            s = m->o.tasks[t] == FR_MTR_DIRECTAU ? lay_out_directau(c, i, &st, sl, cs)
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
static fr_status gather_lists(fr_mtr *m, fr_mtr_cohort *c)
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
        FR_TRY(fr_rows_dot(be, N, d, R, d, ra, R, d, rp, none, z));
        FR_TRY(fr_axpy(be, N, -1.0f, rating, z));
        FR_TRY(fr_mul(be, N, z, z, loss));
        FR_TRY(fr_mul(be, N, z, scale2, coef));
    } else {
        /* x = a.p - a.q; loss softplus(-x) (BCE with label 1), its
         * derivative sigmoid(x) - 1 over n, and its negation */
        fr_view rq = at(c, BUF_I, tl->at_rows[2]);
        FR_TRY(fr_rows_dot(be, N, d, R, d, ra, R, d, rp, none, z));
        FR_TRY(fr_rows_dot(be, N, d, R, d, ra, R, d, rq, none, z2));
        FR_TRY(fr_axpy(be, N, -1.0f, z2, z));
        FR_TRY(fr_bce_with_logits(be, N, z, ones, loss, dz));
        FR_TRY(fr_mul(be, N, dz, scale, coef));
        FR_TRY(fr_mul(be, N, dz, neg_scale, at(c, BUF_C, c_at + N)));
    }
    return fr_segment_rows_axpy(be, tl->seg.n, tl->ci.n, d, at(c, BUF_I, tl->at_start), at(c, BUF_I, tl->at_seg),
                                1.0f, coef, at(c, BUF_I, tl->at_ci), R, d, at(c, BUF_I, tl->at_xi),
                                at(c, BUF_G, g_at), d);
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
static fr_status directau_ops(fr_mtr *m, fr_mtr_cohort *c, size_t step, size_t n_cl, size_t t)
{
    fr_backend *be = c->be;
    step_lists *sl = &c->steps[step];
    size_t d = m->dim, S = sl->slot_rows.n, N = c->n_samples, P = sl->pair_a.n, n_un = sl->un_xi.n;
    fr_view R = at(c, BUF_R, 0), X = at(c, BUF_X, 0), DIFF = at(c, BUF_DIFF, 0), DX = at(c, BUF_DX, 0);
    fr_view iota = at(c, BUF_I, c->at_iota), even = at(c, BUF_I, c->at_even);
    fr_view slot_rows = at(c, BUF_I, sl->at_slot_rows);
    FR_TRY(fr_rows_dot(be, S, d, R, d, slot_rows, R, d, slot_rows, none, at(c, BUF_SQ, 0)));
    FR_TRY(fr_buffer_download(c->buf[BUF_SQ], 0, c->sq, S * 4));
    for (size_t k = 0; k < S; k++) { /* as the host normalises: |v| at least 1e-12 */
        float len = sqrtf(c->sq[k]), norm = len > 1e-12f ? len : 1e-12f;
        c->inv[k] = 1.0f / norm;
        c->inv[2 * S + k] = -c->inv[k];
    }
    FR_TRY(fr_buffer_upload(c->buf[BUF_INV], 0, c->inv, S * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_INV], 2 * S * 4, c->inv + 2 * S, S * 4));
    FR_TRY(fr_fill(be, S * d, 0.0f, X));
    FR_TRY(fr_segment_rows_axpy(be, S, S, d, iota, iota, 1.0f, at(c, BUF_INV, 0), none, R, d, slot_rows, X, d));
    FR_TRY(fr_fill(be, N * d, 0.0f, DIFF));
    FR_TRY(fr_segment_rows_axpy(be, N, 2 * N, d, even, iota, 1.0f, at(c, BUF_F, 5 * N), none, X, d,
                                at(c, BUF_I, sl->at_diff_xi), DIFF, d));
    FR_TRY(fr_rows_dot(be, N, d, DIFF, d, iota, DIFF, d, iota, none, at(c, BUF_AL, 0)));
    if (P)
        FR_TRY(fr_rows_dot(be, P, d, X, d, at(c, BUF_I, sl->at_pair_a), X, d, at(c, BUF_I, sl->at_pair_b), none,
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
                                at(c, BUF_I, sl->at_al_seg), 1.0f, at(c, BUF_F2, sl->at_al_coef), none, DIFF, d,
                                at(c, BUF_I, sl->at_al_xi), DX, d));
    FR_TRY(fr_segment_rows_axpy(be, sl->un_seg.n, n_un, d, at(c, BUF_I, sl->at_un_start),
                                at(c, BUF_I, sl->at_un_seg), 1.0f, at(c, BUF_UN, 0), none, X, d,
                                at(c, BUF_I, sl->at_un_xi), DX, d));
    /* through the normalisation: inv dx - inv (x . dx) x */
    FR_TRY(fr_rows_dot(be, S, d, X, d, iota, DX, d, iota, none, at(c, BUF_PROJ, 0)));
    FR_TRY(fr_mul(be, S, at(c, BUF_PROJ, 0), at(c, BUF_INV, 2 * S), at(c, BUF_INV, S)));
    fr_view G = at(c, BUF_G, t * S * d);
    FR_TRY(fr_segment_rows_axpy(be, S, S, d, iota, iota, 1.0f, at(c, BUF_INV, 0), none, DX, d, none, G, d));
    return fr_segment_rows_axpy(be, S, S, d, iota, iota, 1.0f, at(c, BUF_INV, S), none, X, d, none, G, d);
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
 * (DirectAU's on the host, uploaded), the weights per client on the host
 * from the gradients' inner products, the combination and the SGD step
 * on the backend. GradDrop: the gradients downloaded and combined on the
 * host, the combined rows uploaded. */
static fr_status run_step(fr_mtr *m, fr_mtr_cohort *c, size_t step, size_t n_cl, unsigned round, size_t N)
{
    fr_backend *be = c->be;
    step_lists *sl = &c->steps[step];
    size_t d = m->dim, T = m->o.n_tasks, S = sl->slot_rows.n;
    FR_TRY(fr_fill(be, T * S * d, 0.0f, at(c, BUF_G, 0)));
    for (size_t t = 0; t < T; t++)
        FR_TRY(m->o.tasks[t] == FR_MTR_DIRECTAU
                   ? directau_ops(m, c, step, n_cl, t)
                   : task_ops(m, c, &sl->task[t], m->o.tasks[t], N, t * 2 * N, t * N, t * S * d));
    fr_view slot_rows = at(c, BUF_I, sl->at_slot_rows);
    if (c->on_backend) {
        size_t nq = c->n_pairs * S;
        FR_TRY(fr_rows_dot(be, nq, d, at(c, BUF_G, 0), d, at(c, BUF_I, sl->at_qa), at(c, BUF_G, 0), d,
                           at(c, BUF_I, sl->at_qb), none, at(c, BUF_Q, 0)));
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
    FR_TRY(steps_ready(c, steps));
    c->row_item.n = c->all.n = c->fl.n = 0;
    c->n_samples = N;
    for (size_t i = 0; i < n_cl; i++)
        FR_TRY(lay_out_client(m, c, i, round, N));
    FR_TRY(gather_lists(m, c));
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
    FR_TRY(host_grow(&c->grads, &c->cap_grads, T * S * d, "cohort gradients"));
    FR_TRY(host_grow(&c->losses, &c->cap_losses, T * N, "cohort losses"));
    FR_TRY(host_grow(&c->combined, &c->cap_combined, S * d, "cohort gradients"));
    FR_TRY(host_grow(&c->q, &c->cap_q, c->n_pairs * S, "cohort inner products"));
    FR_TRY(host_grow(&c->w, &c->cap_w, T * S, "cohort weights"));
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
    /* The losses of a task that has none (DirectAU's are the host's). */
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
