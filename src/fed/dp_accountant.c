/* dp_accountant.c — the Rényi-DP accountant of the sampled Gaussian
 * mechanism (fedrec/privacy.h): epsilon at delta after some rounds, and the
 * noise multiplier that reaches a target epsilon. Sums run in log space
 * (log-sum-exp over the binomial terms) so large orders and small noise do
 * not overflow. */
#include <math.h>

#include "core/error_internal.h"
#include "fedrec/privacy.h"

#define MAX_ORDER 1024

/* RDP of one round at integer order a >= 2. */
static double rdp_one_round(double q, double sigma, unsigned a)
{
    if (q >= 1.0)
        return (double)a / (2.0 * sigma * sigma);
    double log_q = log(q), log_1q = log1p(-q), terms_max = -INFINITY;
    double la = lgamma((double)a + 1.0);
    /* Two passes: the largest term, then the sum relative to it. */
    for (unsigned k = 0; k <= a; k++) {
        double t = la - lgamma((double)k + 1.0) - lgamma((double)(a - k) + 1.0) + (double)(a - k) * log_1q +
                   (double)k * log_q + ((double)k * k - k) / (2.0 * sigma * sigma);
        if (t > terms_max)
            terms_max = t;
    }
    double sum = 0;
    for (unsigned k = 0; k <= a; k++) {
        double t = la - lgamma((double)k + 1.0) - lgamma((double)(a - k) + 1.0) + (double)(a - k) * log_1q +
                   (double)k * log_q + ((double)k * k - k) / (2.0 * sigma * sigma);
        sum += exp(t - terms_max);
    }
    return (terms_max + log(sum)) / (double)(a - 1);
}

fr_status fr_dp_epsilon(double q, double sigma, unsigned rounds, double delta, double *epsilon,
                        double *order_out)
{
    if (!(q > 0 && q <= 1) || !(sigma > 0) || !isfinite(sigma) || !(delta > 0 && delta < 1))
        return fr_fail(FR_ERR_INVALID, "DP accountant: needs 0 < q <= 1 (%g), sigma > 0 (%g), 0 < delta < 1 (%g)", q,
                       sigma, delta);
    double best = INFINITY, best_order = 0;
    for (unsigned a = 2; a <= MAX_ORDER; a++) {
        double r = (double)rounds * rdp_one_round(q, sigma, a);
        double eps = r + log((double)(a - 1) / a) - (log(delta) + log((double)a)) / (double)(a - 1);
        if (eps < best) {
            best = eps;
            best_order = a;
        }
    }
    *epsilon = best > 0 ? best : 0;
    if (order_out)
        *order_out = best_order;
    return FR_OK;
}

fr_status fr_dp_calibrate(double q, unsigned rounds, double delta, double target, double *sigma)
{
    if (!(target > 0) || !isfinite(target))
        return fr_fail(FR_ERR_INVALID, "DP calibration: the target epsilon must be positive (%g)", target);
    double lo = 1e-3, hi = 0.5, eps;
    for (;;) { /* grow hi until it meets the target */
        FR_TRY(fr_dp_epsilon(q, hi, rounds, delta, &eps, NULL));
        if (eps <= target)
            break;
        lo = hi;
        hi *= 2;
        if (hi > 1e6)
            return fr_fail(FR_ERR_INVALID, "DP calibration: no noise multiplier up to 1e6 reaches epsilon %g in %u rounds",
                           target, rounds);
    }
    while (hi - lo > 1e-4 * hi) {
        double mid = 0.5 * (lo + hi);
        FR_TRY(fr_dp_epsilon(q, mid, rounds, delta, &eps, NULL));
        if (eps <= target)
            hi = mid;
        else
            lo = mid;
    }
    *sigma = hi;
    return FR_OK;
}
