/* export_msmt.c — `fedrec export` of a saved multi-scenario model (job.kind
 * = msmt or fedmsmt; the row of saved_model.c's table): the parameters as
 * plain arrays, cut where a parameter packs several things.
 *
 * - The embedding table (every categorical field's values, then the
 *   scenarios, then a zero padding row) becomes one array per field, row i
 *   the table's id i of that field, and one for the scenarios, a row per
 *   scenario by name; the padding row is left out.
 * - An expert bank (MMoE's experts, PLE's experts of a task or the shared
 *   ones, a federated client's experts) holds its E experts side by side
 *   (fedrec/nn.h): layer 0's weight is in x E w, expert k's columns
 *   [k w, (k+1) w); a deeper layer's weight is E in x w, expert k's rows
 *   [k in, (k+1) in); biases and batch-norm vectors 1 x E w, expert k's
 *   columns [k w, (k+1) w). Each expert becomes arrays of its own; a
 *   federated client's are named by their index in the pool, so one
 *   expert's copies on its holders have one name.
 * - Every other parameter (gates, towers, heads, the numbers' projection,
 *   LR's bias, AutoIFS's layers, LoRA factors and selector) is written as
 *   it is. Weights are in x out: a layer computes x W + b.
 * A fedmsmt client's arrays start with "client.C." (C its scenario's
 * index). manifest.json has the data's schema, the model and, for fedmsmt,
 * each client's scenario and pool experts.
 * Where the model keeps the fields' original values (a table that names
 * them, saved_msmt_data.h), an embedding CSV's first column is the
 * original value, every such field's values are written one per line in
 * id order (values.fieldF.txt), and with the user and item fields named,
 * users.txt, items.txt and each user's items (seen_items.csv: rows of
 * every part); manifest.json's "fields" says which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/saved_model.h"
#include "cli/saved_msmt.h"
#include "cli/saved_msmt_data.h"
#include "cli/summary.h"
#include "fedrec/fedmsmt.h"

/* The model file's array called name, or NULL. */
static const fr_model_array *find(const fr_model_file *f, const char *name)
{
    return fr_model_find(f, name);
}

/* Array stems: the parameter's name with '/' (a part's prefix) as '.'. */
static void stem_of(const char *prefix, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s%s", prefix, name);
    for (char *p = out; *p; p++)
        if (*p == '/')
            *p = '.';
}

typedef struct exporter {
    const fr_saved_ctx *ctx;
    fr_export *e;
    const fr_cli_saved_msmt *m;
    unsigned char *done; /* per array of the file: written already */
    float *buf;          /* slice scratch */
    size_t buf_n;
    char **ids;          /* "0", "1", ... up to the widest field */
    size_t n_ids;
    const fr_cli_msmt_data *d; /* the user and item data, or NULL */
    const char ***values;      /* per field: its original values, or NULL */
    const char **names;        /* the fields' names, or NULL */
} exporter;

static fr_status scratch(exporter *x, size_t n)
{
    if (n <= x->buf_n)
        return FR_OK;
    float *b = realloc(x->buf, n * sizeof *b);
    if (!b)
        return fr_cli_fail(FR_ERR_NOMEM, "export: out of memory (%zu values)", n);
    x->buf = b;
    x->buf_n = n;
    return FR_OK;
}

static void mark_done(exporter *x, const fr_model_array *a)
{
    size_t n = fr_model_count(x->ctx->file);
    for (size_t i = 0; i < n; i++)
        if (fr_model_at(x->ctx->file, i) == a)
            x->done[i] = 1;
}

