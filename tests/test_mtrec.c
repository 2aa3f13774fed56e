/* test_mtrec.c — the multi-task recommender: full-ranking Recall/NDCG by
 * hand and against a brute-force sort, every task's row gradients against
 * finite differences of its loss, the norm-ordered ranking of a large
 * table against every score, the per-user split, split files with one
 * id space, side-relation readers and their errors (categories: several
 * per item, from a file or a rating column), the category task's draws,
 * the synthetic data,
 * option errors, and training that learns and does not depend on the
 * thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/mtrec.h"
#include "fedrec/rng.h"
#include "mtr/mtr_internal.h"
#include "testutil.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK(0, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* ---- full ranking ------------------------------------------------------ */

static void test_rank_by_hand(void)
{
    /* 6 items; item 1 skipped (seen in training); ranking of the rest:
     * 4 (0.9), 0 (0.8), 2 = 5 (0.5: the smaller id first), 3 (0.1). Targets
     * 2 and 3 sit at ranks 3 and 5. */
    float scores[6] = {0.8f, 0.95f, 0.5f, 0.1f, 0.9f, 0.5f};
    int32_t skip[1] = {1}, targets[2] = {2, 3};
    double recall[FR_RANK_CUTOFFS] = {0}, ndcg[FR_RANK_CUTOFFS] = {0};
    fr_rank_user(scores, 6, skip, 1, NULL, 0, targets, 2, recall, ndcg);
    double dcg = 1 / log2(4.0) + 1 / log2(6.0), ideal = 1 + 1 / log2(3.0);
    CHECK_NEAR(recall[0], 1.0, 1e-12); /* K = 5: both */
    CHECK_NEAR(ndcg[0], dcg / ideal, 1e-12);
    /* skip 2 as well (second list): target 3 moves to rank 4 */
    int32_t skip_b[1] = {2};
    double r2[FR_RANK_CUTOFFS] = {0}, n2[FR_RANK_CUTOFFS] = {0};
    fr_rank_user(scores, 6, skip, 1, skip_b, 1, targets + 1, 1, r2, n2);
    CHECK_NEAR(r2[0], 1.0, 1e-12);
    CHECK_NEAR(n2[0], 1 / log2(5.0), 1e-12);
}

static int cmp_desc(const void *a, const void *b, const float *s)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (s[x] != s[y])
        return s[x] > s[y] ? -1 : 1;
    return (x > y) - (x < y);
}
static const float *sort_scores;
static int cmp_sort(const void *a, const void *b)
{
    return cmp_desc(a, b, sort_scores);
}

static void test_rank_brute_force(void)
{
    enum { N = 3000 };
    static float scores[N];
    static int32_t order[N];
    fr_rng rng;
    for (int trial = 0; trial < 20; trial++) {
        fr_rng_init(&rng, 3, 0, (uint32_t)trial, FR_RNG_TEST);
        for (int i = 0; i < N; i++) /* coarse values: many ties */
            scores[i] = trial % 2 ? (float)fr_rng_below(&rng, 50) : fr_rng_normal(&rng);
        int32_t skip[30], targets[12];
        for (int k = 0; k < 30; k++) /* ascending: k * 97 < N */
            skip[k] = (int32_t)(k * 97);
        for (int k = 0; k < 11; k++)
            targets[k] = (int32_t)(k * 211 + 5);
        targets[11] = skip[29]; /* skipped: never a hit, still a target (largest id last) */
        /* lift half the targets to the top scores (ties with the integer
         * scores' maximum 49, so the id order decides among them) */
        for (int k = 0; k < 6; k++)
            scores[targets[k]] = trial % 2 ? 49.0f : 3.5f - 0.2f * (float)k;
        int32_t best[N];
        size_t n_best = 0;
        for (int i = 0; i < N; i++) {
            int skipped = 0;
            for (int k = 0; k < 30; k++)
                skipped |= skip[k] == i;
            if (!skipped)
                order[n_best++] = i;
        }
        sort_scores = scores;
        qsort(order, n_best, sizeof *order, cmp_sort);
        memcpy(best, order, n_best * sizeof *best);
        double want_r[FR_RANK_CUTOFFS] = {0}, want_n[FR_RANK_CUTOFFS] = {0};
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
            size_t k = fr_rank_cutoffs[c], hits = 0;
            double dcg = 0, ideal = 0;
            for (size_t r = 0; r < k; r++) {
                for (int t = 0; t < 12; t++)
                    if (best[r] == targets[t]) {
                        hits++;
                        dcg += 1 / log2(r + 2.0);
                    }
                if (r < 12)
                    ideal += 1 / log2(r + 2.0);
            }
            want_r[c] = hits / 12.0;
            want_n[c] = dcg / ideal;
        }
        double got_r[FR_RANK_CUTOFFS] = {0}, got_n[FR_RANK_CUTOFFS] = {0};
        /* the skip list split in two (even and odd places): the same */
        int32_t skip_even[15], skip_odd[15];
        for (int k = 0; k < 15; k++) {
            skip_even[k] = skip[2 * k];
            skip_odd[k] = skip[2 * k + 1];
        }
        fr_rank_user(scores, N, skip_even, 15, skip_odd, 15, targets, 12, got_r, got_n);
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
            CHECK_NEAR(got_r[c], want_r[c], 1e-12);
            CHECK_NEAR(got_n[c], want_n[c], 1e-12);
        }
        CHECK(want_r[3] > 0, "trial %d: some targets rank in the top 40", trial);
    }
}

/* The fused ranking of a table large enough for the norm-ordered path
 * (16,384 items and more) against fr_rank_user over every score. The
 * rows hold small dyadic numbers, so every score is exact whatever the
 * order of the sum (and ties are many: the id order decides them); the
 * item norms span 2^7, so the bound spares much of the product. */
