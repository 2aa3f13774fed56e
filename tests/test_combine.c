/* test_combine.c — the gradient combiners against hand-worked examples:
 * EW and main-only, PCGrad on two conflicting vectors, GradVac's first step
 * (targets 0: PCGrad's projection), CAGrad with c = 0 (the mean) and its
 * simplex solution against a fine grid, PMTRec's weights by hand, with
 * tau -> infinity (EW / T) and tau -> 0 (the larger norm only), focusing
 * alone, RLW's draws, GradDrop's sign rule, Nash-MTL's bargaining
 * equations, Aligned-MTL and MGDA on orthogonal gradients, the eigen-solver,
 * the errors, PMTRec combined in ranges of rows, and every method's
 * weights from the gradients' inner products against fr_combine. */
#include <math.h>
#include <string.h>

#include "fedrec/combine.h"
#include "testutil.h"

static fr_combiner *make(fr_combine_method method, size_t tasks)
{
    fr_combine_options o;
    fr_combine_options_default(&o);
    o.method = method;
    o.tasks = tasks;
    o.seed = 7;
    fr_combiner *c = NULL;
    CHECK_OK(fr_combiner_create(&o, &c));
    return c;
}

/* Combine two tasks' one-row gradients of length 2. */
static void combine2(fr_combiner *c, const float *g0, const float *g1, float *out,
                     fr_combine_stats *stats)
{
    const float *grads[2] = {g0, g1};
    CHECK_OK(fr_combine(c, grads, 1, 2, 0, 0, out, stats));
}

static void test_ew_main(void)
{
    float g0[2] = {1, 2}, g1[2] = {3, -5}, out[2];
    fr_combiner *c = make(FR_COMBINE_EW, 2);
    combine2(c, g0, g1, out, NULL);
    CHECK(out[0] == 4 && out[1] == -3, "EW %g %g", out[0], out[1]);
    fr_combiner_free(c);
    c = make(FR_COMBINE_MAIN, 2);
    combine2(c, g0, g1, out, NULL);
    CHECK(out[0] == 1 && out[1] == 2, "main %g %g", out[0], out[1]);
    fr_combiner_free(c);
}

static void test_pcgrad(void)
{
    /* g1 . g2 = -1: g1' = g1 + g2 / 2 = (0.5, 0.5), g2' = g2 + g1 = (0, 1) */
    float g0[2] = {1, 0}, g1[2] = {-1, 1}, out[2];
    fr_combine_stats st;
    fr_combiner *c = make(FR_COMBINE_PCGRAD, 2);
    combine2(c, g0, g1, out, &st);
    CHECK_NEAR(out[0], 0.5, 1e-6);
    CHECK_NEAR(out[1], 1.5, 1e-6);
    CHECK(st.conflicts == 1, "conflicts %u", st.conflicts);
    CHECK_NEAR(st.norm[1], sqrt(2.0), 1e-9); /* the whole vector's norm */
    /* no conflict: the plain sum */
    float h1[2] = {1, 1};
    combine2(c, g0, h1, out, &st);
    CHECK_NEAR(out[0], 2, 1e-6);
    CHECK_NEAR(out[1], 1, 1e-6);
    CHECK(st.conflicts == 0, "conflicts %u", st.conflicts);
    fr_combiner_free(c);

    /* GradVac's first step aims at cosine 0 from targets 0: PCGrad's
     * projection for two tasks. */
    c = make(FR_COMBINE_GRADVAC, 2);
    combine2(c, g0, g1, out, NULL);
    CHECK_NEAR(out[0], 0.5, 1e-6);
    CHECK_NEAR(out[1], 1.5, 1e-6);
    fr_combiner_free(c);
}

static double cagrad_objective(const double *gram, const double *w, double c)
{
    double a[2] = {0.5, 0.5}, wga = 0, wgw = 0, aga = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            wga += w[i] * gram[i * 2 + j] * a[j];
            wgw += w[i] * gram[i * 2 + j] * w[j];
            aga += a[i] * gram[i * 2 + j] * a[j];
        }
    return wga + c * sqrt(aga) * sqrt(wgw);
}

