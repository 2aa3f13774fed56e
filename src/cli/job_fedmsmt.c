/* job_fedmsmt.c — `fedrec train` with job.kind = fedmsmt: load or generate
 * a feature table, train one MMoE client per scenario with the federated
 * method fedmsmt.method names (PF-MSMTrec or a baseline), print one line
 * per round and the final table of AUC and logloss per scenario x task at
 * the round with the best mean validation AUC; the report has every cell
 * and each client's upload per round. With output.checkpoint, a
 * checkpoint every train.checkpoint_every rounds and after the last, and
 * --resume going on from it (the report's rows after it rewritten); one
 * process only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "cli/interrupt.h"
#include "cli/job_setup.h"
#include "cli/loss_watch.h"
#include "cli/progress.h"
#include "cli/ranks.h"
#include "cli/saved_msmt.h"
#include "cli/summary.h"
#include "fedrec/fedmsmt.h"


static fr_status parse_agg(const char *key, const char *v, fr_fed_agg *out)
{
    if (!strcmp(v, "personal"))
        *out = FR_FED_AGG_PERSONAL;
    else if (!strcmp(v, "mean"))
        *out = FR_FED_AGG_MEAN;
    else if (!strcmp(v, "local"))
        *out = FR_FED_AGG_LOCAL;
    else
        return fr_cli_fail(FR_ERR_CONFIG, "%s = %s: expected personal, mean or local", key, v);
    return FR_OK;
}

fr_status fr_cli_fedmsmt_options(const fr_config *cfg, size_t clients, fr_fedmsmt_options *o)
{
    fr_msmt_train_options to;
    fr_fedmsmt_options_default(o);
    FR_TRY_CLI(fr_cli_msmt_options(cfg, &o->model, &to));
    if (o->model.arch != FR_ARCH_MMOE)
        return fr_cli_fail(FR_ERR_CONFIG, "msmt.model = %s (%s): job.kind = fedmsmt federates MMoE clients only (msmt.model = mmoe); train msmt.model = %s centrally, with job.kind = msmt",
                           fr_msmt_arch_name(o->model.arch), fr_config_origin(cfg, "msmt.model"),
                           fr_msmt_arch_name(o->model.arch));
    const char *method, *membership, *experts, *towers, *embedding;
    int64_t shared, priv, rounds, local_epochs, eval_every;
    FR_TRY_CLI(fr_cli_participation(cfg, &o->participation));
    FR_TRY_CLI(fr_cli_screening(cfg, &o->clip_norm, &o->fault_nan, &o->fault_huge));
    FR_TRY_CLI(fr_config_get_string(cfg, "fedmsmt.method", &method));
    FR_TRY_CLI(fr_fed_method_parse(method, &o->method));
    FR_TRY_CLI(fr_config_get_int(cfg, "fedmsmt.shared_experts", &shared));
    FR_TRY_CLI(fr_config_get_int(cfg, "fedmsmt.private_experts", &priv));
    FR_TRY_CLI(fr_config_get_string(cfg, "fedmsmt.membership", &membership));
    FR_TRY_CLI(fr_config_get_bool(cfg, "fedmsmt.fedbn", &o->fedbn));
    FR_TRY_CLI(fr_config_get_bool(cfg, "fedmsmt.coordination", &o->coordination));
    FR_TRY_CLI(fr_config_get_string(cfg, "fedmsmt.experts", &experts));
    FR_TRY_CLI(fr_config_get_string(cfg, "fedmsmt.towers", &towers));
    FR_TRY_CLI(fr_config_get_bool(cfg, "fedmsmt.tower_coordination", &o->tower_coordination));
    FR_TRY_CLI(fr_config_get_string(cfg, "fedmsmt.embedding", &embedding));
    FR_TRY_CLI(fr_config_get_float(cfg, "fedmsmt.temperature", &o->temperature));
    FR_TRY_CLI(fr_config_get_float(cfg, "fedmsmt.prox_mu", &o->prox_mu));
    FR_TRY_CLI(fr_config_get_int(cfg, "fedmsmt.local_epochs", &local_epochs));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.rounds", &rounds));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.eval_every", &eval_every));
    FR_TRY_CLI(parse_agg("fedmsmt.experts", experts, &o->experts_agg));
    FR_TRY_CLI(parse_agg("fedmsmt.towers", towers, &o->towers_agg));
    FR_TRY_CLI(parse_agg("fedmsmt.embedding", embedding, &o->embedding_agg));
    o->shared_experts = (size_t)shared;
    o->private_experts = (size_t)priv;
    if (*membership) {
        if (fr_fedmsmt_parse_membership(membership, clients, o) != FR_OK) {
            char why[512]; /* the message lives in the buffer fr_cli_fail rewrites */
            snprintf(why, sizeof why, "%s", fr_last_error());
            return fr_cli_fail(FR_ERR_CONFIG, "fedmsmt.membership: %s", why);
        }
    } else if (shared + priv < 1) {
        return fr_cli_fail(FR_ERR_CONFIG, "fedmsmt.shared_experts + fedmsmt.private_experts: need at least one expert");
    }
    if (o->method == FR_FED_FEDPROX && !(o->prox_mu > 0))
        return fr_cli_fail(FR_ERR_CONFIG, "fedmsmt.method = fedprox needs fedmsmt.prox_mu > 0 (the proximal term)");
    o->rounds = (size_t)rounds;
    o->eval_every = (size_t)eval_every;
    o->local_epochs = (size_t)local_epochs;
    o->batch = to.batch;
    o->optimizer = to.optimizer;
    o->lr = to.lr;
    o->weight_decay = to.weight_decay;
    o->block_rows = to.block_rows;
    o->seed = to.seed;
    return FR_OK;
}

