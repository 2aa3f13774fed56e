/* test_cohort.c — PFedRec, FedMF and FedNCF trained as cohorts on a
 * backend (src/rec/rating_cohort.c, rating_cohort_ncf.c) against the
 * one-by-one host path, on a dense
 * and a sparse synthetic data set: every round's figures and loss, and the
 * final item table and score functions, within stated tolerances; on the
 * CPU backend and, where there is an OpenCL device (PoCL in CI), on it.
 * Also: several cohorts per round (a cohort smaller than the round), more
 * than one local epoch and many batches per client, client sampling, and
 * the ops a round issues stay far below one per client.
 *
 * Tolerances, on values measured as |a - b| / (1 + |a|). On the CPU
 * backend the cohort path computes every dot and axpy with the host path's
 * kernels in the same order; only the sigmoid (the backend's vector exp)
 * rounds differently, so the models agree within 1e-5 and the figures
 * exactly; the loss differs in how the per-sample terms are summed (1e-6
 * relative). On OpenCL the kernels' fused multiply-adds round differently
 * too: models within 1e-3, HR / NDCG within 0.02 (a flipped rank moves one
 * user's hit). FedNCF's layers run as batched GEMMs whose sums are
 * ordered otherwise than the host path's one-client GEMMs, on any backend:
 * models (item table, user rows, the server's layers) within 1e-4 on the
 * CPU and 1e-3 on OpenCL, figures within 0.02. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/backend.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"
#include "testutil.h"
#include "testutil_cl.h"

#define ROUNDS 4

typedef struct run_result {
    fr_pfedrec_round r[ROUNDS];
    float *items;        /* the table after the last round */
    fr_pfedrec_model m;  /* what the last round evaluated with */
    size_t n_items, n_users, dim; /* dim: a row's width (FedNCF: 2 x the embedding) */
    uint64_t ops_per_round;
} run_result;

typedef struct shape {
    const char *name;
    fr_implicit_spec spec;
} shape;

typedef struct variant {
    const char *name;
    fr_rating_algorithm algorithm;
    size_t cohort, local_epochs, batch;
    double client_fraction;
    double fault_nan; /* clients whose upload is replaced by NaN (drawn per client id) */
} variant;

static void run(const fr_loo_split *split, const variant *v, fr_backend *be, run_result *out)
{
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.seed = 7;
    o.algorithm = v->algorithm;
    o.dim = 16;
    o.lr_eta = 8;
    o.threads = 2;
    o.local_epochs = v->local_epochs;
    o.batch = v->batch;
    o.client_fraction = v->client_fraction;
    o.fault_nan = v->fault_nan;
    o.backend = be;
    o.cohort = v->cohort;
    memset(out, 0, sizeof *out);
    fr_pfedrec *p = NULL;
    CHECK_OK(fr_pfedrec_create(split, &o, &p));
    if (!p)
        return;
    /* Keeping the model exercises each path's keeping of clients too. */
    CHECK_OK(fr_pfedrec_keep_model(p));
    uint64_t ops0 = be ? fr_backend_ops_issued(be) : 0;
    for (unsigned k = 0; k < ROUNDS; k++)
        CHECK_OK(fr_pfedrec_run_round(p, k, &out->r[k]));
    out->ops_per_round = be ? (fr_backend_ops_issued(be) - ops0) / ROUNDS : 0;
    out->n_items = split->n_items;
    out->n_users = split->n_users;
    out->dim = v->algorithm == FR_ALGO_FEDNCF ? 2 * o.dim : o.dim;
    out->items = malloc(split->n_items * out->dim * sizeof *out->items);
    memcpy(out->items, fr_pfedrec_items(p), split->n_items * out->dim * sizeof *out->items);
    memset(&out->m, 0, sizeof out->m);
    CHECK_OK(fr_pfedrec_model_take(p, &out->m));
    fr_pfedrec_free(p);
}

/* The largest |a - b| / (1 + |a|): rows trained with PFedRec's large item
 * step grow to hundreds, where an absolute bound would mean nothing. */
static double max_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)a[i]));
        if (!(d <= worst)) /* NaN counts as worst */
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

