/* fedrec/msmt.h — multi-scenario multi-task models and their trainer.
 *
 * Every model reads one row of a feature table (fedrec/table.h) as its
 * categorical fields plus the scenario as one more field, all embedded in
 * one table, and the numerical fields projected to one more token
 * (fr_field_embedding), and gives one logit per task. Architectures
 * (../shared/specs/baselines.md, MTReclib conventions):
 * - LR: a weight per (field value, task) and a linear map of the numbers;
 * - Shared-Bottom: one shared MLP, one tower per task;
 * - MMoE: E expert MLPs (one expert bank), a softmax gate per task;
 * - PLE: stacked CGC levels, each with shared experts and experts per task,
 *   a gate per task over its own and the shared experts, and (below the
 *   top level) a shared gate over all of them; every level's experts are
 *   the expert MLP, or one layer of a width per level (level_width);
 * - AutoIFS (../shared/specs/autoifs.md): a shared bottom, a scenario layer
 *   with a shared unit and a LoRA unit per scenario, a task layer with a
 *   shared unit and a LoRA unit per task, and a selection network that
 *   prunes, per row and task, the four flows between them; trained by
 *   fr_msmt_train in a search phase, a rewind and a retrain phase.
 * Towers: an MLP then a linear layer to the logit. Expert, bottom and tower
 * MLPs are Linear -> [BatchNorm] -> ReLU -> [Dropout]. With esmm set the
 * second task is trained as CTCVR = p(task 0) * p(task 1 | task 0) on all
 * rows (ESMM); its reported probability is then that product. */
#ifndef FEDREC_MSMT_H
#define FEDREC_MSMT_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/model_file.h"
#include "fedrec/params.h"
#include "fedrec/progress.h"
#include "fedrec/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_msmt_arch {
    FR_ARCH_LR = 0,
    FR_ARCH_SHARED_BOTTOM,
    FR_ARCH_MMOE,
    FR_ARCH_PLE,
    FR_ARCH_AUTOIFS
} fr_msmt_arch;

#define FR_MSMT_MAX_LAYERS 8

typedef struct fr_msmt_options {
    fr_msmt_arch arch;
    size_t embed_dim;                            /* 16 */
    size_t expert[FR_MSMT_MAX_LAYERS], n_expert; /* (256, 128); also the shared bottom */
    size_t tower[FR_MSMT_MAX_LAYERS], n_tower;   /* (64) */
    size_t experts;                              /* MMoE experts, PLE shared experts per level (8) */
    size_t task_experts;                         /* PLE: experts per task per level (1) */
    size_t levels;                               /* PLE: CGC levels (1) */
    /* PLE: level l's experts are one layer of level_width[l] units, one
     * width per level (MTReclib's PLE: level l's experts have width
     * bottom_mlp_dims[l]); n_level_width = 0 (the default): every level's
     * experts are the `expert` MLP. */
    size_t level_width[FR_MSMT_MAX_LAYERS], n_level_width;
    int batch_norm;                              /* 1 */
    float dropout;                               /* 0 */
    int esmm;                                    /* 0 */
    size_t max_batch;                            /* 2048 */
    /* AutoIFS: shared bottom and selector MLP widths (1024, 512), the
     * scenario layer's width (256) and the LoRA rank (2). */
    size_t ifs_bottom[FR_MSMT_MAX_LAYERS], n_ifs_bottom;
    size_t ifs_width, ifs_rank;
    uint64_t seed;
} fr_msmt_options;

void fr_msmt_options_default(fr_msmt_options *o);
const char *fr_msmt_arch_name(fr_msmt_arch a);
fr_status fr_msmt_arch_parse(const char *name, fr_msmt_arch *out);

typedef struct fr_msmt_model fr_msmt_model;

/* A model for rows shaped like `shape` (its vocabularies, numbers, tasks
 * and scenarios; its rows are not read). */
fr_status fr_msmt_model_create(fr_backend *be, const fr_table *shape, const fr_msmt_options *o,
                               fr_msmt_model **out);