static void test_rank_norm_bound(void)
{
    fr_mtr_synthetic_spec sp = {5, 150, 20000, 12, 4, 2};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.dim = 8;
    o.n_tasks = 1;
    o.tasks[0] = FR_MTR_BPR;
    size_t n = d.n_items, dim = o.dim;
    float *scores = malloc(n * sizeof *scores);
    for (int threads = 1; threads <= 2 && scores; threads++) {
        o.threads = threads;
        fr_mtr *m = NULL;
        CHECK_OK(fr_mtr_create(&d, &o, &m));
        if (!m)
            break;
        fr_rng rng;
        fr_rng_init(&rng, 9, 0, 0, FR_RNG_TEST);
        for (size_t u = 0; u < d.n_users; u++)
            for (size_t c = 0; c < dim; c++)
                m->table[u * dim + c] = (float)((int)fr_rng_below(&rng, 9) - 4) / 4.0f;
        for (size_t j = 0; j < n; j++) {
            float scale = ldexpf(1.0f, -(int)fr_rng_below(&rng, 8));
            for (size_t c = 0; c < dim; c++)
                m->table[(d.n_users + j) * dim + c] = (float)((int)fr_rng_below(&rng, 9) - 4) * scale;
        }
        /* every other user's targets lifted toward its row (4 u: a top
         * score for that user), so the figures are not all zero */
        for (size_t u = 0; u < d.n_users; u += 2)
            for (int part = 0; part < 2; part++) {
                const size_t *ts = part ? d.test_start : d.val_start;
                const int32_t *items = part ? d.test_items : d.val_items;
                for (size_t x = ts[u]; x < ts[u + 1]; x++)
                    for (size_t c = 0; c < dim; c++)
                        m->table[(d.n_users + (size_t)items[x]) * dim + c] = 4.0f * m->table[u * dim + c];
            }
        for (int test = 0; test < 2; test++) {
            fr_rank_metrics got;
            CHECK_OK(fr_mtr_evaluate(m, test, &got));
            fr_mtr_eval_profile pr;
            fr_mtr_last_eval_profile(m, &pr);
            CHECK(pr.computed_fraction > 0 && pr.computed_fraction < 0.6,
                  "%d threads, %s: %.3f of the scores computed: the bound spared too little", threads,
                  test ? "test" : "validation", pr.computed_fraction);
            double want_r[FR_RANK_CUTOFFS] = {0}, want_n[FR_RANK_CUTOFFS] = {0};
            size_t users = 0;
            for (size_t u = 0; u < d.n_users; u++) {
                const size_t *ts = test ? d.test_start : d.val_start;
                const int32_t *targets = (test ? d.test_items : d.val_items) + ts[u];
                size_t nt = ts[u + 1] - ts[u];
                if (!nt)
                    continue;
                for (size_t j = 0; j < n; j++) {
                    float sc = 0;
                    for (size_t c = 0; c < dim; c++)
                        sc += m->table[u * dim + c] * m->table[(d.n_users + j) * dim + c];
                    scores[j] = sc;
                }
                double r[FR_RANK_CUTOFFS] = {0}, g[FR_RANK_CUTOFFS] = {0};
                size_t nb = test && o.test_excludes_val ? d.val_start[u + 1] - d.val_start[u] : 0;
                fr_rank_user(scores, n, d.train_items + d.train_start[u], d.train_start[u + 1] - d.train_start[u],
                             d.val_items + d.val_start[u], nb, targets, nt, r, g);
                for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
                    want_r[c] += r[c];
                    want_n[c] += g[c];
                }
                users++;
            }
            CHECK(got.users == users, "%zu users ranked, expected %zu", got.users, users);
            for (size_t c = 0; c < FR_RANK_CUTOFFS && users; c++) {
                CHECK_NEAR(got.recall[c], want_r[c] / (double)users, 1e-12);
                CHECK_NEAR(got.ndcg[c], want_n[c] / (double)users, 1e-12);
            }
            CHECK(want_r[3] > 0, "some targets rank in the top 40");
        }
        /* a NaN in the table: no bound holds, every score is computed */
        m->table[(d.n_users + 7) * dim] = NAN;
        fr_rank_metrics v;
        CHECK_OK(fr_mtr_evaluate(m, 0, &v));
        fr_mtr_eval_profile pr;
        fr_mtr_last_eval_profile(m, &pr);
        CHECK(pr.computed_fraction == 1.0, "a NaN row: %.3f of the scores computed, expected all", pr.computed_fraction);
        fr_mtr_free(m);
    }
    free(scores);
    fr_mtr_data_free(&d);
}

/* ---- task gradients ---------------------------------------------------- */

static fr_mtr_data small_data(void)
{
    fr_mtr_synthetic_spec sp = {11, 40, 60, 8, 4, 3};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    return d;
}

/* Loss of task k of the trainer at its current table, for the samples in
 * st (the tasks draw nothing themselves). */
static double task_loss(fr_mtr *m, fr_mtr_step *st, size_t k)
{
    double loss = 0;
    st->n_slots = 0;
    for (size_t r = 0; r < m->n_rows; r++)
        m->slot_of[r] = -1;
    for (size_t i = 0; i < st->n; i++) {
        fr_mtr_touch(m, st, st->user[i]);
        fr_mtr_touch(m, st, st->item[i]);
        fr_mtr_touch(m, st, st->negative[i]);
        if (m->aux[k][0])
            for (int j = 0; j < 3; j++)
                fr_mtr_touch(m, st, m->aux[k][j][i]);
    }
    CHECK_OK(fr_mtr_task_grad(m, st, k, 0, 0, &loss));
    return loss;
}

