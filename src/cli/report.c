/* report.c — turning a library status into a message and an exit code. */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"
#include "fedrec/comm.h"

/* A failure the CLI itself found (set by fr_cli_fail, consumed by
 * fr_cli_report). */
static _Thread_local char cli_error[1024];
static fr_comm *cli_comm;

void fr_cli_set_comm(fr_comm *c)
{
    cli_comm = c;
}

fr_status fr_cli_agree(fr_comm *c, fr_status local)
{
    const char *msg = cli_error[0] ? cli_error : fr_last_error();
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", local != FR_OK ? msg : "");
    cli_error[0] = '\0'; /* the agreed message becomes the library's */
    return fr_comm_agree_message(c, local, copy);
}

int fr_cli_exit_code(fr_status status)
{
    switch (status) {
    case FR_OK: return FR_EXIT_OK;
    case FR_ERR_CONFIG: return FR_EXIT_CONFIG;
    case FR_ERR_DATA:
    case FR_ERR_FORMAT: return FR_EXIT_INPUT;
    case FR_ERR_INVALID:
    case FR_ERR_UNSUPPORTED: return FR_EXIT_CONFIG;
    default: return FR_EXIT_FAILURE;
    }
}

int fr_cli_report(fr_status status, const char *context)
{
    /* A message of the CLI's own, else the library's. */
    const char *msg = cli_error[0] ? cli_error : fr_last_error();
    if (cli_comm && fr_comm_size(cli_comm) > 1 && fr_comm_rank(cli_comm) != 0) {
        if (!fr_comm_error_shared(cli_comm)) /* rank 0 reports shared ones */
            fprintf(stderr, "fedrec (rank %d of %d): %s%s%s\n", fr_comm_rank(cli_comm), fr_comm_size(cli_comm),
                    context && *context ? context : "", context && *context ? ": " : "",
                    *msg ? msg : fr_status_name(status));
        cli_error[0] = '\0';
        return fr_cli_exit_code(status);
    }
    if (context && *context)
        fprintf(stderr, "fedrec: %s: %s\n", context, *msg ? msg : fr_status_name(status));
    else
        fprintf(stderr, "fedrec: %s\n", *msg ? msg : fr_status_name(status));
    cli_error[0] = '\0';
    return fr_cli_exit_code(status);
}

fr_status fr_cli_fail(fr_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cli_error, sizeof cli_error, fmt, ap);
    va_end(ap);
    return status;
}