/* What a checkpoint keeps of the driver's own state: the loss watch's. */
#define CKPT_EXTRA FR_CLI_LOSS_WATCH_STATE

typedef struct round_ctx {
    int quiet, jsonl;
    FILE *report;
    const fr_table *t;
    fr_cli_ranks *ranks;
    fr_status ranks_status; /* the first failure writing the communication report */
    fr_cli_progress *progress;
    fr_cli_loss_watch watch;
    /* Resuming (--resume): the report is opened and the columns printed
     * once the checkpoint has been read. */
    const char *report_path, *ckpt_path;
    long long planned;
    double extra[CKPT_EXTRA]; /* the checkpoint's share of the above */
} round_ctx;

static double mean_upload(const fr_fedmsmt_round *r, size_t clients)
{
    double sum = 0;
    for (size_t c = 0; c < clients; c++)
        sum += (double)r->upload_bytes[c];
    return clients ? sum / (double)clients : 0.0;
}

/* ",<what>_<scenario>[_<task>]" as one CSV field, quoted when a name
 * holds a comma, quote or line break. */
static void csv_name(FILE *f, const char *what, const char *scenario, const char *task)
{
    char field[3 * FR_TABLE_NAME_MAX + 32];
    snprintf(field, sizeof field, task ? "%s_%s_%s" : "%s_%s", what, scenario, task);
    if (!strpbrk(field, ",\"\n\r")) {
        fprintf(f, ",%s", field);
        return;
    }
    fputs(",\"", f);
    for (const char *p = field; *p; p++) {
        if (*p == '"')
            fputc('"', f); /* a quote inside a quoted field is doubled */
        fputc(*p, f);
    }
    fputc('"', f);
}

static void report_header(FILE *f, const fr_table *t)
{
    static const char *const cell[] = {"valid_auc", "test_auc", "valid_logloss", "test_logloss"};
    fprintf(f, "round,train_loss,valid_auc,valid_logloss,test_auc,test_logloss,conflicts,participants,rejected");
    for (size_t s = 0; s < t->n_scenarios; s++)
        for (size_t k = 0; k < t->n_tasks; k++)
            for (int c = 0; c < 4; c++)
                csv_name(f, cell[c], t->scenario_names[s], t->task_names[k]);
    for (size_t s = 0; s < t->n_scenarios; s++)
        csv_name(f, "upload_bytes", t->scenario_names[s], NULL);
    fprintf(f, ",seconds,train_seconds,aggregate_seconds,eval_seconds\n");
}

