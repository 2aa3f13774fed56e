/* saved_rating.c — the rating jobs' saved models (job.kind = pfedrec,
 * fedmf, fedncf, central-mf; saved_model.h): writing the model a round
 * evaluated with (fr_pfedrec_model) together with the leave-one-out split
 * and the original ids; reading it back; eval (on the kept split, or on
 * data read again under --set data.*), recommend (each user's own model
 * over every item it did not interact with) and export.
 *
 * Arrays of the file (rows x cols; u = users, i = items, d = row width):
 *   rating.user_ids, rating.item_ids    text: original ids by row
 *   rating.items                        i x d  item table of the round's evaluation
 *   rating.user_rows, rating.user_bias  u x d, u x 1  score functions / user rows
 *   rating.ncf_layers                   1 x n  FedNCF's layers (fr_pfedrec_ncf_layer)
 *   rating.personal_start/_items/_rows  PFedRec's fine-tuned rows per user
 *   split.*                             the leave-one-out split (fedrec/ratings.h)
 *   model.facts                         round, rounds run, 1 if the last round
 *                                       was asked for, the split's fingerprint
 *   model.job_fingerprint               fr_config_fingerprint of the run */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/saved_model.h"
#include "cli/summary.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"

static const char *algorithm_name(fr_rating_algorithm a)
{
    switch (a) {
    case FR_ALGO_FEDMF: return "FedMF";
    case FR_ALGO_FEDNCF: return "FedNCF";
    case FR_ALGO_CENTRAL_MF: return "centralised MF";
    default: return "PFedRec";
    }
}

/* ---- writing ------------------------------------------------------------------ */

fr_status fr_saved_rating_write(const char *path, const fr_config *cfg, const fr_pfedrec_model *m,
                                const fr_loo_split *split, char *const *user_names, char *const *item_names,
                                unsigned rounds_run, int from_last)
{
    size_t nu = m->n_users, ni = m->n_items, d = m->dim, k2 = 2 * split->negatives_per_eval;
    char *meta = NULL, *fingerprint = NULL, *users = NULL, *items = NULL;
    size_t users_bytes = 0, items_bytes = 0;
    int64_t *personal = NULL, *train_start = fr_saved_offsets64(split->train_start, nu + 1),
            *seen_start = fr_saved_offsets64(split->seen_start, nu + 1);
    fr_status s = fr_config_print_string(cfg, &meta);
    if (s == FR_OK)
        s = fr_config_fingerprint(cfg, &fingerprint);
    if (s == FR_OK && (!(users = fr_saved_join_names(user_names, nu, &users_bytes)) ||
                       !(items = fr_saved_join_names(item_names, ni, &items_bytes)) || !train_start || !seen_start ||
                       (m->personal_start && !(personal = fr_saved_offsets64(m->personal_start, nu + 1)))))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the model file's arrays");
    if (s == FR_OK) {
        size_t n_personal = m->personal_start ? m->personal_start[nu] : 0;
        int64_t facts[4] = {(int64_t)m->round, (int64_t)rounds_run, from_last,
                            (int64_t)fr_loo_split_fingerprint(split)};
        int64_t split_facts[3] = {(int64_t)split->negatives_per_eval, (int64_t)split->n_evaluated,
                                  (int64_t)split->n_duplicates};
        fr_model_array a[24];
        size_t n = 0;
        a[n++] = (fr_model_array){"model.facts", FR_MODEL_I64, 1, 4, facts};
        a[n++] = (fr_model_array){"model.job_fingerprint", FR_MODEL_TEXT, 1, strlen(fingerprint) + 1, fingerprint};
        a[n++] = (fr_model_array){"rating.user_ids", FR_MODEL_TEXT, nu, users_bytes, users};
        a[n++] = (fr_model_array){"rating.item_ids", FR_MODEL_TEXT, ni, items_bytes, items};
        a[n++] = (fr_model_array){"rating.items", FR_MODEL_F32, ni, d, m->items};
        a[n++] = (fr_model_array){"rating.user_rows", FR_MODEL_F32, nu, d, m->w};
        a[n++] = (fr_model_array){"rating.user_bias", FR_MODEL_F32, nu, 1, m->b};
        if (m->shared)
            a[n++] = (fr_model_array){"rating.ncf_layers", FR_MODEL_F32, 1, m->n_shared, m->shared};
        if (m->personal_start) {
            a[n++] = (fr_model_array){"rating.personal_start", FR_MODEL_I64, nu + 1, 1, personal};
            a[n++] = (fr_model_array){"rating.personal_items", FR_MODEL_I32, n_personal, 1, m->personal_items};
            a[n++] = (fr_model_array){"rating.personal_rows", FR_MODEL_F32, n_personal, d, m->personal_rows};
        }
        a[n++] = (fr_model_array){"split.facts", FR_MODEL_I64, 1, 3, split_facts};
        a[n++] = (fr_model_array){"split.train_start", FR_MODEL_I64, nu + 1, 1, train_start};
        a[n++] = (fr_model_array){"split.train_items", FR_MODEL_I32, split->train_start[nu], 1, split->train_items};
        a[n++] = (fr_model_array){"split.seen_start", FR_MODEL_I64, nu + 1, 1, seen_start};
        a[n++] = (fr_model_array){"split.seen_items", FR_MODEL_I32, split->seen_start[nu], 1, split->seen_items};
        a[n++] = (fr_model_array){"split.val_item", FR_MODEL_I32, nu, 1, split->val_item};
        a[n++] = (fr_model_array){"split.test_item", FR_MODEL_I32, nu, 1, split->test_item};
        a[n++] = (fr_model_array){"split.eval_negatives", FR_MODEL_I32, nu, k2, split->eval_negatives};
        s = fr_model_save_arrays(path, a, n, meta);
    }
    free(meta);
    free(fingerprint);
    free(users);
    free(items);
    free(personal);
    free(train_start);
    free(seen_start);
    return s;
}

