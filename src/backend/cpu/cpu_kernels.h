/* cpu_kernels.h — the table each instruction-set path provides (internal).
 *
 * A path is one file (cpu_isa_<name>.c) compiled with its own -m flags into
 * its own convenience library; it exports one fr_cpu_kernels table and
 * nothing else. The engine picks a table at run time after checking that
 * the CPU (and OS) support it, so code built with AVX-512 flags only ever
 * runs on CPUs that have AVX-512. The GEMM driver (cpu_gemm.c) is plain C:
 * it blocks and packs with the geometry given here and calls the path's
 * micro-kernels for the arithmetic. */
#ifndef FR_CPU_KERNELS_H
#define FR_CPU_KERNELS_H

#include <stddef.h>

/* One register-blocked GEMM micro-kernel. With
 *     acc(i, j) = sum over p < kc, in increasing p, of A(i, p) * B(p, j)
 * it sets, for the whole mr x nr tile,
 *     C(i, j) = alpha * acc(i, j) + beta * C(i, j)
 * (a fused multiply-add where the ISA has one). beta == 0 writes C without
 * reading it, so NaN or garbage there does not propagate.
 * - A(i, p) = a[i * rs_a + p * cs_a]. A packed panel has rs_a = 1 and
 *   cs_a = mr; the rows of a row-major A are read in place with rs_a = lda,
 *   cs_a = 1. All mr rows must be readable.
 * - B(p, j) = b[p * nr + j]: a packed panel, 64-byte aligned.
 * - C(i, j) = c[i * ldc + j], any alignment.
 * The order of the sum depends on kc alone, which is what makes results
 * independent of the number of threads and of how C is cut into tiles. */
typedef void (*fr_cpu_gemm_micro_fn)(size_t kc, const float *a, size_t rs_a,
                                     size_t cs_a, const float *b, float *c,
                                     size_t ldc, float alpha, float beta);

typedef struct fr_cpu_gemm_kernel {
    size_t mr, nr;             /* register block */
    fr_cpu_gemm_micro_fn micro;
} fr_cpu_gemm_kernel;

struct fr_cpu_kernels {
    const char *name;
    /* The main micro-kernel, and an optional one for products with at most
     * narrow.nr columns, where a full-width panel would be mostly zero
     * padding (narrow.micro == NULL when the path has none). */
    fr_cpu_gemm_kernel gemm, narrow;
    /* Cache blocking, tuned per path: K is cut into slices of at most kc
     * (a B micro-panel kc x nr stays in L1 while A streams from L2), C
     * into blocks of mc rows (an A block mc x kc fits in L2) and nc columns
     * (a packed B slice kc x nc fits in L3). mc must be a multiple of both
     * kernels' mr, nc of both nr. */
    size_t kc, mc, nc;
    /* Level-1 BLAS. */
    void (*axpy)(size_t n, float alpha, const float *x, float *y); /* y += a x */
    float (*dot)(size_t n, const float *x, const float *y);
    /* Euclidean norm with the squares summed in double: for float input
     * they can neither overflow nor underflow, so no scaling is needed. */
    float (*nrm2)(size_t n, const float *x);
    void (*scal)(size_t n, float alpha, float *x);                 /* x *= a */
    /* x[i] = e^(scale x[i] + shift) with every argument in [-87, 0.1],
     * returning sum w[i] x[i] (w NULL: the plain sum) (cpu_vec_exp.h: one
     * C source for every path, vectorised by each path's flags). */
    float (*exp_affine_dot)(size_t n, float scale, float shift, float *x, const float *w);
    /* The first i with !(x[i] < bar) (NaN counts as not below), or n:
     * top-K selection skips the scores that cannot enter (fedrec/metrics.h). */
    size_t (*first_not_below)(size_t n, const float *x, float bar);
};
typedef struct fr_cpu_kernels fr_cpu_kernels;

/* Bounds on mr and nr of every path (the GEMM driver keeps edge tiles in
 * a stack buffer of this size). */
#define FR_GEMM_MAX_MR 16
#define FR_GEMM_MAX_NR 32

/* Each is defined only when its path is built (HAVE_FR_* in config.h). */
extern const fr_cpu_kernels fr_cpu_kernels_scalar;
extern const fr_cpu_kernels fr_cpu_kernels_avx2;
extern const fr_cpu_kernels fr_cpu_kernels_avx512;
extern const fr_cpu_kernels fr_cpu_kernels_neon;

/* The table of a path this build has (cpu_isa.c), or NULL. Takes an
 * fr_cpu_isa; int keeps this header independent of the public one. */
const fr_cpu_kernels *fr_cpu_kernels_for(int isa);

#endif
