/* mtr_internal.h — the multi-task recommender's insides shared by its
 * files (internal): mtr_data.c (splits, per-row lists), mtr_relations.c
 * (side-relation readers), mtr_synthetic.c, mtr_tasks.c (the tasks'
 * losses and row gradients), mtr_train.c (steps, Adam, evaluation),
 * mtr_client.c (the client of federated rounds), mtr_cohort.c (its
 * clients as cohorts on a backend), mtr_checkpoint.c (saving and resuming
 * between epochs). */
#ifndef FR_MTR_INTERNAL_H
#define FR_MTR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/host.h"
#include "fedrec/fed_client.h"
#include "fedrec/mtrec.h"
#include "fedrec/rng.h"

/* Per-row sorted unique lists from (row, value) pairs (CSR). */
fr_status fr_mtr_lists_build(size_t rows, const int32_t *row, const int32_t *value, size_t n,
                             size_t **start, int32_t **values);
int fr_mtr_list_contains(const size_t *start, const int32_t *values, size_t row, int32_t x);
/* Take ownership of a and b (n pairs over `rows` rows) and build the
 * neighbour lists. */
fr_status fr_mtr_relation_set(fr_mtr_relation *r, size_t rows, int32_t *a, int32_t *b, size_t n);
/* The data's categories from n (item, category) pairs, repeats allowed:
 * the category -> items and item -> categories lists (mtr_categories.c). */
fr_status fr_mtr_categories_set(fr_mtr_data *d, const int32_t *item, const int32_t *category, size_t n,
                                size_t n_categories);
/* A lookup of the data set's ids (user_names or item_names): the names
 * inserted in dense order, so an id's dense number is its map number; a
 * name the map had to add (a number >= n) is unknown. */
struct fr_id_map;
fr_status fr_mtr_names_map(char **names, size_t n, struct fr_id_map *map);

/* One step's samples and gradients. Rows are numbered in one table: users
 * 0 .. n_users - 1, then items from n_users. */
typedef struct fr_mtr_step {
    size_t n;                 /* positives in the batch */
    const int32_t *user, *item;  /* the batch's pairs (table rows) */
    const float *rating;
    int32_t *negative;        /* BPR negatives (table rows) */
    /* the touched rows: slot_of[row] (or -1) and rows[slot] */
    int32_t *slot_of, *rows;
    size_t n_slots;
    /* pairwise auxiliary tasks: n triples (anchor, positive, negative) */
    int32_t *aux_a, *aux_p, *aux_n;
} fr_mtr_step;

typedef struct fr_mtr_ranker fr_mtr_ranker;
typedef struct fr_mtr_cohort fr_mtr_cohort;

/* Clients in a cohort when the options leave it at 0. */
#define FR_MTR_COHORT_DEFAULT 1024

struct fr_mtr {
    const fr_mtr_data *data;
    fr_mtr_options o;
    size_t n_rows, dim;        /* table rows: users + items */
    float *table, *adam_m, *adam_v;
    uint64_t adam_step;
    fr_combiner *combiner;
    fr_host *host;           /* the CPU compute (fedrec/host.h) */
    /* step scratch */
    int32_t *order, *negative, *slot_of, *rows, *aux[FR_COMBINE_MAX_TASKS][3];
    int32_t *step_user, *step_item;
    float *step_rating;
    float *task_grad[FR_COMBINE_MAX_TASKS]; /* slots x dim each */
    float *combined;                         /* slots x dim */
    size_t slot_cap;
    size_t combine_rows;       /* a per-row combiner's range on the threads (mtr_train.c) */
    /* DirectAU scratch: distinct rows of the batch, their multiplicities
     * and the occurrences' distinct index, normalised rows and norms, the
     * Gram / weight matrix, C X, its product, gradients (norm scratch:
     * norms and weighted row sums of both sides) */
    int32_t *au_rows, *au_occ, *distinct_of_slot;
    float *au_count, *au_x, *au_norm, *au_gram, *au_y, *au_prod, *au_dx;
    fr_mtr_ranker *ranker;     /* full-ranking state (mtr_rank.c), made at the first evaluation */
    fr_mtr_eval_profile eval_profile;
    /* federated rounds (mtr_client.c, the federation core's client): each
     * user's training rows (CSR over the training interactions), the
     * round's item table, the items a client changed, the clients'
     * options; each client's figures of the round (per local step: the
     * tasks' losses, the combiner's weights and norms, its conflicts and
     * whether the step counted: 3 T + 2 doubles a step, summed in client
     * order after the round, whichever rank trained the client), the
     * round they are of (round + 1, 0: none) and how many steps */
    int fed_ready;
    size_t *fed_start;
    int32_t *fed_rows;
    float *fed_global;
    unsigned char *fed_changed;
    int32_t *fed_changed_list;
    fr_mtr_fed_options fed_o;
    double *fed_fig;
    uint32_t *fed_fig_round, *fed_fig_steps;
    size_t fed_fig_steps_cap;
    unsigned fed_round;
    /* The clients' trainer on a backend (mtr_cohort.c; NULL: one by one
     * on the host, train in mtr_client.c) and how many clients a cohort
     * holds (0: all of the round's) */
    fr_mtr_cohort *cohort;
    size_t cohort_clients;
    /* The rounds' driver (src/job/mtrec_federated.c: the federation core
     * and its thread), opaque here; freed with the model. */
    void *fed_job;
    void (*fed_job_free)(void *job);
};

