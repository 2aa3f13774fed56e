/* job_mtrec.c — `fedrec train` with job.kind = mtrec: load the rating
 * data (three split files, one file split per user, or synthetic data with
 * links and categories) and the side relations, train the MF encoder on
 * the tasks mtrec.tasks lists with the gradient combiner mtrec.combiner
 * names, evaluate full ranking on validation every train.eval_every
 * epochs (and at the last), stop early on validation Recall@20
 * (mtrec.patience evaluations without a better one, after
 * mtrec.min_epochs), and report the test figures of the best epoch.
 * Federated rounds also run on the ranks of an MPI job (cmd_train.c
 * refuses central training there): every rank loads the data, trains its
 * clients and ends each round with the whole table and the same figures,
 * so every rank evaluates alike and takes the same verdicts; rank 0 alone
 * prints and writes the report, summary, model and checkpoints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/job_setup.h"
#include "cli/loss_watch.h"
#include "cli/progress.h"
#include "cli/ranks.h"
#include "cli/saved_model.h"
#include "cli/summary.h"
#include "core/clock.h"
#include "fedrec/backend.h"
#include "fedrec/mtrec.h"

/* A comma-separated list field k (0-based) of s into buf; 0 if absent. */
static int list_field(const char *s, size_t k, char *buf, size_t cap)
{
    for (size_t i = 0; i < k; i++) {
        s = strchr(s, ',');
        if (!s)
            return 0;
        s++;
    }
    size_t len = strcspn(s, ",");
    while (len && *s == ' ') {
        s++;
        len--;
    }
    while (len && s[len - 1] == ' ')
        len--;
    if (len == 0 || len >= cap)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 1;
}

fr_status fr_cli_mtrec_options(const fr_config *cfg, fr_mtr_options *o, int64_t *patience,
                               int64_t *min_epochs, int64_t *epochs)
{
    fr_mtr_options_default(o);
    const char *tasks, *combiner;
    int64_t dim, batch, threads;
    double lr, wd, gamma;
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.tasks", &tasks));
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.combiner", &combiner));
    FR_TRY_CLI(fr_config_get_int(cfg, "mtrec.dim", &dim));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.batch_size", &batch));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.epochs", epochs));
    FR_TRY_CLI(fr_config_get_float(cfg, "train.lr", &lr));
    FR_TRY_CLI(fr_config_get_float(cfg, "train.weight_decay", &wd));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.gamma", &gamma));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.alpha", &o->combine.alpha));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.tau", &o->combine.tau));
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.tau_relative", &o->combine.tau_relative));
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.focusing", &o->combine.focusing));
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.balancing", &o->combine.balancing));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.cagrad_c", &o->combine.cagrad_c));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.gradvac_beta", &o->combine.gradvac_beta));
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.dense_adam", &o->dense_adam));
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.test_excludes_val", &o->test_excludes_val));
    FR_TRY_CLI(fr_config_get_int(cfg, "mtrec.patience", patience));
    FR_TRY_CLI(fr_config_get_int(cfg, "mtrec.min_epochs", min_epochs));
    FR_TRY_CLI(fr_config_get_uint64(cfg, "run.seed", &o->seed));
    FR_TRY_CLI(fr_config_get_int(cfg, "backend.threads", &threads));
    /* The central trainer runs on the CPU: backend.cpu_isa picks its
     * path, and an OpenCL device is refused rather than left unused;
     * federated clients train on the backend as cohorts (mtrec.cohort). */
    const char *backend_kind, *isa;
    int federated;
    FR_TRY_CLI(fr_config_get_string(cfg, "backend.kind", &backend_kind));
    FR_TRY_CLI(fr_config_get_string(cfg, "backend.cpu_isa", &isa));
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.federated", &federated));
    if (!strcmp(backend_kind, "opencl") && !federated)
        return fr_cli_fail(FR_ERR_UNSUPPORTED, "backend.kind = opencl: the mtrec job with mtrec.federated = false trains its embedding rows on the CPU (federated clients train on the backend); use backend.kind = auto or cpu");
    fr_cpu_isa parsed;
    FR_TRY_CLI(fr_cpu_isa_parse(isa, &parsed));
    o->cpu_isa = (int)parsed;
    if (fr_combine_method_parse(combiner, &o->combine.method) != FR_OK)
        return fr_cli_fail(FR_ERR_CONFIG, "mtrec.combiner = %s: expected pmtrec, ew, main, rlw, pcgrad, cagrad, gradvac, graddrop, nash, aligned or mgda",
                           combiner);
    o->n_tasks = 0;
    char name[64];
    size_t fields = 1;
    for (const char *c = tasks; *c; c++)
        fields += *c == ',';
    for (size_t k = 0; k < fields; k++) {
        if (!list_field(tasks, k, name, sizeof name))
            return fr_cli_fail(FR_ERR_CONFIG, "mtrec.tasks = '%s': field %zu is empty or too long, expected a task name",
                               tasks, k + 1);
        if (o->n_tasks == FR_COMBINE_MAX_TASKS)
            return fr_cli_fail(FR_ERR_CONFIG, "mtrec.tasks = '%s': at most %d tasks", tasks, FR_COMBINE_MAX_TASKS);
        if (fr_mtr_task_parse(name, &o->tasks[o->n_tasks]) != FR_OK)
            return fr_cli_fail(FR_ERR_CONFIG, "mtrec.tasks = '%s': '%s' is not one of bpr, directau, rating, social, itempair, category",
                               tasks, name);
        o->n_tasks++;
    }
    if (o->n_tasks == 0 || o->tasks[0] != FR_MTR_BPR)
        return fr_cli_fail(FR_ERR_CONFIG, "mtrec.tasks = '%s': expected a comma-separated list that starts with bpr (the main task)",
                           tasks);
    o->dim = (size_t)dim;
    o->batch = (size_t)batch;
    o->lr = (float)lr;
    o->weight_decay = (float)wd;
    o->gamma = gamma;
    o->threads = (int)threads;
    return FR_OK;
}

