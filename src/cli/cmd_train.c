/* cmd_train.c — `fedrec train`: run the job a configuration describes
 * (this release: the built-in click-through job), print one line per
 * epoch, write the report and the model. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "cli/interrupt.h"
#include "cli/job_check.h"
#include "cli/job_setup.h"
#include "cli/loss_watch.h"
#include "cli/progress.h"
#include "cli/options.h"
#include "cli/ranks.h"
#include "cli/summary.h"
#include "fedrec/comm.h"
#include "fedrec/ctr_job.h"
#include "fedrec/model_file.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec train [CONFIG] [--set section.key=value]... [--save MODEL]\n"
            "                    [--report FILE] [--summary FILE] [--resume] [--quiet]\n\n"
            "Train the job CONFIG describes: the defaults, then CONFIG, then each --set\n"
            "in order. job.kind picks the job (shipped configurations in conf/):\n\n"
            "  pfedrec     PFedRec, the default (synthetic ratings unless data.source\n"
            "              says otherwise): quickstart.ini, pfedrec-ml100k.ini\n"
            "  fedmf       the FedMF baseline, same data and pfedrec.* keys: fedmf-ml100k.ini\n"
            "  fedncf      the FedNCF baseline: fedncf-ml100k.ini\n"
            "  central-mf  centralised MF, the upper reference: central-mf-ml100k.ini\n"
            "  msmt        a multi-scenario multi-task model trained centrally\n"
            "              (msmt.model = lr, shared-bottom, mmoe, ple or autoifs):\n"
            "              msmt-*.ini, autoifs-*.ini\n"
            "  fedmsmt     federated multi-scenario multi-task training, one MMoE client\n"
            "              per scenario (fedmsmt.method = pfmsmtrec, fedavg, fedprox,\n"
            "              fedbn or local): pfmsmtrec-*.ini, fedavg-msmt-*.ini, ...\n"
            "  mtrec       multi-task MF with a gradient combiner (mtrec.combiner =\n"
            "              pmtrec, ew, pcgrad, ...; mtrec.federated): pmtrec-office.ini,\n"
            "              mtrec-synthetic.ini\n"
            "  ctr         a click-through model on generated data, scored each epoch on\n"
            "              data.valid_fraction validation rows and the test rows, the\n"
            "              best validation epoch kept: demo.ini\n\n"
            "Where each paper's method is:\n"
            "  PFedRec                 job.kind = pfedrec\n"
            "  FedMF, FedNCF           job.kind = fedmf, fedncf\n"
            "  PF-MSMTrec              job.kind = fedmsmt, fedmsmt.method = pfmsmtrec\n"
            "  FedAvg, FedProx, FedBN  job.kind = fedmsmt, fedmsmt.method = fedavg,\n"
            "                          fedprox, fedbn\n"
            "  PMTRec                  job.kind = mtrec, mtrec.combiner = pmtrec\n"
            "  EW, PCGrad, CAGrad, ... job.kind = mtrec, mtrec.combiner = ew, pcgrad, ...\n"
            "  AutoIFS                 job.kind = msmt, msmt.model = autoifs\n"
            "  MMoE, PLE, Shared-Bottom  job.kind = msmt, msmt.model = mmoe, ple,\n"
            "                          shared-bottom\n\n"
            "A key set (in CONFIG or by --set) that the job does not read is refused\n"
            "(exit 3), whatever its value; 'fedrec config --keys --job KIND' lists the\n"
            "keys a job reads. A key of CONFIG that CONFIG's own job reads, left unread\n"
            "because --set changed the job (job.kind, fedmsmt.method, mtrec.combiner,\n"
            "msmt.model, ...), is noted instead. Everything 'fedrec config --check'\n"
            "checks is checked before any data is read: input files exist, and the\n"
            "output files (--summary included) can be written.\n\n"
            "  --set K=V      override one key (repeatable); 'fedrec config --keys' lists them\n"
            "  --save MODEL   save the trained model (same as --set output.model=MODEL)\n"
            "  --report FILE  one row per epoch or round: CSV for FILE.csv, JSON lines for\n"
            "                 FILE.jsonl or FILE.ndjson (NaN as null), else output.report_format\n"
            "  --summary FILE what ran (run name, job, method, fedrec version, start time,\n"
            "                 host, device, seed, status) and its final figures (metrics,\n"
            "                 every scenario x task cell, time, peak memory, the effective\n"
            "                 configuration) as one JSON object (doc/OUTPUTS.md)\n"
            "  --resume       continue a rating job's, msmt's, mtrec's or fedmsmt's run\n"
            "                 from output.checkpoint, under the same configuration\n"
            "                 (train.rounds, output.* and the per-rank keys may change;\n"
            "                 doc/RELIABILITY.md) and data (fedmsmt: one process only)\n"
            "  --quiet        print only the final summary (and no progress line)\n\n"
            "On a terminal a progress line on stderr shows the epoch or round, the\n"
            "batches or clients done within it, their rate and the time left. Ctrl-C (or\n"
            "SIGTERM) stops a run at the next safe point: whole report rows, a rating\n"
            "job's checkpoint of the rounds run (msmt: that of the last finished\n"
            "epoch; central mtrec: its last checkpoint stands; federated mtrec: the round\n"
            "under way finishes and is checkpointed; fedmsmt: its last checkpoint\n"
            "stands), the summary of what ran\n"
            "printed and written (marked interrupted), exit 130 (143); a second Ctrl-C\n"
            "quits at once.\n\n"
            "In a build configured --with-mpi, 'mpirun -np K fedrec train CONFIG' runs the\n"
            "pfedrec, fedmf, fedncf, fedmsmt and federated mtrec (mtrec.federated = true)\n"
            "jobs on K ranks with the one-process\n"
            "result (fed.* and rank.* keys, output.comm_report; doc/DISTRIBUTED.md).\n"
            "A signal to any rank stops every rank after the same round, as above;\n"
            "Ctrl-C on mpirun reaches the ranks as SIGTERM a second later, and SIGKILL\n"
            "follows a second after that (doc/DISTRIBUTED.md, 'Stopping a multi-rank run').\n");
}

typedef struct train_opts {
    const char *config;
    fr_cli_sets sets;
    const char *save, *report, *summary;
    int quiet, resume;
} train_opts;

static int parse(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        int took = fr_cli_take_set("train", argc, argv, &i, &o->sets);
        if (took < 0)
            return FR_EXIT_USAGE;
        if (took)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--save") || !strcmp(a, "--report") || !strcmp(a, "--summary")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "fedrec train: %s needs a file name\n", a);
                return FR_EXIT_USAGE;
            }
            *(a[3] == 'a' ? &o->save : a[3] == 'e' ? &o->report : &o->summary) = argv[++i];
        } else if (!strcmp(a, "--resume")) {
            o->resume = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec train: unknown option '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        } else if (!o->config) {
            o->config = a;
        } else {
            fprintf(stderr, "fedrec train: more than one configuration file ('%s', '%s')\n",
                    o->config, a);
            return FR_EXIT_USAGE;
        }
    }
    return FR_EXIT_OK;
}

static int run(fr_config *cfg, const train_opts *o)
{
    const char *report_path, *model_path, *format, *name;
    int64_t epochs, eval_every = 1;
    double lr = 0, weight_decay = 0;
    fr_config_get_int(cfg, "train.eval_every", &eval_every);
    fr_config_get_float(cfg, "train.lr", &lr);
    fr_config_get_float(cfg, "train.weight_decay", &weight_decay);
    fr_config_get_string(cfg, "output.report", &report_path);
    fr_config_get_string(cfg, "output.model", &model_path);
    fr_config_get_string(cfg, "output.report_format", &format);
    fr_config_get_string(cfg, "run.name", &name);
    fr_config_get_int(cfg, "train.epochs", &epochs);
    int jsonl = !strcmp(format, "jsonl");
    fr_backend *be;
    fr_status s = fr_cli_open_backend(cfg, &be);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    fr_ctr_job *job;
    s = fr_ctr_job_open(cfg, be, &job);
    if (s != FR_OK) {
        fr_backend_close(be);
        return fr_cli_report(s, NULL);
    }
    FILE *report = NULL;
    if (*report_path) {
        report = fopen(report_path, "w");
        if (!report) {
            fprintf(stderr, "fedrec: %s: cannot write the report: %s\n", report_path, strerror(errno));
            fr_ctr_job_close(job);
            fr_backend_close(be);
            return FR_EXIT_FAILURE;
        }
        if (!jsonl)
            fprintf(report, "epoch,train_loss,valid_logloss,valid_auc,test_logloss,test_auc,seconds\n");
    }
    fr_ctr_job_info info;
    fr_ctr_job_describe(job, &info);
    if (!o->quiet) {
        printf("fedrec train: %s: synthetic click data, %zu training, %zu validation and %zu test rows, %zu fields x %zu values, %zu numeric\n",
               name, info.train_rows, info.valid_rows, info.test_rows, info.fields, info.vocab, info.numeric);
        printf("backend: %s; %zu parameters\n\n", fr_backend_describe(be), info.n_params);
        printf("%5s %11s %13s %9s %13s %9s %8s\n", "epoch", "train_loss", "valid_logloss", "valid_auc",
               "test_logloss", "test_auc", "seconds");
    }
    fr_cli_progress progress;
    fr_cli_progress_init(&progress, o->quiet, "epoch", 1, (long long)epochs);
    double t_start = fr_clock_seconds(), loss = 0;
    double valid_ll = 0, valid_auc = 0, test_ll = 0, test_auc = 0;
    double best_valid_ll = 0, best_valid_auc = 0, best_test_ll = 0, best_test_auc = 0;
    int64_t best_epoch = 0, done = 0;
    fr_cli_loss_watch watch;
    fr_cli_loss_watch_init(&watch, 1, "epoch", "train.lr", lr, "train.weight_decay", weight_decay, NULL);
    /* A stop (Ctrl-C) is taken between epochs. */
    for (int64_t e = 1; e <= epochs && s == FR_OK && !fr_cli_interrupted(); e++) {
        fr_cli_progress_tick(&progress);
        double t0 = fr_clock_seconds();
        /* train.eval_every: the others train only */
        int evaluate = e % eval_every == 0 || e == epochs;
        s = fr_ctr_job_train_epoch(job, (unsigned)e, &loss);
        valid_ll = valid_auc = test_ll = test_auc = NAN;
        if (s == FR_OK && evaluate)
            s = fr_ctr_job_evaluate_valid(job, &valid_ll, &valid_auc);
        if (s == FR_OK && evaluate)
            s = fr_ctr_job_evaluate(job, &test_ll, &test_auc);
        /* The first epoch, then any with a higher validation AUC (the
         * earlier on ties); test figures play no part. */
        int improved = evaluate && (best_epoch == 0 || valid_auc > best_valid_auc);
        if (s == FR_OK && improved) {
            best_epoch = e;
            best_valid_ll = valid_ll;
            best_valid_auc = valid_auc;
            best_test_ll = test_ll;
            best_test_auc = test_auc;
            s = fr_ctr_job_keep(job);
        }
        if (s != FR_OK)
            break;
        double secs = fr_clock_seconds() - t0;
        done = e;
        fr_cli_progress_clear(&progress);
        if (!o->quiet && evaluate)
            printf("%5lld %11.6f %13.6f %9.6f %13.6f %9.6f %8.2f%s\n", (long long)e, loss, valid_ll, valid_auc,
                   test_ll, test_auc, secs, improved ? "  *" : "");
        else if (!o->quiet)
            printf("%5lld %11.6f %13s %9s %13s %9s %8.2f\n", (long long)e, loss, "-", "-", "-", "-", secs);
        fflush(stdout);
        if (report) {
            if (jsonl) {
                fr_cli_json_row r;
                fr_cli_json_begin(&r, report);
                fr_cli_json_int(&r, "epoch", (long long)e);
                fr_cli_json_num(&r, "train_loss", loss);
                fr_cli_json_num(&r, "valid_logloss", valid_ll);
                fr_cli_json_num(&r, "valid_auc", valid_auc);
                fr_cli_json_num(&r, "test_logloss", test_ll);
                fr_cli_json_num(&r, "test_auc", test_auc);
                fr_cli_json_num(&r, "seconds", secs);
                fr_cli_json_end(&r);
            } else if (evaluate) {
                fprintf(report, "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f\n", (long long)e, loss, valid_ll, valid_auc,
                        test_ll, test_auc, secs);
            } else { /* not evaluated: empty cells */
                fprintf(report, "%lld,%.6f,,,,,%.3f\n", (long long)e, loss, secs);
            }
            fflush(report);
        }
        fr_cli_loss_watch_step(&watch, loss);
        fr_cli_progress_next(&progress);
    }
    fr_cli_progress_clear(&progress);
    /* The run's model is the best validation epoch's: its test figures
     * are the ones reported, and it is what --save writes (a run stopped
     * before its first epoch ended has none and keeps what it has). */
    if (s == FR_OK && best_epoch > 0)
        s = fr_ctr_job_restore(job);
    int code = FR_EXIT_OK;
    if (report && fclose(report) != 0 && s == FR_OK) {
        fprintf(stderr, "fedrec: %s: write failed: %s\n", report_path, strerror(errno));
        code = FR_EXIT_FAILURE;
    }
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else {
        double wall = fr_clock_seconds() - t_start;
        if (fr_cli_interrupted())
            fr_cli_interrupt_say("epoch", (long long)done, (long long)epochs);
        printf("%sbest validation epoch %lld of %lld: valid AUC %.6f, log loss %.6f; test AUC %.6f, log loss %.6f; %.2f s\n",
               o->quiet ? "" : "\n", (long long)best_epoch, (long long)epochs, best_valid_auc, best_valid_ll,
               best_test_auc, best_test_ll, wall);
        if (o->summary) {
            fr_cli_metric m[] = {{"test_auc", best_test_auc},   {"test_logloss", best_test_ll},
                                 {"valid_auc", best_valid_auc}, {"valid_logloss", best_valid_ll},
                                 {"best_epoch", (double)best_epoch}, {"epochs", (double)done}};
            fr_cli_summary sm = {"ctr", NULL, fr_backend_name(be), fr_backend_describe(be), "epoch", (long long)done,
                                 (long long)epochs, m, sizeof m / sizeof m[0], wall, NULL, NULL, NULL,
                                 NULL, NULL, NULL, NULL};
            int rc = fr_cli_write_summary(o->summary, cfg, &sm);
            if (rc != FR_EXIT_OK)
                code = rc;
        }
        if (*model_path) {
            char *meta = NULL;
            s = fr_config_print_string(cfg, &meta);
            if (s == FR_OK)
                s = fr_model_save(model_path, fr_ctr_job_params(job), meta);
            free(meta);
            if (s != FR_OK)
                code = fr_cli_report(s, NULL);
            else
                printf("model saved to %s\n", model_path);
        }
    }
    fr_ctr_job_close(job);
    fr_backend_close(be);
    return code;
}

