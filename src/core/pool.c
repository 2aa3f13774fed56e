/* pool.c — the host thread pool (see pool.h).
 *
 * fr_pool_for publishes a job (function, argument, task count)
 * under the lock, marks it open, bumps a generation counter and wakes the
 * workers. A worker that sees the new generation joins the job (under the
 * lock, and only while it is open), then everyone, the caller included,
 * takes task numbers from one atomic counter until none are left. When
 * the caller runs out of tasks it closes the job and waits only for the
 * workers that joined: a worker the OS has not scheduled yet (a loaded
 * machine) never delays the caller, and it will not touch the job fields,
 * which the next job rewrites, once the job is closed.
 *
 * Workers that find no job spin for at most FR_POOL_SPIN_NS (the CPU
 * backend issues GEMMs back to back, and a futex wake-up costs tens of microseconds on a
 * VM), then sleep on a condition variable: an idle pool burns no CPU.
 * The caller waits for joined workers the same way. One pool serves one
 * calling thread at a time (pool.h).
 *
 * A task that fails (fr_pool_try) leaves its message in the
 * thread-local last error of the thread that ran it; the pool copies it,
 * with the status, into the job's failure record, which the caller's
 * thread raises again once the job is over: a message set on a worker
 * would otherwise never reach the thread that reports the status. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/error_internal.h"
#include "core/fpenv.h"
#include "core/pool.h"

typedef struct worker {
    fr_pool *e;
    int slot;
    pthread_t thread;
} worker;

struct fr_pool {
    int threads;
    worker *workers;
    int n_workers;           /* started; threads - 1 once created */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    /* Changed only under lock; atomic so that spinning threads may read
     * them without it. */
    atomic_ulong generation; /* bumped for every job */
    atomic_int stopping;
    atomic_int joined;       /* workers inside the current job */
    int open;                /* under lock: workers may still join */
    /* The current job: written under lock while no worker has joined. */
    void (*fn)(void *arg, size_t task);
    void (*fn_slot)(void *arg, size_t task, int slot);
    fr_status (*fn_try)(void *arg, size_t task);
    void *arg;
    size_t n_tasks;
    atomic_size_t next_task;
    /* The job's failure with the lowest task number (fn_try jobs), under
     * lock: its status and the message its thread had. */
    fr_status fail_status;
    size_t fail_task;
    char fail_message[FR_ERROR_MESSAGE_MAX];
};

int fr_pool_threads(const fr_pool *pool)
{
    return pool->threads;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spin until done(e, v) holds or FR_POOL_SPIN_NS pass; returns done(). */
static int spin_until(fr_pool *e, unsigned long v,
                      int (*done)(fr_pool *, unsigned long))
{
    long long start = 0;
    for (unsigned i = 1;; i++) {
        if (done(e, v))
            return 1;
        cpu_relax();
        if ((i & 255) == 0) { /* reading the clock costs more than a pause */
            long long t = now_ns();
            if (!start)
                start = t;
            else if (t - start > FR_POOL_SPIN_NS)
                return done(e, v);
        }
    }
}

static int new_job(fr_pool *e, unsigned long seen)
{
    return atomic_load_explicit(&e->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&e->stopping, memory_order_relaxed);
}

static int none_joined(fr_pool *e, unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&e->joined, memory_order_acquire) == 0;
}

/* Task t of an fn_try job failed on this thread: keep its status and this
 * thread's message if no lower task's failure is kept, and let no task
 * start after it. */
static void note_failure(fr_pool *e, size_t t, fr_status s)
{
    pthread_mutex_lock(&e->lock);
    if (e->fail_status == FR_OK || t < e->fail_task) {
        e->fail_status = s;
        e->fail_task = t;
        snprintf(e->fail_message, sizeof e->fail_message, "%s", fr_last_error());
    }
    pthread_mutex_unlock(&e->lock);
    atomic_store_explicit(&e->next_task, e->n_tasks, memory_order_relaxed);
}

static void run_tasks(fr_pool *e, int slot)
{
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&e->next_task, 1, memory_order_relaxed);
        if (t >= e->n_tasks)
            break;
        if (e->fn_slot) {
            e->fn_slot(e->arg, t, slot);
        } else if (e->fn_try) {
            fr_status s = e->fn_try(e->arg, t);
            if (s != FR_OK)
                note_failure(e, t, s);
        } else {
            e->fn(e->arg, t);
        }
    }
}

