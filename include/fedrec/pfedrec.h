/* fedrec/pfedrec.h — PFedRec (Zhang et al., IJCAI 2023) as its authors'
 * code does it (../shared/specs/pfedrec.md): every user a client with a
 * personal score function sigma(w . E[i] + b), item embeddings E shared
 * through the server's plain mean of the clients' changes and fine-tuned
 * locally, two-step local updates per batch, leave-one-out evaluation of
 * each client's own model with 99 sampled negatives.
 *
 * The engine keeps per client only what the client owns: w, b and its last
 * evaluation figures; a round's client updates carry the changed item rows
 * only, and the server applies them in client-id order, so a run's result
 * does not depend on the thread count. */
#ifndef FEDREC_PFEDREC_H
#define FEDREC_PFEDREC_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/comm.h"
#include "fedrec/error.h"
#include "fedrec/fed.h"
#include "fedrec/participation.h"
#include "fedrec/progress.h"
#include "fedrec/ratings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The baselines on the same engine, data, negatives and evaluation:
 * - FR_ALGO_FEDMF: a local user embedding u instead of the score function
 *   (score sigma(u . E[i]), no bias), one joint update of u and the item
 *   rows per batch, evaluation with the round's global item table (no item
 *   personalisation).
 * - FR_ALGO_FEDNCF: NCF (He et al. 2017; GMF and MLP towers fused by one
 *   output layer) with both user embeddings local, the item embeddings
 *   (GMF and MLP halves) shared like FedMF's, and the MLP and output layer
 *   shared through the mean of the clients' changes; one joint update per
 *   batch; evaluation with the round's global items and layers.
 * - FR_ALGO_CENTRAL_MF: FedMF's model trained on all users' data pooled in
 *   one place (the upper reference): a round is one epoch over every
 *   user's positives and fresh negatives, shuffled together, in batches,
 *   with lazy Adam (central_lr) on the user and item rows a batch touches. */
typedef enum fr_rating_algorithm {
    FR_ALGO_PFEDREC = 0,
    FR_ALGO_FEDMF,
    FR_ALGO_FEDNCF,
    FR_ALGO_CENTRAL_MF
} fr_rating_algorithm;

#define FR_NCF_MAX_LAYERS 8