/* Run the job kind names on the ranks of comm. */
static int run_job(fr_config *cfg, const train_opts *o, const char *kind, fr_comm *comm)
{
    int ranks = fr_comm_size(comm);
    if (ranks > 1 && (!strcmp(kind, "msmt") || !strcmp(kind, "ctr") || !strcmp(kind, "central-mf"))) {
        fr_status s = fr_cli_fail(FR_ERR_UNSUPPORTED, "job.kind = %s runs in one process; started with %d ranks (multi-rank jobs: pfedrec, fedmf, fedncf, fedmsmt, mtrec with mtrec.federated = true)",
                                  kind, ranks);
        return fr_cli_report(fr_cli_agree(comm, s), NULL); /* every rank sees it: reported once */
    }
    int federated = 0;
    if (ranks > 1 && !strcmp(kind, "mtrec") && fr_config_get_bool(cfg, "mtrec.federated", &federated) == FR_OK &&
        !federated) { /* central training pools every user's data in one process */
        fr_status s = fr_cli_fail(FR_ERR_UNSUPPORTED, "job.kind = mtrec with mtrec.federated = false trains centrally, every user's data in one process; started with %d ranks: run it without mpirun, or set mtrec.federated = true for federated rounds over the ranks",
                                  ranks);
        return fr_cli_report(fr_cli_agree(comm, s), NULL);
    }
    if (!strcmp(kind, "msmt"))
        return fr_cli_run_msmt(cfg, o->quiet, o->summary, o->resume);
    if (!strcmp(kind, "mtrec"))
        return fr_cli_run_mtrec(cfg, o->quiet, o->summary, o->resume, comm);
    if (!strcmp(kind, "fedmsmt"))
        return fr_cli_run_fedmsmt(cfg, o->quiet, o->summary, o->resume, comm);
    return strcmp(kind, "ctr") ? fr_cli_run_pfedrec(cfg, o->quiet, o->summary, o->resume, comm) : run(cfg, o);
}

