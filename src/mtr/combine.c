/* combine.c — the gradient combiners (see fedrec/combine.h): PMTRec's
 * per-row weighting, GradDrop's per-coordinate rule, and the global
 * methods, which find weights on the original task gradients from their
 * Gram matrix. PCGrad and GradVac are run in that coefficient space: a
 * projected gradient g_t' = sum_k C[t][k] g_k has inner products
 * C[t] . G[:, j], so no T x n intermediate vectors are kept. */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/combine.h"
#include "fedrec/rng.h"

#define T_MAX FR_COMBINE_MAX_TASKS

struct fr_combiner {
    fr_combine_options o;
    double gradvac_target[T_MAX * T_MAX]; /* GradVac's phi-hat, kept across steps */
};

static const char *const method_names[FR_COMBINE_METHODS] = {
    "pmtrec", "ew", "main", "rlw", "pcgrad", "cagrad", "gradvac", "graddrop", "nash", "aligned", "mgda"};

const char *fr_combine_method_name(fr_combine_method m)
{
    return (unsigned)m < FR_COMBINE_METHODS ? method_names[m] : "?";
}

fr_status fr_combine_method_parse(const char *name, fr_combine_method *out)
{
    for (int i = 0; i < FR_COMBINE_METHODS; i++)
        if (strcmp(name, method_names[i]) == 0) {
            *out = (fr_combine_method)i;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID,
                   "unknown gradient combiner '%s' (expected pmtrec, ew, main, rlw, pcgrad, cagrad, gradvac, graddrop, nash, aligned or mgda)",
                   name);
}

void fr_combine_options_default(fr_combine_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = FR_COMBINE_PMTREC;
    o->tasks = 3;
    o->alpha = 1.1;
    o->tau = 0.1;
    o->focusing = 1;
    o->balancing = 1;
    o->cagrad_c = 0.5;
    o->gradvac_beta = 0.01;
}

fr_status fr_combiner_create(const fr_combine_options *o, fr_combiner **out)
{
    *out = NULL;
    if ((unsigned)o->method >= FR_COMBINE_METHODS)
        return fr_fail(FR_ERR_INVALID, "combiner: unknown method %d", (int)o->method);
    if (o->tasks < 1 || o->tasks > T_MAX)
        return fr_fail(FR_ERR_INVALID, "combiner: %zu tasks, expected 1 to %d", o->tasks, T_MAX);
    if (!(o->alpha > 0) || !(o->tau > 0) || !isfinite(o->alpha))
        return fr_fail(FR_ERR_INVALID, "combiner: alpha %g and tau %g must be positive", o->alpha, o->tau);
    if (!(o->cagrad_c >= 0) || !(o->gradvac_beta >= 0 && o->gradvac_beta <= 1))
        return fr_fail(FR_ERR_INVALID, "combiner: CAGrad c %g must be >= 0 and GradVac beta %g in [0, 1]",
                       o->cagrad_c, o->gradvac_beta);
    fr_combiner *c = calloc(1, sizeof *c);
    if (!c)
        return fr_fail_nomem("combiner", sizeof *c);
    c->o = *o;
    *out = c;
    return FR_OK;
}

void fr_combiner_free(fr_combiner *c)
{
    free(c);
}

/* ---- PMTRec: per row ------------------------------------------------- */

/* alpha^epoch overflows a double after some hundreds or thousands of
 * epochs, so focusing works with its logarithm: the main logit is
 * exp(log n_0 + epoch log alpha - log tau), infinite (main weight 1)
 * past exp's range, 0 when the main task does not touch the row. */
static double pmtrec_log_focus(const fr_combiner *c, unsigned epoch)
{
    return c->o.focusing ? (double)epoch * log(c->o.alpha) : 0.0;
}