/* mtrec.relation_delimiter; empty (its default): data.delimiter's. */
static fr_status delimiter_of(const fr_config *cfg, char *out)
{
    FR_TRY_CLI(fr_config_get_delimiter(cfg, "mtrec.relation_delimiter", out));
    if (!*out)
        FR_TRY_CLI(fr_config_get_delimiter(cfg, "data.delimiter", out));
    return FR_OK;
}

/* The 0-based column data.columns names `category` (the last one named),
 * -1 when none or when the source reads no columns. */
static fr_status category_column(const fr_config *cfg, int *col)
{
    const char *source, *columns;
    *col = -1;
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.columns", &columns));
    if (strcmp(source, "delimited") && strcmp(source, "split"))
        return FR_OK;
    int k = 0;
    for (const char *c = columns;; k++) {
        size_t len = strcspn(c, ",");
        if (len == 8 && !strncmp(c, "category", 8))
            *col = k;
        if (!c[len])
            break;
        c += len + 1;
    }
    return FR_OK;
}

/* The categories of a category column of the rating files. */
static fr_status column_categories(const fr_config *cfg, fr_mtr_data *d, const char *const *paths, size_t n_paths,
                                   const fr_ratings_spec *spec, int quiet)
{
    int col;
    FR_TRY_CLI(category_column(cfg, &col));
    if (col < 0)
        return FR_OK;
    size_t with = 0;
    FR_TRY_CLI(fr_mtr_read_category_column(d, paths, n_paths, spec, col, &with));
    if (!quiet)
        printf("categories from column %d of the rating file%s: %zu of %zu items have one or more (%zu categories)\n",
               col + 1, n_paths == 1 ? "" : "s", with, d->n_items, d->n_categories);
    return FR_OK;
}

static fr_status load_relations(const fr_config *cfg, fr_mtr_data *d, int quiet)
{
    const char *links, *pairs, *categories;
    char delim = ',';
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.links", &links));
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.item_pairs", &pairs));
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.categories", &categories));
    FR_TRY_CLI(delimiter_of(cfg, &delim));
    size_t skipped = 0;
    if (*links) {
        FR_TRY_CLI(fr_mtr_read_links(d, links, delim, &skipped));
        if (!quiet && skipped)
            printf("%s: %zu line(s) skipped (a user without ratings, or a self-link)\n", links, skipped);
    }
    if (*pairs) {
        FR_TRY_CLI(fr_mtr_read_item_pairs(d, pairs, delim, &skipped));
        if (!quiet && skipped)
            printf("%s: %zu line(s) skipped (an item without ratings, or a self-pair)\n", pairs, skipped);
    }
    if (*categories) {
        size_t duplicates = 0;
        FR_TRY_CLI(fr_mtr_read_categories(d, categories, delim, &skipped, &duplicates));
        if (!quiet && skipped)
            printf("%s: %zu line(s) skipped (an item without ratings)\n", categories, skipped);
        if (!quiet && duplicates)
            printf("%s: %zu repeated item-category pair(s) skipped\n", categories, duplicates);
    }
    return FR_OK;
}

/* The relations, or the data freed: the caller owns d only on success. */
static fr_status relations_or_free(const fr_config *cfg, fr_mtr_data *d, int quiet)
{
    fr_status s = load_relations(cfg, d, quiet);
    if (s != FR_OK)
        fr_mtr_data_free(d);
    return s;
}

fr_status fr_cli_mtrec_load_data(const fr_config *cfg, fr_mtr_data *d, char *what, size_t what_cap, int quiet)
{
    const char *source, *path, *parts;
    double test_min, train_share, val_share;
    uint64_t seed;
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.parts", &parts));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.test_min_rating", &test_min));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.train_share", &train_share));
    FR_TRY_CLI(fr_config_get_float(cfg, "mtrec.val_share", &val_share));
    FR_TRY_CLI(fr_config_get_uint64(cfg, "run.seed", &seed));
    if (!strcmp(source, "movielens-msmt") || !strcmp(source, "table"))
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s is a feature table for the msmt jobs; job.kind = mtrec reads ratings (split, movielens, movielens-dat, delimited or synthetic)",
                           source);
    if (!strcmp(source, "synthetic")) {
        int64_t users, items, per_user, categories, links;
        FR_TRY_CLI(fr_config_get_int(cfg, "data.users", &users));
        FR_TRY_CLI(fr_config_get_int(cfg, "data.items", &items));
        FR_TRY_CLI(fr_config_get_int(cfg, "data.per_user", &per_user));
        FR_TRY_CLI(fr_config_get_int(cfg, "mtrec.synthetic_categories", &categories));
        FR_TRY_CLI(fr_config_get_int(cfg, "mtrec.synthetic_links", &links));
        fr_mtr_synthetic_spec sp = {seed, (size_t)users, (size_t)items, (size_t)per_user,
                                    (size_t)categories, (size_t)links};
        FR_TRY_CLI(fr_mtr_synthetic(&sp, d));
        snprintf(what, what_cap, "synthetic data (%zu users, %zu items, %zu categories, %zu links per user)",
                 sp.users, sp.items, sp.categories, sp.links_per_user);
        return relations_or_free(cfg, d, quiet);
    }
    fr_ratings_spec spec;
    FR_TRY_CLI(fr_cli_ratings_spec(cfg, &spec, &path));
    if (!strcmp(source, "split")) {
        char names[3][256], full[3][4096];
        const char *paths[3];
        for (size_t k = 0; k < 3; k++) {
            if (!list_field(parts, k, names[k], sizeof names[k]))
                return fr_cli_fail(FR_ERR_CONFIG, "mtrec.parts = '%s': expected three file names (training, validation, test) separated by commas",
                                   parts);
            snprintf(full[k], sizeof full[k], "%s/%s", path, names[k]);
            paths[k] = full[k];
        }
        fr_ratings r[3];
        FR_TRY_CLI(fr_ratings_read_parts(paths, 3, &spec, r));
        fr_status s = fr_mtr_data_from_parts(r, (float)test_min, d);
        for (size_t k = 0; k < 3; k++)
            fr_ratings_free(&r[k]);
        FR_TRY_CLI(s);
        s = column_categories(cfg, d, paths, 3, &spec, quiet);
        if (s != FR_OK) {
            fr_mtr_data_free(d);
            return s;
        }
        snprintf(what, what_cap, "%s/{%s}", path, parts);
    } else {
        fr_ratings r;
        FR_TRY_CLI(fr_ratings_read(path, &spec, &r));
        fr_status s = fr_mtr_data_split(&r, seed, train_share, val_share, (float)test_min, d);
        fr_ratings_free(&r);
        FR_TRY_CLI(s);
        s = spec.format == FR_RATINGS_DELIMITED ? column_categories(cfg, d, &path, 1, &spec, quiet) : FR_OK;
        if (s != FR_OK) {
            fr_mtr_data_free(d);
            return s;
        }
        snprintf(what, what_cap, "%s (split per user %.0f/%.0f/%.0f)", path, 100 * train_share,
                 100 * val_share, 100 * (1 - train_share - val_share));
    }
    return relations_or_free(cfg, d, quiet);
}