/* got (a cohort run on `where`) against ref (the host path). */
static void compare(const char *what, const char *where, const run_result *ref, const run_result *got,
                    double tol_model, double tol_figure, double tol_loss)
{
    for (unsigned k = 0; k < ROUNDS; k++) {
        const fr_pfedrec_round *a = &ref->r[k], *b = &got->r[k];
        double figs[4][2] = {{a->val_hr, b->val_hr}, {a->val_ndcg, b->val_ndcg},
                             {a->test_hr, b->test_hr}, {a->test_ndcg, b->test_ndcg}};
        for (int f = 0; f < 4; f++)
            CHECK(fabs(figs[f][0] - figs[f][1]) <= tol_figure, "%s on %s, round %u: figure %d is %.6f, the host path's %.6f",
                  what, where, k + 1, f, figs[f][1], figs[f][0]);
        CHECK(fabs(a->train_loss - b->train_loss) <= tol_loss * fabs(a->train_loss),
              "%s on %s, round %u: loss %.9f, the host path's %.9f", what, where, k + 1, b->train_loss,
              a->train_loss);
        CHECK(a->participants == b->participants, "%s on %s, round %u: %zu participants, the host path's %zu",
              what, where, k + 1, b->participants, a->participants);
    }
    double di = max_diff(ref->items, got->items, ref->n_items * ref->dim);
    double dw = max_diff(ref->m.w, got->m.w, ref->n_users * ref->dim);
    double db = max_diff(ref->m.b, got->m.b, ref->n_users);
    CHECK(di <= tol_model, "%s on %s: item table differs by %g (tolerance %g)", what, where, di, tol_model);
    CHECK(dw <= tol_model && db <= tol_model, "%s on %s: score functions differ by %g, %g (tolerance %g)", what,
          where, dw, db, tol_model);
    /* FedNCF: the server's layers the last round evaluated with. */
    CHECK(ref->m.n_shared == got->m.n_shared, "%s on %s: %zu shared values, the host path's %zu", what, where,
          got->m.n_shared, ref->m.n_shared);
    if (ref->m.n_shared && ref->m.n_shared == got->m.n_shared) {
        double ds = max_diff(ref->m.shared, got->m.shared, ref->m.n_shared);
        CHECK(ds <= tol_model, "%s on %s: shared layers differ by %g (tolerance %g)", what, where, ds, tol_model);
    }
    /* PFedRec's fine-tuned rows: the same rows, values within tolerance. */
    CHECK(!ref->m.personal_start == !got->m.personal_start, "%s on %s: personal rows kept by one path only", what,
          where);
    if (ref->m.personal_start && got->m.personal_start) {
        size_t n = ref->m.personal_start[ref->n_users];
        CHECK(got->m.personal_start[ref->n_users] == n &&
                  !memcmp(ref->m.personal_start, got->m.personal_start, (ref->n_users + 1) * sizeof(size_t)) &&
                  !memcmp(ref->m.personal_items, got->m.personal_items, n * sizeof(int32_t)),
              "%s on %s: fine-tuned rows are not the same rows", what, where);
        if (got->m.personal_start[ref->n_users] == n) {
            double dp = max_diff(ref->m.personal_rows, got->m.personal_rows, n * ref->dim);
            CHECK(dp <= tol_model, "%s on %s: fine-tuned rows differ by %g", what, where, dp);
        }
    }
    printf("%-34s %-7s items %.2e  w %.2e  final test HR %.4f vs %.4f  ops/round %llu\n", what, where, di, dw,
           got->r[ROUNDS - 1].test_hr, ref->r[ROUNDS - 1].test_hr, (unsigned long long)got->ops_per_round);
}

static void free_result(run_result *r)
{
    free(r->items);
    fr_pfedrec_model_free(&r->m);
}


