/* ops_rows.c — gathered row products and segmented row sums on host
 * pointers: the ops that train many small models at once (a round's
 * clients as one batch, src/rec/rating_cohort.c). Row products split the
 * output range; segmented sums split the segments, whose target rows are
 * distinct, so no two tasks write one row and each sum keeps its order. */
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_ops.h"

typedef struct rows_dot_args {
    const struct fr_cpu_kernels *k;
    size_t dim, ldx, ldy;
    const float *x, *y, *bias;
    const int32_t *xi, *yi;
    float *out;
} rows_dot_args;

static void rows_dot_range(void *arg, size_t j0, size_t j1)
{
    const rows_dot_args *a = arg;
    for (size_t j = j0; j < j1; j++) {
        size_t r = (size_t)a->xi[j];
        float z = a->k->dot(a->dim, a->x + r * a->ldx, a->y + (size_t)a->yi[j] * a->ldy);
        a->out[j] = a->bias ? z + a->bias[r] : z;
    }
}

void fr_cpu_rows_dot(fr_cpu_engine *e, size_t n, size_t dim, const float *x, size_t ldx,
                     const int32_t *xi, const float *y, size_t ldy, const int32_t *yi,
                     const float *bias, float *out)
{
    rows_dot_args a = {fr_cpu_engine_kernels(e), dim, ldx, ldy, x, y, bias, xi, yi, out};
    fr_cpu_ops_ranges(e, n, 2 * dim, FR_CPU_GRAIN_LIGHT, rows_dot_range, &a);
}

typedef struct segment_args {
    const struct fr_cpu_kernels *k;
    size_t dim, ldx, ldy;
    const int32_t *start, *yi, *ci, *xi;
    float alpha;
    const float *coef, *x;
    float *y;
} segment_args;

/* Columns are summed in blocks of SEGMENT_BLOCK: each column's sum runs
 * over k in order whatever the block, so the result is the same for any
 * dim. */
#define SEGMENT_BLOCK 256

static void segment_range(void *arg, size_t s0, size_t s1)
{
    const segment_args *a = arg;
    float acc[SEGMENT_BLOCK];
    for (size_t s = s0; s < s1; s++) {
        size_t k0 = (size_t)a->start[s], k1 = (size_t)a->start[s + 1];
        if (k0 == k1)
            continue;
        float *yrow = a->y + (size_t)a->yi[s] * a->ldy;
        for (size_t c0 = 0; c0 < a->dim; c0 += SEGMENT_BLOCK) {
            size_t w = a->dim - c0 < SEGMENT_BLOCK ? a->dim - c0 : SEGMENT_BLOCK;
            for (size_t c = 0; c < w; c++)
                acc[c] = 0.0f;
            for (size_t k = k0; k < k1; k++) {
                float g = a->coef ? a->coef[a->ci ? (size_t)a->ci[k] : k] : 1.0f;
                size_t r = a->xi ? (size_t)a->xi[k] : k;
                a->k->axpy(w, g, a->x + r * a->ldx + c0, acc);
            }
            a->k->axpy(w, a->alpha, acc, yrow + c0);
        }
    }
}

void fr_cpu_segment_rows_axpy(fr_cpu_engine *e, size_t n_seg, size_t n_contrib, size_t dim,
                              const int32_t *start, const int32_t *yi, float alpha,
                              const float *coef, const int32_t *ci, const float *x, size_t ldx,
                              const int32_t *xi, float *y, size_t ldy)
{
    segment_args a = {fr_cpu_engine_kernels(e), dim, ldx, ldy, start, yi, ci, xi, alpha, coef, x, y};
    /* Work per segment: its share of the contributions' dim-wide adds. */
    size_t per = n_seg ? (n_contrib / n_seg + 1) * dim : dim;
    fr_cpu_ops_ranges(e, n_seg, per, FR_CPU_GRAIN_LIGHT, segment_range, &a);
}