static size_t cutoff_index(size_t k)
{
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
        if (fr_rank_cutoffs[c] == k)
            return c;
    return 2;
}

static void report_header(FILE *f, const fr_mtr_options *o)
{
    fprintf(f, "epoch");
    for (size_t t = 0; t < o->n_tasks; t++)
        fprintf(f, ",loss_%s", fr_mtr_task_name(o->tasks[t]));
    for (size_t t = 0; t < o->n_tasks; t++)
        fprintf(f, ",weight_%s", fr_mtr_task_name(o->tasks[t]));
    for (size_t t = 0; t < o->n_tasks; t++)
        fprintf(f, ",norm_%s", fr_mtr_task_name(o->tasks[t]));
    fprintf(f, ",conflicts");
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
        fprintf(f, ",valid_recall@%zu", fr_rank_cutoffs[c]);
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
        fprintf(f, ",valid_ndcg@%zu", fr_rank_cutoffs[c]);
    fprintf(f, ",upload_bytes,train_seconds,eval_seconds\n");
}

static void report_row(FILE *f, int jsonl, const fr_mtr_options *o, unsigned epoch,
                       const fr_mtr_epoch *e, const fr_rank_metrics *v, uint64_t upload,
                       double eval_seconds)
{
    if (!jsonl) {
        fprintf(f, "%u", epoch + 1);
        for (size_t t = 0; t < o->n_tasks; t++)
            fprintf(f, ",%.6g", e->loss[t]);
        for (size_t t = 0; t < o->n_tasks; t++)
            fprintf(f, ",%.6g", e->combine.weight[t]);
        for (size_t t = 0; t < o->n_tasks; t++)
            fprintf(f, ",%.6g", e->combine.norm[t]);
        fprintf(f, ",%u", e->combine.conflicts);
        /* an epoch not evaluated (train.eval_every): empty cells */
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
            v ? fprintf(f, ",%.6f", v->recall[c]) : fputc(',', f);
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
            v ? fprintf(f, ",%.6f", v->ndcg[c]) : fputc(',', f);
        fprintf(f, ",%llu,%.4f,%.4f\n", (unsigned long long)upload, e->t_train, eval_seconds);
        return;
    }
    fr_cli_json_row r;
    char key[64];
    fr_cli_json_begin(&r, f);
    fr_cli_json_int(&r, "epoch", (long long)epoch + 1);
    for (size_t t = 0; t < o->n_tasks; t++) {
        snprintf(key, sizeof key, "loss_%s", fr_mtr_task_name(o->tasks[t]));
        fr_cli_json_num(&r, key, e->loss[t]);
    }
    for (size_t t = 0; t < o->n_tasks; t++) {
        snprintf(key, sizeof key, "weight_%s", fr_mtr_task_name(o->tasks[t]));
        fr_cli_json_num(&r, key, e->combine.weight[t]);
    }
    for (size_t t = 0; t < o->n_tasks; t++) {
        snprintf(key, sizeof key, "norm_%s", fr_mtr_task_name(o->tasks[t]));
        fr_cli_json_num(&r, key, e->combine.norm[t]);
    }
    fr_cli_json_int(&r, "conflicts", (long long)e->combine.conflicts);
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
        snprintf(key, sizeof key, "valid_recall@%zu", fr_rank_cutoffs[c]);
        fr_cli_json_num(&r, key, v ? v->recall[c] : NAN); /* null: not evaluated */
    }
    for (size_t c = 0; c < FR_RANK_CUTOFFS; c++) {
        snprintf(key, sizeof key, "valid_ndcg@%zu", fr_rank_cutoffs[c]);
        fr_cli_json_num(&r, key, v ? v->ndcg[c] : NAN);
    }
    fr_cli_json_int(&r, "upload_bytes", (long long)upload);
    fr_cli_json_num(&r, "train_seconds", e->t_train);
    fr_cli_json_num(&r, "eval_seconds", eval_seconds);
    fr_cli_json_end(&r);
}

/* The driver's bookkeeping across epochs: what a checkpoint keeps beside
 * the trainer (doc/RELIABILITY.md), so that a resumed run goes on to the
 * uninterrupted run's figures, summary and model. */
