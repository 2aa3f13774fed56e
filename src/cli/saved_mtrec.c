/* saved_mtrec.c — the multi-task recommender's saved models (job.kind =
 * mtrec; saved_model.h): the MF encoder's user and item rows of the saved
 * epoch (or federated round), the data's per-user training, validation and
 * test lists and the original ids; eval (full ranking, as training
 * evaluates), recommend (the user's row against every item it did not
 * interact with) and export.
 *
 * Arrays of the file: mtrec.user_ids, mtrec.item_ids (text),
 * mtrec.user_embeddings (users x dim), mtrec.item_embeddings (items x
 * dim), data.{train,val,test}_start (users + 1 offsets) and _items,
 * model.facts (epoch, epochs run, 1 if the last was asked for, the data's
 * fingerprint), model.job_fingerprint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/saved_model.h"
#include "cli/summary.h"
#include "fedrec/mtrec.h"

/* ---- writing ------------------------------------------------------------------ */

fr_status fr_saved_mtrec_write(const char *path, const fr_config *cfg, const fr_mtr_data *d, const float *table,
                               size_t dim, unsigned epoch, unsigned epochs_run, int from_last)
{
    size_t nu = d->n_users, ni = d->n_items;
    char *meta = NULL, *fingerprint = NULL, *users = NULL, *items = NULL;
    size_t users_bytes = 0, items_bytes = 0;
    int64_t *starts[3] = {fr_saved_offsets64(d->train_start, nu + 1), fr_saved_offsets64(d->val_start, nu + 1),
                          fr_saved_offsets64(d->test_start, nu + 1)};
    fr_status s = fr_config_print_string(cfg, &meta);
    if (s == FR_OK)
        s = fr_config_fingerprint(cfg, &fingerprint);
    if (s == FR_OK && (!d->user_names || !d->item_names))
        s = fr_cli_fail(FR_ERR_INVALID, "%s: the data has no original ids to save", path);
    if (s == FR_OK && (!(users = fr_saved_join_names(d->user_names, nu, &users_bytes)) ||
                       !(items = fr_saved_join_names(d->item_names, ni, &items_bytes)) || !starts[0] || !starts[1] ||
                       !starts[2]))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the model file's arrays");
    if (s == FR_OK) {
        int64_t facts[4] = {(int64_t)epoch, (int64_t)epochs_run, from_last, (int64_t)fr_mtr_data_fingerprint(d)};
        fr_model_array a[] = {
            {"model.facts", FR_MODEL_I64, 1, 4, facts},
            {"model.job_fingerprint", FR_MODEL_TEXT, 1, strlen(fingerprint) + 1, fingerprint},
            {"mtrec.user_ids", FR_MODEL_TEXT, nu, users_bytes, users},
            {"mtrec.item_ids", FR_MODEL_TEXT, ni, items_bytes, items},
            {"mtrec.user_embeddings", FR_MODEL_F32, nu, dim, table},
            {"mtrec.item_embeddings", FR_MODEL_F32, ni, dim, table + nu * dim},
            {"data.train_start", FR_MODEL_I64, nu + 1, 1, starts[0]},
            {"data.train_items", FR_MODEL_I32, d->train_start[nu], 1, d->train_items},
            {"data.val_start", FR_MODEL_I64, nu + 1, 1, starts[1]},
            {"data.val_items", FR_MODEL_I32, d->val_start[nu], 1, d->val_items},
            {"data.test_start", FR_MODEL_I64, nu + 1, 1, starts[2]},
            {"data.test_items", FR_MODEL_I32, d->test_start[nu], 1, d->test_items},
        };
        s = fr_model_save_arrays(path, a, sizeof a / sizeof a[0], meta);
    }
    free(meta);
    free(fingerprint);
    free(users);
    free(items);
    for (int k = 0; k < 3; k++)
        free(starts[k]);
    return s;
}

/* ---- reading ------------------------------------------------------------------- */

typedef struct mtrec_saved {
    fr_mtr_options o;
    size_t n_users, n_items, dim;
    const char **user_ids, **item_ids;
    const float *users, *items;      /* in the open file */
    size_t *start[3];                /* train, validation, test lists */
    const int32_t *list[3];
    int64_t epoch, epochs_run, from_last;
    uint64_t data_fingerprint;
} mtrec_saved;

