/* job_setup.h — what `train`'s jobs and `eval` share: opening the backend
 * a configuration asks for, and the per-epoch/round report file. */
#ifndef FR_CLI_JOB_SETUP_H
#define FR_CLI_JOB_SETUP_H

#include <stdint.h>
#include <stdio.h>
#include "fedrec/backend.h"
#include "fedrec/config.h"

/* Open the backend of backend.kind / cpu_isa / threads. */
fr_status fr_cli_open_backend(const fr_config *cfg, fr_backend **out);

/* Open the report file path with fopen mode; NULL after saying why on
 * stderr. */
FILE *fr_cli_open_report(const char *path, const char *mode);
/* Close a report (NULL: nothing to do); a failed close is reported on
 * stderr when the run itself went well (run_ok). Returns the exit code it
 * leaves: FR_EXIT_FAILURE after a failed close, else code. */
int fr_cli_close_report(FILE *report, const char *path, int run_ok, int code);

/* Keep the rows of rounds <= last of a report (CSV or JSON lines; rows
 * start with the round, or the epoch for mtrec) and its header: a resumed
 * run rewrites the rounds after its checkpoint. A missing file is fine. */
fr_status fr_cli_trim_report(const char *path, int64_t last);
/* The same keeping the first `rows` rows, whatever they start with (the
 * msmt job's, whose AutoIFS epochs count from 1 again after the search). */
fr_status fr_cli_trim_report_rows(const char *path, int64_t rows);

#endif
