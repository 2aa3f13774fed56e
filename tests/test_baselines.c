/* test_baselines.c — the rating engine's baselines: FedNCF's network
 * gradients against central finite differences; FedNCF and centralised MF
 * give identical results for 1 and 3 threads and resume from a checkpoint
 * bit for bit (layers and Adam state included); a checkpoint of one
 * algorithm is refused by another; and on MovieLens-100K (a SKIP line
 * when ../shared/data is absent) short runs clearly beat random ranking. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job/pfedrec_job.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"
#include "fedrec/rng.h"
#include "testutil.h"

/* Users like items near them; 8 to 14 ratings each. */
static void toy_ratings(fr_ratings *r, size_t users, size_t items)
{
    memset(r, 0, sizeof *r);
    for (size_t u = 0; u < users; u++)
        r->n += 8 + u % 7;
    r->n_users = users;
    r->n_items = items;
    r->user = malloc(r->n * sizeof *r->user);
    r->item = malloc(r->n * sizeof *r->item);
    r->rating = malloc(r->n * sizeof *r->rating);
    r->time = malloc(r->n * sizeof *r->time);
    r->user_names = calloc(users, sizeof(char *));
    r->item_names = calloc(items, sizeof(char *));
    size_t i = 0;
    for (size_t u = 0; u < users; u++)
        for (size_t k = 0; k < 8 + u % 7; k++, i++) {
            r->user[i] = (int32_t)u;
            r->item[i] = (int32_t)((u * 3 + k * 7) % items);
            r->rating[i] = 1;
            r->time[i] = (int64_t)k;
        }
}

/* L = sum_j c_j logit_j, in double from the float forward. */
static double probe_loss(const fr_pfedrec *p, scratch *s, const float *shared, const float *u,
                         const float *const *rows, size_t m, const float *c, float *logits)
{
    fr_ncf_forward(p->m, s, shared, u, rows, m, logits);
    double l = 0;
    for (size_t j = 0; j < m; j++)
        l += (double)c[j] * logits[j];
    return l;
}

/* Compare an analytic gradient entry with a central difference of x[k].
 * Along one coordinate the logits are piecewise linear (ReLU), so the two
 * one-sided slopes agree unless the step crosses a kink; such entries are
 * counted, not checked. */
static int kinks;

static void fd_check(const char *what, size_t k, float *x, float analytic, fr_pfedrec *p, scratch *s,
                     const float *shared, const float *u, const float *const *rows, size_t m,
                     const float *c, float *logits)
{
    const float h = 1e-2f;
    float keep = x[k];
    x[k] = keep + h;
    double up = probe_loss(p, s, shared, u, rows, m, c, logits);
    x[k] = keep - h;
    double down = probe_loss(p, s, shared, u, rows, m, c, logits);
    x[k] = keep;
    double mid = probe_loss(p, s, shared, u, rows, m, c, logits);
    double right = (up - mid) / h, left = (mid - down) / h;
    if (fabs(right - left) > 1e-3 + 1e-2 * fabs(right)) {
        kinks++;
        return;
    }
    double numeric = (up - down) / (2.0 * h);
    CHECK(fabs(numeric - analytic) <= 1e-3 + 5e-3 * fabs(numeric), "%s[%zu]: analytic %g, numeric %g",
          what, k, analytic, numeric);
}

