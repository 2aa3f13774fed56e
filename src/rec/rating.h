/* rating.h — the MF family's client trainer (internal): PFedRec's
 * personal score function and fine-tuned item rows, FedMF, FedNCF, and
 * centralised MF, shared by rating.c (the model and its client interface),
 * rating_client.c (one client's round), rating_ncf.c (FedNCF's layers),
 * rating_central.c (centralised MF's epochs) and rating_model.c (the kept
 * model, evaluation of every user).
 *
 * The model owns what a client owns: each user's w and b (score function
 * or user embedding) and last figures. The item table and FedNCF's shared
 * layers are the server's (the federation core's state, fedrec/fed_client.h):
 * `items` and `shared` point at them; centralised MF, which has no
 * server, owns its table. */
#ifndef FR_REC_RATING_H
#define FR_REC_RATING_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/host.h"
#include "core/clock.h"
#include "fedrec/fed_client.h"
#include "fedrec/pfedrec.h"

/* Client ids of the initialisation streams (seed, 0, id, FR_RNG_INIT) that
 * are not a user's: the item table, FedNCF's shared layers, PFedRec's one
 * initial score function. */
/* Bounds the per-task records of the parallel loops (x 8 tasks). */
#define FR_RATING_MAX_TASKS 64
#define FR_PF_ITEMS_INIT_STREAM 0xFFFFFFFFu
#define FR_PF_NCF_INIT_STREAM 0xFFFFFFFEu
#define FR_PF_SCORE_INIT_STREAM 0xFFFFFFFDu

typedef struct fr_rating {
    const fr_loo_split *split;
    fr_pfedrec_options o;
    /* dim is the width of an item row and of a user's row in w: the
     * embedding size, twice it for FedNCF (GMF half, then MLP half). */
    size_t n_users, n_items, dim;
    float *items;        /* global item table (the server's; centralised MF: owned_items) */
    float *owned_items;
    float *w;            /* n_users x dim score weights / user embeddings */
    float *b;            /* n_users score biases */
    float *shared;       /* FedNCF: the shared MLP and output layer (the server's) */
    uint8_t *item_group; /* each item's upload group (fr_fed_group_of), looked up, not divided */
    size_t n_shared;
    /* Centralised MF: Adam moments of the user and item rows, the steps
     * taken, and the pooled samples of an epoch. */
    float *m_users, *v_users, *m_items, *v_items;
    uint64_t adam_step;
    int32_t *pool_user, *pool_item;
    float *pool_label;
    size_t *pool_start;  /* n_users + 1 */
    double *val_hr, *val_ndcg, *test_hr, *test_ndcg;  /* per user, last model */
    fr_host *host;           /* the CPU compute of the one-by-one path (fedrec/host.h) */
    struct fr_rating_cohort *cohort; /* cohort training on o.backend, or NULL (rating_cohort.c) */
    const fr_host_vec *k; /* the host's vector kernels, looked up once */
    unsigned round;         /* the round in progress */
    int skip_eval;          /* rounds do not evaluate */
    /* The model kept for saving (rating_model.c): the item table and
     * FedNCF layers of the last round's evaluation, each user's score
     * function as last evaluated, and its fine-tuned rows (PFedRec with
     * item personalisation); kept_round: that round, 1-based (0: none
     * yet). fr_rating_model_use fills the personal rows too. */
    int keep;
    unsigned kept_round;
    float *eval_items, *eval_shared, *eval_w, *eval_b;
    size_t *pers_n, *pers_cap;
    int32_t **pers_items;
    float **pers_rows;
} fr_rating;

/* The model for split and o (checked by the caller). n_shared: FedNCF's
 * layer count (else 0). Federated: items and shared are set by the caller
 * to the server's state, then fr_rating_init fills them; centralised MF
 * owns its table. */
fr_status fr_rating_create(const fr_loo_split *split, const fr_pfedrec_options *o, fr_rating **out);
void fr_rating_free(fr_rating *p);
/* The initial model: the item table and FedNCF's layers (into items and
 * shared), the score functions or user embeddings, every user's first
 * evaluation. */
fr_status fr_rating_init(fr_rating *p);
/* The client interface of the federated algorithms (fedrec/fed_client.h)
 * into *ops; personal values: w and b (dim + 1) under a shared score
 * function; records: the four figures. */
void fr_rating_client_ops(const fr_rating *p, fr_fed_client_ops *ops);
/* The round's validation and test HR / NDCG: means over the evaluated
 * users of their last figures; NaN in a round that did not evaluate. */
void fr_rating_figures(const fr_rating *p, fr_pfedrec_round *out);
/* The four figures alone (means over the evaluated users). */
void fr_rating_summarise(const fr_rating *p, fr_pfedrec_round *out);
/* Keeping and using the model (rating_model.c; fedrec/pfedrec.h's
 * fr_pfedrec_keep_model and following). */
fr_status fr_rating_keep_model(fr_rating *p);
fr_status fr_rating_model_take(fr_rating *p, fr_pfedrec_model *m);
fr_status fr_rating_model_use(fr_rating *p, const fr_pfedrec_model *m);
fr_status fr_rating_evaluate(fr_rating *p, fr_pfedrec_round *out);
fr_status fr_rating_scores(fr_rating *p, size_t u, float *scores);

/* A sum of BCE losses max(z, 0) - z y + log(1 + e^-|z|): the linear parts
 * summed, the log parts as one product of the (1 + e^-|z|) in double,
 * whose log is taken when it grows large and at the end, instead of a
 * log1pf per sample (which cost an eighth of a PFedRec round). The
 * product's rounding is far below the float terms' it replaces. */
