/* test_privacy.c — privacy of the rating engine's updates (fedrec/privacy.h).
 * The RDP accountant: with every client sampled its epsilon bounds the
 * exact privacy curve of the Gaussian mechanism (Balle & Wang's analytic
 * formula) from above and not loosely; epsilon grows with rounds and the
 * sampling rate and shrinks with noise; calibration meets its target.
 * Secure aggregation: the masked vectors sum to the encoded sum exactly,
 * a ring's pairs are symmetric, a single masked vector looks uniform and
 * is uncorrelated with the client's values, and a sum missing one client
 * is garbage; the fixed point's bound for a sum of n clients holds, and
 * an update beyond it is rejected like a non-finite one (not the end of
 * the job). The engine: secure aggregation gives the plain aggregate
 * (to fixed-point rounding) for PFedRec, weighted FedMF and FedNCF; local
 * Laplace noise has the Laplace mean magnitude and scales with lambda; the
 * DP noise has the standard deviation sigma C / m and the round reports
 * the accountant's epsilon; inconsistent options are refused. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/pfedrec.h"
#include "fedrec/privacy.h"
#include "fedrec/ratings.h"
#include "fedrec/rng.h"
#include "testutil.h"

/* delta(eps) of the Gaussian mechanism with sensitivity 1, noise sigma. */
static double analytic_delta(double eps, double sigma)
{
    double a = 1.0 / (2 * sigma), b = eps * sigma;
    return 0.5 * erfc((b - a) / sqrt(2.0)) - exp(eps) * 0.5 * erfc((b + a) / sqrt(2.0));
}

static void check_accountant(void)
{
    const double delta = 1e-5;
    /* One round, q = 1: the exact epsilon solves analytic_delta = delta. */
    double sigmas[] = {1.0, 2.0, 5.0};
    for (size_t k = 0; k < 3; k++) {
        double sigma = sigmas[k], lo = 0, hi = 100;
        for (int it = 0; it < 200; it++) {
            double mid = 0.5 * (lo + hi);
            if (analytic_delta(mid, sigma) > delta)
                lo = mid;
            else
                hi = mid;
        }
        double eps, order;
        CHECK_OK(fr_dp_epsilon(1.0, sigma, 1, delta, &eps, &order));
        CHECK(eps >= hi * 0.999 && eps <= hi * 1.35, "sigma %g: RDP epsilon %g, exact %g", sigma, eps, hi);
        CHECK(order >= 2, "order %g", order);
    }
    /* T rounds at q = 1 are one Gaussian mechanism of sigma / sqrt(T). */
    double e1, e2;
    CHECK_OK(fr_dp_epsilon(1.0, 4.0, 16, delta, &e1, NULL));
    CHECK_OK(fr_dp_epsilon(1.0, 1.0, 1, delta, &e2, NULL));
    CHECK_NEAR(e1, e2, 1e-9 + 0.02 * e2);
    /* Monotone in rounds, noise, sampling; sampling amplifies. */
    double a, b, c, d;
    CHECK_OK(fr_dp_epsilon(0.1, 1.0, 10, delta, &a, NULL));
    CHECK_OK(fr_dp_epsilon(0.1, 1.0, 100, delta, &b, NULL));
    CHECK_OK(fr_dp_epsilon(0.1, 2.0, 100, delta, &c, NULL));
    CHECK_OK(fr_dp_epsilon(1.0, 1.0, 100, delta, &d, NULL));
    CHECK(a < b && c < b && b < d / 3, "rounds %g < %g, noise %g < %g, sampling %g << %g", a, b, c, b, b, d);
    /* Calibration: the target is met, a little less noise misses it. */
    double targets[] = {1, 4, 8};
    for (size_t k = 0; k < 3; k++) {
        double sigma, eps, eps_less;
        CHECK_OK(fr_dp_calibrate(0.5, 100, delta, targets[k], &sigma));
        CHECK_OK(fr_dp_epsilon(0.5, sigma, 100, delta, &eps, NULL));
        CHECK_OK(fr_dp_epsilon(0.5, sigma * 0.99, 100, delta, &eps_less, NULL));
        CHECK(eps <= targets[k] && eps_less > targets[k], "target %g: sigma %g gives %g, 0.99 sigma %g",
              targets[k], sigma, eps, eps_less);
    }
    CHECK(fr_dp_epsilon(0, 1, 1, delta, &a, NULL) == FR_ERR_INVALID, "q = 0 refused");
    CHECK(fr_dp_epsilon(0.5, 0, 1, delta, &a, NULL) == FR_ERR_INVALID, "sigma = 0 refused");
    CHECK(fr_dp_calibrate(0.5, 10, delta, -1, &a) == FR_ERR_INVALID, "negative target refused");
}