typedef struct fr_pfedrec_options {
    uint64_t seed;
    fr_rating_algorithm algorithm;
    size_t dim;              /* embedding size (32) */
    float lr;                /* score-function learning rate (0.1) */
    float lr_eta;            /* item lr = lr * n_items * lr_eta (80) */
    size_t batch;            /* 256 */
    size_t negatives;        /* training negatives per positive (4): distinct
                              * for one positive, free to repeat across
                              * positives, as the reference code draws them */
    size_t local_epochs;     /* 1 */
    double client_fraction;  /* clients sampled per round (1.0) */
    int strict;              /* training negatives exclude evaluation negatives */
    int weighted;            /* sample-weighted mean instead of the plain mean */
    int eval_global_items;   /* ablation: evaluate with the global item table */
    int share_score;         /* ablation: aggregate w, b too (no personal score) */
    int threads;             /* workers; <= 0: online cores */
    /* Cohort training (PFedRec, FedMF and FedNCF; doc/PFEDREC.md
     * "Cohorts"): with a backend, each round's clients train on it as
     * cohorts of `cohort` clients (0: fr_pfedrec_cohort_clients), batch by
     * batch in a few batched ops per batch — the way onto an OpenCL
     * device. Results agree with the
     * one-by-one path within float rounding (not bit for bit). NULL (the
     * default): clients one by one on the host's threads. Borrowed: the
     * backend must outlive the job. */
    fr_backend *backend;
    size_t cohort;
    int cpu_isa;             /* fr_cpu_isa of the kernels; 0 (auto): the best */
    int dense_upload;        /* clients upload every row (for comparison) */
    size_t top_k;            /* HR@K / NDCG@K (10) */
    /* FedNCF: widths of the MLP tower's hidden layers after the 2 * dim
     * input (32, 16, 8); 1 to FR_NCF_MAX_LAYERS of them. */
    size_t ncf_layers[FR_NCF_MAX_LAYERS];
    size_t n_ncf_layers;
    float central_lr;        /* centralised MF: Adam learning rate (0.001) */
    /* Placement over ranks, deadline and quorum (fedrec/participation.h):
     * late clients' item updates are left out; a client late under the
     * wall clock keeps its personal model. */
    fr_participation participation;
    /* Faulty clients. An update that is not finite (item rows, FedNCF's
     * layers, a shared score) is always rejected: never aggregated,
     * counted in the round's `rejected`. clip_norm > 0 scales each
     * client's update down to at most that L2 norm. For tests and
     * studies, fault injection: per round, each trained client's update
     * is replaced by NaN with probability fault_nan, or multiplied by 1e6
     * with probability fault_huge (draws from stream (seed, round + 1,
     * client, FAULT)); drop-outs are the simulated deadline's. */
    double clip_norm;
    double fault_nan, fault_huge;
    /* aggregator: FR_AGG_*; trim: the fraction dropped at each end by the
     * trimmed mean, in [0, 0.5) (rounded up, leaving at least one value). Robust aggregation runs in one process,
     * with the plain mean (not weighted) and without DP or secure
     * aggregation (which need the sum). */
    fr_aggregator aggregator;
    double trim;
    /* Privacy (fedrec/privacy.h, doc/PRIVACY.md), for the federated
     * algorithms.
     * - local_noise > 0: each client adds Laplace(0, local_noise) noise to
     *   every value of the item rows it uploads (PFedRec's privacy study;
     *   stream (seed, round + 1, client, LOCAL_NOISE)), before clip_norm,
     *   so that a clip bounds the noisy update.
     * - dp_noise > 0: DP-FedAvg on the shared parameters (the item table,
     *   FedNCF's layers): each update clipped to clip_norm (required), the
     *   sum divided by the round's sample size rather than the arrivals,
     *   and Gaussian noise of standard deviation dp_noise * clip_norm added
     *   to the sum of every shared value (stream (seed, round + 1, row,
     *   DP_NOISE)); each round reports epsilon at dp_delta (RDP
     *   accountant, sampling rate client_fraction). Not with weighted or
     *   share_score, whose updates the clip does not bound.
     * - secure_agg: the server sees only the sum of the updates, masked in
     *   pairs (secure_neighbours on each side of a ring) over 64-bit fixed
     *   point; one process only, not with share_score. */
    double local_noise;
    double dp_noise, dp_delta;
    int secure_agg;
    size_t secure_neighbours;
    /* The job's configuration fingerprint (fr_config_fingerprint,
     * fedrec/config.h; the CLI's effective configuration), copied by
     * fr_pfedrec_create: checkpoints store it, a resume under another
     * configuration is refused naming the keys that differ, and the ranks
     * of a job compare it at start-up. NULL (the default): no
     * configuration is compared, only the data and the sizes. */
    const char *job_fingerprint;
    /* fedrec/progress.h: told the clients this rank has trained in a
     * round (unit "client"; from the worker threads, one call at a time)
     * or, for centralised MF, the batches of its epoch ("batch"). A round
     * always finishes: the hook's stop request is the caller's to act on
     * between rounds (checkpoints hold whole rounds). */
    fr_progress_hook progress;
} fr_pfedrec_options;

typedef struct fr_pfedrec_round {
    double train_loss;       /* mean BCE over the round's training samples */
    double val_hr, val_ndcg, test_hr, test_ndcg;
    size_t clients;          /* clients sampled this round */
    size_t participants;     /* updates that arrived in time and were aggregated */
    size_t rejected;         /* updates refused as not finite */
    size_t trained_here;     /* clients this rank trained */
    int aggregated;          /* 0: fewer than min_clients arrived; the global model was kept */
    /* (Centralised MF: clients = participants = trained_here = every
     * user, aggregated 1; nothing is sent.) */
    double dp_epsilon;       /* with dp_noise: epsilon at dp_delta after this round (0: no DP) */
    uint64_t bytes_up;       /* client -> server (all ranks' clients) */
    /* This rank's traffic with the other ranks this round (payload bytes,
     * fedrec/comm.h) and the wall time it spent in the exchanges. */
    uint64_t bytes_sent, bytes_received;
    double t_comm;
    double t_local;          /* wall seconds this rank spent training its clients */
    double seconds;          /* wall time of the round */
    /* Where the time went, summed over clients (CPU seconds, so with
     * several threads they add up to more than the wall time): drawing
     * negatives, local training, evaluation; and the server's aggregation
     * (wall time). */
    double t_negatives, t_train, t_eval, t_aggregate;
    /* 0: the round ran under fr_pfedrec_set_evaluate(p, 0); the four
     * figures above are NaN. */
    int evaluated;
} fr_pfedrec_round;

typedef struct fr_pfedrec fr_pfedrec;

void fr_pfedrec_options_default(fr_pfedrec_options *o);
/* The share of n_users clients a round samples (client_fraction, rounded
 * to a whole number of clients, at least one): DP accounting's q. */
