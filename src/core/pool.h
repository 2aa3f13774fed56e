/* pool.h — a persistent pool of host worker threads (internal).
 *
 * Any layer that splits work over the host's cores uses a pool: the CPU
 * backend's engine for its ops, the federation core for its clients and
 * its aggregation. It is not a compute device: it runs functions on host
 * memory, nothing more, so the layers above the backend may use it.
 *
 * Concurrency: a pool serves one calling thread at a time; its calls
 * must not be entered from two threads at once. Workers run with
 * denormals flushed (core/fpenv.h). Idle workers spin at most
 * FR_POOL_SPIN_NS for a follow-up job, then sleep: an idle pool burns no
 * CPU. */
#ifndef FR_CORE_POOL_H
#define FR_CORE_POOL_H

#include <stddef.h>

#include "fedrec/error.h"

#define FR_POOL_SPIN_NS 50000

typedef struct fr_pool fr_pool;

/* A pool of `threads` (1..1024) threads, the caller's included: threads - 1
 * workers are started. */
fr_status fr_pool_create(int threads, fr_pool **out);
void fr_pool_destroy(fr_pool *pool);
int fr_pool_threads(const fr_pool *pool);

/* Run fn(arg, task) for task in [0, n_tasks) on the pool (the caller's
 * thread takes part). Returns when every task has finished. Tasks must
 * write disjoint memory; results must not depend on which thread ran
 * which task. */
void fr_pool_for(fr_pool *pool, size_t n_tasks, void (*fn)(void *arg, size_t task), void *arg);

/* fr_pool_for that also tells each task the slot of the thread running
 * it: 0 for the calling thread, 1 .. threads - 1 for the workers. A slot
 * runs one task at a time, so a task may use per-slot scratch. */
void fr_pool_for_slot(fr_pool *pool, size_t n_tasks, void (*fn)(void *arg, size_t task, int slot),
                      void *arg);

/* fr_pool_for for tasks that can fail. A task returns FR_OK or a status
 * it set with fr_fail on whichever thread ran it; the pool keeps that
 * status with its message, and this call returns the failure of the
 * lowest-numbered failing task with the message set on the caller's
 * thread (fr_last_error), as if the caller had run the task itself.
 * Tasks not yet started when one fails are skipped; every task numbered
 * below a failing one has started by then and finishes, so which failure
 * is reported does not depend on the thread count or the timing. */
fr_status fr_pool_try(fr_pool *pool, size_t n_tasks, fr_status (*fn)(void *arg, size_t task), void *arg);

#endif
