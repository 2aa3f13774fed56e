/* test_arithmetic.c — the arithmetic of three methods recomputed here,
 * independently, in double, from their specs, on toys small enough to
 * follow by hand, and compared with the engines to float rounding:
 *
 * - PFedRec (../shared/specs/pfedrec.md): 3 clients, 7 items, dim 3, fixed
 *   initial tables, two rounds. Per client: its positives and negatives
 *   (drawn from the documented streams), shuffled, in batches; per batch
 *   the score function's SGD step, then the item rows' step with the
 *   updated w and lr_item = lr n_items lr_eta; its upload (the changed
 *   rows' change); its evaluation with its fine-tuned rows. Then the
 *   server's plain mean of the changes. Compared: every upload, every w
 *   and b, the item table after aggregation, the round's loss and every
 *   client's HR / NDCG (whose ranks the toy makes depend on the
 *   fine-tuned rows).
 * - PF-MSMTrec (../shared/specs/pf-msmtrec.md, fedrec/fedmsmt.h): one
 *   aggregation step of a shared expert over 3 clients, each pair in
 *   conflict: PCGrad across the clients in given orders (two sets of
 *   orders, which give different results), then
 *   theta_i <- theta_i + sum_j a_ij d_j with a_ij the softmax over j of
 *   cos(d_i, d_j) / T, weighted by the sample counts n_j (with equal counts
 *   the spec's plain softmax: both are checked).
 * - PMTRec (../shared/specs/pmtrec.md): one weighting step of 4 rows and 3
 *   tasks: per row the task norms, the main one times alpha^epoch, weights
 *   softmax(n / tau), the row's update sum_t w_t g_t, and the step's
 *   statistics.
 *
 * The engines' own functions are not called to compute what is expected:
 * only the seeded generator (fedrec/rng.h), to repeat the draws the
 * PFedRec engine documents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "job/fedmsmt_job.h"
#include "fed/fed_internal.h"
#include "job/pfedrec_job.h"
#include "fedrec/combine.h"
#include "fedrec/rng.h"
#include "testutil.h"

/* Values compared and the largest |engine - independent|, per method. */
static size_t compared;
static double worst_diff;

static void near(double got, double want, double tol, const char *what, size_t i, size_t j)
{
    double diff = fabs(got - want);
    compared++;
    worst_diff = fmax(worst_diff, diff);
    CHECK(diff <= tol, "%s [%zu][%zu]: engine %.9g, independent %.9g (diff %.2e, tol %.0e)", what, i, j, got,
          want, diff, tol);
}

static double sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* ---- PFedRec: two rounds of a toy ------------------------------------------ */

enum { PF_USERS = 3, PF_ITEMS = 7, PF_DIM = 3, PF_EVAL_NEG = 2, PF_ROUNDS = 2 };
#define PF_SEED 7
#define PF_LR 0.5
#define PF_LR_ETA 0.2
#define PF_BATCH 4
#define PF_NEGATIVES 2
#define PF_TOP_K 2
/* The engine works in float; over two rounds its values drift from the
 * double recomputation by rounding only (measured worst 6.0e-8). */
#define PF_TOL 1e-6

/* User 0: train {0, 1}, val 2, test 3; user 1: train {2, 4, 5}, val 6,
 * test 0; user 2: train {1}, val 3, test 5. */
static const int32_t pf_train_items[] = {0, 1, 2, 4, 5, 1};
static size_t pf_train_start[] = {0, 2, 5, 6};
static int32_t pf_seen_items[] = {0, 1, 2, 3, /**/ 0, 2, 4, 5, 6, /**/ 1, 3, 5};
static size_t pf_seen_start[] = {0, 4, 9, 12};
static int32_t pf_val_item[] = {2, 6, 3}, pf_test_item[] = {3, 0, 5};
static unsigned char pf_has_eval[] = {1, 1, 1};
/* Per user: 2 validation negatives, then 2 test negatives. */
static int32_t pf_eval_negatives[] = {4, 6, 5, 4, /**/ 1, 3, 3, 1, /**/ 0, 2, 4, 6};

