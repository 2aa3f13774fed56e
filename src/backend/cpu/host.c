/* host.c — fedrec/host.h: the CPU engine (cpu_engine.h) offered to model
 * code on host pointers. An fr_host owns one engine; its vector table
 * points at the engine's path's own kernels, so a model computing here
 * gets exactly the arithmetic the CPU backend's ops get. */
#include <stdlib.h>
#include <unistd.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/host_pool.h"
#include "core/error_internal.h"
#include "fedrec/host.h"

/* The engine's limit on worker threads (as fr_backend_open's). */
#define HOST_MAX_THREADS 1024

struct fr_host {
    fr_cpu_engine *engine;
    fr_host_vec vec;
};

fr_status fr_host_create(fr_cpu_isa isa, int threads, fr_host **out)
{
    *out = NULL;
    if ((unsigned)isa > (unsigned)FR_ISA_NEON)
        return fr_fail(FR_ERR_INVALID, "unknown CPU path %d (expected auto, scalar, avx2, avx512 or neon)", (int)isa);
    if (isa != FR_ISA_AUTO && !fr_cpu_isa_built(isa))
        return fr_fail(FR_ERR_UNSUPPORTED, "CPU path %s: this build has none (configure found no compiler support for it)",
                       fr_cpu_isa_name(isa));
    if (isa != FR_ISA_AUTO && !fr_cpu_isa_supported(isa))
        return fr_fail(FR_ERR_UNSUPPORTED, "CPU path %s needs CPU features this CPU (or its OS) lacks; 'fedrec devices' lists the supported paths",
                       fr_cpu_isa_name(isa));
    if (threads > HOST_MAX_THREADS)
        return fr_fail(FR_ERR_INVALID, "threads = %d, expected 1..%d (or 0 for every online core)", threads,
                       HOST_MAX_THREADS);
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : cores > HOST_MAX_THREADS ? HOST_MAX_THREADS : (int)cores;
    }
    fr_host *h = calloc(1, sizeof *h);
    if (!h)
        return fr_fail_nomem("host compute", sizeof *h);
    fr_status s = fr_cpu_engine_create(isa == FR_ISA_AUTO ? fr_cpu_isa_best() : isa, threads, &h->engine);
    if (s != FR_OK) {
        free(h);
        return s;
    }
    const fr_cpu_kernels *k = fr_cpu_engine_kernels(h->engine);
    h->vec.dot = k->dot;
    h->vec.axpy = k->axpy;
    h->vec.nrm2 = k->nrm2;
    h->vec.scal = k->scal;
    h->vec.exp_affine_dot = k->exp_affine_dot;
    *out = h;
    return FR_OK;
}

void fr_host_free(fr_host *h)
{
    if (!h)
        return;
    fr_cpu_engine_destroy(h->engine);
    free(h);
}

fr_cpu_isa fr_host_isa(const fr_host *h)
{
    return fr_cpu_engine_isa(h->engine);
}

int fr_host_threads(const fr_host *h)
{
    return fr_cpu_engine_threads(h->engine);
}

const fr_host_vec *fr_host_vec_of(const fr_host *h)
{
    return &h->vec;
}

void fr_host_parallel_for(fr_host *h, size_t n_tasks, void (*task)(void *arg, size_t t), void *arg)
{
    fr_cpu_parallel_for(h->engine, n_tasks, task, arg);
}

fr_status fr_host_parallel_try(fr_host *h, size_t n_tasks, fr_status (*task)(void *arg, size_t t), void *arg)
{
    return fr_cpu_parallel_try(h->engine, n_tasks, task, arg);
}

void fr_host_sgemm(fr_host *h, fr_transpose ta, fr_transpose tb, size_t m, size_t n, size_t k, float alpha,
                   const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    fr_cpu_sgemm(h->engine, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

fr_status fr_host_sgemm_tiles(fr_host *h, fr_transpose tb, size_t m, size_t n, size_t k, const float *a,
                              size_t lda, const float *b, size_t ldb, size_t tile_rows, size_t tile_cols,
                              const size_t *row_limit, fr_host_tile_fn consume, void *arg)
{
    return fr_cpu_sgemm_tiles(h->engine, tb, m, n, k, a, lda, b, ldb, tile_rows, tile_cols, row_limit, consume,
                              arg);
}

void fr_host_adam_rows(fr_host *h, size_t n_rows, size_t dim, const int32_t *rows, const float *grad,
                       float *param, float *m, float *v, const fr_adam_step *step)
{
    fr_cpu_adam_rows(h->engine, n_rows, dim, rows, grad, param, m, v, step);
}

struct fr_pool *fr_host_pool(fr_host *h)
{
    return fr_cpu_engine_pool(h->engine);
}
