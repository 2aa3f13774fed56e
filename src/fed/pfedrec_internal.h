/* pfedrec_internal.h — the rating engine's insides, shared by its files
 * (internal): pfedrec.c (options, rounds, aggregation), pfedrec_client.c
 * (one client's round), pfedrec_checkpoint.c (save and resume). */
#ifndef FR_PFEDREC_INTERNAL_H
#define FR_PFEDREC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/cpu/cpu_engine.h"
#include "fedrec/pfedrec.h"

#define MAX_AGG_TASKS 64

typedef struct client_out {
    int32_t *rows;       /* items whose embedding the client changed */
    float *delta;        /* n_rows x dim: local - global */
    size_t n_rows;
    size_t cap_rows;     /* rows the buffers hold: kept across rounds, so
                          * a round does not fault in fresh pages */
    /* rows grouped by the aggregation task that owns them: group t is
     * rows[group_start[t] .. group_start[t + 1]). */
    uint32_t group_start[MAX_AGG_TASKS + 1];
    size_t samples;
    double loss_sum;
    double t_negatives, t_train, t_eval;
    fr_status status;
} client_out;

struct fr_pfedrec {
    const fr_loo_split *split;
    fr_pfedrec_options o;
    size_t n_users, n_items, dim;
    float *items;        /* global item table */
    float *w;            /* n_users x dim score weights */
    float *b;            /* n_users score biases */
    double *val_hr, *val_ndcg, *test_hr, *test_ndcg;  /* per user, last model */
    fr_cpu_engine *engine;
    /* The round in progress. */
    unsigned round;
    int32_t *sampled;
    size_t n_sampled;
    client_out *outs;
};

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
} scratch;

fr_status fr_pf_scratch_init(scratch *s, size_t n_items, size_t dim, size_t batch);
void fr_pf_scratch_free(scratch *s);
/* Forget the rows loaded for the last client. */
void fr_pf_scratch_reset(scratch *s);
/* Train client u for the round in p->round; fill out with its upload. */
fr_status fr_pf_train_client(fr_pfedrec *p, scratch *s, size_t u, client_out *out);
/* Evaluate user u's model (w, b, the overlay in s) into p's figures. */
void fr_pf_evaluate(fr_pfedrec *p, const scratch *s, size_t u, const float *w, float b);
/* Aggregation tasks: one per worker, at most MAX_AGG_TASKS. */
size_t fr_pf_agg_tasks(const fr_pfedrec *p);
/* Monotonic seconds. */
double fr_pf_now(void);

#endif
