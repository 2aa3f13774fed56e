/* fedmsmt_job.h — the federated multi-scenario multi-task job's insides
 * (internal): fedmsmt.c (options, the clients as the federation core's
 * per-client state, the run), fedmsmt_units.c (the parameter template:
 * which slices of a client's flat parameter vector make up each federated
 * unit), fedmsmt_ranks.c and fedmsmt_state_ranks.c (its own exchanges
 * between rounds: evaluation, kept models, checkpoints). The rounds — who arrives, screening, aggregation of
 * the units, the ranks' exchange of trained vectors — are the federation
 * core's round driver (src/fed/fed_core.h, fr_fed_create_per_client). */
#ifndef FR_JOB_FEDMSMT_JOB_H
#define FR_JOB_FEDMSMT_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "fed/fed_core.h"
#include "fed/fed_personal.h"
#include "fedrec/comm.h"
#include "fedrec/fed_client.h"
#include "fedrec/fedmsmt.h"
#include "fedrec/optim.h"
#include "fedrec/params.h"

_Static_assert(FR_TABLE_MAX_SCENARIOS <= FR_FED_MAX_GROUP, "a group of clients may hold every scenario");

/* What a unit is; units of equal (kind, index) across clients are
 * aggregated together. */
typedef enum unit_kind {
    UNIT_EXPERT = 0, /* index: pool expert (its batch-norm too unless FedBN) */
    UNIT_TOWER,      /* index: task (tower MLP and head) */
    UNIT_GATE,       /* index: task */
    UNIT_EMB_TABLE,  /* the embedding table: averaged row by row */
    UNIT_EMB_NUMERIC /* the numbers' projection */
} unit_kind;

/* A rows x cols block of the flat parameter vector: element (r, c) at
 * off + r * ld + c (the federation core's segment). */
typedef fr_fed_seg unit_seg;

#define UNIT_MAX_SEGS 64

typedef struct fed_unit {
    unit_kind kind;
    size_t index;
    unit_seg seg[UNIT_MAX_SEGS];
    size_t n_seg, numel;
} fed_unit;

/* How the server treats one kind of unit in this run. */
typedef struct unit_rule {
    int federated;        /* 0: local, never built */
    int coordinate;       /* PCGrad across the members first */
    fr_fed_agg agg;       /* mean or personal */
} unit_rule;

/* The template of a run: the pool, who holds what, and each kind's rule. */
typedef struct fed_template {
    size_t clients, pool;
    unsigned char member[FR_TABLE_MAX_SCENARIOS][FR_FED_MAX_POOL];
    size_t held[FR_TABLE_MAX_SCENARIOS];                     /* experts per client */
    size_t local_of[FR_TABLE_MAX_SCENARIOS][FR_FED_MAX_POOL]; /* pool -> local index */
    size_t members[FR_FED_MAX_POOL];                         /* holders per pool expert */
    unit_rule rule[UNIT_EMB_NUMERIC + 1];
    int bn_local;         /* batch-norm slices stay out of every unit */
} fed_template;

/* The template for o and `clients` clients (membership, rules); errors
 * name what is wrong. */
fr_status fr_fedmsmt_template_make(const fr_fedmsmt_options *o, size_t clients, fed_template *out);

/* The federated units of client c's model (its parameter set ps, whose
 * flat export order gives the offsets), into units (capacity cap); *n gets
 * the count. */
fr_status fr_fedmsmt_units(const fed_template *tp, size_t c, fr_param_set *ps, const fr_msmt_options *model,
                       fed_unit *units, size_t cap, size_t *n);

/* Copy a unit's values out of / into a flat vector. */
void fr_fedmsmt_unit_gather(const fed_unit *u, const float *flat, float *out);
void fr_fedmsmt_unit_scatter(const fed_unit *u, const float *in, float *flat);

/* Units a client can have: experts of the pool, a tower and a gate per
 * task, the embedding table and the numbers' projection. */
#define MAX_UNITS (FR_FED_MAX_POOL + 2 * FR_TABLE_MAX_TASKS + 2)

/* A client as the engine keeps it (fedmsmt.c). Between two rounds its
 * state is its model's parameters, its optimiser, its step count and
 * `received` (what it got last: a late client's stays that of an earlier
 * round; the federation core's per-client state once the run has made
 * the core, its own buffer before); the anchors are taken at each round's
 * start. */
typedef struct fed_client {
    fr_msmt_model *m;
    fr_optimizer *opt;
    uint32_t *rows[3];       /* train, validation, test rows of its scenario */
    size_t n_rows[3];
    float *received;         /* flat parameter vector */
    int received_core;       /* received is the core's (not freed here) */
    size_t n_values;
    fed_unit units[MAX_UNITS];
    size_t n_units;
    fr_fed_unit view[MAX_UNITS]; /* the units as the core sees them */
    fr_buffer **anchor;      /* per parameter: its value at the round's start (proximal term) */
    size_t n_anchor;
    double prox_mu;
    uint32_t step;
} fed_client;

/* A run's state between two rounds (fedmsmt_checkpoint.c): the clients,
 * the models kept for keep_models (kept: NULL without; filled once a round
 * was kept), the best validation AUC so far, the result's running figures
 * (rounds, best round and its figures, conflicts, times) and each client's
 * upload bytes summed over the rounds. */
typedef struct fedmsmt_state {
    fed_client *cl;
    size_t clients;
    float **kept;
    double best;
    fr_fedmsmt_result *out;
    uint64_t *upload_sum;
} fedmsmt_state;

/* The checkpoint o->checkpoint.path of the state after round out->rounds,
 * written atomically (io/checkpoint_file.h). */
fr_status fr_fedmsmt_checkpoint_write(const fr_fedmsmt_options *o, const fr_table *t, const fedmsmt_state *st);
/* The checkpoint read back into st, after checking it whole and against
 * this run (configuration, data, clients and their sizes). */
fr_status fr_fedmsmt_checkpoint_read(const fr_fedmsmt_options *o, const fr_table *t, fedmsmt_state *st);

/* Multi-rank runs (fedmsmt_ranks.c), over the core's exchange of
 * per-client blocks (fr_fed_exchange_blocks, the rounds' placement). Every
 * client's kept parameter vector kept[c] (n_values[c] floats) from the
 * rank that runs it, on every rank (collective, agreed). */
fr_status fr_fedmsmt_exchange_kept(fr_fed *f, size_t clients, float *const *kept, const size_t *n_values);
/* Every client's evaluation cells (rows, AUC and log loss per task) from
 * its rank into valid and test on every rank. */
fr_status fr_fedmsmt_exchange_eval(fr_fed *f, size_t tasks, fr_msmt_eval *valid, fr_msmt_eval *test);

/* Multi-rank checkpoints (fedmsmt_state_ranks.c). Every client's whole
 * state (parameters, received, kept model, optimiser steps and moments,
 * batch counter) from the rank that runs it to every rank, before rank 0
 * writes a checkpoint (collective, agreed). */
fr_status fr_fedmsmt_share_state(fr_fed *f, fed_client *cl, size_t clients, float **kept);
/* After rank 0 read a checkpoint into st (s: how that went; the other
 * ranks pass FR_OK): the verdict agreed, then the run's figures, the
 * caller's extra values and every client's state from rank 0 to every
 * rank (collective). */
fr_status fr_fedmsmt_broadcast_state(fr_fed *core, const fr_fedmsmt_options *o, fedmsmt_state *st, fr_status s);

#endif
