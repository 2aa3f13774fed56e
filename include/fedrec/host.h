/* host.h — compute on host memory with the CPU backend's kernels and
 * threads: for model code whose units of work are smaller than a backend
 * op is worth (one client's dot products and row updates, thousands per
 * round: a call through the backend's dispatcher each would cost more
 * than its arithmetic). The MF family's one-by-one clients, centralised
 * MF and the multi-task MF model (mtrec) compute here; on a device the
 * federated ones train through fr_backend's batched ops as cohorts
 * (fedrec/backend.h).
 *
 * An fr_host is an instruction-set path (the CPU backend's: scalar,
 * AVX2+FMA, AVX-512, NEON) and a pool of threads. Results do not depend on
 * the thread count: every function below splits work so that each value
 * is computed in the same order on any number of threads.
 *
 * Thread safety: the vector kernels (fr_host_vec) are pure functions, safe
 * from any thread at once. Everything else on one fr_host is called from
 * one thread at a time (the one that drives it); two fr_host handles are
 * independent. */
#ifndef FEDREC_HOST_H
#define FEDREC_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/backend.h"
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_host fr_host;

/* The vector kernels of a path. */
typedef struct fr_host_vec {
    float (*dot)(size_t n, const float *x, const float *y);
    void (*axpy)(size_t n, float alpha, const float *x, float *y); /* y += alpha x */
    float (*nrm2)(size_t n, const float *x);  /* squares summed in double */
    void (*scal)(size_t n, float alpha, float *x);
    /* x[i] = e^(scale x[i] + shift) for arguments in [-87, 0.1]; returns
     * sum w[i] x[i] (w NULL: the plain sum). */
    float (*exp_affine_dot)(size_t n, float scale, float shift, float *x, const float *w);
} fr_host_vec;

/* isa FR_ISA_AUTO: the best this build has and the CPU supports (else it
 * must be one of those: FR_ERR_UNSUPPORTED); threads <= 0: the online
 * cores. */
fr_status fr_host_create(fr_cpu_isa isa, int threads, fr_host **out);
void fr_host_free(fr_host *h);
fr_cpu_isa fr_host_isa(const fr_host *h);
int fr_host_threads(const fr_host *h);
const fr_host_vec *fr_host_vec_of(const fr_host *h);

/* task(arg, t) for t in [0, n_tasks) on the host's threads (the caller's
 * thread takes part); returns when all have finished. Tasks write disjoint
 * memory. */
void fr_host_parallel_for(fr_host *h, size_t n_tasks, void (*task)(void *arg, size_t t), void *arg);
/* The same for tasks that can fail (FR_OK or a status set with the
 * library's error functions on the thread that ran it): the failure of
 * the lowest-numbered failing task is returned, its message set on the
 * caller's thread; tasks not started when one fails are skipped. */
fr_status fr_host_parallel_try(fr_host *h, size_t n_tasks, fr_status (*task)(void *arg, size_t t), void *arg);

/* Row-major SGEMM on host memory, on the host's threads:
 * C = alpha op(A) op(B) + beta C (beta 0: C only written). */
void fr_host_sgemm(fr_host *h, fr_transpose ta, fr_transpose tb, size_t m, size_t n, size_t k, float alpha,
                   const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
/* C = A op(B) (A m x k, op(B) k x n) handed out in tiles of at most
 * tile_rows x tile_cols as they are computed, never stored whole:
 * consume(arg, slot, i0, rows, j0, cols, c, ldc) gets tile C[i0.., j0..]
 * at c (row stride ldc) on a thread whose number is slot (< threads).
 * row_limit, when not NULL, has one count per block of tile_cols columns:
 * only rows [0, row_limit[b]) of block b are computed. FR_ERR_NOMEM when
 * the scratch cannot grow. */
typedef void (*fr_host_tile_fn)(void *arg, int slot, size_t i0, size_t rows, size_t j0, size_t cols,
                                const float *c, size_t ldc);
fr_status fr_host_sgemm_tiles(fr_host *h, fr_transpose tb, size_t m, size_t n, size_t k, const float *a,
                              size_t lda, const float *b, size_t ldb, size_t tile_rows, size_t tile_cols,
                              const size_t *row_limit, fr_host_tile_fn consume, void *arg);
/* Lazy Adam on the listed rows (distinct) of param: grad holds n_rows
 * compact rows of dim values; only those rows' moments m, v move. */
void fr_host_adam_rows(fr_host *h, size_t n_rows, size_t dim, const int32_t *rows, const float *grad,
                       float *param, float *m, float *v, const fr_adam_step *step);

#ifdef __cplusplus
}
#endif

#endif