/* Table ids as text, "0" .. "n-1", for the CSV's first column. */
static fr_status id_texts(exporter *x, size_t n)
{
    if (n <= x->n_ids)
        return FR_OK;
    char **ids = realloc(x->ids, n * sizeof *ids);
    if (!ids)
        return fr_cli_fail(FR_ERR_NOMEM, "export: out of memory for ids");
    x->ids = ids;
    for (size_t i = x->n_ids; i < n; i++) {
        char t[32];
        snprintf(t, sizeof t, "%zu", i);
        if (!(ids[i] = strdup(t))) {
            x->n_ids = i;
            return fr_cli_fail(FR_ERR_NOMEM, "export: out of memory for ids");
        }
    }
    x->n_ids = n;
    return FR_OK;
}

/* An embedding table (name: "...emb.table" of a part) per field and for
 * the scenarios; stem_base: "embedding" or "selector_input.embedding". */
static fr_status export_embedding(exporter *x, const fr_model_array *a, const char *stem_base, const char *whose)
{
    const fr_cli_saved_msmt *m = x->m;
    size_t total = 0;
    for (size_t f = 0; f < m->n_cat; f++)
        total += m->vocab[f];
    if (a->dtype != FR_MODEL_F32 || a->rows != total + m->n_scenarios + 1)
        return fr_cli_fail(FR_ERR_FORMAT, "%s: '%s' has %zu rows; the data's schema gives %zu values, %zu scenarios and a padding row",
                           x->ctx->path, a->name, a->rows, total, m->n_scenarios);
    const float *v = a->data;
    size_t d = a->cols, at = 0;
    char stem[512], what[700];
    for (size_t f = 0; f < m->n_cat; f++) {
        FR_TRY_CLI(id_texts(x, m->vocab[f]));
        const char *const *row_ids = (const char *const *)x->ids;
        char ids_file[64] = "";
        if (x->values && x->values[f]) {
            row_ids = x->values[f];
            snprintf(ids_file, sizeof ids_file, "values.field%zu.txt", f);
        }
        snprintf(stem, sizeof stem, "%s.field%zu", stem_base, f);
        snprintf(what, sizeof what, "%s: categorical field %zu's rows (parameter %s rows %zu..%zu), row i for the table's id i of the field (the table numbers each field's values densely; 'fedrec data convert' in first-seen order)%s",
                 whose, f, a->name, at, at + m->vocab[f] - 1,
                 *ids_file ? "; the CSV's first column is the original value" : "");
        FR_TRY_CLI(fr_export_array(x->e, stem, what, FR_MODEL_F32, m->vocab[f], d, v + at * d, row_ids, "id",
                                   *ids_file ? ids_file : NULL, "e"));
        at += m->vocab[f];
    }
    const char *names[FR_TABLE_MAX_SCENARIOS];
    for (size_t s = 0; s < m->n_scenarios; s++)
        names[s] = m->scenario[s];
    snprintf(stem, sizeof stem, "%s.scenario", stem_base);
    snprintf(what, sizeof what, "%s: the scenario field's rows (parameter %s rows %zu..%zu), a row per scenario in the data's order; the last row of the parameter (padding, zero) is left out",
             whose, a->name, at, at + m->n_scenarios - 1);
    FR_TRY_CLI(fr_export_array(x->e, stem, what, FR_MODEL_F32, m->n_scenarios, d, v + at * d, names, "scenario", NULL,
                           "e"));
    mark_done(x, a);
    return FR_OK;
}