/* A step over st->n samples whose user, item and rating the caller fills
 * (m->step_*): init points st at the trainer's scratch; gradients draws
 * the BPR negatives (stream (seed, epoch, step, FR_RNG_NEGATIVES)) and the
 * pairwise tasks' samples, touches the rows, computes every task's
 * gradient and combines them into m->combined (one row per slot), adding
 * the losses and combiner figures to out (steps counted); release frees
 * the slots. epoch_finish turns out's sums into means and sets its time
 * from t0. The central epoch and a federated client share these. */
void fr_mtr_step_init(fr_mtr *m, fr_mtr_step *st, size_t n);
fr_status fr_mtr_step_gradients(fr_mtr *m, fr_mtr_step *st, unsigned epoch, uint64_t step,
                                fr_mtr_epoch *out);
/* The first part of gradients, alone: the step's draws (BPR negatives into
 * st->negative, the pairwise tasks' triples into m->aux) and its slots
 * (st->rows, st->slot_of), in the order gradients makes them. */
void fr_mtr_step_draw(fr_mtr *m, fr_mtr_step *st, unsigned epoch, uint64_t step);
/* The combiner over n_rows slot rows of the tasks' gradients grads[t]
 * into out (as gradients combines m->task_grad into m->combined). */
fr_status fr_mtr_combine(fr_mtr *m, float *const *grads, size_t n_rows, unsigned epoch, uint64_t step,
                         float *out, fr_combine_stats *stats);
void fr_mtr_step_release(fr_mtr *m, fr_mtr_step *st);
void fr_mtr_epoch_finish(const fr_mtr *m, fr_mtr_epoch *out, double t0);
/* Free the ranking state (mtr_rank.c; NULL-safe). */
void fr_mtr_ranker_free(fr_mtr_ranker *r);
/* Free the federated state (mtr_client.c; NULL-safe, repeatable). */
void fr_mtr_federated_release(fr_mtr *m);
/* Federated rounds (mtr_client.c): the clients' rows and scratch, made
 * once (refusing the social task and gradvac); the client interface. */
fr_status fr_mtr_client_prepare(fr_mtr *m);
void fr_mtr_client_ops(const fr_mtr *m, fr_fed_client_ops *ops);
/* Client u's figures of local step `step` (of this round), kept as train
 * keeps them. */
void fr_mtr_client_keep_figures(fr_mtr *m, size_t u, size_t step, const fr_mtr_epoch *e);
/* Client u's upload of the round from its n_changed changed item rows
 * (items, in the order first changed) and their local values (local,
 * n_changed x dim): the rows grouped as train groups them, each
 * (local - global). */
fr_status fr_mtr_client_pack(const fr_mtr *m, const int32_t *items, const float *local, size_t n_changed,
                             fr_fed_upload *up);
/* Clients trained as cohorts on a backend (mtr_cohort.c): the state, made
 * before the first round (be: the caller's, outliving the model); a
 * cohort of the round's clients (the client interface's train_cohort). */
struct fr_backend;
fr_status fr_mtr_cohort_create(fr_mtr *m, struct fr_backend *be, fr_mtr_cohort **out);
void fr_mtr_cohort_free(fr_mtr_cohort *c);
fr_status fr_mtr_cohort_train(fr_mtr *m, unsigned round, const size_t *clients, size_t n,
                              fr_fed_upload *const *ups);
/* Before a round of fo->local_steps steps: room for the clients' figures
 * and the size of a client's record (ops->record_bytes: its user row and
 * figures, for the other ranks). After it: the trained clients' figures
 * added to out in client order, as one process adds them. */
fr_status fr_mtr_client_round_ready(fr_mtr *m, const fr_mtr_fed_options *fo, fr_fed_client_ops *ops);
void fr_mtr_client_figures(const fr_mtr *m, unsigned round, fr_mtr_epoch *out);
/* Register row in the step's slots (fr_mtr_task_grad clears the
 * task gradients of every slot before it adds to them). */
int32_t fr_mtr_touch(fr_mtr *m, fr_mtr_step *st, int32_t row);
/* Draw the step's samples for task slot k (a pairwise task) and add its
 * loss and row gradients; BPR and the batch-bound tasks read st. */
fr_status fr_mtr_task_grad(fr_mtr *m, fr_mtr_step *st, size_t k, unsigned epoch, uint64_t step,
                           double *loss);
/* Draw the step's auxiliary pairs of task slot k into m->aux[k]. */
void fr_mtr_task_draw(fr_mtr *m, size_t k, unsigned epoch, uint64_t step, size_t n);

#endif
