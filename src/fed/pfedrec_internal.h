/* pfedrec_internal.h — the rating engine's insides, shared by its files
 * (internal): pfedrec.c (options, rounds, aggregation), pfedrec_client.c
 * (one client's round), pfedrec_ncf.c (FedNCF's layers),
 * pfedrec_central.c (centralised MF's epochs), pfedrec_checkpoint.c (save
 * and resume). */
#ifndef FR_PFEDREC_INTERNAL_H
#define FR_PFEDREC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/cpu_engine.h"
#include "core/clock.h"
#include "fedrec/pfedrec.h"

#define MAX_AGG_TASKS 64
/* Client ids of the initialisation streams (seed, 0, id, FR_RNG_INIT) that
 * are not a user's: the item table, FedNCF's shared layers, PFedRec's one
 * initial score function. */
#define FR_PF_ITEMS_INIT_STREAM 0xFFFFFFFFu
#define FR_PF_NCF_INIT_STREAM 0xFFFFFFFEu
#define FR_PF_SCORE_INIT_STREAM 0xFFFFFFFDu
/* Item-range groups of a client's upload. */
#define FR_PF_GROUPS 64

typedef struct client_out {
    int32_t *rows;       /* items whose embedding the client changed */
    float *delta;        /* n_rows x dim: local - global */
    size_t n_rows;
    size_t cap_rows;     /* rows the buffers hold: kept across rounds, so
                          * a round does not fault in fresh pages */
    /* rows grouped by item range: group g (items i with
     * i * FR_PF_GROUPS / n_items == g) is rows[group_start[g] ..
     * group_start[g + 1]). Aggregation tasks and the ranks' chain take
     * whole groups, whatever the thread count. */
    uint32_t group_start[FR_PF_GROUPS + 1];
    float *shared_delta; /* FedNCF: change of the shared layers (n_shared) */
    size_t samples;
    double loss_sum;
    double t_negatives, t_train, t_eval;
    int trained;         /* 0: not trained (late before it started) */
    int late;            /* its upload missed the round's deadline */
    int rejected;        /* its update was not finite, or too large for secure aggregation */
} client_out;

struct fr_pfedrec {
    const fr_loo_split *split;
    fr_pfedrec_options o;
    /* dim is the width of an item row and of a user's row in w: the
     * embedding size, twice it for FedNCF (GMF half, then MLP half). */
    size_t n_users, n_items, dim;
    float *items;        /* global item table */
    float *w;            /* n_users x dim score weights / user embeddings */
    float *b;            /* n_users score biases */
    float *shared;       /* FedNCF: the shared MLP and output layer */
    size_t n_shared;
    /* Centralised MF: Adam moments of the user and item rows, the steps
     * taken, and the pooled samples of an epoch. */
    float *m_users, *v_users, *m_items, *v_items;
    uint64_t adam_step;
    int32_t *pool_user, *pool_item;
    float *pool_label;
    size_t *pool_start;  /* n_users + 1 */
    double *val_hr, *val_ndcg, *test_hr, *test_ndcg;  /* per user, last model */
    fr_cpu_engine *engine;
    /* The round in progress. */
    unsigned round;
    int skip_eval;          /* fr_pfedrec_set_evaluate(p, 0): rounds do not evaluate */
    int32_t *sampled;
    size_t n_sampled;
    client_out *outs;
    size_t *todo;        /* indices into sampled this rank trains */
    size_t n_todo;
    double round_start;  /* wall clock, for the deadline */
    /* The job's ranks (NULL: this process only). */
    fr_comm *comm;
    int rank, ranks;
    uint32_t *rows_to;   /* n_sampled x ranks: a client's rows per rank's range */
    size_t *block_start; /* contiguous placement: rank r's clients are
                          * [block_start[r], block_start[r + 1]) */
    /* The job: p->o.job_fingerprint points at this copy (or is NULL), and
     * the hash of the split's contents; both go into checkpoints. */
    char *job_fingerprint;
    uint64_t data_fingerprint;
    /* The model kept for saving (fr_pfedrec_keep_model, pfedrec_model.c):
     * the item table and FedNCF layers of the last round's evaluation, each
     * user's score function as last evaluated, and its fine-tuned rows
     * (PFedRec with item personalisation); kept_round: that round, 1-based
     * (0: none yet). fr_pfedrec_model_use fills the personal rows too. */
    int keep;
    unsigned kept_round;
    float *eval_items, *eval_shared, *eval_w, *eval_b;
    size_t *pers_n, *pers_cap;
    int32_t **pers_items;
    float **pers_rows;
};

/* The weight of client update o in the server's mean: its share of the
 * participants' samples, or 1 / participants. One definition for the
 * one-rank and the multi-rank aggregation, so both round alike. */
