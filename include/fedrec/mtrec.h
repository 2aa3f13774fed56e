/* fedrec/mtrec.h — multi-task training of one matrix-factorisation
 * encoder (../shared/specs/pmtrec.md): a main BPR task and auxiliary tasks
 * on the same user and item embeddings, their per-row gradients combined
 * by a gradient combiner (fedrec/combine.h: PMTRec, EW, PCGrad, ...), and
 * full-ranking evaluation (Recall@K, NDCG@K for K = 5, 10, 20, 40).
 *
 * Data: training, validation and test interactions per user, from three
 * files or from a seeded per-user split of one, plus optional side
 * relations (user-user links, item-item pairs, item categories).
 *
 * The tasks (this project's reading; the paper gives no loss forms), each a
 * mean over its batch:
 *   bpr       -log sigmoid(u.i - u.j), j a random item the user has not
 *             interacted with in training
 *   directau  DirectAU: mean |u~ - i~|^2 over the batch's pairs of
 *             L2-normalised rows, plus gamma / 2 (uniform(users) +
 *             uniform(items)), uniform(X) = log mean over pairs k < l of
 *             exp(-2 |x~_k - x~_l|^2) over the batch's rows (duplicates
 *             included, as the authors' code)
 *   rating    (r - u.i)^2 on the batch's explicit ratings
 *   social    -log sigmoid(u.v - u.w) over user links (u, v), w a random
 *             user not linked to u
 *   itempair  -log sigmoid(i.j - i.k) over item pairs (i, j), k a random
 *             item not paired with i
 *   category  -log sigmoid(i.j - i.k), j a random other item of one of
 *             i's categories, k a random item sharing no category with
 *             i (an item may have several: fr_mtr_task_draw in
 *             mtr_tasks.c, doc/MTREC.md)
 * A pairwise task draws as many pairs per step as the main batch holds. */
#ifndef FEDREC_MTREC_H
#define FEDREC_MTREC_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/combine.h"
#include "fedrec/error.h"
#include "fedrec/participation.h"
#include "fedrec/metrics.h"
#include "fedrec/progress.h"
#include "fedrec/ratings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Data -------------------------------------------------------------- */

/* A symmetric relation between rows of one table: pairs as given (a, b)
 * and the sorted, de-duplicated neighbours of each row (CSR). */
typedef struct fr_mtr_relation {
    size_t n_pairs;
    int32_t *a, *b;
    size_t *start;         /* rows + 1 */
    int32_t *neighbours;
} fr_mtr_relation;

typedef struct fr_mtr_data {
    size_t n_users, n_items;
    /* Training interactions in their file (or split) order. */
    size_t n_train;
    int32_t *train_user, *train_item;
    float *train_rating;
    /* Per user, sorted unique items: start arrays hold n_users + 1. */
    size_t *train_start, *val_start, *test_start;
    int32_t *train_items, *val_items, *test_items;
    fr_mtr_relation links;     /* user - user */
    fr_mtr_relation pairs;     /* item - item */
    /* Item categories, several per item allowed (NULL lists: none). */
    size_t n_categories;
    size_t *category_start;    /* n_categories + 1: each category's items */
    int32_t *category_items;   /* (sorted, unique) */
    size_t *item_category_start; /* n_items + 1: each item's categories */
    int32_t *item_categories;    /* (sorted, unique; none for some items) */
    char **user_names, **item_names;  /* original ids, by dense id */
} fr_mtr_data;

/* Three parts read with one id space (fr_ratings_read_parts: training,
 * validation, test), the test part keeping ratings >= test_min_rating (0:
 * all). An id seen only in validation or test keeps its row: it is ranked
 * (items) or evaluated (users) with its initial embedding, as the
 * published splits expect. */
fr_status fr_mtr_data_from_parts(const fr_ratings parts[3], float test_min_rating,
                                 fr_mtr_data *out);
/* A seeded split of one rating set, per user: the user's interactions in
 * the order of stream (seed, 0, user, FR_RNG_SPLIT), the first
 * round(train_share n) training, the next round(val_share n) validation,
 * the rest test; every user keeps at least one training interaction. */
fr_status fr_mtr_data_split(const fr_ratings *all, uint64_t seed, double train_share,
                            double val_share, float test_min_rating, fr_mtr_data *out);
void fr_mtr_data_free(fr_mtr_data *d);
/* A 64-bit hash of the data's contents: sizes, the training interactions
 * in order, every user's training, validation and test lists (saved
 * models keep it: the data they were trained on). */