/* ---- reading ------------------------------------------------------------------- */

/* A saved rating model: the model, its split, its ids, its facts. */
typedef struct rating_saved {
    fr_pfedrec_options o;
    fr_pfedrec_model m;
    fr_loo_split split;
    const char **user_ids, **item_ids;
    int64_t round, rounds_run, from_last;
    uint64_t data_fingerprint;
} rating_saved;

static void saved_free(rating_saved *r)
{
    fr_pfedrec_model_free(&r->m);
    fr_loo_split_free(&r->split);
    free(r->user_ids);
    free(r->item_ids);
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

static void *copy_of(const fr_model_array *a, size_t elem)
{
    size_t n = a->dtype == FR_MODEL_TEXT ? a->cols : a->rows * a->cols;
    void *p = malloc(n ? n * elem : 1);
    if (p && n)
        memcpy(p, a->data, n * elem);
    return p;
}

/* int64 offsets -> size_t, checked: start at 0, never fall, end at most max. */
static fr_status offsets_in(const fr_saved_ctx *ctx, const fr_model_array *a, size_t max, size_t **out)
{
    const int64_t *v = a->data;
    size_t n = a->rows;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0 || (uint64_t)v[i] > max || (i == 0 && v[i] != 0) || (i > 0 && v[i] < v[i - 1]))
            return fr_cli_fail(FR_ERR_FORMAT, "%s: array '%s' does not hold offsets rising from 0 to at most %zu (entry %zu is %lld): damaged or hand-made?",
                               ctx->path, a->name, max, i, (long long)v[i]);
        (*out)[i] = (size_t)v[i];
    }
    return FR_OK;
}

/* Every id of an int32 array in [lo, hi). */
static fr_status ids_in(const fr_saved_ctx *ctx, const fr_model_array *a, int32_t lo, int32_t hi)
{
    const int32_t *v = a->data;
    for (size_t i = 0; i < a->rows * a->cols; i++)
        if (v[i] < lo || v[i] >= hi)
            return fr_cli_fail(FR_ERR_FORMAT, "%s: array '%s' holds %d at %zu, expected %d to %d: damaged or hand-made?",
                               ctx->path, a->name, v[i], i, lo, hi - 1);
    return FR_OK;
}

