/* test_pool_errors.c — a failure in a task of the CPU engine's pool
 * (fr_cpu_parallel_try) reaches the calling thread with its message, on 1,
 * 2 and 4 threads:
 * - a task made to fail on a worker thread (the first task a worker runs
 *   fails; the calling thread holds the first task it takes until then, so
 *   that a worker runs one whatever the scheduling): the caller gets the
 *   status and the worker's message, not a stale message of its own (the
 *   thread-local last error used to stay on the worker);
 * - two failing tasks: the lower-numbered one's status and message, every
 *   task below it run exactly once;
 * - no failure: FR_OK, every task run once. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/cpu_engine.h"
#include "core/error_internal.h"
#include "fedrec/backend.h"
#include "testutil.h"

#define TASKS 64

typedef struct probe {
    pthread_t caller;
    size_t fail_a, fail_b;          /* tasks that fail (TASKS: none) */
    int on_worker;                  /* the first task a worker runs fails (fail_a: its number) */
    atomic_int runs[TASKS];
    atomic_int claimed;             /* on_worker: a worker's task has claimed the failure */
    atomic_size_t worker_task;      /* its number */
    atomic_int fail_a_done;
} probe;

static void wait_for(atomic_int *flag, double seconds)
{
    struct timespec pause = {0, 1000000};
    for (double waited = 0; !atomic_load(flag) && waited < seconds; waited += 0.001)
        nanosleep(&pause, NULL);
}

static fr_status task_fn(void *arg, size_t task)
{
    probe *p = arg;
    atomic_fetch_add(&p->runs[task], 1);
    int on_caller = pthread_equal(pthread_self(), p->caller);
    if (p->on_worker) {
        if (on_caller) { /* let a worker take a task and fail first */
            wait_for(&p->fail_a_done, 20.0); /* bounded: a pool without workers fails, not hangs */
            return FR_OK;
        }
        int unclaimed = 0;
        if (!atomic_compare_exchange_strong(&p->claimed, &unclaimed, 1))
            return FR_OK;
        atomic_store(&p->worker_task, task);
        fr_status s = fr_fail(FR_ERR_NUMERIC, "task %zu failed on the worker thread", task);
        atomic_store(&p->fail_a_done, 1);
        return s;
    }
    if (task == p->fail_a)
        return fr_fail(FR_ERR_NUMERIC, "task %zu failed on the %s thread", task, on_caller ? "calling" : "worker");
    if (task == p->fail_b)
        return fr_fail(FR_ERR_NOMEM, "task %zu failed too", task);
    return FR_OK;
}

static void reset(probe *p, size_t fail_a, size_t fail_b, int on_worker)
{
    memset(p, 0, sizeof *p);
    p->caller = pthread_self();
    p->fail_a = fail_a;
    p->fail_b = fail_b;
    p->on_worker = on_worker;
}

/* A stale message on the caller's thread, which a lost worker message
 * would leave in place. */
static void stale_message(void)
{
    (void)fr_fail(FR_ERR_IO, "stale message of the calling thread");
}

static void test_engine(fr_cpu_engine *e)
{
    int threads = fr_cpu_engine_threads(e);
    probe p;

    reset(&p, TASKS, TASKS, 0);
    stale_message();
    CHECK_OK(fr_cpu_parallel_try(e, TASKS, task_fn, &p));
    for (size_t t = 0; t < TASKS; t++)
        CHECK(atomic_load(&p.runs[t]) == 1, "%d threads, no failure: task %zu ran %d times", threads, t,
              atomic_load(&p.runs[t]));

    if (threads > 1) {
        reset(&p, TASKS, TASKS, 1);
        stale_message();
        fr_status s = fr_cpu_parallel_try(e, TASKS, task_fn, &p);
        CHECK(atomic_load(&p.claimed), "%d threads: no worker thread ran a task", threads);
        size_t failed = atomic_load(&p.worker_task);
        char want[64];
        snprintf(want, sizeof want, "task %zu failed on the worker thread", failed);
        CHECK(s == FR_ERR_NUMERIC, "%d threads: worker failure returned %s", threads, fr_status_name(s));
        CHECK(!strcmp(fr_last_error(), want), "%d threads: the caller's message is '%s', expected '%s'", threads,
              fr_last_error(), want);
        for (size_t t = 0; t < failed; t++)
            CHECK(atomic_load(&p.runs[t]) == 1, "%d threads: task %zu below the failure ran %d times", threads,
                  t, atomic_load(&p.runs[t]));
    }

    for (int round = 0; round < 20; round++) {
        reset(&p, 5, 3, 0);
        stale_message();
        fr_status s = fr_cpu_parallel_try(e, TASKS, task_fn, &p);
        CHECK(s == FR_ERR_NOMEM && !strcmp(fr_last_error(), "task 3 failed too"),
              "%d threads: tasks 3 and 5 failed, got %s '%s', expected task 3's", threads, fr_status_name(s),
              fr_last_error());
        for (size_t t = 0; t < 3; t++)
            CHECK(atomic_load(&p.runs[t]) == 1, "%d threads: task %zu ran %d times", threads, t,
                  atomic_load(&p.runs[t]));
    }

    reset(&p, 0, TASKS, 0); /* a one-task job runs on the caller */
    fr_status s = fr_cpu_parallel_try(e, 1, task_fn, &p);
    CHECK(s == FR_ERR_NUMERIC && strstr(fr_last_error(), "task 0 failed"), "%d threads: one task: %s '%s'",
          threads, fr_status_name(s), fr_last_error());
    CHECK_OK(fr_cpu_parallel_try(e, 0, task_fn, &p));
}

int main(void)
{
    const int counts[] = {1, 2, 4};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        fr_cpu_engine *e = NULL;
        CHECK_OK(fr_cpu_engine_create(FR_ISA_SCALAR, counts[i], &e));
        if (e)
            test_engine(e);
        fr_cpu_engine_destroy(e);
    }
    return fr_test_finish("test_pool_errors");
}