/* One row's weights from its task norms. */
static void pmtrec_weights(const fr_combiner *c, const double *norm, double log_focus, double *w)
{
    size_t t = c->o.tasks;
    if (c->o.balancing) {
        /* The relative form (this project's extension) measures the
         * norms in units of the row's mean task norm, so one tau fits
         * tables whose gradient scales differ; the mean is taken before
         * focusing, which still grows the main task against it. */
        double tau = c->o.tau;
        if (c->o.tau_relative) {
            double mean = 0;
            for (size_t k = 0; k < t; k++)
                mean += norm[k];
            mean /= (double)t;
            if (mean > 0)
                tau *= mean;
        }
        double logit[T_MAX], top = -INFINITY;
        for (size_t k = 1; k < t; k++)
            logit[k] = norm[k] / tau;
        double log_main = norm[0] > 0 ? log(norm[0]) + log_focus - log(tau) : -INFINITY;
        logit[0] = norm[0] > 0 ? (log_main < 700 ? exp(log_main) : INFINITY) : 0.0;
        for (size_t k = 0; k < t; k++)
            if (logit[k] > top)
                top = logit[k];
        if (isinf(top)) { /* the focused main task takes the row */
            for (size_t k = 0; k < t; k++)
                w[k] = k == 0;
        } else {
            double z = 0;
            for (size_t k = 0; k < t; k++)
                z += w[k] = exp(logit[k] - top);
            for (size_t k = 0; k < t; k++)
                w[k] /= z;
        }
    } else { /* w_main = 1 / (1 + (T - 1) alpha^-s), the others alpha^-s times it */
        double rest = exp(-log_focus), z = 1.0 + (double)(t - 1) * rest;
        for (size_t k = 0; k < t; k++)
            w[k] = (k == 0 ? 1.0 : rest) / z;
    }
}

void fr_combine_row_weights(const fr_combiner *c, const double *norm, unsigned epoch, double *w)
{
    pmtrec_weights(c, norm, pmtrec_log_focus(c, epoch), w);
}

static void combine_pmtrec(const fr_combiner *c, const float *const *grads, size_t n_rows,
                           size_t dim, unsigned epoch, float *out, fr_combine_stats *stats)
{
    size_t t = c->o.tasks;
    double log_focus = pmtrec_log_focus(c, epoch);
    double weight_sum[T_MAX] = {0}, norm_sum[T_MAX] = {0};
    for (size_t r = 0; r < n_rows; r++) {
        double w[T_MAX], norm[T_MAX] = {0};
        for (size_t k = 0; k < t; k++) {
            const float *g = grads[k] + r * dim;
            double s = 0;
            for (size_t j = 0; j < dim; j++)
                s += (double)g[j] * g[j];
            norm[k] = sqrt(s);
            norm_sum[k] += norm[k];
        }
        pmtrec_weights(c, norm, log_focus, w);
        float *o = out + r * dim;
        for (size_t j = 0; j < dim; j++)
            o[j] = 0;
        for (size_t k = 0; k < t; k++) {
            const float *g = grads[k] + r * dim;
            float wk = (float)w[k];
            for (size_t j = 0; j < dim; j++)
                o[j] += wk * g[j];
            weight_sum[k] += w[k];
        }
    }
    if (stats)
        for (size_t k = 0; k < t; k++) {
            stats->weight[k] = n_rows ? weight_sum[k] / (double)n_rows : 0;
            stats->norm[k] = n_rows ? norm_sum[k] / (double)n_rows : 0;
        }
}

/* ---- GradDrop: per coordinate --------------------------------------- */

static void combine_graddrop(const fr_combiner *c, const float *const *grads, size_t n,
                             fr_rng *rng, float *out, fr_combine_stats *stats)
{
    size_t t = c->o.tasks;
    uint64_t kept[T_MAX] = {0}, nonzero[T_MAX] = {0};
    double squares[T_MAX] = {0};
    for (size_t i = 0; i < n; i++) {
        float sum = 0, abs_sum = 0;
        for (size_t k = 0; k < t; k++) {
            sum += grads[k][i];
            abs_sum += fabsf(grads[k][i]);
            squares[k] += (double)grads[k][i] * grads[k][i];
        }
        float p = 0.5f * (1.0f + sum / (abs_sum + 1e-7f));
        float u = fr_rng_uniform(rng);
        float o = 0;
        for (size_t k = 0; k < t; k++) {
            float g = grads[k][i];
            int keep = (p > u && g > 0) || (p < u && g < 0);
            if (g != 0) {
                nonzero[k]++;
                kept[k] += (uint64_t)keep;
            }
            if (keep)
                o += g;
        }
        out[i] = o;
    }
    if (stats)
        for (size_t k = 0; k < t; k++) {
            stats->weight[k] = nonzero[k] ? (double)kept[k] / (double)nonzero[k] : 0;
            stats->norm[k] = sqrt(squares[k]);
        }
}