static fr_status load_split(const fr_saved_ctx *ctx, size_t nu, size_t ni, fr_loo_split *sp)
{
    const fr_model_array *facts, *ts, *ti, *ss, *si, *vi, *te, *en;
    FR_TRY_CLI(get(ctx, "split.facts", FR_MODEL_I64, 1, 3, &facts));
    const int64_t *f = facts->data;
    if (f[0] < 1 || f[0] > 1024 || f[1] < 0 || (uint64_t)f[1] > nu)
        return fr_cli_fail(FR_ERR_FORMAT, "%s: split.facts (%lld negatives, %lld evaluated users) are out of range",
                           ctx->path, (long long)f[0], (long long)f[1]);
    size_t k2 = 2 * (size_t)f[0];
    FR_TRY_CLI(get(ctx, "split.train_start", FR_MODEL_I64, nu + 1, 1, &ts));
    FR_TRY_CLI(get(ctx, "split.train_items", FR_MODEL_I32, 0, 1, &ti));
    FR_TRY_CLI(get(ctx, "split.seen_start", FR_MODEL_I64, nu + 1, 1, &ss));
    FR_TRY_CLI(get(ctx, "split.seen_items", FR_MODEL_I32, 0, 1, &si));
    FR_TRY_CLI(get(ctx, "split.val_item", FR_MODEL_I32, nu, 1, &vi));
    FR_TRY_CLI(get(ctx, "split.test_item", FR_MODEL_I32, nu, 1, &te));
    FR_TRY_CLI(get(ctx, "split.eval_negatives", FR_MODEL_I32, nu, k2, &en));
    FR_TRY_CLI(ids_in(ctx, ti, 0, (int32_t)ni));
    FR_TRY_CLI(ids_in(ctx, si, 0, (int32_t)ni));
    FR_TRY_CLI(ids_in(ctx, vi, -1, (int32_t)ni));
    FR_TRY_CLI(ids_in(ctx, te, -1, (int32_t)ni));
    FR_TRY_CLI(ids_in(ctx, en, -1, (int32_t)ni));
    memset(sp, 0, sizeof *sp);
    sp->n_users = nu;
    sp->n_items = ni;
    sp->negatives_per_eval = k2 / 2;
    sp->n_evaluated = (size_t)f[1];
    sp->n_duplicates = (size_t)f[2];
    FR_TRY_CLI(offsets_in(ctx, ts, ti->rows, &sp->train_start));
    FR_TRY_CLI(offsets_in(ctx, ss, si->rows, &sp->seen_start));
    sp->train_items = copy_of(ti, 4);
    sp->seen_items = copy_of(si, 4);
    sp->val_item = copy_of(vi, 4);
    sp->test_item = copy_of(te, 4);
    sp->eval_negatives = copy_of(en, 4);
    sp->has_eval = malloc(nu ? nu : 1);
    if (!sp->train_items || !sp->seen_items || !sp->val_item || !sp->test_item || !sp->eval_negatives ||
        !sp->has_eval)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    size_t evaluated = 0;
    for (size_t u = 0; u < nu; u++) {
        sp->has_eval[u] = sp->val_item[u] >= 0 && sp->test_item[u] >= 0;
        evaluated += sp->has_eval[u];
        for (size_t k = 0; sp->has_eval[u] && k < k2; k++)
            if (sp->eval_negatives[u * k2 + k] < 0)
                return fr_cli_fail(FR_ERR_FORMAT, "%s: user %zu's evaluation negatives are incomplete", ctx->path, u);
        for (size_t k = sp->seen_start[u] + 1; k < sp->seen_start[u + 1]; k++)
            if (sp->seen_items[k] <= sp->seen_items[k - 1])
                return fr_cli_fail(FR_ERR_FORMAT, "%s: user %zu's interacted items are not in increasing order", ctx->path,
                                   u);
    }
    if (evaluated != sp->n_evaluated)
        return fr_cli_fail(FR_ERR_FORMAT, "%s: split.facts says %zu evaluated users, the split holds %zu", ctx->path,
                           sp->n_evaluated, evaluated);
    return FR_OK;
}

static fr_status load_saved(const fr_saved_ctx *ctx, rating_saved *r)
{
    memset(r, 0, sizeof *r);
    FR_TRY_CLI(fr_cli_pfedrec_options(ctx->cfg, &r->o));
    const fr_model_array *facts, *users, *items, *a;
    FR_TRY_CLI(get(ctx, "model.facts", FR_MODEL_I64, 1, 4, &facts));
    FR_TRY_CLI(get(ctx, "rating.user_ids", FR_MODEL_TEXT, 0, 0, &users));
    FR_TRY_CLI(get(ctx, "rating.item_ids", FR_MODEL_TEXT, 0, 0, &items));
    const int64_t *f = facts->data;
    r->round = f[0];
    r->rounds_run = f[1];
    r->from_last = f[2];
    r->data_fingerprint = (uint64_t)f[3];
    size_t nu = users->rows, ni = items->rows;
    size_t d = r->o.algorithm == FR_ALGO_FEDNCF ? 2 * r->o.dim : r->o.dim;
    if (fr_model_strings(ctx->file, users, &r->user_ids) != FR_OK ||
        fr_model_strings(ctx->file, items, &r->item_ids) != FR_OK)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    fr_pfedrec_model *m = &r->m;
    m->algorithm = r->o.algorithm;
    m->n_users = nu;
    m->n_items = ni;
    m->dim = d;
    m->round = (unsigned)r->round;
    FR_TRY_CLI(get(ctx, "rating.items", FR_MODEL_F32, ni, d, &a));
    m->items = copy_of(a, 4);
    FR_TRY_CLI(get(ctx, "rating.user_rows", FR_MODEL_F32, nu, d, &a));
    m->w = copy_of(a, 4);
    FR_TRY_CLI(get(ctx, "rating.user_bias", FR_MODEL_F32, nu, 1, &a));
    m->b = copy_of(a, 4);
    if (!m->items || !m->w || !m->b)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    if (r->o.algorithm == FR_ALGO_FEDNCF) {
        FR_TRY_CLI(get(ctx, "rating.ncf_layers", FR_MODEL_F32, 1, 0, &a));
        m->n_shared = a->cols;
        if (!(m->shared = copy_of(a, 4)))
            return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    }
    if (fr_model_find(ctx->file, "rating.personal_start")) {
        const fr_model_array *start, *pi, *pr;
        FR_TRY_CLI(get(ctx, "rating.personal_start", FR_MODEL_I64, nu + 1, 1, &start));
        FR_TRY_CLI(get(ctx, "rating.personal_items", FR_MODEL_I32, 0, 1, &pi));
        FR_TRY_CLI(get(ctx, "rating.personal_rows", FR_MODEL_F32, pi->rows, d, &pr));
        FR_TRY_CLI(ids_in(ctx, pi, 0, (int32_t)ni));
        FR_TRY_CLI(offsets_in(ctx, start, pi->rows, &m->personal_start));
        m->personal_items = copy_of(pi, 4);
        m->personal_rows = copy_of(pr, 4);
        m->personal_cap = pi->rows;
        if (!m->personal_items || !m->personal_rows)
            return fr_cli_fail(FR_ERR_NOMEM, "out of memory reading %s", ctx->path);
    }
    FR_TRY_CLI(load_split(ctx, nu, ni, &r->split));
    uint64_t now = fr_loo_split_fingerprint(&r->split);
    if (now != r->data_fingerprint)
        return fr_cli_fail(FR_ERR_FORMAT, "%s: the split kept in the model has fingerprint %016llx, the model says %016llx: damaged or hand-made?",
                           ctx->path, (unsigned long long)now, (unsigned long long)r->data_fingerprint);
    return FR_OK;
}