static void test_cagrad(void)
{
    float g0[2] = {2, 0}, g1[2] = {-1, 1}, out[2];
    fr_combine_options o;
    fr_combine_options_default(&o);
    o.method = FR_COMBINE_CAGRAD;
    o.tasks = 2;
    o.cagrad_c = 0;
    fr_combiner *c = NULL;
    CHECK_OK(fr_combiner_create(&o, &c));
    combine2(c, g0, g1, out, NULL);
    CHECK_NEAR(out[0], 0.5, 1e-6); /* the mean */
    CHECK_NEAR(out[1], 0.5, 1e-6);
    fr_combiner_free(c);

    /* The simplex solution beats every point of a fine grid. */
    double gram[4] = {4, -2, -2, 2}, w[2];
    fr_combine_cagrad_weights(gram, 2, 0.5, w);
    CHECK_NEAR(w[0] + w[1], 1, 1e-9);
    double best = INFINITY;
    for (int i = 0; i <= 10000; i++) {
        double v[2] = {i / 10000.0, 1 - i / 10000.0};
        double f = cagrad_objective(gram, v, 0.5);
        if (f < best)
            best = f;
    }
    CHECK(cagrad_objective(gram, w, 0.5) <= best + 1e-7, "objective %.9g > grid %.9g",
          cagrad_objective(gram, w, 0.5), best);

    /* and the update is (g0 + c |g0| / |gw| gw) / (1 + c^2) */
    o.cagrad_c = 0.5;
    CHECK_OK(fr_combiner_create(&o, &c));
    combine2(c, g0, g1, out, NULL);
    double gw[2] = {w[0] * 2 - w[1], w[1]}, mean[2] = {0.5, 0.5};
    double lambda = 0.5 * sqrt(0.5) / sqrt(gw[0] * gw[0] + gw[1] * gw[1]);
    CHECK_NEAR(out[0], (mean[0] + lambda * gw[0]) / 1.25, 1e-5);
    CHECK_NEAR(out[1], (mean[1] + lambda * gw[1]) / 1.25, 1e-5);
    fr_combiner_free(c);
}