uint64_t fr_mtr_data_fingerprint(const fr_mtr_data *d);

/* Side relations as delimited text files, one pair per line (ids as in the
 * rating files; blank lines skipped). Ids the ratings never name are
 * skipped and counted in *skipped (a trust network covers more users than
 * rate items); self-pairs are skipped too. A malformed line is an error
 * naming the file, line and field. */
fr_status fr_mtr_read_links(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped);
fr_status fr_mtr_read_item_pairs(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped);
/* Item categories. A field of categories holds one, or several separated
 * by FR_MTR_CATEGORY_SEPARATOR ('|'; not split when the field delimiter
 * is '|' itself); spaces around each are trimmed, empty ones skipped. An
 * item gets the union of every category given it; categories are numbered
 * in the order they are first seen.
 * fr_mtr_read_categories: a file of lines item<delimiter>categories; an
 * item may be on several lines. Lines naming an item the ratings lack are
 * skipped (*skipped); an (item, category) pair given again is counted in
 * *duplicates and kept once. A line of one field or of more than two, or
 * an empty field, is an error naming the file and line.
 * fr_mtr_read_category_column: column `column` (0-based) of the delimited
 * rating files the data was read from (spec: their delimiter and header,
 * spec->format FR_RATINGS_DELIMITED), each row giving its item's
 * categories; an empty field gives none. *with: items with a category. A
 * row without that column is an error naming the file and line.
 * Either replaces the data's categories. */
#define FR_MTR_CATEGORY_SEPARATOR '|'
fr_status fr_mtr_read_categories(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped,
                                 size_t *duplicates);
fr_status fr_mtr_read_category_column(fr_mtr_data *d, const char *const *paths, size_t n_paths,
                                      const fr_ratings_spec *spec, int column, size_t *with);

/* Synthetic interactions with ratings, user links and item categories, all
 * driven by hidden factors: each item draws a category uniformly and its
 * factors sit near that category's centre (0.8 centre + noise); a user links
 * to users with similar factors; interactions follow popularity times
 * sigmoid(3 u.v); ratings 1-5 rise with u.v. Then a 60/20/20 split. */
typedef struct fr_mtr_synthetic_spec {
    uint64_t seed;
    size_t users, items, per_user, categories, links_per_user;
} fr_mtr_synthetic_spec;

fr_status fr_mtr_synthetic(const fr_mtr_synthetic_spec *spec, fr_mtr_data *out);

/* ---- Training ----------------------------------------------------------- */

typedef enum fr_mtr_task {
    FR_MTR_BPR = 0,
    FR_MTR_DIRECTAU,
    FR_MTR_RATING,
    FR_MTR_SOCIAL,
    FR_MTR_ITEMPAIR,
    FR_MTR_CATEGORY,
    FR_MTR_TASK_KINDS
} fr_mtr_task;

const char *fr_mtr_task_name(fr_mtr_task t);
fr_status fr_mtr_task_parse(const char *name, fr_mtr_task *out);

typedef struct fr_mtr_options {
    uint64_t seed;
    size_t dim;             /* 32 */
    size_t batch;           /* 2048 */
    float lr;               /* Adam, 0.001 */
    float weight_decay;     /* L2 added to the gradient as PyTorch's Adam (0) */
    int dense_adam;         /* step every row every batch, as PyTorch's dense
                             * Adam (1); 0: only the rows the batch touched */
    /* The tasks: tasks[0] is the main task (BPR); n_tasks <= FR_COMBINE_MAX_TASKS. */
    fr_mtr_task tasks[FR_COMBINE_MAX_TASKS];
    size_t n_tasks;
    fr_combine_options combine;  /* .tasks and .seed are set from the above */
    double gamma;           /* DirectAU's uniformity weight (1) */
    int test_excludes_val;  /* test ranking also skips the validation items (1) */
    int threads;            /* <= 0: online cores */
    int cpu_isa;            /* fr_cpu_isa; 0: the best */
    /* fedrec/progress.h: told the steps done of an epoch (unit "batch"),
     * the clients done of a federated round ("client") and the users
     * ranked by an evaluation ("user"). A stop request ends an epoch or
     * round after the step or client under way (fr_mtr_epoch.stopped). */
    fr_progress_hook progress;
} fr_mtr_options;