/* ---- eval on other data --------------------------------------------------------------- */

/* Ratings in the model's id space: rows of users or items the model does
 * not know dropped (counted). */
static fr_status remap(const fr_ratings *in, const rating_saved *r, fr_ratings *out, size_t *dropped_rows,
                       size_t *new_users, size_t *new_items)
{
    memset(out, 0, sizeof *out);
    size_t nu = r->m.n_users, ni = r->m.n_items;
    fr_id_index users, items;
    fr_status s = fr_id_index_build(&users, r->user_ids, nu);
    if (s == FR_OK)
        s = fr_id_index_build(&items, r->item_ids, ni);
    long *user_of = malloc((in->n_users ? in->n_users : 1) * sizeof *user_of);
    long *item_of = malloc((in->n_items ? in->n_items : 1) * sizeof *item_of);
    out->user = malloc((in->n ? in->n : 1) * sizeof *out->user);
    out->item = malloc((in->n ? in->n : 1) * sizeof *out->item);
    out->rating = malloc((in->n ? in->n : 1) * sizeof *out->rating);
    out->time = malloc((in->n ? in->n : 1) * sizeof *out->time);
    out->user_names = calloc(nu ? nu : 1, sizeof *out->user_names);
    out->item_names = calloc(ni ? ni : 1, sizeof *out->item_names);
    out->n_users = nu;
    out->n_items = ni;
    if (s == FR_OK && (!user_of || !item_of || !out->user || !out->item || !out->rating || !out->time ||
                       !out->user_names || !out->item_names))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the remapped ratings");
    for (size_t i = 0; s == FR_OK && i < nu; i++)
        if (!(out->user_names[i] = strdup(r->user_ids[i])))
            s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the remapped ratings");
    for (size_t i = 0; s == FR_OK && i < ni; i++)
        if (!(out->item_names[i] = strdup(r->item_ids[i])))
            s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the remapped ratings");
    *new_users = *new_items = *dropped_rows = 0;
    for (size_t u = 0; s == FR_OK && u < in->n_users; u++)
        *new_users += (user_of[u] = fr_id_index_find(&users, in->user_names[u])) < 0;
    for (size_t i = 0; s == FR_OK && i < in->n_items; i++)
        *new_items += (item_of[i] = fr_id_index_find(&items, in->item_names[i])) < 0;
    for (size_t k = 0; s == FR_OK && k < in->n; k++) {
        long u = user_of[in->user[k]], i = item_of[in->item[k]];
        if (u < 0 || i < 0) {
            ++*dropped_rows;
            continue;
        }
        out->user[out->n] = (int32_t)u;
        out->item[out->n] = (int32_t)i;
        out->rating[out->n] = in->rating[k];
        out->time[out->n] = in->time[k];
        out->n++;
    }
    free(user_of);
    free(item_of);
    fr_id_index_free(&users);
    fr_id_index_free(&items);
    if (s != FR_OK)
        fr_ratings_free(out);
    return s;
}

