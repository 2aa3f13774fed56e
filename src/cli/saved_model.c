/* saved_model.c — the table of what eval, recommend and export do per job
 * kind (see saved_model.h), opening a model for them, and what the kinds
 * share: which --set keys a saved model accepts, the top K of a user
 * (fr_top_k_select of fedrec/metrics.h), printing recommendations as text, CSV or JSON, finding users by their
 * original ids. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/saved_model.h"
#include "cli/summary.h"
#include "fedrec/metrics.h"

/* One row per group of job kinds. */
static const fr_saved_kind kinds[] = {
    {"ctr", fr_saved_ctr_eval, NULL, fr_saved_ctr_export, 0, NULL},
    {"pfedrec|fedmf|fedncf|central-mf", fr_saved_rating_eval, fr_saved_rating_recommend,
     fr_saved_rating_export, 1, NULL},
    {"mtrec", fr_saved_mtrec_eval, fr_saved_mtrec_recommend, fr_saved_mtrec_export, 1, NULL},
    {"msmt|fedmsmt", fr_saved_msmt_eval, fr_saved_msmt_recommend, fr_saved_msmt_export, 1, NULL},
};

const fr_saved_kind *fr_saved_kind_of(const char *kind)
{
    size_t len = strlen(kind);
    for (size_t r = 0; r < sizeof kinds / sizeof kinds[0]; r++)
        for (const char *k = kinds[r].kinds; *k;) {
            size_t n = strcspn(k, "|");
            if (n == len && !strncmp(k, kind, n))
                return &kinds[r];
            k += n + (k[n] == '|');
        }
    return NULL;
}

/* The stored configuration, loaded into a fresh configuration. */
static fr_status load_stored(const char *path, const char *meta, fr_config **out)
{
    char origin[600];
    snprintf(origin, sizeof origin, "%s (stored configuration)", path);
    fr_status s = fr_config_create(out);
    if (s == FR_OK)
        s = fr_config_load_string(*out, meta, origin);
    if (s != FR_OK) {
        char why[800];
        snprintf(why, sizeof why, "%s", fr_last_error());
        fr_config_free(*out);
        *out = NULL;
        if (s == FR_ERR_NOMEM) /* not the file's fault */
            return fr_cli_fail(FR_ERR_NOMEM, "%s: reading the stored configuration: %s", path, why);
        return fr_cli_fail(FR_ERR_FORMAT, "%s: the configuration stored in the model does not load (a file of another fedrec?): %s",
                           path, why);
    }
    return FR_OK;
}

int fr_saved_open(const char *command, const char *path, const fr_cli_sets *sets, fr_saved_ctx *ctx,
                  const fr_saved_kind **row)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->command = command;
    ctx->path = path;
    ctx->sets = sets;
    char *meta = NULL;
    fr_status s = fr_model_read_meta(path, &meta);
    if (s == FR_OK)
        s = load_stored(path, meta, &ctx->stored);
    if (s == FR_OK)
        s = load_stored(path, meta, &ctx->cfg);
    free(meta);
    for (size_t i = 0; s == FR_OK && i < sets->count; i++)
        s = fr_config_set_arg(ctx->cfg, sets->items[i], "--set");
    if (s == FR_OK)
        s = fr_config_get_string(ctx->stored, "job.kind", &ctx->kind);
    if (s == FR_OK && !(*row = fr_saved_kind_of(ctx->kind)))
        s = fr_cli_fail(FR_ERR_FORMAT, "%s: a model of job.kind = %s, which 'fedrec %s' does not read",
                        path, ctx->kind, command);
    if (s == FR_OK && (*row)->arrays)
        s = fr_model_open(path, &ctx->file);
    if (s != FR_OK) {
        int code = fr_cli_report(s, NULL);
        fr_saved_close(ctx);
        return code;
    }
    return FR_EXIT_OK;
}

void fr_saved_close(fr_saved_ctx *ctx)
{
    fr_model_close(ctx->file);
    fr_config_free(ctx->cfg);
    fr_config_free(ctx->stored);
    memset(ctx, 0, sizeof *ctx);
}

