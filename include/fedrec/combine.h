/* fedrec/combine.h — combining several tasks' gradients on shared
 * embedding rows into one update (../shared/specs/pmtrec.md and
 * baselines.md).
 *
 * The caller hands T task gradients in one layout: n_rows rows of dim
 * floats, the rows a batch touched, task 0 the main task; a task that does
 * not touch a row has zeros there. The combiner writes one gradient in the
 * same layout for the optimiser.
 *
 * - PMTRec works per row: the row's task norms n_t, the main task's scaled
 *   by alpha^epoch (task focusing), weights softmax(n / tau) (gradient
 *   magnitude balancing), the row's update sum_t w_t g_t. O(rows (dim + T)).
 *   Focusing is computed through its logarithm, so any epoch is finite
 *   (past a double's range the main task simply takes its rows).
 *   Without balancing the weights come from focusing alone (w_main
 *   proportional to alpha^epoch, the others to 1); without focusing alpha
 *   is 1. tau -> infinity gives (1/T) sum_t g_t, EW / T. With
 *   tau_relative (this project's extension, off by default) the softmax
 *   is of n / (tau m), m the row's mean of the T norms before focusing:
 *   the weights no longer depend on the gradients' scale.
 * - The global methods treat all the rows as one vector per task. Except
 *   GradDrop (a per-coordinate rule), each reduces to weights on the
 *   original gradients, found from the T x T Gram matrix (in double); the
 *   update is sum_k w_k g_k:
 *   EW sum_t g_t; MAIN g_0; RLW softmax of N(0, I) drawn per step;
 *   PCGrad (projections in a random order per task); CAGrad (c, the
 *   simplex problem solved by projected gradient, rescaled by 1 + c^2; no
 *   correction when the tasks cancel, g_w ~ 0);
 *   GradVac (EMA targets beta, kept between steps); Nash-MTL (G^T G a =
 *   1/a solved by Newton's method on the Gram matrix divided by its
 *   Frobenius norm, as the authors' code does; weights kept below 1e4,
 *   where exactly opposite tasks leave the problem unbounded); Aligned-MTL (column sums of
 *   sqrt(lambda_min) V Lambda^-1/2 V^T over the eigenvalues above the
 *   rank tolerance); MGDA (minimum-norm point of the simplex). GradDrop:
 *   per coordinate P = (1 + sum g / sum |g|) / 2 and U ~ U(0, 1); task t's
 *   component is kept when it is positive and P > U or negative and P < U.
 *
 * Draws (RLW, PCGrad's and GradVac's orders, GradDrop's U) come from
 * stream (seed, epoch, step, FR_RNG_COMBINE), so they do not depend on
 * threads. */
#ifndef FEDREC_COMBINE_H
#define FEDREC_COMBINE_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_COMBINE_MAX_TASKS 8

typedef enum fr_combine_method {
    FR_COMBINE_PMTREC = 0,
    FR_COMBINE_EW,
    FR_COMBINE_MAIN,
    FR_COMBINE_RLW,
    FR_COMBINE_PCGRAD,
    FR_COMBINE_CAGRAD,
    FR_COMBINE_GRADVAC,
    FR_COMBINE_GRADDROP,
    FR_COMBINE_NASH,
    FR_COMBINE_ALIGNED,
    FR_COMBINE_MGDA,
    FR_COMBINE_METHODS
} fr_combine_method;

typedef struct fr_combine_options {
    fr_combine_method method;
    size_t tasks;          /* T, 1 .. FR_COMBINE_MAX_TASKS; task 0 is the main task */
    uint64_t seed;
    double alpha;          /* PMTRec task focusing base (> 0; 1.1) */
    double tau;            /* PMTRec temperature (> 0; 0.1) */
    int tau_relative;      /* PMTRec: tau in units of the row's mean task norm (0) */
    int focusing;          /* PMTRec: apply alpha^epoch (1) */
    int balancing;         /* PMTRec: softmax of the norms (1) */
    double cagrad_c;       /* CAGrad's c (0.5) */
    double gradvac_beta;   /* GradVac's EMA rate (0.01) */
} fr_combine_options;

/* What a step did, for reports: the mean weight of each task (PMTRec: over
 * the rows; GradDrop: the share of each task's nonzero components kept);
 * each task's gradient norm (PMTRec: the mean over the rows of the row's
 * norm, before focusing; global methods and GradDrop: the norm of the
 * whole vector); and how many task pairs conflicted (negative inner
 * product; global methods). */
