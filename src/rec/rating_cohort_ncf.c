/* rating_cohort_ncf.c — FedNCF's clients trained as cohorts on any backend
 * (the client interface's train_cohort; the model is rating_ncf.c's:
 * logit = v_g . (u_g * e_g) + v_m . MLP([u_m ; e_m]) + c).
 *
 * Every client trains its own copy of the shared layers, so a step of the
 * cohort runs each layer as one strided-batched GEMM over the clients'
 * copies (fr_gemm_strided_batched): client i's batch is rows
 * [i B, (i + 1) B) of the activations, its layers slot 1 + i of WS. A
 * batch shorter than B is padded with rows whose gradient scale is 0, so
 * they change nothing. The clients are ordered by sample count (largest
 * first): those that have a batch k are then the first ones, and step k
 * runs on that prefix.
 *
 * The first layer reads [u_m ; e_m]: it is split into its user and item
 * halves (two GEMMs on the gathered rows' MLP halves, no concatenation);
 * biases are rank-one GEMMs with a column of ones, so that each client
 * adds its own. A step, for L hidden layers: gathers and the GMF product
 * (3 ops), the layers forward (3 L + 1 + 3), BCE and the scale (2), the
 * gradients of the output layer and of the GMF rows (8), each layer back
 * (4 each, the first 6), and the updates: the users' rows and the item
 * rows as segmented sums (fr_segment_rows_axpy, in sample order), the
 * layers as one axpy (3).
 *
 * Evaluation runs the same forward with the server's layers (slot 0 of WS,
 * stride 0: one set of weights for every client) on the trained user rows
 * and the round's global item rows, like the one-by-one path. What the
 * host does is what rating_cohort.c's host does (samples, shuffles,
 * uploads); results agree with the one-by-one path within float rounding. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "fedrec/backend.h"
#include "fedrec/metrics.h"
#include "rec/rating.h"
#include "rec/rating_cohort_internal.h"

static const fr_view none = {NULL, 0};

/* The shapes of FedNCF's layers and where each lives in a shared vector. */
typedef struct ncf_shape {
    size_t e, d;                          /* embedding size, row width (2 e) */
    size_t L;                             /* hidden layers */
    size_t h[FR_NCF_MAX_LAYERS + 1];      /* h[0] = 2 e, h[l + 1]: layer l's width */
    size_t w_at[FR_NCF_MAX_LAYERS];       /* layer l's weight (h[l+1] x h[l]); its bias follows */
    size_t v_at;                          /* the output layer: v_g (e), v_m (h[L]), c */
    size_t ns;                            /* floats of a shared vector */
    size_t act_at[FR_NCF_MAX_LAYERS];     /* per row: layer l's pre-activation, then output */
    size_t act_width;                     /* floats per row of ACT */
    size_t widest;                        /* widest hidden layer or e */
} ncf_shape;

static void shape_of(const fr_rating *p, ncf_shape *sh)
{
    sh->e = p->o.dim;
    sh->d = 2 * sh->e;
    sh->L = p->o.n_ncf_layers;
    sh->h[0] = sh->d;
    size_t at = 0, act = 0;
    sh->widest = sh->e;
    for (size_t l = 0; l < sh->L; l++) {
        sh->h[l + 1] = p->o.ncf_layers[l];
        sh->w_at[l] = at;
        at += sh->h[l + 1] * sh->h[l] + sh->h[l + 1];
        sh->act_at[l] = act;
        act += 2 * sh->h[l + 1];
        if (sh->h[l + 1] > sh->widest)
            sh->widest = sh->h[l + 1];
    }
    sh->v_at = at;
    sh->ns = at + sh->e + sh->h[sh->L] + 1;
    sh->act_width = act;
}

/* Batched GEMM over nb blocks: C_i = alpha op(A_i) op(B_i) + beta C_i. */
static fr_status bgemm(fr_backend *be, fr_transpose ta, fr_transpose tb, size_t m, size_t n, size_t k,
                       fr_view a, size_t lda, size_t sa, fr_view b, size_t ldb, size_t sb, float beta,
                       fr_view c, size_t ldc, size_t sc, size_t nb)
{
    return fr_gemm_strided_batched(be, ta, tb, m, n, k, 1.0f, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, nb);
}

