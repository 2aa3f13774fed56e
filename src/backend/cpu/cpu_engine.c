/* cpu_engine.c — an engine: one ISA path's kernels plus a pool of worker
 * threads that sleep on a condition variable between jobs.
 *
 * fr_cpu_parallel_for hands out task numbers through an atomic counter; the
 * calling thread works too and then waits for the others. One engine serves
 * one calling thread at a time (a backend is used from one thread). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/error_internal.h"

struct fr_cpu_engine {
    fr_cpu_isa isa;
    const fr_cpu_kernels *k;
    int threads;
    pthread_t *workers;
    int n_workers;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped for every job */
    int stopping;
    int busy;                 /* workers still inside the current job */
    /* The current job. */
    void (*fn)(void *arg, size_t task);
    void *arg;
    size_t n_tasks;
    atomic_size_t next_task;
};

const fr_cpu_kernels *fr_cpu_engine_kernels(const fr_cpu_engine *e)
{
    return e->k;
}

static void run_tasks(fr_cpu_engine *e)
{
    for (;;) {
        size_t t = atomic_fetch_add(&e->next_task, 1);
        if (t >= e->n_tasks)
            break;
        e->fn(e->arg, t);
    }
}

static void *worker_main(void *p)
{
    fr_cpu_engine *e = p;
    unsigned long seen = 0;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (e->generation == seen && !e->stopping)
            pthread_cond_wait(&e->wake, &e->lock);
        if (e->stopping)
            break;
        seen = e->generation;
        pthread_mutex_unlock(&e->lock);
        run_tasks(e);
        pthread_mutex_lock(&e->lock);
        if (--e->busy == 0)
            pthread_cond_signal(&e->done);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

fr_status fr_cpu_engine_create(fr_cpu_isa isa, int threads, fr_cpu_engine **out)
{
    *out = NULL;
    if (isa <= FR_ISA_AUTO || isa > FR_ISA_NEON)
        return fr_fail(FR_ERR_INVALID, "CPU engine: isa = %d (%s), expected a concrete path (scalar, avx2, avx512, neon; resolve auto with fr_cpu_isa_best)",
                       (int)isa, fr_cpu_isa_name(isa));
    if (!fr_cpu_isa_built(isa))
        return fr_fail(FR_ERR_UNSUPPORTED, "this build has no %s path (configure found no compiler support)",
                       fr_cpu_isa_name(isa));
    if (!fr_cpu_isa_supported(isa))
        return fr_fail(FR_ERR_UNSUPPORTED, "this CPU (or its OS) lacks the %s path's instructions; 'fedrec devices' lists the supported paths",
                       fr_cpu_isa_name(isa));
    if (threads < 1 || threads > 1024)
        return fr_fail(FR_ERR_INVALID, "CPU engine: threads = %d, expected 1..1024", threads);
    fr_cpu_engine *e = calloc(1, sizeof *e);
    if (!e)
        return fr_fail_nomem("CPU engine", sizeof *e);
    e->isa = isa;
    e->k = fr_cpu_kernels_for(isa);
    e->threads = threads;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->done, NULL);
    if (threads > 1) {
        e->workers = calloc((size_t)threads - 1, sizeof *e->workers);
        if (!e->workers) {
            fr_cpu_engine_destroy(e);
            return fr_fail_nomem("CPU worker list", sizeof *e->workers * (size_t)threads);
        }
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0) {
                fr_cpu_engine_destroy(e);
                return fr_fail(FR_ERR_BACKEND, "CPU engine: cannot start worker thread %d of %d",
                               i + 1, threads - 1);
            }
            e->n_workers++;
        }
    }
    *out = e;
    return FR_OK;
}

void fr_cpu_engine_destroy(fr_cpu_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->n_workers; i++)
        pthread_join(e->workers[i], NULL);
    free(e->workers);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->done);
    free(e);
}

fr_cpu_isa fr_cpu_engine_isa(const fr_cpu_engine *e)
{
    return e->isa;
}

int fr_cpu_engine_threads(const fr_cpu_engine *e)
{
    return e->threads;
}

void fr_cpu_parallel_for(fr_cpu_engine *e, size_t n_tasks,
                         void (*fn)(void *arg, size_t task), void *arg)
{
    if (n_tasks == 0)
        return;
    if (n_tasks == 1 || e->n_workers == 0) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t);
        return;
    }
    pthread_mutex_lock(&e->lock);
    e->fn = fn;
    e->arg = arg;
    e->n_tasks = n_tasks;
    atomic_store(&e->next_task, 0);
    e->busy = e->n_workers;
    e->generation++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    run_tasks(e);
    pthread_mutex_lock(&e->lock);
    while (e->busy > 0)
        pthread_cond_wait(&e->done, &e->lock);
    pthread_mutex_unlock(&e->lock);
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
