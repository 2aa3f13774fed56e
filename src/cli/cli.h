/* cli.h — shared pieces of the fedrec program: exit codes, the subcommand
 * signature, and reporting a library failure. */
#ifndef FR_CLI_H
#define FR_CLI_H

#include "fedrec/error.h"

/* Exit codes (documented in fedrec(1) and the README). */
enum {
    FR_EXIT_OK = 0,
    FR_EXIT_FAILURE = 1, /* run-time failure: i/o, backend, numeric */
    FR_EXIT_USAGE = 2,   /* bad command line */
    FR_EXIT_CONFIG = 3,  /* bad configuration file or --set override */
    FR_EXIT_INPUT = 4    /* bad data, model or checkpoint file */
};

/* A subcommand: argv[0] is its own name. Returns an exit code. */
typedef int (*fr_cli_command)(int argc, char **argv);

/* Print "fedrec: <context>: <last error>" on stderr; return the exit code
 * that fits the status. */
int fr_cli_report(fr_status status, const char *context);

/* Exit code for a status. */
int fr_cli_exit_code(fr_status status);

#endif