static const float pf_items0[PF_ITEMS][PF_DIM] = {
    {0.30f, -0.20f, 0.10f}, {-0.40f, 0.25f, 0.05f}, {0.15f, 0.35f, -0.30f}, {0.20f, -0.10f, 0.45f},
    {-0.25f, -0.30f, 0.20f}, {0.05f, 0.40f, 0.35f}, {-0.35f, 0.10f, -0.15f}};
/* Every client its own score function (the engine starts them equal; any
 * values are a valid state, and distinct ones show whose is whose). */
static const float pf_w0[PF_USERS][PF_DIM] = {{0.5f, -0.3f, 0.2f}, {-0.2f, 0.4f, 0.3f}, {0.1f, 0.2f, -0.5f}};
static const float pf_b0[PF_USERS] = {0.1f, -0.05f, 0.2f};

static int pf_seen(size_t u, int32_t item)
{
    for (size_t k = pf_seen_start[u]; k < pf_seen_start[u + 1]; k++)
        if (pf_seen_items[k] == item)
            return 1;
    return 0;
}

/* User u's samples of round r as the engine documents them: the training
 * positives in order, then per positive min(negatives, unseen items)
 * distinct unseen items from fr_rng_below(n_items) of stream (seed, r + 1,
 * u, NEGATIVES), rejecting repeats; then shuffled by Fisher-Yates with
 * fr_rng_below(i) for i = n .. 2 from stream (seed, r + 1, u, SHUFFLE). */
static size_t pf_samples(unsigned r, size_t u, int32_t *item, double *label)
{
    size_t n_pos = pf_train_start[u + 1] - pf_train_start[u], n = 0;
    size_t unseen = PF_ITEMS - (pf_seen_start[u + 1] - pf_seen_start[u]);
    size_t per = PF_NEGATIVES < unseen ? PF_NEGATIVES : unseen;
    for (size_t k = 0; k < n_pos; k++) {
        item[n] = pf_train_items[pf_train_start[u] + k];
        label[n++] = 1;
    }
    fr_rng rng;
    fr_rng_init(&rng, PF_SEED, r + 1, (uint32_t)u, FR_RNG_NEGATIVES);
    for (size_t k = 0; k < n_pos; k++) {
        size_t first = n;
        while (n - first < per) {
            int32_t cand = (int32_t)fr_rng_below(&rng, PF_ITEMS);
            int taken = pf_seen(u, cand);
            for (size_t q = first; q < n; q++)
                taken |= item[q] == cand;
            if (taken)
                continue;
            item[n] = cand;
            label[n++] = 0;
        }
    }
    fr_rng_init(&rng, PF_SEED, r + 1, (uint32_t)u, FR_RNG_SHUFFLE);
    for (size_t i = n; i > 1; i--) {
        size_t j = fr_rng_below(&rng, (uint32_t)i);
        int32_t ti = item[i - 1];
        double tl = label[i - 1];
        item[i - 1] = item[j];
        label[i - 1] = label[j];
        item[j] = ti;
        label[j] = tl;
    }
    return n;
}

/* Rank of a positive among negatives (a tie counts against it) and the
 * figures: HR = rank <= K, NDCG = log 2 / log(1 + rank) within the top K. */
static size_t pf_rank(double pos, const double *neg, size_t n)
{
    size_t rank = 1;
    for (size_t i = 0; i < n; i++)
        rank += neg[i] >= pos;
    return rank;
}

typedef struct pf_eval {
    size_t rank[2]; /* validation, test */
    double margin;  /* nearest negative score to the positive's */
} pf_eval;

