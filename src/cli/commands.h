/* commands.h — the subcommands implemented in this folder's cmd_*.c files
 * (bench and config have headers of their own). */
#ifndef FR_CLI_COMMANDS_H
#define FR_CLI_COMMANDS_H

int fr_cli_train(int argc, char **argv);
int fr_cli_eval(int argc, char **argv);
int fr_cli_devices(int argc, char **argv);
int fr_cli_plot(int argc, char **argv);
int fr_cli_data(int argc, char **argv);

#include "fedrec/config.h"
/* The PFedRec job of `fedrec train` (job_pfedrec.c). */
int fr_cli_run_pfedrec(const fr_config *cfg, int quiet, const char *summary, int resume);
/* The multi-scenario multi-task job (job_msmt.c). */
int fr_cli_run_msmt(const fr_config *cfg, int quiet, const char *summary);

#endif
