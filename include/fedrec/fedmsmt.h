/* fedrec/fedmsmt.h — federated multi-scenario multi-task training:
 * PF-MSMTrec (../shared/specs/pf-msmtrec.md, this project's reading of it;
 * doc/FEDMSMT.md) and the baselines on the same engine (local-only,
 * FedAvg, FedProx, FedBN).
 *
 * Each scenario of a feature table is one client; its rows never leave it.
 * Every client runs its own MMoE (fedrec/msmt.h) over the experts it holds
 * of a global pool, a softmax gate per task and a tower per task. The
 * engine sees the clients' models only as parameter vectors, cut into
 * units: one per expert of the pool (its batch-norm apart), one per tower,
 * one per gate, the embedding. A unit's role says who aggregates it:
 * every client (global), the clients holding it (group: a shared expert's
 * federation group), or nobody (local, batch-norm local under FedBN).
 *
 * A round: each client trains local_epochs passes over its rows starting
 * from what it received; uploads each federated unit's update
 * delta = after - received; the server then, per unit, optionally
 * coordinates conflicting updates into d (PCGrad across clients: a delta
 * whose inner product with another member's original delta is negative is
 * projected on that delta's normal plane, the others taken in an order
 * drawn from the seed; without coordination d = delta), and gives client i
 *   theta_i <- received_i + sum_j a_ij d_j
 * with a_ij = n_j / sum_k n_k (mean: the sample-weighted FedAvg) or
 * a_ij = n_j exp(cos(d_i, d_j) / T) / sum_k n_k exp(cos(d_i, d_k) / T)
 * (personal: a softmax over the members' cosine similarity, weighted by
 * sample counts so that T -> inf gives FedAvg exactly). Under every method
 * the embedding table is averaged row by row over the clients whose update
 * changed that row (ids that only one client sees stay that client's). */
#ifndef FEDREC_FEDMSMT_H
#define FEDREC_FEDMSMT_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/comm.h"
#include "fedrec/fed.h"
#include "fedrec/participation.h"
#include "fedrec/msmt.h"
#include "fedrec/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_fed_method {
    FR_FED_PFMSMTREC = 0, /* the template, FedBN, coordination, personal aggregation, towers */
    FR_FED_FEDAVG,        /* every parameter: sample-weighted mean (the embedding row-wise) */
    FR_FED_FEDPROX,       /* FedAvg with the proximal term */
    FR_FED_FEDBN,         /* FedAvg with batch-norm kept local */
    FR_FED_LOCAL          /* no federation */
} fr_fed_method;


#define FR_FED_MAX_POOL 64

/* Checkpoints (one process only: a multi-rank run refuses them). */
#define FR_FEDMSMT_CHECKPOINT_MAX_EXTRA 64
typedef struct fr_fedmsmt_checkpoint {
    const char *path;   /* NULL or "": no checkpoints */
    int resume;         /* 1: go on from the checkpoint at path */
    /* Rounds between checkpoints (0 or 1: every round); the last round's
     * is always written. */
    size_t every;
    /* The caller's own n_extra values (at most
     * FR_FEDMSMT_CHECKPOINT_MAX_EXTRA), kept in each checkpoint as they
     * are after on_round and read back into extra on resume. */
    double *extra;
    size_t n_extra;
    /* On resume, once the file is read and checked, before any round
     * (may be NULL): the caller takes up its own state (rounds: those
     * finished). Gets on_round's arg; a failure ends the run. */
    fr_status (*resumed)(void *arg, size_t rounds);
} fr_fedmsmt_checkpoint;

