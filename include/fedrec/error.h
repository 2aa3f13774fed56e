/* fedrec/error.h — status codes and the last-error message.
 *
 * Every library function that can fail returns an fr_status. On failure it
 * also leaves a human-readable message (what went wrong and where: file,
 * line, key, value, what was expected) that fr_last_error() returns. The
 * message is per thread, so worker threads do not overwrite each other's.
 * Library code never prints and never exits; the caller decides. */
#ifndef FEDREC_ERROR_H
#define FEDREC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_status {
    FR_OK = 0,
    FR_ERR_NOMEM,       /* an allocation failed */
    FR_ERR_INVALID,     /* an argument is out of its domain */
    FR_ERR_IO,          /* a file could not be opened, read or written */
    FR_ERR_CONFIG,      /* a configuration file or override is wrong */
    FR_ERR_DATA,        /* a data file is malformed */
    FR_ERR_FORMAT,      /* a model or checkpoint file is corrupt or foreign */
    FR_ERR_UNSUPPORTED, /* asked for something this build or CPU lacks */
    FR_ERR_BACKEND,     /* a compute backend failed */
    FR_ERR_NUMERIC,     /* a computation produced NaN or infinity */
    FR_ERR_COMM         /* a rank of a multi-process job could not be reached */
} fr_status;

/* Short stable name of a status ("ok", "nomem", "config", ...). */
const char *fr_status_name(fr_status status);

/* Message left by the last failing call on this thread ("" if none). */
const char *fr_last_error(void);

/* Forget the last message on this thread. */
void fr_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
