/* fed_core.h — the federation core's calls, for the jobs that wire a
 * model's clients to it (internal; src/job/).
 *
 * A core holds the server's state (fedrec/fed_client.h: a table of rows
 * and a dense vector, host memory) and runs rounds over n_clients
 * clients through the model's client interface, on a host thread pool,
 * alone or over the ranks of an MPI job. It includes no backend, nn or
 * model header: what a client computes and on which device is the
 * model's business. */
#ifndef FR_FED_CORE_H
#define FR_FED_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "fedrec/comm.h"
#include "fedrec/fed.h"
#include "fedrec/fed_client.h"

typedef struct fr_fed fr_fed;

/* What a round did (the figures of the model's evaluation are the
 * model's). Traffic and times as fedrec/pfedrec.h's fr_pfedrec_round. */
typedef struct fr_fed_round {
    size_t clients, participants, rejected, trained_here;
    size_t conflicts;      /* per-client state: coordination's projections */
    int aggregated;
    /* The loss per training sample; per-client state: the mean over the
     * trained clients (refused ones too) of each one's mean loss. */
    double train_loss;
    double dp_epsilon;
    uint64_t bytes_up, bytes_sent, bytes_received;
    double t_comm, t_local, t_negatives, t_train, t_eval, t_aggregate;
} fr_fed_round;

/* The options alone: sizes, rates, and which privacy and aggregation
 * options go together. */
fr_status fr_fed_options_check(const fr_fed_options *o);

/* A core for n_clients clients over a state of n_rows x width table rows
 * and n_dense dense values (zeroed: the job initialises them through
 * fr_fed_state_of). pool: the host threads the clients train on (not
 * owned; it must outlive the core). ops and model: the clients. */
fr_status fr_fed_create(const fr_fed_options *o, size_t n_clients, size_t n_rows, size_t width, size_t n_dense,
                        fr_pool *pool, const fr_fed_client_ops *ops, void *model, fr_fed **out);
/* A core over per-client state (fedrec/fed_client.h, fr_fed_vector_ops):
 * every client its own vector, units combined by their rules; no table
 * or dense part. The core allocates each client's vector (zeroed: the job
 * writes its starting values into fr_fed_state_of(f)->client, then calls
 * fr_fed_clients_start). Takes the mean aggregator only, without
 * weighting, noise, shared personal values, secure aggregation or
 * cohorts; at most FR_FED_MAX_GROUP clients. */
fr_status fr_fed_create_per_client(const fr_fed_options *o, size_t n_clients, fr_pool *pool,
                                   const fr_fed_client_ops *ops, const fr_fed_vector_ops *vops, void *model,
                                   fr_fed **out);
void fr_fed_free(fr_fed *f);
fr_fed_state *fr_fed_state_of(fr_fed *f);
/* Keep every round's uploads until the next round (off: the plain mean
 * folds them in order as they come and passes their buffers on,
 * fed_ordered.c): for tests that inspect them; the results are the same. */
void fr_fed_keep_uploads(fr_fed *f, int keep);
/* How many uploads a thread may run ahead of the ordered fold before it
 * waits (0: the default, 16 x threads + 16); tests set 1 to make threads
 * wait. The results do not depend on it. */
void fr_fed_set_fold_window(fr_fed *f, size_t uploads);
/* The table is the caller's n_rows x width floats from now on (the core's
 * own is freed; the caller keeps it alive and frees it): for a model
 * whose table already lives in its own memory. */
void fr_fed_borrow_table(fr_fed *f, float *table);

/* The share of n_clients a round samples (client_fraction rounded to a
 * whole number of clients, at least one): DP accounting's q. */
double fr_fed_sampling_rate(double client_fraction, size_t n_clients);

/* Round `round` (0-based): sample, train, screen, aggregate. A failure
 * of a client returns before the round's aggregate. Per-client state: a round
 * whose every update was refused is not a failure (the clients keep what
 * they trained), and the loss is the model's to judge. */
fr_status fr_fed_run_round(fr_fed *f, unsigned round, fr_fed_round *out);

/* Per-client state (fr_fed_create_per_client): the server's
 * initial model. Once the job has written every client's starting vector
 * into fr_fed_state_of(f)->client, every unit takes the values of the
 * first client holding it, on every client holding it, and every client
 * gets its vector through client_load. */
fr_status fr_fed_clients_start(fr_fed *f);
/* The last round's upload of client `client` (NULL when it was not
 * sampled): its marks, loss, samples and, per-client state, bytes_up. */
const fr_fed_upload *fr_fed_upload_of(const fr_fed *f, size_t client);

/* Run on the ranks of c (NULL or one rank: this process only). Every rank
 * must hold the same job: the fingerprints are compared (data_name names
 * the data in the message). Clients are placed by the participation
 * options, contiguous blocks balanced by the clients' cost. */
fr_status fr_fed_set_comm(fr_fed *f, fr_comm *c, const char *job_fingerprint, uint64_t data_fingerprint,
                          const char *data_name);
fr_comm *fr_fed_comm(const fr_fed *f);
int fr_fed_rank(const fr_fed *f);
int fr_fed_ranks(const fr_fed *f);
/* The rank that trains client c. */
int fr_fed_owner(const fr_fed *f, size_t c);
/* Every client's fixed-size block (`each` bytes; the first 8 are the
 * exchange's tag, written by the core) from the rank that runs it to
 * every rank (collective, the outcome agreed): fill(ctx, c, block) for
 * each client this rank runs, place(ctx, c, block) for every client's
 * block, whichever rank sent it. For a job's own exchanges between rounds
 * (evaluation figures, checkpoints). Several ranks only. */
fr_status fr_fed_exchange_blocks(fr_fed *f, size_t each, void (*fill)(void *ctx, size_t c, char *block),
                                 fr_status (*place)(void *ctx, size_t c, const char *block), void *ctx);

#endif
