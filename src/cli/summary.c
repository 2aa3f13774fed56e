/* summary.c — the --summary JSON file (see summary.h, doc/OUTPUTS.md) and
 * the JSON writers of the report files. A summary is written to a
 * temporary file and renamed, so a reader never sees half of one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/summary.h"
#include "fedrec/backend.h"
#include "fedrec/version.h"
#include "io/atomic_file.h"

/* Bumped when a member changes meaning or goes; new members keep it. */
#define SUMMARY_VERSION 2

void fr_cli_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void fr_cli_json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f); /* JSON has no NaN or infinity */
}

void fr_cli_json_begin(fr_cli_json_row *r, FILE *f)
{
    r->f = f;
    r->members = 0;
    fputc('{', f);
}

void fr_cli_json_key(fr_cli_json_row *r, const char *name)
{
    if (r->members++)
        fputc(',', r->f);
    fr_cli_json_string(r->f, name);
    fputc(':', r->f);
}

void fr_cli_json_num(fr_cli_json_row *r, const char *name, double v)
{
    fr_cli_json_key(r, name);
    fr_cli_json_number(r->f, v);
}

void fr_cli_json_int(fr_cli_json_row *r, const char *name, long long v)
{
    fr_cli_json_key(r, name);
    fprintf(r->f, "%lld", v);
}

void fr_cli_json_str(fr_cli_json_row *r, const char *name, const char *v)
{
    fr_cli_json_key(r, name);
    fr_cli_json_string(r->f, v);
}

void fr_cli_json_end(fr_cli_json_row *r)
{
    fputs("}\n", r->f);
}

static time_t started;

void fr_cli_summary_started(void)
{
    started = time(NULL);
}

void fr_cli_cpu_device(int threads, int cpu_isa, char *buf, size_t n)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = threads > 0 ? threads : (int)(cores > 0 ? cores : 1);
    fr_cpu_isa isa = cpu_isa ? (fr_cpu_isa)cpu_isa : fr_cpu_isa_best();
    snprintf(buf, n, "cpu (%s, %d thread%s)", fr_cpu_isa_name(isa), t, t == 1 ? "" : "s");
}

/* ,\n  "name": */
static void member(FILE *f, const char *name)
{
    fputs(",\n  ", f);
    fr_cli_json_string(f, name);
    fputs(": ", f);
}

/* "cells": AUC and logloss per scenario x task, validation and test. */
static void cells(FILE *f, const fr_cli_summary *s)
{
    fputc('[', f);
    const fr_table *t = s->table;
    for (size_t sc = 0; t && s->valid && s->test && sc < t->n_scenarios; sc++)
        for (size_t k = 0; k < t->n_tasks; k++) {
            fr_cli_json_row r;
            fputs(sc + k ? ",\n    " : "\n    ", f);
            fr_cli_json_begin(&r, f);
            fr_cli_json_str(&r, "scenario", t->scenario_names[sc]);
            fr_cli_json_str(&r, "task", t->task_names[k]);
            fr_cli_json_num(&r, "valid_auc", s->valid->auc[sc][k]);
            fr_cli_json_num(&r, "valid_logloss", s->valid->logloss[sc][k]);
            fr_cli_json_num(&r, "test_auc", s->test->auc[sc][k]);
            fr_cli_json_num(&r, "test_logloss", s->test->logloss[sc][k]);
            fr_cli_json_int(&r, "valid_rows", (long long)s->valid->rows[sc]);
            fr_cli_json_int(&r, "test_rows", (long long)s->test->rows[sc]);
            fputc('}', f);
        }
    fputs(t && s->valid && s->test ? "\n  ]" : "]", f);
}

/* "tasks": each mtrec task's loss, combiner weight and gradient norm at
 * the best epoch. */
static void tasks(FILE *f, const fr_cli_summary *s)
{
    fputc('[', f);
    for (size_t k = 0; s->mtr && s->mtr_best && k < s->mtr->n_tasks; k++) {
        fr_cli_json_row r;
        fputs(k ? ",\n    " : "\n    ", f);
        fr_cli_json_begin(&r, f);
        fr_cli_json_str(&r, "task", fr_mtr_task_name(s->mtr->tasks[k]));
        fr_cli_json_key(&r, "main");
        fputs(k == 0 ? "true" : "false", f);
        fr_cli_json_num(&r, "loss", s->mtr_best->loss[k]);
        fr_cli_json_num(&r, "weight", s->mtr_best->combine.weight[k]);
        fr_cli_json_num(&r, "norm", s->mtr_best->combine.norm[k]);
        fputc('}', f);
    }
    fputs(s->mtr && s->mtr_best && s->mtr->n_tasks ? "\n  ]" : "]", f);
}

