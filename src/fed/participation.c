/* participation.c — a round's deadline and quorum (see
 * fedrec/participation.h), shared by the rating and the multi-scenario
 * engines. */
#include <math.h>

#include "core/clock.h"
#include "core/error_internal.h"
#include "fedrec/participation.h"
#include "fedrec/rng.h"

void fr_participation_default(fr_participation *p)
{
    p->placement = FR_PLACE_CONTIGUOUS;
    p->deadline = 0.0;
    p->deadline_simulated = 0;
    p->latency_mean = 1.0;
    p->min_clients = 0;
}

fr_status fr_participation_check(const fr_participation *p)
{
    if ((unsigned)p->placement > FR_PLACE_ROUND_ROBIN)
        return fr_fail(FR_ERR_INVALID, "placement %d: expected contiguous or round-robin", p->placement);
    if (!(p->deadline >= 0))
        return fr_fail(FR_ERR_INVALID, "round deadline %g: expected seconds >= 0 (0: none)", p->deadline);
    if (p->deadline > 0 && p->deadline_simulated && !(p->latency_mean > 0))
        return fr_fail(FR_ERR_INVALID, "a simulated deadline needs a mean client latency > 0 (got %g)", p->latency_mean);
    return FR_OK;
}

int fr_participation_late_drawn(const fr_participation *p, uint64_t seed, uint32_t round_key, uint32_t client)
{
    if (!(p->deadline > 0) || !p->deadline_simulated)
        return 0;
    fr_rng rng;
    fr_rng_init(&rng, seed, round_key, client, FR_RNG_LATENCY);
    return -p->latency_mean * log(1.0 - fr_rng_uniform_double(&rng)) > p->deadline;
}

int fr_participation_past(const fr_participation *p, double started)
{
    return p->deadline > 0 && !p->deadline_simulated && fr_clock_seconds() - started > p->deadline;
}

int fr_participation_quorum(const fr_participation *p, size_t arrived)
{
    return arrived > 0 && arrived >= p->min_clients;
}