/* ---- The global methods: weights from the Gram matrix ---------------- */

static void gram_matrix(const float *const *grads, size_t t, size_t n, double *gram)
{
    for (size_t a = 0; a < t; a++)
        for (size_t b = a; b < t; b++) {
            double s = 0;
            const float *x = grads[a], *y = grads[b];
            size_t i = 0;
            for (; i + 64 <= n; i += 64) { /* float partial sums, double total */
                float part = 0;
                for (size_t j = i; j < i + 64; j++)
                    part += x[j] * y[j];
                s += part;
            }
            for (; i < n; i++)
                s += (double)x[i] * y[i];
            gram[a * t + b] = gram[b * t + a] = s;
        }
}

static void random_order(fr_rng *rng, size_t t, size_t skip, size_t *order, size_t *count)
{
    size_t n = 0;
    for (size_t k = 0; k < t; k++)
        if (k != skip)
            order[n++] = k;
    for (size_t i = n; i > 1; i--) {
        size_t j = fr_rng_below(rng, (uint32_t)i);
        size_t x = order[i - 1];
        order[i - 1] = order[j];
        order[j] = x;
    }
    *count = n;
}

/* <sum_k coef[k] g_k, g_j> */
static double coef_dot(const double *gram, size_t t, const double *coef, size_t j)
{
    double s = 0;
    for (size_t k = 0; k < t; k++)
        s += coef[k] * gram[k * t + j];
    return s;
}

/* PCGrad and GradVac share a walk: each task i starts from its own
 * gradient (coef = e_i), meets every other task j in a random order and
 * may add a multiple of g_j (adjust returns whether it did); the update is
 * the sum of the adjusted gradients, w = sum_i coef_i. */
typedef int (*pair_adjust)(fr_combiner *c, const double *gram, double *coef, size_t i, size_t j);

static unsigned adjusted_sum(fr_combiner *c, const double *gram, fr_rng *rng, pair_adjust adjust,
                             double *w)
{
    size_t t = c->o.tasks;
    unsigned adjusted = 0;
    for (size_t k = 0; k < t; k++)
        w[k] = 0;
    for (size_t i = 0; i < t; i++) {
        double coef[T_MAX] = {0};
        coef[i] = 1;
        size_t order[T_MAX], n;
        random_order(rng, t, i, order, &n);
        for (size_t o = 0; o < n; o++)
            adjusted += (unsigned)adjust(c, gram, coef, i, order[o]);
        for (size_t k = 0; k < t; k++)
            w[k] += coef[k];
    }
    return adjusted;
}

/* PCGrad: project g_i' off g_j when they conflict. */
static int pcgrad_adjust(fr_combiner *c, const double *gram, double *coef, size_t i, size_t j)
{
    size_t t = c->o.tasks;
    (void)i;
    double dot = coef_dot(gram, t, coef, j);
    if (dot < 0 && gram[j * t + j] > 0) {
        coef[j] -= dot / gram[j * t + j];
        return 1;
    }
    return 0;
}

/* GradVac: raise the cosine of g_i' and g_j to the pair's moving target. */
static int gradvac_adjust(fr_combiner *c, const double *gram, double *coef, size_t i, size_t j)
{
    size_t t = c->o.tasks;
    double beta = c->o.gradvac_beta, gi_gi = 0;
    for (size_t a = 0; a < t; a++)
        gi_gi += coef[a] * coef_dot(gram, t, coef, a);
    double norm_i = sqrt(fmax(gi_gi, 0)), norm_j = sqrt(fmax(gram[j * t + j], 0));
    if (norm_i == 0 || norm_j == 0)
        return 0;
    double rho = coef_dot(gram, t, coef, j) / (norm_i * norm_j);
    double *target = &c->gradvac_target[i * T_MAX + j];
    int adjusted = rho < *target;
    if (adjusted) {
        double s = sqrt(fmax(1 - *target * *target, 1e-12));
        coef[j] += norm_i * (*target * sqrt(fmax(1 - rho * rho, 0)) - rho * s) / (norm_j * s);
    }
    *target = (1 - beta) * *target + beta * rho;
    return adjusted;
}

