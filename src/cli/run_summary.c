/* run_summary.c — reading a run summary (see run_summary.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_summary.h"

static int push(fr_named_value **list, size_t *n, const char *name, const char *text, double value)
{
    fr_named_value *l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l)
        return 0;
    *list = l;
    l[*n].name = strdup(name);
    l[*n].text = text ? strdup(text) : NULL;
    l[*n].value = value;
    if (!l[*n].name || (text && !l[*n].text)) {
        free(l[*n].name);
        free(l[*n].text);
        return 0;
    }
    (*n)++;
    return 1;
}

typedef struct figure_sink {
    fr_run_summary *s;
} figure_sink;

static int take_figure(void *ctx, const char *name, double value)
{
    fr_run_summary *s = ((figure_sink *)ctx)->s;
    for (size_t i = 0; i < s->n_figures; i++)
        if (!strcmp(s->figures[i].name, name)) /* "ranking" repeats "metrics" */
            return 1;
    return push(&s->figures, &s->n_figures, name, NULL, value);
}

/* The INI text fedrec writes: "[section]" lines, "key = value" lines,
 * comments after ';' or '#'. */
static int read_config(fr_run_summary *s, const char *ini)
{
    char section[128] = "";
    for (const char *line = ini; *line;) {
        size_t len = strcspn(line, "\n");
        const char *p = line, *end = line + len;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        if (p < end && *p == '[' && end[-1] == ']') {
            snprintf(section, sizeof section, "%.*s", (int)(end - p - 2), p + 1);
        } else if (p < end && *p != ';' && *p != '#') {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            if (eq) {
                const char *k_end = eq, *v = eq + 1;
                while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
                    k_end--;
                while (v < end && (*v == ' ' || *v == '\t'))
                    v++;
                char key[256], value[4096];
                snprintf(key, sizeof key, "%s%s%.*s", section, *section ? "." : "", (int)(k_end - p), p);
                snprintf(value, sizeof value, "%.*s", (int)(end - v), v);
                if (!push(&s->config, &s->n_config, key, value, 0))
                    return 0;
            }
        }
        line += len + (line[len] == '\n');
    }
    return 1;
}

const char *fr_run_summary_config(const fr_run_summary *s, const char *key)
{
    for (size_t i = 0; i < s->n_config; i++)
        if (!strcmp(s->config[i].name, key))
            return s->config[i].text;
    return NULL;
}

double fr_run_summary_figure(const fr_run_summary *s, const char *name, int *found)
{
    for (size_t i = 0; i < s->n_figures; i++)
        if (!strcmp(s->figures[i].name, name)) {
            if (found)
                *found = 1;
            return s->figures[i].value;
        }
    if (found)
        *found = 0;
    return NAN;
}

void fr_method_name(const char *kind, const char *msmt_model, const char *fedmsmt_method, const char *mtrec_combiner,
                    char *buf, size_t n)
{
    static const char *const names[][2] = {
        {"pfedrec", "PFedRec"}, {"fedmf", "FedMF"},         {"fedncf", "FedNCF"},        {"central-mf", "centralised MF"},
        {"ctr", "CTR demo"},    {"lr", "LR"},               {"shared-bottom", "Shared-Bottom"},
        {"mmoe", "MMoE"},       {"ple", "PLE"},             {"autoifs", "AutoIFS"},      {"pfmsmtrec", "PF-MSMTrec"},
        {"fedavg", "FedAvg"},   {"fedprox", "FedProx"},     {"fedbn", "FedBN"},          {"local", "local-only"},
        {"pmtrec", "PMTRec"},   {"ew", "EW"},               {"main", "main task only"},
        {"rlw", "RLW"},         {"pcgrad", "PCGrad"},       {"cagrad", "CAGrad"},        {"gradvac", "GradVac"},
        {"graddrop", "GradDrop"}, {"nash", "Nash-MTL"},     {"aligned", "Aligned-MTL"},  {"mgda", "MGDA"}};
    const char *pick = kind ? kind : "?";
    const char *detail = NULL;
    if (kind && !strcmp(kind, "msmt") && msmt_model)
        pick = msmt_model;
    else if (kind && !strcmp(kind, "fedmsmt") && fedmsmt_method)
        pick = fedmsmt_method, detail = msmt_model;
    else if (kind && !strcmp(kind, "mtrec") && mtrec_combiner)
        pick = mtrec_combiner;
    const char *pretty = pick, *pretty_detail = detail;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(names[i][0], pick))
            pretty = names[i][1];
        if (detail && !strcmp(names[i][0], detail))
            pretty_detail = names[i][1];
    }
    if (pretty_detail)
        snprintf(buf, n, "%s (%s clients)", pretty, pretty_detail);
    else if (kind && !strcmp(kind, "mtrec") && pick != kind)
        snprintf(buf, n, "%s combiner", pretty);
    else
        snprintf(buf, n, "%s", pretty);
}

