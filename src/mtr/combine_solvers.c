/* combine_solvers.c — the small dense problems behind the global gradient
 * combiners (see fedrec/combine.h): simplex-constrained minimisation by
 * projected gradient, Newton's method for Nash-MTL's bargaining equations,
 * and a Jacobi eigen-solver for Aligned-MTL. Everything is T x T with
 * T <= FR_COMBINE_MAX_TASKS, in double. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fedrec/combine.h"

#define T_MAX FR_COMBINE_MAX_TASKS

/* Euclidean projection of v onto the probability simplex (sort-based). */
static void project_simplex(const double *v, size_t t, double *w)
{
    double u[T_MAX];
    memcpy(u, v, t * sizeof *u);
    for (size_t i = 1; i < t; i++) /* descending insertion sort */
        for (size_t j = i; j > 0 && u[j] > u[j - 1]; j--) {
            double x = u[j];
            u[j] = u[j - 1];
            u[j - 1] = x;
        }
    double cumulative = 0, theta = 0;
    for (size_t i = 0; i < t; i++) {
        cumulative += u[i];
        double candidate = (cumulative - 1.0) / (double)(i + 1);
        if (u[i] - candidate > 0)
            theta = candidate;
    }
    for (size_t i = 0; i < t; i++)
        w[i] = v[i] - theta > 0 ? v[i] - theta : 0;
}

static double quad(const double *g, size_t t, const double *x, const double *y)
{
    double s = 0;
    for (size_t i = 0; i < t; i++)
        for (size_t j = 0; j < t; j++)
            s += x[i] * g[i * t + j] * y[j];
    return s;
}

/* The objectives: CAGrad's w^T G a + k sqrt(w^T G w) (k = c |g0|), or
 * MGDA's w^T G w (k < 0 marks it). */
typedef struct objective {
    const double *g;
    size_t t;
    double a[T_MAX];
    double k;
    int mgda;
} objective;

static double objective_value(const objective *o, const double *w)
{
    if (o->mgda)
        return quad(o->g, o->t, w, w);
    return quad(o->g, o->t, w, o->a) + o->k * sqrt(quad(o->g, o->t, w, w) + 1e-12);
}

static void objective_gradient(const objective *o, const double *w, double *grad)
{
    size_t t = o->t;
    double norm = o->mgda ? 0 : sqrt(quad(o->g, t, w, w) + 1e-12);
    for (size_t i = 0; i < t; i++) {
        double gw = 0, ga = 0;
        for (size_t j = 0; j < t; j++) {
            gw += o->g[i * t + j] * w[j];
            ga += o->g[i * t + j] * o->a[j];
        }
        grad[i] = o->mgda ? 2 * gw : ga + o->k * gw / norm;
    }
}

/* Projected gradient descent with backtracking from the centre. */
static void minimise_on_simplex(const objective *o, double *w)
{
    size_t t = o->t;
    for (size_t i = 0; i < t; i++)
        w[i] = 1.0 / (double)t;
    double f = objective_value(o, w), step = 1.0;
    for (int iter = 0; iter < 500; iter++) {
        double grad[T_MAX], moved[T_MAX], trial[T_MAX];
        objective_gradient(o, w, grad);
        double f_trial = f;
        int improved = 0;
        for (int halving = 0; halving < 60; halving++) {
            for (size_t i = 0; i < t; i++)
                moved[i] = w[i] - step * grad[i];
            project_simplex(moved, t, trial);
            f_trial = objective_value(o, trial);
            if (f_trial < f) {
                improved = 1;
                break;
            }
            step *= 0.5;
        }
        if (!improved)
            break;
        double change = 0;
        for (size_t i = 0; i < t; i++) {
            change += fabs(trial[i] - w[i]);
            w[i] = trial[i];
        }
        double gain = f - f_trial;
        f = f_trial;
        step *= 2.0; /* let it grow back after a short step */
        if (change < 1e-12 || gain < 1e-15 * (fabs(f) + 1e-300))
            break;
    }
}

/* Divide by the mean diagonal so the solvers see O(1) numbers; the
 * weights of every problem here are invariant to that scale. */