/* The key of a --set assignment, without spaces: into buf. */
static void set_key(const char *assignment, char *buf, size_t cap)
{
    while (*assignment == ' ')
        assignment++;
    size_t n = strcspn(assignment, "= ");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, assignment, n);
    buf[n] = '\0';
}

static int key_matches(const char *key, const char *pattern)
{
    size_t n = strlen(pattern);
    if (n >= 2 && !strcmp(pattern + n - 2, ".*"))
        return !strncmp(key, pattern, n - 1);
    return !strcmp(key, pattern);
}

fr_status fr_saved_allow_sets(const fr_saved_ctx *ctx, const char *const *allowed, size_t n_allowed)
{
    for (size_t i = 0; i < ctx->sets->count; i++) {
        char key[256];
        set_key(ctx->sets->items[i], key, sizeof key);
        int ok = 0;
        for (size_t k = 0; k < n_allowed && !ok; k++)
            ok = key_matches(key, allowed[k]);
        if (ok)
            continue;
        char list[1024] = "";
        for (size_t k = 0; k < n_allowed; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", allowed[k]);
        return fr_cli_fail(FR_ERR_CONFIG, "--set %s: %s is part of the model %s holds (job.kind = %s) and cannot change after training; 'fedrec %s' may change only %s",
                           ctx->sets->items[i], key, ctx->path, ctx->kind, ctx->command, list);
    }
    return FR_OK;
}

int fr_saved_set_changes(const fr_saved_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->sets->count; i++) {
        char k[256];
        set_key(ctx->sets->items[i], k, sizeof k);
        if (key_matches(k, key))
            return 1;
    }
    return 0;
}

/* ---- printing --------------------------------------------------------------- */

void fr_recommend_begin(const fr_recommend_request *rq, const fr_saved_ctx *ctx, const char *about)
{
    FILE *f = rq->out;
    if (rq->format == FR_OUT_CSV) {
        fputs("user,rank,item,score\n", f);
    } else if (rq->format == FR_OUT_JSON) {
        fputs("{\"model\": ", f);
        fr_cli_json_string(f, ctx->path);
        fputs(", \"kind\": ", f);
        fr_cli_json_string(f, ctx->kind);
        fputs(", \"about\": ", f);
        fr_cli_json_string(f, about);
        fputs(", \"users\": [", f);
    } else {
        fprintf(f, "model %s: %s\n", ctx->path, about);
    }
}

void fr_recommend_print(const fr_recommend_request *rq, const fr_recommendation *r, size_t index)
{
    FILE *f = rq->out;
    if (rq->format == FR_OUT_CSV) {
        for (size_t j = 0; j < r->n; j++) {
            fr_csv_field(f, r->user);
            fprintf(f, ",%zu,", j + 1);
            fr_csv_field(f, r->items[j]);
            fprintf(f, ",%.9g\n", (double)r->scores[j]);
        }
    } else if (rq->format == FR_OUT_JSON) {
        fputs(index ? ",\n  {\"user\": " : "\n  {\"user\": ", f);
        fr_cli_json_string(f, r->user);
        fprintf(f, ", \"candidates\": %zu, \"items\": [", r->candidates);
        for (size_t j = 0; j < r->n; j++) {
            fprintf(f, "%s{\"rank\": %zu, \"item\": ", j ? ", " : "", j + 1);
            fr_cli_json_string(f, r->items[j]);
            fputs(", \"score\": ", f);
            fr_cli_json_number(f, r->scores[j]);
            fputc('}', f);
        }
        fputs("]}", f);
    } else {
        fprintf(f, "\nuser %s: the top %zu of %zu items the user has not interacted with\n", r->user, r->n,
                r->candidates);
        fprintf(f, "  %4s  %-20s %12s\n", "rank", "item", "score");
        for (size_t j = 0; j < r->n; j++)
            fprintf(f, "  %4zu  %-20s %12.6f\n", j + 1, r->items[j], (double)r->scores[j]);
    }
}