static void test_task_gradients(void)
{
    fr_mtr_data d = small_data();
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.dim = 6;
    o.batch = 16;
    o.threads = 1;
    fr_mtr_task all[] = {FR_MTR_BPR, FR_MTR_DIRECTAU, FR_MTR_RATING, FR_MTR_SOCIAL, FR_MTR_CATEGORY};
    o.n_tasks = sizeof all / sizeof all[0];
    memcpy(o.tasks, all, sizeof all);
    o.gamma = 0.7;
    fr_mtr *m = NULL;
    CHECK_OK(fr_mtr_create(&d, &o, &m));
    if (!m) {
        fr_mtr_data_free(&d);
        return;
    }
    /* larger rows than Xavier's so every term matters */
    for (size_t i = 0; i < m->n_rows * m->dim; i++)
        m->table[i] *= 10;
    /* a batch with repeated users and items (DirectAU's distinct rows) */
    size_t n = 12;
    int32_t user[12], item[12], neg[12];
    float rating[12];
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 7) % d.n_train;
        if (k >= 9)
            i = (k - 9) * 7 % d.n_train; /* repeats of the first pairs */
        user[k] = d.train_user[i];
        item[k] = d.train_item[i] + (int32_t)d.n_users;
        rating[k] = d.train_rating[i];
        neg[k] = (int32_t)((d.train_item[i] + 13) % d.n_items) + (int32_t)d.n_users;
    }
    fr_mtr_step st = {0};
    st.n = n;
    st.user = user;
    st.item = item;
    st.rating = rating;
    st.negative = neg;
    st.slot_of = m->slot_of;
    st.rows = m->rows;
    for (size_t k = 0; k < o.n_tasks; k++) {
        if (m->aux[k][0])
            fr_mtr_task_draw(m, k, 0, 0, n);
        task_loss(m, &st, k);
        size_t n_slots = st.n_slots;
        float *grad = malloc(n_slots * m->dim * sizeof *grad);
        int32_t *rows = malloc(n_slots * sizeof *rows);
        memcpy(grad, m->task_grad[k], n_slots * m->dim * sizeof *grad);
        memcpy(rows, m->rows, n_slots * sizeof *rows);
        double worst = 0;
        for (size_t s = 0; s < n_slots; s++)
            for (size_t j = 0; j < m->dim; j++) {
                float *w = m->table + (size_t)rows[s] * m->dim + j, saved = *w;
                float h = 1e-2f * fmaxf(1.0f, fabsf(saved));
                *w = saved + h;
                double up = task_loss(m, &st, k);
                *w = saved - h;
                double down = task_loss(m, &st, k);
                *w = saved;
                double numeric = (up - down) / (2 * (double)h);
                double err = fabs(numeric - grad[s * m->dim + j]) / fmax(1e-2, fabs(numeric));
                if (err > worst)
                    worst = err;
            }
        CHECK(worst < 2e-2, "task %s: worst relative gradient error %g", fr_mtr_task_name(o.tasks[k]), worst);
        free(grad);
        free(rows);
    }
    /* DirectAU's loss against its definition over all B occurrences
     * (the code works over the distinct rows) */
    for (size_t k = 0; k < o.n_tasks; k++) {
        if (o.tasks[k] != FR_MTR_DIRECTAU)
            continue;
        double got = task_loss(m, &st, k);
        size_t dim = m->dim;
        double align = 0, uniform[2] = {0, 0};
        double *x[2];
        x[0] = malloc(n * dim * sizeof(double));
        x[1] = malloc(n * dim * sizeof(double));
        for (size_t i = 0; i < n; i++)
            for (int side = 0; side < 2; side++) {
                const float *v = m->table + (size_t)(side ? item[i] : user[i]) * dim;
                double len = 0;
                for (size_t j = 0; j < dim; j++)
                    len += (double)v[j] * v[j];
                for (size_t j = 0; j < dim; j++)
                    x[side][i * dim + j] = v[j] / sqrt(len);
            }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++) {
                double diff = x[0][i * dim + j] - x[1][i * dim + j];
                align += diff * diff / (double)n;
            }
        for (int side = 0; side < 2; side++) {
            double sum = 0;
            for (size_t a = 0; a < n; a++)
                for (size_t b = a + 1; b < n; b++) {
                    double d2 = 0;
                    for (size_t j = 0; j < dim; j++) {
                        double diff = x[side][a * dim + j] - x[side][b * dim + j];
                        d2 += diff * diff;
                    }
                    sum += exp(-2 * d2);
                }
            uniform[side] = log(sum / ((double)n * (double)(n - 1) / 2));
        }
        CHECK_NEAR(got, align + o.gamma * (uniform[0] + uniform[1]) / 2, 1e-5);
        free(x[0]);
        free(x[1]);
    }
    fr_mtr_free(m);
    fr_mtr_data_free(&d);
}

/* Whether items x and y share a category (the lists, walked by hand). */
static int share(const fr_mtr_data *d, int32_t x, int32_t y)
{
    for (size_t a = d->item_category_start[x]; a < d->item_category_start[x + 1]; a++)
        for (size_t b = d->item_category_start[y]; b < d->item_category_start[y + 1]; b++)
            if (d->item_categories[a] == d->item_categories[b])
                return 1;
    return 0;
}

static int has_category(const fr_mtr_data *d, int32_t item, int32_t c)
{
    for (size_t a = d->item_category_start[item]; a < d->item_category_start[item + 1]; a++)
        if (d->item_categories[a] == c)
            return 1;
    return 0;
}

/* n draws of the category task (slot 1) on d: the positive shares a
 * category with the anchor and is another item, the negative shares none,
 * items without a category are never drawn. */
static void check_category_draws(const fr_mtr_data *d, size_t n, uint64_t step, int32_t *anchor,
                                 int32_t *positive, int32_t *negative)
{
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.batch = n;
    o.tasks[1] = FR_MTR_CATEGORY;
    o.n_tasks = 2;
    o.threads = 1;
    fr_mtr *m = NULL;
    CHECK_OK(fr_mtr_create(d, &o, &m));
    if (!m)
        return;
    int32_t base = (int32_t)d->n_users;
    fr_mtr_task_draw(m, 1, 0, step, n);
    for (size_t k = 0; k < n; k++) {
        int32_t a = m->aux[1][0][k] - base, p = m->aux[1][1][k] - base, q = m->aux[1][2][k] - base;
        CHECK(share(d, a, p) && p != a, "positive %d of %d", p, a);
        CHECK(d->item_category_start[q + 1] > d->item_category_start[q] && !share(d, a, q), "negative %d of %d", q, a);
        if (anchor) {
            anchor[k] = a;
            positive[k] = p;
            negative[k] = q;
        }
    }
    fr_mtr_free(m);
}

/* The category task's draws, one category per item (some with none) and
 * several: a positive comes from any of the anchor's categories. */
static void test_category_draws(void)
{
    fr_mtr_synthetic_spec sp = {9, 60, 80, 6, 5, 2};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    int32_t item[400], cat[400];
    size_t n = 0;
    for (int32_t i = 0; i < (int32_t)d.n_items; i++)
        if (i % 3) { /* some items without a category */
            item[n] = i;
            cat[n++] = d.item_categories[d.item_category_start[i]];
        }
    CHECK_OK(fr_mtr_categories_set(&d, item, cat, n, d.n_categories));
    CHECK(d.item_category_start[0 + 1] == d.item_category_start[0], "item 0 has no category");
    check_category_draws(&d, 200, 0, NULL, NULL, NULL);
    /* Several categories: items 0..39 in category 0 (even) or 1 (odd),
     * items 40..49 in both, 50..59 in category 2; item 0 given twice. */
    n = 0;
    for (int32_t i = 0; i < 60; i++) {
        if (i < 40 || i >= 50) {
            item[n] = i;
            cat[n++] = i >= 50 ? 2 : i % 2;
        } else {
            item[n] = i;
            cat[n++] = 0;
            item[n] = i;
            cat[n++] = 1;
        }
    }
    item[n] = 0;
    cat[n++] = 0;
    CHECK_OK(fr_mtr_categories_set(&d, item, cat, n, 3));
    CHECK(d.item_category_start[d.n_items] == n - 1, "%zu memberships, expected %zu (the repeat kept once)",
          d.item_category_start[d.n_items], n - 1);
    CHECK(d.category_start[1] - d.category_start[0] == 30 && d.category_start[2] - d.category_start[1] == 30,
          "categories 0 and 1 hold 30 items each");
    enum { N = 2000 };
    static int32_t a[N], p[N], q[N];
    check_category_draws(&d, N, 1, a, p, q);
    size_t from[2] = {0, 0};
    for (size_t k = 0; k < N; k++)
        if (a[k] >= 40 && a[k] < 50) /* an item of both: positives of either alone */
            for (int c = 0; c < 2; c++)
                from[c] += has_category(&d, p[k], c) && !has_category(&d, p[k], 1 - c);
    CHECK(from[0] > 10 && from[1] > 10, "an item of categories 0 and 1 drew positives of 0 only %zu times, of 1 only %zu",
          from[0], from[1]);
    fr_mtr_data_free(&d);
}

