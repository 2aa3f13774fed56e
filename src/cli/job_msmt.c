/* job_msmt.c — `fedrec train` with job.kind = msmt: load or generate a
 * feature table, build the model msmt.model names, train it with early
 * stopping, print one line per epoch and the final table of AUC and
 * logloss per scenario x task (validation and test of the best epoch);
 * with output.checkpoint, a checkpoint after every epoch, and --resume
 * going on from it (the report's rows after it rewritten). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "cli/interrupt.h"
#include "cli/job_setup.h"
#include "cli/loss_watch.h"
#include "cli/progress.h"
#include "cli/saved_msmt.h"
#include "cli/summary.h"
#include "fedrec/msmt.h"
#include "fedrec/optim.h"
#include "fedrec/table_read.h"


static fr_status widths(const fr_config *cfg, const char *key, size_t *out, size_t *n)
{
    const int64_t *v;
    size_t count;
    FR_TRY_CLI(fr_config_get_int_list(cfg, key, &v, &count));
    if (count < 1 || count > FR_MSMT_MAX_LAYERS)
        return fr_cli_fail(FR_ERR_CONFIG, "%s: 1 to %d widths expected, got %zu", key, FR_MSMT_MAX_LAYERS, count);
    for (size_t k = 0; k < count; k++)
        out[k] = (size_t)v[k];
    *n = count;
    return FR_OK;
}

fr_status fr_cli_msmt_options(const fr_config *cfg, fr_msmt_options *mo, fr_msmt_train_options *to)
{
    const char *arch, *optimizer;
    int64_t dim, experts, task_experts, levels, batch, epochs, patience, min_epochs, block, eval_every;
    double dropout, lr, wd;
    fr_msmt_options_default(mo);
    fr_msmt_train_options_default(to);
    FR_TRY_CLI(fr_config_get_string(cfg, "msmt.model", &arch));
    FR_TRY_CLI(fr_msmt_arch_parse(arch, &mo->arch));
    FR_TRY_CLI(widths(cfg, "msmt.expert_layers", mo->expert, &mo->n_expert));
    FR_TRY_CLI(widths(cfg, "msmt.tower_layers", mo->tower, &mo->n_tower));
    FR_TRY_CLI(widths(cfg, "autoifs.bottom", mo->ifs_bottom, &mo->n_ifs_bottom));
    int64_t ifs_width, ifs_rank, search_epochs, rewind_epoch;
    double tau_final, search_lr, search_wd, selector_lr;
    FR_TRY_CLI(fr_config_get_int(cfg, "autoifs.width", &ifs_width));
    FR_TRY_CLI(fr_config_get_int(cfg, "autoifs.rank", &ifs_rank));
    FR_TRY_CLI(fr_config_get_int(cfg, "autoifs.search_epochs", &search_epochs));
    FR_TRY_CLI(fr_config_get_int(cfg, "autoifs.rewind_epoch", &rewind_epoch));
    FR_TRY_CLI(fr_config_get_float(cfg, "autoifs.tau_final", &tau_final));
    FR_TRY_CLI(fr_config_get_float(cfg, "autoifs.search_lr", &search_lr));
    FR_TRY_CLI(fr_config_get_float(cfg, "autoifs.search_weight_decay", &search_wd));
    FR_TRY_CLI(fr_config_get_float(cfg, "autoifs.selector_lr", &selector_lr));
    mo->ifs_width = (size_t)ifs_width;
    mo->ifs_rank = (size_t)ifs_rank;
    FR_TRY_CLI(fr_config_get_int(cfg, "model.embed_dim", &dim));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.experts", &experts));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.task_experts", &task_experts));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.levels", &levels));
    FR_TRY_CLI(fr_config_get_bool(cfg, "model.batch_norm", &mo->batch_norm));
    FR_TRY_CLI(fr_config_get_float(cfg, "model.dropout", &dropout));
    FR_TRY_CLI(fr_config_get_bool(cfg, "msmt.esmm", &mo->esmm));
    FR_TRY_CLI(fr_config_get_uint64(cfg, "run.seed", &mo->seed));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.batch_size", &batch));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.epochs", &epochs));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.patience", &patience));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.min_epochs", &min_epochs));
    FR_TRY_CLI(fr_config_get_int(cfg, "msmt.block_rows", &block));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.eval_every", &eval_every));
    FR_TRY_CLI(fr_config_get_float(cfg, "train.lr", &lr));
    FR_TRY_CLI(fr_config_get_float(cfg, "train.weight_decay", &wd));
    FR_TRY_CLI(fr_config_get_string(cfg, "train.optimizer", &optimizer));
    mo->embed_dim = (size_t)dim;
    mo->experts = (size_t)experts;
    mo->task_experts = (size_t)task_experts;
    mo->levels = (size_t)levels;
    /* PLE's per-level expert widths: blank (the default) or one per level;
     * other models do not read them. */
    const int64_t *lw;
    size_t n_lw;
    FR_TRY_CLI(fr_config_get_int_list(cfg, "msmt.level_widths", &lw, &n_lw));
    if (mo->arch == FR_ARCH_PLE && n_lw) {
        if (n_lw != mo->levels)
            return fr_cli_fail(FR_ERR_CONFIG,
                               "msmt.level_widths: %zu width(s) for msmt.levels = %zu, expected one per level (or none: every level's experts are msmt.expert_layers)",
                               n_lw, mo->levels);
        for (size_t l = 0; l < n_lw; l++)
            mo->level_width[l] = (size_t)lw[l];
        mo->n_level_width = n_lw;
    }
    mo->dropout = (float)dropout;
    mo->max_batch = (size_t)batch;
    to->batch = (size_t)batch;
    to->max_epochs = (size_t)epochs;
    to->patience = (size_t)patience;
    to->min_epochs = (size_t)min_epochs;
    to->eval_every = (size_t)eval_every;
    to->block_rows = (size_t)block;
    FR_TRY_CLI(fr_config_get_bool(cfg, "msmt.dense_embedding", &to->dense_embedding));
    const char *shuffle;
    FR_TRY_CLI(fr_config_get_string(cfg, "msmt.shuffle", &shuffle));
    to->fixed_order = strcmp(shuffle, "once") == 0;
    to->lr = (float)lr;
    to->weight_decay = (float)wd;
    fr_optim_kind kind;
    FR_TRY_CLI(fr_optim_kind_parse(optimizer, &kind));
    to->optimizer = kind;
    to->seed = mo->seed;
    to->search_epochs = (size_t)search_epochs;
    to->rewind_epoch = (size_t)rewind_epoch;
    to->tau_final = (float)tau_final;
    to->search_lr = (float)search_lr;
    to->search_weight_decay = (float)search_wd;
    to->selector_lr = (float)selector_lr;
    return FR_OK;
}