/* Forward of nb blocks of R rows: the user and item rows gathered in U and
 * E (R nb rows of d), layers from W (block i's at W + i ws), into ACT and
 * the logits z (R nb). */
static fr_status forward(fr_rating_cohort *c, const ncf_shape *sh, size_t nb, size_t R, fr_view W, size_t ws,
                         fr_view z)
{
    fr_backend *be = c->be;
    size_t e = sh->e, d = sh->d, n = nb * R;
    fr_view U = fr_rc_at(c, BUF_U, 0), E = fr_rc_at(c, BUF_E, 0), P = fr_rc_at(c, BUF_P, 0);
    fr_view ones = fr_rc_at(c, BUF_ONES, 0);
    FR_TRY(fr_mul(be, n * d, U, E, P));
    /* ACT holds, per layer, n rows of its pre-activation then n of its
     * output (so each is a plain R x h block per client). */
    size_t last = 0;
    fr_view x = none;
    for (size_t l = 0; l < sh->L; l++) {
        size_t out = sh->h[l + 1], in = sh->h[l];
        fr_view Z = fr_rc_at(c, BUF_ACT, sh->act_at[l] * n), H = fr_rc_at(c, BUF_ACT, (sh->act_at[l] + out) * n);
        fr_view w = fr_view_of(W.buf, W.off + sh->w_at[l]);
        fr_view bias = fr_view_of(W.buf, W.off + sh->w_at[l] + out * in);
        FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, R, out, 1, ones, 1, 0, bias, out, ws, 0.0f, Z, out, R * out, nb));
        if (l == 0) {
            /* [u_m ; e_m] W^T = u_m W_u^T + e_m W_e^T, W's halves by columns. */
            FR_TRY(bgemm(be, FR_NO_TRANS, FR_TRANS, R, out, e, fr_view_of(U.buf, U.off + e), d, R * d, w, in, ws,
                         1.0f, Z, out, R * out, nb));
            FR_TRY(bgemm(be, FR_NO_TRANS, FR_TRANS, R, out, e, fr_view_of(E.buf, E.off + e), d, R * d,
                         fr_view_of(w.buf, w.off + e), in, ws, 1.0f, Z, out, R * out, nb));
        } else {
            FR_TRY(bgemm(be, FR_NO_TRANS, FR_TRANS, R, out, in, x, in, R * in, w, in, ws, 1.0f, Z, out, R * out,
                         nb));
        }
        FR_TRY(fr_relu(be, n * out, Z, H));
        x = H;
        last = out;
    }
    fr_view v = fr_view_of(W.buf, W.off + sh->v_at);
    FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, R, 1, 1, ones, 1, 0, fr_view_of(v.buf, v.off + e + last), 1, ws,
                 0.0f, z, 1, R, nb));
    FR_TRY(bgemm(be, FR_NO_TRANS, FR_TRANS, R, 1, e, P, d, R * d, v, e, ws, 1.0f, z, 1, R, nb));
    return bgemm(be, FR_NO_TRANS, FR_TRANS, R, 1, last, x, last, R * last, fr_view_of(v.buf, v.off + e), last, ws,
                 1.0f, z, 1, R, nb);
}