#define LEN 4096

static void check_secagg(void)
{
    int32_t ids[20];
    for (int i = 0; i < 20; i++)
        ids[i] = 3 * i + 1;
    size_t sizes[] = {20, 4};
    for (size_t t = 0; t < 2; t++) {
        fr_secagg sa = {11, 5, ids, sizes[t], 2};
        size_t n = sizes[t];
        /* Pairs: symmetric; a ring of 20 gives each 4 partners, 4 clients all pairs. */
        for (size_t i = 0; i < n; i++) {
            size_t partners = 0;
            for (size_t j = 0; j < n; j++) {
                CHECK(fr_secagg_paired(&sa, i, j) == fr_secagg_paired(&sa, j, i), "pairs symmetric");
                partners += (size_t)fr_secagg_paired(&sa, i, j);
            }
            CHECK(partners == (n == 20 ? 4 : 3), "client %zu has %zu partners", i, partners);
        }
        float *x = malloc(LEN * sizeof *x);
        uint64_t *masked = malloc(LEN * sizeof *masked), *sum = calloc(LEN, sizeof *sum),
                 *partial = calloc(LEN, sizeof *partial);
        int64_t *expect = calloc(LEN, sizeof *expect);
        double corr_num = 0, corr_x = 0, corr_y = 0;
        unsigned bytes[256] = {0};
        for (size_t j = 0; j < n; j++) {
            fr_rng rng;
            fr_rng_init(&rng, 99, 0, (uint32_t)j, FR_RNG_TEST);
            for (size_t i = 0; i < LEN; i++) {
                x[i] = (fr_rng_uniform(&rng) - 0.5f) * (float)(j + 1);
                expect[i] += (int64_t)llround((double)x[i] * ldexp(1.0, FR_SECAGG_FRACTION_BITS));
            }
            CHECK_OK(fr_secagg_mask(&sa, j, x, LEN, masked));
            fr_secagg_add(sum, masked, LEN);
            if (j + 1 < n)
                fr_secagg_add(partial, masked, LEN);
            if (j == 0) { /* the server's view of one client */
                for (size_t i = 0; i < LEN; i++) {
                    for (int b = 0; b < 8; b++)
                        bytes[(masked[i] >> (8 * b)) & 0xFF]++;
                    double y = (double)(int64_t)masked[i];
                    corr_num += x[i] * y;
                    corr_x += (double)x[i] * x[i];
                    corr_y += y * y;
                }
                size_t same = 0;
                for (size_t i = 0; i < LEN; i++)
                    same += masked[i] == (uint64_t)(int64_t)llround((double)x[i] * ldexp(1.0, FR_SECAGG_FRACTION_BITS));
                CHECK(same == 0, "%zu values sent unmasked", same);
            }
        }
        size_t exact = 0, garbage = 0;
        for (size_t i = 0; i < LEN; i++) {
            exact += (int64_t)sum[i] == expect[i];
            garbage += fabs((double)(int64_t)partial[i]) > 1e6 * ldexp(1.0, FR_SECAGG_FRACTION_BITS);
        }
        CHECK(exact == LEN, "%zu of %d sums exact", exact, LEN);
        CHECK(garbage > LEN * 9 / 10, "a sum missing one client: only %zu of %d values far off", garbage, LEN);
        /* Bytes of one view: chi-square over 256 bins (df 255, sd 22.6). */
        double chi2 = 0, e = LEN * 8 / 256.0;
        for (int b = 0; b < 256; b++)
            chi2 += (bytes[b] - e) * (bytes[b] - e) / e;
        CHECK(chi2 < 400, "masked bytes not uniform: chi-square %g", chi2);
        double corr = corr_num / sqrt(corr_x * corr_y);
        CHECK(fabs(corr) < 0.08, "masked view correlates with the values: %g", corr);
        float decoded[4];
        fr_secagg_decode(sum, 4, 1.0, decoded);
        float x_nan = NAN;
        CHECK(fr_secagg_mask(&sa, 0, &x_nan, 1, masked) == FR_ERR_NUMERIC, "NaN refused");
        float x_big = 2e9f;
        CHECK(fr_secagg_mask(&sa, 0, &x_big, 1, masked) == FR_ERR_NUMERIC, "too large refused");
        free(x);
        free(masked);
        free(sum);
        free(partial);
        free(expect);
    }
}

