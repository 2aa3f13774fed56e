/* error.c — status names and the per-thread last-error message.
 *
 * Library code reports a failure with fr_fail(status, fmt, ...), which
 * stores the formatted message for this thread and returns the status, so
 * a failing path reads `return fr_fail(FR_ERR_IO, "%s: cannot open", path);`. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"

/* Per thread: a worker's failure travels to the reporting thread with
 * its status (fr_cpu_parallel_try), never through this buffer. */
static _Thread_local char last_error[FR_ERROR_MESSAGE_MAX];

const char *fr_status_name(fr_status status)
{
    switch (status) {
    case FR_OK: return "ok";
    case FR_ERR_NOMEM: return "out of memory";
    case FR_ERR_INVALID: return "invalid argument";
    case FR_ERR_IO: return "i/o error";
    case FR_ERR_CONFIG: return "configuration error";
    case FR_ERR_DATA: return "data error";
    case FR_ERR_FORMAT: return "format error";
    case FR_ERR_UNSUPPORTED: return "unsupported";
    case FR_ERR_BACKEND: return "backend error";
    case FR_ERR_NUMERIC: return "numeric error";
    case FR_ERR_COMM: return "communication error";
    }
    return "unknown status";
}

const char *fr_last_error(void)
{
    return last_error;
}

void fr_clear_error(void)
{
    last_error[0] = '\0';
}

fr_status fr_fail(fr_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

fr_status fr_fail_nomem(const char *what, size_t bytes)
{
    return fr_fail(FR_ERR_NOMEM, "out of memory allocating %zu bytes for %s",
                   bytes, what);
}
