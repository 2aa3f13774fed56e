/* report.c — turning a library status into a message and an exit code. */
#include <stdio.h>

#include "cli/cli.h"

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
    const char *msg = fr_last_error();
    if (context && *context)
        fprintf(stderr, "fedrec: %s: %s\n", context, *msg ? msg : fr_status_name(status));
    else
        fprintf(stderr, "fedrec: %s\n", *msg ? msg : fr_status_name(status));
    return fr_cli_exit_code(status);
}