static void check_ncf_gradients(const fr_loo_split *split)
{
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.algorithm = FR_ALGO_FEDNCF;
    o.dim = 4;
    o.ncf_layers[0] = 6;
    o.ncf_layers[1] = 3;
    o.n_ncf_layers = 2;
    o.threads = 1;
    o.batch = 8;
    fr_pfedrec *p = NULL;
    CHECK_OK(fr_pfedrec_create(split, &o, &p));
    if (!p)
        return;
    scratch s;
    CHECK_OK(fr_pf_scratch_init(&s, p->m));
    enum { M = 3 };
    size_t d = p->m->dim, n = p->m->n_shared;
    float *shared = malloc(n * sizeof *shared);
    memcpy(shared, p->m->shared, n * sizeof *shared);
    float u[8], items[M][8], gu[8] = {0}, gi[M][8], c[M], logits[64];
    fr_rng rng;
    fr_rng_init(&rng, 7, 0, 0, FR_RNG_TEST);
    for (size_t k = 0; k < d; k++)
        u[k] = fr_rng_normal(&rng);
    for (size_t j = 0; j < M; j++) {
        for (size_t k = 0; k < d; k++)
            items[j][k] = fr_rng_normal(&rng);
        c[j] = fr_rng_normal(&rng);
    }
    /* Items 0 and 2 are the same row: their gradients must add up. */
    const float *rows[M] = {items[0], items[1], items[0]};
    float *grads[M] = {gi[0], gi[1], gi[0]};
    memset(gi, 0, sizeof gi);
    memset(s.ncf_grad, 0, n * sizeof *s.ncf_grad);
    fr_ncf_forward(p->m, &s, shared, u, rows, M, logits);
    fr_ncf_backward(p->m, &s, shared, u, rows, M, c, gu, grads);
    float *g_shared = malloc(n * sizeof *g_shared);
    memcpy(g_shared, s.ncf_grad, n * sizeof *g_shared);
    for (size_t k = 0; k < n; k++)
        fd_check("layers", k, shared, g_shared[k], p, &s, shared, u, rows, M, c, logits);
    for (size_t k = 0; k < d; k++)
        fd_check("user", k, u, gu[k], p, &s, shared, u, rows, M, c, logits);
    for (size_t j = 0; j < 2; j++)
        for (size_t k = 0; k < d; k++)
            fd_check(j ? "item 1" : "item 0 (twice)", k, items[j], gi[j][k], p, &s, shared, u, rows, M,
                     c, logits);
    CHECK(kinks <= 4, "%d of %zu entries sat on a ReLU kink", kinks, n + 3 * d);
    free(g_shared);
    free(shared);
    fr_pf_scratch_free(&s);
    fr_pfedrec_free(p);
}

typedef struct outcome {
    fr_pfedrec_round last;
    float *items, *users;
} outcome;

/* rounds [0, stop) in one engine; with a checkpoint path, save after
 * `save_at` rounds, continue in a fresh engine loaded from it. */
static void run(const fr_loo_split *s, fr_pfedrec_options o, unsigned rounds, const char *ckpt,
                unsigned save_at, outcome *res)
{
    fr_pfedrec *p = NULL;
    memset(res, 0, sizeof *res);
    CHECK_OK(fr_pfedrec_create(s, &o, &p));
    if (!p)
        return;
    for (unsigned k = 0; k < rounds; k++) {
        if (ckpt && k == save_at) {
            CHECK_OK(fr_pfedrec_save(p, ckpt, k, NULL, 0));
            fr_pfedrec_free(p);
            p = NULL;
            CHECK_OK(fr_pfedrec_create(s, &o, &p));
            unsigned done = 0;
            if (!p)
                return;
            CHECK_OK(fr_pfedrec_load(p, ckpt, &done, NULL, 0));
            CHECK(done == k, "checkpoint rounds %u, expected %u", done, k);
        }
        CHECK_OK(fr_pfedrec_run_round(p, k, &res->last));
    }
    size_t ni = s->n_items * p->m->dim, nu = s->n_users * p->m->dim;
    res->items = malloc(ni * sizeof *res->items);
    res->users = malloc(nu * sizeof *res->users);
    memcpy(res->items, fr_pfedrec_items(p), ni * sizeof *res->items);
    memcpy(res->users, p->m->w, nu * sizeof *res->users);
    fr_pfedrec_free(p);
}

static int same(const outcome *a, const outcome *b, size_t ni, size_t nu)
{
    return a->items && b->items && !memcmp(a->items, b->items, ni * sizeof(float)) &&
           !memcmp(a->users, b->users, nu * sizeof(float)) && a->last.test_hr == b->last.test_hr &&
           a->last.val_ndcg == b->last.val_ndcg && a->last.train_loss == b->last.train_loss;
}

static void release(outcome *a)
{
    free(a->items);
    free(a->users);
}

static void check_algorithm(const fr_loo_split *s, fr_rating_algorithm algorithm, const char *name,
                            const char *ckpt)
{
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.algorithm = algorithm;
    o.dim = 8;
    o.batch = 16;
    o.lr_eta = 2;
    o.central_lr = 0.05f;
    size_t width = algorithm == FR_ALGO_FEDNCF ? 16 : 8;
    size_t ni = s->n_items * width, nu = s->n_users * width;
    outcome one, three, resumed;
    o.threads = 1;
    run(s, o, 4, NULL, 0, &one);
    o.threads = 3;
    run(s, o, 4, NULL, 0, &three);
    CHECK(same(&one, &three, ni, nu), "%s: 1 and 3 threads differ", name);
    run(s, o, 4, ckpt, 2, &resumed);
    CHECK(same(&one, &resumed, ni, nu), "%s: the resumed run differs from the uninterrupted one", name);
    /* Training moves the model and the loss falls. */
    outcome first;
    run(s, o, 1, NULL, 0, &first);
    CHECK(first.items && one.last.train_loss < first.last.train_loss,
          "%s: loss after 4 rounds %g, after 1 %g", name, one.last.train_loss, first.last.train_loss);
    CHECK(first.items && memcmp(first.items, one.items, ni * sizeof(float)) != 0,
          "%s: items did not change", name);
    release(&first);
    release(&one);
    release(&three);
    release(&resumed);
}