static char *read_all(const char *path, size_t *len, char *err, size_t errn)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    while (text) {
        size_t got = fread(text + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *t = realloc(text, cap *= 2);
        if (!t) {
            free(text);
            text = NULL;
        } else {
            text = t;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        snprintf(err, errn, "%s: cannot read: %s", path, text ? strerror(errno) : "out of memory");
        free(text);
        return NULL;
    }
    *len = n;
    return text;
}

static const char *kind_name(fr_json_kind k)
{
    static const char *const n[] = {"null", "true or false", "a number", "a string", "an array", "an object"};
    return n[k];
}

int fr_run_summary_load(const char *path, fr_run_summary *s, char *err, size_t errn)
{
    memset(s, 0, sizeof *s);
    s->wall_seconds = s->peak_rss_bytes = NAN;
    size_t len;
    char *text = read_all(path, &len, err, errn);
    if (!text)
        return FR_EXIT_FAILURE;
    static const char *const what = "expected a summary written by 'fedrec train --summary'";
    fr_json root;
    char why[512];
    int code = FR_EXIT_INPUT;
    if (len == 0) {
        snprintf(err, errn, "%s: the file is empty, %s", path, what);
        free(text);
        return code;
    }
    if (!fr_json_parse(text, len, &root, why, sizeof why)) {
        snprintf(err, errn, "%s:%s (%s)", path, why, what);
        free(text);
        return code;
    }
    free(text);
    const fr_json *metrics = fr_json_get(&root, "metrics"), *config = fr_json_get(&root, "config");
    if (root.kind != FR_JSON_OBJECT)
        snprintf(err, errn, "%s: holds %s, %s (a JSON object)", path, kind_name(root.kind), what);
    else if (!metrics || metrics->kind != FR_JSON_OBJECT)
        snprintf(err, errn, "%s: %s \"metrics\", %s (a \"metrics\" object)", path, metrics ? "no object in" : "no member", what);
    else if (!config || config->kind != FR_JSON_STRING)
        snprintf(err, errn, "%s: %s \"config\", %s (the effective configuration as a string)", path,
                 config ? "no string in" : "no member", what);
    else
        code = FR_EXIT_OK;
    for (size_t i = 0; code == FR_EXIT_OK && metrics && i < metrics->count; i++)
        if (metrics->items[i].kind != FR_JSON_NUMBER && metrics->items[i].kind != FR_JSON_NULL) {
            snprintf(err, errn, "%s: \"metrics\".\"%s\" is %s, expected a number or null", path, metrics->keys[i],
                     kind_name(metrics->items[i].kind));
            code = FR_EXIT_INPUT;
        }
    figure_sink sink = {s};
    int ok = 1;
    if (code == FR_EXIT_OK) {
        s->path = strdup(path);
        ok = s->path && fr_json_flatten(metrics, take_figure, &sink);
        s->n_metrics = s->n_figures;
        for (size_t i = 0; ok && i < root.count; i++) {
            const char *key = root.keys[i];
            const fr_json *v = &root.items[i];
            if (!strcmp(key, "metrics") || !strcmp(key, "config"))
                continue;
            if (!strcmp(key, "wall_seconds") && v->kind == FR_JSON_NUMBER)
                s->wall_seconds = v->number;
            else if (!strcmp(key, "peak_rss_bytes") && v->kind == FR_JSON_NUMBER)
                s->peak_rss_bytes = v->number;
            else if (v->kind == FR_JSON_ARRAY) {
                /* "cells", "ranking", "tasks": [...] flatten as a report
                 * row's cells do (valid_auc_S_T, valid_recall@K, loss_TASK) */
                fr_json wrap = {FR_JSON_OBJECT, 0, NULL, 1, (char *[]){(char *)key}, (fr_json *)v};
                ok = fr_json_flatten(&wrap, take_figure, &sink);
            } else if (v->kind == FR_JSON_OBJECT) {
                /* "device": {"backend": .., "description": ..} */
                for (size_t k = 0; ok && k < v->count; k++)
                    if (v->items[k].kind == FR_JSON_STRING) {
                        char name[256];
                        snprintf(name, sizeof name, "%s.%s", key, v->keys[k]);
                        ok = push(&s->info, &s->n_info, name, v->items[k].string, 0);
                    }
            } else if (v->kind == FR_JSON_STRING) {
                ok = push(&s->info, &s->n_info, key, v->string, 0);
            } else if (v->kind == FR_JSON_NUMBER) {
                char num[64];
                snprintf(num, sizeof num, "%.10g", v->number);
                ok = push(&s->info, &s->n_info, key, num, v->number);
            }
        }
        ok = ok && read_config(s, config->string);
        if (!ok) {
            snprintf(err, errn, "out of memory reading %s", path);
            code = FR_EXIT_FAILURE;
        }
    }
    if (code == FR_EXIT_OK) {
        const char *kind = NULL, *method = NULL, *name = NULL;
        for (size_t i = 0; i < s->n_info; i++) {
            const char *k = s->info[i].name;
            if (!strcmp(k, "job_kind") || !strcmp(k, "kind") || !strcmp(k, "job"))
                kind = s->info[i].text;
            else if (!strcmp(k, "method"))
                method = s->info[i].text;
            else if (!strcmp(k, "run_name") || !strcmp(k, "name") || !strcmp(k, "run"))
                name = s->info[i].text;
        }
        if (!kind)
            kind = fr_run_summary_config(s, "job.kind");
        if (!name)
            name = fr_run_summary_config(s, "run.name");
        /* The readable name (PFedRec, PF-MSMTrec (MMoE clients), ...) from
         * the configuration; a summary's own method field (an identifier
         * such as pfmsmtrec) stands in for a key the configuration lacks. */
        char m[128];
        const char *fed_method = fr_run_summary_config(s, "fedmsmt.method");
        const char *combiner = fr_run_summary_config(s, "mtrec.combiner");
        if (kind && method && !strcmp(kind, "fedmsmt") && !fed_method)
            fed_method = method;
        if (kind && method && !strcmp(kind, "mtrec") && !combiner)
            combiner = method;
        if (kind || !method) {
            fr_method_name(kind, fr_run_summary_config(s, "msmt.model"), fed_method, combiner, m, sizeof m);
            method = m;
        }
        s->job_kind = strdup(kind ? kind : "?");
        s->method = strdup(method);
        s->run_name = strdup(name ? name : path);
        if (!s->job_kind || !s->method || !s->run_name) {
            snprintf(err, errn, "out of memory reading %s", path);
            code = FR_EXIT_FAILURE;
        }
    }
    fr_json_free(&root);
    if (code != FR_EXIT_OK)
        fr_run_summary_free(s);
    return code;
}

static void free_list(fr_named_value *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].name);
        free(l[i].text);
    }
    free(l);
}

void fr_run_summary_free(fr_run_summary *s)
{
    free(s->path);
    free_list(s->figures, s->n_figures);
    free_list(s->info, s->n_info);
    free_list(s->config, s->n_config);
    free(s->job_kind);
    free(s->method);
    free(s->run_name);
    memset(s, 0, sizeof *s);
}