static void test_pmtrec(void)
{
    /* Two rows, two tasks. Row 0: g0 = (3, 4) (norm 5), g1 = (0, 1); row 1:
     * g0 = 0, g1 = (2, 0). alpha 2 at epoch 1 doubles the main norm. */
    float g0[4] = {3, 4, 0, 0}, g1[4] = {0, 1, 2, 0}, out[4];
    const float *grads[2] = {g0, g1};
    fr_combine_options o;
    fr_combine_options_default(&o);
    o.tasks = 2;
    o.alpha = 2;
    o.tau = 10;
    fr_combiner *c = NULL;
    CHECK_OK(fr_combiner_create(&o, &c));
    fr_combine_stats st;
    CHECK_OK(fr_combine(c, grads, 2, 2, 1, 0, out, &st));
    /* row 0: n = (10, 1) / 10 -> softmax(1, 0.1) */
    double w0 = exp(1.0) / (exp(1.0) + exp(0.1)), w1 = 1 - w0;
    CHECK_NEAR(out[0], w0 * 3, 1e-5);
    CHECK_NEAR(out[1], w0 * 4 + w1 * 1, 1e-5);
    /* row 1: n = (0, 2) / 10 -> softmax(0, 0.2) */
    double v1 = exp(0.2) / (1 + exp(0.2));
    CHECK_NEAR(out[2], v1 * 2, 1e-5);
    CHECK_NEAR(out[3], 0, 1e-7);
    CHECK_NEAR(st.weight[0], (w0 + (1 - v1)) / 2, 1e-6);
    CHECK_NEAR(st.norm[0], 2.5, 1e-6); /* rows' norms 5 and 0, before focusing */
    CHECK_NEAR(st.norm[1], 1.5, 1e-6); /* 1 and 2 */
    fr_combiner_free(c);

    /* tau -> infinity: equal weights, EW / T */
    o.tau = 1e30;
    CHECK_OK(fr_combiner_create(&o, &c));
    CHECK_OK(fr_combine(c, grads, 2, 2, 5, 0, out, NULL));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(out[i], (g0[i] + g1[i]) / 2, 1e-6);
    fr_combiner_free(c);

    /* tau -> 0: the larger (focused) norm takes the row */
    o.tau = 1e-6;
    CHECK_OK(fr_combiner_create(&o, &c));
    CHECK_OK(fr_combine(c, grads, 2, 2, 0, 0, out, NULL));
    CHECK_NEAR(out[0], 3, 1e-6);
    CHECK_NEAR(out[1], 4, 1e-6);
    CHECK_NEAR(out[2], 2, 1e-6);
    fr_combiner_free(c);

    /* without balancing: w_main = alpha^s / (alpha^s + T - 1) in every row */
    o.tau = 10;
    o.balancing = 0;
    CHECK_OK(fr_combiner_create(&o, &c));
    CHECK_OK(fr_combine(c, grads, 2, 2, 2, 0, out, NULL));
    CHECK_NEAR(out[0], 0.8 * 3, 1e-6);
    CHECK_NEAR(out[1], 0.8 * 4 + 0.2 * 1, 1e-6);
    CHECK_NEAR(out[2], 0.2 * 2, 1e-6);
    fr_combiner_free(c);

    /* without focusing: alpha^s is 1 whatever the epoch */
    o.balancing = 1;
    o.focusing = 0;
    o.tau = 1e-6;
    CHECK_OK(fr_combiner_create(&o, &c));
    float h0[2] = {1, 0}, h1[2] = {0, 2};
    const float *hg[2] = {h0, h1};
    CHECK_OK(fr_combine(c, hg, 1, 2, 50, 0, out, NULL));
    CHECK_NEAR(out[0], 0, 1e-6); /* task 1's norm 2 beats 1 (alpha^50 ignored) */
    CHECK_NEAR(out[1], 2, 1e-6);
    fr_combiner_free(c);

    /* tau_relative: row 0's norms (5, 1), mean 3 before focusing, alpha 2
     * at epoch 1: logits (10, 1) / (0.5 * 3); row 1's (0, 2), mean 1:
     * logits (0, 2 / 0.5). */
    o.focusing = 1;
    o.tau = 0.5;
    o.tau_relative = 1;
    CHECK_OK(fr_combiner_create(&o, &c));
    CHECK_OK(fr_combine(c, grads, 2, 2, 1, 0, out, NULL));
    double r0 = 1 / (1 + exp((1.0 - 10.0) / 1.5)), r1 = exp(4.0) / (1 + exp(4.0));
    CHECK_NEAR(out[0], r0 * 3, 1e-5);
    CHECK_NEAR(out[1], r0 * 4 + (1 - r0) * 1, 1e-5);
    CHECK_NEAR(out[2], r1 * 2, 1e-5);
    /* scale-free: gradients 1000 times larger get the same weights (the
     * paper's form would give the larger norm the whole row) */
    float big0[4], big1[4], big_out[4];
    for (int i = 0; i < 4; i++) {
        big0[i] = 1000 * g0[i];
        big1[i] = 1000 * g1[i];
    }
    const float *big[2] = {big0, big1};
    CHECK_OK(fr_combine(c, big, 2, 2, 1, 0, big_out, NULL));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(big_out[i], 1000 * out[i], 1e-2);
    fr_combiner_free(c);
    o.tau_relative = 0;
    CHECK_OK(fr_combiner_create(&o, &c));
    CHECK_OK(fr_combine(c, big, 2, 2, 1, 0, big_out, NULL));
    CHECK(fabs(big_out[2] - 1000 * out[2]) > 1, "the paper's form is not scale-free: %g vs %g", big_out[2], 1000 * out[2]);
    fr_combiner_free(c);
}