typedef struct fr_fedmsmt_options {
    fr_fed_method method;
    /* The model of every client: fedrec/msmt.h options (arch must be
     * MMoE; experts is overwritten with the experts the client holds). */
    fr_msmt_options model;
    /* Parameter template (PF-MSMTrec): a pool of shared + clients x
     * private experts; client c holds the shared ones and its own private
     * ones. membership, when set (n_pool > 0), replaces it: member[c][g]
     * nonzero when client c holds pool expert g (every client at least
     * one expert, at most FR_FED_MAX_POOL in the pool). The baselines hold
     * shared + private experts each, all shared. */
    size_t shared_experts, private_experts;     /* 4, 4 */
    size_t n_pool;
    unsigned char member[FR_TABLE_MAX_SCENARIOS][FR_FED_MAX_POOL];
    /* PF-MSMTrec's modules (the baselines fix their own): */
    int fedbn;                 /* batch-norm stays on the client (1) */
    int coordination;          /* PCGrad across the members' expert updates (1) */
    fr_fed_agg experts_agg;    /* personal (default) or mean */
    fr_fed_agg towers_agg;     /* personal (default), mean or local */
    int tower_coordination;    /* also coordinate tower updates (0) */
    fr_fed_agg embedding_agg;  /* mean (default) or local */
    double temperature;        /* of personal aggregation (1) */
    double prox_mu;            /* proximal term (0; FedProx needs > 0) */
    /* Training. */
    size_t rounds;             /* 20 */
    /* Evaluate (validation and test) only at the rounds that are
     * multiples of this and at the last (0 or 1: every round); the best
     * round is chosen among those. */
    size_t eval_every;
    size_t local_epochs;       /* 1 */
    size_t batch;              /* 2048 */
    int optimizer;             /* fr_optim_kind (Adam) */
    float lr, weight_decay;    /* 1e-3, 1e-6 */
    size_t block_rows;         /* as fr_msmt_train_options (0: one block) */
    uint64_t seed;
    /* Placement over ranks, deadline and quorum (fedrec/participation.h):
     * a late client is left out of the round's aggregation and keeps what
     * it trained (its next update then covers both rounds). */
    fr_participation participation;
    /* Screening, as the federation core does it for every federated job:
     * a client's update (the changes of its units that the server
     * aggregates with others') that is not finite is refused — left out of
     * the round like a late one, the client keeping what it trained;
     * clip_norm > 0 scales an update down to at most that L2 norm; fault
     * injection for tests and studies replaces an update by NaN with
     * probability fault_nan, or multiplies it by 1e6 with fault_huge, per
     * client and round (stream (seed, round, client, FAULT)). */
    double clip_norm;
    double fault_nan, fault_huge;
    /* The job's configuration fingerprint (fr_config_fingerprint,
     * fedrec/config.h), read during fr_fedmsmt_run_ranks only: the ranks
     * compare it and a hash of the table at start-up (fr_comm_same_job).
     * NULL (the default): only the table is compared. */
    const char *job_fingerprint;
    /* fedrec/progress.h: told the batches done in a round (every client
     * this rank trains, every local epoch; unit "batch"), then its
     * evaluation. A stop request abandons the round under way in a
     * one-rank run (fr_fedmsmt_result.stopped); a multi-rank run asks
     * every rank's hook at the start of each round and stops there, on
     * every rank, when any of them asks (one small collective a round:
     * set the hook on every rank or on none). */
    fr_progress_hook progress;
    /* 1: hand every client's model, as it was at the best round, to the
     * caller in the result (fr_fedmsmt_result.model); 0 (the default):
     * the models are freed with the run. */
    int keep_models;
    /* With keep_models: 1 keeps the last round's models instead. */
    int keep_last;
    /* A checkpoint holds every client's model, optimiser and what it
     * last received, the kept models and the run's figures so far; it is
     * compared on resume with job_fingerprint and the table. */
    fr_fedmsmt_checkpoint checkpoint;
} fr_fedmsmt_options;

void fr_fedmsmt_options_default(fr_fedmsmt_options *o);
const char *fr_fed_method_name(fr_fed_method m);
fr_status fr_fed_method_parse(const char *name, fr_fed_method *out);
/* "1100;0110;0011": one row of 0/1 per client (scenario order), pool
 * experts as columns, into o->member / o->n_pool; errors name the row
 * and column. */
fr_status fr_fedmsmt_parse_membership(const char *text, size_t clients, fr_fedmsmt_options *o);