/* ---- data -------------------------------------------------------------- */

static void test_split(void)
{
    /* one user with 10 interactions, one with 5, one with 1 */
    fr_ratings r = {0};
    int32_t user[16], item[16];
    float rating[16];
    int64_t time[16];
    for (int k = 0; k < 16; k++) {
        user[k] = k < 10 ? 0 : k < 15 ? 1 : 2;
        item[k] = k;
        rating[k] = (float)(1 + k % 5);
        time[k] = k;
    }
    r.n = 16;
    r.n_users = 3;
    r.n_items = 16;
    r.user = user;
    r.item = item;
    r.rating = rating;
    r.time = time;
    fr_mtr_data d, again;
    CHECK_OK(fr_mtr_data_split(&r, 5, 0.6, 0.2, 0, &d));
    size_t expect[3][3] = {{6, 2, 2}, {3, 1, 1}, {1, 0, 0}};
    for (size_t u = 0; u < 3; u++) {
        CHECK(d.train_start[u + 1] - d.train_start[u] == expect[u][0], "user %zu train", u);
        CHECK(d.val_start[u + 1] - d.val_start[u] == expect[u][1], "user %zu val", u);
        CHECK(d.test_start[u + 1] - d.test_start[u] == expect[u][2], "user %zu test", u);
    }
    CHECK(d.n_train == 10, "train rows %zu", d.n_train);
    CHECK_OK(fr_mtr_data_split(&r, 5, 0.6, 0.2, 0, &again));
    CHECK(!memcmp(d.train_items, again.train_items, d.n_train * sizeof(int32_t)), "same seed, same split");
    fr_mtr_data_free(&again);
    CHECK_OK(fr_mtr_data_split(&r, 6, 0.6, 0.2, 0, &again));
    CHECK(memcmp(d.train_items, again.train_items, 6 * sizeof(int32_t)) != 0, "another seed, another split");
    fr_mtr_data_free(&again);
    /* the test part keeps ratings >= 4 only */
    CHECK_OK(fr_mtr_data_split(&r, 5, 0.6, 0.2, 4, &again));
    for (size_t u = 0; u < 3; u++)
        for (size_t k = again.test_start[u]; k < again.test_start[u + 1]; k++)
            CHECK(rating[again.test_items[k]] >= 4, "test item %d rated %g", again.test_items[k],
                  rating[again.test_items[k]]);
    fr_mtr_data_free(&again);
    CHECK(fr_mtr_data_split(&r, 5, 0.9, 0.2, 0, &again) == FR_ERR_INVALID, "shares over 1");
    fr_mtr_data_free(&d);
}

static void test_parts_and_relations(void)
{
    char train[512], val[512], test[512], links[512], pairs[512], cats[512], bad[512];
    write_file("train.txt", "u1,a,5\nu2,b,3\nu3,a,4\nu2,c,1\n", train, sizeof train);
    write_file("val.txt", "u1,b,4\nu3,c,2\n", val, sizeof val);
    write_file("test.txt", "u2,a,5\nu1,d,2\n", test, sizeof test);
    const char *paths[3] = {train, val, test};
    fr_ratings_spec spec;
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &spec);
    spec.col_time = -1;
    fr_ratings parts[3];
    CHECK_OK(fr_ratings_read_parts(paths, 3, &spec, parts));
    CHECK(parts[0].n_items == 4 && parts[2].n_items == 4, "items across parts: %zu", parts[0].n_items);
    CHECK(parts[0].n_users == 3, "users %zu", parts[0].n_users);
    /* one id space: u2's test item a is the training item a */
    CHECK(parts[2].item[0] == parts[0].item[0], "item a keeps its id");
    fr_mtr_data d;
    CHECK_OK(fr_mtr_data_from_parts(parts, 3, &d));
    size_t test_rows = d.test_start[d.n_users];
    CHECK(test_rows == 1, "test keeps ratings >= 3: %zu rows", test_rows);
    for (int p = 0; p < 3; p++)
        fr_ratings_free(&parts[p]);

    size_t skipped = 0;
    write_file("links.txt", "u1,u2\nu2,u3\nu9,u1\nu3,u3\n\n", links, sizeof links);
    CHECK_OK(fr_mtr_read_links(&d, links, ',', &skipped));
    CHECK(d.links.n_pairs == 2 && skipped == 2, "links %zu skipped %zu", d.links.n_pairs, skipped);
    CHECK(d.links.start[1] - d.links.start[0] == 1, "u1 has one neighbour");
    write_file("pairs.txt", "a\tb\nc\td\n", pairs, sizeof pairs);
    CHECK_OK(fr_mtr_read_item_pairs(&d, pairs, '\t', &skipped));
    CHECK(d.pairs.n_pairs == 2 && skipped == 0, "pairs %zu", d.pairs.n_pairs);
    size_t duplicates = 0;
    write_file("cats.txt", "a,x\nb,y\nc,x\nzz,y\n", cats, sizeof cats);
    CHECK_OK(fr_mtr_read_categories(&d, cats, ',', &skipped, &duplicates));
    CHECK(d.n_categories == 2 && skipped == 1 && duplicates == 0, "categories %zu skipped %zu duplicates %zu",
          d.n_categories, skipped, duplicates);
    /* items a, b, c, d are 0..3; categories numbered as first seen */
    CHECK(has_category(&d, 0, 0) && has_category(&d, 2, 0) && has_category(&d, 1, 1) &&
              d.item_category_start[4] == 3 && d.item_category_start[4] == d.item_category_start[3],
          "category ids");
    /* Several categories: on several lines and in one field ('|'), spaces
     * trimmed, an empty piece skipped; a repeated pair counted, kept once. */
    write_file("multi.txt", "a,x|z\nb,y\na,y\nc, x | y \na,x\nd,z||\n", cats, sizeof cats);
    CHECK_OK(fr_mtr_read_categories(&d, cats, ',', &skipped, &duplicates));
    CHECK(d.n_categories == 3 && skipped == 0 && duplicates == 1, "categories %zu skipped %zu duplicates %zu",
          d.n_categories, skipped, duplicates);
    /* x = 0, z = 1, y = 2 */
    CHECK(d.item_category_start[1] == 3 && has_category(&d, 0, 0) && has_category(&d, 0, 1) && has_category(&d, 0, 2),
          "a: x, z, y");
    CHECK(d.item_category_start[2] - d.item_category_start[1] == 1 && has_category(&d, 1, 2), "b: y");
    CHECK(d.item_category_start[3] - d.item_category_start[2] == 2 && has_category(&d, 2, 0) && has_category(&d, 2, 2),
          "c: x, y");
    CHECK(d.item_category_start[4] - d.item_category_start[3] == 1 && has_category(&d, 3, 1), "d: z");
    CHECK(d.category_start[1] - d.category_start[0] == 2 && d.category_start[3] - d.category_start[2] == 3,
          "x holds a, c; y holds a, b, c");
    /* '|' as the field delimiter: a field is one category */
    write_file("pipe.txt", "a|x y\nb|x y\n", cats, sizeof cats);
    CHECK_OK(fr_mtr_read_categories(&d, cats, '|', &skipped, &duplicates));
    CHECK(d.n_categories == 1 && share(&d, 0, 1), "pipe-delimited: one category 'x y'");
    write_file("three.txt", "a,x\nb,y,z\n", bad, sizeof bad);
    CHECK(fr_mtr_read_categories(&d, bad, ',', &skipped, &duplicates) == FR_ERR_DATA, "three fields");
    CHECK(strstr(fr_last_error(), "three.txt:2: 3 fields separated by ',', expected two: an item id and its categories (several separated by '|')") != NULL,
          "message: %s", fr_last_error());
    write_file("empty2.txt", "a,x\nb, \n", bad, sizeof bad);
    CHECK(fr_mtr_read_categories(&d, bad, ',', &skipped, &duplicates) == FR_ERR_DATA, "an empty category field");
    CHECK(strstr(fr_last_error(), "empty2.txt:2: field 2 is empty, expected a category") != NULL, "message: %s",
          fr_last_error());

    /* errors name the file and line */
    write_file("bad1.txt", "u1,u2\nu1\n", bad, sizeof bad);
    CHECK(fr_mtr_read_links(&d, bad, ',', &skipped) == FR_ERR_DATA, "one field");
    CHECK(strstr(fr_last_error(), "bad1.txt:2") != NULL, "message: %s", fr_last_error());
    write_file("bad3.txt", "u7,u8\n", bad, sizeof bad);
    CHECK(fr_mtr_read_links(&d, bad, ',', &skipped) == FR_ERR_DATA, "nothing usable");
    CHECK(fr_mtr_read_links(&d, "/nonexistent/links.txt", ',', &skipped) == FR_ERR_IO, "missing file");
    write_file("bad4.txt", "u1,b,4\nu2,,3\n", bad, sizeof bad);
    const char *bad_parts[3] = {train, bad, test};
    CHECK(fr_ratings_read_parts(bad_parts, 3, &spec, parts) == FR_ERR_DATA, "empty field in validation");
    CHECK(strstr(fr_last_error(), "bad4.txt:2") != NULL, "message: %s", fr_last_error());
    fr_mtr_data_free(&d);
}