/* Expert k's slice of one bank array (layer l), written as stem. */
static fr_status export_slice(exporter *x, const fr_model_array *a, size_t E, size_t k, size_t l, int is_weight,
                              const char *stem, const char *whose)
{
    const float *v = a->data;
    char what[700];
    size_t rows, cols;
    if (is_weight && l > 0) { /* E in x w: rows [k in, (k+1) in) */
        if (a->rows % E)
            return fr_cli_fail(FR_ERR_FORMAT, "%s: '%s' has %zu rows, not a multiple of its %zu experts", x->ctx->path,
                               a->name, a->rows, E);
        rows = a->rows / E;
        cols = a->cols;
        FR_TRY_CLI(scratch(x, rows * cols));
        memcpy(x->buf, v + k * rows * cols, rows * cols * sizeof *x->buf);
        snprintf(what, sizeof what, "%s: rows %zu..%zu of %s (in x out)", whose, k * rows, (k + 1) * rows - 1,
                 a->name);
    } else { /* columns [k w, (k+1) w) */
        if (a->cols % E)
            return fr_cli_fail(FR_ERR_FORMAT, "%s: '%s' has %zu columns, not a multiple of its %zu experts",
                               x->ctx->path, a->name, a->cols, E);
        rows = a->rows;
        cols = a->cols / E;
        FR_TRY_CLI(scratch(x, rows * cols));
        for (size_t r = 0; r < rows; r++)
            memcpy(x->buf + r * cols, v + r * a->cols + k * cols, cols * sizeof *x->buf);
        snprintf(what, sizeof what, "%s: columns %zu..%zu of %s%s", whose, k * cols, (k + 1) * cols - 1, a->name,
                 is_weight ? " (in x out)" : "");
    }
    return fr_export_array(x->e, stem, what, FR_MODEL_F32, rows, cols, x->buf, NULL, NULL, NULL, "c");
}

/* A bank "<prefix><bank>.<l>.*" of E experts, expert k written as
 * "<stem_prefix><label><name[k]>.<l>.*". */
static fr_status export_bank(exporter *x, const char *prefix, const char *bank, size_t E, const size_t *name,
                             const char *stem_prefix, const char *label, const char *whose)
{
    static const char *const vec[] = {"bias", "bn.gamma", "bn.beta", "bn.running_mean", "bn.running_var"};
    char pname[256], stem[512], who[600];
    for (size_t l = 0;; l++) {
        snprintf(pname, sizeof pname, "%s%s.%zu.weight", prefix, bank, l);
        const fr_model_array *w = find(x->ctx->file, pname);
        if (!w)
            return l ? FR_OK
                     : fr_cli_fail(FR_ERR_FORMAT, "%s: no parameter '%s' (a file of another model?)", x->ctx->path,
                                   pname);
        for (size_t k = 0; k < E; k++) {
            snprintf(who, sizeof who, "%s, %s%zu, layer %zu", whose, label, name[k], l);
            snprintf(stem, sizeof stem, "%s%s%zu.%zu.weight", stem_prefix, label, name[k], l);
            FR_TRY_CLI(export_slice(x, w, E, k, l, 1, stem, who));
            for (size_t q = 0; q < sizeof vec / sizeof vec[0]; q++) {
                snprintf(pname, sizeof pname, "%s%s.%zu.%s", prefix, bank, l, vec[q]);
                const fr_model_array *b = find(x->ctx->file, pname);
                if (!b)
                    continue;
                snprintf(stem, sizeof stem, "%s%s%zu.%zu.%s", stem_prefix, label, name[k], l, vec[q]);
                FR_TRY_CLI(export_slice(x, b, E, k, l, 0, stem, who));
                if (k == E - 1)
                    mark_done(x, b);
            }
        }
        mark_done(x, w);
    }
}

/* Every array of one part (prefix "" or "client.C/") not written yet, as
 * it is; embedding tables per field. */