typedef struct fr_mtr_epoch {
    double loss[FR_COMBINE_MAX_TASKS];   /* mean per task over the epoch's steps */
    fr_combine_stats combine;            /* weights averaged over the steps */
    size_t steps;
    double t_train;                      /* seconds */
    /* 1: the progress hook asked for a stop and the epoch or round was
     * cut short: the model has part of its steps (a federated round: the
     * clients before the stop have stepped their own rows, no item row
     * has moved); its figures above are not an epoch's. */
    int stopped;
} fr_mtr_epoch;

typedef struct fr_mtr fr_mtr;

void fr_mtr_options_default(fr_mtr_options *o);
/* data must outlive the trainer; the tasks must have their data (links
 * for social, pairs for itempair, categories for category). */
fr_status fr_mtr_create(const fr_mtr_data *data, const fr_mtr_options *o, fr_mtr **out);
void fr_mtr_free(fr_mtr *m);
/* One pass over the training interactions in the order of stream (seed,
 * epoch, 0, FR_RNG_SHUFFLE), epoch counting from 0 (task focusing). */
fr_status fr_mtr_train_epoch(fr_mtr *m, unsigned epoch, fr_mtr_epoch *out);
/* Full ranking of the validation (test = 0) or test (test = 1) items of
 * every user who has some, over all items not seen in training (test:
 * nor in validation, when test_excludes_val). */
fr_status fr_mtr_evaluate(fr_mtr *m, int test, fr_rank_metrics *out);
/* Where the last fr_mtr_evaluate spent its time: the scores are computed
 * tile by tile and each tile is read by the top-K selections while in
 * cache, so the two are told apart by CPU time summed over the threads
 * (which a shared machine does not inflate as it does wall time). */
typedef struct fr_mtr_eval_profile {
    double seconds;                 /* wall time of the evaluation */
    double gemm_cpu_seconds;        /* CPU outside the selections: the
                                     * product, packing, the pool's waits */
    double select_cpu_seconds;      /* CPU in the top-K selections */
    double merge_seconds;           /* wall: merging the threads' selections, figures */
    double computed_fraction;       /* scores computed / users x items: below 1
                                     * when the norm bound spared some (tables
                                     * of 16,384 items and more) */
    int threads;
} fr_mtr_eval_profile;
void fr_mtr_last_eval_profile(const fr_mtr *m, fr_mtr_eval_profile *out);
/* Federated rounds: every user a client holding its own row, the item
 * rows shared as in FedMF. */
typedef struct fr_mtr_fed_options {
    double client_fraction;  /* users sampled per round (1: all) */
    float client_lr;         /* SGD rate of a client's local steps (0.05) */
    float server_lr;         /* an item row moves by this x the mean change uploaded (1) */
    size_t local_steps;      /* steps over its interactions a client takes per round (1) */
    /* What the federation core offers every federated job (as
     * fedrec/pfedrec.h's options): deadline, simulated clock and quorum;
     * the screening of updates (clip_norm > 0: each client's item changes
     * scaled to at most that L2 norm; fault_nan / fault_huge: injected
     * faults, for tests and studies; a non-finite update is always
     * refused); local_noise > 0: Laplace noise on every uploaded value. */
    fr_participation participation;
    double clip_norm, fault_nan, fault_huge, local_noise;
    /* With a backend (NULL: none, the default), each round's clients train
     * on it as cohorts of `cohort` clients (0: 1024): every local step of
     * a cohort's clients as a few batched ops for the tasks' gradients, the
     * combination and the SGD step, the combiner's weights and DirectAU's
     * norms and pair weights on the host between them
     * (src/mtr/mtr_cohort.c). Same draws as one by one; results agree
     * within float rounding. The backend is the caller's: it must outlive
     * the model. Read at the first round (or set_comm). */
    struct fr_backend *backend;
    size_t cohort;
} fr_mtr_fed_options;

void fr_mtr_fed_options_default(fr_mtr_fed_options *fo);
/* One federated round instead of an epoch. A share client_fraction of the
 * users (all at 1) is sampled (stream (seed, round, 0, FR_RNG_SAMPLING));
 * each, from the round's item table, takes its training interactions (at
 * most o->batch of them) as one batch for each of local_steps steps: the
 * tasks' gradients on its own row and the item rows it touched, combined
 * by the combiner from its own gradients alone (PMTRec: its row's weights,
 * and each item row's as it sees it; focusing counts rounds), SGD (client_lr,
 * weight decay as L2) on its row and its local copies of the item rows.
 * It uploads each changed item row's change; each item row then moves by
 * server_lr times the mean change uploaded for it. Tasks: not social
 * (other users' rows never leave their clients); combiner: not gradvac
 * (its targets would be shared). *upload_bytes: ids and rows uploaded in
 * the round. An error (a non-finite gradient) leaves the round half
 * applied: the clients before it have stepped their rows, no item row has
 * moved; the model is then not fit to go on. */
