/* recommend_msmt.c — `fedrec recommend` of a saved multi-scenario model
 * (job.kind = msmt or fedmsmt; the row of saved_model.c's table): for each
 * user, one candidate row per item the training data holds (the user's
 * user-side values, the item's item-side values, the user's scenario or
 * --scenario), scored by the model of that scenario (fedmsmt: the
 * scenario's client, its personalised model; msmt: the one model) as the
 * probability of the task (--task, default the first); the top K outside
 * the items the user has rows of (training, validation or test: what the
 * user interacted with, as the rating jobs leave out), named by their
 * original ids. What it reads besides the parameters is described in
 * saved_msmt_data.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/job_setup.h"
#include "cli/saved_model.h"
#include "cli/saved_msmt.h"
#include "cli/saved_msmt_data.h"
#include "fedrec/msmt.h"

static const char *const recommend_may_set[] = {"backend.*", "opencl.*"};

typedef struct ranker {
    const fr_saved_ctx *ctx;
    const fr_recommend_request *rq;
    fr_cli_saved_msmt m;
    fr_cli_msmt_data d;
    int fed;
    size_t task;
    long scenario;                  /* --scenario's index, or -1 */
    const char **own_names[2];      /* user and item ids as text where the model keeps no values */
    char *own_text[2];
    const char **user_names, **item_names; /* by user / item id */
    int32_t *item_at;               /* item id -> candidate index, or -1 */
    int32_t *candidate_item;        /* candidate index -> item id */
    const char **candidate_names;
    size_t n_candidates;
    fr_table rows;                  /* the candidate rows, refilled per user */
    fr_backend *be;
    fr_msmt_model *models[FR_TABLE_MAX_SCENARIOS];
} ranker;

/* Field f's original ids by value; where the model keeps no values, the
 * values as text ("0", "1", ...) in own_text. */
static fr_status names_of(const fr_cli_msmt_data *d, size_t f, size_t n, const char ***out, const char ***own,
                          char **own_text)
{
    if (d->field_values[f]) {
        *out = d->field_values[f];
        return FR_OK;
    }
    *own = malloc((n ? n : 1) * sizeof **own);
    *own_text = malloc((n ? n : 1) * 24);
    if (!*own || !*own_text)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory naming %zu ids", n);
    for (size_t v = 0; v < n; v++) {
        snprintf(*own_text + 24 * v, 24, "%zu", v);
        (*own)[v] = *own_text + 24 * v;
    }
    *out = *own;
    return FR_OK;
}

/* Refuse what recommend cannot do with this model or these options;
 * *usage set when the options are at fault. */