static fr_status export_rest(exporter *x, const char *prefix, const char *whose)
{
    size_t n = fr_model_count(x->ctx->file), plen = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        const fr_model_array *a = fr_model_at(x->ctx->file, i);
        if (x->done[i] || strncmp(a->name, prefix, plen) != 0 ||
            !strncmp(a->name, FR_MODEL_DATA_PREFIX, strlen(FR_MODEL_DATA_PREFIX)))
            continue; /* data arrays: export_data */
        const char *name = a->name + plen;
        char stem[512], what[700];
        size_t nl = strlen(name);
        if (nl >= 9 && !strcmp(name + nl - 9, "emb.table")) {
            /* "emb.table" -> "embedding"; AutoIFS's "selector_input/ifs.selector_emb.table" keeps its part. */
            if (!strcmp(name, "emb.table")) {
                snprintf(stem, sizeof stem, "%sembedding", prefix);
            } else {
                stem_of(prefix, name, stem, sizeof stem);
                stem[strlen(stem) - 6] = '\0'; /* without ".table" */
            }
            for (char *p = stem; *p; p++)
                if (*p == '/')
                    *p = '.';
            FR_TRY_CLI(export_embedding(x, a, stem, whose));
            continue;
        }
        if (a->dtype != FR_MODEL_F32)
            continue;
        stem_of(prefix, name, stem, sizeof stem);
        if (!strncmp(name, "emb.", 4)) /* the numbers' projection */
            snprintf(stem, sizeof stem, "%sembedding.%s", prefix, name + 4);
        for (char *p = stem; *p; p++)
            if (*p == '/')
                *p = '.';
        snprintf(what, sizeof what, "%s: parameter %s (%zu x %zu%s)", whose, a->name, a->rows, a->cols,
                 strstr(name, "weight") ? ", in x out" : "");
        FR_TRY_CLI(fr_export_array(x->e, stem, what, FR_MODEL_F32, a->rows, a->cols, a->data, NULL, NULL, NULL, "c"));
        x->done[i] = 1;
    }
    return FR_OK;
}

/* The expert banks of an msmt model. */
static fr_status export_msmt_banks(exporter *x)
{
    const fr_config *cfg = x->ctx->cfg;
    const char *arch;
    int64_t experts, task_experts, levels;
    FR_TRY_CLI(fr_config_get_string(cfg, "msmt.model", &arch));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.experts", &experts));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.task_experts", &task_experts));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.levels", &levels));
    size_t index[FR_FED_MAX_POOL * 4];
    for (size_t k = 0; k < sizeof index / sizeof index[0]; k++)
        index[k] = k;
    if ((size_t)experts > sizeof index / sizeof index[0] || (size_t)task_experts > sizeof index / sizeof index[0])
        return fr_cli_fail(FR_ERR_FORMAT, "%s: %lld experts per bank, the exporter splits at most %zu",
                           x->ctx->path, (long long)(experts > task_experts ? experts : task_experts),
                           sizeof index / sizeof index[0]);
    if (!strcmp(arch, "mmoe"))
        return export_bank(x, "", "expert", (size_t)experts, index, "", "expert", "MMoE");
    if (strcmp(arch, "ple"))
        return FR_OK;
    char bank[64], stem[64], whose[96];
    for (int64_t v = 0; v < levels; v++) {
        for (size_t t = 0; t < x->m->n_tasks; t++) {
            snprintf(bank, sizeof bank, "ple.%lld.task%zu", (long long)v, t);
            snprintf(stem, sizeof stem, "ple.%lld.task%zu.", (long long)v, t);
            snprintf(whose, sizeof whose, "PLE level %lld, task %zu's experts", (long long)v, t);
            FR_TRY_CLI(export_bank(x, "", bank, (size_t)task_experts, index, stem, "expert", whose));
        }
        snprintf(bank, sizeof bank, "ple.%lld.shared", (long long)v);
        snprintf(stem, sizeof stem, "ple.%lld.shared.", (long long)v);
        snprintf(whose, sizeof whose, "PLE level %lld, shared experts", (long long)v);
        FR_TRY_CLI(export_bank(x, "", bank, (size_t)experts, index, stem, "expert", whose));
    }
    return FR_OK;
}

/* Each user's items (rows of every part), original ids: user,item lines. */
static fr_status seen_items_fill(FILE *f, void *arg)
{
    const exporter *x = arg;
    const fr_cli_msmt_data *d = x->d;
    const char *const *users = x->values[d->user_field], *const *items = x->values[d->item_field];
    fputs("user,item\n", f);
    for (size_t u = 0; u < d->n_users; u++)
        for (int64_t k = d->seen_start[u]; k < d->seen_start[u + 1]; k++) {
            fr_csv_field(f, users[u]);
            fputc(',', f);
            fr_csv_field(f, items[d->seen[k]]);
            fputc('\n', f);
        }
    return ferror(f) ? fr_cli_fail(FR_ERR_IO, "export: cannot write seen_items.csv") : FR_OK;
}