fr_status fr_cli_msmt_load(const fr_config *cfg, fr_table *t, const char **what)
{
    const char *source, *path;
    uint64_t seed;
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.path", &path));
    FR_TRY_CLI(fr_config_get_uint64(cfg, "run.seed", &seed));
    if (!strcmp(source, "synthetic")) {
        fr_msmt_synth so;
        int64_t rows, vocab, scenarios, conflict;
        fr_msmt_synth_default(&so);
        FR_TRY_CLI(fr_config_get_int(cfg, "data.rows", &rows));
        FR_TRY_CLI(fr_config_get_int(cfg, "data.vocab", &vocab));
        FR_TRY_CLI(fr_config_get_int(cfg, "msmt.scenarios", &scenarios));
        FR_TRY_CLI(fr_config_get_float(cfg, "msmt.task_correlation", &so.task_correlation));
        FR_TRY_CLI(fr_config_get_float(cfg, "msmt.scenario_strength", &so.scenario_strength));
        FR_TRY_CLI(fr_config_get_int(cfg, "msmt.conflict_scenarios", &conflict));
        so.conflict_scenarios = (size_t)conflict;
        so.rows = (size_t)rows;
        so.vocab = (size_t)vocab;
        so.scenarios = (size_t)scenarios;
        so.seed = seed;
        *what = "synthetic AliExpress-shaped rows";
        return fr_msmt_synth_make(&so, t);
    }
    if (!*path)
        return fr_cli_fail(FR_ERR_CONFIG, "data.path: empty; data.source = %s needs a path", source);
    *what = path;
    if (!strcmp(source, "movielens-msmt")) {
        const char *variant;
        FR_TRY_CLI(fr_config_get_string(cfg, "data.movielens_msmt", &variant));
        return fr_table_read_movielens(path, !strcmp(variant, "seeded") ? FR_MOVIELENS_SEEDED : FR_MOVIELENS_AUTOIFS,
                                       seed, t);
    }
    if (!strcmp(source, "table"))
        return fr_table_map(t, path, 0);
    return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s: the msmt job reads synthetic, movielens-msmt or table (convert text files with 'fedrec data convert')",
                       source);
}