/* A category column of the rating files: each row's item gets the row's
 * categories, the union over its rows; an empty field gives none. */
static void test_category_column(void)
{
    char path[512], bad[512];
    write_file("rated.csv", "user,item,rating,category\nu1,a,5,x|y\nu2,b,3,\nu3,a,4,z\nu2,c,1, y\nu1,c,2,y\nu3,d,3,x\n"
               "u1,d,1,x\n", path, sizeof path);
    fr_ratings_spec spec;
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &spec);
    spec.col_time = -1;
    spec.header = 1;
    fr_ratings r;
    CHECK_OK(fr_ratings_read(path, &spec, &r));
    fr_mtr_data d;
    CHECK_OK(fr_mtr_data_split(&r, 1, 0.6, 0.2, 0, &d));
    fr_ratings_free(&r);
    size_t with = 0;
    const char *paths[1] = {path};
    CHECK_OK(fr_mtr_read_category_column(&d, paths, 1, &spec, 3, &with));
    /* items a, b, c, d = 0..3; x = 0, y = 1, z = 2 */
    CHECK(with == 3 && d.n_categories == 3, "%zu items with categories, %zu categories", with, d.n_categories);
    CHECK(d.item_category_start[1] == 3 && has_category(&d, 0, 0) && has_category(&d, 0, 1) && has_category(&d, 0, 2),
          "a: the union x, y, z");
    CHECK(d.item_category_start[2] == d.item_category_start[1], "b: none (an empty field)");
    CHECK(d.item_category_start[3] - d.item_category_start[2] == 1 && has_category(&d, 2, 1), "c: y");
    CHECK(d.item_category_start[4] - d.item_category_start[3] == 1 && has_category(&d, 3, 0), "d: x");
    write_file("short.csv", "user,item,rating,category\nu1,a,5,x\nu2,b,3\n", bad, sizeof bad);
    paths[0] = bad;
    CHECK(fr_mtr_read_category_column(&d, paths, 1, &spec, 3, &with) == FR_ERR_DATA, "a row without the column");
    CHECK(strstr(fr_last_error(), "short.csv:3: 3 field(s) separated by ',', expected at least 4: field 4 holds the item's categories") != NULL,
          "message: %s", fr_last_error());
    fr_mtr_data_free(&d);
}

/* ---- training ------------------------------------------------------------ */

/* Steps touching more rows than the trainer's combine ranges (1,024):
 * PMTRec's rows are combined in ranges on the threads. 1 and 2 threads
 * train the same table with the same task weights, and that table is the
 * one of a single range (every row at once). */