/* The split of the data the configuration names, in the model's ids. */
static fr_status split_from_data(const fr_saved_ctx *ctx, const rating_saved *r, fr_loo_split *out, char *what,
                                 size_t cap)
{
    fr_ratings_spec spec;
    const char *path, *source, *split_file;
    int64_t negatives;
    FR_TRY_CLI(fr_config_get_string(ctx->cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(ctx->cfg, "data.split_file", &split_file));
    FR_TRY_CLI(fr_config_get_int(ctx->cfg, "pfedrec.eval_negatives", &negatives));
    if (!strcmp(source, "split") || !strcmp(source, "movielens-msmt") || !strcmp(source, "table"))
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s: a rating model is evaluated on one rating file (movielens, movielens-dat, delimited) or synthetic ratings",
                           source);
    FR_TRY_CLI(fr_cli_ratings_spec(ctx->cfg, &spec, &path));
    fr_ratings in, mapped;
    if (path) {
        FR_TRY_CLI(fr_ratings_read(path, &spec, &in));
    } else {
        int64_t users, items, per_user;
        FR_TRY_CLI(fr_config_get_int(ctx->cfg, "data.users", &users));
        FR_TRY_CLI(fr_config_get_int(ctx->cfg, "data.items", &items));
        FR_TRY_CLI(fr_config_get_int(ctx->cfg, "data.per_user", &per_user));
        fr_implicit_spec gen = {r->o.seed, (size_t)users, (size_t)items, (size_t)per_user};
        FR_TRY_CLI(fr_implicit_generate(&gen, &in));
    }
    size_t dropped, new_users, new_items;
    fr_status s = remap(&in, r, &mapped, &dropped, &new_users, &new_items);
    size_t rows = in.n;
    fr_ratings_free(&in);
    FR_TRY_CLI(s);
    s = *split_file ? fr_loo_split_read(&mapped, split_file, (size_t)negatives, out)
                    : fr_loo_split_make(&mapped, r->o.seed, (size_t)negatives, out);
    fr_ratings_free(&mapped);
    FR_TRY_CLI(s);
    snprintf(what, cap, "%s (%zu rows", path ? path : "synthetic ratings", rows);
    if (dropped)
        snprintf(what + strlen(what), cap - strlen(what),
                 "; %zu left out: %zu user(s) and %zu item(s) the model does not know", dropped, new_users,
                 new_items);
    snprintf(what + strlen(what), cap - strlen(what), ")");
    if (out->n_evaluated == 0)
        return fr_cli_fail(FR_ERR_DATA, "%s: no user of the model has the 3 interactions (with distinct items) that leave-one-out evaluation needs",
                           path ? path : "synthetic ratings");
    return FR_OK;
}

/* Keys a saved rating model's eval accepts: how to compute, what data,
 * how to score; the rest define the model. */
static const char *const eval_keys[] = {"backend.*", "opencl.*", "data.*", "pfedrec.top_k",
                                        "pfedrec.eval_negatives", "run.name", "output.*"};

static const char *selected_text(const rating_saved *r)
{
    return r->from_last ? "the last round" : "the best validation round";
}

int fr_saved_rating_eval(const fr_saved_ctx *ctx, const char *summary)
{
    rating_saved r;
    fr_status s = fr_saved_allow_sets(ctx, eval_keys, sizeof eval_keys / sizeof eval_keys[0]);
    if (s == FR_OK)
        s = load_saved(ctx, &r);
    else
        memset(&r, 0, sizeof r);
    char what[1024] = "";
    fr_loo_split other;
    int use_other = s == FR_OK && (fr_saved_set_changes(ctx, "data.*") ||
                                   fr_saved_set_changes(ctx, "pfedrec.eval_negatives"));
    memset(&other, 0, sizeof other);
    if (use_other)
        s = split_from_data(ctx, &r, &other, what, sizeof what);
    const fr_loo_split *split = use_other ? &other : &r.split;
    fr_pfedrec *p = NULL;
    fr_pfedrec_round st;
    memset(&st, 0, sizeof st);
    if (s == FR_OK)
        s = fr_pfedrec_create(split, &r.o, &p);
    if (s == FR_OK)
        s = fr_pfedrec_model_use(p, &r.m);
    if (s == FR_OK)
        s = fr_pfedrec_evaluate(p, &st);
    int code = FR_EXIT_OK;
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else {
        uint64_t fp = fr_loo_split_fingerprint(split);
        printf("fedrec eval: %s: %s, round %lld of %lld (%s), %zu users, %zu items\n", ctx->path,
               algorithm_name(r.o.algorithm), (long long)r.round, (long long)r.rounds_run, selected_text(&r),
               r.m.n_users, r.m.n_items);
        if (!use_other)
            printf("  on the training data: the split kept in the model (fingerprint %016llx)\n",
                   (unsigned long long)fp);
        else
            printf("  on %s: %zu users evaluated; %s\n", what, split->n_evaluated,
                   fp == r.data_fingerprint ? "the same split as training (fingerprint matches)"
                                            : "a split other than training's");
        printf("  %-10s %8s %9s\n", "", "HR@K", "NDCG@K");
        printf("  %-10s %8.4f %9.4f\n", "validation", st.val_hr, st.val_ndcg);
        printf("  %-10s %8.4f %9.4f\n", "test", st.test_hr, st.test_ndcg);
        size_t negatives = split->negatives_per_eval;
        printf("  (K = %zu; a random ranking of 1 + %zu candidates gives HR@K %.3f)\n", r.o.top_k, negatives,
               r.o.top_k >= negatives + 1 ? 1.0 : (double)r.o.top_k / (double)(negatives + 1));
        if (summary) {
            fr_cli_metric m[] = {{"round", (double)r.round}, {"val_hr", st.val_hr}, {"val_ndcg", st.val_ndcg},
                                 {"test_hr", st.test_hr},   {"test_ndcg", st.test_ndcg},
                                 {"users_evaluated", (double)split->n_evaluated}};
            fr_cli_summary sm = {NULL, NULL, "cpu", NULL, NULL, 0, 0, m, sizeof m / sizeof m[0], st.seconds,
                                 NULL, NULL, NULL, NULL, NULL, NULL, NULL};
            code = fr_cli_write_summary(summary, ctx->cfg, &sm);
        }
    }
    fr_pfedrec_free(p);
    fr_loo_split_free(&other);
    saved_free(&r);
    return code;
}