fr_status fr_mtr_federated_round(fr_mtr *m, unsigned round, const fr_mtr_fed_options *fo,
                                 fr_mtr_epoch *out, uint64_t *upload_bytes);
/* Federated rounds on the ranks of an MPI job (c: NULL or one rank: this
 * process only), before the first round: each rank trains its share of
 * the clients (placement as the participation defaults: contiguous
 * blocks of equal work), the item rows' per-row mean goes by row range
 * over the ranks, and every rank ends each round with the whole table
 * (every user's row too) and the same figures, bit for bit those of one
 * process. Every rank must hold the same job: job_fingerprint
 * (fr_config_fingerprint) and the data (fr_mtr_data_fingerprint) are
 * compared, data_name naming the data in the message. round_robin: place
 * client u on rank u mod ranks instead. */
struct fr_comm;
fr_status fr_mtr_federated_set_comm(fr_mtr *m, const fr_mtr_fed_options *fo, struct fr_comm *c,
                                    const char *job_fingerprint, const char *data_name, int round_robin);
/* The last federated round's exchanges (all 0 on one rank): payload bytes
 * this rank sent and received, wall seconds in the exchanges and in this
 * rank's clients, the clients it trained. */
typedef struct fr_mtr_fed_traffic {
    uint64_t bytes_sent, bytes_received;
    double t_comm, t_local;
    size_t trained_here;
} fr_mtr_fed_traffic;
void fr_mtr_federated_traffic(const fr_mtr *m, fr_mtr_fed_traffic *out);
/* The embedding table: n_users rows of users, then n_items rows of items. */
const float *fr_mtr_embeddings(const fr_mtr *m);
float *fr_mtr_embeddings_mut(fr_mtr *m);

/* ---- Checkpoints -----------------------------------------------------------
 * A trainer between two epochs, saved so that a run resumed from it goes
 * on exactly as the run that wrote it (doc/RELIABILITY.md): the embedding
 * table, Adam's moments and step count (lazy Adam steps every touched row
 * with the one count, so there are no per-row counts), the combiner's
 * state (fr_combiner_state_size), the epochs done, the caller's values
 * `extra` (the CLI keeps its best-epoch and early-stopping bookkeeping
 * there) and, optionally, a second table (the best epoch's). Every draw
 * depends on the seed, the epoch and the step only, so nothing else is
 * needed. The file holds the job's fingerprint (fr_config_fingerprint)
 * and a hash of the data: its contents (fr_mtr_data_fingerprint), the
 * training ratings and the side relations. One file, written atomically,
 * the one it replaces kept as PATH.prev. Federated rounds too: between
 * rounds their state is the table (the clients step by SGD, GradVac is
 * refused, and the federation core keeps nothing across rounds; every
 * draw depends on the seed, the round and the client), so the same file
 * resumes them, epochs_done counting rounds. */
typedef struct fr_mtr_checkpoint {
    unsigned epochs_done;
    const char *job_fingerprint; /* NULL: none kept (save), not checked (load) */
    double *extra;               /* n_extra values (load: read into) */
    size_t n_extra;
    /* (n_users + n_items) x dim floats, or NULL. save: kept when not NULL;
     * load: filled when the file holds one (has_best = 1), else untouched;
     * NULL: a table in the file is passed over. */
    float *best_table;
    int has_best;
} fr_mtr_checkpoint;

fr_status fr_mtr_checkpoint_save(const fr_mtr *m, const char *path, const fr_mtr_checkpoint *c);
/* Into a trainer fr_mtr_create made with the same data and options. A
 * file of another kind, version or length, damaged, or of another job
 * (c->job_fingerprint), data, shape or n_extra is refused (the message
 * names PATH.prev when it exists), and every check is made before
 * anything of m or c is written: a refused file changes nothing. Only a
 * read error after the checks (the file changing as it is read) leaves m
 * part-loaded: free it. */
fr_status fr_mtr_checkpoint_load(fr_mtr *m, const char *path, fr_mtr_checkpoint *c);

#ifdef __cplusplus
}
#endif
#endif