typedef struct fr_pf_loss {
    double linear, logs, product;
} fr_pf_loss;
static inline void fr_pf_loss_init(fr_pf_loss *l)
{
    l->linear = 0.0;
    l->logs = 0.0;
    l->product = 1.0;
}
double fr_pf_loss_total(const fr_pf_loss *l);

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
    fr_pf_loss loss;     /* the client's training loss */
    /* FedNCF: a one-thread host (GEMM) of this worker, the client's copy
     * of the shared layers, their gradient, and the activations. */
    fr_host *gemm;
    float *ncf_local, *ncf_grad, *ncf_act;
    float **ncf_ptrs;    /* 2 x ncf_rows: a batch's item rows, their gradients */
    float *ncf_logits;   /* 2 x ncf_rows: logits, then their gradients */
    size_t ncf_rows;     /* rows the activation buffers hold */
} scratch;


/* Scratch of one worker for model p (FedNCF's buffers included). */
fr_status fr_pf_scratch_init(scratch *s, const fr_rating *p);
void fr_pf_scratch_free(scratch *s);
/* Forget the rows loaded for the last client. */
void fr_pf_scratch_reset(scratch *s);
/* Train client u for the round in p->round from the server's table in
 * p->items; fill out with its upload. */
fr_status fr_pf_train_client(fr_rating *p, scratch *s, size_t u, fr_fed_upload *out);
/* A client's upload from the rows it loaded (loaded[k]: item of local row
 * k, n_loaded of them; local: their trained values): the changed rows and
 * their change against p->items, sorted into the upload groups (every row
 * under dense_upload). loaded is restored before it returns. */
fr_status fr_pf_pack_upload(const fr_rating *p, int32_t *loaded, const float *local, size_t n_loaded,
                            fr_fed_upload *out);
/* Evaluate user u's model (w, b, the overlay in s) into p's figures. */
void fr_pf_evaluate(fr_rating *p, scratch *s, size_t u, const float *w, float b);
/* Every item's score for a user's model (w, b, the overlay in s). */
void fr_pf_score_items(const fr_rating *p, scratch *s, const float *w, float b, float *scores);
/* Keeping the model (rating_model.c): after client u's training and
 * evaluation, its score function and changed rows; at a round's start, the
 * table and layers its evaluations read; freeing it all. */
fr_status fr_pf_keep_client(fr_rating *p, const scratch *s, size_t u, const float *w, float b);
void fr_pf_keep_round_start(fr_rating *p);
void fr_pf_keep_free(fr_rating *p);
/* *buf holds at least n values of size bytes (grown with realloc; *have:
 * the values it holds). */
fr_status fr_pf_grow(void **buf, size_t *have, size_t n, size_t size);
/* Whether m fits this model (algorithm, sizes, personal rows in order). */
fr_status fr_pf_model_check(const fr_rating *p, const fr_pfedrec_model *m);
/* A resume: what the model kept (fr_rating_model_take's model of the
 * checkpoint's round) back as its kept model (nothing unless it keeps). */
fr_status fr_pf_keep_restore(fr_rating *p, const fr_pfedrec_model *m);
/* Training samples of user u for round p->round into s->sample_item /
 * sample_label: the positives, then the negatives; *count of them. */
fr_status fr_pf_draw_samples(const fr_rating *p, scratch *s, size_t u, size_t *count);
/* Samples user u gets every round: positives x (1 + negatives each). */
size_t fr_pf_samples_of(const fr_rating *p, size_t u);
/* Sigmoid of logit z; with its BCE loss against y added to *loss. */
float fr_pf_sigmoid(float z);
float fr_pf_sigmoid_bce(float z, float y, fr_pf_loss *loss);
/* Slot of item in the client's overlay, copying the global row on first use. */
fr_status fr_pf_load_row(scratch *s, const float *items, size_t dim, int32_t item, int32_t *slot);

/* FedNCF (rating_ncf.c). Shared parameters: for each hidden layer l its
 * weight (out x in, row-major) and bias, then the output layer's weight
 * (emb GMF inputs, then the last hidden width) and bias. */
size_t fr_ncf_shared_count(const fr_pfedrec_options *o);
/* PyTorch nn.Linear's default initialisation, from stream (seed, 0,
 * 0xFFFFFFFE, INIT). */
void fr_ncf_init_shared(const fr_pfedrec_options *o, float *shared);
fr_status fr_ncf_scratch_init(const fr_rating *p, scratch *s);
void fr_ncf_scratch_free(scratch *s);
/* Logits of m items for a user: user row u (GMF | MLP halves), item rows
 * item_rows[j] (same layout), layers `shared`; activations kept in s for
 * fr_ncf_backward. m <= s->ncf_rows. */
void fr_ncf_forward(const fr_rating *p, scratch *s, const float *shared, const float *u,
                    const float *const *item_rows, size_t m, float *logits);
/* Given dlogit[j] for the last forward: adds the gradients of the layers
 * to s->ncf_grad, of the user row to gu, of item row j to item_grads[j]. */
void fr_ncf_backward(const fr_rating *p, scratch *s, const float *shared, const float *u,
                     const float *const *item_rows, size_t m, const float *dlogit, float *gu,
                     float *const *item_grads);

/* Centralised MF (rating_central.c): one epoch over the pooled data,
 * then the evaluation of every user. */
fr_status fr_pf_central_epoch(fr_rating *p, fr_pfedrec_round *out);
fr_status fr_pf_central_alloc(fr_rating *p);

#endif