static void test_rlw_graddrop(void)
{
    float g0[2] = {1, -1}, g1[2] = {2, 3}, out[2], again[2];
    fr_combine_stats st;
    fr_combiner *c = make(FR_COMBINE_RLW, 2);
    const float *grads[2] = {g0, g1};
    CHECK_OK(fr_combine(c, grads, 1, 2, 3, 4, out, &st));
    CHECK_NEAR(st.weight[0] + st.weight[1], 1, 1e-9);
    CHECK(st.weight[0] > 0 && st.weight[1] > 0, "weights %g %g", st.weight[0], st.weight[1]);
    CHECK_NEAR(out[0], st.weight[0] * 1 + st.weight[1] * 2, 1e-5);
    CHECK_OK(fr_combine(c, grads, 1, 2, 3, 4, again, NULL));
    CHECK(out[0] == again[0] && out[1] == again[1], "same step, same draw");
    double first = st.weight[0];
    CHECK_OK(fr_combine(c, grads, 1, 2, 3, 5, again, &st));
    CHECK(st.weight[0] != first, "another step draws again");
    fr_combiner_free(c);

    /* GradDrop: signs that agree are all kept; opposite equal magnitudes
     * keep one side per coordinate. */
    c = make(FR_COMBINE_GRADDROP, 2);
    float p0[2] = {1, 2}, p1[2] = {3, 4};
    combine2(c, p0, p1, out, NULL);
    CHECK(out[0] == 4 && out[1] == 6, "agreeing signs %g %g", out[0], out[1]);
    {
        fr_combine_stats gs;
        const float *pg[2] = {p0, p1};
        CHECK_OK(fr_combine(c, pg, 1, 2, 0, 0, out, &gs));
        CHECK_NEAR(gs.norm[1], 5, 1e-9); /* |(3, 4)| */
        CHECK_NEAR(gs.weight[0], 1, 1e-12); /* every component kept */
    }
    enum { N = 1000 };
    static float a[N], b[N], o2[N];
    for (int i = 0; i < N; i++) {
        a[i] = 1;
        b[i] = -1;
    }
    const float *ab[2] = {a, b};
    CHECK_OK(fr_combine(c, ab, N / 2, 2, 0, 0, o2, NULL));
    int pos = 0;
    for (int i = 0; i < N; i++) {
        CHECK(o2[i] == 1 || o2[i] == -1, "coordinate %d is %g", i, o2[i]);
        pos += o2[i] > 0;
    }
    CHECK(pos > 400 && pos < 600, "%d of %d kept the positive side", pos, N);
    fr_combiner_free(c);
}

static void test_solvers(void)
{
    /* Orthogonal gradients with norms 2 and 1. */
    double gram[4] = {4, 0, 0, 1}, w[2];
    /* Nash: G a = 1 / a on the Gram matrix over its Frobenius norm */
    fr_combine_nash_weights(gram, 2, w);
    double f = sqrt(17.0);
    CHECK_NEAR(w[0], sqrt(f) / 2, 1e-6);
    CHECK_NEAR(w[1], sqrt(f) / 1, 1e-6);
    /* a correlated 3-task case: the residual of G a = 1 / a */
    double g3[9] = {4, 1, -0.5, 1, 2, 0.3, -0.5, 0.3, 1};
    double a3[3], frob = 0;
    for (int i = 0; i < 9; i++)
        frob += g3[i] * g3[i];
    frob = sqrt(frob);
    fr_combine_nash_weights(g3, 3, a3);
    for (int i = 0; i < 3; i++) {
        double ga = 0;
        for (int j = 0; j < 3; j++)
            ga += g3[i * 3 + j] / frob * a3[j];
        CHECK(a3[i] > 0, "alpha %d = %g", i, a3[i]);
        CHECK_NEAR(ga, 1 / a3[i], 1e-6);
    }
    /* Aligned-MTL: both components scaled to the smaller norm */
    fr_combine_aligned_weights(gram, 2, w);
    CHECK_NEAR(w[0], 0.5, 1e-9);
    CHECK_NEAR(w[1], 1.0, 1e-9);
    /* MGDA: the minimum-norm point, w proportional to 1 / |g|^2 */
    fr_combine_mgda_weights(gram, 2, w);
    CHECK_NEAR(w[0], 0.2, 1e-6);
    CHECK_NEAR(w[1], 0.8, 1e-6);
    /* eigen-decomposition reconstructs the matrix */
    double a[16] = {4, 1, 0.5, -1, 1, 3, 0.2, 0, 0.5, 0.2, 2, 0.7, -1, 0, 0.7, 1};
    double values[4], vec[16];
    fr_combine_symmetric_eigen(a, 4, values, vec);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double r = 0;
            for (int k = 0; k < 4; k++)
                r += vec[i * 4 + k] * values[k] * vec[j * 4 + k];
            CHECK_NEAR(r, a[i * 4 + j], 1e-9);
        }
    for (int k = 1; k < 4; k++)
        CHECK(values[k] >= values[k - 1], "eigenvalues ascending");
}

/* Review cases: focusing far past a double's range, CAGrad when the tasks
 * cancel, a third task that conflicts with nobody, GradVac's second step,
 * Aligned-MTL with non-diagonal Gram matrices. */
