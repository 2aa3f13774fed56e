/* summary.h — `fedrec train --summary FILE`: what was run and its final
 * figures as one JSON object for scripts and `fedrec compare`; the schema
 * is in doc/OUTPUTS.md. */
#ifndef FR_CLI_SUMMARY_H
#define FR_CLI_SUMMARY_H

#include <stddef.h>
#include <stdio.h>
#include "fedrec/config.h"
#include "fedrec/msmt.h"
#include "fedrec/mtrec.h"

/* JSON helpers for the CLI's report files: a string with escapes, a number
 * (null for NaN and infinities, which JSON lacks). */
void fr_cli_json_string(FILE *f, const char *s);
void fr_cli_json_number(FILE *f, double v);
/* One JSON object on one line (a JSON-lines report row), member by member:
 * every number goes through fr_cli_json_number, so no row holds a NaN. */
typedef struct fr_cli_json_row {
    FILE *f;
    int members;
} fr_cli_json_row;
void fr_cli_json_begin(fr_cli_json_row *r, FILE *f);
void fr_cli_json_num(fr_cli_json_row *r, const char *name, double v);
void fr_cli_json_int(fr_cli_json_row *r, const char *name, long long v);
void fr_cli_json_str(fr_cli_json_row *r, const char *name, const char *v);
/* The name of a member whose value the caller then writes itself. */
void fr_cli_json_key(fr_cli_json_row *r, const char *name);
/* "}\n" */
void fr_cli_json_end(fr_cli_json_row *r);

typedef struct fr_cli_metric {
    const char *name;
    double value;
} fr_cli_metric;

/* What a job tells the summary beyond its configuration. */
typedef struct fr_cli_summary {
    const char *method;      /* fedmsmt.method, mtrec.combiner, msmt.model, or the job kind */
    const char *model;       /* the network of the msmt jobs (NULL: none named) */
    const char *backend;     /* "cpu", "opencl" */
    const char *device;      /* its description: "cpu (avx2, 2 threads)" */
    const char *unit;        /* "epoch", "round" */
    long long done, planned; /* units run and planned */
    const fr_cli_metric *metrics;
    size_t n_metrics;
    double wall_seconds;
    /* msmt, fedmsmt: AUC and logloss per scenario x task (NULL: none). */
    const fr_table *table;
    const fr_msmt_eval *valid, *test;
    /* mtrec: per task of the best epoch, and Recall / NDCG per cutoff
     * (NULL: none). */
    const fr_mtr_options *mtr;
    const fr_mtr_epoch *mtr_best;
    const fr_rank_metrics *rank_valid, *rank_test;
} fr_cli_summary;

/* `fedrec train` calls this when it starts: the summary's start time. */
void fr_cli_summary_started(void);
/* "cpu (avx2, 2 threads)" for jobs on the CPU engine without a backend. */
void fr_cli_cpu_device(int threads, int cpu_isa, char *buf, size_t n);

/* Write the summary of the run cfg describes to path, atomically (a
 * stop asked by a signal, interrupt.h, marks it interrupted). Returns an
 * exit code (0 ok) after reporting a failure on stderr. */
int fr_cli_write_summary(const char *path, const fr_config *cfg, const fr_cli_summary *s);

#endif
