/* fed_client.h — the one interface between the federation core and a
 * model's clients.
 *
 * The federation core (src/fed/) runs rounds: it samples clients, decides
 * who is late, screens and aggregates updates, adds privacy noise and
 * moves updates between MPI ranks; it keeps nothing across rounds but the
 * server's state, so a job's checkpoint is that state and the model's
 * (src/io/checkpoint_file.h). It knows no model and
 * no device: what it holds is host memory — a table of rows (an item
 * table) that clients change sparsely, and a dense vector (shared layers)
 * — and what it asks of the model goes through the functions below. A
 * model's client trainer (src/rec/, src/mtr/ today) implements them on
 * whatever backend it computes with.
 *
 * A round, as the core drives it:
 *   round_begin(round)                        once, before any client
 *   for each sampled client c this rank trains, on the core's threads:
 *     train(worker, round, c, &upload)         from the server's state
 *   (or, when the model trains cohorts, train_cohort on groups of them)
 *   screen uploads; aggregate them in client order into the state;
 *   personal values (a shared score function) averaged if asked.
 * Or, with per-client state (fr_fed_vector_ops below: every client its own
 * vector, PF-MSMTrec and its baselines), train hands back the client's
 * whole vector; once every rank holds every arrival's, the core screens
 * the changes of the units each arrival shares with another, combines
 * each unit over the arrivals holding it (mean, personal, coordinated,
 * row-wise), and gives each arrival its own result (client_load).
 * Everything a client draws must come from streams keyed by (seed, round,
 * client), so that no result depends on which thread or rank trained it. */
#ifndef FEDREC_FED_CLIENT_H
#define FEDREC_FED_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/error.h"
#include "fedrec/fed.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Row groups of an upload: group g holds the rows r with
 * r * FR_FED_GROUPS / n_rows == g. Aggregation tasks and the ranks'
 * exchanges take whole groups, whatever the thread or rank count. */
#define FR_FED_GROUPS 64

/* The group of row r of a table of n_rows. */
static inline size_t fr_fed_group_of(size_t r, size_t n_rows)
{
    return r * FR_FED_GROUPS / n_rows;
}

/* The first row of group g (g = FR_FED_GROUPS: n_rows): the least r with
 * r * G / n >= g, ceil(g * n / G). */
static inline size_t fr_fed_group_first(size_t g, size_t n_rows)
{
    return (g * n_rows + FR_FED_GROUPS - 1) / FR_FED_GROUPS;
}

/* The server's state, in host memory, owned by the core. Clients read it
 * during a round; only the core writes it. */
typedef struct fr_fed_state {
    float *table;   /* n_rows x width, row-major (NULL when n_rows is 0) */
    size_t n_rows, width;
    float *dense;   /* n_dense values (NULL when n_dense is 0) */
    size_t n_dense;
    /* Per-client state (fr_fed_client_ops.client_values): client c's
     * vector as the server last gave it, client_n[c] values (NULL
     * otherwise). */
    float **client;
    size_t *client_n;
} fr_fed_state;

/* Per-client state: a rows x cols block of a client's vector, element
 * (r, q) at off + r * ld + q. */
typedef struct fr_fed_seg {
    size_t off, ld, rows, cols;
} fr_fed_seg;

/* A federated unit of a client's vector: its segments, read in order,
 * make numel values. Units of equal key across clients are combined with
 * each other (the arrivals holding one: a group), as agg says — the
 * sample-weighted mean, or personal (a softmax over the members' cosine
 * similarity, fedrec/fed.h) — after PCGrad across the members when
 * coordinate is set (in orders from stream (seed, round + 1, key,
 * COORDINATION)); by_rows: the unit is one table (seg[0]) whose rows are
 * each averaged, sample-weighted, over the members that changed the row.
 * Units of one client do not overlap. */
typedef struct fr_fed_unit {
    uint32_t key;
    fr_fed_agg agg;
    int coordinate;
    int by_rows;
    const fr_fed_seg *seg;
    size_t n_seg, numel;
} fr_fed_unit;

/* One client's upload of a round. The core owns the buffers and keeps
 * them across rounds (cap_rows rows allocated: a client may grow them with
 * realloc); train fills rows, delta, n_rows, group_start, dense_delta and
 * the counts. */