static inline float fr_pf_scale(const fr_pfedrec *p, const client_out *o, double total_samples,
                                size_t participants)
{
    /* DP-FedAvg divides by the round's sample size, which does not depend
     * on who arrived (the accountant assumes it). */
    return p->o.weighted      ? (float)((double)o->samples / total_samples)
           : p->o.dp_noise > 0 ? 1.0f / (float)p->n_sampled
                               : 1.0f / (float)participants;
}

/* row += scale * delta over d values: the one update rule of aggregation. */
static inline void fr_pf_apply_row(float *row, float scale, const float *delta, size_t d)
{
    for (size_t c = 0; c < d; c++)
        row[c] += scale * delta[c];
}

/* Whether client update o enters the aggregate. */
static inline int fr_pf_participates(const client_out *o)
{
    return o->trained && !o->late && !o->rejected;
}

/* After client u's training: inject the configured faults into its
 * update, refuse it if it is not finite, clip it to the norm bound. */
void fr_pf_screen_update(fr_pfedrec *p, size_t u, client_out *out);

/* Privacy (pfedrec_privacy.c): the options' consistency; a client's
 * Laplace noise on its upload; the server's Gaussian noise after the
 * round's aggregate; epsilon after `rounds` rounds; the aggregate through
 * secure aggregation (one process). */
fr_status fr_pf_privacy_check(const fr_pfedrec_options *o);
void fr_pf_local_noise(const fr_pfedrec *p, size_t u, client_out *out);
void fr_pf_dp_noise(fr_pfedrec *p);
fr_status fr_pf_dp_epsilon(const fr_pfedrec *p, unsigned rounds, double *epsilon);
fr_status fr_pf_secure_aggregate(fr_pfedrec *p, double total_samples, size_t participants);
/* The round's aggregate by the median or trimmed mean (pfedrec_robust.c). */
fr_status fr_pf_robust_aggregate(fr_pfedrec *p, size_t participants);

/* The round's validation and test HR / NDCG: means over the evaluated
 * users of their last figures (pfedrec.c). */
void fr_pf_summarise(const fr_pfedrec *p, fr_pfedrec_round *out);

/* Multi-rank rounds (pfedrec_ranks.c). The rank that trains client u. */
int fr_pf_owner(const fr_pfedrec *p, size_t u);
/* After this rank trained its share (local: its first failure): agree on
 * the outcome, then give every rank every trained client's record (late
 * or not, samples, loss, times, figures; the score function under a
 * shared score; FedNCF's layer change) and how many of its changed rows
 * fall in each rank's item range (kept in p->rows_to). */
fr_status fr_pf_exchange_records(fr_pfedrec *p, fr_status local);
/* The participants' item changes to the ranks owning their rows; each
 * rank applies its range in client-id order (threads split the range),
 * then the changed rows go to every rank. */
fr_status fr_pf_aggregate_ranks(fr_pfedrec *p, double total_samples, size_t participants);
/* Contiguous placement: rank r's clients follow rank r - 1's in client
 * order, so each rank continues the rows the ranks before it left
 * (received from rank r - 1), adds its participants' changes in client
 * order and passes every row changed so far to rank r + 1, range by range
 * (a pipeline); the last rank broadcasts them. The same float operations in the same order as one
 * process, moving O(changed rows) per rank instead of every change. */
fr_status fr_pf_aggregate_chain(fr_pfedrec *p, double total_samples, size_t participants);
/* Apply the participants among sampled clients [k_begin, k_end) to the
 * item rows of upload groups [g_begin, g_end), in client order, split
 * over the aggregation tasks. */
void fr_pf_apply_clients(fr_pfedrec *p, size_t k_begin, size_t k_end, size_t g_begin, size_t g_end,
                         double total_samples, size_t participants);
/* Checkpoints: rank 0 gets every client's score function; rank 0's state
 * goes to every rank. */
fr_status fr_pf_gather_personal(fr_pfedrec *p);
fr_status fr_pf_broadcast_state(fr_pfedrec *p, unsigned *rounds_done, double *extra, size_t n_extra);

/* Per-worker scratch of a client's round. */
typedef struct scratch {
    int32_t *slot;       /* item -> row of `local`, -1 if not loaded */
    uint32_t *mark;      /* item -> stamp: taken in the current draw */
    uint32_t stamp;
    int32_t *loaded;     /* items with a slot, in load order */
    size_t n_loaded, cap_rows;
    float *local, *grad; /* loaded rows and their batch gradients */
    int32_t *sample_item;
    float *sample_label;
    size_t cap_samples;
    int32_t *batch_rows; /* slots touched by the current batch */
    uint32_t *seen_in_batch; /* slot -> batch_id of its last gradient */
    uint32_t batch_id;
    /* FedNCF: a one-thread GEMM engine of this worker, the client's copy
     * of the shared layers, their gradient, and the activations. */
    fr_cpu_engine *gemm;
    float *ncf_local, *ncf_grad, *ncf_act;
    float **ncf_ptrs;    /* 2 x ncf_rows: a batch's item rows, their gradients */
    float *ncf_logits;   /* 2 x ncf_rows: logits, then their gradients */
    size_t ncf_rows;     /* rows the activation buffers hold */
} scratch;