static void saved_free(mtrec_saved *r)
{
    free(r->user_ids);
    free(r->item_ids);
    for (int k = 0; k < 3; k++)
        free(r->start[k]);
    memset(r, 0, sizeof *r);
}

static fr_status get(const fr_saved_ctx *ctx, const char *name, fr_model_dtype t, size_t rows, size_t cols,
                     const fr_model_array **a)
{
    fr_status s = fr_model_get(ctx->file, name, t, rows, cols, a);
    if (s != FR_OK) {
        char why[800];
        snprintf(why, sizeof why, "%s", fr_last_error());
        return fr_cli_fail(s, "%s", why);
    }
    return FR_OK;
}

static const char *part_name[3] = {"train", "val", "test"};

static fr_status load_saved(const fr_saved_ctx *ctx, mtrec_saved *r)
{
    memset(r, 0, sizeof *r);
    int64_t patience, min_epochs, epochs;
    FR_TRY_CLI(fr_cli_mtrec_options(ctx->cfg, &r->o, &patience, &min_epochs, &epochs));
    const fr_model_array *facts, *users, *items, *a;
    FR_TRY_CLI(get(ctx, "model.facts", FR_MODEL_I64, 1, 4, &facts));
    FR_TRY_CLI(get(ctx, "mtrec.user_ids", FR_MODEL_TEXT, 0, 0, &users));
    FR_TRY_CLI(get(ctx, "mtrec.item_ids", FR_MODEL_TEXT, 0, 0, &items));
    const int64_t *f = facts->data;
    r->epoch = f[0];
    r->epochs_run = f[1];
    r->from_last = f[2];
    r->data_fingerprint = (uint64_t)f[3];
    r->n_users = users->rows;
    r->n_items = items->rows;
    r->dim = r->o.dim;
    if (fr_model_strings(ctx->file, users, &r->user_ids) != FR_OK ||
        fr_model_strings(ctx->file, items, &r->item_ids) != FR_OK)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    FR_TRY_CLI(get(ctx, "mtrec.user_embeddings", FR_MODEL_F32, r->n_users, r->dim, &a));
    r->users = a->data;
    FR_TRY_CLI(get(ctx, "mtrec.item_embeddings", FR_MODEL_F32, r->n_items, r->dim, &a));
    r->items = a->data;
    for (int k = 0; k < 3; k++) {
        char name[64];
        const fr_model_array *st, *it;
        snprintf(name, sizeof name, "data.%s_start", part_name[k]);
        FR_TRY_CLI(get(ctx, name, FR_MODEL_I64, r->n_users + 1, 1, &st));
        snprintf(name, sizeof name, "data.%s_items", part_name[k]);
        FR_TRY_CLI(get(ctx, name, FR_MODEL_I32, 0, 1, &it));
        const int64_t *v = st->data;
        const int32_t *items_of = it->data;
        if (!(r->start[k] = malloc((r->n_users + 1) * sizeof *r->start[k])))
            return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
        for (size_t u = 0; u <= r->n_users; u++) {
            if (v[u] < 0 || (uint64_t)v[u] > it->rows || (u == 0 && v[u] != 0) || (u > 0 && v[u] < v[u - 1]) ||
                (u == r->n_users && (uint64_t)v[u] != it->rows))
                return fr_cli_fail(FR_ERR_FORMAT, "%s: array '%s' does not hold offsets from 0 to %zu: damaged or hand-made?",
                                   ctx->path, st->name, it->rows);
            r->start[k][u] = (size_t)v[u];
        }
        for (size_t u = 0; u < r->n_users; u++)
            for (size_t j = r->start[k][u]; j < r->start[k][u + 1]; j++)
                if (items_of[j] < 0 || (size_t)items_of[j] >= r->n_items ||
                    (j > r->start[k][u] && items_of[j] <= items_of[j - 1]))
                    return fr_cli_fail(FR_ERR_FORMAT, "%s: array '%s': user %zu's items are not distinct item rows in increasing order: damaged or hand-made?",
                                       ctx->path, it->name, u);
        r->list[k] = items_of;
    }
    return FR_OK;
}

/* ---- eval ------------------------------------------------------------------------- */

/* Three rating parts in the model's ids, from per-user lists (parts the
 * caller frees with fr_ratings_free). */