typedef struct fr_fed_upload {
    int32_t *rows;        /* rows of the table the client changed */
    float *delta;         /* n_rows x width: local - server */
    size_t n_rows, cap_rows;
    /* rows sorted into groups: group g is rows[group_start[g] ..
     * group_start[g + 1]), in increasing group order. */
    uint32_t group_start[FR_FED_GROUPS + 1];
    float *dense_delta;   /* n_dense values: local - server (core-allocated) */
    /* Per-client state: the client's whole vector after training
     * (client_values of it; core-allocated). */
    float *values;
    size_t cap_values;
    size_t samples;       /* training samples (the weighted mean's weight) */
    double loss_sum;      /* summed training loss over the samples (per-client
                           * state: the client's mean loss) */
    uint64_t bytes_up;    /* per-client state: what the server received of it */
    double t_negatives, t_train, t_eval; /* CPU seconds of its parts */
    /* The core's marks: trained at all, past the deadline, refused. */
    int trained, late, rejected;
} fr_fed_upload;

/* Room in up for n_rows rows of width values (its buffers grown, their
 * contents kept; cap_rows updated). */
fr_status fr_fed_upload_reserve(fr_fed_upload *up, size_t n_rows, size_t width);

/* The model's side. `model` is the model's own object, passed back to
 * every call. Calls from the core's threads (train) run concurrently for
 * different clients and workers; the others come from the driving thread. */
typedef struct fr_fed_client_ops {
    /* A worker's private scratch: one per concurrent task of a round. */
    fr_status (*worker_create)(void *model, void **worker);
    void (*worker_destroy)(void *model, void *worker);
    /* Before the round's clients train (may be NULL). */
    void (*round_begin)(void *model, unsigned round);
    /* Train client `client` for `round` from the server's state, evaluate
     * it if the model does so, and fill `up`. */
    fr_status (*train)(void *model, void *worker, unsigned round, size_t client, const fr_fed_state *state,
                       fr_fed_upload *up);
    /* The relative work of a client's round (training samples plus
     * evaluation candidates): how ranks get blocks of equal work. */
    double (*cost)(void *model, size_t client);
    /* Personal values the server averages when asked (a shared score
     * function): n_personal of them per client, read and written whole. */
    size_t n_personal;
    void (*personal_get)(void *model, size_t client, float *values);
    void (*personal_set)(void *model, size_t client, const float *values);
    /* A client's record after its round (its evaluation figures), carried
     * to every rank with its upload: record_bytes of them per client. */
    size_t record_bytes;
    void (*record_pack)(void *model, size_t client, void *record);
    void (*record_unpack)(void *model, size_t client, const void *record);
    /* Optional (NULL: clients train one by one through train): several
     * clients trained at once, as a cohort — on a device, a round's
     * clients as a few batched launches instead of thousands. The core
     * calls it from the driving thread with up to cohort_clients (0: all)
     * of this rank's clients of the round at a time, in client order;
     * ups[i] is clients[i]'s upload, filled as train would fill it. A
     * deadline is checked between calls: a cohort's clients finish
     * together. */
    fr_status (*train_cohort)(void *model, unsigned round, const size_t *clients, size_t n,
                              const fr_fed_state *state, fr_fed_upload *const *ups);
    size_t cohort_clients;
} fr_fed_client_ops;

/* Per-client state (a core made by fr_fed_create_per_client, in place of
 * the shared table and dense part): client c's whole vector has
 * client_values(c) values and its federated units are client_units(c) (n
 * of them; the array stays valid for the core's life). train fills
 * up->values with the client's vector after training (samples: its weight
 * in the unit means; loss_sum: its mean loss); after the round's
 * aggregate each participant's vector — the combined values on the units
 * it shares, its trained values elsewhere — becomes its state and goes to
 * client_load, on every rank. */
typedef struct fr_fed_vector_ops {
    size_t (*client_values)(void *model, size_t client);
    const fr_fed_unit *(*client_units)(void *model, size_t client, size_t *n);
    fr_status (*client_load)(void *model, size_t client, const float *values);
} fr_fed_vector_ops;

#ifdef __cplusplus
}
#endif

#endif