typedef struct world {
    fr_ratings r;
    fr_loo_split split;
} world;

static void make_world(world *w)
{
    fr_implicit_spec gen = {3, 60, 80, 12};
    CHECK_OK(fr_implicit_generate(&gen, &w->r));
    CHECK_OK(fr_loo_split_make(&w->r, 3, 20, &w->split));
}

static void base_options(fr_pfedrec_options *o, fr_rating_algorithm algorithm)
{
    fr_pfedrec_options_default(o);
    o->seed = 5;
    o->dim = 8;
    o->threads = 2;
    o->algorithm = algorithm;
    o->n_ncf_layers = 2;
    o->ncf_layers[0] = 8;
    o->ncf_layers[1] = 4;
}

/* Items (and FedNCF layers) after `rounds` rounds. */
static float *train(const world *w, const fr_pfedrec_options *o, unsigned rounds, fr_pfedrec_round *last)
{
    fr_pfedrec *p;
    fr_status s = fr_pfedrec_create(&w->split, o, &p);
    CHECK_OK(s);
    if (s != FR_OK)
        return NULL;
    fr_pfedrec_round st;
    for (unsigned k = 0; k < rounds; k++)
        CHECK_OK(fr_pfedrec_run_round(p, k, &st));
    if (last)
        *last = st;
    size_t d = o->algorithm == FR_ALGO_FEDNCF ? 2 * o->dim : o->dim, n = w->split.n_items * d;
    float *items = malloc(n * sizeof *items);
    memcpy(items, fr_pfedrec_items(p), n * sizeof *items);
    fr_pfedrec_free(p);
    return items;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void check_engine(void)
{
    world w;
    make_world(&w);
    size_t n8 = w.split.n_items * 8;
    fr_pfedrec_options o;
    /* Secure aggregation = the plain aggregate, to fixed-point rounding. */
    fr_rating_algorithm algs[] = {FR_ALGO_PFEDREC, FR_ALGO_FEDMF, FR_ALGO_FEDNCF};
    for (size_t a = 0; a < 3; a++) {
        base_options(&o, algs[a]);
        o.weighted = algs[a] == FR_ALGO_FEDMF;
        o.client_fraction = 0.5;
        size_t n = algs[a] == FR_ALGO_FEDNCF ? 2 * n8 : n8;
        fr_pfedrec_round plain_st, secure_st;
        float *plain = train(&w, &o, 3, &plain_st);
        o.secure_agg = 1;
        o.secure_neighbours = 3;
        float *secure = train(&w, &o, 3, &secure_st);
        if (plain && secure) {
            double m = max_diff(plain, secure, n);
            CHECK(m < 1e-4, "algorithm %zu: secure aggregation differs by %g", a, m);
            CHECK(fabs(plain_st.test_hr - secure_st.test_hr) <= 0.02, "algorithm %zu: HR %g vs %g", a,
                  plain_st.test_hr, secure_st.test_hr);
            CHECK(secure_st.bytes_up > plain_st.bytes_up, "masked uploads are dense");
        }
        free(plain);
        free(secure);
    }
    /* Local Laplace noise: one client per round, so the table moves by its
     * noise: mean |noise| = lambda; twice lambda, twice the noise. */
    base_options(&o, FR_ALGO_PFEDREC);
    o.client_fraction = 1.0 / 60;
    float *quiet = train(&w, &o, 1, NULL);
    o.local_noise = 0.1;
    float *noisy1 = train(&w, &o, 1, NULL);
    o.local_noise = 0.2;
    float *noisy2 = train(&w, &o, 1, NULL);
    if (quiet && noisy1 && noisy2) {
        double abs_sum = 0, ratio_err = 0;
        size_t moved = 0;
        for (size_t i = 0; i < n8; i++) {
            double d1 = (double)noisy1[i] - quiet[i], d2 = (double)noisy2[i] - quiet[i];
            if (d1 != 0) {
                moved++;
                abs_sum += fabs(d1);
                ratio_err = fmax(ratio_err, fabs(d2 - 2 * d1));
            }
        }
        CHECK(moved >= 100, "only %zu values carry noise", moved);
        if (moved)
            CHECK_NEAR(abs_sum / (double)moved, 0.1, 0.02);
        CHECK(ratio_err < 1e-4, "noise does not scale with lambda: %g", ratio_err);
    }
    free(quiet);
    free(noisy1);
    free(noisy2);
    /* DP: the noise on every value has sd sigma C / m; epsilon reported. */
    base_options(&o, FR_ALGO_PFEDREC);
    o.clip_norm = 0.5;
    o.client_fraction = 0.5;
    fr_pfedrec_round st;
    float *clipped = train(&w, &o, 1, NULL);
    o.dp_noise = 1.5;
    float *dp = train(&w, &o, 2, &st);
    float *dp1 = NULL;
    {
        fr_pfedrec_round st1;
        dp1 = train(&w, &o, 1, &st1);
        double sd = 0;
        for (size_t i = 0; dp1 && clipped && i < n8; i++)
            sd += ((double)dp1[i] - clipped[i]) * ((double)dp1[i] - clipped[i]);
        sd = sqrt(sd / (double)n8);
        double expect = 1.5 * 0.5 / 30.0; /* m = 30 sampled clients */
        CHECK(fabs(sd - expect) < 0.05 * expect, "DP noise sd %g, expected %g", sd, expect);
        double eps;
        CHECK_OK(fr_dp_epsilon(0.5, 1.5, 1, 1e-5, &eps, NULL));
        CHECK_NEAR(st1.dp_epsilon, eps, 1e-9);
    }
    double eps2;
    CHECK_OK(fr_dp_epsilon(0.5, 1.5, 2, 1e-5, &eps2, NULL));
    CHECK_NEAR(st.dp_epsilon, eps2, 1e-9);
    free(clipped);
    free(dp);
    free(dp1);
    /* Refusals. */
    fr_pfedrec *p = NULL;
    base_options(&o, FR_ALGO_PFEDREC);
    o.dp_noise = 1;
    CHECK(fr_pfedrec_create(&w.split, &o, &p) == FR_ERR_INVALID, "DP without a clip refused");
    o.clip_norm = 1;
    o.weighted = 1;
    CHECK(fr_pfedrec_create(&w.split, &o, &p) == FR_ERR_INVALID, "DP with a weighted mean refused");
    base_options(&o, FR_ALGO_PFEDREC);
    o.secure_agg = 1;
    o.share_score = 1;
    CHECK(fr_pfedrec_create(&w.split, &o, &p) == FR_ERR_INVALID, "secure aggregation with a shared score refused");
    base_options(&o, FR_ALGO_CENTRAL_MF);
    o.local_noise = 0.1;
    CHECK(fr_pfedrec_create(&w.split, &o, &p) == FR_ERR_INVALID, "local noise without clients refused");
    fr_loo_split_free(&w.split);
    fr_ratings_free(&w.r);
}

/* Secure aggregation's range. The bound: 2^31 / n, so n values just
 * below it sum without wrapping and one at it is refused (three clients of
 * 10^9 each, which masking once accepted below 2^30, wrapped around 2^63
 * and decoded to garbage). The engine: with fault_huge = q the faulty
 * clients' updates (10^6 times too large: beyond the bound, and with this
 * item learning rate beyond 2^30 too, where masking used to end the job)
 * are rejected at screening like non-finite ones, so the run equals the
 * plain run with fault_nan = q (the same clients, drawn from the seed), to
 * fixed-point rounding, with the same count of rejected updates. */
static void check_secagg_range(void)
{
    CHECK(fr_secagg_bound(1) == ldexp(1.0, 31) && fr_secagg_bound(4) == ldexp(1.0, 29),
          "bounds %g %g", fr_secagg_bound(1), fr_secagg_bound(4));
    int32_t ids[3] = {2, 5, 9};
    fr_secagg sa = {7, 1, ids, 3, 1};
    float at_bound = (float)fr_secagg_bound(3), big = 1e9f;
    uint64_t masked[2], sum[2] = {0, 0};
    float below[2] = {nextafterf(at_bound, 0.0f), -nextafterf(at_bound, 0.0f)};
    for (size_t j = 0; j < 3; j++) {
        CHECK_OK(fr_secagg_mask(&sa, j, below, 2, masked));
        fr_secagg_add(sum, masked, 2);
    }
    float decoded[2];
    fr_secagg_decode(sum, 2, 1.0, decoded);
    CHECK(fabs(decoded[0] - 3.0 * below[0]) <= 1e-6 * 3.0 * below[0] && fabs(decoded[1] + 3.0 * below[0]) <= 1e-6 * 3.0 * below[0],
          "3 values just below the bound summed to %g and %g, expected +-%g", decoded[0], decoded[1], 3.0 * below[0]);
    CHECK(fr_secagg_mask(&sa, 0, &at_bound, 1, masked) == FR_ERR_NUMERIC, "a value at the bound accepted");
    CHECK(fr_secagg_mask(&sa, 0, &big, 1, masked) == FR_ERR_NUMERIC, "1e9 from each of 3 clients accepted");

    fr_implicit_spec gen = {4, 300, 120, 14};
    world w;
    CHECK_OK(fr_implicit_generate(&gen, &w.r));
    CHECK_OK(fr_loo_split_make(&w.r, 4, 20, &w.split));
    fr_pfedrec_options o;
    base_options(&o, FR_ALGO_PFEDREC);
    o.lr_eta = 20000;
    o.fault_nan = 0.1;
    fr_pfedrec_round nan_st, huge_st;
    float *nan_run = train(&w, &o, 2, &nan_st);
    o.fault_nan = 0;
    o.fault_huge = 0.1;
    o.secure_agg = 1;
    float *huge_run = train(&w, &o, 2, &huge_st);
    CHECK(nan_st.rejected >= 10 && huge_st.rejected == nan_st.rejected,
          "the last round rejected %zu huge updates under secure aggregation, %zu NaN ones without", huge_st.rejected,
          nan_st.rejected);
    if (nan_run && huge_run) {
        double scale = 0;
        for (size_t i = 0; i < w.split.n_items * 8; i++)
            scale = fmax(scale, fabs(nan_run[i]));
        double m = max_diff(nan_run, huge_run, w.split.n_items * 8);
        CHECK(m <= 1e-6 * scale, "secure aggregation with huge updates differs by %g (values up to %g) from NaN updates rejected", m, scale);
    }
    free(nan_run);
    free(huge_run);
    fr_loo_split_free(&w.split);
    fr_ratings_free(&w.r);
}

int main(void)
{
    check_accountant();
    check_secagg();
    check_secagg_range();
    check_engine();
    return fr_test_finish("test_privacy");
}
