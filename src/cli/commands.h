/* commands.h — the subcommands implemented in this folder's cmd_*.c files
 * (bench and config have headers of their own). */
#ifndef FR_CLI_COMMANDS_H
#define FR_CLI_COMMANDS_H

int fr_cli_train(int argc, char **argv);
int fr_cli_eval(int argc, char **argv);
int fr_cli_recommend(int argc, char **argv);
int fr_cli_export(int argc, char **argv);
int fr_cli_devices(int argc, char **argv);
int fr_cli_plot(int argc, char **argv);
int fr_cli_data(int argc, char **argv);
int fr_cli_compare(int argc, char **argv);
int fr_cli_tune(int argc, char **argv);

#include "fedrec/comm.h"
#include "fedrec/config.h"
/* The PFedRec job of `fedrec train` (job_pfedrec.c). */
int fr_cli_run_pfedrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm);
/* data.source / path / delimiter / header / columns -> a rating reader
 * spec; *path is NULL for synthetic data (job_pfedrec.c). A `category`
 * column (job.kind = mtrec alone) is left to the reader of categories. */
#include "fedrec/ratings.h"
fr_status fr_cli_ratings_spec(const fr_config *cfg, fr_ratings_spec *spec, const char **path);
/* The rating engine's options from pfedrec.*, fed.*, privacy.*, fault.*
 * and backend.* (job_pfedrec.c; the DP noise of a target epsilon is set
 * later, from the users). */
#include "fedrec/pfedrec.h"
fr_status fr_cli_pfedrec_options(const fr_config *cfg, fr_pfedrec_options *o);
/* The multi-task recommender job (job_mtrec.c). */
int fr_cli_run_mtrec(const fr_config *cfg, int quiet, const char *summary, int resume, struct fr_comm *comm);
/* Its options (mtrec.*, train.*) and its data (data.*, mtrec.parts and the
 * relation files; `what` describes it), for saved models too. */
#include "fedrec/mtrec.h"
fr_status fr_cli_mtrec_options(const fr_config *cfg, fr_mtr_options *o, int64_t *patience, int64_t *min_epochs,
                               int64_t *epochs);
fr_status fr_cli_mtrec_load_data(const fr_config *cfg, fr_mtr_data *d, char *what, size_t what_cap, int quiet);
/* The multi-scenario multi-task job (job_msmt.c), and what the federated
 * one (job_fedmsmt.c) shares with it: the model and training options from
 * msmt.* and train.*, the table data.* names, and the table of AUC and
 * logloss per scenario x task. */
#include "fedrec/msmt.h"
int fr_cli_run_msmt(const fr_config *cfg, int quiet, const char *summary, int resume);
fr_status fr_cli_msmt_options(const fr_config *cfg, fr_msmt_options *mo, fr_msmt_train_options *to);
fr_status fr_cli_msmt_load(const fr_config *cfg, fr_table *t, const char **what);
void fr_cli_msmt_print_table(const fr_table *t, const fr_msmt_eval *valid, const fr_msmt_eval *test);
int fr_cli_run_fedmsmt(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm);
/* The federated job's options from fedmsmt.*, msmt.*, train.* and fed.*
 * for data of `clients` scenarios (job_fedmsmt.c). */
#include "fedrec/fedmsmt.h"
fr_status fr_cli_fedmsmt_options(const fr_config *cfg, size_t clients, fr_fedmsmt_options *o);
/* What each job checks in its configuration before it reads data (the
 * same functions its run calls); fedrec config --check runs them too
 * (job_check.h). */
fr_status fr_cli_pfedrec_check(const fr_config *cfg);
fr_status fr_cli_msmt_check(const fr_config *cfg);
fr_status fr_cli_fedmsmt_check(const fr_config *cfg);
fr_status fr_cli_mtrec_check(const fr_config *cfg);

#endif