static void report_row(FILE *f, int jsonl, const fr_table *t, const fr_fedmsmt_round *r)
{
    if (!jsonl && !r->evaluated) { /* train.eval_every: the evaluation cells empty */
        fprintf(f, "%zu,%.6f,,,,,%zu,%zu,%zu", r->round, r->train_loss, r->conflicts, r->participants, r->rejected);
        for (size_t s = 0; s < t->n_scenarios; s++)
            for (size_t k = 0; k < t->n_tasks; k++)
                fputs(",,,,", f);
    } else if (!jsonl) {
        fprintf(f, "%zu,%.6f,%.6f,%.6f,%.6f,%.6f,%zu,%zu,%zu", r->round, r->train_loss, r->valid.mean_auc,
                r->valid.mean_logloss, r->test.mean_auc, r->test.mean_logloss, r->conflicts, r->participants,
                r->rejected);
        for (size_t s = 0; s < t->n_scenarios; s++)
            for (size_t k = 0; k < t->n_tasks; k++)
                fprintf(f, ",%.6f,%.6f,%.6f,%.6f", r->valid.auc[s][k], r->test.auc[s][k], r->valid.logloss[s][k],
                        r->test.logloss[s][k]);
    }
    if (!jsonl) {
        for (size_t s = 0; s < t->n_scenarios; s++)
            fprintf(f, ",%llu", (unsigned long long)r->upload_bytes[s]);
        fprintf(f, ",%.3f,%.3f,%.3f,%.3f\n", r->seconds, r->train_seconds, r->aggregate_seconds, r->eval_seconds);
        return;
    }
    /* NaN (a cell with one class only) is not JSON: every number goes
     * through the row builder (null), names through fr_cli_json_string. */
    static const char *const key[] = {"valid_auc", "test_auc", "valid_logloss", "test_logloss"};
    double means[4] = {r->valid.mean_auc, r->test.mean_auc, r->valid.mean_logloss, r->test.mean_logloss};
    fr_cli_json_row row;
    fr_cli_json_begin(&row, f);
    fr_cli_json_int(&row, "round", (long long)r->round);
    fr_cli_json_num(&row, "train_loss", r->train_loss);
    for (int i = 0; i < 4; i++)
        fr_cli_json_num(&row, key[i], means[i]);
    fr_cli_json_int(&row, "conflicts", (long long)r->conflicts);
    fr_cli_json_int(&row, "participants", (long long)r->participants);
    fr_cli_json_int(&row, "rejected", (long long)r->rejected);
    fr_cli_json_key(&row, "cells");
    fputc('[', f);
    for (size_t s = 0; s < t->n_scenarios; s++)
        for (size_t k = 0; k < t->n_tasks; k++) {
            double v[4] = {r->valid.auc[s][k], r->test.auc[s][k], r->valid.logloss[s][k], r->test.logloss[s][k]};
            fr_cli_json_row cell;
            if (s + k)
                fputc(',', f);
            fr_cli_json_begin(&cell, f);
            fr_cli_json_str(&cell, "scenario", t->scenario_names[s]);
            fr_cli_json_str(&cell, "task", t->task_names[k]);
            for (int i = 0; i < 4; i++)
                fr_cli_json_num(&cell, key[i], v[i]);
            fputc('}', f);
        }
    fputc(']', f);
    fr_cli_json_key(&row, "upload_bytes");
    fputc('[', f);
    for (size_t s = 0; s < t->n_scenarios; s++)
        fprintf(f, "%s%llu", s ? "," : "", (unsigned long long)r->upload_bytes[s]);
    fputc(']', f);
    fr_cli_json_num(&row, "seconds", r->seconds);
    fr_cli_json_num(&row, "train_seconds", r->train_seconds);
    fr_cli_json_num(&row, "aggregate_seconds", r->aggregate_seconds);
    fr_cli_json_num(&row, "eval_seconds", r->eval_seconds);
    fr_cli_json_end(&row);
}