/* What a checkpoint keeps of the driver's own state: the loss watch's. */
#define CKPT_EXTRA FR_CLI_LOSS_WATCH_STATE

typedef struct epoch_ctx {
    int quiet;
    FILE *report;
    int jsonl;
    fr_cli_progress *progress;
    long long epochs; /* reported so far, search epochs included */
    long long planned;
    /* output.model_from = last: the model's parameters after each
     * (re)training epoch, the last one's when the run ends (training
     * itself reloads the best epoch's). */
    fr_msmt_model *m;
    float *last;
    size_t n_last;
    fr_status last_status;
    fr_cli_loss_watch watch;
    /* Resuming (--resume): the report is opened, its header and the
     * table's printed, once the checkpoint has been read. */
    const char *report_path, *ckpt_path;
    double extra[CKPT_EXTRA]; /* the checkpoint's share of the above */
} epoch_ctx;

static void on_epoch(void *arg, const fr_msmt_epoch *e)
{
    epoch_ctx *c = arg;
    fr_cli_progress_clear(c->progress);
    c->epochs++;
    /* seconds: the epoch as the trainer timed it and the copy of the
     * parameters output.model_from = last takes, both the epoch's */
    double t_copy = fr_clock_seconds();
    if (c->last && !e->search && c->last_status == FR_OK)
        c->last_status = fr_param_set_export(fr_msmt_model_params(c->m), FR_ROLES_ALL, c->last, c->n_last);
    double seconds = e->seconds + (fr_clock_seconds() - t_copy);
    if (!c->quiet) {
        char tau[32] = "";
        if (e->search)
            snprintf(tau, sizeof tau, "  search, tau %.3g", e->tau);
        if (e->evaluated)
            printf("%5zu %11.6f %10.6f %12.6f", e->epoch, e->train_loss, e->valid.mean_auc, e->valid.mean_logloss);
        else /* train.eval_every: not validated */
            printf("%5zu %11.6f %10s %12s", e->epoch, e->train_loss, "-", "-");
        printf(" %9.0f %8.2f%s%s\n", e->samples_per_second, seconds, e->improved ? "  *" : "", tau);
        fflush(stdout);
    }
    if (c->report && c->jsonl) {
        fr_cli_json_row r;
        fr_cli_json_begin(&r, c->report);
        fr_cli_json_int(&r, "epoch", (long long)e->epoch);
        fr_cli_json_num(&r, "train_loss", e->train_loss);
        fr_cli_json_num(&r, "valid_auc", e->valid.mean_auc);
        fr_cli_json_num(&r, "valid_logloss", e->valid.mean_logloss);
        fr_cli_json_num(&r, "samples_per_second", e->samples_per_second);
        fr_cli_json_num(&r, "seconds", seconds);
        fr_cli_json_end(&r);
    } else if (c->report && e->evaluated) {
        fprintf(c->report, "%zu,%.6f,%.6f,%.6f,%.1f,%.3f\n", e->epoch, e->train_loss, e->valid.mean_auc,
                e->valid.mean_logloss, e->samples_per_second, seconds);
    } else if (c->report) { /* not validated: empty cells */
        fprintf(c->report, "%zu,%.6f,,,%.1f,%.3f\n", e->epoch, e->train_loss, e->samples_per_second, seconds);
    }
    if (c->report)
        fflush(c->report);
    if (!e->search) /* the (re)training phase: a search's losses move with its temperature */
        fr_cli_loss_watch_step(&c->watch, e->train_loss);
    fr_cli_loss_watch_save(&c->watch, c->extra); /* the checkpoint, written next, keeps it */
    fr_cli_progress_next(c->progress);
}

