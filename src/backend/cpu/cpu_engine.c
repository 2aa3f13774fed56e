/* cpu_engine.c — an engine: one ISA path's kernel table, a pool of host
 * threads (core/pool.c) and per-thread scratch buffers for packing. */
#include <stdlib.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/error_internal.h"
#include "core/pool.h"

typedef struct scratch_buf {
    void *p;
    size_t bytes;
} scratch_buf;

struct fr_cpu_engine {
    fr_cpu_isa isa;
    const fr_cpu_kernels *k;
    int threads;
    fr_pool *pool;
    scratch_buf *scratch;    /* threads * FR_CPU_SCRATCH_KINDS */
};

const fr_cpu_kernels *fr_cpu_engine_kernels(const fr_cpu_engine *e)
{
    return e->k;
}

fr_cpu_isa fr_cpu_engine_isa(const fr_cpu_engine *e)
{
    return e->isa;
}

int fr_cpu_engine_threads(const fr_cpu_engine *e)
{
    return e->threads;
}

fr_pool *fr_cpu_engine_pool(fr_cpu_engine *e)
{
    return e->pool;
}

fr_status fr_cpu_engine_create(fr_cpu_isa isa, int threads, fr_cpu_engine **out)
{
    *out = NULL;
    if (isa <= FR_ISA_AUTO || isa > FR_ISA_NEON)
        return fr_fail(FR_ERR_INVALID,
                       "CPU engine: isa = %d (%s), expected a concrete path (scalar, avx2, "
                       "avx512, neon; resolve auto with fr_cpu_isa_best, %s here)",
                       (int)isa, fr_cpu_isa_name(isa), fr_cpu_isa_name(fr_cpu_isa_best()));
    if (!fr_cpu_isa_built(isa))
        return fr_fail(FR_ERR_UNSUPPORTED,
                       "this build has no %s path (configure found no compiler support)",
                       fr_cpu_isa_name(isa));
    if (!fr_cpu_isa_supported(isa))
        return fr_fail(FR_ERR_UNSUPPORTED,
                       "this CPU (or its OS) lacks the %s path's instructions; "
                       "'fedrec devices' lists the supported paths", fr_cpu_isa_name(isa));
    if (threads < 1 || threads > 1024)
        return fr_fail(FR_ERR_INVALID, "CPU engine: threads = %d, expected 1..1024", threads);
    fr_cpu_engine *e = calloc(1, sizeof *e);
    if (!e)
        return fr_fail_nomem("CPU engine", sizeof *e);
    e->isa = isa;
    e->k = fr_cpu_kernels_for(isa);
    e->threads = threads;
    size_t n_scratch = (size_t)threads * FR_CPU_SCRATCH_KINDS;
    e->scratch = calloc(n_scratch, sizeof *e->scratch);
    if (!e->scratch) {
        fr_cpu_engine_destroy(e);
        return fr_fail_nomem("CPU engine scratch table", n_scratch * sizeof(scratch_buf));
    }
    fr_status s = fr_pool_create(threads, &e->pool);
    if (s != FR_OK) {
        fr_cpu_engine_destroy(e);
        return s;
    }
    *out = e;
    return FR_OK;
}

void fr_cpu_engine_destroy(fr_cpu_engine *e)
{
    if (!e)
        return;
    fr_pool_destroy(e->pool);
    if (e->scratch)
        for (size_t i = 0; i < (size_t)e->threads * FR_CPU_SCRATCH_KINDS; i++)
            free(e->scratch[i].p);
    free(e->scratch);
    free(e);
}

void *fr_cpu_engine_scratch(fr_cpu_engine *e, int slot, int kind, size_t bytes)
{
    scratch_buf *s = &e->scratch[(size_t)slot * FR_CPU_SCRATCH_KINDS + (size_t)kind];
    if (bytes <= s->bytes && s->p)
        return s->p;
    /* Whole pages, so a slowly growing size does not reallocate often. */
    size_t want = (bytes + 4095) / 4096 * 4096;
    if (want < bytes)
        return NULL; /* overflow */
    free(s->p);
    s->p = aligned_alloc(64, want);
    s->bytes = s->p ? want : 0;
    return s->p;
}

void fr_cpu_parallel_for(fr_cpu_engine *e, size_t n_tasks,
                         void (*fn)(void *arg, size_t task), void *arg)
{
    fr_pool_for(e->pool, n_tasks, fn, arg);
}

void fr_cpu_parallel_for_slot(fr_cpu_engine *e, size_t n_tasks,
                              void (*fn)(void *arg, size_t task, int slot),
                              void *arg)
{
    fr_pool_for_slot(e->pool, n_tasks, fn, arg);
}

fr_status fr_cpu_parallel_try(fr_cpu_engine *e, size_t n_tasks,
                              fr_status (*fn)(void *arg, size_t task), void *arg)
{
    return fr_pool_try(e->pool, n_tasks, fn, arg);
}

void fr_cpu_saxpy(const fr_cpu_engine *e, size_t n, float alpha,
                  const float *x, float *y)
{
    e->k->axpy(n, alpha, x, y);
}

float fr_cpu_sdot(const fr_cpu_engine *e, size_t n, const float *x,
                  const float *y)
{
    return e->k->dot(n, x, y);
}

float fr_cpu_snrm2(const fr_cpu_engine *e, size_t n, const float *x)
{
    return e->k->nrm2(n, x);
}

void fr_cpu_sscal(const fr_cpu_engine *e, size_t n, float alpha, float *x)
{
    e->k->scal(n, alpha, x);
}