static void on_round(void *arg, const fr_fedmsmt_round *r)
{
    round_ctx *c = arg;
    /* Every rank passes here each round: the report's gather is collective. */
    fr_status s = fr_cli_ranks_round(c->ranks, (long long)r->round, r->bytes_sent, r->bytes_received,
                                     r->comm_seconds, r->local_seconds, r->trained_here);
    if (c->ranks_status == FR_OK)
        c->ranks_status = s;
    fr_cli_progress_clear(c->progress);
    if (!c->quiet) {
        if (r->evaluated)
            printf("%5zu %11.6f %10.6f %9.6f", r->round, r->train_loss, r->valid.mean_auc, r->test.mean_auc);
        else /* train.eval_every: not evaluated */
            printf("%5zu %11.6f %10s %9s", r->round, r->train_loss, "-", "-");
        printf(" %12.1f %9zu %8.2f %8.3f%s\n", mean_upload(r, c->t->n_scenarios) / 1024.0, r->conflicts, r->seconds,
               r->aggregate_seconds, r->improved ? "  *" : "");
        if (r->rejected)
            printf("      %zu client update%s refused (not finite)\n", r->rejected, r->rejected == 1 ? "" : "s");
        if (r->participants + r->rejected < c->t->n_scenarios)
            printf("      %zu of %zu clients' updates arrived in time%s\n", r->participants + r->rejected,
                   c->t->n_scenarios, r->aggregated ? "" : "; too few: nothing aggregated");
        else if (!r->aggregated && r->rejected)
            printf("      too few updates left: nothing aggregated\n");
        fflush(stdout);
    }
    if (c->report) {
        report_row(c->report, c->jsonl, c->t, r);
        fflush(c->report);
    }
    fr_cli_loss_watch_step(&c->watch, r->train_loss);
    fr_cli_loss_watch_save(&c->watch, c->extra); /* a checkpoint written next keeps it */
    fr_cli_progress_next(c->progress);
}

static void print_columns(const round_ctx *c)
{
    if (!c->quiet)
        printf("%5s %11s %10s %9s %12s %9s %8s %8s\n", "round", "train_loss", "valid_auc", "test_auc", "upload_KiB",
               "conflicts", "seconds", "agg_s");
}

/* The report opened (mode "w" or "a"), its CSV header when it has no rows. */
static fr_status open_report(round_ctx *c, const char *mode)
{
    c->report = fopen(c->report_path, mode);
    if (!c->report)
        return fr_cli_fail(FR_ERR_IO, "%s: cannot write the report: %s", c->report_path, strerror(errno));
    if (!c->jsonl && ftell(c->report) == 0)
        report_header(c->report, c->t);
    return FR_OK;
}

/* --resume: the checkpoint was read and checked; the driver takes up where
 * it left off: the report's rows after it dropped, the loss watch
 * restored. */
static fr_status on_resumed(void *arg, size_t rounds)
{
    round_ctx *c = arg;
    if (*c->report_path) {
        FR_TRY_CLI(fr_cli_trim_report(c->report_path, (int64_t)rounds));
        FR_TRY_CLI(open_report(c, "a"));
    }
    fr_cli_loss_watch_restore(&c->watch, c->extra);
    if (!c->quiet)
        printf("resuming after round %zu from %s%s\n", rounds, c->ckpt_path,
               (long long)rounds == c->planned ? ": training had ended" : "");
    print_columns(c);
    fr_cli_progress_init(c->progress, c->quiet, "round", (long long)rounds + 1, c->planned);
    return FR_OK;
}