typedef struct mtrec_run {
    fr_rank_metrics best_val, best_test;
    fr_mtr_epoch best_ep;
    int64_t best_epoch, since_best; /* since_best: evaluations since the best one */
    int finished;                   /* stopped early (mtrec.patience): nothing left to train */
    double train_seconds, eval_seconds;
    fr_cli_loss_watch watch;
} mtrec_run;

/* A run's values as doubles, one order both ways (counts are far below
 * 2^53, so exact): COUNT counts them, SAVE writes them to v, LOAD reads
 * them back. */
enum { RUN_COUNT, RUN_SAVE, RUN_LOAD };
#define RUN_VALUES_MAX 128

typedef struct run_values {
    double *v;
    size_t k;
    int mode;
} run_values;

static void val_d(run_values *c, double *x)
{
    if (c->mode == RUN_SAVE)
        c->v[c->k] = *x;
    else if (c->mode == RUN_LOAD)
        *x = c->v[c->k];
    c->k++;
}

static void val_i(run_values *c, int64_t *x)
{
    double d = (double)*x;
    val_d(c, &d);
    *x = (int64_t)d;
}

static void val_z(run_values *c, size_t *x)
{
    int64_t i = (int64_t)*x;
    val_i(c, &i);
    *x = (size_t)i;
}

static void val_int(run_values *c, int *x)
{
    int64_t i = *x;
    val_i(c, &i);
    *x = (int)i;
}

static void val_metrics(run_values *c, fr_rank_metrics *m)
{
    val_z(c, &m->users);
    for (size_t k = 0; k < FR_RANK_CUTOFFS; k++) {
        val_d(c, &m->recall[k]);
        val_d(c, &m->ndcg[k]);
    }
}

static size_t run_values_of(mtrec_run *r, double *v, int mode)
{
    run_values c = {v, 0, mode};
    int64_t finished = r->finished, conflicts = r->best_ep.combine.conflicts, seen = r->watch.seen;
    val_i(&c, &r->best_epoch);
    val_i(&c, &r->since_best);
    val_i(&c, &finished);
    val_d(&c, &r->train_seconds);
    val_d(&c, &r->eval_seconds);
    val_metrics(&c, &r->best_val);
    val_metrics(&c, &r->best_test);
    for (size_t t = 0; t < FR_COMBINE_MAX_TASKS; t++) {
        val_d(&c, &r->best_ep.loss[t]);
        val_d(&c, &r->best_ep.combine.weight[t]);
        val_d(&c, &r->best_ep.combine.norm[t]);
    }
    val_i(&c, &conflicts);
    val_z(&c, &r->best_ep.steps);
    val_d(&c, &r->best_ep.t_train);
    /* the 'not learning' warning: said once over the whole run */
    val_d(&c, &r->watch.first);
    for (size_t k = 0; k < FR_CLI_LOSS_WINDOW; k++)
        val_d(&c, &r->watch.window[k]);
    val_i(&c, &seen);
    val_int(&c, &r->watch.warned);
    if (mode == RUN_LOAD) {
        r->finished = finished != 0;
        r->best_ep.combine.conflicts = (unsigned)conflicts;
        r->watch.seen = (long long)seen;
    }
    return c.k;
}

/* The trainer and the run after `done` epochs. The best epoch's table
 * goes in when it is not the checkpoint's own (the table itself), so that
 * output.model, which a resume may add, saves the uninterrupted run's. */
static fr_status save_checkpoint(fr_mtr *m, const char *path, const char *job, int64_t done, mtrec_run *r,
                                 const float *best_table)
{
    double v[RUN_VALUES_MAX];
    size_t n = run_values_of(r, v, RUN_SAVE);
    const float *best = r->best_epoch > 0 && r->best_epoch != done ? best_table : NULL;
    fr_mtr_checkpoint c = {(unsigned)done, job, v, n, (float *)best, 0};
    return fr_mtr_checkpoint_save(m, path, &c);
}

/* Back from a checkpoint: the trainer, the run, *start (the epochs it
 * holds) and the best epoch's table (best_table: room for one). */
static fr_status load_checkpoint(fr_mtr *m, const char *path, const char *job, mtrec_run *r, float *best_table,
                                 size_t table_floats, unsigned *start)
{
    double v[RUN_VALUES_MAX];
    mtrec_run got = *r;
    fr_mtr_checkpoint c = {0, job, v, run_values_of(&got, v, RUN_COUNT), best_table, 0};
    FR_TRY_CLI(fr_mtr_checkpoint_load(m, path, &c));
    run_values_of(&got, v, RUN_LOAD);
    /* What the checks of the file cannot know: the run's own values. */
    if (got.best_epoch < 0 || got.best_epoch > (int64_t)c.epochs_done || got.since_best < 0 ||
        (got.best_epoch > 0 && got.best_epoch < (int64_t)c.epochs_done && !c.has_best))
        return fr_cli_fail(FR_ERR_FORMAT, "%s: the checkpoint's run is inconsistent (best epoch %lld of %u, %lld evaluations since, %s best table)",
                           path, (long long)got.best_epoch, c.epochs_done, (long long)got.since_best,
                           c.has_best ? "a" : "no");
    if (got.best_epoch == (int64_t)c.epochs_done && got.best_epoch > 0)
        memcpy(best_table, fr_mtr_embeddings(m), table_floats * sizeof *best_table);
    *r = got;
    *start = c.epochs_done;
    return FR_OK;
}

/* A failure on any rank ends every rank here, reported once. */
static fr_status agree_or_free(fr_comm *comm, fr_status s, char *job, float *best_table, fr_mtr *m,
                               fr_mtr_data *data)
{
    s = fr_cli_agree(comm, s);
    if (s != FR_OK) {
        free(job);
        free(best_table);
        fr_mtr_free(m);
        if (data)
            fr_mtr_data_free(data);
    }
    return s;
}

