/* ops_parallel.c — how the host kernels of cpu_ops.h split their work over
 * the engine's threads: a task count from the amount of work, then
 * contiguous ranges or owner tasks on top of fr_cpu_parallel_for. */
#include "backend/cpu/cpu_ops.h"

size_t fr_cpu_ops_tasks(const fr_cpu_engine *e, size_t work, size_t grain)
{
    if (!e || grain == 0 || work / 2 < grain)
        return 1;
    size_t threads = (size_t)fr_cpu_engine_threads(e);
    size_t tasks = work / grain;
    return tasks < threads ? tasks : threads;
}

typedef struct ranges_job {
    fr_cpu_range_fn fn;
    void *arg;
    size_t n, tasks;
} ranges_job;

static void ranges_task(void *p, size_t task)
{
    const ranges_job *job = p;
    /* Balanced split: range sizes differ by at most one item. */
    size_t q = job->n / job->tasks, r = job->n % job->tasks;
    size_t begin = task * q + (task < r ? task : r);
    size_t end = begin + q + (task < r ? 1 : 0);
    job->fn(job->arg, begin, end);
}

void fr_cpu_ops_ranges(fr_cpu_engine *e, size_t n, size_t item_work,
                       size_t grain, fr_cpu_range_fn fn, void *arg)
{
    if (n == 0)
        return;
    /* Saturate: a huge item count times its work is just "a lot". */
    size_t work = item_work && n > (size_t)-1 / item_work ? (size_t)-1 : n * item_work;
    size_t tasks = fr_cpu_ops_tasks(e, work, grain);
    if (tasks > n)
        tasks = n;
    if (tasks <= 1) {
        fn(arg, 0, n);
        return;
    }
    ranges_job job = {fn, arg, n, tasks};
    fr_cpu_parallel_for(e, tasks, ranges_task, &job);
}

typedef struct owners_job {
    fr_cpu_owner_fn fn;
    void *arg;
    size_t tasks;
} owners_job;

static void owners_task(void *p, size_t task)
{
    const owners_job *job = p;
    job->fn(job->arg, task, job->tasks);
}

void fr_cpu_ops_owners(fr_cpu_engine *e, size_t work, size_t grain,
                       fr_cpu_owner_fn fn, void *arg)
{
    size_t tasks = fr_cpu_ops_tasks(e, work, grain);
    if (tasks <= 1) {
        fn(arg, 0, 1);
        return;
    }
    owners_job job = {fn, arg, tasks};
    fr_cpu_parallel_for(e, tasks, owners_task, &job);
}