static void print_columns(const epoch_ctx *c)
{
    if (!c->quiet)
        printf("%5s %11s %10s %12s %9s %8s\n", "epoch", "train_loss", "valid_auc", "valid_logloss", "samples/s",
               "seconds");
}

/* A report file opened: its CSV header when it has no rows yet. */
static fr_status open_report(epoch_ctx *c, const char *mode)
{
    c->report = fopen(c->report_path, mode);
    if (!c->report)
        return fr_cli_fail(FR_ERR_IO, "%s: cannot write the report: %s", c->report_path, strerror(errno));
    if (!c->jsonl && ftell(c->report) == 0)
        fprintf(c->report, "epoch,train_loss,valid_auc,valid_logloss,samples_per_second,seconds\n");
    return FR_OK;
}

/* --resume: the checkpoint was read and checked; the driver takes up
 * where it left off: the report's rows after it dropped, the loss watch
 * and the count of epochs restored, the last epoch's parameters kept for
 * output.model_from = last. */
static fr_status on_resumed(void *arg, const fr_msmt_resume_info *info)
{
    epoch_ctx *c = arg;
    if (*c->report_path) {
        FR_TRY_CLI(fr_cli_trim_report_rows(c->report_path, (int64_t)info->epochs_run));
        FR_TRY_CLI(open_report(c, "a"));
    }
    c->epochs = (long long)info->epochs_run;
    fr_cli_loss_watch_restore(&c->watch, c->extra);
    if (c->last && !info->searching && info->epochs)
        c->last_status = fr_param_set_export(fr_msmt_model_params(c->m), FR_ROLES_ALL, c->last, c->n_last);
    if (!c->quiet) {
        if (info->finished)
            printf("resuming after epoch %lld from %s: training had ended (best validation epoch %zu of %zu)\n",
                   c->epochs, c->ckpt_path, info->best_epoch, info->epochs);
        else
            printf("resuming after epoch %lld from %s\n", c->epochs, c->ckpt_path);
    }
    print_columns(c);
    fr_cli_progress_init(c->progress, c->quiet, "epoch", c->epochs + 1, c->planned);
    return FR_OK;
}

void fr_cli_msmt_print_table(const fr_table *t, const fr_msmt_eval *valid, const fr_msmt_eval *test)
{
    printf("\n%-12s %-12s %9s %9s %10s %10s\n", "scenario", "task", "valid_auc", "test_auc", "valid_ll",
           "test_ll");
    for (size_t s = 0; s < t->n_scenarios; s++)
        for (size_t k = 0; k < t->n_tasks; k++)
            printf("%-12s %-12s %9.4f %9.4f %10.4f %10.4f\n", t->scenario_names[s], t->task_names[k],
                   valid->auc[s][k], test->auc[s][k], valid->logloss[s][k], test->logloss[s][k]);
    printf("%-12s %-12s %9.4f %9.4f %10.4f %10.4f\n", "mean", "", valid->mean_auc, test->mean_auc,
           valid->mean_logloss, test->mean_logloss);
}

