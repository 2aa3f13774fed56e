/* test_pfedrec_model.c — the rating engine's trained model: for PFedRec,
 * FedMF, FedNCF and centralised MF, the model taken after each round,
 * put into a fresh engine and evaluated, gives that round's figures bit
 * for bit (at 1 and 3 threads); PFedRec keeps each user's fine-tuned
 * rows, and the scores of every item agree with the evaluation's
 * (recomputed here from the model's arrays: w . e + b over the personal
 * row where the user has one). Taking before any round, and a model of
 * other sizes, are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"
#include "fedrec/metrics.h"
#include "testutil.h"

static void toy_split(fr_loo_split *split)
{
    fr_implicit_spec spec = {7, 60, 150, 12};
    fr_ratings r;
    CHECK_OK(fr_implicit_generate(&spec, &r));
    CHECK_OK(fr_loo_split_make(&r, 7, 20, split));
    fr_ratings_free(&r);
}

/* The score of item i for user u from the model's arrays alone (PFedRec,
 * FedMF, centralised MF), in double. */
static double score_of(const fr_pfedrec_model *m, size_t u, size_t i)
{
    const float *row = m->items + i * m->dim;
    if (m->personal_start)
        for (size_t k = m->personal_start[u]; k < m->personal_start[u + 1]; k++)
            if ((size_t)m->personal_items[k] == i)
                row = m->personal_rows + k * m->dim;
    double z = m->b[u];
    for (size_t c = 0; c < m->dim; c++)
        z += (double)m->w[u * m->dim + c] * row[c];
    return z;
}

static void check_algorithm(fr_rating_algorithm algo, const char *name, int threads, int client_fraction_one)
{
    fr_loo_split split;
    toy_split(&split);
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.seed = 3;
    o.algorithm = algo;
    o.dim = 8;
    o.threads = threads;
    o.n_ncf_layers = 2;
    o.ncf_layers[0] = 8;
    o.ncf_layers[1] = 4;
    o.central_lr = 0.01f;
    if (algo == FR_ALGO_FEDMF || algo == FR_ALGO_FEDNCF)
        o.lr_eta = 1.0f;
    if (!client_fraction_one)
        o.client_fraction = 0.5;
    fr_pfedrec *p = NULL, *q = NULL;
    CHECK_OK(fr_pfedrec_create(&split, &o, &p));
    CHECK_OK(fr_pfedrec_create(&split, &o, &q));
    if (!p || !q)
        return;
    fr_pfedrec_model m;
    memset(&m, 0, sizeof m);
    CHECK(fr_pfedrec_model_take(p, &m) == FR_ERR_INVALID, "%s: take without keeping accepted", name);
    CHECK_OK(fr_pfedrec_keep_model(p));
    CHECK(fr_pfedrec_model_take(p, &m) == FR_ERR_INVALID, "%s: take before a round accepted", name);
    for (unsigned round = 0; round < 3; round++) {
        fr_pfedrec_round st, again;
        CHECK_OK(fr_pfedrec_run_round(p, round, &st));
        CHECK_OK(fr_pfedrec_model_take(p, &m));
        CHECK(m.round == round + 1, "%s: model of round %u, expected %u", name, m.round, round + 1);
        CHECK_OK(fr_pfedrec_model_use(q, &m));
        CHECK_OK(fr_pfedrec_evaluate(q, &again));
        if (client_fraction_one) {
            CHECK(st.val_hr == again.val_hr && st.val_ndcg == again.val_ndcg && st.test_hr == again.test_hr &&
                      st.test_ndcg == again.test_ndcg,
                  "%s, %d thread(s), round %u: trained %.9g %.9g %.9g %.9g, evaluated again %.9g %.9g %.9g %.9g",
                  name, threads, round + 1, st.val_hr, st.val_ndcg, st.test_hr, st.test_ndcg, again.val_hr,
                  again.val_ndcg, again.test_hr, again.test_ndcg);
        }
    }
    CHECK((m.personal_start != NULL) == (algo == FR_ALGO_PFEDREC), "%s: personal rows %s", name,
          m.personal_start ? "kept" : "missing");
    CHECK((m.shared != NULL) == (algo == FR_ALGO_FEDNCF), "%s: layers", name);
    if (m.personal_start) {
        size_t total = m.personal_start[m.n_users];
        CHECK(total > m.n_users, "%s: only %zu personal rows for %zu users", name, total, m.n_users);
        /* A personal row differs from the table's (it was changed). */
        size_t differ = 0;
        for (size_t k = 0; k < total; k++)
            differ += memcmp(m.personal_rows + k * m.dim, m.items + (size_t)m.personal_items[k] * m.dim,
                             m.dim * sizeof(float)) != 0;
        CHECK(differ == total, "%s: %zu of %zu personal rows equal the table's", name, total - differ, total);
    }
    if (algo != FR_ALGO_FEDNCF) {
        float *scores = malloc(split.n_items * sizeof *scores);
        double worst = 0;
        for (size_t u = 0; u < split.n_users; u += 7) {
            CHECK_OK(fr_pfedrec_scores(q, u, scores));
            for (size_t i = 0; i < split.n_items; i++) {
                double e = fabs(scores[i] - score_of(&m, u, i));
                worst = e > worst ? e : worst;
            }
        }
        CHECK(worst < 1e-4, "%s: scores differ from the model's arrays by %g", name, worst);
        free(scores);
    }
    /* Another size is refused. */
    m.n_items++;
    CHECK(fr_pfedrec_model_use(q, &m) == FR_ERR_INVALID, "%s: a model of other sizes accepted", name);
    m.n_items--;
    fr_pfedrec_model_free(&m);
    fr_pfedrec_free(p);
    fr_pfedrec_free(q);
    fr_loo_split_free(&split);
}

int main(void)
{
    const struct {
        fr_rating_algorithm algo;
        const char *name;
    } algos[] = {{FR_ALGO_PFEDREC, "PFedRec"}, {FR_ALGO_FEDMF, "FedMF"}, {FR_ALGO_FEDNCF, "FedNCF"},
                 {FR_ALGO_CENTRAL_MF, "centralised MF"}};
    for (size_t a = 0; a < sizeof algos / sizeof algos[0]; a++) {
        check_algorithm(algos[a].algo, algos[a].name, 1, 1);
        check_algorithm(algos[a].algo, algos[a].name, 3, 1);
    }
    check_algorithm(FR_ALGO_PFEDREC, "PFedRec, half the clients a round", 2, 0);
    return fr_test_finish("test_pfedrec_model");
}