static fr_status parts_alloc(fr_ratings *p, size_t n, size_t nu, size_t ni)
{
    memset(p, 0, sizeof *p);
    p->n_users = nu;
    p->n_items = ni;
    p->user = malloc((n ? n : 1) * sizeof *p->user);
    p->item = malloc((n ? n : 1) * sizeof *p->item);
    p->rating = malloc((n ? n : 1) * sizeof *p->rating);
    p->time = malloc((n ? n : 1) * sizeof *p->time);
    if (!p->user || !p->item || !p->rating || !p->time)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the evaluation data");
    return FR_OK;
}

static fr_status names_of(fr_ratings *p, const mtrec_saved *r)
{
    p->user_names = calloc(r->n_users ? r->n_users : 1, sizeof *p->user_names);
    p->item_names = calloc(r->n_items ? r->n_items : 1, sizeof *p->item_names);
    if (!p->user_names || !p->item_names)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the evaluation data");
    for (size_t i = 0; i < r->n_users; i++)
        if (!(p->user_names[i] = strdup(r->user_ids[i])))
            return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the evaluation data");
    for (size_t i = 0; i < r->n_items; i++)
        if (!(p->item_names[i] = strdup(r->item_ids[i])))
            return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the evaluation data");
    return FR_OK;
}

/* The data kept in the model, as an fr_mtr_data. */
static fr_status kept_data(const mtrec_saved *r, fr_mtr_data *d)
{
    fr_ratings parts[3];
    memset(parts, 0, sizeof parts);
    fr_status s = FR_OK;
    for (int k = 0; s == FR_OK && k < 3; k++) {
        size_t n = r->start[k][r->n_users];
        s = parts_alloc(&parts[k], n, r->n_users, r->n_items);
        for (size_t u = 0; s == FR_OK && u < r->n_users; u++)
            for (size_t j = r->start[k][u]; j < r->start[k][u + 1]; j++) {
                parts[k].user[parts[k].n] = (int32_t)u;
                parts[k].item[parts[k].n] = r->list[k][j];
                parts[k].rating[parts[k].n] = 1.0f;
                parts[k].time[parts[k].n] = (int64_t)parts[k].n;
                parts[k].n++;
            }
    }
    if (s == FR_OK)
        s = names_of(&parts[0], r);
    if (s == FR_OK && (s = fr_mtr_data_from_parts(parts, 0.0f, d)) != FR_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", fr_last_error());
        s = fr_cli_fail(s, "%s", why);
    }
    for (int k = 0; k < 3; k++)
        fr_ratings_free(&parts[k]);
    return s;
}

/* Other data (the configuration's data.*), in the model's ids: rows of
 * users or items the model does not know are dropped and counted. */