static pf_eval pf_evaluate(size_t u, const double *w, double b, const double *rows)
{
    pf_eval ev = {{0, 0}, INFINITY};
    for (int part = 0; part < 2; part++) {
        int32_t pos = part ? pf_test_item[u] : pf_val_item[u];
        double sp = dot(w, rows + (size_t)pos * PF_DIM, PF_DIM) + b, sn[PF_EVAL_NEG];
        for (size_t k = 0; k < PF_EVAL_NEG; k++) {
            int32_t it = pf_eval_negatives[u * 2 * PF_EVAL_NEG + (size_t)part * PF_EVAL_NEG + k];
            sn[k] = dot(w, rows + (size_t)it * PF_DIM, PF_DIM) + b;
            ev.margin = fmin(ev.margin, fabs(sn[k] - sp));
        }
        ev.rank[part] = pf_rank(sp, sn, PF_EVAL_NEG);
    }
    return ev;
}

/* One client's round, from the spec: local rows start as the global
 * table; per batch (mean BCE) w, b step with lr, then the batch's item
 * rows step with lr_item using the updated w, b. rows gets the client's
 * fine-tuned table, touched[i] whether it trained item i. */
static void pf_client_round(unsigned r, size_t u, const double *global, double *w, double *b, double *rows,
                            int *touched, double *loss_sum, size_t *n_samples)
{
    int32_t item[64];
    double label[64];
    size_t n = pf_samples(r, u, item, label);
    double lr = PF_LR, lr_item = PF_LR * PF_ITEMS * PF_LR_ETA;
    memcpy(rows, global, PF_ITEMS * PF_DIM * sizeof *rows);
    memset(touched, 0, PF_ITEMS * sizeof *touched);
    for (size_t at = 0; at < n; at += PF_BATCH) {
        size_t m = n - at < PF_BATCH ? n - at : PF_BATCH;
        double gw[PF_DIM] = {0}, gb = 0, grow[PF_ITEMS][PF_DIM] = {{0}};
        for (size_t j = at; j < at + m; j++) {
            const double *e = rows + (size_t)item[j] * PF_DIM;
            double z = dot(w, e, PF_DIM) + *b, y = label[j];
            *loss_sum += fmax(z, 0) - z * y + log1p(exp(-fabs(z)));
            double g = (sigmoid(z) - y) / (double)m;
            for (size_t c = 0; c < PF_DIM; c++)
                gw[c] += g * e[c];
            gb += g;
        }
        for (size_t c = 0; c < PF_DIM; c++)
            w[c] -= lr * gw[c];
        *b -= lr * gb;
        for (size_t j = at; j < at + m; j++) {
            const double *e = rows + (size_t)item[j] * PF_DIM;
            double g = (sigmoid(dot(w, e, PF_DIM) + *b) - label[j]) / (double)m;
            for (size_t c = 0; c < PF_DIM; c++)
                grow[item[j]][c] += g * w[c];
            touched[item[j]] = 1;
        }
        for (size_t i = 0; i < PF_ITEMS; i++)
            for (size_t c = 0; touched[i] && c < PF_DIM; c++)
                rows[i * PF_DIM + c] -= lr_item * grow[i][c];
    }
    *n_samples += n;
}