static void test_combine_ranges(void)
{
    fr_mtr_synthetic_spec sp = {4, 1500, 2500, 10, 6, 3};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.batch = 2048;
    o.lr = 0.01f;
    o.dim = 32;
    fr_mtr_task tasks[] = {FR_MTR_BPR, FR_MTR_SOCIAL, FR_MTR_CATEGORY};
    o.n_tasks = 3;
    memcpy(o.tasks, tasks, sizeof tasks);
    float *table[3] = {NULL, NULL, NULL};
    fr_mtr_epoch ep[3];
    size_t bytes = (d.n_users + d.n_items) * o.dim * sizeof(float);
    for (int run = 0; run < 3; run++) { /* 1 thread, 2 threads, 2 threads one range */
        o.threads = run == 0 ? 1 : 2;
        fr_mtr *m = NULL;
        CHECK_OK(fr_mtr_create(&d, &o, &m));
        if (!m)
            break;
        if (run == 2)
            m->combine_rows = (size_t)1 << 30;
        for (unsigned e = 0; e < 2; e++)
            CHECK_OK(fr_mtr_train_epoch(m, e, &ep[run]));
        table[run] = malloc(bytes);
        if (table[run])
            memcpy(table[run], fr_mtr_embeddings(m), bytes);
        fr_mtr_free(m);
    }
    if (table[0] && table[1] && table[2]) {
        CHECK(!memcmp(table[0], table[1], bytes), "1 and 2 threads train the same table");
        CHECK(!memcmp(table[1], table[2], bytes), "rows combined in ranges and at once: different tables");
        for (size_t t = 0; t < 3; t++) {
            CHECK(ep[0].combine.weight[t] == ep[1].combine.weight[t] && ep[0].combine.norm[t] == ep[1].combine.norm[t],
                  "task %zu: weight %.17g / %.17g, norm %.17g / %.17g with 1 / 2 threads", t, ep[0].combine.weight[t],
                  ep[1].combine.weight[t], ep[0].combine.norm[t], ep[1].combine.norm[t]);
            CHECK_NEAR(ep[1].combine.weight[t], ep[2].combine.weight[t], 1e-12);
            CHECK_NEAR(ep[1].combine.norm[t], ep[2].combine.norm[t], 1e-12 * ep[2].combine.norm[t] + 1e-300);
        }
        /* the ranges were used: a step's rows differ from one range's */
        CHECK(ep[1].combine.weight[0] != ep[2].combine.weight[0] || ep[1].combine.norm[0] != ep[2].combine.norm[0] ||
                  ep[1].combine.weight[1] != ep[2].combine.weight[1],
              "the statistics of ranges and of one range are identical to the last bit: were ranges used?");
    }
    for (int run = 0; run < 3; run++)
        free(table[run]);
    fr_mtr_data_free(&d);
}

static void test_training(void)
{
    fr_mtr_synthetic_spec sp = {3, 300, 200, 20, 8, 4};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    CHECK(d.links.n_pairs == 300 * 4, "links %zu", d.links.n_pairs);
    CHECK(d.n_categories == 8 && d.category_start[8] == 200 && d.item_category_start[200] == 200, "categories");
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.batch = 256;
    o.lr = 0.01f;
    fr_mtr_task tasks[] = {FR_MTR_BPR, FR_MTR_DIRECTAU, FR_MTR_RATING, FR_MTR_SOCIAL, FR_MTR_CATEGORY};
    o.n_tasks = 5;
    memcpy(o.tasks, tasks, sizeof tasks);
    double first = 0, last = 0;
    float *table[2] = {NULL, NULL};
    for (int threads = 1; threads <= 2; threads++) {
        o.threads = threads;
        fr_mtr *m = NULL;
        CHECK_OK(fr_mtr_create(&d, &o, &m));
        if (!m)
            break;
        fr_rank_metrics v;
        CHECK_OK(fr_mtr_evaluate(m, 0, &v));
        first = v.recall[2];
        for (unsigned e = 0; e < 8; e++) {
            fr_mtr_epoch ep;
            CHECK_OK(fr_mtr_train_epoch(m, e, &ep));
            CHECK(ep.steps > 0 && isfinite(ep.loss[0]), "epoch %u", e);
        }
        CHECK_OK(fr_mtr_evaluate(m, 0, &v));
        last = v.recall[2];
        table[threads - 1] = malloc((d.n_users + d.n_items) * o.dim * sizeof(float));
        memcpy(table[threads - 1], fr_mtr_embeddings(m), (d.n_users + d.n_items) * o.dim * sizeof(float));
        fr_mtr_free(m);
    }
    CHECK(last > first + 0.05, "validation Recall@20 %.4f -> %.4f", first, last);
    if (table[0] && table[1])
        CHECK(!memcmp(table[0], table[1], (d.n_users + d.n_items) * o.dim * sizeof(float)),
              "1 and 2 threads train the same table");
    free(table[0]);
    free(table[1]);

    /* tasks without their data, and a main task other than bpr */
    fr_mtr *m = NULL;
    o.tasks[1] = FR_MTR_ITEMPAIR;
    o.n_tasks = 2;
    CHECK(fr_mtr_create(&d, &o, &m) == FR_ERR_INVALID, "itempair without pairs");
    CHECK(strstr(fr_last_error(), "item pairs") != NULL, "message: %s", fr_last_error());
    o.tasks[0] = FR_MTR_RATING;
    CHECK(fr_mtr_create(&d, &o, &m) == FR_ERR_INVALID, "main task not bpr");
    o.tasks[0] = FR_MTR_BPR;
    o.tasks[1] = FR_MTR_BPR;
    CHECK(fr_mtr_create(&d, &o, &m) == FR_ERR_INVALID, "bpr twice");
    fr_mtr_data_free(&d);
}

/* ---- checkpoints ------------------------------------------------------- */

/* A run of `epochs` epochs, saved after `at` (at > 0) into a fresh
 * trainer, goes on to the uninterrupted run's table bit for bit: with
 * GradVac (state across steps) on dense Adam, and PMTRec on lazy Adam. */