static int normalised(const double *gram, size_t t, double *g)
{
    double trace = 0;
    for (size_t i = 0; i < t; i++)
        trace += gram[i * t + i];
    if (!(trace > 0) || !isfinite(trace))
        return 0;
    for (size_t i = 0; i < t * t; i++)
        g[i] = gram[i] * (double)t / trace;
    return 1;
}

void fr_combine_cagrad_weights(const double *gram, size_t t, double c, double *w)
{
    double g[T_MAX * T_MAX];
    if (!normalised(gram, t, g)) {
        for (size_t i = 0; i < t; i++)
            w[i] = 1.0 / (double)t;
        return;
    }
    objective o = {g, t, {0}, 0, 0};
    for (size_t i = 0; i < t; i++)
        o.a[i] = 1.0 / (double)t;
    o.k = c * sqrt(quad(g, t, o.a, o.a) + 1e-12);
    minimise_on_simplex(&o, w);
}

void fr_combine_mgda_weights(const double *gram, size_t t, double *w)
{
    double g[T_MAX * T_MAX];
    if (!normalised(gram, t, g)) {
        for (size_t i = 0; i < t; i++)
            w[i] = 1.0 / (double)t;
        return;
    }
    objective o = {g, t, {0}, 0, 1};
    minimise_on_simplex(&o, w);
}

/* Solve the n x n system a x = b by Gaussian elimination with partial
 * pivoting (a and b are overwritten). Returns 0 when singular. */
static int solve_linear(double *a, double *b, size_t n, double *x)
{
    for (size_t col = 0; col < n; col++) {
        size_t pivot = col;
        for (size_t r = col + 1; r < n; r++)
            if (fabs(a[r * n + col]) > fabs(a[pivot * n + col]))
                pivot = r;
        if (fabs(a[pivot * n + col]) < 1e-300)
            return 0;
        if (pivot != col) {
            for (size_t k = 0; k < n; k++) {
                double tmp = a[col * n + k];
                a[col * n + k] = a[pivot * n + k];
                a[pivot * n + k] = tmp;
            }
            double tmp = b[col];
            b[col] = b[pivot];
            b[pivot] = tmp;
        }
        for (size_t r = col + 1; r < n; r++) {
            double f = a[r * n + col] / a[col * n + col];
            for (size_t k = col; k < n; k++)
                a[r * n + k] -= f * a[col * n + k];
            b[r] -= f * b[col];
        }
    }
    for (size_t i = n; i-- > 0;) {
        double s = b[i];
        for (size_t k = i + 1; k < n; k++)
            s -= a[i * n + k] * x[k];
        x[i] = s / a[i * n + i];
    }
    return 1;
}

static double nash_value(const double *m, size_t n, const double *x)
{
    double s = 0.5 * quad(m, n, x, x);
    for (size_t i = 0; i < n; i++)
        s -= log(x[i]);
    return s;
}

#define NASH_MAX_WEIGHT 1e4

void fr_combine_nash_weights(const double *gram, size_t t, double *w)
{
    /* The authors' code divides G^T G by its Frobenius norm and uses the
     * solution of the normalised problem as the weights. */
    double frob = 0;
    for (size_t i = 0; i < t * t; i++)
        frob += gram[i] * gram[i];
    frob = sqrt(frob);
    size_t active[T_MAX], n = 0;
    for (size_t i = 0; i < t; i++) {
        w[i] = 0;
        if (frob > 0 && gram[i * t + i] > 1e-12 * frob)
            active[n++] = i;
    }
    if (n == 0)
        return;
    double m[T_MAX * T_MAX], x[T_MAX];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            m[i * n + j] = gram[active[i] * t + active[j]] / frob;
        x[i] = 1.0 / sqrt(m[i * n + i]); /* the answer for orthogonal tasks */
    }
    double f = nash_value(m, n, x);
    for (int iter = 0; iter < 100; iter++) {
        double h[T_MAX * T_MAX], grad[T_MAX], delta[T_MAX], gnorm = 0;
        for (size_t i = 0; i < n; i++) {
            double mx = 0;
            for (size_t j = 0; j < n; j++) {
                mx += m[i * n + j] * x[j];
                h[i * n + j] = m[i * n + j];
            }
            h[i * n + i] += 1.0 / (x[i] * x[i]);
            grad[i] = mx - 1.0 / x[i];
            gnorm += grad[i] * grad[i] * x[i] * x[i];
        }
        if (gnorm < 1e-24)
            break;
        double rhs[T_MAX];
        memcpy(rhs, grad, n * sizeof *rhs);
        if (!solve_linear(h, rhs, n, delta))
            break;
        double step = 1.0, trial[T_MAX], f_trial = f;
        int moved = 0;
        for (int halving = 0; halving < 60; halving++, step *= 0.5) {
            /* positive, and bounded: with exactly opposite tasks the
             * problem has no minimum (a1 = a2 -> infinity) */
            int positive = 1;
            for (size_t i = 0; i < n; i++) {
                trial[i] = x[i] - step * delta[i];
                positive &= trial[i] > 0 && trial[i] < NASH_MAX_WEIGHT;
            }
            if (!positive)
                continue;
            f_trial = nash_value(m, n, trial);
            if (f_trial <= f) {
                moved = 1;
                break;
            }
        }
        if (!moved)
            break;
        memcpy(x, trial, n * sizeof *x);
        f = f_trial;
    }
    for (size_t i = 0; i < n; i++)
        w[active[i]] = x[i];
}