/* ---- recommend ------------------------------------------------------------------------ */

static const char *const backend_keys[] = {"backend.*"};

int fr_saved_rating_recommend(const fr_saved_ctx *ctx, const fr_recommend_request *rq)
{
    rating_saved r;
    fr_status s = fr_saved_allow_sets(ctx, backend_keys, 1);
    if (s == FR_OK)
        s = load_saved(ctx, &r);
    else
        memset(&r, 0, sizeof r);
    fr_id_index users = {0};
    if (s == FR_OK)
        s = fr_id_index_build(&users, r.user_ids, r.m.n_users);
    fr_pfedrec *p = NULL;
    if (s == FR_OK)
        s = fr_pfedrec_create(&r.split, &r.o, &p);
    if (s == FR_OK)
        s = fr_pfedrec_model_use(p, &r.m);
    size_t ni = r.m.n_items;
    float *scores = s == FR_OK ? malloc(ni * sizeof *scores) : NULL;
    float *top_scores = s == FR_OK ? malloc(rq->top * sizeof *top_scores) : NULL;
    int32_t *top = s == FR_OK ? malloc(rq->top * sizeof *top) : NULL;
    const char **top_ids = s == FR_OK ? malloc(rq->top * sizeof *top_ids) : NULL;
    if (s == FR_OK && (!scores || !top_scores || !top || !top_ids))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for %zu scores", ni);
    int code = s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
    /* Every user is looked up first: an unknown one prints nothing. */
    long *rows = NULL;
    if (code == FR_EXIT_OK && !(rows = malloc((rq->n_users ? rq->n_users : 1) * sizeof *rows)))
        code = fr_cli_report(fr_cli_fail(FR_ERR_NOMEM, "out of memory allocating %zu bytes for the users' rows",
                                         (rq->n_users ? rq->n_users : 1) * sizeof *rows),
                             NULL);
    for (size_t k = 0; code == FR_EXIT_OK && k < rq->n_users; k++)
        if ((rows[k] = fr_id_index_find(&users, rq->users[k])) < 0)
            code = fr_saved_unknown_user(ctx, rq, k, &users);
    if (code == FR_EXIT_OK) {
        char about[400];
        snprintf(about, sizeof about, "%s, round %lld of %lld (%s); %s", algorithm_name(r.o.algorithm),
                 (long long)r.round, (long long)r.rounds_run, selected_text(&r),
                 r.o.algorithm == FR_ALGO_PFEDREC
                     ? (r.m.personal_start ? "each user's own score function over its fine-tuned item rows"
                                           : "each user's own score function over the global item table")
                     : r.o.algorithm == FR_ALGO_FEDNCF ? "each user's own embeddings through the shared NCF layers"
                                                        : "each user's own embedding");
        fr_recommend_begin(rq, ctx, about);
    }
    for (size_t k = 0; code == FR_EXIT_OK && k < rq->n_users; k++) {
        size_t u = (size_t)rows[k];
        s = fr_pfedrec_scores(p, u, scores);
        if (s != FR_OK) {
            code = fr_cli_report(s, NULL);
            break;
        }
        const fr_loo_split *sp = &r.split;
        size_t n_seen = sp->seen_start[u + 1] - sp->seen_start[u];
        s = fr_recommend_scored(rq, k, scores, ni, sp->seen_items + sp->seen_start[u], n_seen, r.item_ids, top,
                                top_scores, top_ids);
        if (s != FR_OK) {
            code = fr_cli_report(s, NULL);
            break;
        }
    }
    if (code == FR_EXIT_OK)
        fr_recommend_end(rq);
    free(rows);
    free(scores);
    free(top_scores);
    free(top);
    free(top_ids);
    fr_id_index_free(&users);
    fr_pfedrec_free(p);
    saved_free(&r);
    return code;
}