static fr_status other_data(const fr_saved_ctx *ctx, const mtrec_saved *r, fr_mtr_data *d, char *what,
                            size_t cap)
{
    fr_mtr_data in;
    char loaded[4096];
    FR_TRY_CLI(fr_cli_mtrec_load_data(ctx->cfg, &in, loaded, sizeof loaded, 1));
    fr_id_index users, items;
    fr_status s = fr_id_index_build(&users, r->user_ids, r->n_users);
    if (s == FR_OK)
        s = fr_id_index_build(&items, r->item_ids, r->n_items);
    long *user_of = malloc((in.n_users ? in.n_users : 1) * sizeof *user_of);
    long *item_of = malloc((in.n_items ? in.n_items : 1) * sizeof *item_of);
    if (s == FR_OK && (!user_of || !item_of))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the evaluation data");
    size_t new_users = 0, new_items = 0, dropped = 0;
    for (size_t u = 0; s == FR_OK && u < in.n_users; u++)
        new_users += (user_of[u] = fr_id_index_find(&users, in.user_names[u])) < 0;
    for (size_t i = 0; s == FR_OK && i < in.n_items; i++)
        new_items += (item_of[i] = fr_id_index_find(&items, in.item_names[i])) < 0;
    fr_ratings parts[3];
    memset(parts, 0, sizeof parts);
    /* training: the interactions in order; validation and test: the lists */
    if (s == FR_OK)
        s = parts_alloc(&parts[0], in.n_train, r->n_users, r->n_items);
    for (size_t k = 0; s == FR_OK && k < in.n_train; k++) {
        long u = user_of[in.train_user[k]], i = item_of[in.train_item[k]];
        if (u < 0 || i < 0) {
            dropped++;
            continue;
        }
        fr_ratings *p = &parts[0];
        p->user[p->n] = (int32_t)u;
        p->item[p->n] = (int32_t)i;
        p->rating[p->n] = in.train_rating[k];
        p->time[p->n] = (int64_t)p->n;
        p->n++;
    }
    const size_t *starts[2] = {in.val_start, in.test_start};
    const int32_t *lists[2] = {in.val_items, in.test_items};
    for (int k = 0; s == FR_OK && k < 2; k++) {
        fr_ratings *p = &parts[k + 1];
        s = parts_alloc(p, starts[k][in.n_users], r->n_users, r->n_items);
        for (size_t u = 0; s == FR_OK && u < in.n_users; u++)
            for (size_t j = starts[k][u]; j < starts[k][u + 1]; j++) {
                long mu = user_of[u], mi = item_of[lists[k][j]];
                if (mu < 0 || mi < 0) {
                    dropped++;
                    continue;
                }
                p->user[p->n] = (int32_t)mu;
                p->item[p->n] = (int32_t)mi;
                p->rating[p->n] = 1.0f;
                p->time[p->n] = (int64_t)p->n;
                p->n++;
            }
    }
    if (s == FR_OK)
        s = names_of(&parts[0], r);
    if (s == FR_OK && (s = fr_mtr_data_from_parts(parts, 0.0f, d)) != FR_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", fr_last_error());
        s = fr_cli_fail(s, "%s", why);
    }
    for (int k = 0; k < 3; k++)
        fr_ratings_free(&parts[k]);
    snprintf(what, cap, "%s", loaded);
    if (dropped)
        snprintf(what + strlen(what), cap - strlen(what),
                 " (%zu interaction(s) left out: %zu user(s) and %zu item(s) the model does not know)", dropped,
                 new_users, new_items);
    free(user_of);
    free(item_of);
    fr_id_index_free(&users);
    fr_id_index_free(&items);
    fr_mtr_data_free(&in);
    return s;
}

static const char *const eval_keys[] = {"backend.*",
                                        "data.*",
                                        "mtrec.parts",
                                        "mtrec.test_min_rating",
                                        "mtrec.train_share",
                                        "mtrec.val_share",
                                        "mtrec.test_excludes_val",
                                        "mtrec.links",
                                        "mtrec.item_pairs",
                                        "mtrec.categories",
                                        "mtrec.relation_delimiter",
                                        "run.name",
                                        "output.*"};

static void print_table(const char *label, const fr_rank_metrics *m)
{
    printf("%s (%zu users):\n", label, m->users);
    printf("%8s", "K");
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
        printf(" %8zu", fr_rank_cutoffs[c]);
    printf("\n%8s", "Recall");
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
        printf(" %8.5f", m->recall[c]);
    printf("\n%8s", "NDCG");
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
        printf(" %8.5f", m->ndcg[c]);
    printf("\n");
}

static const char *selected_text(const mtrec_saved *r, int federated)
{
    if (r->from_last)
        return federated ? "the last round" : "the last epoch";
    return federated ? "the best validation round" : "the best validation epoch";
}

