/* summary.h — `fedrec train --summary FILE`: the final figures of a run as
 * one JSON object for scripts. */
#ifndef FR_CLI_SUMMARY_H
#define FR_CLI_SUMMARY_H

#include <stddef.h>
#include <stdio.h>
#include "fedrec/config.h"

/* JSON helpers for the CLI's report files: a string with escapes, a number
 * (null for NaN and infinities, which JSON lacks). */
void fr_cli_json_string(FILE *f, const char *s);
void fr_cli_json_number(FILE *f, double v);

typedef struct fr_cli_metric {
    const char *name;
    double value;
} fr_cli_metric;

/* Write {"metrics": {...}, "seed": .., "wall_seconds": .., "peak_rss_bytes":
 * .., "config": "<effective INI>"} to path, atomically. Returns an exit code
 * (0 ok) after reporting a failure on stderr. */
int fr_cli_write_summary(const char *path, const fr_config *cfg,
                         const fr_cli_metric *metrics, size_t n_metrics,
                         double wall_seconds);

#endif