static void test_hard_cases(void)
{
    float g0[4] = {3, 4, 0, 0}, g1[4] = {0, 1, 2, 0}, out[4];
    const float *grads[2] = {g0, g1};
    fr_combine_options o;
    fr_combine_options_default(&o);
    o.tasks = 2;
    o.alpha = 1.2; /* 1.2^4000 overflows */
    for (int balancing = 0; balancing <= 1; balancing++) {
        o.balancing = balancing;
        fr_combiner *c = NULL;
        CHECK_OK(fr_combiner_create(&o, &c));
        CHECK_OK(fr_combine(c, grads, 2, 2, 4000, 0, out, NULL));
        CHECK(out[0] == 3 && out[1] == 4, "balancing %d: main takes row 0: %g %g", balancing, out[0], out[1]);
        /* row 1: the main task does not touch it */
        if (balancing)
            CHECK_NEAR(out[2], 2 * exp(20.0) / (1 + exp(20.0)), 1e-5); /* logits 0 and 2 / 0.1 */
        else
            CHECK(out[2] == 0 && out[3] == 0, "no balancing: weight 0 for the other task: %g", out[2]);
        fr_combiner_free(c);
    }

    /* CAGrad: tasks 0 and 1 cancel, so g_w can vanish: finite, and the
     * plain mean over 1 + c^2 */
    float c0[3] = {1, 0, 0}, c1[3] = {-1, 0, 0}, c2[3] = {0, 1, 0}, co[3];
    const float *cg[3] = {c0, c1, c2};
    fr_combine_options_default(&o);
    o.method = FR_COMBINE_CAGRAD;
    o.tasks = 3;
    fr_combiner *c = NULL;
    fr_combine_stats st;
    CHECK_OK(fr_combiner_create(&o, &c));
    CHECK_OK(fr_combine(c, cg, 1, 3, 0, 0, co, &st));
    for (int k = 0; k < 3; k++)
        CHECK(isfinite(co[k]) && fabs(st.weight[k]) < 10, "CAGrad weight %d = %g", k, st.weight[k]);
    fr_combiner_free(c);
    /* Nash-MTL on exactly opposite tasks: unbounded, kept finite */
    double opposite[4] = {1, -1, -1, 1}, w[3];
    fr_combine_nash_weights(opposite, 2, w);
    CHECK(isfinite(w[0]) && w[0] > 0 && w[0] <= 1e4, "Nash on opposite tasks: %g", w[0]);

    /* PCGrad with a third task orthogonal to the other two: the two-task
     * answer plus the third, whatever the orders drawn */
    float p0[3] = {1, 0, 0}, p1[3] = {-1, 1, 0}, p2[3] = {0, 0, 2}, po[3];
    const float *pg[3] = {p0, p1, p2};
    o.method = FR_COMBINE_PCGRAD;
    CHECK_OK(fr_combiner_create(&o, &c));
    for (uint64_t step = 0; step < 6; step++) {
        CHECK_OK(fr_combine(c, pg, 1, 3, 0, step, po, NULL));
        CHECK_NEAR(po[0], 0.5, 1e-6);
        CHECK_NEAR(po[1], 1.5, 1e-6);
        CHECK_NEAR(po[2], 2, 1e-6);
    }
    fr_combiner_free(c);

    /* GradVac, second step on the same input: the targets moved to
     * beta * cos; the step aims at them (baselines.md's formula) */
    fr_combine_options_default(&o);
    o.method = FR_COMBINE_GRADVAC;
    o.tasks = 2;
    o.gradvac_beta = 0.5;
    CHECK_OK(fr_combiner_create(&o, &c));
    float v0[2] = {1, 0}, v1[2] = {-1, 1}, vo[2];
    const float *vg[2] = {v0, v1};
    CHECK_OK(fr_combine(c, vg, 1, 2, 0, 0, vo, NULL));
    CHECK_OK(fr_combine(c, vg, 1, 2, 0, 1, vo, NULL));
    {
        /* task 0 against task 1: rho = -1/sqrt2, target = 0.5 rho */
        double rho = -1 / sqrt(2.0), target = 0.5 * rho, n0 = 1, n1 = sqrt(2.0);
        double a0 = n0 * (target * sqrt(1 - rho * rho) - rho * sqrt(1 - target * target)) /
                    (n1 * sqrt(1 - target * target));
        /* task 1 against task 0: same rho and target, norms swapped */
        double a1 = n1 * (target * sqrt(1 - rho * rho) - rho * sqrt(1 - target * target)) /
                    (n0 * sqrt(1 - target * target));
        /* update = (g0 + a0 g1) + (g1 + a1 g0) */
        CHECK_NEAR(vo[0], (1 + a1) * 1 + (1 + a0) * -1, 1e-5);
        CHECK_NEAR(vo[1], (1 + a0) * 1, 1e-5);
    }
    fr_combiner_free(c);

    /* Aligned-MTL on a non-diagonal Gram matrix: with B = sqrt(lmin) V
     * L^-1/2 V^T (the eigen-solver checked above), B^T G B = lmin I, and
     * the weights are B's column sums. */
    double gram[9] = {4, 1.5, -0.5, 1.5, 2, 0.3, -0.5, 0.3, 1};
    double values[3], vec[9], b[9], al[3];
    fr_combine_symmetric_eigen(gram, 3, values, vec);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            b[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++)
                b[i * 3 + j] += sqrt(values[0]) * vec[i * 3 + k] * vec[j * 3 + k] / sqrt(values[k]);
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double btgb = 0;
            for (int k = 0; k < 3; k++)
                for (int l = 0; l < 3; l++)
                    btgb += b[k * 3 + i] * gram[k * 3 + l] * b[l * 3 + j];
            CHECK_NEAR(btgb, i == j ? values[0] : 0, 1e-9);
        }
    fr_combine_aligned_weights(gram, 3, al);
    for (int j = 0; j < 3; j++)
        CHECK_NEAR(al[j], b[0 * 3 + j] + b[1 * 3 + j] + b[2 * 3 + j], 1e-9);
}

