/* host_pool.h — the thread pool of an fr_host (internal): for a job that
 * runs its federation core's clients on the same threads as the model's
 * host compute (src/job/pfedrec.c), so the two never oversubscribe. */
#ifndef FR_HOST_POOL_H
#define FR_HOST_POOL_H

#include "fedrec/host.h"

struct fr_pool;
struct fr_pool *fr_host_pool(fr_host *h);

#endif
