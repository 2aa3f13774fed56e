/* commands.h — the subcommands implemented in this folder's cmd_*.c files
 * (bench and config have headers of their own). */
#ifndef FR_CLI_COMMANDS_H
#define FR_CLI_COMMANDS_H

int fr_cli_train(int argc, char **argv);
int fr_cli_eval(int argc, char **argv);
int fr_cli_devices(int argc, char **argv);
int fr_cli_plot(int argc, char **argv);
int fr_cli_data(int argc, char **argv);

#include "fedrec/comm.h"
#include "fedrec/config.h"
/* The PFedRec job of `fedrec train` (job_pfedrec.c). */
int fr_cli_run_pfedrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm);
/* data.source / path / delimiter / header / columns -> a rating reader
 * spec; *path is NULL for synthetic data (job_pfedrec.c). */
#include "fedrec/ratings.h"
fr_status fr_cli_ratings_spec(const fr_config *cfg, fr_ratings_spec *spec, const char **path);
/* The multi-task recommender job (job_mtrec.c). */
int fr_cli_run_mtrec(const fr_config *cfg, int quiet, const char *summary);
/* The multi-scenario multi-task job (job_msmt.c), and what the federated
 * one (job_fedmsmt.c) shares with it: the model and training options from
 * msmt.* and train.*, the table data.* names, and the table of AUC and
 * logloss per scenario x task. */
#include "fedrec/msmt.h"
int fr_cli_run_msmt(const fr_config *cfg, int quiet, const char *summary);
fr_status fr_cli_msmt_options(const fr_config *cfg, fr_msmt_options *mo, fr_msmt_train_options *to);
fr_status fr_cli_msmt_load(const fr_config *cfg, fr_table *t, const char **what);
void fr_cli_msmt_print_table(const fr_table *t, const fr_msmt_eval *valid, const fr_msmt_eval *test);
int fr_cli_run_fedmsmt(const fr_config *cfg, int quiet, const char *summary, fr_comm *comm);
/* What each job checks in its configuration before it reads data (the
 * same functions its run calls); fedrec config --check runs them too
 * (job_check.h). */
fr_status fr_cli_pfedrec_check(const fr_config *cfg);
fr_status fr_cli_msmt_check(const fr_config *cfg);
fr_status fr_cli_fedmsmt_check(const fr_config *cfg);
fr_status fr_cli_mtrec_check(const fr_config *cfg);

#endif