void fr_combine_symmetric_eigen(const double *a_in, size_t t, double *values, double *vec)
{
    double a[T_MAX * T_MAX];
    memcpy(a, a_in, t * t * sizeof *a);
    for (size_t i = 0; i < t; i++)
        for (size_t j = 0; j < t; j++)
            vec[i * t + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, total = 0;
        for (size_t i = 0; i < t; i++)
            for (size_t j = 0; j < t; j++) {
                total += a[i * t + j] * a[i * t + j];
                if (i != j)
                    off += a[i * t + j] * a[i * t + j];
            }
        if (off <= 1e-30 * total || off == 0)
            break;
        for (size_t p = 0; p < t; p++)
            for (size_t q = p + 1; q < t; q++) {
                double apq = a[p * t + q];
                if (apq == 0)
                    continue;
                double theta = (a[q * t + q] - a[p * t + p]) / (2 * apq);
                double tan = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double cos = 1.0 / sqrt(tan * tan + 1), sin = tan * cos;
                for (size_t k = 0; k < t; k++) { /* columns p, q */
                    double akp = a[k * t + p], akq = a[k * t + q];
                    a[k * t + p] = cos * akp - sin * akq;
                    a[k * t + q] = sin * akp + cos * akq;
                }
                for (size_t k = 0; k < t; k++) { /* rows p, q */
                    double apk = a[p * t + k], aqk = a[q * t + k];
                    a[p * t + k] = cos * apk - sin * aqk;
                    a[q * t + k] = sin * apk + cos * aqk;
                }
                for (size_t k = 0; k < t; k++) {
                    double vkp = vec[k * t + p], vkq = vec[k * t + q];
                    vec[k * t + p] = cos * vkp - sin * vkq;
                    vec[k * t + q] = sin * vkp + cos * vkq;
                }
            }
    }
    for (size_t i = 0; i < t; i++)
        values[i] = a[i * t + i];
    for (size_t i = 1; i < t; i++) /* ascending, columns along */
        for (size_t j = i; j > 0 && values[j] < values[j - 1]; j--) {
            double x = values[j];
            values[j] = values[j - 1];
            values[j - 1] = x;
            for (size_t k = 0; k < t; k++) {
                double y = vec[k * t + j];
                vec[k * t + j] = vec[k * t + j - 1];
                vec[k * t + j - 1] = y;
            }
        }
}

void fr_combine_aligned_weights(const double *gram, size_t t, double *w)
{
    double values[T_MAX], vec[T_MAX * T_MAX];
    fr_combine_symmetric_eigen(gram, t, values, vec);
    double largest = values[t - 1];
    double tol = largest * (double)t * FLT_EPSILON;
    size_t first = 0; /* the kept eigenvalues: values[first .. t) */
    while (first < t && !(values[first] > tol))
        first++;
    for (size_t i = 0; i < t; i++)
        w[i] = 0;
    if (first == t)
        return;
    double scale = sqrt(values[first]);
    for (size_t col = 0; col < t; col++) {
        double sum = 0;
        for (size_t row = 0; row < t; row++)
            for (size_t k = first; k < t; k++)
                sum += vec[row * t + k] * vec[col * t + k] / sqrt(values[k]);
        w[col] = scale * sum;
    }
}