int fr_cli_run_fedmsmt(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm)
{
    const char *report_path, *format, *name, *ckpt_path, *what = "";
    int64_t ckpt_every = 10;
    int rank = fr_comm_rank(comm);
    if (rank != 0) { /* rank 0 prints and writes; the others train */
        quiet = 1;
        summary = NULL;
    }
    fr_config_get_string(cfg, "output.report", &report_path);
    if (rank != 0)
        report_path = "";
    fr_config_get_string(cfg, "output.report_format", &format);
    fr_config_get_string(cfg, "run.name", &name);
    fr_config_get_string(cfg, "output.checkpoint", &ckpt_path);
    fr_config_get_int(cfg, "train.checkpoint_every", &ckpt_every);
    if (resume && !*ckpt_path)
        return fr_cli_report(fr_cli_fail(FR_ERR_CONFIG, "--resume needs output.checkpoint"), NULL);
    double t0 = fr_clock_seconds();
    fr_table t;
    fr_status s = fr_cli_msmt_load(cfg, &t, &what);
    int have_table = s == FR_OK;
    fr_fedmsmt_options o;
    if (s == FR_OK)
        s = fr_cli_fedmsmt_options(cfg, t.n_scenarios, &o);
    if (s == FR_OK && rank == 0)
        s = fr_cli_model_path_check(cfg);
    fr_backend *be = NULL;
    if (s == FR_OK)
        s = fr_cli_open_backend(cfg, &be);
    /* Every rank gets here: one verdict, reported once. */
    s = fr_cli_agree(comm, s);
    fr_cli_ranks ranks;
    if (s == FR_OK)
        s = fr_cli_ranks_open(&ranks, comm, cfg, fr_backend_describe(be), quiet);
    if (s == FR_OK)
        s = fr_cli_ranks_open_report(&ranks, 0, 0);
    if (s != FR_OK) {
        fr_backend_close(be);
        if (have_table)
            fr_table_free(&t);
        return fr_cli_report(s, NULL);
    }
    fr_cli_progress progress;
    round_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.quiet = quiet;
    ctx.jsonl = !strcmp(format, "jsonl");
    ctx.t = &t;
    ctx.ranks = &ranks;
    ctx.progress = &progress;
    ctx.report_path = report_path;
    ctx.ckpt_path = ckpt_path;
    ctx.planned = (long long)o.rounds;
    fr_cli_loss_watch_init(&ctx.watch, rank == 0, "round", "train.lr", o.lr, "train.weight_decay", o.weight_decay, NULL);
    /* A resumed run opens its report once the checkpoint is known good:
     * a refused one leaves it as it was. */
    if (*report_path && !resume)
        s = open_report(&ctx, "w");
    s = fr_cli_agree(comm, s); /* rank 0's report: every rank learns whether it opened */
    if (s != FR_OK) {
        fr_cli_ranks_close(&ranks, FR_EXIT_OK);
        fr_backend_close(be);
        fr_table_free(&t);
        return fr_cli_report(s, NULL);
    }
    if (!quiet) {
        printf("fedrec train: %s: %s, %zu clients (one per scenario) on %s: %zu rows, %zu tasks, %zu categorical fields (%zu values), %zu numerical\n",
               name, fr_fed_method_name(o.method), t.n_scenarios, what, t.rows, t.n_tasks, t.n_cat, t.vocab_total,
               t.n_num);
        printf("backend: %s\n\n", fr_backend_describe(be));
    }
    if (!resume)
        print_columns(&ctx);
    fr_fedmsmt_result r;
    memset(&r, 0, sizeof r);
    char *job = NULL;
    s = fr_cli_agree(comm, fr_config_fingerprint(cfg, &job));
    o.job_fingerprint = job;
    fr_cli_progress_init(&progress, quiet, "round", 1, (long long)o.rounds);
    o.progress = fr_cli_progress_hook(&progress);
    const char *model_path;
    fr_config_get_string(cfg, "output.model", &model_path);
    const char *model_from;
    fr_config_get_string(cfg, "output.model_from", &model_from);
    /* Every rank: the hand-over is collective. A checkpoint always holds
     * the kept models, so that a resume may save them. */
    o.keep_models = *model_path != '\0' || *ckpt_path != '\0';
    o.keep_last = !strcmp(model_from, "last");
    o.checkpoint = (fr_fedmsmt_checkpoint){ckpt_path, resume, (size_t)ckpt_every, ctx.extra, CKPT_EXTRA, on_resumed};
    if (s == FR_OK)
        s = fr_fedmsmt_run_ranks(comm, be, &t, &o, on_round, &ctx, &r);
    fr_cli_progress_clear(&progress);
    free(job);
    if (s == FR_OK)
        s = ctx.ranks_status;
    /* Several ranks: the signal that stopped them (or came during the
     * last round), the same on every rank, for the summary and exit code. */
    if (s == FR_OK)
        s = fr_cli_interrupt_agree(comm);
    int code = fr_cli_close_report(ctx.report, report_path, s == FR_OK, FR_EXIT_OK);
    code = fr_cli_ranks_close(&ranks, code);
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else if (rank == 0) {
        double wall = fr_clock_seconds() - t0, per_client = 0;
        if (r.stopped)
            fr_cli_interrupt_say("round", (long long)r.rounds, (long long)o.rounds);
        size_t held = o.checkpoint.every > 1 ? r.rounds / o.checkpoint.every * o.checkpoint.every : r.rounds;
        if (r.stopped && *ckpt_path && held)
            printf("the checkpoint in %s holds round %zu (continue with --resume)\n", ckpt_path, held);
        fr_cli_msmt_print_table(&t, &r.valid, &r.test);
        printf("experts per client:");
        for (size_t c = 0; c < r.clients; c++) {
            printf(" %s %zu", t.scenario_names[c], r.experts_held[c]);
            per_client += (double)r.upload_bytes_per_round[c];
        }
        per_client = r.clients ? per_client / (double)r.clients : 0.0;
        double share = r.seconds > 0 ? r.aggregate_seconds / r.seconds : 0.0;
        printf(" (pool %zu); mean upload per client per round %.1f KiB; %zu conflicts coordinated\n", r.pool,
               per_client / 1024.0, r.conflicts);
        printf("best validation round %zu of %zu; %.3f rounds/s, aggregation %.1f %% of the time; %.2f s\n",
               r.best_round, r.rounds, r.seconds > 0 ? (double)r.rounds / r.seconds : 0.0, 100.0 * share, wall);
        if (summary) {
            fr_cli_metric metrics[] = {{"test_auc", r.test.mean_auc},
                                       {"test_logloss", r.test.mean_logloss},
                                       {"valid_auc", r.valid.mean_auc},
                                       {"valid_logloss", r.valid.mean_logloss},
                                       {"best_round", (double)r.best_round},
                                       {"rounds", (double)r.rounds},
                                       {"rounds_per_second", r.seconds > 0 ? (double)r.rounds / r.seconds : 0.0},
                                       {"aggregate_share", share},
                                       {"upload_bytes_per_client_round", per_client},
                                       {"conflicts", (double)r.conflicts}};
            fr_cli_summary sm = {fr_fed_method_name(o.method), fr_msmt_arch_name(o.model.arch), fr_backend_name(be),
                                 fr_backend_describe(be), "round", (long long)r.rounds, (long long)o.rounds,
                                 metrics, sizeof metrics / sizeof metrics[0], wall, &t, &r.valid, &r.test,
                                 NULL, NULL, NULL, NULL};
            int rc = fr_cli_write_summary(summary, cfg, &sm);
            if (rc != FR_EXIT_OK)
                code = rc;
        }
        if (*model_path) {
            char best[64];
            if (o.keep_last)
                snprintf(best, sizeof best, "round %zu of %zu (the last)", r.rounds, r.rounds);
            else
                snprintf(best, sizeof best, "round %zu of %zu", r.best_round, r.rounds);
            fr_status ss = fr_cli_fedmsmt_save(cfg, &t, r.model, best);
            if (ss != FR_OK)
                code = fr_cli_report(ss, NULL);
        }
    }
    fr_fedmsmt_result_release(&r);
    if (s == FR_OK)
        code = fr_cli_final_verdict(comm, code);
    fr_backend_close(be);
    fr_table_free(&t);
    return code;
}

fr_status fr_cli_fedmsmt_check(const fr_config *cfg)
{
    /* How many clients (scenarios) the data has is known before reading it
     * only for synthetic data; otherwise fedmsmt.membership is checked
     * against its own row count here, and against the data's when read. */
    const char *source, *membership;
    int64_t clients = 0;
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(cfg, "fedmsmt.membership", &membership));
    if (!strcmp(source, "synthetic")) {
        FR_TRY_CLI(fr_config_get_int(cfg, "msmt.scenarios", &clients));
    } else {
        clients = 1;
        for (const char *c = membership; *c; c++)
            clients += *c == ';';
    }
    fr_fedmsmt_options o;
    FR_TRY_CLI(fr_cli_fedmsmt_options(cfg, (size_t)clients, &o));
    return fr_participation_check(&o.participation);
}