void fr_recommend_end(const fr_recommend_request *rq)
{
    if (rq->format == FR_OUT_JSON)
        fputs("\n]}\n", rq->out);
    fflush(rq->out);
}

/* ---- ids ---------------------------------------------------------------------- */

static const char *const *sort_names; /* qsort has no context argument */

static int by_name(const void *a, const void *b)
{
    return strcmp(sort_names[*(const uint32_t *)a], sort_names[*(const uint32_t *)b]);
}

fr_status fr_id_index_build(fr_id_index *x, const char *const *names, size_t n)
{
    x->names = names;
    x->n = n;
    x->order = malloc((n ? n : 1) * sizeof *x->order);
    if (!x->order)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the id index");
    for (size_t i = 0; i < n; i++)
        x->order[i] = (uint32_t)i;
    sort_names = names;
    qsort(x->order, n, sizeof *x->order, by_name);
    return FR_OK;
}

long fr_id_index_find(const fr_id_index *x, const char *name)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(x->names[x->order[mid]], name);
        if (c == 0)
            return (long)x->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void fr_id_index_free(fr_id_index *x)
{
    free(x->order);
    x->order = NULL;
}

int fr_saved_unknown_user(const fr_saved_ctx *ctx, const fr_recommend_request *rq, size_t k,
                          const fr_id_index *users)
{
    char where[600] = "";
    if (rq->users_file)
        snprintf(where, sizeof where, "%s:%zu: ", rq->users_file, rq->lines[k]);
    char like[200] = "";
    for (size_t i = 0; i < users->n && i < 3; i++)
        snprintf(like + strlen(like), sizeof like - strlen(like), "%s'%s'", i ? ", " : "", users->names[i]);
    fr_cli_fail(FR_ERR_DATA, "%suser '%s' is not in %s (its %zu users are the training data's, ids like %s%s)",
                where, rq->users[k], ctx->path, users->n, like, users->n > 3 ? ", ..." : "");
    int code = fr_cli_report(FR_ERR_DATA, NULL);
    return rq->users_file ? code : FR_EXIT_USAGE;
}

fr_status fr_saved_check_writable(const char *key, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return fr_cli_fail(FR_ERR_NOMEM, "%s = '%s': out of memory allocating %zu bytes for its folder's name", key, path,
                           strlen(path) + 1);
    const char *dir = dirname(copy);
    fr_status s = FR_OK;
    if (access(dir, W_OK) != 0)
        s = fr_cli_fail(FR_ERR_IO, "%s = '%s': cannot write the model in folder '%s': %s (checked before training)",
                        key, path, dir, strerror(errno));
    free(copy);
    return s;
}

fr_status fr_recommend_scored(const fr_recommend_request *rq, size_t index, const float *scores, size_t n_items,
                              const int32_t *seen, size_t n_seen, const char *const *item_ids, int32_t *top,
                              float *top_scores, const char **top_ids)
{
    uint64_t *keys = malloc((rq->top ? rq->top : 1) * sizeof *keys);
    if (!keys)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory allocating %zu bytes for the top %zu items",
                           rq->top * sizeof *keys, rq->top);
    size_t n = fr_top_k_select(scores, n_items, seen, n_seen, NULL, 0, rq->top, keys, top);
    free(keys);
    for (size_t j = 0; j < n; j++) {
        top_scores[j] = scores[top[j]];
        top_ids[j] = item_ids[top[j]];
    }
    fr_recommendation rec = {rq->users[index], top_ids, top_scores, n, n_items - n_seen};
    fr_recommend_print(rq, &rec, index);
    return FR_OK;
}

char *fr_saved_join_names(char *const *names, size_t n, size_t *bytes)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(names[i]) + 1;
    char *text = malloc(total ? total : 1), *at = text;
    if (!text)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + 1;
        memcpy(at, names[i], len);
        at += len;
    }
    *bytes = total;
    return text;
}

int64_t *fr_saved_offsets64(const size_t *start, size_t n)
{
    int64_t *out = malloc((n ? n : 1) * sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        out[i] = (int64_t)start[i];
    return out;
}