static void pfedrec_toy(void)
{
    fr_loo_split sp = {0};
    sp.n_users = PF_USERS;
    sp.n_items = PF_ITEMS;
    sp.negatives_per_eval = PF_EVAL_NEG;
    sp.train_start = pf_train_start;
    sp.train_items = (int32_t *)pf_train_items;
    sp.seen_start = pf_seen_start;
    sp.seen_items = pf_seen_items;
    sp.val_item = pf_val_item;
    sp.test_item = pf_test_item;
    sp.has_eval = pf_has_eval;
    sp.eval_negatives = pf_eval_negatives;
    sp.n_evaluated = PF_USERS;

    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.seed = PF_SEED;
    o.dim = PF_DIM;
    o.lr = (float)PF_LR;
    o.lr_eta = (float)PF_LR_ETA;
    o.batch = PF_BATCH;
    o.negatives = PF_NEGATIVES;
    o.top_k = PF_TOP_K;
    o.threads = 1;
    fr_pfedrec *p = NULL;
    CHECK_OK(fr_pfedrec_create(&sp, &o, &p));
    if (!p)
        return;
    /* Its uploads are inspected after each round: kept (the plain mean
     * would fold them as they come and reuse their buffers). */
    fr_fed_keep_uploads(p->f, 1);
    /* The toy's initial state in place of the drawn one. */
    memcpy(p->m->items, pf_items0, sizeof pf_items0);
    memcpy(p->m->w, pf_w0, sizeof pf_w0);
    memcpy(p->m->b, pf_b0, sizeof pf_b0);

    double global[PF_ITEMS * PF_DIM], w[PF_USERS][PF_DIM], b[PF_USERS];
    for (size_t i = 0; i < PF_ITEMS * PF_DIM; i++)
        global[i] = pf_items0[i / PF_DIM][i % PF_DIM];
    for (size_t u = 0; u < PF_USERS; u++) {
        for (size_t c = 0; c < PF_DIM; c++)
            w[u][c] = pf_w0[u][c];
        b[u] = pf_b0[u];
    }
    int personal_rank_differs = 0;
    double margin = INFINITY;
    size_t batches_seen = 0;
    for (unsigned r = 0; r < PF_ROUNDS; r++) {
        fr_pfedrec_round ro;
        CHECK_OK(fr_pfedrec_run_round(p, r, &ro));
        double rows[PF_USERS][PF_ITEMS * PF_DIM], loss = 0, sum[PF_ITEMS * PF_DIM] = {0};
        int touched[PF_USERS][PF_ITEMS];
        size_t samples = 0;
        for (size_t u = 0; u < PF_USERS; u++) {
            size_t before = samples;
            pf_client_round(r, u, global, w[u], &b[u], rows[u], touched[u], &loss, &samples);
            batches_seen = batches_seen > (samples - before + PF_BATCH - 1) / PF_BATCH
                               ? batches_seen
                               : (samples - before + PF_BATCH - 1) / PF_BATCH;
            /* Its score function stays on the client. */
            for (size_t c = 0; c < PF_DIM; c++)
                near(p->m->w[u * PF_DIM + c], w[u][c], PF_TOL, "w", u, c);
            near(p->m->b[u], b[u], PF_TOL, "b", u, 0);
            /* Its upload: every row it trained, the change of each. */
            const fr_fed_upload *out = &p->f->outs[u];
            size_t n_touched = 0;
            for (size_t i = 0; i < PF_ITEMS; i++)
                n_touched += (size_t)touched[u][i];
            CHECK(out->n_rows == n_touched, "round %u client %zu uploaded %zu rows, trained %zu", r, u, out->n_rows,
                  n_touched);
            for (size_t k = 0; k < out->n_rows; k++) {
                size_t i = (size_t)out->rows[k];
                CHECK(i < PF_ITEMS && touched[u][i], "round %u client %zu uploaded row %zu it did not train", r, u,
                      i);
                for (size_t c = 0; i < PF_ITEMS && c < PF_DIM; c++)
                    near(out->delta[k * PF_DIM + c], rows[u][i * PF_DIM + c] - global[i * PF_DIM + c], PF_TOL,
                         "upload", i, c);
            }
            /* Its evaluation: its own w, b and fine-tuned rows. */
            pf_eval ev = pf_evaluate(u, w[u], b[u], rows[u]), plain = pf_evaluate(u, w[u], b[u], global);
            margin = fmin(margin, ev.margin);
            personal_rank_differs |= ev.rank[0] != plain.rank[0] || ev.rank[1] != plain.rank[1];
            double fig[4] = {ev.rank[0] <= PF_TOP_K, ev.rank[0] <= PF_TOP_K ? log(2.0) / log(1.0 + ev.rank[0]) : 0,
                             ev.rank[1] <= PF_TOP_K, ev.rank[1] <= PF_TOP_K ? log(2.0) / log(1.0 + ev.rank[1]) : 0};
            double got[4] = {p->m->val_hr[u], p->m->val_ndcg[u], p->m->test_hr[u], p->m->test_ndcg[u]};
            for (size_t q = 0; q < 4; q++)
                CHECK(fabs(got[q] - fig[q]) <= 1e-12,
                      "round %u client %zu: %s is %g, its ranks (validation %zu, test %zu) give %g", r, u,
                      (const char *[]){"val HR", "val NDCG", "test HR", "test NDCG"}[q], got[q], ev.rank[0],
                      ev.rank[1], fig[q]);
            for (size_t i = 0; i < PF_ITEMS * PF_DIM; i++)
                sum[i] += rows[u][i] - global[i];
        }
        /* The server: the plain mean of the changes over the 3 clients. */
        for (size_t i = 0; i < PF_ITEMS * PF_DIM; i++)
            global[i] += sum[i] / PF_USERS;
        const float *items = fr_pfedrec_items(p);
        for (size_t i = 0; i < PF_ITEMS * PF_DIM; i++)
            near(items[i], global[i], PF_TOL, "aggregated item table", i / PF_DIM, i % PF_DIM);
        near(ro.train_loss, loss / (double)samples, PF_TOL, "round loss", r, 0);
        CHECK(ro.participants == PF_USERS, "round %u: %zu participants", r, ro.participants);
    }
    /* The toy exercises what it claims: several batches per client, a
     * ranking the fine-tuned rows change, no near-tie in the scores. */
    CHECK(batches_seen >= 3, "the toy's largest client had %zu batches, expected 3", batches_seen);
    CHECK(personal_rank_differs, "no client's rank depends on its fine-tuned rows: pick other values");
    CHECK(margin > 1e-4, "a negative scores within %g of its positive: pick other values", margin);
    fr_pfedrec_free(p);
}