int main(void)
{
    fr_ratings r;
    toy_ratings(&r, 50, 200);
    fr_loo_split s;
    CHECK_OK(fr_loo_split_make(&r, 1, 20, &s));
    check_ncf_gradients(&s);

    char dir[] = "/tmp/fr_baselines_XXXXXX", path[256];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "test_baselines: cannot make a temporary folder\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/ckpt", dir);
    check_algorithm(&s, FR_ALGO_FEDNCF, "FedNCF", path);
    check_algorithm(&s, FR_ALGO_CENTRAL_MF, "centralised MF", path);
    /* The last checkpoint is centralised MF's: an MF engine of the same
     * size refuses it by algorithm. */
    {
        fr_pfedrec_options o;
        fr_pfedrec_options_default(&o);
        o.algorithm = FR_ALGO_FEDMF;
        o.dim = 8;
        fr_pfedrec *p = NULL;
        unsigned done;
        CHECK_OK(fr_pfedrec_create(&s, &o, &p));
        if (p)
            CHECK(fr_pfedrec_load(p, path, &done, NULL, 0) == FR_ERR_FORMAT &&
                      strstr(fr_last_error(), "another algorithm"),
                  "FedMF loaded a centralised MF checkpoint: %s", fr_last_error());
        fr_pfedrec_free(p);
        o.algorithm = FR_ALGO_FEDNCF;
        o.n_ncf_layers = 0;
        CHECK(fr_pfedrec_create(&s, &o, &p) == FR_ERR_INVALID, "FedNCF without hidden layers accepted");
        o.n_ncf_layers = 1;
        o.ncf_layers[0] = 0;
        CHECK(fr_pfedrec_create(&s, &o, &p) == FR_ERR_INVALID, "FedNCF layer of width 0 accepted");
    }
    remove(path);
    rmdir(dir);
    fr_loo_split_free(&s);
    fr_ratings_free(&r);

    const char *top = getenv("top_srcdir");
    char ml[1024];
    snprintf(ml, sizeof ml, "%s/../shared/data/ml-100k/u.data", top ? top : ".");
    if (access(ml, R_OK) != 0) {
        TEST_SKIP_PART("test_baselines: the MovieLens-100K learning floors of FedNCF and centralised MF: %s is absent",
                       ml);
        return fr_test_finish("test_baselines");
    }
    fr_ratings_spec spec;
    fr_ratings_spec_default(FR_RATINGS_MOVIELENS_TAB, &spec);
    CHECK_OK(fr_ratings_read(ml, &spec, &r));
    CHECK_OK(fr_loo_split_make(&r, 0, 99, &s));
    /* Floors well above random ranking (HR@10 0.10), below what these
     * runs reach (FedNCF 10 rounds ~0.31, centralised MF 5 epochs ~0.39). */
    struct {
        fr_rating_algorithm a;
        const char *name;
        unsigned rounds;
        double floor;
    } runs[] = {{FR_ALGO_FEDNCF, "FedNCF", 10, 0.22}, {FR_ALGO_CENTRAL_MF, "centralised MF", 5, 0.30}};
    for (size_t k = 0; k < 2; k++) {
        fr_pfedrec_options o;
        fr_pfedrec_options_default(&o);
        o.algorithm = runs[k].a;
        o.threads = 2;
        outcome res;
        run(&s, o, runs[k].rounds, NULL, 0, &res);
        fprintf(stderr, "MovieLens-100K, %s, %u rounds: test HR@10 %.4f NDCG@10 %.4f\n", runs[k].name,
                runs[k].rounds, res.last.test_hr, res.last.test_ndcg);
        CHECK(res.last.test_hr > runs[k].floor, "%s: HR@10 %.4f, expected > %.2f", runs[k].name,
              res.last.test_hr, runs[k].floor);
        release(&res);
    }
    fr_loo_split_free(&s);
    fr_ratings_free(&r);
    return fr_test_finish("test_baselines");
}