static unsigned count_conflicts(const double *gram, size_t t)
{
    unsigned n = 0;
    for (size_t a = 0; a < t; a++)
        for (size_t b = a + 1; b < t; b++)
            n += gram[a * t + b] < 0;
    return n;
}

/* A float is NaN or infinite when its exponent bits are all ones. The
 * test is an OR over integers, which the compiler vectorises (a float
 * sum could not be reordered): it reads every gradient of every step. */
static int all_finite(const float *const *grads, size_t t, size_t n)
{
    for (size_t k = 0; k < t; k++) {
        uint32_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &grads[k][i], sizeof bits);
            bad |= (uint32_t)((bits & 0x7F800000u) == 0x7F800000u);
        }
        if (bad)
            return 0;
    }
    return 1;
}

int fr_combine_per_row(const fr_combiner *c)
{
    return c->o.method == FR_COMBINE_PMTREC;
}

size_t fr_combiner_state_size(const fr_combiner *c)
{
    return c->o.method == FR_COMBINE_GRADVAC ? c->o.tasks * c->o.tasks : 0;
}

void fr_combiner_state_get(const fr_combiner *c, double *out)
{
    size_t t = fr_combiner_state_size(c) ? c->o.tasks : 0;
    for (size_t i = 0; i < t; i++)
        memcpy(out + i * t, &c->gradvac_target[i * T_MAX], t * sizeof *out);
}

void fr_combiner_state_set(fr_combiner *c, const double *in)
{
    size_t t = fr_combiner_state_size(c) ? c->o.tasks : 0;
    for (size_t i = 0; i < t; i++)
        memcpy(&c->gradvac_target[i * T_MAX], in + i * t, t * sizeof *in);
}

/* A global method's weights (w, T of them, zeroed first) from the Gram
 * matrix, its draws from rng; GradVac moves its targets. */
static fr_status gram_weights(fr_combiner *c, const double *gram, fr_rng *rng, double *w)
{
    size_t t = c->o.tasks;
    for (size_t k = 0; k < t; k++)
        w[k] = 0;
    switch (c->o.method) {
    case FR_COMBINE_EW:
        for (size_t k = 0; k < t; k++)
            w[k] = 1;
        break;
    case FR_COMBINE_MAIN:
        w[0] = 1;
        break;
    case FR_COMBINE_RLW: {
        double e[T_MAX], top = -INFINITY, z = 0;
        for (size_t k = 0; k < t; k++) {
            e[k] = fr_rng_normal(rng);
            top = fmax(top, e[k]);
        }
        for (size_t k = 0; k < t; k++)
            z += w[k] = exp(e[k] - top);
        for (size_t k = 0; k < t; k++)
            w[k] /= z;
        break;
    }
    case FR_COMBINE_PCGRAD:
        adjusted_sum(c, gram, rng, pcgrad_adjust, w);
        break;
    case FR_COMBINE_CAGRAD: {
        double ww[T_MAX], cc = c->o.cagrad_c;
        fr_combine_cagrad_weights(gram, t, cc, ww);
        double g0 = 0, gw = 0;
        double a[T_MAX];
        for (size_t k = 0; k < t; k++)
            a[k] = 1.0 / (double)t;
        for (size_t i = 0; i < t; i++)
            for (size_t j = 0; j < t; j++) {
                g0 += a[i] * gram[i * t + j] * a[j];
                gw += ww[i] * gram[i * t + j] * ww[j];
            }
        /* g_w vanishes when the tasks cancel; its direction is then
         * meaningless and lambda would blow up: no correction */
        double norm_g0 = sqrt(fmax(g0, 0)), norm_gw = sqrt(fmax(gw, 0));
        double lambda = cc > 0 && norm_gw > 1e-9 * norm_g0 ? cc * norm_g0 / norm_gw : 0.0;
        for (size_t k = 0; k < t; k++)
            w[k] = (a[k] + lambda * ww[k]) / (1 + cc * cc);
        break;
    }
    case FR_COMBINE_GRADVAC:
        adjusted_sum(c, gram, rng, gradvac_adjust, w);
        break;
    case FR_COMBINE_NASH:
        fr_combine_nash_weights(gram, t, w);
        break;
    case FR_COMBINE_ALIGNED:
        fr_combine_aligned_weights(gram, t, w);
        break;
    case FR_COMBINE_MGDA:
        fr_combine_mgda_weights(gram, t, w);
        break;
    default:
        return fr_fail(FR_ERR_INVALID, "combiner: method %d has no global rule", (int)c->o.method);
    }
    return FR_OK;
}