static void test_errors(void)
{
    fr_combine_method m;
    for (int i = 0; i < FR_COMBINE_METHODS; i++) {
        CHECK_OK(fr_combine_method_parse(fr_combine_method_name((fr_combine_method)i), &m));
        CHECK(m == (fr_combine_method)i, "name round trip %d", i);
    }
    CHECK(fr_combine_method_parse("pcgrade", &m) == FR_ERR_INVALID, "unknown name");
    CHECK(strstr(fr_last_error(), "pcgrade") != NULL, "message names it: %s", fr_last_error());
    fr_combine_options o;
    fr_combine_options_default(&o);
    o.tasks = FR_COMBINE_MAX_TASKS + 1;
    fr_combiner *c = NULL;
    CHECK(fr_combiner_create(&o, &c) == FR_ERR_INVALID, "too many tasks");
    o.tasks = 2;
    o.tau = 0;
    CHECK(fr_combiner_create(&o, &c) == FR_ERR_INVALID, "tau 0");
    c = make(FR_COMBINE_EW, 2);
    float g0[2] = {1, NAN}, g1[2] = {0, 0}, out[2];
    const float *grads[2] = {g0, g1};
    CHECK(fr_combine(c, grads, 1, 2, 0, 0, out, NULL) == FR_ERR_NUMERIC, "NaN refused");
    fr_combiner_free(c);
}

/* Per-row combiners: rows combined in ranges (as the mtrec trainer
 * does on its threads) come out as when combined at once, and the
 * range statistics weighted by their rows give the whole's; only pmtrec
 * says it is per row. */