int fr_cli_run_msmt(const fr_config *cfg, int quiet, const char *summary, int resume)
{
    fr_msmt_options mo;
    fr_msmt_train_options to;
    fr_status s = fr_cli_msmt_options(cfg, &mo, &to);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    const char *report_path, *format, *name, *ckpt_path, *what = "";
    fr_config_get_string(cfg, "output.report", &report_path);
    fr_config_get_string(cfg, "output.report_format", &format);
    fr_config_get_string(cfg, "run.name", &name);
    fr_config_get_string(cfg, "output.checkpoint", &ckpt_path);
    if (resume && !*ckpt_path)
        return fr_cli_report(fr_cli_fail(FR_ERR_CONFIG, "--resume needs output.checkpoint"), NULL);
    s = fr_cli_model_path_check(cfg);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    /* The job fingerprint each checkpoint keeps and a resume compares. */
    char *job = NULL;
    if (*ckpt_path && (s = fr_config_fingerprint(cfg, &job)) != FR_OK)
        return fr_cli_report(s, NULL);
    double t0 = fr_clock_seconds();
    fr_table t;
    s = fr_cli_msmt_load(cfg, &t, &what);
    if (s != FR_OK) {
        free(job);
        return fr_cli_report(s, NULL);
    }
    fr_backend *be = NULL;
    fr_msmt_model *m = NULL;
    s = fr_cli_open_backend(cfg, &be);
    if (s == FR_OK)
        s = fr_msmt_model_create(be, &t, &mo, &m);
    if (s != FR_OK) {
        fr_msmt_model_free(m);
        fr_backend_close(be);
        fr_table_free(&t);
        free(job);
        return fr_cli_report(s, NULL);
    }
    /* Every value, and the trainable ones as PyTorch's parameters()
     * counts them (no batch-norm running statistics); AutoIFS's selector
     * included in both. */
    fr_param_set *sel = fr_msmt_model_selector_params(m);
    size_t values = fr_param_set_numel(fr_msmt_model_params(m), FR_ROLES_ALL) +
                    (sel ? fr_param_set_numel(sel, FR_ROLES_ALL) : 0);
    size_t trainable = fr_param_set_numel_trainable(fr_msmt_model_params(m)) +
                       (sel ? fr_param_set_numel_trainable(sel) : 0);
    fr_cli_progress progress;
    long long planned = (long long)to.max_epochs + (mo.arch == FR_ARCH_AUTOIFS ? (long long)to.search_epochs : 0);
    epoch_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.quiet = quiet;
    ctx.jsonl = !strcmp(format, "jsonl");
    ctx.progress = &progress;
    ctx.planned = planned;
    ctx.m = m;
    ctx.report_path = report_path;
    ctx.ckpt_path = ckpt_path;
    fr_cli_loss_watch_init(&ctx.watch, 1, "epoch", "train.lr", to.lr, "train.weight_decay", to.weight_decay, NULL);
    const char *model_path, *model_from;
    fr_config_get_string(cfg, "output.model", &model_path);
    fr_config_get_string(cfg, "output.model_from", &model_from);
    if (*model_path && !strcmp(model_from, "last")) {
        ctx.n_last = fr_param_set_numel(fr_msmt_model_params(m), FR_ROLES_ALL);
        if (!(ctx.last = malloc((ctx.n_last ? ctx.n_last : 1) * sizeof *ctx.last))) {
            fr_msmt_model_free(m);
            fr_backend_close(be);
            fr_table_free(&t);
            free(job);
            return fr_cli_report(fr_cli_fail(FR_ERR_NOMEM, "output.model_from = last: out of memory allocating %zu bytes for the last epoch's parameters", (ctx.n_last ? ctx.n_last : 1) * sizeof *ctx.last), NULL);
        }
    }
    /* A resumed run opens its report once the checkpoint is known good:
     * a refused one leaves it as it was. */
    if (*report_path && !resume && (s = open_report(&ctx, "w")) != FR_OK) {
        fr_msmt_model_free(m);
        free(ctx.last);
        fr_backend_close(be);
        fr_table_free(&t);
        free(job);
        return fr_cli_report(s, NULL);
    }
    if (!quiet) {
        size_t part[3] = {0, 0, 0};
        for (size_t r = 0; r < t.rows; r++)
            if (t.split[r] <= FR_SPLIT_TEST)
                part[t.split[r]]++;
        printf("fedrec train: %s: %s%s on %s: %zu rows (%zu train, %zu validation, %zu test), %zu scenarios, %zu tasks, %zu categorical fields (%zu values), %zu numerical\n",
               name, fr_msmt_arch_name(mo.arch), mo.esmm ? " + ESMM" : "", what, t.rows, part[FR_SPLIT_TRAIN],
               part[FR_SPLIT_VALID], part[FR_SPLIT_TEST], t.n_scenarios, t.n_tasks, t.n_cat, t.vocab_total, t.n_num);
        printf("backend: %s; %zu parameters (%zu trainable)\n\n", fr_backend_describe(be), values, trainable);
    }
    if (!resume)
        print_columns(&ctx);
    fr_msmt_result r;
    fr_cli_progress_init(&progress, quiet, "epoch", 1, planned);
    to.progress = fr_cli_progress_hook(&progress);
    to.checkpoint = (fr_msmt_checkpoint){ckpt_path, resume, job, ctx.extra, CKPT_EXTRA, on_resumed};
    s = fr_msmt_train(m, &t, &to, on_epoch, &ctx, &r);
    fr_cli_progress_clear(&progress);
    int code = fr_cli_close_report(ctx.report, report_path, s == FR_OK, FR_EXIT_OK);
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else {
        double wall = fr_clock_seconds() - t0;
        if (r.stopped && !r.best_epoch && ctx.epochs) /* AutoIFS in its search, or no validation AUC */
            printf("\nstopped by %s after %lld of %lld epochs; none gave a model to judge (AutoIFS still searching, or no validation AUC): no figures\n",
                   fr_cli_interrupt_name(), ctx.epochs, planned);
        else if (r.stopped)
            fr_cli_interrupt_say("epoch", ctx.epochs, planned);
        if (r.stopped && *ckpt_path && ctx.epochs)
            printf("the checkpoint in %s holds epoch %lld, the last finished (continue with --resume)\n", ckpt_path,
                   ctx.epochs);
        fr_cli_msmt_print_table(&t, &r.valid, &r.test);
        if (mo.arch == FR_ARCH_AUTOIFS)
            printf("AutoIFS pruning gates, mean over rows and tasks (1 removes the flow): shared->shared %.3f, specific->specific %.3f, shared->specific %.3f, specific->shared %.3f\n",
                   r.gates[0], r.gates[1], r.gates[2], r.gates[3]);
        printf("best validation epoch %zu of %zu; %.0f training samples/s; %.2f s\n", r.best_epoch, r.epochs,
               r.train_samples_per_second, wall);
        if (summary) {
            fr_cli_metric metrics[] = {{"test_auc", r.test.mean_auc},
                                       {"test_logloss", r.test.mean_logloss},
                                       {"valid_auc", r.valid.mean_auc},
                                       {"valid_logloss", r.valid.mean_logloss},
                                       {"best_epoch", (double)r.best_epoch},
                                       {"epochs", (double)r.epochs},
                                       {"train_samples_per_second", r.train_samples_per_second},
                                       {"trainable_parameters", (double)trainable}};
            const char *arch = fr_msmt_arch_name(mo.arch);
            fr_cli_summary sm = {arch, arch, fr_backend_name(be), fr_backend_describe(be), "epoch", ctx.epochs, planned,
                                 metrics, sizeof metrics / sizeof metrics[0], wall, &t, &r.valid, &r.test,
                                 NULL, NULL, NULL, NULL};
            int rc = fr_cli_write_summary(summary, cfg, &sm);
            if (rc != FR_EXIT_OK)
                code = rc;
        }
        char best[64];
        fr_status ss = ctx.last_status;
        if (ctx.last) /* output.model_from = last */
            snprintf(best, sizeof best, "epoch %zu of %zu (the last)", r.epochs, r.epochs);
        else if (r.best_epoch)
            snprintf(best, sizeof best, "epoch %zu of %zu", r.best_epoch, r.epochs);
        else /* no epoch had a validation AUC: the last one is kept */
            snprintf(best, sizeof best, "epoch %zu of %zu (no validation AUC)", r.epochs, r.epochs);
        if (ss == FR_OK && ctx.last)
            ss = fr_param_set_import(fr_msmt_model_params(m), FR_ROLES_ALL, ctx.last, ctx.n_last);
        if (ss == FR_OK)
            ss = fr_cli_msmt_save(cfg, &t, m, best);
        if (ss != FR_OK)
            code = fr_cli_report(ss, NULL);
    }
    free(ctx.last);
    free(job);
    fr_msmt_model_free(m);
    fr_backend_close(be);
    fr_table_free(&t);
    return code;
}

fr_status fr_cli_msmt_check(const fr_config *cfg)
{
    fr_msmt_options mo;
    fr_msmt_train_options to;
    return fr_cli_msmt_options(cfg, &mo, &to);
}