/* The fields' original values, users.txt, items.txt, seen_items.csv. */
static fr_status export_data(exporter *x)
{
    const fr_cli_msmt_data *d = x->d;
    for (size_t f = 0; x->values && f < x->m->n_cat; f++) {
        if (!x->values[f])
            continue;
        char file[64], what[160];
        snprintf(file, sizeof file, "values.field%zu.txt", f);
        snprintf(what, sizeof what, "categorical field %zu's original values, one per line, line i the table's id i (the rows of embedding.field%zu)",
                 f, f);
        FR_TRY_CLI(fr_export_ids(x->e, file, what, x->values[f], x->m->vocab[f]));
    }
    if (!d || !x->values || !x->values[d->user_field] || !x->values[d->item_field])
        return FR_OK;
    FR_TRY_CLI(fr_export_ids(x->e, "users.txt", "original user ids (the user field's values), line i the table's id i",
                             x->values[d->user_field], d->n_users));
    FR_TRY_CLI(fr_export_ids(x->e, "items.txt", "original item ids (the item field's values), line i the table's id i",
                             x->values[d->item_field], d->n_items));
    return fr_export_table(x->e, "seen_items.csv", "each user's distinct items, from its rows of every part (original ids), which fedrec recommend leaves out",
                           seen_items_fill, x);
}

/* manifest.json's "fields": name, role, side, values file. */
static void fields_text(const exporter *x, FILE *f)
{
    const fr_cli_msmt_data *d = x->d;
    const fr_cli_saved_msmt *m = x->m;
    static const char *const sides[] = {"user", "item", "neither"};
    fputs(",\n  \"ids\": ", f);
    fr_cli_json_string(f, x->values ? "original: embedding CSVs' first column and the values files hold the fields' original values"
                                    : "table: the model keeps no original values (a table of format version 1 or generated data); ids are the table's");
    fputs(",\n  \"fields\": [", f);
    for (size_t k = 0; k < m->n_cat + m->n_num; k++) {
        fprintf(f, "%s\n    {\"field\": %zu, \"kind\": \"%s\"", k ? "," : "", k < m->n_cat ? k : k - m->n_cat,
                k < m->n_cat ? "categorical" : "numerical");
        if (x->names && x->names[k][0]) {
            fputs(", \"name\": ", f);
            fr_cli_json_string(f, x->names[k]);
        }
        if (d && k == d->user_field)
            fputs(", \"role\": \"user\"", f);
        if (d && k == d->item_field)
            fputs(", \"role\": \"item\"", f);
        if (d)
            fprintf(f, ", \"side\": \"%s\"", sides[d->side[k] >= 0 && d->side[k] <= 2 ? d->side[k] : 2]);
        if (k < m->n_cat && x->values && x->values[k])
            fprintf(f, ", \"values\": \"values.field%zu.txt\"", k);
        fputc('}', f);
    }
    fputs("\n  ]", f);
    if (d)
        fprintf(f, ",\n  \"scenario_of_user\": %s", d->scenario_of_user ? "true" : "false");
}

/* The manifest's facts: the model, the data's schema, the input layout,
 * and for fedmsmt the clients. */