static void test_per_row(void)
{
    enum { ROWS = 3000, DIM = 5, T = 3 };
    static float g[T][ROWS * DIM], whole[ROWS * DIM], split[ROWS * DIM];
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < ROWS * DIM; i++) /* some rows untouched by a task */
            g[t][i] = (i / DIM) % (t + 2) == 0 ? 0.0f : (float)sin((double)(i * (t + 3))) * (float)(t + 1) * 1e-3f;
    fr_combiner *c = make(FR_COMBINE_PMTREC, T);
    if (!c)
        return;
    CHECK(fr_combine_per_row(c), "pmtrec is per row");
    const float *grads[T] = {g[0], g[1], g[2]};
    fr_combine_stats all, part, sum;
    memset(&sum, 0, sizeof sum);
    CHECK_OK(fr_combine(c, grads, ROWS, DIM, 3, 0, whole, &all));
    for (size_t r0 = 0; r0 < ROWS; r0 += 1024) {
        size_t rows = ROWS - r0 < 1024 ? ROWS - r0 : 1024;
        const float *piece[T] = {g[0] + r0 * DIM, g[1] + r0 * DIM, g[2] + r0 * DIM};
        CHECK_OK(fr_combine(c, piece, rows, DIM, 3, 0, split + r0 * DIM, &part));
        for (size_t t = 0; t < T; t++) {
            sum.weight[t] += part.weight[t] * (double)rows / ROWS;
            sum.norm[t] += part.norm[t] * (double)rows / ROWS;
        }
    }
    CHECK(!memcmp(whole, split, sizeof whole), "pmtrec: rows combined in ranges differ from all at once");
    for (size_t t = 0; t < T; t++) {
        CHECK_NEAR(sum.weight[t], all.weight[t], 1e-12);
        CHECK_NEAR(sum.norm[t], all.norm[t], 1e-12);
    }
    fr_combiner_free(c);
    static const fr_combine_method global[] = {FR_COMBINE_EW, FR_COMBINE_GRADDROP, FR_COMBINE_NASH};
    for (size_t k = 0; k < sizeof global / sizeof global[0]; k++) {
        c = make(global[k], T);
        CHECK(c && !fr_combine_per_row(c), "%s is not per row", fr_combine_method_name(global[k]));
        fr_combiner_free(c);
    }
}

/* The state a checkpoint keeps: GradVac's targets (T x T), nothing for
 * the others. A GradVac combiner given another's state combines as that
 * one does; a fresh one (targets 0) does not. */
static void test_state(void)
{
    for (int m = 0; m < FR_COMBINE_METHODS; m++) {
        fr_combiner *c = make((fr_combine_method)m, 3);
        size_t want = m == FR_COMBINE_GRADVAC ? 9 : 0;
        CHECK(c && fr_combiner_state_size(c) == want, "%s: state of %zu values, expected %zu",
              fr_combine_method_name((fr_combine_method)m), c ? fr_combiner_state_size(c) : 0, want);
        fr_combiner_free(c);
    }
    fr_combiner *a = make(FR_COMBINE_GRADVAC, 3), *b = make(FR_COMBINE_GRADVAC, 3),
                *fresh = make(FR_COMBINE_GRADVAC, 3);
    float g0[2] = {1, 0}, g1[2] = {-1, 1}, g2[2] = {0.5f, -2}, oa[2], ob[2], of[2];
    const float *g[3] = {g0, g1, g2};
    for (uint64_t step = 0; step < 3; step++)
        CHECK_OK(fr_combine(a, g, 1, 2, 0, step, oa, NULL));
    double state[9] = {0}, back[9] = {0};
    fr_combiner_state_get(a, state);
    int moved = 0;
    for (int k = 0; k < 9; k++)
        moved |= state[k] != 0;
    CHECK(moved, "GradVac's targets moved in 3 steps");
    fr_combiner_state_set(b, state);
    fr_combiner_state_get(b, back);
    CHECK(!memcmp(state, back, sizeof state), "the state comes back");
    CHECK_OK(fr_combine(a, g, 1, 2, 0, 3, oa, NULL));
    CHECK_OK(fr_combine(b, g, 1, 2, 0, 3, ob, NULL));
    CHECK_OK(fr_combine(fresh, g, 1, 2, 0, 3, of, NULL));
    CHECK(!memcmp(oa, ob, sizeof oa), "with the state set, the next step is the same");
    CHECK(memcmp(oa, of, sizeof oa) != 0, "without it, the next step differs");
    fr_combiner_free(a);
    fr_combiner_free(b);
    fr_combiner_free(fresh);
}

/* The rules from inner products (fr_combine_row_weights,
 * fr_combine_gram_weights) give fr_combine's weights, statistics and so
 * combined gradient for every method that has such a rule, computed in
 * double from the same gradients; pmtrec and graddrop have no Gram rule. */