/* A global method's statistics: its weights, the tasks' norms, the
 * conflicting pairs. */
static void gram_stats(const fr_combiner *c, const double *gram, const double *w, fr_combine_stats *stats)
{
    size_t t = c->o.tasks;
    for (size_t k = 0; k < t; k++) {
        stats->weight[k] = w[k];
        stats->norm[k] = sqrt(fmax(gram[k * t + k], 0));
    }
    stats->conflicts = count_conflicts(gram, t);
}

fr_status fr_combine(fr_combiner *c, const float *const *grads, size_t n_rows, size_t dim,
                     unsigned epoch, uint64_t step, float *out, fr_combine_stats *stats)
{
    size_t t = c->o.tasks, n = n_rows * dim;
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!all_finite(grads, t, n))
        return fr_fail(FR_ERR_NUMERIC, "combiner: a task gradient holds NaN or infinity (epoch %u, step %llu)",
                       epoch, (unsigned long long)step);
    fr_rng rng;
    fr_rng_init(&rng, c->o.seed, epoch, (uint32_t)step, FR_RNG_COMBINE);
    if (c->o.method == FR_COMBINE_PMTREC) {
        combine_pmtrec(c, grads, n_rows, dim, epoch, out, stats);
        return FR_OK;
    }
    if (c->o.method == FR_COMBINE_GRADDROP) {
        combine_graddrop(c, grads, n, &rng, out, stats);
        return FR_OK;
    }
    double w[T_MAX] = {0}, gram[T_MAX * T_MAX];
    int need_gram = c->o.method != FR_COMBINE_EW && c->o.method != FR_COMBINE_MAIN &&
                    c->o.method != FR_COMBINE_RLW;
    if (need_gram || stats)
        gram_matrix(grads, t, n, gram);
    FR_TRY(gram_weights(c, gram, &rng, w));
    float wf[T_MAX];
    for (size_t k = 0; k < t; k++)
        wf[k] = (float)w[k];
    for (size_t i = 0; i < n; i++) {
        float o = 0;
        for (size_t k = 0; k < t; k++)
            o += wf[k] * grads[k][i];
        out[i] = o;
    }
    if (stats)
        gram_stats(c, gram, w, stats);
    return FR_OK;
}

fr_status fr_combine_gram_weights(fr_combiner *c, const double *gram, unsigned epoch, uint64_t step, double *w,
                                  fr_combine_stats *stats)
{
    size_t t = c->o.tasks;
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (c->o.method == FR_COMBINE_PMTREC || c->o.method == FR_COMBINE_GRADDROP)
        return fr_fail(FR_ERR_INVALID, "combiner: %s has no rule on the Gram matrix",
                       fr_combine_method_name(c->o.method));
    for (size_t k = 0; k < t * t; k++)
        if (!isfinite(gram[k]))
            return fr_fail(FR_ERR_NUMERIC, "combiner: a task gradient holds NaN or infinity (epoch %u, step %llu)",
                           epoch, (unsigned long long)step);
    fr_rng rng;
    fr_rng_init(&rng, c->o.seed, epoch, (uint32_t)step, FR_RNG_COMBINE);
    FR_TRY(gram_weights(c, gram, &rng, w));
    if (stats)
        gram_stats(c, gram, w, stats);
    return FR_OK;
}