/* The backend federated clients train on as cohorts (mtrec.federated with
 * mtrec.cohort > 0 or backend.kind = opencl), opened here; else NULL. */
static fr_status cohort_backend(const fr_config *cfg, fr_backend **be)
{
    const char *backend_kind;
    int64_t cohort;
    int federated;
    *be = NULL;
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.federated", &federated));
    FR_TRY_CLI(fr_config_get_string(cfg, "backend.kind", &backend_kind));
    FR_TRY_CLI(fr_config_get_int(cfg, "mtrec.cohort", &cohort));
    if (!federated || (cohort == 0 && strcmp(backend_kind, "opencl")))
        return FR_OK;
    return fr_cli_open_backend(cfg, be);
}

static int run_mtrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm,
                     fr_backend *be);

int fr_cli_run_mtrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm)
{
    fr_backend *be = NULL;
    fr_status s = fr_cli_agree(comm, cohort_backend(cfg, &be));
    if (s != FR_OK) {
        fr_backend_close(be);
        return fr_cli_report(s, NULL);
    }
    int code = run_mtrec(cfg, quiet, summary, resume, comm, be);
    fr_backend_close(be); /* after the model, which trains on it */
    return code;
}

static int run_mtrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm,
                     fr_backend *be)
{
    int rank = fr_comm_rank(comm), ranks = fr_comm_size(comm);
    if (rank != 0) { /* rank 0 prints and writes; the others train */
        quiet = 1;
        summary = NULL;
    }
    const char *report_path, *format, *name;
    fr_config_get_string(cfg, "output.report", &report_path);
    fr_config_get_string(cfg, "output.report_format", &format);
    fr_config_get_string(cfg, "run.name", &name);
    double t0 = fr_clock_seconds();
    fr_mtr_options o;
    int64_t patience, min_epochs, epochs, eval_every = 1, ckpt_every = 1;
    fr_status s = fr_cli_mtrec_options(cfg, &o, &patience, &min_epochs, &epochs);
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "train.eval_every", &eval_every);
    /* output.model: the best validation epoch's table (or the last's). */
    const char *model_path, *model_from, *ckpt_path;
    fr_config_get_string(cfg, "output.model", &model_path);
    fr_config_get_string(cfg, "output.model_from", &model_from);
    fr_config_get_string(cfg, "output.checkpoint", &ckpt_path);
    int model_last = !strcmp(model_from, "last");
    if (s == FR_OK && *model_path && rank == 0)
        s = fr_saved_check_writable("output.model", model_path);
    if (rank != 0)
        report_path = "";
    int federated = 0;
    double client_lr = 0.05, server_lr = 1;
    int64_t rounds = 0, local_steps = 1;
    fr_mtr_fed_options fo;
    fr_mtr_fed_options_default(&fo);
    if (s == FR_OK)
        s = fr_config_get_bool(cfg, "mtrec.federated", &federated);
    if (s == FR_OK)
        s = fr_config_get_float(cfg, "mtrec.client_fraction", &fo.client_fraction);
    if (s == FR_OK)
        s = fr_config_get_float(cfg, "mtrec.client_lr", &client_lr);
    if (s == FR_OK)
        s = fr_config_get_float(cfg, "mtrec.server_lr", &server_lr);
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "mtrec.local_steps", &local_steps);
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "train.rounds", &rounds);
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "train.checkpoint_every", &ckpt_every);
    if (s == FR_OK && resume && !*ckpt_path)
        s = fr_cli_fail(FR_ERR_CONFIG, "--resume needs output.checkpoint");
    fo.client_lr = (float)client_lr;
    fo.server_lr = (float)server_lr;
    fo.local_steps = (size_t)local_steps;
    int64_t cohort = 0;
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "mtrec.cohort", &cohort);
    fo.backend = be;
    fo.cohort = (size_t)cohort;
    const char *placement = "contiguous";
    if (s == FR_OK && ranks > 1)
        s = fr_config_get_string(cfg, "fed.placement", &placement);
    /* The federation core's participation and screening (fed.*, fault.*,
     * privacy.local_noise: doc/CONFIG.md), for federated rounds. */
    if (s == FR_OK && federated)
        s = fr_cli_participation(cfg, &fo.participation);
    if (s == FR_OK && federated)
        s = fr_cli_screening(cfg, &fo.clip_norm, &fo.fault_nan, &fo.fault_huge);
    if (s == FR_OK && federated)
        s = fr_config_get_float(cfg, "privacy.local_noise", &fo.local_noise);
    if ((s = agree_or_free(comm, s, NULL, NULL, NULL, NULL)) != FR_OK)
        return fr_cli_report(s, NULL);
    if (federated)
        epochs = rounds; /* a round is the federated epoch */
    const char *unit = federated ? "round" : "epoch";
    fr_mtr_data data;
    char what[8192];
    s = fr_cli_mtrec_load_data(cfg, &data, what, sizeof what, quiet);
    fr_status loaded = s;
    s = fr_cli_agree(comm, s);
    if (s != FR_OK) {
        if (loaded == FR_OK)
            fr_mtr_data_free(&data);
        return fr_cli_report(s, NULL);
    }
    fr_mtr *m = NULL;
    fr_cli_progress progress;
    fr_cli_progress_init(&progress, quiet, unit, 1, (long long)epochs);
    o.progress = fr_cli_progress_hook(&progress);
    s = fr_mtr_create(&data, &o, &m);
    /* The job's fingerprint, kept in checkpoints and checked on resume. */
    char *job = NULL;
    if (s == FR_OK && (*ckpt_path || ranks > 1))
        s = fr_config_fingerprint(cfg, &job);
    size_t table_floats = (data.n_users + data.n_items) * o.dim;
    /* The best epoch's table: for output.model, and for checkpoints (a
     * resume may add output.model). */
    float *best_table = NULL;
    if (s == FR_OK && ((*model_path && !model_last) || *ckpt_path) &&
        !(best_table = malloc(table_floats * sizeof *best_table)))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the best epoch's model (%zu floats)", table_floats);
    mtrec_run run;
    memset(&run, 0, sizeof run);
    char hint[256] = "";
    if (!federated && o.dense_adam && o.weight_decay > 0)
        snprintf(hint, sizeof hint, "mtrec.dense_adam = true with train.weight_decay = %g decays all %zu rows every step, though a batch touches few of them (mtrec.dense_adam = false steps only the touched rows)",
                 (double)o.weight_decay, data.n_users + data.n_items);
    else if (!federated && o.weight_decay > 0)
        /* Lazy Adam too: L2 is added to the gradient, and a large table's
         * rows get small ones (each is a batch mean's share, and pmtrec's
         * weights, which sum to 1, shrink them further): measured on the
         * generated 22k x 296k set, pmtrec at lr 0.01 stays at ln 2 with
         * decay 1e-4 and learns with 1e-5 (doc/MTREC.md). */
        snprintf(hint, sizeof hint, "train.weight_decay = %g, added to each row's gradient, outweighing the task gradients of a table of %zu rows (each row's share of a batch mean is small%s): try 1e-5 or 0",
                 (double)o.weight_decay, data.n_users + data.n_items,
                 o.combine.method == FR_COMBINE_PMTREC ? ", and pmtrec's weights, which sum to 1, make it smaller" : "");
    fr_cli_loss_watch_init(&run.watch, rank == 0, unit, federated ? "mtrec.client_lr" : "train.lr", federated ? fo.client_lr : o.lr,
                           "train.weight_decay", o.weight_decay, hint);
    /* Every rank gets here: one verdict, then the rounds' own exchanges
     * (the ranks compare their jobs and data first). */
    if ((s = agree_or_free(comm, s, job, best_table, m, &data)) != FR_OK)
        return fr_cli_report(s, NULL);
    if (ranks > 1)
        s = fr_mtr_federated_set_comm(m, &fo, comm, job, what, !strcmp(placement, "round-robin"));
    fr_cli_ranks rk;
    char device[128];
    if (be)
        snprintf(device, sizeof device, "%s, cohorts of %zu", fr_backend_describe(be),
                 fo.cohort ? fo.cohort : (size_t)1024);
    else
        fr_cli_cpu_device(o.threads, o.cpu_isa, device, sizeof device);
    if (s == FR_OK)
        s = fr_cli_ranks_open(&rk, comm, cfg, device, quiet);
    if (s != FR_OK) {
        free(job);
        free(best_table);
        fr_mtr_free(m);
        fr_mtr_data_free(&data);
        return fr_cli_report(s, NULL);
    }
    unsigned start = 0;
    /* On several ranks every rank reads the checkpoint rank 0 wrote. */
    if (s == FR_OK && resume)
        s = load_checkpoint(m, ckpt_path, job, &run, best_table, table_floats, &start);
    if (s == FR_OK && resume && *report_path)
        s = fr_cli_trim_report(report_path, (int64_t)start);
    if (s == FR_OK && resume)
        fr_cli_ranks_checkpoint(&rk, ckpt_path, (long long)start);
    int jsonl = !strcmp(format, "jsonl");
    FILE *report = NULL;
    if (s == FR_OK && *report_path) {
        report = fopen(report_path, resume ? "a" : "w");
        if (!report)
            s = fr_cli_fail(FR_ERR_IO, "%s: cannot write the report: %s", report_path, strerror(errno));
        else if (!jsonl && !(resume && ftell(report) > 0))
            report_header(report, &o);
    }
    s = fr_cli_agree(comm, s); /* rank 0's report: every rank learns whether it opened */
    if (s == FR_OK)
        s = fr_cli_ranks_open_report(&rk, resume, (long long)start);
    if (s != FR_OK) {
        if (report)
            fclose(report);
        fr_cli_ranks_close(&rk, FR_EXIT_OK);
        free(job);
        free(best_table);
        fr_mtr_free(m);
        fr_mtr_data_free(&data);
        return fr_cli_report(s, NULL);
    }
    size_t at20 = cutoff_index(20);
    if (!quiet) {
        size_t val_users = 0, test_users = 0;
        for (size_t u = 0; u < data.n_users; u++) {
            val_users += data.val_start[u + 1] > data.val_start[u];
            test_users += data.test_start[u + 1] > data.test_start[u];
        }
        printf("fedrec train: %s: %smulti-task MF (dim %zu) with combiner %s on %s\n", name,
               federated ? "federated (every user a client, items shared as in FedMF) " : "", o.dim,
               fr_combine_method_name(o.combine.method), what);
        printf("%zu users, %zu items, %zu training interactions; %zu validation and %zu test users; tasks:",
               data.n_users, data.n_items, data.n_train, val_users, test_users);
        for (size_t t = 0; t < o.n_tasks; t++)
            printf(" %s", fr_mtr_task_name(o.tasks[t]));
        if (be)
            printf("\nclients trained on %s", device);
        printf("\nearly stopping on validation Recall@20: patience %lld%s, not before %s %lld, at most %lld %ss",
               (long long)patience, eval_every > 1 ? " evaluations" : "", unit, (long long)min_epochs,
               (long long)epochs, unit);
        if (eval_every > 1)
            printf("; evaluated every %lld %ss and at the last", (long long)eval_every, unit);
        printf("\n");
        if (resume)
            printf("resuming after %s %u from %s%s\n", unit, start, ckpt_path,
                   run.finished ? " (the run had stopped early there: nothing left to train)" : "");
        printf("\n");
        printf("%6s %10s %9s %11s %10s %8s %8s%s\n", unit, "bpr_loss", "w_main", "val_R@20", "val_N@20",
               "train_s", "eval_s", federated ? "  upload_KiB" : "");
    }
    fr_cli_progress_init(&progress, quiet, unit, (long long)start + 1, (long long)epochs);
    int64_t done = start, checkpointed = resume ? (int64_t)start : -1;
    int cut_short = 0; /* a stop inside an epoch: the table holds part of its steps */
    for (int64_t e = start; s == FR_OK && !run.finished && e < epochs; e++) {
        /* A stop is taken between epochs or rounds; on several ranks they
         * agree on it first (interrupt.h), so that all stop after the same
         * round. */
        s = fr_cli_interrupt_agree(comm);
        if (s != FR_OK || fr_cli_interrupted())
            break;
        fr_mtr_epoch ep;
        uint64_t upload = 0;
        s = federated ? fr_mtr_federated_round(m, (unsigned)e, &fo, &ep, &upload)
                      : fr_mtr_train_epoch(m, (unsigned)e, &ep);
        if (s == FR_OK && federated) {
            fr_mtr_fed_traffic t;
            fr_mtr_federated_traffic(m, &t);
            s = fr_cli_ranks_round(&rk, (long long)e + 1, t.bytes_sent, t.bytes_received, t.t_comm, t.t_local,
                                   t.trained_here);
        }
        if (s != FR_OK || ep.stopped) {
            cut_short = s == FR_OK;
            break; /* a failure, or cut short by a stop: not an epoch */
        }
        /* eval_s: everything after the training steps, validation, the
         * test ranking of an improving epoch and the copy of its table
         * included, so train + eval is the epoch's whole time. */
        double te = fr_clock_seconds();
        int evaluate = (e + 1) % eval_every == 0 || e + 1 == epochs;
        fr_rank_metrics v;
        int improved = 0;
        if (evaluate) {
            s = fr_mtr_evaluate(m, 0, &v);
            improved = run.best_epoch == 0 || v.recall[at20] > run.best_val.recall[at20];
            run.since_best = improved ? 0 : run.since_best + 1;
        }
        if (s == FR_OK && improved) {
            run.best_val = v;
            run.best_ep = ep;
            run.best_epoch = e + 1;
            s = fr_mtr_evaluate(m, 1, &run.best_test);
            if (best_table)
                memcpy(best_table, fr_mtr_embeddings(m), table_floats * sizeof *best_table);
        }
        double eval_s = fr_clock_seconds() - te;
        run.train_seconds += ep.t_train;
        run.eval_seconds += eval_s;
        done = e + 1;
        fr_cli_progress_clear(&progress);
        if (!quiet) {
            printf("%6lld %10.5f %9.4f", (long long)(e + 1), ep.loss[0], ep.combine.weight[0]);
            if (evaluate)
                printf(" %11.5f %10.5f", v.recall[at20], v.ndcg[at20]);
            else
                printf(" %11s %10s", "-", "-");
            printf(" %8.3f %8.3f", ep.t_train, eval_s);
            if (federated)
                printf(" %12.1f", (double)upload / 1024.0);
            printf("%s\n", improved ? "  *" : "");
            fflush(stdout);
        }
        if (report) {
            report_row(report, jsonl, &o, (unsigned)e, &ep, evaluate ? &v : NULL, upload, eval_s);
            fflush(report);
        }
        fr_cli_loss_watch_step(&run.watch, ep.loss[0]);
        fr_cli_progress_next(&progress);
        if (evaluate && patience > 0 && e + 1 >= min_epochs && run.since_best >= patience)
            run.finished = 1;
        /* The checkpoint last: a run killed before it is written resumes
         * from the one before and rewrites this epoch's report row. */
        if (s == FR_OK && *ckpt_path && ((e + 1) % ckpt_every == 0 || e + 1 == epochs || run.finished)) {
            fr_cli_ranks_checkpoint_writing(&rk, ckpt_path, (long long)e + 1);
            if (rank == 0) /* every rank holds the same table */
                s = save_checkpoint(m, ckpt_path, job, e + 1, &run, best_table);
            s = fr_cli_agree(comm, s);
            if (s == FR_OK)
                fr_cli_ranks_checkpoint(&rk, ckpt_path, (long long)e + 1);
            checkpointed = e + 1;
        }
    }
    fr_cli_progress_clear(&progress);
    /* A signal during the last round: every rank takes it alike. */
    if (s == FR_OK)
        s = fr_cli_interrupt_agree(comm);
    /* Stopped by a signal between epochs: the epochs run so far are
     * checkpointed too. One cut short holds part of an epoch's steps,
     * which no checkpoint keeps: the last one stands. */
    if (s == FR_OK && fr_cli_interrupted() && *ckpt_path && checkpointed != done) {
        if (!cut_short && done > (int64_t)start) {
            if (rank == 0)
                s = save_checkpoint(m, ckpt_path, job, done, &run, best_table);
            s = fr_cli_agree(comm, s);
            if (s == FR_OK && !quiet)
                printf("checkpoint of %s %lld written to %s (continue with --resume)\n", unit, (long long)done,
                       ckpt_path);
        } else if (!quiet && checkpointed > 0) {
            printf("the checkpoint in %s holds %s %lld (continue from there with --resume; the %s the stop cut short is not kept)\n",
                   ckpt_path, unit, (long long)checkpointed, unit);
        }
    }
    int code = fr_cli_close_report(report, report_path, s == FR_OK, FR_EXIT_OK);
    code = fr_cli_ranks_close(&rk, code);
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else if (rank == 0) {
        double wall = fr_clock_seconds() - t0;
        if (fr_cli_interrupted())
            fr_cli_interrupt_say(unit, (long long)done, (long long)epochs);
        printf("\nbest validation %s %lld of %lld (Recall@20 %.5f); test at that %s (%zu users):\n", unit,
               (long long)run.best_epoch, (long long)done, run.best_val.recall[at20], unit, run.best_test.users);
        printf("%8s", "K");
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
            printf(" %8zu", fr_rank_cutoffs[c]);
        printf("\n%8s", "Recall");
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
            printf(" %8.5f", run.best_test.recall[c]);
        printf("\n%8s", "NDCG");
        for (size_t c = 0; c < FR_RANK_CUTOFFS; c++)
            printf(" %8.5f", run.best_test.ndcg[c]);
        double train_seconds = run.train_seconds, eval_seconds = run.eval_seconds;
        printf("\n%.3f s per %s (training %.3f, evaluation %.3f); %.2f s\n",
               done ? (train_seconds + eval_seconds) / (double)done : 0.0, unit,
               done ? train_seconds / (double)done : 0.0, done ? eval_seconds / (double)done : 0.0, wall);
        if (summary) {
            fr_cli_metric metrics[] = {
                {"test_recall@5", run.best_test.recall[0]}, {"test_recall@10", run.best_test.recall[1]},
                {"test_recall@20", run.best_test.recall[2]}, {"test_recall@40", run.best_test.recall[3]},
                {"test_ndcg@5", run.best_test.ndcg[0]},     {"test_ndcg@10", run.best_test.ndcg[1]},
                {"test_ndcg@20", run.best_test.ndcg[2]},     {"test_ndcg@40", run.best_test.ndcg[3]},
                {"valid_recall@20", run.best_val.recall[2]}, {"valid_ndcg@20", run.best_val.ndcg[2]},
                {"best_epoch", (double)run.best_epoch},      {"epochs", (double)done},
                {"train_seconds_per_epoch", done ? train_seconds / (double)done : 0.0},
                {"eval_seconds_per_epoch", done ? eval_seconds / (double)done : 0.0}};
            fr_cli_summary sm = {fr_combine_method_name(o.combine.method), NULL, be ? fr_backend_name(be) : "cpu", device, unit,
                                 (long long)done, (long long)epochs, metrics, sizeof metrics / sizeof metrics[0],
                                 wall, NULL, NULL, NULL, &o, run.best_epoch ? &run.best_ep : NULL,
                                 run.best_epoch ? &run.best_val : NULL, run.best_epoch ? &run.best_test : NULL};
            int rc = fr_cli_write_summary(summary, cfg, &sm);
            if (rc != FR_EXIT_OK)
                code = rc;
        }
        if (*model_path) {
            s = fr_saved_mtrec_write(model_path, cfg, &data, model_last ? fr_mtr_embeddings(m) : best_table, o.dim,
                                     (unsigned)(model_last ? done : run.best_epoch), (unsigned)done, model_last);
            if (s != FR_OK)
                code = fr_cli_report(s, NULL);
            else
                printf("model saved to %s (%s %lld: %s)\n", model_path, unit,
                       (long long)(model_last ? done : run.best_epoch),
                       model_last ? (federated ? "the last round" : "the last epoch")
                                  : (federated ? "the best validation round" : "the best validation epoch"));
        }
    }
    if (s == FR_OK) /* rank 0's outputs: every rank ends alike */
        code = fr_cli_final_verdict(comm, code);
    free(job);
    free(best_table);
    fr_mtr_free(m);
    fr_mtr_data_free(&data);
    return code;
}