/* ---- PF-MSMTrec: one aggregation step of a shared expert ------------------- */

enum { FM_CLIENTS = 3, FM_DIM = 4 };
#define FM_T 0.5
#define FM_TOL 1e-6

/* One step with the sample counts and pair orders given; coordinated
 * gets the independently coordinated updates. */
static void fedmsmt_step(const double samples[FM_CLIENTS], const size_t *const order[FM_CLIENTS], const char *label,
                         int plain_softmax, double coordinated[FM_CLIENTS][FM_DIM])
{
    /* Every pair conflicts: <d0,d1> = -0.75, <d0,d2> = -0.12, <d1,d2> = -0.51. */
    static const float delta[FM_CLIENTS][FM_DIM] = {
        {1.0f, 0.5f, -0.2f, 0.3f}, {-0.8f, 0.4f, 0.6f, -0.1f}, {0.2f, -0.9f, 0.1f, 0.5f}};
    static const float received[FM_CLIENTS][FM_DIM] = {
        {0.1f, 0.2f, 0.3f, 0.4f}, {-0.5f, 0.0f, 0.5f, 1.0f}, {2.0f, -1.0f, 0.0f, 0.25f}};

    /* Independently: PCGrad against the original deltas, in each order. */
    double d[FM_CLIENTS][FM_DIM], orig[FM_CLIENTS][FM_DIM];
    size_t projections = 0;
    for (size_t i = 0; i < FM_CLIENTS; i++)
        for (size_t q = 0; q < FM_DIM; q++)
            orig[i][q] = d[i][q] = delta[i][q];
    for (size_t i = 0; i < FM_CLIENTS; i++)
        for (size_t k = 0; k + 1 < FM_CLIENTS; k++) {
            const double *o = orig[order[i][k]];
            double c = dot(d[i], o, FM_DIM);
            if (c < 0) {
                projections++;
                double oo = dot(o, o, FM_DIM);
                for (size_t q = 0; q < FM_DIM; q++)
                    d[i][q] -= c / oo * o[q];
            }
        }
    /* a_ij = n_j exp(cos_ij / T) / sum_k n_k exp(cos_ik / T); the spec's
     * softmax_j(cos_ij / T) when every n_j is equal. */
    double a[FM_CLIENTS][FM_CLIENTS], theta[FM_CLIENTS][FM_DIM];
    for (size_t i = 0; i < FM_CLIENTS; i++) {
        double z = 0;
        for (size_t j = 0; j < FM_CLIENTS; j++) {
            double cosine = dot(d[i], d[j], FM_DIM) / sqrt(dot(d[i], d[i], FM_DIM) * dot(d[j], d[j], FM_DIM));
            z += a[i][j] = (plain_softmax ? 1.0 : samples[j]) * exp(cosine / FM_T);
        }
        for (size_t j = 0; j < FM_CLIENTS; j++)
            a[i][j] /= z;
        for (size_t q = 0; q < FM_DIM; q++) {
            theta[i][q] = received[i][q];
            for (size_t j = 0; j < FM_CLIENTS; j++)
                theta[i][q] += a[i][j] * d[j][q];
        }
    }

    /* The engine's step, as fedmsmt.c runs it on a unit. */
    float coord[FM_CLIENTS * FM_DIM], mine[FM_DIM];
    double ea[FM_CLIENTS * FM_CLIENTS];
    size_t conflicts = fr_fed_coordinate(&delta[0][0], FM_CLIENTS, FM_DIM, order, coord);
    fr_fed_weights(coord, FM_CLIENTS, FM_DIM, samples, FR_FED_AGG_PERSONAL, FM_T, ea);
    CHECK(conflicts == projections, "%s: %zu projections, expected %zu", label, conflicts, projections);
    for (size_t i = 0; i < FM_CLIENTS; i++) {
        for (size_t q = 0; q < FM_DIM; q++)
            near(coord[i * FM_DIM + q], d[i][q], FM_TOL, "coordinated update", i, q);
        for (size_t j = 0; j < FM_CLIENTS; j++)
            near(ea[i * FM_CLIENTS + j], a[i][j], FM_TOL, "aggregation weight", i, j);
        memcpy(mine, received[i], sizeof mine);
        fr_fed_apply(coord, FM_CLIENTS, FM_DIM, ea, i, mine);
        for (size_t q = 0; q < FM_DIM; q++)
            near(mine[q], theta[i][q], FM_TOL, "personalised parameters", i, q);
    }
    CHECK(projections == 6, "%s: %zu projections: the toy lost its conflicts", label, projections);
    memcpy(coordinated, d, sizeof d);
}