double fr_pfedrec_sampling_rate(const fr_pfedrec_options *o, size_t n_users);
/* The checks fr_pfedrec_create makes of the options alone (sizes,
 * rates, privacy and aggregator combinations), before any data. */
fr_status fr_pfedrec_options_check(const fr_pfedrec_options *o);
/* Clients per cohort under o: o->cohort, or when it is 0 the default,
 * 1024 (PFedRec, FedMF) or 128 (FedNCF, whose activations are a batch of
 * rows per client). */
size_t fr_pfedrec_cohort_clients(const fr_pfedrec_options *o);
/* split must outlive the engine. */
fr_status fr_pfedrec_create(const fr_loo_split *split, const fr_pfedrec_options *o,
                            fr_pfedrec **out);
void fr_pfedrec_free(fr_pfedrec *p);
/* Run the engine on the ranks of c (before the first round; c outlives
 * the engine; NULL or one rank: in this process). Every rank creates the
 * engine from the same data and options; each trains the sampled clients
 * placed on it, and the ranks exchange their clients' updates so that
 * every rank ends each round with the same global model, bit for bit the
 * one-rank run's. A client's personal state (score function) lives on its
 * rank; checkpoints gather it to rank 0, which writes the file. Centralised
 * MF runs on one rank only. Collective: it checks that every rank has the
 * same data and job fingerprint (fr_comm_same_job: FR_ERR_CONFIG naming
 * the rank and the keys that differ, FR_ERR_DATA for other data). */
fr_status fr_pfedrec_set_comm(fr_pfedrec *p, fr_comm *c);
/* Run round `round` (0-based): sample, train, evaluate, aggregate.
 * Collective in a multi-rank job. */
fr_status fr_pfedrec_run_round(fr_pfedrec *p, unsigned round, fr_pfedrec_round *out);
/* Whether the rounds run from now on evaluate (1, from create) or only
 * train (0): a client trained in a round that does not evaluate keeps
 * its last figures, and the round's figures are NaN (out->evaluated 0).
 * Evaluation draws nothing, so the training is the same either way. A
 * job's driver sets it before each round (train.eval_every). */
void fr_pfedrec_set_evaluate(fr_pfedrec *p, int evaluate);
/* The current global item table (n_items x dim). */
const float *fr_pfedrec_items(const fr_pfedrec *p);

/* Checkpoints: everything a run needs to continue exactly as if it had not
 * stopped (the item table, every client's score function and last
 * figures, the rounds done). The draws of later rounds depend only on the
 * seed and the round, so a resumed run repeats an uninterrupted one bit for
 * bit. The file is written atomically and checked (magic, version, CRC-32,
 * sizes) when read. It holds the job fingerprint (options.job_fingerprint)
 * and a hash of the split's contents (fr_loo_split_fingerprint): a file of
 * another configuration is refused naming the keys that differ and both
 * values (FR_ERR_CONFIG; keys a resume may change, such as train.rounds,
 * are not compared), one of other data (the same sizes, other contents)
 * with FR_ERR_DATA, one of other sizes, seed or algorithm with
 * FR_ERR_FORMAT. `extra` is caller data (the job's best round so far) kept with
 * it, at most 64 doubles. In a multi-rank job both are collective: rank 0
 * writes (save) or reads (load) the file and the others exchange the
 * state with it, so a run resumes with any rank count. */
fr_status fr_pfedrec_save(fr_pfedrec *p, const char *path, unsigned rounds_done,
                          const double *extra, size_t n_extra);
fr_status fr_pfedrec_load(fr_pfedrec *p, const char *path, unsigned *rounds_done,
                          double *extra, size_t n_extra);

/* ---- The trained model ---------------------------------------------------
 * What a round evaluated each user with, for `fedrec train --save` and for
 * evaluating, recommending and exporting later:
 * - items: the item table of the round's evaluation: for the federated
 *   algorithms the global table the round started from (a client is
 *   evaluated right after its local training, before the server
 *   aggregates), for centralised MF the table after the epoch;
 * - w, b: each user's score function (PFedRec: w . e + b) or user row
 *   (FedMF, FedNCF, centralised MF; b zero) as its last evaluation used it;
 * - shared: FedNCF's layers of the round's evaluation (layout: see
 *   fr_pfedrec_ncf_layer);
 * - PFedRec with item personalisation: each user's fine-tuned item rows,
 *   the rows its last local training changed (the others are the global
 *   table's): personal_items[personal_start[u] .. personal_start[u + 1])
 *   in increasing item order, their values in personal_rows (dim each).
 * dim is the width of an item or user row: the embedding size, twice it
 * for FedNCF (GMF half, then MLP half). With every client trained every
 * round (client_fraction 1, no deadline), evaluating the model of round k
 * gives round k's figures exactly; otherwise a client not trained in round
 * k was evaluated earlier, with an older item table. */