static void test_checkpoint(void)
{
    fr_mtr_data d = small_data();
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.batch = 64;
    o.lr = 0.02f;
    o.dim = 8;
    o.threads = 1;
    fr_mtr_task tasks[] = {FR_MTR_BPR, FR_MTR_SOCIAL, FR_MTR_CATEGORY};
    memcpy(o.tasks, tasks, sizeof tasks);
    o.n_tasks = 3;
    char path[512], prev[520];
    snprintf(path, sizeof path, "%s/m.ck", tmpdir);
    snprintf(prev, sizeof prev, "%s.prev", path);
    size_t floats = (d.n_users + d.n_items) * o.dim, bytes = floats * sizeof(float);
    const unsigned epochs = 4, at = 2;
    for (int variant = 0; variant < 2; variant++) {
        o.combine.method = variant == 0 ? FR_COMBINE_GRADVAC : FR_COMBINE_PMTREC;
        o.dense_adam = variant == 0;
        fr_mtr *full = NULL, *first = NULL, *second = NULL;
        CHECK_OK(fr_mtr_create(&d, &o, &full));
        CHECK_OK(fr_mtr_create(&d, &o, &first));
        CHECK_OK(fr_mtr_create(&d, &o, &second));
        if (!full || !first || !second) {
            fr_mtr_free(full);
            fr_mtr_free(first);
            fr_mtr_free(second);
            break;
        }
        fr_mtr_epoch ep;
        for (unsigned e = 0; e < epochs; e++)
            CHECK_OK(fr_mtr_train_epoch(full, e, &ep));
        for (unsigned e = 0; e < at; e++)
            CHECK_OK(fr_mtr_train_epoch(first, e, &ep));
        double extra[3] = {1.5, -2, 1e300}, back[3] = {0, 0, 0};
        float *best = malloc(bytes), *best_back = calloc(floats, sizeof(float));
        for (size_t i = 0; best && i < floats; i++)
            best[i] = (float)i * 0.25f;
        fr_mtr_checkpoint c = {at, "a.b = 1\n", extra, 3, best, 0};
        remove(path);
        remove(prev);
        CHECK_OK(fr_mtr_checkpoint_save(first, path, &c));
        CHECK(access(prev, F_OK) != 0, "no %s after the first checkpoint", prev);
        CHECK_OK(fr_mtr_checkpoint_save(first, path, &c));
        CHECK(access(prev, F_OK) == 0, "%s kept after the second", prev);
        fr_mtr_checkpoint in = {0, "a.b = 1\n", back, 3, best_back, 0};
        CHECK_OK(fr_mtr_checkpoint_load(second, path, &in));
        CHECK(in.epochs_done == at && in.has_best == 1, "epochs %u, best %d", in.epochs_done, in.has_best);
        CHECK(!memcmp(back, extra, sizeof extra), "the extra values come back");
        CHECK(best && best_back && !memcmp(best, best_back, bytes), "the best table comes back");
        for (unsigned e = at; e < epochs; e++)
            CHECK_OK(fr_mtr_train_epoch(second, e, &ep));
        CHECK(!memcmp(fr_mtr_embeddings(full), fr_mtr_embeddings(second), bytes),
              "%s: resumed after epoch %u, the table differs from the uninterrupted run's",
              fr_combine_method_name(o.combine.method), at);

        /* Refusals change nothing: another job, a damaged file, another
         * number of extra values. */
        float *before = malloc(bytes);
        if (before)
            memcpy(before, fr_mtr_embeddings(second), bytes);
        in.job_fingerprint = "a.b = 2\n";
        CHECK(fr_mtr_checkpoint_load(second, path, &in) == FR_ERR_CONFIG, "another configuration");
        CHECK(strstr(fr_last_error(), "a.b: checkpoint 1, now 2") != NULL, "message: %s", fr_last_error());
        in.job_fingerprint = "a.b = 1\n";
        in.n_extra = 2;
        CHECK(fr_mtr_checkpoint_load(second, path, &in) == FR_ERR_FORMAT, "other extra values");
        CHECK(strstr(fr_last_error(), "of another run") != NULL, "message: %s", fr_last_error());
        in.n_extra = 3;
        FILE *f = fopen(path, "r+b");
        if (f) {
            fseek(f, 300, SEEK_SET);
            fputc(0x5a ^ fgetc(f), f);
            fclose(f);
        }
        CHECK(fr_mtr_checkpoint_load(second, path, &in) == FR_ERR_FORMAT, "a damaged file");
        CHECK(strstr(fr_last_error(), "corrupt") && strstr(fr_last_error(), prev), "message: %s", fr_last_error());
        CHECK(before && !memcmp(before, fr_mtr_embeddings(second), bytes), "a refused file changed the table");
        free(before);
        free(best);
        free(best_back);
        fr_mtr_free(full);
        fr_mtr_free(first);
        fr_mtr_free(second);
    }
    /* Data of the same shape, other contents: one training rating
     * changed (the rating task learns from it; saved models' fingerprint
     * leaves ratings out, a checkpoint's takes them in). */
    fr_mtr_data other = small_data();
    other.train_rating[0] += 1;
    CHECK(fr_mtr_data_fingerprint(&other) == fr_mtr_data_fingerprint(&d), "the saved models' fingerprint changed");
    fr_mtr *m = NULL;
    CHECK_OK(fr_mtr_create(&other, &o, &m));
    if (m) {
        double back[3];
        fr_mtr_checkpoint in = {0, NULL, back, 3, NULL, 0};
        CHECK(fr_mtr_checkpoint_load(m, prev, &in) == FR_ERR_DATA, "other data");
        CHECK(strstr(fr_last_error(), "written on other data") != NULL, "message: %s", fr_last_error());
        other.train_rating[0] -= 1;
        CHECK_OK(fr_mtr_checkpoint_load(m, prev, &in));
    }
    fr_mtr_free(m);
    fr_mtr_data_free(&other);
    fr_mtr_data_free(&d);
}

static const fr_mtr_fed_options *fed(double fraction, float client_lr, float server_lr)
{
    static fr_mtr_fed_options fo;
    fr_mtr_fed_options_default(&fo);
    fo.client_fraction = fraction;
    fo.client_lr = client_lr;
    fo.server_lr = server_lr;
    return &fo;
}