static void *worker_main(void *p)
{
    worker *w = p;
    fr_pool *e = w->e;
    unsigned long seen = 0;
    (void)fr_fpenv_flush_denormals(); /* this thread only runs ops */
    for (;;) {
        if (!spin_until(e, seen, new_job)) {
            /* The generation only moves under the lock, so checking it
             * here and waiting cannot miss a wake-up. */
            pthread_mutex_lock(&e->lock);
            while (!new_job(e, seen))
                pthread_cond_wait(&e->wake, &e->lock);
            pthread_mutex_unlock(&e->lock);
        }
        pthread_mutex_lock(&e->lock);
        if (atomic_load(&e->stopping)) {
            pthread_mutex_unlock(&e->lock);
            break;
        }
        seen = atomic_load(&e->generation);
        int join = e->open;
        if (join)
            atomic_fetch_add(&e->joined, 1);
        pthread_mutex_unlock(&e->lock);
        if (!join)
            continue; /* the caller already finished that job */
        run_tasks(e, w->slot);
        pthread_mutex_lock(&e->lock);
        if (atomic_fetch_sub(&e->joined, 1) == 1 && !e->open)
            pthread_cond_signal(&e->done);
        pthread_mutex_unlock(&e->lock);
    }
    return NULL;
}

fr_status fr_pool_create(int threads, fr_pool **out)
{
    *out = NULL;
    if (threads < 1 || threads > 1024)
        return fr_fail(FR_ERR_INVALID, "thread pool: threads = %d, expected 1..1024", threads);
    fr_pool *e = calloc(1, sizeof *e);
    if (!e)
        return fr_fail_nomem("thread pool", sizeof *e);
    e->threads = threads;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->done, NULL);
    atomic_init(&e->generation, 0);
    atomic_init(&e->stopping, 0);
    atomic_init(&e->joined, 0);
    atomic_init(&e->next_task, 0);
    e->workers = threads > 1 ? calloc((size_t)threads - 1, sizeof *e->workers) : NULL;
    if (threads > 1 && !e->workers) {
        fr_pool_destroy(e);
        return fr_fail_nomem("thread pool's thread table", ((size_t)threads - 1) * sizeof(worker));
    }
    for (int i = 0; i < threads - 1; i++) {
        worker *w = &e->workers[i];
        w->e = e;
        w->slot = i + 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fr_pool_destroy(e);
            return fr_fail(FR_ERR_BACKEND, "thread pool: cannot start worker thread %d of %d", i + 1,
                           threads - 1);
        }
        e->n_workers++;
    }
    *out = e;
    return FR_OK;
}

void fr_pool_destroy(fr_pool *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    atomic_store(&e->stopping, 1);
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->n_workers; i++)
        pthread_join(e->workers[i].thread, NULL);
    free(e->workers);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->done);
    free(e);
}

/* Runs the job; returns the failure of an fn_try job's lowest failing
 * task, its message on this thread. */
static fr_status run_job(fr_pool *e, size_t n_tasks, void (*fn)(void *, size_t),
                         void (*fn_slot)(void *, size_t, int), fr_status (*fn_try)(void *, size_t),
                         void *arg)
{
    if (n_tasks == 0)
        return FR_OK;
    if (n_tasks == 1 || e->n_workers == 0) {
        /* In order on this thread: the first failure is the lowest, and
         * its message is already this thread's. */
        for (size_t t = 0; t < n_tasks; t++) {
            if (fn_slot) {
                fn_slot(arg, t, 0);
            } else if (fn_try) {
                fr_status s = fn_try(arg, t);
                if (s != FR_OK)
                    return s;
            } else {
                fn(arg, t);
            }
        }
        return FR_OK;
    }
    pthread_mutex_lock(&e->lock);
    e->fn = fn;
    e->fn_slot = fn_slot;
    e->fn_try = fn_try;
    e->fail_status = FR_OK;
    e->arg = arg;
    e->n_tasks = n_tasks;
    atomic_store(&e->next_task, 0);
    e->open = 1;
    atomic_fetch_add(&e->generation, 1);
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    run_tasks(e, 0);
    /* No task is left to start: close the job, then wait for the workers
     * still finishing theirs. */
    pthread_mutex_lock(&e->lock);
    e->open = 0;
    pthread_mutex_unlock(&e->lock);
    if (!spin_until(e, 0, none_joined)) {
        pthread_mutex_lock(&e->lock);
        while (!none_joined(e, 0))
            pthread_cond_wait(&e->done, &e->lock);
        pthread_mutex_unlock(&e->lock);
    }
    /* Every worker has left the job: the record is the caller's now. */
    if (e->fail_status != FR_OK)
        return fr_fail(e->fail_status, "%s", e->fail_message);
    return FR_OK;
}

void fr_pool_for(fr_pool *e, size_t n_tasks,
                         void (*fn)(void *arg, size_t task), void *arg)
{
    (void)run_job(e, n_tasks, fn, NULL, NULL, arg);
}

void fr_pool_for_slot(fr_pool *e, size_t n_tasks,
                              void (*fn)(void *arg, size_t task, int slot),
                              void *arg)
{
    (void)run_job(e, n_tasks, NULL, fn, NULL, arg);
}

fr_status fr_pool_try(fr_pool *e, size_t n_tasks,
                              fr_status (*fn)(void *arg, size_t task), void *arg)
{
    return run_job(e, n_tasks, NULL, NULL, fn, arg);
}
