/* cpu_engine.h — the CPU compute engine on host pointers (internal).
 *
 * An engine is an instruction-set path (scalar, AVX2+FMA, AVX-512, NEON)
 * plus a pool of worker threads. The CPU backend's ops and the fallback for
 * ops a device backend lacks both end up here. Each ISA path's kernels are
 * compiled in their own file with their own -m flags (see cpu_isa_*.c), and
 * the engine holds a pointer to the table of the path it uses, so one binary
 * runs on any CPU. */
#ifndef FR_CPU_ENGINE_H
#define FR_CPU_ENGINE_H

#include <stddef.h>
#include "fedrec/backend.h"

typedef struct fr_cpu_engine fr_cpu_engine;

/* isa must be a concrete path the build has and the CPU supports (the
 * caller resolves FR_ISA_AUTO with fr_cpu_isa_best()); threads >= 1. */
fr_status fr_cpu_engine_create(fr_cpu_isa isa, int threads, fr_cpu_engine **out);
void fr_cpu_engine_destroy(fr_cpu_engine *e);
fr_cpu_isa fr_cpu_engine_isa(const fr_cpu_engine *e);
int fr_cpu_engine_threads(const fr_cpu_engine *e);

struct fr_cpu_kernels;
/* The kernel table of the engine's path (cpu_kernels.h). */
const struct fr_cpu_kernels *fr_cpu_engine_kernels(const fr_cpu_engine *e);

/* Run fn(arg, task) for task in [0, n_tasks) on the engine's workers (the
 * caller's thread takes part). Returns when every task has finished. Tasks
 * must write disjoint memory; results must not depend on which worker ran
 * which task. */
void fr_cpu_parallel_for(fr_cpu_engine *e, size_t n_tasks,
                         void (*fn)(void *arg, size_t task), void *arg);

/* Row-major SGEMM: C = alpha * op(A) * op(B) + beta * C (beta == 0: C is
 * only written). Packed panels, register-blocked micro-kernel, threads. */
void fr_cpu_sgemm(fr_cpu_engine *e, fr_transpose ta, fr_transpose tb,
                  size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb,
                  float beta, float *c, size_t ldc);

/* batch independent SGEMMs; matrix i of A starts at a + i * stride_a.
 * Threads split the batch when it is large enough, else each GEMM. */
void fr_cpu_sgemm_strided_batched(fr_cpu_engine *e, fr_transpose ta,
                                  fr_transpose tb, size_t m, size_t n,
                                  size_t k, float alpha,
                                  const float *a, size_t lda, size_t stride_a,
                                  const float *b, size_t ldb, size_t stride_b,
                                  float beta,
                                  float *c, size_t ldc, size_t stride_c,
                                  size_t batch);

/* Level-1 BLAS with the engine's ISA (single-threaded: they are memory
 * bound at the sizes models use). */
void fr_cpu_saxpy(const fr_cpu_engine *e, size_t n, float alpha,
                  const float *x, float *y);
float fr_cpu_sdot(const fr_cpu_engine *e, size_t n, const float *x,
                  const float *y);
float fr_cpu_snrm2(const fr_cpu_engine *e, size_t n, const float *x);
void fr_cpu_sscal(const fr_cpu_engine *e, size_t n, float alpha, float *x);

#endif