static void test_federated(void)
{
    fr_mtr_synthetic_spec sp = {5, 200, 150, 12, 6, 3};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.batch = 64;
    fr_mtr_task tasks[] = {FR_MTR_BPR, FR_MTR_DIRECTAU, FR_MTR_RATING, FR_MTR_CATEGORY};
    o.n_tasks = 4;
    memcpy(o.tasks, tasks, sizeof tasks);
    size_t rows = d.n_users + d.n_items, bytes = rows * o.dim * sizeof(float);
    float *before = malloc(bytes), *after[2] = {malloc(bytes), malloc(bytes)};
    double first = 0, last = 0;
    for (int threads = 1; threads <= 2; threads++) {
        o.threads = threads;
        fr_mtr *m = NULL;
        CHECK_OK(fr_mtr_create(&d, &o, &m));
        if (!m)
            break;
        memcpy(before, fr_mtr_embeddings(m), bytes);
        fr_mtr_epoch ep;
        uint64_t up = 0;
        /* a quarter of the clients: the others' rows stay as they were */
        CHECK_OK(fr_mtr_federated_round(m, 0, fed(0.25, 0.05f, 10.0f), &ep, &up));
        CHECK(ep.steps == 50, "%zu clients stepped, expected 50", ep.steps);
        CHECK(up > 0, "upload %llu bytes", (unsigned long long)up);
        size_t moved = 0;
        for (size_t u = 0; u < d.n_users; u++)
            moved += memcmp(before + u * o.dim, fr_mtr_embeddings(m) + u * o.dim, o.dim * sizeof(float)) != 0;
        CHECK(moved == 50, "%zu user rows moved, expected the 50 sampled", moved);
        fr_rank_metrics v;
        CHECK_OK(fr_mtr_evaluate(m, 0, &v));
        first = v.recall[2];
        for (unsigned r = 1; r < 40; r++)
            CHECK_OK(fr_mtr_federated_round(m, r, fed(1.0, 0.05f, 10.0f), &ep, &up));
        CHECK_OK(fr_mtr_evaluate(m, 0, &v));
        last = v.recall[2];
        memcpy(after[threads - 1], fr_mtr_embeddings(m), bytes);
        fr_mtr_free(m);
    }
    CHECK(last > first, "federated validation Recall@20 %.4f -> %.4f", first, last);
    CHECK(!memcmp(after[0], after[1], bytes), "1 and 2 threads: same federated table");
    /* a client larger than a step: refused, and again (no leak between) */
    o.batch = 4;
    fr_mtr *small = NULL;
    CHECK_OK(fr_mtr_create(&d, &o, &small));
    if (small) {
        fr_mtr_epoch ep;
        uint64_t up;
        for (int i = 0; i < 2; i++)
            CHECK(fr_mtr_federated_round(small, 0, fed(1.0, 0.05f, 1.0f), &ep, &up) == FR_ERR_INVALID, "too many interactions");
        CHECK(strstr(fr_last_error(), "train.batch_size") != NULL, "message: %s", fr_last_error());
        fr_mtr_free(small);
    }
    o.batch = 64;
    o.combine.method = FR_COMBINE_GRADVAC;
    CHECK_OK(fr_mtr_create(&d, &o, &small));
    if (small) {
        fr_mtr_epoch ep;
        uint64_t up;
        CHECK(fr_mtr_federated_round(small, 0, fed(1.0, 0.05f, 1.0f), &ep, &up) == FR_ERR_INVALID, "gradvac refused");
        fr_mtr_free(small);
    }
    o.combine.method = FR_COMBINE_PMTREC;
    /* social needs other users' rows: refused */
    o.tasks[1] = FR_MTR_SOCIAL;
    o.n_tasks = 2;
    fr_mtr *m = NULL;
    CHECK_OK(fr_mtr_create(&d, &o, &m));
    if (m) {
        fr_mtr_epoch ep;
        uint64_t up;
        CHECK(fr_mtr_federated_round(m, 0, fed(1.0, 0.05f, 1.0f), &ep, &up) == FR_ERR_INVALID, "social refused");
        CHECK(strstr(fr_last_error(), "social") != NULL, "message: %s", fr_last_error());
        fr_mtr_free(m);
    }
    free(before);
    free(after[0]);
    free(after[1]);
    fr_mtr_data_free(&d);
}

/* Federated rounds get the federation core's participation and screening
 * (fr_mtr_fed_options): injected NaN updates refused (all of them: the
 * round fails), a quorum not met leaves the item rows, the simulated clock
 * leaves late clients untrained, a clip bounds how far an item row moves. */
static void test_federated_screening(void)
{
    fr_mtr_synthetic_spec sp = {5, 120, 90, 10, 4, 3};
    fr_mtr_data d;
    CHECK_OK(fr_mtr_synthetic(&sp, &d));
    fr_mtr_options o;
    fr_mtr_options_default(&o);
    o.batch = 64;
    o.threads = 1;
    fr_mtr_task tasks[] = {FR_MTR_BPR, FR_MTR_CATEGORY};
    o.n_tasks = 2;
    memcpy(o.tasks, tasks, sizeof tasks);
    size_t dim = o.dim, users = d.n_users * dim, bytes = (d.n_users + d.n_items) * dim * sizeof(float);
    float *before = malloc(bytes);
    for (int c = 0; c < 5; c++) {
        fr_mtr_fed_options fo;
        fr_mtr_fed_options_default(&fo);
        fo.server_lr = 2.0f;
        const char *what = "";
        switch (c) {
        case 0: fo.fault_nan = 1.0; what = "every update NaN"; break;
        case 1: fo.fault_nan = 0.3; what = "a third NaN"; break;
        case 2: fo.participation.min_clients = d.n_users + 1; what = "quorum not met"; break;
        case 3:
            fo.participation.deadline = 1.0;
            fo.participation.deadline_simulated = 1;
            fo.participation.latency_mean = 1.5;
            what = "simulated deadline";
            break;
        default: fo.clip_norm = 1e-6; what = "clip"; break;
        }
        fr_mtr *m = NULL;
        CHECK_OK(fr_mtr_create(&d, &o, &m));
        if (!m)
            break;
        memcpy(before, fr_mtr_embeddings(m), bytes);
        fr_mtr_epoch ep;
        uint64_t up = 0;
        fr_status st = fr_mtr_federated_round(m, 0, &fo, &ep, &up);
        const float *now = fr_mtr_embeddings(m);
        size_t users_moved = 0, items_moved = 0;
        double item_step = 0;
        for (size_t u = 0; u < d.n_users; u++)
            users_moved += memcmp(before + u * dim, now + u * dim, dim * sizeof(float)) != 0;
        for (size_t i = 0; i < d.n_items; i++) {
            items_moved += memcmp(before + users + i * dim, now + users + i * dim, dim * sizeof(float)) != 0;
            for (size_t j = 0; j < dim; j++)
                item_step = fmax(item_step, fabs((double)now[users + i * dim + j] - before[users + i * dim + j]));
        }
        if (c == 0) {
            CHECK(st == FR_ERR_NUMERIC && strstr(fr_last_error(), "rejected"), "%s: %s", what, fr_last_error());
        } else {
            CHECK_OK(st);
            CHECK((users_moved > 0 && items_moved > 0) || c == 2, "%s: %zu user rows, %zu item rows moved", what,
                  users_moved, items_moved);
        }
        if (c == 2)
            CHECK(items_moved == 0 && users_moved == d.n_users, "%s: %zu item rows moved, %zu user rows", what,
                  items_moved, users_moved);
        if (c == 3)
            CHECK(users_moved < d.n_users, "%s: every client trained (%zu)", what, users_moved);
        if (c == 4)
            CHECK(item_step <= 2.0 * 1e-6 * 1.001, "%s: an item value moved by %g", what, item_step);
        fr_mtr_free(m);
    }
    free(before);
    fr_mtr_data_free(&d);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fr_test_mtrec_XXXXXX");
    if (!mkdtemp(tmpdir))
        TEST_SKIP("cannot make a temporary directory");
    test_rank_by_hand();
    test_rank_brute_force();
    test_rank_norm_bound();
    test_task_gradients();
    test_split();
    test_parts_and_relations();
    test_category_column();
    test_category_draws();
    test_combine_ranges();
    test_training();
    test_checkpoint();
    test_federated();
    test_federated_screening();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return fr_test_finish("test_mtrec");
}
