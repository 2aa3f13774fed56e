/* saved_msmt.c — the multi-scenario jobs' saved models (see
 * saved_msmt.h): the metadata header (writing and reading it), saving at
 * the end of `fedrec train`, and `fedrec eval` on the training data or
 * new data of the same schema (the msmt and fedmsmt row of saved_model.c's
 * table). */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/job_setup.h"
#include "cli/saved_model.h"
#include "cli/saved_msmt.h"
#include "cli/saved_msmt_data.h"
#include "cli/summary.h"
#include "core/clock.h"
#include "fedrec/fedmsmt.h"
#include "fedrec/model_file.h"
#include "fedrec/version.h"

/* ---- the metadata header ------------------------------------------------- */

/* ";@ key = name", the name with \ and line ends escaped. */
static void put_name(FILE *f, const char *key, const char *name)
{
    fprintf(f, ";@ %s = ", key);
    for (const char *p = name; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else
            fputc(*p, f);
    }
    fputc('\n', f);
}

static void unescape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < cap; p++) {
        if (*p == '\\' && (p[1] == '\\' || p[1] == 'n' || p[1] == 'r')) {
            p++;
            out[n++] = *p == 'n' ? '\n' : *p == 'r' ? '\r' : '\\';
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

/* The header, then the effective configuration. */
static fr_status build_meta(const fr_config *cfg, const fr_table *t, const char *best, char **out)
{
    const char *kind;
    FR_TRY_CLI(fr_config_get_string(cfg, "job.kind", &kind));
    char *ini = NULL, *text = NULL;
    size_t size = 0;
    FR_TRY_CLI(fr_config_print_string(cfg, &ini));
    FILE *f = open_memstream(&text, &size);
    if (!f) {
        free(ini);
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory building the model's metadata (its schema text)");
    }
    fprintf(f, "; fedrec %s: a trained job.kind = %s model; 'fedrec eval' and 'fedrec export' read it.\n",
            fr_version(), kind);
    fprintf(f, ";@ kind = %s\n;@ fedrec = %s\n;@ best = %s\n", kind, fr_version(), best);
    fprintf(f, ";@ data.fingerprint = %016" PRIx64 "\n", fr_table_fingerprint(t));
    fprintf(f, ";@ data.rows = %zu\n;@ data.categorical = %zu\n;@ data.vocab = ", t->rows, t->n_cat);
    for (size_t k = 0; k < t->n_cat; k++)
        fprintf(f, "%s%zu", k ? "," : "", t->vocab[k]);
    fprintf(f, "\n;@ data.numerical = %zu\n", t->n_num);
    for (size_t k = 0; k < t->n_tasks; k++)
        put_name(f, "data.task", t->task_names[k]);
    for (size_t k = 0; k < t->n_scenarios; k++)
        put_name(f, "data.scenario", t->scenario_names[k]);
    fputs(ini, f);
    int bad = ferror(f);
    fclose(f);
    free(ini);
    if (bad || !text) {
        free(text);
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory building the model's metadata (its schema text)");
    }
    *out = text;
    return FR_OK;
}

void fr_cli_saved_msmt_free(fr_cli_saved_msmt *s)
{
    free(s->vocab);
    s->vocab = NULL;
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno)
        return 0;
    *out = (size_t)x;
    return 1;
}

fr_status fr_cli_saved_msmt_parse(const char *path, const char *meta, fr_cli_saved_msmt *out)
{
    memset(out, 0, sizeof *out);
    int have[5] = {0, 0, 0, 0, 0}; /* kind, fingerprint, categorical, vocab, numerical */
    char *copy = strdup(meta);
    if (!copy)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory building the model's metadata (its schema text)");
    fr_status s = FR_OK;
    for (char *line = copy; line && s == FR_OK;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strstr(line, " = ");
        if (!strncmp(line, ";@ ", 3) && eq) {
            *eq = '\0';
            const char *key = line + 3, *v = eq + 3;
            if (!strcmp(key, "kind")) {
                snprintf(out->kind, sizeof out->kind, "%s", v);
                have[0] = 1;
            } else if (!strcmp(key, "best")) {
                snprintf(out->best, sizeof out->best, "%s", v);
            } else if (!strcmp(key, "data.fingerprint")) {
                char *end;
                out->fingerprint = strtoull(v, &end, 16);
                have[1] = *v && !*end;
            } else if (!strcmp(key, "data.rows")) {
                parse_size(v, &out->rows);
            } else if (!strcmp(key, "data.categorical")) {
                have[2] = parse_size(v, &out->n_cat);
            } else if (!strcmp(key, "data.numerical")) {
                have[4] = parse_size(v, &out->n_num);
            } else if (!strcmp(key, "data.vocab") && have[2]) {
                free(out->vocab);
                out->vocab = calloc(out->n_cat ? out->n_cat : 1, sizeof *out->vocab);
                if (!out->vocab) {
                    s = fr_cli_fail(FR_ERR_NOMEM, "out of memory building the model's metadata (its schema text)");
                    break;
                }
                size_t n = 0;
                for (const char *p = v; *p && n < out->n_cat; n++) {
                    char *end;
                    out->vocab[n] = (size_t)strtoull(p, &end, 10);
                    p = *end == ',' ? end + 1 : end;
                }
                have[3] = n == out->n_cat;
            } else if (!strcmp(key, "data.task") && out->n_tasks < FR_TABLE_MAX_TASKS) {
                unescape(v, out->task[out->n_tasks++], FR_TABLE_NAME_MAX);
            } else if (!strcmp(key, "data.scenario") && out->n_scenarios < FR_TABLE_MAX_SCENARIOS) {
                unescape(v, out->scenario[out->n_scenarios++], FR_TABLE_NAME_MAX);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (s == FR_OK && !(have[0] && have[1] && have[2] && have[3] && have[4] && out->n_tasks && out->n_scenarios))
        s = fr_cli_fail(FR_ERR_FORMAT, "%s: the model file does not describe its training data (no ';@ data.*' lines in its metadata: not written by 'fedrec train' for a multi-scenario job?)",
                        path);
    if (s != FR_OK)
        fr_cli_saved_msmt_free(out);
    return s;
}

/* ---- saving ---------------------------------------------------------------- */

fr_status fr_cli_model_path_check(const fr_config *cfg)
{
    const char *path;
    FR_TRY_CLI(fr_config_get_string(cfg, "output.model", &path));
    if (!*path)
        return FR_OK;
    char *copy = strdup(path);
    if (!copy)
        return fr_cli_fail(FR_ERR_NOMEM, "output.model: out of memory building the model's metadata (configuration, fingerprint, schema)");
    const char *dir = dirname(copy);
    int ok = access(dir, W_OK) == 0;
    fr_status s = ok ? FR_OK
                     : fr_cli_fail(FR_ERR_IO, "output.model = '%s': cannot write the model into '%s': %s (checked before training)",
                                   path, dir, strerror(errno));
    free(copy);
    return s;
}

static fr_status save_parts(const fr_config *cfg, const fr_table *t, const fr_model_part *parts, size_t n,
                            const char *best)
{
    const char *path;
    FR_TRY_CLI(fr_config_get_string(cfg, "output.model", &path));
    if (!*path)
        return FR_OK;
    char *meta = NULL;
    FR_TRY_CLI(build_meta(cfg, t, best, &meta));
    /* What recommend and export need besides the parameters, when the
     * table names its user and item fields. */
    fr_cli_msmt_data_out data;
    fr_status s = fr_cli_msmt_data_build(t, &data);
    if (s == FR_OK)
        s = fr_model_save_parts_data(path, parts, n, data.arrays, data.n, meta);
    fr_cli_msmt_data_release(&data);
    free(meta);
    if (s == FR_OK)
        printf("model saved to %s (%s)\n", path, best);
    return s;
}

fr_status fr_cli_msmt_save(const fr_config *cfg, const fr_table *t, fr_msmt_model *m, const char *best)
{
    fr_model_part parts[FR_MSMT_MAX_PARTS];
    size_t n = fr_msmt_model_parts(m, parts);
    return save_parts(cfg, t, parts, n, best);
}

fr_status fr_cli_fedmsmt_save(const fr_config *cfg, const fr_table *t, fr_msmt_model *const *models,
                              const char *best)
{
    size_t C = t->n_scenarios;
    fr_model_part *parts = calloc(C, sizeof *parts);
    char (*prefix)[32] = calloc(C, sizeof *prefix);
    fr_status s = parts && prefix ? FR_OK : fr_cli_fail(FR_ERR_NOMEM, "out of memory naming the model's parameter sets for saving");
    for (size_t c = 0; s == FR_OK && c < C; c++) {
        snprintf(prefix[c], sizeof prefix[c], "client.%zu/", c);
        parts[c].prefix = prefix[c];
        parts[c].set = fr_msmt_model_params(models[c]);
    }
    if (s == FR_OK)
        s = save_parts(cfg, t, parts, C, best);
    free(parts);
    free(prefix);
    return s;
}

/* ---- eval ------------------------------------------------------------------ */

/* What `fedrec eval` may change in a saved model's configuration: the data
 * (the synthetic generator's keys too) and where it runs. Everything else
 * built or trained the model. */
static const char *const eval_may_set[] = {"data.*", "run.seed", "msmt.scenarios", "msmt.task_correlation",
                                           "msmt.scenario_strength", "msmt.conflict_scenarios", "backend.*",
                                           "opencl.*", "run.name"};

static void list_names(char *buf, size_t n, const char (*names)[FR_TABLE_NAME_MAX], size_t count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < count && used + 1 < n; k++) {
        int w = snprintf(buf + used, n - used, "%s'%s'", k ? ", " : "", names[k]);
        if (w > 0)
            used += (size_t)w < n - used ? (size_t)w : n - used - 1;
    }
}

/* The data must have the schema the model was trained on. */
static fr_status check_schema(const char *path, const fr_cli_saved_msmt *m, const fr_table *t, const char *what)
{
    char a[1024], b[1024];
    if (t->n_cat != m->n_cat)
        return fr_cli_fail(FR_ERR_FORMAT, "%s: %zu categorical field(s); the model in %s was trained on %zu (data of another schema)",
                           what, t->n_cat, path, m->n_cat);
    for (size_t f = 0; f < t->n_cat; f++)
        if (t->vocab[f] != m->vocab[f])
            return fr_cli_fail(FR_ERR_FORMAT, "%s: categorical field %zu has %zu values; the model in %s has embeddings for %zu (data of another vocabulary: convert new data so that every field keeps the training data's values and ids)",
                               what, f + 1, t->vocab[f], path, m->vocab[f]);
    if (t->n_num != m->n_num)
        return fr_cli_fail(FR_ERR_FORMAT, "%s: %zu numerical field(s); the model in %s was trained on %zu (data of another schema)",
                           what, t->n_num, path, m->n_num);
    int tasks_differ = t->n_tasks != m->n_tasks;
    for (size_t k = 0; !tasks_differ && k < t->n_tasks; k++)
        tasks_differ = strcmp(t->task_names[k], m->task[k]) != 0;
    if (tasks_differ) {
        list_names(a, sizeof a, (const char (*)[FR_TABLE_NAME_MAX])t->task_names, t->n_tasks);
        list_names(b, sizeof b, (const char (*)[FR_TABLE_NAME_MAX])m->task, m->n_tasks);
        return fr_cli_fail(FR_ERR_FORMAT, "%s: tasks %s; the model in %s predicts %s, in that order", what, a, path, b);
    }
    int scen_differ = t->n_scenarios != m->n_scenarios;
    for (size_t k = 0; !scen_differ && k < t->n_scenarios; k++)
        scen_differ = strcmp(t->scenario_names[k], m->scenario[k]) != 0;
    if (scen_differ) {
        list_names(a, sizeof a, (const char (*)[FR_TABLE_NAME_MAX])t->scenario_names, t->n_scenarios);
        list_names(b, sizeof b, (const char (*)[FR_TABLE_NAME_MAX])m->scenario, m->n_scenarios);
        return fr_cli_fail(FR_ERR_FORMAT, "%s: scenarios %s; the model in %s was trained on scenarios %s, in that order",
                           what, a, path, b);
    }
    return FR_OK;
}

/* The federated job's clients, loaded: models[c] for scenario c. */
static fr_status load_clients(const char *path, const fr_config *cfg, fr_backend *be, const fr_table *t,
                              fr_msmt_model **models)
{
    size_t C = t->n_scenarios;
    fr_fedmsmt_options o;
    FR_TRY_CLI(fr_cli_fedmsmt_options(cfg, C, &o));
    fr_model_part *parts = calloc(C, sizeof *parts);
    char (*prefix)[32] = calloc(C, sizeof *prefix);
    fr_status s = parts && prefix ? FR_OK : fr_cli_fail(FR_ERR_NOMEM, "out of memory naming the model's parameter sets for loading");
    for (size_t c = 0; s == FR_OK && c < C; c++) {
        s = fr_fedmsmt_client_model_create(be, t, &o, c, &models[c]);
        snprintf(prefix[c], sizeof prefix[c], "client.%zu/", c);
        if (s == FR_OK)
            parts[c] = (fr_model_part){prefix[c], fr_msmt_model_params(models[c])};
    }
    if (s == FR_OK)
        s = fr_model_load_parts(path, parts, C);
    free(parts);
    free(prefix);
    return s;
}

fr_status fr_cli_msmt_load_models(const char *path, const fr_config *cfg, fr_backend *be, const fr_table *shape,
                                   int fed, fr_msmt_model **models)
{
    if (fed)
        return load_clients(path, cfg, be, shape, models);
    fr_msmt_options mo;
    fr_msmt_train_options to;
    FR_TRY_CLI(fr_cli_msmt_options(cfg, &mo, &to));
    FR_TRY_CLI(fr_msmt_model_create(be, shape, &mo, &models[0]));
    return fr_msmt_model_load(models[0], path);
}

static void print_header(const char *path, const fr_cli_saved_msmt *m, const fr_config *cfg, const fr_table *t,
                         const char *what, const fr_msmt_eval *valid, const fr_msmt_eval *test)
{
    const char *arch = "", *method = "";
    int esmm = 0;
    fr_config_get_string(cfg, "msmt.model", &arch);
    fr_config_get_string(cfg, "fedmsmt.method", &method);
    fr_config_get_bool(cfg, "msmt.esmm", &esmm);
    int fed = !strcmp(m->kind, "fedmsmt");
    printf("fedrec eval: %s: %s model (%s%s), %s\n", path, m->kind, fed ? method : arch,
           fed ? ", one MMoE client per scenario" : esmm ? " + ESMM" : "", m->best);
    size_t nv = 0, nt = 0;
    for (size_t c = 0; c < t->n_scenarios; c++) {
        nv += valid->rows[c];
        nt += test->rows[c];
    }
    uint64_t fp = fr_table_fingerprint(t);
    printf("data: %s: %zu rows (%zu validation, %zu test), %s\n", what, t->rows, nv, nt,
           fp == m->fingerprint ? "the data the model was trained on"
                                : "other rows of the same schema (the training data's fingerprint differs)");
}

int fr_saved_msmt_eval(const fr_saved_ctx *ctx, const char *summary)
{
    const char *path = ctx->path;
    fr_config *cfg = ctx->cfg;
    fr_cli_saved_msmt m;
    double t0 = fr_clock_seconds();
    fr_status s = fr_cli_saved_msmt_parse(path, fr_model_meta(ctx->file), &m);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    fr_table t;
    int have_table = 0;
    const char *what = "";
    fr_backend *be = NULL;
    fr_msmt_model *models[FR_TABLE_MAX_SCENARIOS] = {NULL};
    fr_msmt_eval valid, test;
    int fed = !strcmp(m.kind, "fedmsmt");
    s = fr_saved_allow_sets(ctx, eval_may_set, sizeof eval_may_set / sizeof eval_may_set[0]);
    if (s == FR_OK)
        s = fr_cli_msmt_load(cfg, &t, &what);
    have_table = s == FR_OK;
    if (s == FR_OK)
        s = check_schema(path, &m, &t, what);
    if (s == FR_OK)
        s = fr_cli_open_backend(cfg, &be);
    if (s == FR_OK)
        s = fr_cli_msmt_load_models(path, cfg, be, &t, fed, models);
    if (s == FR_OK)
        s = fed ? fr_fedmsmt_evaluate(models, &t, FR_SPLIT_VALID, &valid)
                : fr_msmt_evaluate(models[0], &t, FR_SPLIT_VALID, &valid);
    if (s == FR_OK)
        s = fed ? fr_fedmsmt_evaluate(models, &t, FR_SPLIT_TEST, &test)
                : fr_msmt_evaluate(models[0], &t, FR_SPLIT_TEST, &test);
    size_t evaluated = 0;
    for (size_t c = 0; s == FR_OK && c < t.n_scenarios; c++)
        evaluated += valid.rows[c] + test.rows[c];
    if (s == FR_OK && !evaluated)
        s = fr_cli_fail(FR_ERR_DATA, "%s: no validation or test rows to evaluate on (fedrec eval reports those parts; a table's rows are marked by 'fedrec data convert': FILE::test marks a whole file test)",
                        what);
    int code = FR_EXIT_OK;
    if (s == FR_OK) {
        print_header(path, &m, cfg, &t, what, &valid, &test);
        fr_cli_msmt_print_table(&t, &valid, &test);
        if (summary) {
            fr_cli_metric metrics[] = {{"test_auc", test.mean_auc},
                                       {"test_logloss", test.mean_logloss},
                                       {"valid_auc", valid.mean_auc},
                                       {"valid_logloss", valid.mean_logloss}};
            /* The per-scenario x task cells too, as train --summary writes them. */
            fr_cli_summary sm = {NULL, NULL, fr_backend_name(be), fr_backend_describe(be), NULL, 0, 0, metrics,
                                 sizeof metrics / sizeof metrics[0], fr_clock_seconds() - t0, &t, &valid, &test,
                                 NULL, NULL, NULL, NULL};
            code = fr_cli_write_summary(summary, cfg, &sm);
        }
    } else {
        code = fr_cli_report(s, NULL);
    }
    for (size_t c = 0; c < FR_TABLE_MAX_SCENARIOS; c++)
        fr_msmt_model_free(models[c]);
    if (be)
        fr_backend_close(be);
    if (have_table)
        fr_table_free(&t);
    fr_cli_saved_msmt_free(&m);
    return code;
}