int fr_saved_mtrec_eval(const fr_saved_ctx *ctx, const char *summary)
{
    mtrec_saved r;
    fr_status s = fr_saved_allow_sets(ctx, eval_keys, sizeof eval_keys / sizeof eval_keys[0]);
    if (s == FR_OK)
        s = load_saved(ctx, &r);
    else
        memset(&r, 0, sizeof r);
    int federated = 0;
    fr_config_get_bool(ctx->cfg, "mtrec.federated", &federated);
    int use_other = s == FR_OK && (fr_saved_set_changes(ctx, "data.*") || fr_saved_set_changes(ctx, "mtrec.parts") ||
                                   fr_saved_set_changes(ctx, "mtrec.test_min_rating") ||
                                   fr_saved_set_changes(ctx, "mtrec.train_share") ||
                                   fr_saved_set_changes(ctx, "mtrec.val_share"));
    fr_mtr_data d;
    memset(&d, 0, sizeof d);
    char what[8192] = "";
    if (s == FR_OK)
        s = use_other ? other_data(ctx, &r, &d, what, sizeof what) : kept_data(&r, &d);
    /* Evaluation reads the table only: one task, no relations needed. */
    fr_mtr_options o = r.o;
    o.n_tasks = 1;
    o.tasks[0] = FR_MTR_BPR;
    o.combine.method = FR_COMBINE_MAIN;
    fr_mtr *m = NULL;
    fr_rank_metrics val, test;
    if (s == FR_OK)
        s = fr_mtr_create(&d, &o, &m);
    if (s == FR_OK) {
        float *t = fr_mtr_embeddings_mut(m);
        memcpy(t, r.users, r.n_users * r.dim * sizeof *t);
        memcpy(t + r.n_users * r.dim, r.items, r.n_items * r.dim * sizeof *t);
        s = fr_mtr_evaluate(m, 0, &val);
    }
    if (s == FR_OK)
        s = fr_mtr_evaluate(m, 1, &test);
    int code = FR_EXIT_OK;
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else {
        uint64_t fp = fr_mtr_data_fingerprint(&d);
        const char *unit = federated ? "round" : "epoch";
        printf("fedrec eval: %s: %smulti-task MF (dim %zu, combiner %s), %s %lld of %lld (%s), %zu users, %zu items\n",
               ctx->path, federated ? "federated " : "", r.dim, fr_combine_method_name(r.o.combine.method), unit,
               (long long)r.epoch, (long long)r.epochs_run, selected_text(&r, federated), r.n_users, r.n_items);
        if (!use_other)
            printf("  on the training data: the lists kept in the model (fingerprint %016llx)\n",
                   (unsigned long long)fp);
        else
            printf("  on %s; %s\n", what,
                   fp == r.data_fingerprint ? "the same data as training (fingerprint matches)"
                                            : "data other than training's");
        print_table("validation", &val);
        print_table("test", &test);
        if (summary) {
            fr_cli_metric metrics[] = {
                {"test_recall@5", test.recall[0]},  {"test_recall@10", test.recall[1]},
                {"test_recall@20", test.recall[2]}, {"test_recall@40", test.recall[3]},
                {"test_ndcg@5", test.ndcg[0]},      {"test_ndcg@10", test.ndcg[1]},
                {"test_ndcg@20", test.ndcg[2]},     {"test_ndcg@40", test.ndcg[3]},
                {"valid_recall@20", val.recall[2]}, {"valid_ndcg@20", val.ndcg[2]},
                {"epoch", (double)r.epoch}};
            fr_cli_summary sm = {NULL, NULL, "cpu", NULL, NULL, 0, 0, metrics, sizeof metrics / sizeof metrics[0], 0.0,
                                 NULL, NULL, NULL, NULL, NULL, NULL, NULL};
            code = fr_cli_write_summary(summary, ctx->cfg, &sm);
        }
    }
    fr_mtr_free(m);
    fr_mtr_data_free(&d);
    saved_free(&r);
    return code;
}

/* ---- recommend ------------------------------------------------------------------------ */

static const char *const backend_keys[] = {"backend.*"};

/* The union of user u's training, validation and test items (sorted). */
static size_t seen_of(const mtrec_saved *r, size_t u, int32_t *out)
{
    size_t at[3], n = 0;
    for (int k = 0; k < 3; k++)
        at[k] = r->start[k][u];
    for (;;) {
        int32_t next = INT32_MAX;
        for (int k = 0; k < 3; k++)
            if (at[k] < r->start[k][u + 1] && r->list[k][at[k]] < next)
                next = r->list[k][at[k]];
        if (next == INT32_MAX)
            break;
        out[n++] = next;
        for (int k = 0; k < 3; k++)
            if (at[k] < r->start[k][u + 1] && r->list[k][at[k]] == next)
                at[k]++;
    }
    return n;
}