void fr_msmt_model_free(fr_msmt_model *m);
fr_param_set *fr_msmt_model_params(fr_msmt_model *m);
size_t fr_msmt_model_tasks(const fr_msmt_model *m);
size_t fr_msmt_model_max_batch(const fr_msmt_model *m);
/* AutoIFS: the selection network's parameters (NULL for other models),
 * the phase (search with temperature tau, or retrain with hard gates: the
 * first switch to retrain freezes a copy of the embedding for the
 * selector), and the mean gate of each flow (shsh, km, shm, ksh) over the
 * rows and tasks seen since the last phase change. */
fr_param_set *fr_msmt_model_selector_params(fr_msmt_model *m);
fr_status fr_msmt_autoifs_phase(fr_msmt_model *m, int retrain, float tau);
void fr_msmt_autoifs_gates(const fr_msmt_model *m, double means[4]);

/* ---- keeping a trained model (fedrec/model_file.h) ---------------------- */

#define FR_MSMT_MAX_PARTS 3
/* The parameter sets a trained model's predictions depend on, as model
 * file parts: the model's own (prefix ""); AutoIFS adds its selection
 * network ("selector/") and the frozen copy of the searched embedding the
 * selector reads in the retrain phase ("selector_input/"). Returns the
 * count. */
size_t fr_msmt_model_parts(fr_msmt_model *m, fr_model_part parts[FR_MSMT_MAX_PARTS]);
/* 1 for an AutoIFS model in its retrain phase (hard gates). */
int fr_msmt_model_retraining(const fr_msmt_model *m);
/* Save every part with the metadata text meta (may be NULL). An AutoIFS
 * model is saved in its retrain phase only (as fr_msmt_train leaves it):
 * before that its gates depend on the search's temperature. */
fr_status fr_msmt_model_save(fr_msmt_model *m, const char *path, const char *meta);
/* Load a file fr_msmt_model_save wrote into a model built with the same
 * options on data of the same shape (names and shapes are checked; nothing
 * is imported on a mismatch); an AutoIFS model is put in its retrain phase
 * first. */
fr_status fr_msmt_model_load(fr_msmt_model *m, const char *path);

/* Forward a batch of table rows rows[0..n): logits task-major (task t's
 * n logits at t * n) in *logits (a view the model owns, valid until the
 * next call). */
fr_status fr_msmt_forward(fr_msmt_model *m, const fr_table *t, const uint32_t *rows, size_t n,
                          uint32_t step, int training, fr_view *logits);
/* The loss of the last forward against its rows' labels (sum over tasks of
 * the mean BCE), its gradient propagated into the parameters' gradients
 * (accumulated: zero them before). */
fr_status fr_msmt_backward(fr_msmt_model *m, float *loss);
/* Probabilities of the last forward (task-major, n per task) on the host:
 * sigmoid of the logits (ESMM: the CTCVR product for task 1). */
fr_status fr_msmt_probabilities(fr_msmt_model *m, float *out);


/* ---- training and evaluation ------------------------------------------ */

/* AUC (exact, ties count one half; NaN where a scenario has only one
 * class of a task) and logloss (probabilities clipped to [1e-7, 1 - 1e-7])
 * per scenario x task, and their means over the defined cells. */
typedef struct fr_msmt_eval {
    size_t n_scenarios, n_tasks;
    double auc[FR_TABLE_MAX_SCENARIOS][FR_TABLE_MAX_TASKS];
    double logloss[FR_TABLE_MAX_SCENARIOS][FR_TABLE_MAX_TASKS];
    size_t rows[FR_TABLE_MAX_SCENARIOS];
    double mean_auc, mean_logloss;
} fr_msmt_eval;

fr_status fr_msmt_evaluate(fr_msmt_model *m, const fr_table *t, int split, fr_msmt_eval *out);
/* The same over the given rows of t (a federated client's own rows):
 * scenarios without rows get NaN cells, left out of the means. */
fr_status fr_msmt_evaluate_rows(fr_msmt_model *m, const fr_table *t, const uint32_t *rows, size_t n_rows,
                                fr_msmt_eval *out);

