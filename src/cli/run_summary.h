/* run_summary.h — a summary of `fedrec train --summary` read back, for
 * `fedrec compare` and `fedrec tune`: its figures by name (the "metrics"
 * object, then every array of figures the summary has -- "cells" named as
 * the CSV report names them, "ranking" as valid_recall@K, "tasks"), its
 * descriptive fields (run name, job kind, method, version, host, device.*,
 * status, ...: whichever the summary has), and its effective
 * configuration as section.key -> value. Summaries of older fedrec
 * versions, which have only metrics, seed, wall_seconds, peak_rss_bytes
 * and config, read as well: the job kind and method then come from the
 * configuration. */
#ifndef FR_CLI_RUN_SUMMARY_H
#define FR_CLI_RUN_SUMMARY_H

#include <stddef.h>

#include "cli/json_value.h"

typedef struct fr_named_value {
    char *name;
    char *text;   /* info and configuration: the value as text */
    double value; /* figures: the number (NaN for null) */
} fr_named_value;

typedef struct fr_run_summary {
    char *path;
    fr_named_value *figures; /* metrics, then cells */
    size_t n_figures, n_metrics; /* the first n_metrics figures are "metrics" */
    fr_named_value *info;    /* top-level strings and numbers other than
                              * config, wall_seconds and peak_rss_bytes */
    size_t n_info;
    fr_named_value *config;  /* section.key = value, in file order */
    size_t n_config;
    char *job_kind, *method, *run_name;
    double wall_seconds, peak_rss_bytes; /* NaN when absent */
} fr_run_summary;

/* Read path. Returns an exit code: 0, 1 (cannot open or read) or 4 (not a
 * complete summary), with the message in err ("PATH:LINE:COLUMN: ..."). */
int fr_run_summary_load(const char *path, fr_run_summary *s, char *err, size_t errn);
void fr_run_summary_free(fr_run_summary *s);

/* A figure by name (NaN when absent; *found says which). */
double fr_run_summary_figure(const fr_run_summary *s, const char *name, int *found);
/* A configuration value by "section.key" (NULL when absent). */
const char *fr_run_summary_config(const fr_run_summary *s, const char *key);

/* The method a configuration runs, for people: PFedRec, FedMF, MMoE,
 * PF-MSMTrec (MMoE clients), PMTRec, ... from job.kind and the keys that
 * choose the method within it. Writes into buf. */
void fr_method_name(const char *kind, const char *msmt_model, const char *fedmsmt_method,
                    const char *mtrec_combiner, char *buf, size_t n);

#endif
