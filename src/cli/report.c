/* report.c — turning a library status into a message and an exit code. */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

/* A failure the CLI itself found (set by fr_cli_fail, consumed by
 * fr_cli_report). */
static _Thread_local char cli_error[1024];

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