static void test_from_inner_products(void)
{
    enum { ROWS = 40, DIM = 6, T = 3 };
    static float g[T][ROWS * DIM], out[ROWS * DIM];
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < ROWS * DIM; i++)
            g[t][i] = (i / DIM) % (t + 2) == 1 ? 0.0f : (float)cos((double)(i * (2 * t + 1) + t)) * (float)(t + 1) * 0.1f;
    const float *grads[T] = {g[0], g[1], g[2]};
    for (int m = 0; m < FR_COMBINE_METHODS; m++) {
        const char *name = fr_combine_method_name((fr_combine_method)m);
        fr_combiner *c = make((fr_combine_method)m, T), *again = make((fr_combine_method)m, T);
        if (!c || !again) {
            fr_combiner_free(c);
            fr_combiner_free(again);
            continue;
        }
        fr_combine_stats want, got;
        CHECK_OK(fr_combine(c, grads, ROWS, DIM, 4, 9, out, &want));
        double w[T], gram[T * T];
        if (m == FR_COMBINE_PMTREC) { /* per row, from the row's norms */
            double worst = 0, weight[T] = {0}, norm_sum[T] = {0};
            for (size_t r = 0; r < ROWS; r++) {
                double norm[T];
                for (size_t t = 0; t < T; t++) {
                    double sq = 0;
                    for (size_t j = 0; j < DIM; j++)
                        sq += (double)g[t][r * DIM + j] * g[t][r * DIM + j];
                    norm[t] = sqrt(sq);
                    norm_sum[t] += norm[t];
                }
                fr_combine_row_weights(again, norm, 4, w);
                for (size_t j = 0; j < DIM; j++) {
                    float o = 0;
                    for (size_t t = 0; t < T; t++)
                        o += (float)w[t] * g[t][r * DIM + j];
                    worst = fmax(worst, fabs((double)o - out[r * DIM + j]));
                }
                for (size_t t = 0; t < T; t++)
                    weight[t] += w[t];
            }
            CHECK(worst == 0, "pmtrec: rows from their norms differ by %g", worst);
            for (size_t t = 0; t < T; t++) {
                CHECK_NEAR(weight[t] / ROWS, want.weight[t], 1e-12);
                CHECK_NEAR(norm_sum[t] / ROWS, want.norm[t], 1e-12);
            }
        } else {
            for (size_t a = 0; a < T; a++)
                for (size_t b = 0; b < T; b++) {
                    double sum = 0;
                    for (size_t i = 0; i < ROWS * DIM; i++)
                        sum += (double)g[a][i] * g[b][i];
                    gram[a * T + b] = sum;
                }
            fr_status st = fr_combine_gram_weights(again, gram, 4, 9, w, &got);
            if (m == FR_COMBINE_GRADDROP) {
                CHECK(st == FR_ERR_INVALID, "graddrop has no rule on the Gram matrix");
            } else {
                CHECK(st == FR_OK, "%s: %s", name, fr_last_error());
                double worst = 0;
                for (size_t i = 0; st == FR_OK && i < ROWS * DIM; i++) {
                    float o = 0;
                    for (size_t t = 0; t < T; t++)
                        o += (float)w[t] * g[t][i];
                    worst = fmax(worst, fabs((double)o - out[i]));
                }
                CHECK(worst <= 1e-6, "%s: the combination from the Gram matrix differs by %g", name, worst);
                for (size_t t = 0; st == FR_OK && t < T; t++) {
                    CHECK(fabs(got.weight[t] - want.weight[t]) <= 1e-6, "%s: weight %zu %g, fr_combine's %g", name, t,
                          got.weight[t], want.weight[t]);
                    CHECK_NEAR(got.norm[t], want.norm[t], 1e-6);
                }
                CHECK(st != FR_OK || got.conflicts == want.conflicts, "%s: %u conflicts, fr_combine's %u", name,
                      got.conflicts, want.conflicts);
            }
        }
        fr_combiner_free(c);
        fr_combiner_free(again);
    }
    fr_combiner *c = make(FR_COMBINE_EW, T);
    double w[T], bad[T * T] = {1, 0, 0, 0, NAN, 0, 0, 0, 1};
    CHECK(c && fr_combine_gram_weights(c, bad, 0, 0, w, NULL) == FR_ERR_NUMERIC, "a NaN in the Gram matrix");
    fr_combiner_free(c);
    c = make(FR_COMBINE_PMTREC, T);
    CHECK(c && fr_combine_gram_weights(c, bad, 0, 0, w, NULL) == FR_ERR_INVALID, "pmtrec has no Gram rule");
    fr_combiner_free(c);
}

int main(void)
{
    test_ew_main();
    test_pcgrad();
    test_cagrad();
    test_pmtrec();
    test_rlw_graddrop();
    test_solvers();
    test_hard_cases();
    test_errors();
    test_per_row();
    test_state();
    test_from_inner_products();
    return fr_test_finish("test_combine");
}