fr_status fr_cli_mtrec_check(const fr_config *cfg)
{
    fr_mtr_options o;
    int64_t patience, min_epochs, epochs;
    char delim;
    int federated;
    const char *source, *parts;
    FR_TRY_CLI(fr_cli_mtrec_options(cfg, &o, &patience, &min_epochs, &epochs));
    FR_TRY_CLI(delimiter_of(cfg, &delim));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.parts", &parts));
    if (strcmp(source, "synthetic")) {
        fr_ratings_spec spec;
        const char *path;
        FR_TRY_CLI(fr_cli_ratings_spec(cfg, &spec, &path));
    }
    char name[256];
    for (size_t k = 0; !strcmp(source, "split") && k < 3; k++)
        if (!list_field(parts, k, name, sizeof name))
            return fr_cli_fail(FR_ERR_CONFIG, "mtrec.parts = '%s': expected three file names (training, validation, test) separated by commas",
                               parts);
    int col;
    const char *categories, *columns;
    FR_TRY_CLI(category_column(cfg, &col));
    FR_TRY_CLI(fr_config_get_string(cfg, "mtrec.categories", &categories));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.columns", &columns));
    if (col >= 0 && *categories)
        return fr_cli_fail(FR_ERR_CONFIG, "mtrec.categories = '%s' and data.columns = '%s' both give item categories: give them one way (the file, or the rating files' category column)",
                           categories, columns);
    FR_TRY_CLI(fr_config_get_bool(cfg, "mtrec.federated", &federated));
    /* What the federated rounds refuse (fr_mtr_federated_round), said
     * before any data is read. */
    for (size_t t = 0; federated && t < o.n_tasks; t++)
        if (o.tasks[t] == FR_MTR_SOCIAL)
            return fr_cli_fail(FR_ERR_CONFIG, "mtrec.tasks = social with mtrec.federated = true: the social task needs other users' rows, which stay on their clients; drop it from mtrec.tasks");
    if (federated && o.combine.method == FR_COMBINE_GRADVAC)
        return fr_cli_fail(FR_ERR_CONFIG, "mtrec.combiner = gradvac with mtrec.federated = true: GradVac keeps targets across steps, which clients would share; use another combiner");
    return FR_OK;
}
