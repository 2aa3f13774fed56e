/* cpu_gemm_impl.h — what the GEMM driver (cpu_gemm.c) shares with its
 * packing routines and small-shape paths (cpu_gemm_pack.c). Internal. */
#ifndef FR_CPU_GEMM_IMPL_H
#define FR_CPU_GEMM_IMPL_H

#include <stddef.h>

#include "backend/cpu/cpu_kernels.h"
#include "fedrec/backend.h"

/* One GEMM: the call's arguments, then the blocking chosen for it. */
typedef struct gemm_plan {
    fr_transpose ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    size_t lda, ldb, ldc;
    /* Set by the planner. */
    fr_cpu_gemm_kernel kern;  /* main or narrow kernel */
    size_t kc;                /* K slice depth (the last may be shallower) */
    size_t kb;                /* K per packed B: a multiple of kc, or k */
    size_t nc;                /* columns per block, a multiple of kern.nr */
    size_t mc;                /* rows per task, a multiple of kern.mr */
    int threads;              /* threads this GEMM runs on */
} gemm_plan;

/* Pack rows [i0, i0 + rows) x columns [p0, p0 + kc) of op(A) into one
 * mr-tall panel: dst[p * mr + i], rows < mr zero-padded. */
void fr_gemm_pack_a(const gemm_plan *pl, size_t i0, size_t rows, size_t p0,
                    size_t kc, float *dst);
/* Pack rows [p0, p0 + kc) x columns [j0, j0 + cols) of op(B) into one
 * nr-wide panel: dst[p * nr + j], cols < nr zero-padded. */
void fr_gemm_pack_b(const gemm_plan *pl, size_t p0, size_t kc, size_t j0,
                    size_t cols, float *dst);

/* Whether a shape goes to one of the unblocked paths below (tiny products,
 * a single row or column of C): a function of the shape only. */
int fr_gemm_small_shape(const gemm_plan *pl, const fr_cpu_kernels *ks);
/* Run such a shape (m, n, k >= 1, alpha != 0) and return 1; return 0
 * for any other shape. */
int fr_gemm_small(const gemm_plan *pl, const fr_cpu_kernels *ks);
/* The textbook triple loop (C = alpha * op(A) op(B) + beta * C): tiny
 * products, and the fallback when no memory is left for packing. */
void fr_gemm_naive(const gemm_plan *pl);

#endif
