/* commands.h — the subcommands implemented in this folder's cmd_*.c files
 * (bench and config have headers of their own). */
#ifndef FR_CLI_COMMANDS_H
#define FR_CLI_COMMANDS_H

int fr_cli_train(int argc, char **argv);
int fr_cli_eval(int argc, char **argv);
int fr_cli_devices(int argc, char **argv);

#endif