static void fedmsmt_toy(void)
{
    const double equal[FM_CLIENTS] = {100, 100, 100}, uneven[FM_CLIENTS] = {50, 120, 30};
    static const size_t a0[] = {2, 1}, a1[] = {0, 2}, a2[] = {1, 0}, b0[] = {1, 2}, b1[] = {2, 0}, b2[] = {0, 1};
    const size_t *order_a[FM_CLIENTS] = {a0, a1, a2}, *order_b[FM_CLIENTS] = {b0, b1, b2};
    double da[FM_CLIENTS][FM_DIM], db[FM_CLIENTS][FM_DIM];
    fedmsmt_step(equal, order_a, "equal sample counts (the spec's softmax)", 1, da);
    fedmsmt_step(uneven, order_a, "sample counts 50, 120, 30", 0, da);
    fedmsmt_step(uneven, order_b, "sample counts 50, 120, 30, the other orders", 0, db);
    /* Every client's coordinated update depends on the order of its two
     * projections, so the orders are exercised. */
    for (size_t i = 0; i < FM_CLIENTS; i++) {
        double apart = 0;
        for (size_t q = 0; q < FM_DIM; q++)
            apart = fmax(apart, fabs(da[i][q] - db[i][q]));
        CHECK(apart > 0.05, "client %zu's coordinated update hardly depends on the order (%g)", i, apart);
    }
}

/* ---- PMTRec: one weighting step -------------------------------------------- */

