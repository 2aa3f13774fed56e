/* fedrec/fed.h — what the federation core is told: how a round samples
 * clients, screens their updates, combines them and protects them. Every
 * federated job fills these from its configuration; the core
 * (src/fed/fed_core.h) runs rounds with them over any model that
 * implements the client interface (fedrec/fed_client.h). */
#ifndef FEDREC_FED_H
#define FEDREC_FED_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/participation.h"
#include "fedrec/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the server combines the participants' changes of the shared
 * parameters: their mean (FedAvg), or, robust to a few wild clients, the
 * coordinate-wise median or trimmed mean over the clients that changed
 * each row (times their share of the participants, so that the mean form
 * is kept: src/fed/fed_robust.c); or, per table row, the mean of the
 * changes uploaded for that row times server_lr (FR_AGG_ROW_MEAN: FedAvg
 * with a server step over the clients that changed the row; the dense
 * part, if any, by the plain mean). */
typedef enum fr_aggregator {
    FR_AGG_MEAN = 0,
    FR_AGG_MEDIAN,
    FR_AGG_TRIMMED_MEAN,
    FR_AGG_ROW_MEAN
} fr_aggregator;

/* How a group of clients' units is combined (PF-MSMTrec, fedmsmt). */
typedef enum fr_fed_agg {
    FR_FED_AGG_PERSONAL = 0, /* softmax over cosine similarity / temperature */
    FR_FED_AGG_MEAN,         /* sample-weighted mean */
    FR_FED_AGG_LOCAL         /* not aggregated */
} fr_fed_agg;

typedef struct fr_fed_options {
    uint64_t seed;
    double client_fraction;  /* clients sampled per round, (0, 1] */
    int weighted;            /* sample-weighted mean instead of the plain mean */
    /* The server averages the clients' personal values
     * (fr_fed_client_ops.n_personal) too: at a round's start every sampled
     * client gets the mean over all clients, after it every client the
     * mean over the participants. */
    int share_personal;
    fr_participation participation;
    /* Screening: updates not finite are refused; clip_norm > 0 scales an
     * update to at most that L2 norm; fault injection for tests (NaN with
     * probability fault_nan, x 1e6 with fault_huge). */
    double clip_norm;
    double fault_nan, fault_huge;
    fr_aggregator aggregator;
    double trim;
    float server_lr;         /* FR_AGG_ROW_MEAN's server step (1: the mean) */
    /* Privacy (doc/PRIVACY.md): a client's Laplace noise on its rows,
     * DP-FedAvg's Gaussian noise and accountant, secure aggregation. */
    double local_noise;
    double dp_noise, dp_delta;
    int secure_agg;
    size_t secure_neighbours;
    /* Per-client state (fedrec/fed_client.h): the temperature of
     * personal aggregation (> 0); local_only: the clients train, nothing
     * is combined or loaded back (the local-only baseline: the round's
     * figures, no aggregate). */
    double temperature;
    int local_only;
    /* Told the clients this rank has trained (unit "client"). */
    fr_progress_hook progress;
    /* Name in messages ("PFedRec round 3: ..."). */
    const char *name;
} fr_fed_options;

/* ---- personalised aggregation (PF-MSMTrec), on host vectors ------------ */

/* The most clients of one group these functions take (n). */
#define FR_FED_MAX_GROUP 256

/* PCGrad across clients: for each i, d_i starts as delta_i and for each
 * other j, in the order order_i (a permutation of the others' indices,
 * n - 1 entries), d_i -= min(0, <d_i, delta_j>) / |delta_j|^2 delta_j
 * (zero deltas skipped). deltas: n vectors of dim floats (read only);
 * out: n x dim. Returns the number of projections made (conflicts). */
size_t fr_fed_coordinate(const float *deltas, size_t n, size_t dim, const size_t *const *order,
                         float *out);
/* Aggregation weights a (n x n, row i for client i) from the
 * (coordinated) deltas and sample counts: mean or personal with
 * temperature T (cosine of a zero vector: 0). */
void fr_fed_weights(const float *deltas, size_t n, size_t dim, const double *samples,
                    fr_fed_agg agg, double temperature, double *a);

#ifdef __cplusplus
}
#endif

#endif