typedef struct fr_pfedrec_model {
    fr_rating_algorithm algorithm;
    size_t n_users, n_items, dim;
    unsigned round;          /* the round (1-based) it comes from; 0: initial */
    float *items;            /* n_items x dim */
    float *w;                /* n_users x dim */
    float *b;                /* n_users */
    float *shared;           /* FedNCF: n_shared values, else NULL */
    size_t n_shared;
    size_t *personal_start;  /* n_users + 1, or NULL: no personal rows */
    int32_t *personal_items;
    float *personal_rows;
    size_t personal_cap;     /* rows the two arrays hold */
} fr_pfedrec_model;

void fr_pfedrec_model_free(fr_pfedrec_model *m);

/* Keep, from the next round on, what each round's evaluation used (the
 * round's starting item table and layers, each user's score function and
 * fine-tuned rows), for fr_pfedrec_model_take: memory for a second item
 * table and, with PFedRec's item personalisation, each user's changed
 * rows. In a multi-rank job each rank keeps its own clients' parts. */
fr_status fr_pfedrec_keep_model(fr_pfedrec *p);
/* Copy the model of the last round run since fr_pfedrec_keep_model into
 * m (its buffers reused; zero-initialise m before the first call). In a
 * multi-rank job every rank takes its copy (no exchange): the users it
 * trains hold their parts, the others' are stale until
 * fr_pfedrec_model_gather. */
fr_status fr_pfedrec_model_take(fr_pfedrec *p, fr_pfedrec_model *m);
/* Multi-rank jobs, collective: every user's part of m (score function or
 * row, personal rows) from the rank that trained it, onto rank 0's m (the
 * tables are the same on every rank). One process: nothing to do. */
fr_status fr_pfedrec_model_gather(fr_pfedrec *p, fr_pfedrec_model *m);
/* Checkpoints that keep models (format 4), for a resumed run that saves
 * one (`fedrec train --save`): as fr_pfedrec_save, and when the engine
 * keeps its model (fr_pfedrec_keep_model) the file also holds what it
 * kept as of its last round (fr_pfedrec_model_take's model), and `best`
 * when not NULL (the caller's best-validation model, taken in an earlier
 * round). Collective in a multi-rank job, `best` given on every rank or on
 * none: every user's part of both is gathered to rank 0, which writes. */
fr_status fr_pfedrec_save_models(fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                                 size_t n_extra, fr_pfedrec_model *best);
/* What fr_pfedrec_load_models found in a checkpoint (*held, bits). */
enum {
    FR_PFEDREC_HELD_KEPT = 1, /* the engine's kept model, restored: the engine
                                 keeps from here on what the uninterrupted
                                 run keeps, fr_pfedrec_model_take included */
    FR_PFEDREC_HELD_BEST = 2  /* the best model, into *best */
};
/* As fr_pfedrec_load; in an engine that keeps its model (call
 * fr_pfedrec_keep_model first) a kept model in the file becomes the
 * engine's, and a best model in the file replaces *best (zero-initialised
 * or a model; NULL: skipped). A file of format 3, or one written without
 * them, holds neither (*held 0). Multi-rank: every rank gets both whole. */
fr_status fr_pfedrec_load_models(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                                 size_t n_extra, fr_pfedrec_model *best, int *held);
/* Replace the engine's model with m (same algorithm and sizes), to
 * evaluate it or score items with it. */
fr_status fr_pfedrec_model_use(fr_pfedrec *p, const fr_pfedrec_model *m);
/* Evaluate every evaluated user of the split with the model in use, as a
 * round does (validation and test HR@K, NDCG@K; the other fields zero). */
fr_status fr_pfedrec_evaluate(fr_pfedrec *p, fr_pfedrec_round *out);
/* The score (logit) of every item for user u under the model in use:
 * scores holds n_items floats. */
fr_status fr_pfedrec_scores(fr_pfedrec *p, size_t u, float *scores);
/* FedNCF's layers inside `shared`: layer l (0 .. n_ncf_layers - 1 the
 * hidden layers, n_ncf_layers the output layer) has an out x in weight
 * (row-major) at *weight and out biases at *bias. The output layer's
 * inputs are the dim GMF products, then the last hidden layer's outputs. */
void fr_pfedrec_ncf_layer(const fr_pfedrec_options *o, size_t l, size_t *out, size_t *in,
                          size_t *weight, size_t *bias);

#ifdef __cplusplus
}
#endif
#endif