/* "ranking": Recall@K and NDCG@K per cutoff, validation and test. */
static void ranking(FILE *f, const fr_cli_summary *s)
{
    int have = s->rank_valid && s->rank_test;
    fputc('[', f);
    for (size_t c = 0; have && c < FR_RANK_CUTOFFS; c++) {
        fr_cli_json_row r;
        fputs(c ? ",\n    " : "\n    ", f);
        fr_cli_json_begin(&r, f);
        fr_cli_json_int(&r, "k", (long long)fr_rank_cutoffs[c]);
        fr_cli_json_num(&r, "valid_recall", s->rank_valid->recall[c]);
        fr_cli_json_num(&r, "valid_ndcg", s->rank_valid->ndcg[c]);
        fr_cli_json_num(&r, "test_recall", s->rank_test->recall[c]);
        fr_cli_json_num(&r, "test_ndcg", s->rank_test->ndcg[c]);
        fputc('}', f);
    }
    fputs(have ? "\n  ]" : "]", f);
}

static void write_body(FILE *f, const fr_config *cfg, const fr_cli_summary *s, const char *ini)
{
    const char *name = "", *kind = "";
    uint64_t seed = 0;
    fr_config_get_string(cfg, "run.name", &name);
    fr_config_get_string(cfg, "job.kind", &kind);
    fr_config_get_uint64(cfg, "run.seed", &seed);
    char when[32] = "", host[256] = "";
    struct tm tm;
    if (started && gmtime_r(&started, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    fprintf(f, "{\n  \"summary_version\": %d", SUMMARY_VERSION);
    member(f, "fedrec_version");
    fr_cli_json_string(f, fr_version());
    member(f, "run_name");
    fr_cli_json_string(f, name);
    member(f, "job_kind");
    fr_cli_json_string(f, kind);
    member(f, "method");
    fr_cli_json_string(f, s->method ? s->method : kind);
    member(f, "model");
    fr_cli_json_string(f, s->model);
    member(f, "started");
    fr_cli_json_string(f, *when ? when : NULL);
    member(f, "host");
    fr_cli_json_string(f, *host ? host : NULL);
    member(f, "device");
    fputs("{\"backend\": ", f);
    fr_cli_json_string(f, s->backend);
    fputs(", \"description\": ", f);
    fr_cli_json_string(f, s->device);
    fputc('}', f);
    member(f, "seed");
    fprintf(f, "%llu", (unsigned long long)seed);
    member(f, "status");
    fr_cli_json_string(f, fr_cli_interrupted() ? "interrupted" : "completed");
    member(f, "signal");
    fr_cli_json_string(f, fr_cli_interrupt_name());
    member(f, "unit");
    fr_cli_json_string(f, s->unit);
    member(f, "done");
    fprintf(f, "%lld", s->done);
    member(f, "planned");
    fprintf(f, "%lld", s->planned);
    member(f, "metrics");
    fputc('{', f);
    for (size_t i = 0; i < s->n_metrics; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        fr_cli_json_string(f, s->metrics[i].name);
        fputs(": ", f);
        fr_cli_json_number(f, s->metrics[i].value);
    }
    fputs(s->n_metrics ? "\n  }" : "}", f);
    member(f, "cells");
    cells(f, s);
    member(f, "tasks");
    tasks(f, s);
    member(f, "ranking");
    ranking(f, s);
    member(f, "wall_seconds");
    fr_cli_json_number(f, s->wall_seconds);
    member(f, "peak_rss_bytes");
    fprintf(f, "%lld", (long long)ru.ru_maxrss * 1024);
    member(f, "config");
    fr_cli_json_string(f, ini);
    fputs("\n}\n", f);
}

int fr_cli_write_summary(const char *path, const fr_config *cfg, const fr_cli_summary *s)
{
    char *ini = NULL;
    fr_status st = fr_config_print_string(cfg, &ini);
    if (st != FR_OK)
        return fr_cli_report(st, "summary");
    fr_atomic_file af;
    st = fr_atomic_open(&af, path);
    if (st != FR_OK) {
        free(ini);
        return fr_cli_report(st, "summary");
    }
    write_body(af.f, cfg, s, ini);
    free(ini);
    st = ferror(af.f) ? FR_ERR_IO : fr_atomic_commit(&af);
    if (st != FR_OK) {
        if (af.f)
            fr_atomic_abort(&af);
        return fr_cli_report(st, "summary");
    }
    return FR_EXIT_OK;
}