/* Scratch of one worker for engine p (FedNCF's buffers included). */
fr_status fr_pf_scratch_init(scratch *s, const fr_pfedrec *p);
void fr_pf_scratch_free(scratch *s);
/* Forget the rows loaded for the last client. */
void fr_pf_scratch_reset(scratch *s);
/* Train client u for the round in p->round; fill out with its upload. */
fr_status fr_pf_train_client(fr_pfedrec *p, scratch *s, size_t u, client_out *out);
/* Evaluate user u's model (w, b, the overlay in s) into p's figures. */
void fr_pf_evaluate(fr_pfedrec *p, scratch *s, size_t u, const float *w, float b);
/* Every item's score for a user's model (w, b, the overlay in s). */
void fr_pf_score_items(const fr_pfedrec *p, scratch *s, const float *w, float b, float *scores);
/* Keeping the model (pfedrec_model.c): after client u's training and
 * evaluation, its score function and changed rows; at a round's start, the
 * table and layers its evaluations read; freeing it all. */
fr_status fr_pf_keep_client(fr_pfedrec *p, const scratch *s, size_t u, const float *w, float b);
void fr_pf_keep_round_start(fr_pfedrec *p);
void fr_pf_keep_free(fr_pfedrec *p);
/* Whether m fits this engine (algorithm, sizes, personal rows in order). */
fr_status fr_pf_model_check(const fr_pfedrec *p, const fr_pfedrec_model *m);
/* A resume: what the engine kept (fr_pfedrec_model_take's model of the
 * checkpoint's round) back as its kept model (nothing unless it keeps). */
fr_status fr_pf_keep_restore(fr_pfedrec *p, const fr_pfedrec_model *m);
/* Aggregation tasks: one per worker, at most MAX_AGG_TASKS. */
size_t fr_pf_agg_tasks(const fr_pfedrec *p);
/* The first item of upload group g (g = FR_PF_GROUPS: n_items). */
size_t fr_pf_group_first_item(const fr_pfedrec *p, size_t g);
/* Training samples of user u for round p->round into s->sample_item /
 * sample_label: the positives, then the negatives; *count of them. */
fr_status fr_pf_draw_samples(const fr_pfedrec *p, scratch *s, size_t u, size_t *count);
/* Samples user u gets every round: positives x (1 + negatives each). */
size_t fr_pf_samples_of(const fr_pfedrec *p, size_t u);
/* Sigmoid of logit z; with its BCE loss against y added to *loss_sum. */
float fr_pf_sigmoid(float z);
float fr_pf_sigmoid_bce(float z, float y, double *loss_sum);
/* Slot of item in the client's overlay, copying the global row on first use. */
fr_status fr_pf_load_row(scratch *s, const float *items, size_t dim, int32_t item, int32_t *slot);

/* FedNCF (pfedrec_ncf.c). Shared parameters: for each hidden layer l its
 * weight (out x in, row-major) and bias, then the output layer's weight
 * (emb GMF inputs, then the last hidden width) and bias. */
size_t fr_ncf_shared_count(const fr_pfedrec_options *o);
/* PyTorch nn.Linear's default initialisation, from stream (seed, 0,
 * 0xFFFFFFFE, INIT). */
void fr_ncf_init_shared(const fr_pfedrec_options *o, float *shared);
fr_status fr_ncf_scratch_init(const fr_pfedrec *p, scratch *s);
void fr_ncf_scratch_free(scratch *s);
/* Logits of m items for a user: user row u (GMF | MLP halves), item rows
 * item_rows[j] (same layout), layers `shared`; activations kept in s for
 * fr_ncf_backward. m <= s->ncf_rows. */
void fr_ncf_forward(const fr_pfedrec *p, scratch *s, const float *shared, const float *u,
                    const float *const *item_rows, size_t m, float *logits);
/* Given dlogit[j] for the last forward: adds the gradients of the layers
 * to s->ncf_grad, of the user row to gu, of item row j to item_grads[j]. */
void fr_ncf_backward(const fr_pfedrec *p, scratch *s, const float *shared, const float *u,
                     const float *const *item_rows, size_t m, const float *dlogit, float *gu,
                     float *const *item_grads);

/* Centralised MF (pfedrec_central.c): one epoch over the pooled data,
 * then the evaluation of every user. */
fr_status fr_pf_central_epoch(fr_pfedrec *p, fr_pfedrec_round *out);
fr_status fr_pf_central_alloc(fr_pfedrec *p);

#endif
