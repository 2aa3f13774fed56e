/* msmt_internal.h — what the multi-scenario trainer (msmt_train.c) and its
 * checkpoints (msmt_checkpoint.c) share: the training state between two
 * epochs, and the parts of a model's state only a checkpoint touches
 * (internal; see fedrec/msmt.h). */
#ifndef FR_MSMT_INTERNAL_H
#define FR_MSMT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/msmt.h"
#include "fedrec/optim.h"

/* Where a run is: AutoIFS's search, the (re)training with early stopping,
 * or done (only the final evaluation left). */
typedef enum fr_msmt_phase {
    FR_MSMT_PHASE_SEARCH = 0,
    FR_MSMT_PHASE_TRAIN = 1,
    FR_MSMT_PHASE_DONE = 2
} fr_msmt_phase;

/* Everything a run carries from one epoch to the next besides the
 * model's parameters: what a checkpoint holds to go on exactly. */
typedef struct fr_msmt_state {
    fr_msmt_phase phase;
    size_t phase_epochs;      /* finished in this phase */
    size_t epochs_run;        /* finished in all phases: keys the shuffles */
    uint32_t step;            /* batches trained: keys dropout */
    int rewound;              /* AutoIFS: rewind holds the weights to retrain from */
    double best_auc;          /* best validation mean AUC (-1 before any) */
    size_t since_best;        /* evaluations since it */
    size_t epochs, best_epoch; /* the (re)training phase's (fr_msmt_result) */
    size_t samples;           /* rows trained, and the seconds it took: */
    double train_seconds;     /* the throughput reported */
    /* The phase's optimisers: AutoIFS's search (the model's and the
     * selector's), then the (re)training's; NULL when not (yet) made. */
    fr_optimizer *search_opt, *selector_opt, *train_opt;
    float *best, *rewind;     /* n_values each; rewind: AutoIFS only */
    size_t n_values;          /* of the model's parameter set, every role */
} fr_msmt_state;

/* Write st and the model to o->checkpoint.path (atomically, the previous
 * file kept as PATH.prev). */
fr_status fr_msmt_checkpoint_write(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                                   const fr_msmt_state *st, uint64_t data_fingerprint);
/* Read o->checkpoint.path into st and the model, whose optimisers for
 * every phase the run may be in must exist (search_opt and selector_opt
 * for AutoIFS, train_opt). Everything in the file is checked (length,
 * checksum, configuration, data, sizes) before anything is changed. */
fr_status fr_msmt_checkpoint_read(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                                  fr_msmt_state *st, uint64_t data_fingerprint);

/* The model's architecture. */
fr_msmt_arch fr_msmt_model_arch(const fr_msmt_model *m);
/* AutoIFS's gate statistics (fr_msmt_autoifs_gates: the sums of each
 * flow's gates and the gates counted); zeros for other models. */
void fr_msmt_gate_stats(const fr_msmt_model *m, double sums[4], uint64_t *count);
void fr_msmt_set_gate_stats(fr_msmt_model *m, const double sums[4], uint64_t count);

#endif
