/* fed_internal.h — the federation core's insides, shared by its files
 * (internal): fed_core.c (rounds), fed_screen.c (screening an update),
 * fed_aggregate.c (the mean in client order), fed_robust.c (median and
 * trimmed mean), fed_privacy.c (noise, accountant, secure aggregation),
 * fed_ranks.c (the exchanges of a multi-rank round). */
#ifndef FR_FED_INTERNAL_H
#define FR_FED_INTERNAL_H

#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fed/fed_core.h"

#define MAX_AGG_TASKS 64

struct fr_fed {
    fr_fed_options o;
    size_t n_clients;
    fr_fed_state st;
    int table_borrowed;    /* st.table is the caller's (fr_fed_borrow_table) */
    /* FR_AGG_ROW_MEAN: each row's summed changes and uploaders. When the
     * clients run one after another in client order (one thread, one
     * rank), each upload is folded into the sums as it comes (streaming)
     * and its buffers go to the next client through `spare`: a round then
     * holds one upload, not one per client. */
    float *row_sum;
    uint32_t *row_count;
    int streaming;
    fr_fed_upload spare;
    /* The ordered fold (fed_ordered.c): the plain mean in one process
     * without a wall-clock deadline, faults or secure aggregation folds
     * each upload into acc (the table copied at the round's start) as soon
     * as every client before it is folded, and passes its buffers on: a
     * round holds the uploads of the clients in flight, not one per
     * client. */
    int ordered, ordered_ready;
    int keep_uploads;        /* fr_fed_keep_uploads: never fold in order */
    float *acc, *acc_dense;
    _Atomic unsigned char *ready; /* per todo index: trained, not yet folded */
    _Atomic size_t fold_next;     /* todo index of the next upload to fold */
    pthread_mutex_t fold_lock;
    pthread_cond_t fold_moved;    /* the fold went on (or was aborted) */
    size_t fold_window;           /* uploads a thread may run ahead of the fold */
    size_t fold_window_asked;     /* fr_fed_set_fold_window (0: the default) */
    int fold_abort;               /* a client failed: nobody waits for the fold */
    fr_fed_upload *spares;   /* buffers of folded uploads, for the next clients */
    size_t n_spares, cap_spares;
    void **workers;          /* workers' scratch, kept over a round's chunks */
    size_t n_workers;
    fr_pool *pool;
    const fr_fed_client_ops *ops;
    void *model;
    /* The round in progress. */
    unsigned round;
    int32_t *sampled;
    size_t n_sampled;
    fr_fed_upload *outs;   /* one per sampled client, buffers kept across rounds */
    size_t *todo;          /* indices into sampled this rank trains */
    size_t n_todo;
    double round_start;    /* wall clock, for the deadline */
    /* The job's ranks (NULL: this process only). */
    fr_comm *comm;
    int rank, ranks;
    uint32_t *rows_to;     /* n_sampled x ranks: a client's rows per rank's range */
    /* Per-client state (fed_clients.c): each client's federated units, as
     * the model gave them at creation, and the most of one client. */
    int per_client;
    fr_fed_vector_ops vops;
    const fr_fed_unit **units;
    size_t *n_units;
    size_t max_units;
    size_t *block_start;   /* contiguous placement: rank r's clients are
                            * [block_start[r], block_start[r + 1]) */
};

/* The weight of client update o in the server's mean: its share of the
 * participants' samples, or 1 / participants. One definition for the
 * one-rank and the multi-rank aggregation, so both round alike. */
static inline float fr_fed_scale(const fr_fed *f, const fr_fed_upload *o, double total_samples,
                                 size_t participants)
{
    /* DP-FedAvg divides by the round's sample size, which does not depend
     * on who arrived (the accountant assumes it). */
    return f->o.weighted      ? (float)((double)o->samples / total_samples)
           : f->o.dp_noise > 0 ? 1.0f / (float)f->n_sampled
                               : 1.0f / (float)participants;
}

/* row += scale * delta over d values: the one update rule of aggregation. */
static inline void fr_fed_apply_row(float *row, float scale, const float *delta, size_t d)
{
    for (size_t c = 0; c < d; c++)
        row[c] += scale * delta[c];
}

/* Whether client update o enters the aggregate. */
static inline int fr_fed_participates(const fr_fed_upload *o)
{
    return o->trained && !o->late && !o->rejected;
}

/* The ordered fold (fed_ordered.c). applies: whether this round folds
 * in order; begin: set up at the round's start (table copied); take: spare
 * buffers for an upload that has none; done: todo index i trained (its
 * marks final), fold every upload now next in order; worker/worker_back:
 * a worker's scratch from the round's cache; commit: the folded mean into
 * the table (participants: the round's), or nothing when the round is not
 * aggregated; end_round: the cached workers destroyed; free: everything. */
int fr_fed_ordered_applies(const fr_fed *p);
fr_status fr_fed_ordered_begin(fr_fed *p);
void fr_fed_ordered_take(fr_fed *p, fr_fed_upload *up);
void fr_fed_ordered_done(fr_fed *p, size_t i);
/* Before training todo index i: wait while i is fold_window or more
 * uploads ahead of the fold (folding what is ready meanwhile); abort: a
 * client failed, nobody waits any more. */
void fr_fed_ordered_wait(fr_fed *p, size_t i);
void fr_fed_ordered_abort(fr_fed *p);
/* After the round's clients: fold what is still waiting. */
void fr_fed_ordered_finish(fr_fed *p);
fr_status fr_fed_ordered_worker(fr_fed *p, void **worker);
void fr_fed_ordered_worker_back(fr_fed *p, void *worker);
void fr_fed_ordered_commit(fr_fed *p, size_t participants);
void fr_fed_ordered_end_round(fr_fed *p);
void fr_fed_ordered_free(fr_fed *p);