/* Backward and the updates of one training step (after its forward). */
static fr_status backward(const fr_rating *p, fr_rating_cohort *c, const ncf_shape *sh, const ncf_step *st,
                          size_t B)
{
    fr_backend *be = c->be;
    size_t e = sh->e, d = sh->d, nb = st->n_active, n = nb * B, ns = sh->ns;
    float lr = p->o.lr, lr_item = p->o.lr * (float)p->n_items * p->o.lr_eta;
    fr_view W = fr_rc_at(c, BUF_WS, ns), G = fr_rc_at(c, BUF_GS, 0), ones = fr_rc_at(c, BUF_ONES, 0);
    fr_view U = fr_rc_at(c, BUF_U, 0), E = fr_rc_at(c, BUF_E, 0), P = fr_rc_at(c, BUF_P, 0);
    fr_view Q = fr_rc_at(c, BUF_Q, 0), dU = fr_rc_at(c, BUF_DU, 0), dE = fr_rc_at(c, BUF_DE, 0);
    fr_view z = fr_rc_at(c, BUF_Z, 0), dz = fr_rc_at(c, BUF_DZ, 0), g = fr_rc_at(c, BUF_GRAD, 0);
    fr_view dh = fr_rc_at(c, BUF_DH, 0), dzl = fr_rc_at(c, BUF_DZ2, 0);
    size_t L = sh->L, last = sh->h[L];
    fr_view h_last = fr_rc_at(c, BUF_ACT, (sh->act_at[L - 1] + last) * n);
    /* dlogit / batch: BCE's gradient times each row's scale (0 on padding). */
    FR_TRY(fr_bce_with_logits(be, n, z, fr_rc_at(c, BUF_F, st->label), fr_rc_at(c, BUF_LOSS, st->loss_at), dz));
    FR_TRY(fr_mul(be, n, dz, fr_rc_at(c, BUF_F, st->scale), g));
    /* The layers' gradients accumulate from zero. */
    FR_TRY(fr_fill(be, nb * ns, 0.0f, G));
    size_t v_at = sh->v_at;
    FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, 1, e, B, g, 1, B, P, d, B * d, 1.0f,
                 fr_view_of(G.buf, G.off + v_at), e, ns, nb));
    FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, 1, last, B, g, 1, B, h_last, last, B * last, 1.0f,
                 fr_view_of(G.buf, G.off + v_at + e), last, ns, nb));
    FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, 1, 1, B, g, 1, B, ones, 1, 0, 1.0f,
                 fr_view_of(G.buf, G.off + v_at + e + last), 1, ns, nb));
    /* Into the last hidden layer: g v_m; into the GMF rows: (g v_g) .* the
     * other side (Q's second half stays 0; DU's and DE's are written by the
     * first layer's backward below). */
    FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, B, last, 1, g, 1, B, fr_view_of(W.buf, W.off + v_at + e), last, ns,
                 0.0f, dh, last, B * last, nb));
    FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, B, e, 1, g, 1, B, fr_view_of(W.buf, W.off + v_at), e, ns, 0.0f, Q,
                 d, B * d, nb));
    FR_TRY(fr_mul(be, n * d, Q, E, dU));
    FR_TRY(fr_mul(be, n * d, Q, U, dE));
    for (size_t l = L; l-- > 0;) {
        size_t out = sh->h[l + 1], in = sh->h[l];
        fr_view Z = fr_rc_at(c, BUF_ACT, sh->act_at[l] * n);
        fr_view w = fr_view_of(W.buf, W.off + sh->w_at[l]);
        fr_view gw = fr_view_of(G.buf, G.off + sh->w_at[l]), gb = fr_view_of(G.buf, G.off + sh->w_at[l] + out * in);
        FR_TRY(fr_relu_backward(be, n * out, Z, dh, dzl));
        FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, 1, out, B, ones, 1, 0, dzl, out, B * out, 1.0f, gb, out, ns, nb));
        if (l > 0) {
            fr_view x = fr_rc_at(c, BUF_ACT, (sh->act_at[l - 1] + in) * n);
            FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, out, in, B, dzl, out, B * out, x, in, B * in, 1.0f, gw, in, ns,
                         nb));
            FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, B, in, out, dzl, out, B * out, w, in, ns, 0.0f, dh, in, B * in,
                         nb));
            continue;
        }
        /* The first layer: its user and item halves. */
        fr_view um = fr_view_of(U.buf, U.off + e), em = fr_view_of(E.buf, E.off + e);
        FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, out, e, B, dzl, out, B * out, um, d, B * d, 1.0f, gw, in, ns, nb));
        FR_TRY(bgemm(be, FR_TRANS, FR_NO_TRANS, out, e, B, dzl, out, B * out, em, d, B * d, 1.0f,
                     fr_view_of(gw.buf, gw.off + e), in, ns, nb));
        FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, B, e, out, dzl, out, B * out, w, in, ns, 0.0f,
                     fr_view_of(dU.buf, dU.off + e), d, B * d, nb));
        FR_TRY(bgemm(be, FR_NO_TRANS, FR_NO_TRANS, B, e, out, dzl, out, B * out, fr_view_of(w.buf, w.off + e), in, ns,
                     0.0f, fr_view_of(dE.buf, dE.off + e), d, B * d, nb));
    }
    /* The joint step: user rows, item rows, layers. */
    FR_TRY(fr_segment_rows_axpy(be, nb, st->n_real, d, fr_rc_at(c, BUF_I, st->start1), fr_rc_at(c, BUF_I, st->seg1),
                                -lr, none, none, dU, d, fr_rc_at(c, BUF_I, st->cu), fr_rc_at(c, BUF_W, 0), d));
    FR_TRY(fr_segment_rows_axpy(be, st->n_rows, st->n_real, d, fr_rc_at(c, BUF_I, st->start2),
                                fr_rc_at(c, BUF_I, st->seg2), -lr_item, none, none, dE, d,
                                fr_rc_at(c, BUF_I, st->xr), fr_rc_at(c, BUF_D, 0), d));
    return fr_axpy(be, nb * ns, -lr, G, W);
}

