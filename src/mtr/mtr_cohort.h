/* mtr_cohort.h — the federated multi-task cohorts' insides, shared by
 * their files (internal): mtr_cohort.c (the state, a step's ops and the
 * host's part between them, a cohort's round), mtr_cohort_layout.c (the
 * draws and index lists of every step), mtr_cohort_directau.c (DirectAU's
 * lists and ops). See mtr_cohort.c for the design. */
#ifndef FR_MTR_COHORT_H
#define FR_MTR_COHORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error_internal.h"
#include "fedrec/backend.h"
#include "mtr/mtr_internal.h"

#define T_MAX FR_COMBINE_MAX_TASKS

/* A growable host vector of int32. */
typedef struct ivec {
    int32_t *v;
    size_t n, cap;
} ivec;

static inline fr_status grow(void **v, size_t *cap, size_t need, size_t size, const char *what)
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

static inline fr_status host_grow(float **v, size_t *cap, size_t n, const char *what)
{
    return grow((void **)v, cap, n ? n : 1, sizeof **v, what);
}

/* A growable host vector of float. */
typedef struct fvec {
    float *v;
    size_t n, cap;
} fvec;

static inline fr_status ipush(ivec *a, int32_t x)
{
    if (a->n == a->cap)
        FR_TRY(grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, "cohort index lists"));
    a->v[a->n++] = x;
    return FR_OK;
}

static inline fr_status fpush(fvec *a, float x)
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

/* Device buffer i holds at least `bytes` (contents not kept). */
static inline fr_status dev(fr_mtr_cohort *c, int i, size_t bytes)
{
    return fr_buffer_reserve(c->be, &c->buf[i], bytes);
}

static inline fr_view at(fr_mtr_cohort *c, int i, size_t off)
{
    return fr_view_of(c->buf[i], off);
}

/* No buffer: an op's absent argument. */
#define NO_VIEW ((fr_view){NULL, 0})

/* The lists of `steps` local steps emptied; client i's steps laid out
 * (N: a step's samples); every step's lists gathered into c->all
 * (mtr_cohort_layout.c). */
fr_status fr_mtr_cohort_steps_ready(fr_mtr_cohort *c, size_t steps);
fr_status fr_mtr_cohort_lay_out_client(fr_mtr *m, fr_mtr_cohort *c, size_t i, unsigned round, size_t N);
fr_status fr_mtr_cohort_gather_lists(fr_mtr *m, fr_mtr_cohort *c);
/* DirectAU (mtr_cohort_directau.c): its lists for client i's step (st
 * drawn, slots made, cs its slots), and its ops of a step (task t). */
fr_status fr_mtr_cohort_lay_out_directau(fr_mtr_cohort *c, size_t i, const fr_mtr_step *st, step_lists *sl,
                                         client_slots *cs);
fr_status fr_mtr_cohort_directau_ops(fr_mtr *m, fr_mtr_cohort *c, size_t step, size_t n_cl, size_t t);

#endif
