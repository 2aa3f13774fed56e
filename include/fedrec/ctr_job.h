/* fedrec/ctr_job.h — the built-in click-through job: synthetic data, a
 * field-embedding + MLP model with a logistic output, BCE loss, and an
 * optimiser, all described by a configuration (conf/demo.ini). It is what
 * `fedrec train` runs without a configuration of another job, and a small
 * complete example of the library's layers working together. */
#ifndef FEDREC_CTR_JOB_H
#define FEDREC_CTR_JOB_H

#include <stddef.h>
#include "fedrec/backend.h"
#include "fedrec/config.h"
#include "fedrec/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_ctr_job fr_ctr_job;

/* The generated rows in order: training, then data.valid_fraction of them
 * for validation, then the last data.test_fraction for testing. */
typedef struct fr_ctr_job_info {
    size_t train_rows, valid_rows, test_rows, fields, vocab, numeric;
    size_t n_params;       /* trainable and statistics values */
} fr_ctr_job_info;

/* Generate the data, split it, build the model on be. */
fr_status fr_ctr_job_open(const fr_config *cfg, fr_backend *be, fr_ctr_job **out);
void fr_ctr_job_close(fr_ctr_job *job);
void fr_ctr_job_describe(const fr_ctr_job *job, fr_ctr_job_info *info);
/* One pass over the training rows in a seeded order; mean batch loss. */
fr_status fr_ctr_job_train_epoch(fr_ctr_job *job, unsigned epoch, double *loss);
/* Test log loss and exact AUC of the current model (inference mode). */
fr_status fr_ctr_job_evaluate(fr_ctr_job *job, double *logloss, double *auc);
/* The same on the validation rows: what a run selects its epoch on. */
fr_status fr_ctr_job_evaluate_valid(fr_ctr_job *job, double *logloss, double *auc);
/* Remember the current parameters (every value, batch-norm statistics
 * included), and bring the remembered ones back: how a run ends on its
 * best validation epoch's model. Restoring before keeping is an error. */
fr_status fr_ctr_job_keep(fr_ctr_job *job);
fr_status fr_ctr_job_restore(fr_ctr_job *job);
/* The model's parameters (for saving and loading). */
fr_param_set *fr_ctr_job_params(fr_ctr_job *job);

#ifdef __cplusplus
}
#endif
#endif