typedef struct fr_combine_stats {
    double weight[FR_COMBINE_MAX_TASKS];
    double norm[FR_COMBINE_MAX_TASKS];
    unsigned conflicts;
} fr_combine_stats;

typedef struct fr_combiner fr_combiner;

void fr_combine_options_default(fr_combine_options *o);
/* Name as in configs ("pmtrec", "ew", "main", "rlw", "pcgrad", "cagrad",
 * "gradvac", "graddrop", "nash", "aligned", "mgda") and back; parse returns
 * FR_ERR_INVALID for an unknown name. */
const char *fr_combine_method_name(fr_combine_method m);
fr_status fr_combine_method_parse(const char *name, fr_combine_method *out);

fr_status fr_combiner_create(const fr_combine_options *o, fr_combiner **out);
void fr_combiner_free(fr_combiner *c);
/* grads[t] points to task t's n_rows x dim gradient; out (n_rows x dim)
 * must not alias them. epoch counts from 0 (task focusing uses it); step
 * numbers the call within the epoch (the draws use both). stats may be
 * NULL. Non-finite input gradients are an FR_ERR_NUMERIC error. PMTRec
 * weighs each row from that row alone, so a caller may combine disjoint
 * ranges of rows in separate calls (on separate threads) and get the
 * same rows out; the stats are then per range (fr_combine_per_row says
 * which methods allow it). */
fr_status fr_combine(fr_combiner *c, const float *const *grads, size_t n_rows,
                     size_t dim, unsigned epoch, uint64_t step, float *out,
                     fr_combine_stats *stats);
/* Whether the combiner's rule is per row (pmtrec): see fr_combine. */
int fr_combine_per_row(const fr_combiner *c);
/* What the combiner carries from step to step, for checkpoints: GradVac's
 * targets (T x T values); the other methods carry nothing (PMTRec's
 * weights come from the step's gradients and the epoch, Nash-MTL's and
 * Aligned-MTL's from the step's Gram matrix alone), size 0. state_get
 * copies state_size values out, state_set puts them back. */
size_t fr_combiner_state_size(const fr_combiner *c);
void fr_combiner_state_get(const fr_combiner *c, double *out);
void fr_combiner_state_set(fr_combiner *c, const double *in);

/* ---- The rules from the gradients' inner products ----------------------
 * For a caller that holds the gradients elsewhere (on a device: the
 * federated multi-task cohorts, src/mtr/mtr_cohort.c) and hands over only
 * their inner products; the combined gradient is then sum_k w_k g_k,
 * formed by the caller. Each gives what fr_combine computes from the
 * gradients themselves, up to how the inner products were rounded.
 * row_weights: PMTRec's T weights of one row from its T task norms
 * (before focusing; epoch as fr_combine's). gram_weights: a global
 * method's T weights from the T x T Gram matrix of the tasks' gradients
 * (row-major, in double), with fr_combine's draws (stream (seed, epoch,
 * step, FR_RNG_COMBINE)) and statistics (stats may be NULL); GradVac's
 * targets move as in fr_combine. FR_ERR_NUMERIC for a non-finite entry,
 * FR_ERR_INVALID for pmtrec and graddrop (no rule on the Gram matrix). */
void fr_combine_row_weights(const fr_combiner *c, const double *norm, unsigned epoch, double *w);
fr_status fr_combine_gram_weights(fr_combiner *c, const double *gram, unsigned epoch, uint64_t step,
                                  double *w, fr_combine_stats *stats);

/* ---- The small solvers behind the global methods (exposed for tests) ---
 * gram is T x T row-major (double). Each writes T weights. */
/* CAGrad's simplex problem: min_w w^T G a + c sqrt(a^T G a) sqrt(w^T G w),
 * a = 1/T. */
void fr_combine_cagrad_weights(const double *gram, size_t t, double c, double *w);
/* MGDA: min over the simplex of w^T G w. */
void fr_combine_mgda_weights(const double *gram, size_t t, double *w);
/* Nash-MTL: the positive solution of G a = 1 / a (elementwise); tasks with
 * a zero gradient get 0. */
void fr_combine_nash_weights(const double *gram, size_t t, double *w);
/* Aligned-MTL: column sums of sqrt(lambda_min) V Lambda^-1/2 V^T. */
void fr_combine_aligned_weights(const double *gram, size_t t, double *w);
/* Eigen-decomposition of a symmetric t x t matrix (Jacobi): eigenvalues
 * ascending, eigenvectors as the columns of vec (row-major t x t). */
void fr_combine_symmetric_eigen(const double *a, size_t t, double *values, double *vec);

#ifdef __cplusplus
}
#endif
#endif
