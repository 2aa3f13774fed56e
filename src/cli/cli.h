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

/* Record a failure message for fr_cli_report (CLI code has no access to
 * the library's internal fr_fail). */
fr_status fr_cli_fail(fr_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Multi-rank jobs: the job's ranks, for fr_cli_report (rank 0 reports a
 * failure every rank shares; another rank reports only its own, prefixed
 * with its number). NULL: one process. */
struct fr_comm;
void fr_cli_set_comm(struct fr_comm *c);
/* fr_comm_agree with the CLI's own message when it has one. */
fr_status fr_cli_agree(struct fr_comm *c, fr_status local);

/* Return the status of expr if it is not FR_OK. */
#define FR_TRY_CLI(expr)                     \
    do {                                     \
        fr_status fr_try_cli_s_ = (expr);    \
        if (fr_try_cli_s_ != FR_OK)          \
            return fr_try_cli_s_;            \
    } while (0)

#endif