/* ---- export --------------------------------------------------------------------------- */

/* Columns c from..to of a rows x width table into a new rows x (to - from) one. */
static float *columns(const float *t, size_t rows, size_t width, size_t from, size_t to)
{
    float *out = malloc(rows * (to - from) != 0 ? rows * (to - from) * sizeof *out : 1);
    for (size_t r = 0; out && r < rows; r++)
        memcpy(out + r * (to - from), t + r * width + from, (to - from) * sizeof *out);
    return out;
}

typedef struct personal_csv {
    const rating_saved *r;
} personal_csv;

static fr_status write_personal_csv(FILE *f, void *arg)
{
    const rating_saved *r = ((personal_csv *)arg)->r;
    const fr_pfedrec_model *m = &r->m;
    fputs("user,item", f);
    for (size_t c = 0; c < m->dim; c++)
        fprintf(f, ",e%zu", c);
    fputc('\n', f);
    for (size_t u = 0; u < m->n_users; u++)
        for (size_t k = m->personal_start[u]; k < m->personal_start[u + 1]; k++) {
            fr_csv_field(f, r->user_ids[u]);
            fputc(',', f);
            fr_csv_field(f, r->item_ids[m->personal_items[k]]);
            for (size_t c = 0; c < m->dim; c++)
                fprintf(f, ",%.9g", (double)m->personal_rows[k * m->dim + c]);
            fputc('\n', f);
        }
    return FR_OK;
}

static fr_status export_ncf_layers(fr_export *e, const rating_saved *r)
{
    const fr_pfedrec_options *o = &r->o;
    for (size_t l = 0; l <= o->n_ncf_layers; l++) {
        size_t out, in, w, b;
        fr_pfedrec_ncf_layer(o, l, &out, &in, &w, &b);
        if (b + out > r->m.n_shared)
            return fr_cli_fail(FR_ERR_FORMAT, "rating.ncf_layers holds %zu values, fewer than pfedrec.ncf_layers needs",
                               r->m.n_shared);
        char stem[64], what[400];
        int last = l == o->n_ncf_layers;
        if (last)
            snprintf(stem, sizeof stem, "ncf_output_weight");
        else
            snprintf(stem, sizeof stem, "ncf_mlp%zu_weight", l + 1);
        if (last)
            snprintf(what, sizeof what, "FedNCF's output layer, 1 x %zu: the logit is this row . [user_gmf * item_gmf ; last MLP layer's output] + ncf_output_bias", in);
        else
            snprintf(what, sizeof what, "FedNCF's MLP layer %zu, %zu x %zu (out x in): ReLU(W x + b), x = %s", l + 1, out,
                     in, l == 0 ? "[user_mlp ; item_mlp]" : "the previous layer's output");
        FR_TRY_CLI(fr_export_array(e, stem, what, FR_MODEL_F32, out, in, r->m.shared + w, NULL, NULL, NULL, "c"));
        if (last)
            snprintf(stem, sizeof stem, "ncf_output_bias");
        else
            snprintf(stem, sizeof stem, "ncf_mlp%zu_bias", l + 1);
        snprintf(what, sizeof what, "the bias of %s", last ? "FedNCF's output layer" : "the MLP layer above");
        FR_TRY_CLI(fr_export_array(e, stem, what, FR_MODEL_F32, 1, out, r->m.shared + b, NULL, NULL, NULL, "c"));
    }
    return FR_OK;
}