int main(void)
{
    const shape shapes[] = {
        {"dense", {11, 120, 300, 60}},  /* a fifth of the matrix rated */
        {"sparse", {12, 500, 2500, 6}}, /* 0.2 %, most users at the minimum */
    };
    const variant variants[] = {
        {"pfedrec", FR_ALGO_PFEDREC, 0, 1, 256, 1.0, 0},
        {"pfedrec 2 epochs, batch 24, cohorts 37", FR_ALGO_PFEDREC, 37, 2, 24, 1.0, 0},
        {"pfedrec sampled 0.4, cohorts 50", FR_ALGO_PFEDREC, 50, 1, 32, 0.4, 0},
        {"fedmf batch 16, cohorts 64", FR_ALGO_FEDMF, 64, 1, 16, 1.0, 0},
        {"fedncf", FR_ALGO_FEDNCF, 0, 1, 256, 1.0, 0},
        {"fedncf 2 epochs, batch 24, cohorts 37", FR_ALGO_FEDNCF, 37, 2, 24, 1.0, 0},
        {"fedncf sampled 0.4, batch 32, cohorts 50", FR_ALGO_FEDNCF, 50, 1, 32, 0.4, 0},
        /* Faults are drawn per client id: an upload handed to another
         * client's slot (the cohort reorders its clients) would be
         * refused in its place. */
        {"fedncf faults 0.3, batch 16, cohorts 23", FR_ALGO_FEDNCF, 23, 1, 16, 1.0, 0.3},
        /* A batch larger than any client's samples: steps as wide as the
         * largest client's batch, not the batch size. */
        {"fedncf batch 100000, cohorts 64", FR_ALGO_FEDNCF, 64, 1, 100000, 1.0, 0},
    };
    fr_backend_options bo;
    fr_backend_options_default(&bo);
    bo.kind = FR_BACKEND_CPU;
    bo.threads = 2;
    fr_backend *cpu = NULL;
    CHECK_OK(fr_backend_open(&bo, &cpu));
    fr_backend *cl = fr_test_open_opencl("test_cohort: OpenCL cohorts");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        fr_ratings r;
        CHECK_OK(fr_implicit_generate(&shapes[s].spec, &r));
        fr_loo_split split;
        CHECK_OK(fr_loo_split_make(&r, 3, 49, &split));
        fr_ratings_free(&r);
        printf("%s: %zu users, %zu items\n", shapes[s].name, split.n_users, split.n_items);
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            char what[96];
            snprintf(what, sizeof what, "%s/%s", shapes[s].name, variants[v].name);
            run_result host, on_cpu, on_cl;
            run(&split, &variants[v], NULL, &host);
            run(&split, &variants[v], cpu, &on_cpu);
            int ncf = variants[v].algorithm == FR_ALGO_FEDNCF;
            compare(what, "cpu", &host, &on_cpu, ncf ? 1e-4 : 1e-5, ncf ? 0.02 : 1e-9, 1e-6);
            /* One cohort, one epoch: a round is 9 ops per batch step (the
             * largest client's batches) and a few more, not one per client. */
            if (variants[v].cohort == 0) {
                size_t most = 0;
                for (size_t u = 0; u < split.n_users; u++)
                    if (split.train_start[u + 1] - split.train_start[u] > most)
                        most = split.train_start[u + 1] - split.train_start[u];
                size_t steps = (most * 5 + variants[v].batch - 1) / variants[v].batch;
                /* FedNCF with L = 3 hidden layers: 7 L + 22 ops a step,
                 * and each cohort's set-up and evaluation (3 L + 11), in
                 * cohorts of 128 by default. */
                size_t cohorts = ncf ? (split.n_users + 127) / 128 : 1;
                size_t bound = ncf ? cohorts * (43 * steps + 20) : 9 * steps + 4;
                CHECK(on_cpu.ops_per_round > 0 && on_cpu.ops_per_round <= bound,
                      "%s: %llu ops per round for %zu batch steps (at most %zu)", what,
                      (unsigned long long)on_cpu.ops_per_round, steps, bound);
            }
            if (cl) {
                run(&split, &variants[v], cl, &on_cl);
                compare(what, "opencl", &host, &on_cl, 1e-3, 0.02, 1e-4);
                free_result(&on_cl);
            }
            free_result(&host);
            free_result(&on_cpu);
        }
        fr_loo_split_free(&split);
    }
    fr_backend_close(cl);
    fr_backend_close(cpu);
    return fr_test_finish("test_cohort");
}