/* After client c's training: inject the configured faults into its
 * update, refuse it if it is not finite, add local noise, clip it to the
 * norm bound, refuse it if secure aggregation's fixed point cannot hold it. */
void fr_fed_screen_update(fr_fed *f, size_t c, fr_fed_upload *up);

/* Screening one client's update as a flat vector of its changes (n
 * values; per-client state, fed_clients.c): the injected fault (from
 * stream (seed, round_key, client, FAULT): NaN with probability
 * fault_nan, times 1e6 with fault_huge; rounds use round_key = round + 1),
 * then 0 (refused) if a value is not finite, else the change clipped to L2
 * norm clip_norm (0: not clipped) and 1 when it is as it came, 2 when the
 * fault or the clip changed it. */
int fr_fed_screen_values(uint64_t seed, unsigned round_key, size_t client, double fault_nan, double fault_huge,
                         double clip_norm, float *delta, size_t n);
/* The factor of the fault injected into client's update (1: none). */
float fr_fed_fault_factor(uint64_t seed, unsigned round_key, size_t client, double fault_nan, double fault_huge);

/* Aggregation tasks: one per thread, at most MAX_AGG_TASKS. */
size_t fr_fed_agg_tasks(const fr_fed *f);
/* Apply the participants among sampled clients [k_begin, k_end) to the
 * table rows of upload groups [g_begin, g_end), in client order, split
 * over the aggregation tasks. */
void fr_fed_apply_clients(fr_fed *f, size_t k_begin, size_t k_end, size_t g_begin, size_t g_end,
                          double total_samples, size_t participants);

/* The per-row mean's two halves (fed_aggregate.c), shared by one process
 * and the ranks: a change added to its row's sum and uploader count; rows
 * [i_lo, i_hi) moved by server_lr / uploaders x their sums, which are
 * cleared. */
void fr_fed_row_add(fr_fed *p, size_t row, const float *delta);
void fr_fed_row_apply(fr_fed *p, size_t i_lo, size_t i_hi);

/* FR_AGG_ROW_MEAN over the participants, one process: the sums (unless
 * streaming folded them already), then each row moved by server_lr / its
 * uploaders times its sum. ready: the sums allocated; fold: one upload
 * into them; discard: the sums of a round that is not aggregated. */
fr_status fr_fed_row_sums_ready(fr_fed *f);
void fr_fed_row_fold(fr_fed *f, const fr_fed_upload *up);
void fr_fed_row_discard(fr_fed *f);
fr_status fr_fed_row_mean(fr_fed *f);

/* Privacy (fed_privacy.c): a client's Laplace noise on its upload; the
 * server's Gaussian noise after the round's aggregate; epsilon after
 * `rounds` rounds; the aggregate through secure aggregation (one process). */
void fr_fed_local_noise(const fr_fed *f, size_t c, fr_fed_upload *up);
void fr_fed_dp_noise(fr_fed *f);
fr_status fr_fed_dp_epsilon(const fr_fed *f, unsigned rounds, double *epsilon);
fr_status fr_fed_secure_aggregate(fr_fed *f, double total_samples, size_t participants);
/* The round's aggregate by the median or trimmed mean (fed_robust.c). */
fr_status fr_fed_robust_aggregate(fr_fed *f, size_t participants);

/* Multi-rank rounds (fed_ranks.c). After this rank trained its share
 * (local: its first failure): agree on the outcome, then give every rank
 * every trained client's record (late or not, samples, loss, times, the
 * model's record; the personal values when shared; the dense change) and
 * how many of its changed rows fall in each rank's range (kept in
 * f->rows_to). */
fr_status fr_fed_exchange_records(fr_fed *f, fr_status local);
/* Round-robin placement, and the per-row mean under any placement: the
 * participants' row changes to the ranks owning their rows; each rank
 * applies its range in client order (threads split the range; the
 * per-row mean sums each row's changes in client order, then moves the
 * row as fr_fed_row_mean does), then the changed rows go to every rank. */
fr_status fr_fed_aggregate_ranks(fr_fed *f, double total_samples, size_t participants);
/* Contiguous placement: rank r's clients follow rank r - 1's in client
 * order, so each rank continues the rows the ranks before it left
 * (received from rank r - 1), adds its participants' changes in client
 * order and passes every row changed so far to rank r + 1, range by range
 * (a pipeline); the last rank broadcasts them. The same float operations
 * in the same order as one process, moving O(changed rows) per rank. */
fr_status fr_fed_aggregate_chain(fr_fed *f, double total_samples, size_t participants);

/* Per-client state (fed_clients.c). ready: the core's per-client
 * vectors allocated at creation; values: upload k's buffer sized for its
 * client; screen: after the round's records, the arrivals' shared units
 * screened (faults, refusal, clip), what the server sees written into
 * their values; aggregate: every unit group combined into its members'
 * values (conflicts and each upload's bytes_up counted); load: each
 * participant's values become its state and go to client_load;
 * exchange: every rank gets every trained client's record and vector. */
fr_status fr_fed_clients_ready(fr_fed *f);
fr_status fr_fed_clients_values(fr_fed *f, size_t k);
fr_status fr_fed_clients_screen(fr_fed *f);
fr_status fr_fed_clients_aggregate(fr_fed *f, size_t *conflicts);
fr_status fr_fed_clients_load(fr_fed *f);
fr_status fr_fed_exchange_clients(fr_fed *f, fr_status local);
void fr_fed_clients_free(fr_fed *f);

#endif
