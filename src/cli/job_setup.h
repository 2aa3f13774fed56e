/* job_setup.h — what `train` and `eval` share: opening the backend a
 * configuration asks for. */
#ifndef FR_CLI_JOB_SETUP_H
#define FR_CLI_JOB_SETUP_H

#include "fedrec/backend.h"
#include "fedrec/config.h"

/* Open the backend of backend.kind / cpu_isa / threads. */
fr_status fr_cli_open_backend(const fr_config *cfg, fr_backend **out);

#endif