static fr_status export_all(const fr_saved_ctx *ctx, fr_export *e, const rating_saved *r)
{
    const fr_pfedrec_model *m = &r->m;
    size_t nu = m->n_users, ni = m->n_items, d = m->dim;
    FR_TRY_CLI(fr_export_ids(e, "users.txt", "original user ids, in the row order of the user arrays", r->user_ids, nu));
    FR_TRY_CLI(fr_export_ids(e, "items.txt", "original item ids, in the row order of the item arrays", r->item_ids, ni));
    if (r->o.algorithm == FR_ALGO_FEDNCF) {
        size_t half = d / 2;
        float *parts[4] = {columns(m->items, ni, d, 0, half), columns(m->items, ni, d, half, d),
                           columns(m->w, nu, d, 0, half), columns(m->w, nu, d, half, d)};
        fr_status s = parts[0] && parts[1] && parts[2] && parts[3]
                          ? FR_OK
                          : fr_cli_fail(FR_ERR_NOMEM, "out of memory for the export");
        if (s == FR_OK)
            s = fr_export_array(e, "item_gmf", "item embeddings of the GMF tower", FR_MODEL_F32, ni, half, parts[0],
                                r->item_ids, "item", "items.txt", "e");
        if (s == FR_OK)
            s = fr_export_array(e, "item_mlp", "item embeddings of the MLP tower", FR_MODEL_F32, ni, half, parts[1],
                                r->item_ids, "item", "items.txt", "e");
        if (s == FR_OK)
            s = fr_export_array(e, "user_gmf", "each user's own GMF embedding", FR_MODEL_F32, nu, half, parts[2],
                                r->user_ids, "user", "users.txt", "e");
        if (s == FR_OK)
            s = fr_export_array(e, "user_mlp", "each user's own MLP embedding", FR_MODEL_F32, nu, half, parts[3],
                                r->user_ids, "user", "users.txt", "e");
        for (int k = 0; k < 4; k++)
            free(parts[k]);
        FR_TRY_CLI(s);
        FR_TRY_CLI(export_ncf_layers(e, r));
    } else {
        FR_TRY_CLI(fr_export_array(e, "item_embeddings",
                                   r->o.algorithm == FR_ALGO_PFEDREC
                                       ? "the item table of the saved round's evaluation (every user's rows but its personal ones)"
                                       : "the item table of the saved round's evaluation",
                                   FR_MODEL_F32, ni, d, m->items, r->item_ids, "item", "items.txt", "e"));
        if (r->o.algorithm == FR_ALGO_PFEDREC) {
            FR_TRY_CLI(fr_export_array(e, "score_weights", "each user's score function weights w", FR_MODEL_F32, nu, d,
                                       m->w, r->user_ids, "user", "users.txt", "w"));
            FR_TRY_CLI(fr_export_array(e, "score_bias", "each user's score function bias b", FR_MODEL_F32, nu, 1, m->b,
                                       r->user_ids, "user", "users.txt", "b"));
        } else {
            FR_TRY_CLI(fr_export_array(e, "user_embeddings", "each user's own embedding", FR_MODEL_F32, nu, d, m->w,
                                       r->user_ids, "user", "users.txt", "e"));
        }
    }
    if (m->personal_start) {
        size_t n = m->personal_start[nu];
        int32_t *index = malloc((n ? n : 1) * 2 * sizeof *index);
        if (!index)
            return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the export");
        for (size_t u = 0; u < nu; u++)
            for (size_t k = m->personal_start[u]; k < m->personal_start[u + 1]; k++) {
                index[2 * k] = (int32_t)u;
                index[2 * k + 1] = m->personal_items[k];
            }
        fr_status s = FR_OK;
        if (e->npy) {
            int csv = e->csv;
            e->csv = 0; /* the CSV form below names users and items by id */
            s = fr_export_array(e, "personal_rows", "each user's fine-tuned item rows (PFedRec): row k is user users.txt[personal_index[k, 0]]'s row of item items.txt[personal_index[k, 1]], replacing item_embeddings' row in its scores",
                                FR_MODEL_F32, n, d, m->personal_rows, NULL, NULL, NULL, "e");
            if (s == FR_OK)
                s = fr_export_array(e, "personal_index", "personal_rows' (user row, item row) pairs, rows of users.txt and items.txt",
                                    FR_MODEL_I32, n, 2, index, NULL, NULL, NULL, "c");
            e->csv = csv;
        }
        free(index);
        FR_TRY_CLI(s);
        personal_csv arg = {r};
        if (e->csv)
            FR_TRY_CLI(fr_export_table(e, "personal_rows.csv", "each user's fine-tuned item rows (PFedRec): user id, item id, the row; they replace item_embeddings' row of that item in the user's scores",
                                       write_personal_csv, &arg));
    }
    char facts[1200];
    const char *score =
        r->o.algorithm == FR_ALGO_PFEDREC
            ? "sigmoid(w . e + b): w, b the user's score_weights and score_bias rows, e the item's row in personal_rows where the user has one, else in item_embeddings"
        : r->o.algorithm == FR_ALGO_FEDNCF
            ? "sigmoid(NCF): the GMF product user_gmf * item_gmf and the MLP of [user_mlp ; item_mlp] through ncf_mlp*_weight/bias (ReLU), joined by ncf_output_weight/bias"
            : "sigmoid(u . e): u the user's user_embeddings row, e the item's item_embeddings row";
    snprintf(facts, sizeof facts,
             "\"algorithm\": \"%s\", \"round\": %lld, \"rounds_run\": %lld, \"saved\": \"%s\", \"users\": %zu, \"items\": %zu, \"score\": \"%s\"",
             algorithm_name(r->o.algorithm), (long long)r->round, (long long)r->rounds_run, selected_text(r), nu, ni,
             score);
    return fr_export_finish(e, ctx->path, ctx->kind, facts);
}

int fr_saved_rating_export(const fr_saved_ctx *ctx, fr_export *e)
{
    rating_saved r;
    fr_status s = load_saved(ctx, &r);
    if (s == FR_OK)
        s = export_all(ctx, e, &r);
    saved_free(&r);
    return s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
}