int fr_saved_mtrec_recommend(const fr_saved_ctx *ctx, const fr_recommend_request *rq)
{
    mtrec_saved r;
    fr_status s = fr_saved_allow_sets(ctx, backend_keys, 1);
    if (s == FR_OK)
        s = load_saved(ctx, &r);
    else
        memset(&r, 0, sizeof r);
    fr_id_index users = {0};
    if (s == FR_OK)
        s = fr_id_index_build(&users, r.user_ids, r.n_users);
    size_t ni = r.n_items, d = r.dim;
    float *scores = s == FR_OK ? malloc((ni ? ni : 1) * sizeof *scores) : NULL;
    float *top_scores = s == FR_OK ? malloc(rq->top * sizeof *top_scores) : NULL;
    int32_t *top = s == FR_OK ? malloc(rq->top * sizeof *top) : NULL;
    int32_t *seen = s == FR_OK ? malloc((ni ? ni : 1) * sizeof *seen) : NULL;
    const char **top_ids = s == FR_OK ? malloc(rq->top * sizeof *top_ids) : NULL;
    long *rows = s == FR_OK ? malloc((rq->n_users ? rq->n_users : 1) * sizeof *rows) : NULL;
    if (s == FR_OK && (!scores || !top_scores || !top || !seen || !top_ids || !rows))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for %zu scores", ni);
    int code = s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
    for (size_t k = 0; code == FR_EXIT_OK && k < rq->n_users; k++)
        if ((rows[k] = fr_id_index_find(&users, rq->users[k])) < 0)
            code = fr_saved_unknown_user(ctx, rq, k, &users);
    if (code == FR_EXIT_OK) {
        int federated = 0;
        fr_config_get_bool(ctx->cfg, "mtrec.federated", &federated);
        char about[300];
        snprintf(about, sizeof about, "%smulti-task MF, %s %lld of %lld (%s); each user's own row . the item's row",
                 federated ? "federated " : "", federated ? "round" : "epoch", (long long)r.epoch,
                 (long long)r.epochs_run, selected_text(&r, federated));
        fr_recommend_begin(rq, ctx, about);
    }
    for (size_t k = 0; code == FR_EXIT_OK && k < rq->n_users; k++) {
        size_t u = (size_t)rows[k];
        const float *uv = r.users + u * d;
        for (size_t i = 0; i < ni; i++) {
            const float *e = r.items + i * d;
            double z = 0;
            for (size_t c = 0; c < d; c++)
                z += (double)uv[c] * e[c];
            scores[i] = (float)z;
        }
        size_t n_seen = seen_of(&r, u, seen);
        fr_status st = fr_recommend_scored(rq, k, scores, ni, seen, n_seen, r.item_ids, top, top_scores, top_ids);
        if (st != FR_OK) {
            code = fr_cli_report(st, NULL);
            break;
        }
    }
    if (code == FR_EXIT_OK)
        fr_recommend_end(rq);
    free(scores);
    free(top_scores);
    free(top);
    free(seen);
    free(top_ids);
    free(rows);
    fr_id_index_free(&users);
    saved_free(&r);
    return code;
}

/* ---- export ------------------------------------------------------------------------- */

int fr_saved_mtrec_export(const fr_saved_ctx *ctx, fr_export *e)
{
    mtrec_saved r;
    fr_status s = load_saved(ctx, &r);
    int federated = 0;
    fr_config_get_bool(ctx->cfg, "mtrec.federated", &federated);
    if (s == FR_OK)
        s = fr_export_ids(e, "users.txt", "original user ids, in the row order of user_embeddings", r.user_ids,
                          r.n_users);
    if (s == FR_OK)
        s = fr_export_ids(e, "items.txt", "original item ids, in the row order of item_embeddings", r.item_ids,
                          r.n_items);
    if (s == FR_OK)
        s = fr_export_array(e, "user_embeddings", "each user's row of the MF encoder", FR_MODEL_F32, r.n_users,
                            r.dim, r.users, r.user_ids, "user", "users.txt", "e");
    if (s == FR_OK)
        s = fr_export_array(e, "item_embeddings", "each item's row of the MF encoder", FR_MODEL_F32, r.n_items,
                            r.dim, r.items, r.item_ids, "item", "items.txt", "e");
    if (s == FR_OK) {
        char facts[600];
        snprintf(facts, sizeof facts,
                 "\"algorithm\": \"%smulti-task MF, combiner %s\", \"%s\": %lld, \"%ss_run\": %lld, \"saved\": \"%s\", \"users\": %zu, \"items\": %zu, \"score\": \"u . e: u the user's user_embeddings row, e the item's item_embeddings row\"",
                 federated ? "federated " : "", fr_combine_method_name(r.o.combine.method),
                 federated ? "round" : "epoch", (long long)r.epoch, federated ? "round" : "epoch",
                 (long long)r.epochs_run, selected_text(&r, federated), r.n_users, r.n_items);
        s = fr_export_finish(e, ctx->path, ctx->kind, facts);
    }
    saved_free(&r);
    return s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
}