/* A report named *.csv is CSV, *.jsonl or *.ndjson JSON lines, whatever
 * output.report_format says (it decides for other names). */
static fr_status report_format_from_name(fr_config *cfg)
{
    const char *path;
    FR_TRY_CLI(fr_config_get_string(cfg, "output.report", &path));
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return FR_OK;
    if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson"))
        return fr_config_set(cfg, "output.report_format", "jsonl", "output.report's extension");
    if (!strcasecmp(dot, ".csv"))
        return fr_config_set(cfg, "output.report_format", "csv", "output.report's extension");
    return FR_OK;
}

int fr_cli_train(int argc, char **argv)
{
    fr_cli_summary_started();
    train_opts o;
    int rc = parse(argc, argv, &o);
    if (rc == -1)
        return FR_EXIT_OK;
    if (rc != FR_EXIT_OK)
        return rc;
    fr_comm *comm = NULL;
    fr_status s = fr_comm_open(NULL, NULL, &comm);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    fr_cli_set_comm(comm);
    fr_config *cfg = NULL, *file_only = NULL;
    s = fr_config_build(o.config, o.sets.items, o.sets.count, &cfg);
    if (s == FR_OK && o.save)
        s = fr_config_set(cfg, "output.model", o.save, "--save");
    if (s == FR_OK && o.report)
        s = fr_config_set(cfg, "output.report", o.report, "--report");
    /* Everything `config --check` checks, before any data is read: what
     * the file and the options ask for (the per-rank overrides below are
     * checked where the job reads them). */
    if (s == FR_OK && o.config)
        s = fr_config_build(o.config, NULL, 0, &file_only);
    if (s == FR_OK) {
        int rank0 = fr_comm_rank(comm) == 0;
        fr_cli_check check = {file_only, o.summary, rank0, rank0 ? stderr : NULL};
        s = fr_cli_check_job(cfg, &check);
    }
    fr_config_free(file_only);
    if (s == FR_OK)
        s = report_format_from_name(cfg);
    if (s == FR_OK)
        s = fr_cli_rank_overrides(cfg, fr_comm_rank(comm));
    if (fr_comm_size(comm) > 1) /* a bad configuration: reported once, by rank 0 */
        s = fr_cli_agree(comm, s);
    const char *kind = "";
    if (s == FR_OK)
        fr_config_get_string(cfg, "job.kind", &kind);
    /* Every rank decides the usage errors alike: rank 0 says them. */
    int usage_error = 0, quiet_rank = fr_comm_rank(comm) != 0;
    if (s == FR_OK && o.resume && !strcmp(kind, "ctr")) {
        if (!quiet_rank)
            fprintf(stderr, "fedrec train: --resume continues a federated run from output.checkpoint; job.kind = %s has none\n", kind);
        usage_error = 1;
    }
    if (s != FR_OK) {
        rc = fr_cli_report(s, NULL);
    } else if (usage_error) {
        rc = FR_EXIT_USAGE;
    } else {
        /* Ctrl-C or SIGTERM stops a run cleanly, the ranks of a
         * multi-rank run after the same round (interrupt.h). */
        fr_cli_interrupt_arm(comm);
        rc = fr_cli_interrupt_exit_code(run_job(cfg, &o, kind, comm));
        fr_cli_interrupt_disarm();
    }
    fr_config_free(cfg);
    /* A failure only this rank saw leaves the others waiting in an
     * exchange: end the whole job (it has been reported above). A stop the
     * ranks agreed on ends every rank alike, with the same code. */
    int agreed_stop = fr_cli_interrupted() && rc == 128 + fr_cli_interrupted();
    if (rc != FR_EXIT_OK && !usage_error && !agreed_stop && fr_comm_size(comm) > 1 && !fr_comm_error_shared(comm))
        fr_comm_abort(comm, rc);
    fr_cli_set_comm(NULL);
    fr_comm_close(comm);
    return rc;
}