static fr_status facts_text(exporter *x, const fr_fedmsmt_options *fo, char **out)
{
    const fr_cli_saved_msmt *m = x->m;
    const fr_config *cfg = x->ctx->cfg;
    int fed = !strcmp(m->kind, "fedmsmt"), esmm = 0;
    const char *arch = "", *method = "";
    fr_config_get_string(cfg, "msmt.model", &arch);
    fr_config_get_string(cfg, "fedmsmt.method", &method);
    fr_config_get_bool(cfg, "msmt.esmm", &esmm);
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return fr_cli_fail(FR_ERR_NOMEM, "export: out of memory for the manifest");
    fputs("\"architecture\": ", f);
    fr_cli_json_string(f, fed ? "mmoe" : arch);
    if (fed) {
        fputs(", \"method\": ", f);
        fr_cli_json_string(f, method);
    }
    int64_t experts = 0, task_experts = 0, levels = 0;
    fr_config_get_int(cfg, "msmt.experts", &experts);
    fr_config_get_int(cfg, "msmt.task_experts", &task_experts);
    fr_config_get_int(cfg, "msmt.levels", &levels);
    if (!fed && !strcmp(arch, "mmoe"))
        fprintf(f, ", \"experts\": %lld", (long long)experts);
    if (!fed && !strcmp(arch, "ple"))
        fprintf(f, ", \"levels\": %lld, \"shared_experts\": %lld, \"task_experts\": %lld", (long long)levels,
                (long long)experts, (long long)task_experts);
    static const char *const lists[] = {"msmt.expert_layers", "msmt.tower_layers"};
    for (int k = 0; k < 2; k++) {
        const int64_t *v = NULL;
        size_t n = 0;
        fr_config_get_int_list(cfg, lists[k], &v, &n);
        fprintf(f, ", \"%s\": [", lists[k] + 5);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s%lld", i ? ", " : "", (long long)v[i]);
        fputc(']', f);
    }
    fprintf(f, ", \"esmm\": %s, \"saved\": ", esmm ? "true" : "false");
    fr_cli_json_string(f, m->best);
    fprintf(f, ",\n  \"data\": {\"fingerprint\": \"%016llx\", \"rows\": %zu, \"categorical_fields\": %zu, \"vocab\": [",
            (unsigned long long)m->fingerprint, m->rows, m->n_cat);
    for (size_t k = 0; k < m->n_cat; k++)
        fprintf(f, "%s%zu", k ? ", " : "", m->vocab[k]);
    fprintf(f, "], \"numerical_fields\": %zu, \"tasks\": [", m->n_num);
    for (size_t k = 0; k < m->n_tasks; k++) {
        fputs(k ? ", " : "", f);
        fr_cli_json_string(f, m->task[k]);
    }
    fputs("], \"scenarios\": [", f);
    for (size_t k = 0; k < m->n_scenarios; k++) {
        fputs(k ? ", " : "", f);
        fr_cli_json_string(f, m->scenario[k]);
    }
    fputs("]},\n  \"input\": ", f);
    fr_cli_json_string(f, "a row's input x is the concatenation of its categorical fields' embedding rows (field 0 first), "
                          "its scenario's row, and, with numerical fields, numbers @ embedding.numeric.weight + "
                          "embedding.numeric.bias; LR's embedding rows hold one weight per task and its logit is the "
                          "sum of the input's pieces plus lr.bias");
    fputs(",\n  \"layers\": ", f);
    fr_cli_json_string(f, "weights are in x out (a layer computes x W + b); expert MLPs, bottoms and towers are "
                          "Linear, then batch-norm (running statistics in evaluation, eps 1e-5) when present, "
                          "then ReLU; a gate is softmax(x W + b) over its experts; head.T gives task T's logit");
    fields_text(x, f);
    if (fed) {
        fputs(",\n  \"server\": ", f);
        fr_cli_json_string(f, "the server keeps no model of its own: after a round's aggregation every client holds "
                              "what it received; each client's arrays are its model at the saved round");
        fputs(",\n  \"clients\": [", f);
        for (size_t c = 0; c < m->n_scenarios; c++) {
            size_t pool_index[FR_FED_MAX_POOL], held = 0, pool = 0;
            fr_status s = fr_fedmsmt_client_experts(fo, m->n_scenarios, c, pool_index, &held, &pool);
            if (s != FR_OK) {
                fclose(f);
                free(*out);
                *out = NULL;
                return s;
            }
            fprintf(f, "%s\n    {\"client\": %zu, \"scenario\": ", c ? "," : "", c);
            fr_cli_json_string(f, m->scenario[c]);
            fprintf(f, ", \"prefix\": \"client.%zu.\", \"pool_experts\": [", c);
            for (size_t k = 0; k < held; k++)
                fprintf(f, "%s%zu", k ? ", " : "", pool_index[k]);
            fputs("]}", f);
        }
        fputs("\n  ]", f);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || !*out) {
        free(*out);
        *out = NULL;
        return fr_cli_fail(FR_ERR_NOMEM, "export: out of memory for the manifest");
    }
    return FR_OK;
}