/* Samples in batch k of a client (0: it has no batch k). */
static size_t batch_of(const cohort_client *cc, size_t k, size_t B)
{
    if (cc->n_samples <= k * B)
        return 0;
    return cc->n_samples - k * B < B ? cc->n_samples - k * B : B;
}

/* The steps of one epoch (the clients already shuffled for it). */
static fr_status lay_out_epoch(const fr_rating *p, fr_rating_cohort *c, size_t n_cl, size_t *loss_at)
{
    size_t B = p->o.batch;
    size_t max_batches = n_cl ? (c->cl[0].n_samples + B - 1) / B : 0; /* the first has the most */
    ivec *I = &c->I;
    fvec *F = &c->F;
    for (size_t k = 0; k < max_batches; k++) {
        FR_TRY(fr_rc_grow((void **)&c->nsteps, &c->cap_nsteps, c->n_nsteps + 1, sizeof *c->nsteps));
        ncf_step *st = &c->nsteps[c->n_nsteps++];
        memset(st, 0, sizeof *st);
        while (st->n_active < n_cl && batch_of(&c->cl[st->n_active], k, B))
            st->n_active++;
        size_t na = st->n_active;
        st->loss_at = *loss_at;
        st->xu = I->n;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < B; j++)
                FR_TRY(fr_rc_ipush(I, (int32_t)i));
        st->ye = I->n;
        st->label = F->n;
        for (size_t i = 0; i < na; i++) {
            const cohort_client *cc = &c->cl[i];
            size_t m = batch_of(cc, k, B);
            for (size_t j = 0; j < B; j++) {
                FR_TRY(fr_rc_ipush(I, j < m ? c->row[cc->sample_at + k * B + j] : 0));
                FR_TRY(fr_rc_fpush(F, j < m ? c->label[cc->sample_at + k * B + j] : 0.0f));
            }
        }
        st->scale = F->n;
        for (size_t i = 0; i < na; i++) {
            size_t m = batch_of(&c->cl[i], k, B);
            for (size_t j = 0; j < B; j++)
                FR_TRY(fr_rc_fpush(F, j < m ? 1.0f / (float)m : 0.0f));
        }
        /* The users' step: each client's real rows in order. */
        st->cu = I->n;
        for (size_t i = 0; i < na; i++) {
            size_t m = batch_of(&c->cl[i], k, B);
            for (size_t j = 0; j < m; j++)
                FR_TRY(fr_rc_ipush(I, (int32_t)(i * B + j)));
            st->n_real += m;
        }
        st->start1 = I->n;
        size_t pos = 0;
        for (size_t i = 0; i <= na; i++) {
            FR_TRY(fr_rc_ipush(I, (int32_t)pos));
            if (i < na)
                pos += batch_of(&c->cl[i], k, B);
        }
        st->seg1 = I->n;
        for (size_t i = 0; i < na; i++)
            FR_TRY(fr_rc_ipush(I, (int32_t)i));
        /* The items' step: each client's batch sorted by row (stable);
         * rows of different clients are distinct. */
        st->xr = I->n;
        for (size_t i = 0; i < na; i++) {
            const cohort_client *cc = &c->cl[i];
            FR_TRY(fr_rc_push_by_row(c, c->row + cc->sample_at + k * B, batch_of(cc, k, B), i * B));
        }
        FR_TRY(fr_rc_row_segments(I, st->ye, st->xr, st->n_real, &st->start2, &st->seg2, &st->n_rows));
        *loss_at += na * B;
    }
    return FR_OK;
}

