/* fedrec/participation.h — which clients a federated round hears from, for
 * every federated engine: where a client trains in a multi-rank job
 * (placement), how long a round waits for updates (deadline, on the wall
 * clock or on a seeded simulated one) and how many it needs before the
 * server aggregates (quorum). */
#ifndef FEDREC_PARTICIPATION_H
#define FEDREC_PARTICIPATION_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which rank trains a client in a multi-rank job: contiguous blocks of
 * client ids or round-robin (id mod ranks). A client stays on its rank for
 * the whole run. */
typedef enum fr_placement {
    FR_PLACE_CONTIGUOUS = 0,
    FR_PLACE_ROUND_ROBIN
} fr_placement;

typedef struct fr_participation {
    int placement;           /* fr_placement */
    /* Seconds a round waits for client updates (0: waits for all). Under
     * the wall clock a client not started by then is not trained and one
     * that finishes later keeps what it trained but its update is left
     * out. Under the simulated clock (deadline_simulated) each sampled
     * client's arrival time is drawn, exponential with mean latency_mean
     * seconds, from stream (seed, round key, client, LATENCY), and late
     * clients are not trained at all: runs stay reproducible. */
    double deadline;
    int deadline_simulated;
    double latency_mean;
    /* The server aggregates only when at least this many updates arrived
     * (0 or 1: any). */
    size_t min_clients;
} fr_participation;

/* Contiguous placement, no deadline, no quorum, latency 1 s. */
void fr_participation_default(fr_participation *p);
/* FR_ERR_INVALID with a message unless the settings make sense. */
fr_status fr_participation_check(const fr_participation *p);
/* Under a simulated deadline: whether `client` misses round `round_key`'s
 * deadline (0 without one). */
int fr_participation_late_drawn(const fr_participation *p, uint64_t seed, uint32_t round_key, uint32_t client);
/* Under a wall-clock deadline: whether a round started at `started`
 * (fr_clock_seconds) is past it (0 without one). */
int fr_participation_past(const fr_participation *p, double started);
/* Whether `arrived` updates are enough to aggregate. */
int fr_participation_quorum(const fr_participation *p, size_t arrived);

#ifdef __cplusplus
}
#endif
#endif