enum { PM_TASKS = 3, PM_ROWS = 4, PM_DIM = 3 };
#define PM_ALPHA 1.2
#define PM_TAU 0.7
#define PM_EPOCH 2
#define PM_TOL 1e-6

static void pmtrec_toy(void)
{
    /* Row 1 is not touched by the main task, row 2 not by task 1, row 3
     * not by task 2. */
    static const float g[PM_TASKS][PM_ROWS * PM_DIM] = {
        {0.3f, -0.4f, 0.1f, 0, 0, 0, 0.5f, 0.2f, -0.3f, -0.1f, 0.05f, 0.2f},
        {0.2f, 0.1f, -0.2f, 0.6f, -0.2f, 0.1f, 0, 0, 0, 0.4f, -0.3f, 0.1f},
        {-0.5f, 0.3f, 0.2f, 0.1f, 0.1f, 0.1f, 0.2f, 0.2f, 0.2f, 0, 0, 0}};
    double want[PM_ROWS * PM_DIM] = {0}, wmean[PM_TASKS] = {0}, nmean[PM_TASKS] = {0};
    for (size_t r = 0; r < PM_ROWS; r++) {
        double n[PM_TASKS], w[PM_TASKS], z = 0;
        for (size_t t = 0; t < PM_TASKS; t++) {
            n[t] = 0;
            for (size_t q = 0; q < PM_DIM; q++)
                n[t] += (double)g[t][r * PM_DIM + q] * g[t][r * PM_DIM + q];
            n[t] = sqrt(n[t]);
            nmean[t] += n[t] / PM_ROWS;
        }
        n[0] *= pow(PM_ALPHA, PM_EPOCH); /* task focusing */
        for (size_t t = 0; t < PM_TASKS; t++)
            z += w[t] = exp(n[t] / PM_TAU); /* magnitude balancing */
        for (size_t t = 0; t < PM_TASKS; t++) {
            w[t] /= z;
            wmean[t] += w[t] / PM_ROWS;
            for (size_t q = 0; q < PM_DIM; q++)
                want[r * PM_DIM + q] += w[t] * g[t][r * PM_DIM + q];
        }
    }
    fr_combine_options o;
    fr_combine_options_default(&o);
    o.method = FR_COMBINE_PMTREC;
    o.tasks = PM_TASKS;
    o.alpha = PM_ALPHA;
    o.tau = PM_TAU;
    fr_combiner *c = NULL;
    CHECK_OK(fr_combiner_create(&o, &c));
    if (!c)
        return;
    const float *grads[PM_TASKS] = {g[0], g[1], g[2]};
    float out[PM_ROWS * PM_DIM];
    fr_combine_stats st;
    CHECK_OK(fr_combine(c, grads, PM_ROWS, PM_DIM, PM_EPOCH, 0, out, &st));
    for (size_t i = 0; i < PM_ROWS * PM_DIM; i++)
        near(out[i], want[i], PM_TOL, "combined row gradient", i / PM_DIM, i % PM_DIM);
    for (size_t t = 0; t < PM_TASKS; t++) {
        near(st.weight[t], wmean[t], PM_TOL, "mean task weight", t, 0);
        near(st.norm[t], nmean[t], PM_TOL, "mean task norm", t, 0);
    }
    fr_combiner_free(c);
}

static void run(void (*toy)(void), const char *what, double tol)
{
    compared = 0;
    worst_diff = 0;
    toy();
    fprintf(stderr, "%s: %zu values compared, largest difference %.2e (tolerance %.0e)\n", what, compared,
            worst_diff, tol);
}

int main(void)
{
    run(pfedrec_toy, "PFedRec, two rounds", PF_TOL);
    run(fedmsmt_toy, "PF-MSMTrec, one aggregation step", FM_TOL);
    run(pmtrec_toy, "PMTRec, one weighting step", PM_TOL);
    return fr_test_finish("test_arithmetic");
}
