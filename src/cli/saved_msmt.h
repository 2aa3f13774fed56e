/* saved_msmt.h — the multi-scenario jobs' saved models (job.kind = msmt
 * and fedmsmt): what `fedrec train` writes to output.model, and what
 * `fedrec eval` (saved_msmt.c) and `fedrec export` (export_msmt.c) read
 * back.
 *
 * `fedrec eval`, `recommend` (recommend_msmt.c) and `export` reach them
 * through the msmt and fedmsmt row of saved_model.c's table
 * (fr_saved_msmt_eval, ...).
 *
 * The file is a model file (fedrec/model_file.h). msmt: the model's parts
 * (fr_msmt_model_parts: AutoIFS adds its selector). fedmsmt: every client's
 * model, client c's parameters under "client.c/" (c the scenario's index,
 * its name in the metadata). The metadata is the effective configuration
 * as INI text, after a header of comment lines ";@ name = value" the INI
 * reader skips: the job kind, the epoch or round kept, and the training
 * data's fingerprint (fr_table_fingerprint) and schema (fields and their
 * vocabularies, numbers, tasks, scenarios), names escaped (\\ and \n).
 * After the parameters, when the training table knows its fields, come
 * the "data/" arrays `fedrec recommend` and `fedrec export` read
 * (saved_msmt_data.h). */
#ifndef FR_CLI_SAVED_MSMT_H
#define FR_CLI_SAVED_MSMT_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/config.h"
#include "fedrec/msmt.h"
#include "fedrec/table.h"

/* What the header of a saved multi-scenario model says. */
typedef struct fr_cli_saved_msmt {
    char kind[32];        /* msmt or fedmsmt */
    char best[64];        /* "epoch 3 of 5", "round 4 of 6" */
    uint64_t fingerprint; /* of the training data */
    size_t rows, n_cat, n_num, n_tasks, n_scenarios;
    size_t *vocab;        /* n_cat values (malloc'ed) */
    char task[FR_TABLE_MAX_TASKS][FR_TABLE_NAME_MAX];
    char scenario[FR_TABLE_MAX_SCENARIOS][FR_TABLE_NAME_MAX];
} fr_cli_saved_msmt;

/* Read the header of meta (the metadata of the model file path); errors
 * name the file. fr_cli_saved_msmt_free releases it. */
fr_status fr_cli_saved_msmt_parse(const char *path, const char *meta, fr_cli_saved_msmt *out);
void fr_cli_saved_msmt_free(fr_cli_saved_msmt *s);

/* The saved model's networks for data shaped like shape, loaded from
 * path: msmt one (models[0]), fedmsmt one per scenario (models[c]); the
 * caller frees them (fr_msmt_model_free), also after a failure. */
fr_status fr_cli_msmt_load_models(const char *path, const fr_config *cfg, fr_backend *be, const fr_table *shape,
                                   int fed, fr_msmt_model **models);

/* Before training: output.model, when set, must name a file in a folder
 * that exists and can be written. */
fr_status fr_cli_model_path_check(const fr_config *cfg);

/* After training (output.model set; a no-op otherwise): save the msmt
 * model m, trained on t, with best ("epoch 3 of 5"); fedmsmt: every
 * client's model (models[c] for scenario c). Prints "model saved to PATH". */
fr_status fr_cli_msmt_save(const fr_config *cfg, const fr_table *t, fr_msmt_model *m, const char *best);
fr_status fr_cli_fedmsmt_save(const fr_config *cfg, const fr_table *t, fr_msmt_model *const *models,
                              const char *best);

#endif