static fr_status check_request(ranker *r, int *usage)
{
    const char *path = r->ctx->path;
    const fr_recommend_request *rq = r->rq;
    char buf[64];
    for (size_t f = 0; f < r->d.n_cat + r->d.n_num; f++)
        if (r->d.side[f] == FR_SIDE_NEITHER)
            return fr_cli_fail(FR_ERR_DATA, "%s: field '%s' is neither the user's nor the item's (its value is not a function of the user field nor of the item field in the training data: a context), so recommend cannot build a user's candidate rows; train without it to recommend",
                               path, fr_cli_msmt_field_name(&r->d, f, buf, sizeof buf));
    r->task = 0;
    *usage = 1;
    if (rq->task) {
        size_t k = 0;
        while (k < r->m.n_tasks && strcmp(r->m.task[k], rq->task) != 0)
            k++;
        if (k == r->m.n_tasks) {
            char list[1024] = "";
            for (size_t j = 0; j < r->m.n_tasks; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", j ? ", " : "", r->m.task[j]);
            return fr_cli_fail(FR_ERR_CONFIG, "--task '%s': the model in %s predicts tasks %s", rq->task, path, list);
        }
        r->task = k;
    }
    r->scenario = -1;
    if (rq->scenario && r->d.scenario_of_user)
        return fr_cli_fail(FR_ERR_CONFIG, "--scenario '%s': in the training data of %s every user belongs to one scenario, and recommend ranks with the user's own; drop --scenario",
                           rq->scenario, path);
    if (rq->scenario) {
        size_t k = 0;
        while (k < r->m.n_scenarios && strcmp(r->m.scenario[k], rq->scenario) != 0)
            k++;
        if (k == r->m.n_scenarios) {
            char list[1024] = "";
            for (size_t j = 0; j < r->m.n_scenarios && strlen(list) < 900; j++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", j ? ", " : "", r->m.scenario[j]);
            return fr_cli_fail(FR_ERR_CONFIG, "--scenario '%s': the model in %s knows scenarios %s", rq->scenario, path,
                               list);
        }
        r->scenario = (long)k;
    } else if (!r->d.scenario_of_user) {
        return fr_cli_fail(FR_ERR_CONFIG, "%s: a user's rows span several scenarios in the training data, so the scenario to rank in is not the user's: name it with --scenario NAME (one of the model's %zu, e.g. '%s')",
                           path, r->m.n_scenarios, r->m.scenario[0]);
    }
    return FR_OK;
}

/* The candidates (items with rows), their names, and the rows' table with
 * the items' values filled in. */
static fr_status build_candidates(ranker *r)
{
    const fr_cli_msmt_data *d = &r->d;
    FR_TRY_CLI(names_of(d, d->user_field, d->n_users, &r->user_names, &r->own_names[0], &r->own_text[0]));
    FR_TRY_CLI(names_of(d, d->item_field, d->n_items, &r->item_names, &r->own_names[1], &r->own_text[1]));
    r->item_at = malloc((d->n_items ? d->n_items : 1) * sizeof *r->item_at);
    r->candidate_item = malloc((d->n_items ? d->n_items : 1) * sizeof *r->candidate_item);
    r->candidate_names = malloc((d->n_items ? d->n_items : 1) * sizeof *r->candidate_names);
    if (!r->item_at || !r->candidate_item || !r->candidate_names)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for %zu items", d->n_items);
    for (size_t i = 0; i < d->n_items; i++) {
        r->item_at[i] = -1;
        if (d->item_cat[i * d->n_cat + d->item_field] != (int32_t)i)
            continue; /* no rows: its values are unknown */
        r->item_at[i] = (int32_t)r->n_candidates;
        r->candidate_names[r->n_candidates] = r->item_names[i];
        r->candidate_item[r->n_candidates++] = (int32_t)i;
    }
    FR_TRY_CLI(fr_table_alloc(&r->rows, r->n_candidates, d->n_cat, d->n_num, r->m.n_tasks, r->m.n_scenarios));
    fr_table_set_vocab(&r->rows, r->m.vocab);
    for (size_t k = 0; k < r->m.n_tasks; k++)
        memcpy(r->rows.task_names[k], r->m.task[k], FR_TABLE_NAME_MAX);
    for (size_t k = 0; k < r->m.n_scenarios; k++)
        memcpy(r->rows.scenario_names[k], r->m.scenario[k], FR_TABLE_NAME_MAX);
    for (size_t c = 0; c < r->n_candidates; c++) {
        size_t i = (size_t)r->candidate_item[c];
        for (size_t f = 0; f < d->n_cat; f++)
            if (d->side[f] == FR_SIDE_ITEM)
                r->rows.cat[c * d->n_cat + f] = d->item_cat[i * d->n_cat + f];
        for (size_t f = 0; f < d->n_num; f++)
            if (d->side[d->n_cat + f] == FR_SIDE_ITEM)
                r->rows.num[c * d->n_num + f] = d->item_num[i * d->n_num + f];
    }
    return FR_OK;
}

/* Every candidate's probability of the task for user u in scenario s. */
static fr_status score_user(ranker *r, size_t u, size_t s, float *scores, float *probs, uint32_t *index)
{
    const fr_cli_msmt_data *d = &r->d;
    fr_table *t = &r->rows;
    for (size_t c = 0; c < r->n_candidates; c++) {
        for (size_t f = 0; f < d->n_cat; f++)
            if (d->side[f] == FR_SIDE_USER)
                t->cat[c * d->n_cat + f] = d->user_cat[u * d->n_cat + f];
        for (size_t f = 0; f < d->n_num; f++)
            if (d->side[d->n_cat + f] == FR_SIDE_USER)
                t->num[c * d->n_num + f] = d->user_num[u * d->n_num + f];
        t->scenario[c] = (int32_t)s;
    }
    fr_msmt_model *model = r->models[r->fed ? s : 0];
    size_t batch = fr_msmt_model_max_batch(model);
    for (size_t at = 0; at < r->n_candidates; at += batch) {
        size_t n = r->n_candidates - at < batch ? r->n_candidates - at : batch;
        for (size_t k = 0; k < n; k++)
            index[k] = (uint32_t)(at + k);
        fr_view logits;
        FR_TRY_CLI(fr_msmt_forward(model, t, index, n, 0, 0, &logits));
        FR_TRY_CLI(fr_msmt_probabilities(model, probs));
        memcpy(scores + at, probs + r->task * n, n * sizeof *scores);
    }
    return FR_OK;
}

static void ranker_free(ranker *r)
{
    for (size_t k = 0; k < FR_TABLE_MAX_SCENARIOS; k++)
        fr_msmt_model_free(r->models[k]);
    if (r->be)
        fr_backend_close(r->be);
    fr_table_free(&r->rows);
    for (int k = 0; k < 2; k++) {
        free(r->own_names[k]);
        free(r->own_text[k]);
    }
    free(r->item_at);
    free(r->candidate_item);
    free(r->candidate_names);
    fr_cli_msmt_data_free(&r->d);
    fr_cli_saved_msmt_free(&r->m);
}

int fr_saved_msmt_recommend(const fr_saved_ctx *ctx, const fr_recommend_request *rq)
{
    ranker r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.rq = rq;
    int present = 0;
    fr_status s = fr_cli_saved_msmt_parse(ctx->path, fr_model_meta(ctx->file), &r.m);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    r.fed = !strcmp(r.m.kind, "fedmsmt");
    s = fr_saved_allow_sets(ctx, recommend_may_set, sizeof recommend_may_set / sizeof recommend_may_set[0]);
    if (s == FR_OK)
        s = fr_cli_msmt_data_read(ctx->file, r.m.n_cat, r.m.n_num, r.m.vocab, r.m.n_scenarios, &r.d, &present);
    if (s == FR_OK && !present)
        s = fr_cli_fail(FR_ERR_FORMAT, "%s: the model was trained on a table that does not name its user and item fields (data.source = synthetic, a table of format version 1, or 'fedrec data convert' without --user-field and --item-field), so it holds no users to recommend for: convert the data with --user-field NAME --item-field NAME (or use data.source = movielens-msmt) and train again",
                        ctx->path);
    int usage = 0;
    if (s == FR_OK)
        s = check_request(&r, &usage);
    if (s != FR_OK) {
        int code = fr_cli_report(s, NULL);
        if (usage)
            code = FR_EXIT_USAGE;
        ranker_free(&r);
        return code;
    }
    /* The users asked for: known ones have rows (their own field set). */
    const char **known = malloc((r.d.n_users ? r.d.n_users : 1) * sizeof *known);
    int32_t *known_user = malloc((r.d.n_users ? r.d.n_users : 1) * sizeof *known_user);
    long *which = malloc((rq->n_users ? rq->n_users : 1) * sizeof *which);
    fr_id_index users = {0};
    s = known && known_user && which ? build_candidates(&r) : fr_cli_fail(FR_ERR_NOMEM, "out of memory for the users");
    size_t n_known = 0;
    for (size_t u = 0; s == FR_OK && u < r.d.n_users; u++)
        if (r.d.user_cat[u * r.d.n_cat + r.d.user_field] == (int32_t)u) {
            known[n_known] = r.user_names[u];
            known_user[n_known++] = (int32_t)u;
        }
    if (s == FR_OK)
        s = fr_id_index_build(&users, known, n_known);
    int code = s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
    for (size_t k = 0; code == FR_EXIT_OK && k < rq->n_users; k++)
        if ((which[k] = fr_id_index_find(&users, rq->users[k])) < 0)
            code = fr_saved_unknown_user(ctx, rq, k, &users);
    if (code == FR_EXIT_OK) {
        s = fr_cli_open_backend(ctx->cfg, &r.be);
        if (s == FR_OK)
            s = fr_cli_msmt_load_models(ctx->path, ctx->cfg, r.be, &r.rows, r.fed, r.models);
        if (s != FR_OK)
            code = fr_cli_report(s, NULL);
    }
    size_t nc = r.n_candidates, batch = code == FR_EXIT_OK ? fr_msmt_model_max_batch(r.models[0]) : 1;
    float *scores = malloc((nc ? nc : 1) * sizeof *scores), *probs = malloc(batch * r.m.n_tasks * sizeof *probs);
    float *top_scores = malloc(rq->top * sizeof *top_scores);
    uint32_t *index = malloc(batch * sizeof *index);
    int32_t *top = malloc(rq->top * sizeof *top), *seen = malloc((nc ? nc : 1) * sizeof *seen);
    const char **top_ids = malloc(rq->top * sizeof *top_ids);
    if (code == FR_EXIT_OK && (!scores || !probs || !top_scores || !index || !top || !seen || !top_ids))
        code = fr_cli_report(fr_cli_fail(FR_ERR_NOMEM, "out of memory for %zu scores", nc), NULL);
    if (code == FR_EXIT_OK) {
        const char *arch = "";
        fr_config_get_string(ctx->cfg, r.fed ? "fedmsmt.method" : "msmt.model", &arch);
        char about[600];
        snprintf(about, sizeof about, "%s model (%s), %s; the probability of task '%s' (%s), in %s",
                 r.m.kind, arch, r.m.best, r.m.task[r.task], r.fed ? "the scenario's client" : "the one model",
                 r.scenario >= 0 ? r.m.scenario[r.scenario] : "the user's scenario");
        fr_recommend_begin(rq, ctx, about);
    }
    for (size_t k = 0; code == FR_EXIT_OK && k < rq->n_users; k++) {
        size_t u = (size_t)known_user[which[k]];
        size_t sc = r.scenario >= 0 ? (size_t)r.scenario : (size_t)r.d.user_scenario[u];
        s = score_user(&r, u, sc, scores, probs, index);
        /* The items the user has rows of, as candidate indices (sorted: both orders follow the item ids). */
        size_t n_seen = 0;
        for (int64_t j = r.d.seen_start[u]; s == FR_OK && j < r.d.seen_start[u + 1]; j++)
            if (r.item_at[r.d.seen[j]] >= 0)
                seen[n_seen++] = r.item_at[r.d.seen[j]];
        if (s == FR_OK)
            s = fr_recommend_scored(rq, k, scores, nc, seen, n_seen, r.candidate_names, top, top_scores, top_ids);
        if (s != FR_OK)
            code = fr_cli_report(s, NULL);
    }
    if (code == FR_EXIT_OK)
        fr_recommend_end(rq);
    free(scores);
    free(probs);
    free(top_scores);
    free(index);
    free(top);
    free(seen);
    free(top_ids);
    free(known);
    free(known_user);
    free(which);
    fr_id_index_free(&users);
    ranker_free(&r);
    return code;
}