/* ---- checkpoints ----------------------------------------------------------
 * With path set, fr_msmt_train writes a checkpoint after every finished
 * epoch (AutoIFS's search epochs included) holding what the run needs to
 * go on exactly as if it had not stopped: every parameter set (batch-norm
 * running statistics, AutoIFS's selector and the selector's frozen input
 * included), the optimisers' step counts and Adam moments, the best
 * epoch's parameters and the early-stopping counts, AutoIFS's rewound
 * weights and gate statistics, the epochs and batches run (which key the
 * shuffles and dropout), the job fingerprint and a hash of the table
 * (fr_table_fingerprint). It is written atomically, the one it replaces
 * kept as PATH.prev (doc/RELIABILITY.md). With resume set, fr_msmt_train
 * first reads path (a model just created, of the options that wrote it)
 * and goes on after the epoch it holds: the epochs, figures and model
 * that follow are the uninterrupted run's, bit for bit. A file that is
 * damaged (FR_ERR_FORMAT, naming PATH.prev when it exists), of another
 * job, version, configuration (FR_ERR_CONFIG, naming the keys) or data
 * (FR_ERR_DATA) is refused before anything is changed. */
typedef struct fr_msmt_resume_info {
    size_t epochs_run;         /* epochs finished, AutoIFS's search epochs included */
    size_t epochs, best_epoch; /* of the (re)training phase so far */
    int searching;             /* AutoIFS: its search not finished */
    int finished;              /* training had ended: only the final evaluation is left */
} fr_msmt_resume_info;

#define FR_MSMT_CHECKPOINT_MAX_EXTRA 64
typedef struct fr_msmt_checkpoint {
    const char *path;            /* NULL or "": no checkpoints */
    int resume;
    /* The job's configuration fingerprint (fr_config_fingerprint): kept
     * in each checkpoint; a resume is refused when the file's differs
     * (NULL: not compared). */
    const char *job_fingerprint;
    /* The caller's own n_extra values (at most
     * FR_MSMT_CHECKPOINT_MAX_EXTRA), kept in each checkpoint as they are
     * when it is written (after on_epoch) and read back into extra on
     * resume. */
    double *extra;
    size_t n_extra;
    /* On resume, after the file is read and checked and before any epoch
     * runs (may be NULL): the caller takes up its own state; a failure
     * ends the run with that status. Gets on_epoch's arg. */
    fr_status (*resumed)(void *arg, const fr_msmt_resume_info *info);
} fr_msmt_checkpoint;

typedef struct fr_msmt_train_options {
    size_t batch;            /* 2048 */
    size_t max_epochs;       /* 50 */
    size_t patience;         /* evaluations without a better validation mean AUC (2) */
    size_t min_epochs;       /* early stopping never ends a run before this epoch (0) */
    /* Validate only at the epochs that are multiples of this and at the
     * last of each phase (0 or 1: every epoch); patience counts these
     * evaluations, and the best epoch is chosen among them. */
    size_t eval_every;
    int optimizer;           /* fr_optim_kind (Adam) */
    float lr, weight_decay;  /* 1e-3, 1e-6 */
    /* Rows are visited block by block (blocks in random order, rows
     * shuffled within a block), and a mapped table's pages are dropped
     * after each block, so memory stays bounded; 0: one block (a full
     * shuffle). */
    size_t block_rows;
    /* 1: every epoch visits the rows in the order drawn for the first (a
     * loader that shuffles once, as the AutoIFS authors' does); 0: a new
     * order every epoch (the default). */
    int fixed_order;
    /* Step the embedding table densely (every row every step, as PyTorch's
     * Adam does) rather than lazily (0, the default); see
     * fr_optimizer_set_dense_rows. */
    int dense_embedding;
    uint64_t seed;
    /* AutoIFS: search epochs (10) with Adam search_lr (3e-4), weight decay
     * search_weight_decay (3e-5) and the selector at selector_lr (3e-6),
     * the temperature going from 1 to tau_final (100) geometrically; the
     * model's weights after rewind_epoch (9) search epochs are restored
     * for the retrain, which then runs as any model's training
     * (lr, weight_decay, max_epochs, patience). */
    size_t search_epochs, rewind_epoch;
    float tau_final, search_lr, search_weight_decay, selector_lr;
    /* fedrec/progress.h: told the batches done of each epoch (unit
     * "batch") and then its validation; a stop request abandons the epoch
     * under way (see fr_msmt_train). */
    fr_progress_hook progress;
    /* Checkpoints and resuming (above); zeroed by default: none. */
    fr_msmt_checkpoint checkpoint;
} fr_msmt_train_options;

