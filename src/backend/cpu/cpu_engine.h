/* cpu_engine.h — the CPU compute engine on host pointers (internal).
 *
 * An engine is an instruction-set path (scalar, AVX2+FMA, AVX-512, NEON)
 * plus a pool of host threads (core/pool.h). The CPU backend's ops and the fallback for
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
struct fr_pool;
/* The engine's thread pool (core/pool.h). */
struct fr_pool *fr_cpu_engine_pool(fr_cpu_engine *e);
/* The kernel table of the engine's path (cpu_kernels.h). */
const struct fr_cpu_kernels *fr_cpu_engine_kernels(const fr_cpu_engine *e);

/* Run fn(arg, task) for task in [0, n_tasks) on the engine's workers (the
 * caller's thread takes part). Returns when every task has finished. Tasks
 * must write disjoint memory; results must not depend on which worker ran
 * which task. */
void fr_cpu_parallel_for(fr_cpu_engine *e, size_t n_tasks,
                         void (*fn)(void *arg, size_t task), void *arg);

/* fr_cpu_parallel_for for tasks that can fail. A task returns FR_OK or a
 * status it set with fr_fail on whichever thread ran it; the engine keeps
 * that status with its message, and this call returns the failure of the
 * lowest-numbered failing task with the message set on the caller's
 * thread (fr_last_error), as if the caller had run the task itself.
 * Tasks not yet started when one fails are skipped; every task numbered
 * below a failing one has started by then and finishes, so which failure
 * is reported does not depend on the thread count or the timing. */
fr_status fr_cpu_parallel_try(fr_cpu_engine *e, size_t n_tasks,
                              fr_status (*fn)(void *arg, size_t task), void *arg);

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

/* C = A op(B) (A m x k row-major, not transposed) without ever holding
 * C whole: tasks on the engine's threads take blocks of tile_cols columns
 * (split into groups of rows when there are fewer than 4 blocks per
 * thread), and for each run of tile_rows rows of its block a task computes
 * that tile in its slot's buffer and calls consume(arg, slot, i0, rows,
 * j0, cols, c, ldc): C(i0 + i, j0 + j) = c[i * ldc + j]. Each tile comes
 * once; tasks run concurrently, in no fixed order, so consume must write
 * only what its slot owns (or disjoint memory). Each value equals fr_cpu_sgemm's (alpha 1, beta 0) for this
 * m x n x k unless that takes one of its small-shape paths (tiny
 * products, m == 1). Uses the engine's scratch (both kinds) of every
 * slot; FR_ERR_NOMEM when it cannot grow them. Only from the thread
 * that drives the engine, like fr_cpu_sgemm. row_limit, when not NULL,
 * has one count per block of tile_cols columns: only rows
 * [0, row_limit[b]) of block b are computed and handed out. */
typedef void (*fr_cpu_tile_fn)(void *arg, int slot, size_t i0, size_t rows, size_t j0, size_t cols,
                               const float *c, size_t ldc);
fr_status fr_cpu_sgemm_tiles(fr_cpu_engine *e, fr_transpose tb, size_t m, size_t n, size_t k,
                             const float *a, size_t lda, const float *b, size_t ldb, size_t tile_rows,
                             size_t tile_cols, const size_t *row_limit, fr_cpu_tile_fn consume, void *arg);

/* Level-1 BLAS with the engine's ISA (single-threaded: they are memory
 * bound at the sizes models use). */
void fr_cpu_saxpy(const fr_cpu_engine *e, size_t n, float alpha,
                  const float *x, float *y);
float fr_cpu_sdot(const fr_cpu_engine *e, size_t n, const float *x,
                  const float *y);
float fr_cpu_snrm2(const fr_cpu_engine *e, size_t n, const float *x);
void fr_cpu_sscal(const fr_cpu_engine *e, size_t n, float alpha, float *x);

/* ---- Threading and scratch details (used by cpu_gemm.c) ---------------
 * Concurrency: an engine serves one calling thread at a time. Its
 * functions (GEMM, parallel_for, scratch of slot 0) must not be entered
 * from two threads at once; a backend is driven from one thread, and two
 * engines are independent. The threads are a host pool (core/pool.h). */

/* fr_cpu_parallel_for that also tells each task the slot of the thread
 * running it: 0 for the calling thread, 1 .. threads - 1 for the workers.
 * A slot runs one task at a time, so a task may use its slot's scratch. */
void fr_cpu_parallel_for_slot(fr_cpu_engine *e, size_t n_tasks,
                              void (*fn)(void *arg, size_t task, int slot),
                              void *arg);

/* Scratch buffers kept by the engine between calls, FR_CPU_SCRATCH_KINDS
 * per thread slot (GEMM: 0 for packed A, 1 for packed B). Returns buffer
 * `kind` of `slot`, at least `bytes` long and 64-byte aligned, growing it
 * if needed (contents are then lost), or NULL if it cannot grow. Only the
 * thread running as `slot` may call this and use the buffer; between
 * parallel_for calls the calling thread owns every slot, so it may size
 * them all in advance (then a task's call with no larger size cannot
 * fail) and share slot 0's buffers with the tasks read-only. */
#define FR_CPU_SCRATCH_KINDS 2
void *fr_cpu_engine_scratch(fr_cpu_engine *e, int slot, int kind, size_t bytes);

#endif