typedef struct fr_fedmsmt_round {
    size_t round;                       /* 1-based */
    double train_loss;                  /* mean over clients of each one's mean batch loss */
    fr_msmt_eval valid, test;           /* every client on its own rows */
    uint64_t upload_bytes[FR_TABLE_MAX_SCENARIOS]; /* this round, per client */
    size_t conflicts;                   /* projections made by coordination */
    size_t participants;                /* updates that arrived in time and were not refused */
    size_t rejected;                    /* updates refused (not finite) */
    int aggregated;                     /* 0: too few arrived (or local-only) */
    /* seconds: the whole round, training, aggregation, evaluation and
     * keeping the best round's parameters (keep_models) */
    double seconds, train_seconds, eval_seconds, aggregate_seconds;
    int improved;                       /* best mean validation AUC so far */
    int evaluated;                      /* 0: not evaluated (eval_every): valid, test NaN */
    /* Multi-rank: this rank's traffic this round (fedrec/comm.h), its
     * wall time in exchanges, and the clients it trained. */
    uint64_t bytes_sent, bytes_received;
    double comm_seconds, local_seconds; /* local: training this rank's clients */
    size_t trained_here;
} fr_fedmsmt_round;

typedef struct fr_fedmsmt_result {
    size_t rounds, best_round;          /* the last round if none had a validation AUC */
    fr_msmt_eval valid, test;           /* at the best round */
    size_t clients, pool;
    size_t experts_held[FR_TABLE_MAX_SCENARIOS];
    uint64_t upload_bytes_per_round[FR_TABLE_MAX_SCENARIOS]; /* mean over rounds, per client */
    size_t conflicts;                   /* projections made by coordination, all rounds */
    double seconds, train_seconds, eval_seconds, aggregate_seconds;
    /* 1: stopped at the progress hook's request; rounds counts the
     * finished rounds, the figures are of the best of them. */
    int stopped;
    /* With keep_models: client c's model (its MMoE over the experts it
     * holds) with its parameters of the best round, on every rank; free
     * them with fr_fedmsmt_result_release. NULL otherwise. */
    fr_msmt_model *model[FR_TABLE_MAX_SCENARIOS];
} fr_fedmsmt_result;

/* Free the models a run kept (a no-op without them). */
void fr_fedmsmt_result_release(fr_fedmsmt_result *r);

/* Client c's model as a run with options o on data shaped like t builds
 * it (an MMoE over the pool experts the client holds, parameters not yet
 * trained): a saved client's parameters are loaded into it. */
fr_status fr_fedmsmt_client_model_create(fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o, size_t c,
                                         fr_msmt_model **out);
/* Every client's model (models[c] for scenario c, as a run kept them or
 * as loaded) on its own rows of a split of t, the cells and means as a
 * run's rounds report them. */
fr_status fr_fedmsmt_evaluate(fr_msmt_model *const *models, const fr_table *t, int split, fr_msmt_eval *out);
/* The pool experts client c holds under o with `clients` clients:
 * pool_index[k] is local expert k's index in the pool (the k-th expert of
 * the client's bank); *held gets the count; *pool (may be NULL) the pool's
 * size. */
fr_status fr_fedmsmt_client_experts(const fr_fedmsmt_options *o, size_t clients, size_t c,
                                    size_t pool_index[FR_FED_MAX_POOL], size_t *held, size_t *pool);

/* Train on t (one client per scenario, rows by split) for o->rounds rounds;
 * on_round (may be NULL) sees each. Reports the test metrics of the round
 * with the best mean validation AUC. Results do not depend on the
 * backend's thread count. */
fr_status fr_fedmsmt_run(fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o,
                         void (*on_round)(void *arg, const fr_fedmsmt_round *r), void *arg,
                         fr_fedmsmt_result *out);

/* The same on the ranks of comm (NULL or one rank: this process). Every
 * rank builds every client from the same table and options; each trains
 * and evaluates the clients placed on it (o->participation.placement); the ranks share
 * the trained parameter vectors and figures, and every rank runs the
 * server's arithmetic on the same inputs in client order: the result is
 * the one-rank run's, bit for bit, for any rank count. Ranks may use
 * different backends (be is this rank's). Collective: it first checks
 * that every rank has the same table and job fingerprint
 * (fr_comm_same_job). */
fr_status fr_fedmsmt_run_ranks(fr_comm *comm, fr_backend *be, const fr_table *t, const fr_fedmsmt_options *o,
                               void (*on_round)(void *arg, const fr_fedmsmt_round *r), void *arg,
                               fr_fedmsmt_result *out);

#ifdef __cplusplus
}
#endif
#endif