int fr_saved_msmt_export(const fr_saved_ctx *ctx, fr_export *e)
{
    fr_cli_saved_msmt m;
    fr_status s = fr_cli_saved_msmt_parse(ctx->path, fr_model_meta(ctx->file), &m);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    exporter x = {ctx, e, &m, calloc(fr_model_count(ctx->file) + 1, 1), NULL, 0, NULL, 0, NULL, NULL, NULL};
    if (!x.done)
        s = fr_cli_fail(FR_ERR_NOMEM, "export: out of memory naming or writing the arrays");
    fr_cli_msmt_data d;
    memset(&d, 0, sizeof d);
    int present = 0;
    if (s == FR_OK)
        s = fr_cli_msmt_data_read(ctx->file, m.n_cat, m.n_num, m.vocab, m.n_scenarios, &d, &present);
    if (s == FR_OK) {
        x.d = present ? &d : NULL;
        x.names = d.field_names;
        for (size_t f = 0; f < m.n_cat && !x.values; f++)
            if (d.field_values[f])
                x.values = d.field_values;
    }
    if (s == FR_OK)
        s = export_data(&x);
    int fed = !strcmp(m.kind, "fedmsmt");
    fr_fedmsmt_options fo;
    fr_fedmsmt_options_default(&fo);
    if (s == FR_OK && fed)
        s = fr_cli_fedmsmt_options(ctx->cfg, m.n_scenarios, &fo);
    if (s == FR_OK && !fed)
        s = export_msmt_banks(&x);
    if (s == FR_OK && !fed) {
        const char *arch = "";
        fr_config_get_string(ctx->cfg, "msmt.model", &arch);
        s = export_rest(&x, "", arch);
    }
    for (size_t c = 0; s == FR_OK && fed && c < m.n_scenarios; c++) {
        size_t pool_index[FR_FED_MAX_POOL], held = 0;
        char prefix[48], stem_prefix[48], whose[FR_TABLE_NAME_MAX + 64];
        s = fr_fedmsmt_client_experts(&fo, m.n_scenarios, c, pool_index, &held, NULL);
        snprintf(prefix, sizeof prefix, "client.%zu/", c);
        snprintf(stem_prefix, sizeof stem_prefix, "client.%zu.", c);
        snprintf(whose, sizeof whose, "client %zu (scenario '%s')", c, m.scenario[c]);
        if (s == FR_OK)
            s = export_bank(&x, prefix, "expert", held, pool_index, stem_prefix, "pool_expert", whose);
        if (s == FR_OK)
            s = export_rest(&x, prefix, whose);
    }
    char *facts = NULL;
    if (s == FR_OK)
        s = facts_text(&x, &fo, &facts);
    if (s == FR_OK)
        s = fr_export_finish(e, ctx->path, ctx->kind, facts);
    free(facts);
    for (size_t i = 0; i < x.n_ids; i++)
        free(x.ids[i]);
    free(x.ids);
    free(x.buf);
    free(x.done);
    fr_cli_msmt_data_free(&d);
    fr_cli_saved_msmt_free(&m);
    return s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
}