/* The core's clients ordered by sample count, largest first, ties in the
 * core's order, into c->rank. */
static fr_status order_clients(const fr_rating *p, fr_rating_cohort *c, const size_t *clients, size_t n)
{
    FR_TRY(fr_rc_host_grow((void **)&c->rank, &c->cap_rank, n, sizeof *c->rank, "cohort order"));
    uint64_t *key = malloc((n ? n : 1) * sizeof *key);
    if (!key)
        return fr_fail_nomem("cohort order", n * sizeof *key);
    for (size_t i = 0; i < n; i++) {
        size_t samples = fr_pf_samples_of(p, clients[i]);
        uint64_t fewer = samples < UINT32_MAX ? UINT32_MAX - samples : 0;
        key[i] = fewer << 32 | i;
    }
    qsort(key, n, sizeof *key, fr_rc_compare_key);
    for (size_t i = 0; i < n; i++)
        c->rank[i] = (size_t)(key[i] & 0xFFFFFFFFu);
    free(key);
    return FR_OK;
}

fr_status fr_rating_cohort_train_ncf(fr_rating *p, fr_rating_cohort *c, const size_t *clients, size_t n_cl,
                                     fr_fed_upload *const *ups)
{
    fr_backend *be = c->be;
    ncf_shape sh;
    shape_of(p, &sh);
    size_t d = sh.d, ns = sh.ns, B = p->o.batch;
    double t0 = fr_clock_seconds();
    FR_TRY(fr_rc_host_grow((void **)&c->cl, &c->cap_cl, n_cl, sizeof *c->cl, "cohort clients"));
    FR_TRY(order_clients(p, c, clients, n_cl));
    c->n_rows = c->n_samples = c->n_nsteps = 0;
    c->I.n = c->F.n = c->eval_rows.n = c->eval_xi.n = 0;
    double t_neg = 0;
    for (size_t i = 0; i < n_cl; i++) {
        memset(&c->cl[i], 0, sizeof c->cl[i]);
        c->cl[i].orig = c->rank[i];
        c->cl[i].user = clients[c->rank[i]];
        FR_TRY(fr_rc_lay_out_client(p, c, i));
        t_neg += c->cl[i].t_negatives;
        if (i > 0 && c->cl[i].n_samples > c->cl[i - 1].n_samples)
            return fr_fail(FR_ERR_INVALID, "FedNCF cohort: user %zu drew %zu samples, more than its count says",
                           c->cl[i].user, c->cl[i].n_samples);
    }
    /* Lists: the overlay's rows, a zero per client (each client's copy of
     * the layers from slot 0), then every epoch's steps. */
    size_t gather_at = c->I.n;
    for (size_t r = 0; r < c->n_rows; r++)
        FR_TRY(fr_rc_ipush(&c->I, c->row_item[r]));
    size_t zeros_at = c->I.n;
    for (size_t i = 0; i < n_cl; i++)
        FR_TRY(fr_rc_ipush(&c->I, 0));
    size_t loss_n = 0;
    for (size_t e = 0; e < p->o.local_epochs; e++) {
        for (size_t i = 0; i < n_cl; i++)
            fr_rc_shuffle_client(p, c, i, e);
        FR_TRY(lay_out_epoch(p, c, n_cl, &loss_n));
    }
    size_t K = p->split->negatives_per_eval, R_eval = 2 * (K + 1);
    size_t n_eval = c->eval_rows.n / R_eval;
    size_t rows = n_cl * B > c->eval_rows.n ? n_cl * B : c->eval_rows.n;
    size_t ones = B > R_eval ? B : R_eval;
    FR_TRY(fr_rc_dev(c, BUF_D, (p->n_items + c->n_rows) * d * 4));
    FR_TRY(fr_rc_dev(c, BUF_W, n_cl * d * 4));
    FR_TRY(fr_rc_dev(c, BUF_WS, (n_cl + 1) * ns * 4));
    FR_TRY(fr_rc_dev(c, BUF_GS, n_cl * ns * 4));
    FR_TRY(fr_rc_dev(c, BUF_ONES, ones * 4));
    int per_row[] = {BUF_U, BUF_E, BUF_P, BUF_Q, BUF_DU, BUF_DE};
    for (size_t k = 0; k < sizeof per_row / sizeof *per_row; k++)
        FR_TRY(fr_rc_dev(c, per_row[k], rows * d * 4));
    FR_TRY(fr_rc_dev(c, BUF_ACT, rows * sh.act_width * 4));
    FR_TRY(fr_rc_dev(c, BUF_DH, rows * sh.widest * 4));
    FR_TRY(fr_rc_dev(c, BUF_DZ2, rows * sh.widest * 4));
    FR_TRY(fr_rc_dev(c, BUF_Z, rows * 4));
    FR_TRY(fr_rc_dev(c, BUF_DZ, rows * 4));
    FR_TRY(fr_rc_dev(c, BUF_GRAD, rows * 4));
    FR_TRY(fr_rc_dev(c, BUF_LOSS, loss_n * 4));
    FR_TRY(fr_rc_dev(c, BUF_I, c->I.n * 4));
    FR_TRY(fr_rc_dev(c, BUF_F, c->F.n * 4));
    /* Uploads: the table, the users' rows, the server's layers, the lists. */
    FR_TRY(fr_rc_host_grow((void **)&c->w, &c->cap_w, n_cl * d, sizeof *c->w, "cohort user rows"));
    for (size_t i = 0; i < n_cl; i++)
        memcpy(c->w + i * d, p->w + c->cl[i].user * d, d * sizeof *c->w);
    FR_TRY(fr_buffer_upload(c->buf[BUF_D], 0, p->items, p->n_items * d * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_W], 0, c->w, n_cl * d * 4));
    FR_TRY(fr_buffer_upload(c->buf[BUF_WS], 0, p->shared, ns * 4));
    if (c->I.n)
        FR_TRY(fr_buffer_upload(c->buf[BUF_I], 0, c->I.v, c->I.n * 4));
    if (c->F.n)
        FR_TRY(fr_buffer_upload(c->buf[BUF_F], 0, c->F.v, c->F.n * 4));
    FR_TRY(fr_fill(be, ones, 1.0f, fr_rc_at(c, BUF_ONES, 0)));
    FR_TRY(fr_fill(be, rows * d, 0.0f, fr_rc_at(c, BUF_Q, 0)));
    /* Each client's overlay rows and its copy of the layers. */
    if (c->n_rows)
        FR_TRY(fr_embedding_gather(be, c->n_rows, d, fr_rc_at(c, BUF_D, 0), fr_rc_at(c, BUF_I, gather_at),
                                   fr_rc_at(c, BUF_D, p->n_items * d)));
    if (n_cl)
        FR_TRY(fr_embedding_gather(be, n_cl, ns, fr_rc_at(c, BUF_WS, 0), fr_rc_at(c, BUF_I, zeros_at),
                                   fr_rc_at(c, BUF_WS, ns)));
    for (size_t t = 0; t < c->n_nsteps; t++) {
        const ncf_step *st = &c->nsteps[t];
        size_t n = st->n_active * B;
        FR_TRY(fr_embedding_gather(be, n, d, fr_rc_at(c, BUF_W, 0), fr_rc_at(c, BUF_I, st->xu), fr_rc_at(c, BUF_U, 0)));
        FR_TRY(fr_embedding_gather(be, n, d, fr_rc_at(c, BUF_D, 0), fr_rc_at(c, BUF_I, st->ye), fr_rc_at(c, BUF_E, 0)));
        FR_TRY(forward(c, &sh, st->n_active, B, fr_rc_at(c, BUF_WS, ns), ns, fr_rc_at(c, BUF_Z, 0)));
        FR_TRY(backward(p, c, &sh, st, B));
    }
    FR_TRY(fr_backend_finish(be)); /* the training's time is the device's too */
    double t1 = fr_clock_seconds();
    /* Evaluation: the server's layers (stride 0), trained user rows,
     * global item rows. */
    if (n_eval) {
        size_t ne = c->eval_rows.n;
        FR_TRY(fr_rc_dev(c, BUF_EVAL_ROWS, ne * 4));
        FR_TRY(fr_rc_dev(c, BUF_EVAL_XI, ne * 4));
        FR_TRY(fr_buffer_upload(c->buf[BUF_EVAL_ROWS], 0, c->eval_rows.v, ne * 4));
        FR_TRY(fr_buffer_upload(c->buf[BUF_EVAL_XI], 0, c->eval_xi.v, ne * 4));
        FR_TRY(fr_embedding_gather(be, ne, d, fr_rc_at(c, BUF_W, 0), fr_rc_at(c, BUF_EVAL_XI, 0),
                                   fr_rc_at(c, BUF_U, 0)));
        FR_TRY(fr_embedding_gather(be, ne, d, fr_rc_at(c, BUF_D, 0), fr_rc_at(c, BUF_EVAL_ROWS, 0),
                                   fr_rc_at(c, BUF_E, 0)));
        FR_TRY(forward(c, &sh, n_eval, R_eval, fr_rc_at(c, BUF_WS, 0), 0, fr_rc_at(c, BUF_Z, 0)));
        FR_TRY(fr_rc_host_grow((void **)&c->scores, &c->cap_scores, ne, sizeof *c->scores, "cohort scores"));
        FR_TRY(fr_buffer_download(c->buf[BUF_Z], 0, c->scores, ne * 4));
    }
    /* Downloads: the trained rows, user rows, layers and losses. */
    FR_TRY(fr_rc_host_grow((void **)&c->overlay, &c->cap_overlay, c->n_rows * d + 1, sizeof *c->overlay,
                           "cohort rows"));
    FR_TRY(fr_rc_host_grow((void **)&c->losses, &c->cap_losses, loss_n + 1, sizeof *c->losses, "cohort losses"));
    FR_TRY(fr_rc_host_grow((void **)&c->shared, &c->cap_shared, n_cl * ns + 1, sizeof *c->shared,
                           "cohort layers"));
    if (c->n_rows)
        FR_TRY(fr_buffer_download(c->buf[BUF_D], p->n_items * d * 4, c->overlay, c->n_rows * d * 4));
    FR_TRY(fr_buffer_download(c->buf[BUF_W], 0, c->w, n_cl * d * 4));
    if (n_cl)
        FR_TRY(fr_buffer_download(c->buf[BUF_WS], ns * 4, c->shared, n_cl * ns * 4));
    if (loss_n)
        FR_TRY(fr_buffer_download(c->buf[BUF_LOSS], 0, c->losses, loss_n * 4));
    double t2 = fr_clock_seconds();
    /* Each client's loss: its real rows' losses, in step order. */
    for (size_t t = 0; t < c->n_nsteps; t++) {
        const ncf_step *st = &c->nsteps[t];
        const int32_t *start = c->I.v + st->start1, *cu = c->I.v + st->cu;
        for (size_t i = 0; i < st->n_active; i++)
            for (int32_t j = start[i]; j < start[i + 1]; j++)
                c->cl[i].loss += (double)c->losses[st->loss_at + (size_t)cu[j]];
    }
    for (size_t i = 0; i < n_cl; i++) {
        fr_fed_upload *up = ups[c->cl[i].orig];
        if (!up->dense_delta && !(up->dense_delta = malloc(ns * sizeof(float))))
            return fr_fail_nomem("FedNCF update", ns * 4);
        const float *mine = c->shared + i * ns;
        for (size_t k = 0; k < ns; k++)
            up->dense_delta[k] = mine[k] - p->shared[k];
        FR_TRY(fr_rc_finish_client(p, c, i, up, (t1 - t0 - t_neg) / (double)n_cl, (t2 - t1) / (double)n_cl));
    }
    return FR_OK;
}