void fr_msmt_train_options_default(fr_msmt_train_options *o);

/* One pass over rows train[0..n_train) for a caller that runs its own
 * schedule (a federated client's local epoch): blocks of block_rows rows
 * (0: one) in random order, rows shuffled within a block, from stream
 * (seed, shuffle_key, shuffle_stream, SHUFFLE); batches of `batch` rows
 * (a last batch of one row is skipped); per batch zero the gradients,
 * forward, backward, before_step(arg) (may be NULL: e.g. a proximal term
 * added to the gradients), then opt's step. *step counts the batches
 * (dropout draws are keyed by it); *loss gets the mean batch loss. */
struct fr_optimizer;
typedef struct fr_msmt_pass_options {
    size_t batch, block_rows;
    uint64_t seed;
    uint32_t shuffle_key, shuffle_stream;
    struct fr_optimizer *opt;
    fr_status (*before_step)(void *arg);
    void *arg;
    /* fedrec/progress.h: told the batches done of the pass; on a stop
     * request the pass ends after the batch under way and returns FR_OK
     * (the caller, whose hook asked, knows the pass is cut short). */
    fr_progress_hook progress;
} fr_msmt_pass_options;
fr_status fr_msmt_pass(fr_msmt_model *m, const fr_table *t, const fr_msmt_pass_options *p,
                       const uint32_t *train, size_t n_train, uint32_t *step, double *loss);
/* The batches such a pass over n_train rows takes (what its progress
 * hook counts to). */
size_t fr_msmt_pass_batches(size_t n_train, size_t batch, size_t block_rows);

typedef struct fr_msmt_epoch {
    size_t epoch;            /* 1-based, counted within the phase */
    int search;              /* AutoIFS search phase (1) or not */
    double tau;              /* AutoIFS search temperature */
    double train_loss, seconds, samples_per_second; /* seconds: training and validation */
    int evaluated;           /* 0: not validated (eval_every): valid holds NaN */
    fr_msmt_eval valid;
    int improved;
} fr_msmt_epoch;

typedef struct fr_msmt_result {
    size_t epochs, best_epoch;  /* of the (re)training phase */
    double gates[4];            /* AutoIFS: mean gate per flow at the end */
    fr_msmt_eval valid, test;   /* of the best epoch's model */
    double seconds;             /* training wall time, evaluation included */
    double train_samples_per_second;
    /* 1: the progress hook asked for a stop; the epoch under way was
     * abandoned and the rest skipped (epochs counts the finished ones). */
    int stopped;
} fr_msmt_result;

/* Train on the table's training rows with early stopping on the mean
 * validation AUC; the best epoch's parameters are kept and reloaded, then
 * evaluated on validation and test. on_epoch (may be NULL) sees each
 * epoch. When o->progress asks for a stop, the epoch under way is
 * abandoned, out->stopped set, and the best finished epoch's parameters
 * reloaded and evaluated as above; with no finished epoch of the
 * (re)training phase (AutoIFS: stopped while searching) nothing is
 * evaluated: out->valid and out->test hold NaN. Returns FR_OK then.
 * o->checkpoint: checkpoints after every epoch, and resuming from one
 * (above); the epoch abandoned on a stop is not checkpointed, so a resume
 * goes on after the last finished epoch. */
fr_status fr_msmt_train(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                        void (*on_epoch)(void *arg, const fr_msmt_epoch *e), void *arg,
                        fr_msmt_result *out);
#ifdef __cplusplus
}
#endif
#endif
