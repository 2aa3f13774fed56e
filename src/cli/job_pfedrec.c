/* job_pfedrec.c — `fedrec train` with job.kind = pfedrec, fedmf, fedncf or central-mf: read the rating
 * file, split it leave-one-out, run the rounds, print one line per round,
 * write the report, and summarise the best-validation round. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#include "fedrec/privacy.h"
#include "fedrec/backend.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"

fr_status fr_cli_ratings_spec(const fr_config *cfg, fr_ratings_spec *spec, const char **path)
{
    const char *source, *columns, *kind;
    char delim;
    int header;
    FR_TRY_CLI(fr_config_get_string(cfg, "job.kind", &kind));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.path", path));
    FR_TRY_CLI(fr_config_get_delimiter(cfg, "data.delimiter", &delim));
    FR_TRY_CLI(fr_config_get_bool(cfg, "data.header", &header));
    FR_TRY_CLI(fr_config_get_string(cfg, "data.columns", &columns));
    if (!strcmp(source, "synthetic")) {
        *path = NULL; /* generated: see load_ratings */
        return FR_OK;
    }
    if (!**path)
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s needs data.path", source);
    /* split: a folder of delimited files (the mtrec job reads them) */
    fr_ratings_spec_default(!strcmp(source, "movielens") ? FR_RATINGS_MOVIELENS_TAB
                            : !strcmp(source, "movielens-dat") ? FR_RATINGS_MOVIELENS_DAT
                                                                : FR_RATINGS_DELIMITED, spec);
    if (spec->format != FR_RATINGS_DELIMITED)
        return FR_OK;
    spec->delimiter = delim;
    spec->header = header;
    spec->col_user = spec->col_item = spec->col_rating = spec->col_time = -1;
    int col = 0;
    for (const char *c = columns; *c; col++) {
        size_t len = strcspn(c, ",");
        if (len == 4 && !strncmp(c, "user", 4))
            spec->col_user = col;
        else if (len == 4 && !strncmp(c, "item", 4))
            spec->col_item = col;
        else if (len == 6 && !strncmp(c, "rating", 6))
            spec->col_rating = col;
        else if (len == 4 && !strncmp(c, "time", 4))
            spec->col_time = col;
        else if (len == 8 && !strncmp(c, "category", 8) && strcmp(kind, "mtrec"))
            return fr_cli_fail(FR_ERR_CONFIG, "data.columns = '%s': a category column is read by job.kind = mtrec (the category task); job.kind = %s has no use for it: write - for that column",
                               columns, kind);
        else if (!(len == 1 && *c == '-') && !(len == 8 && !strncmp(c, "category", 8)))
            return fr_cli_fail(FR_ERR_CONFIG, "data.columns = '%s': '%.*s' is not one of user, item, rating, time, %s-",
                               columns, (int)len, c, strcmp(kind, "mtrec") ? "" : "category, ");
        c += len;
        if (*c == ',')
            c++;
    }
    if (spec->col_user < 0 || spec->col_item < 0)
        return fr_cli_fail(FR_ERR_CONFIG, "data.columns = '%s': needs a user and an item column", columns);
    return FR_OK;
}

static const char *algorithm_name(fr_rating_algorithm a)
{
    switch (a) {
    case FR_ALGO_FEDMF: return "FedMF";
    case FR_ALGO_FEDNCF: return "FedNCF";
    case FR_ALGO_CENTRAL_MF: return "centralised MF";
    default: return "PFedRec";
    }
}

/* pfedrec.ncf_layers: "32,16,8" -> widths. */
static fr_status ncf_layers(const fr_config *cfg, fr_pfedrec_options *o)
{
    const char *text, *c;
    FR_TRY_CLI(fr_config_get_string(cfg, "pfedrec.ncf_layers", &text));
    o->n_ncf_layers = 0;
    for (c = text;;) {
        char *end;
        errno = 0;
        long width = strtol(c, &end, 10);
        if (end == c || errno || width < 1 || width > 4096 || (*end && *end != ',') ||
            o->n_ncf_layers == FR_NCF_MAX_LAYERS)
            return fr_cli_fail(FR_ERR_CONFIG, "pfedrec.ncf_layers = '%s': expected 1 to %d comma-separated widths from 1 to 4096, like 32,16,8",
                               text, FR_NCF_MAX_LAYERS);
        o->ncf_layers[o->n_ncf_layers++] = (size_t)width;
        if (!*end)
            break;
        c = end + 1;
    }
    return FR_OK;
}

/* The privacy.* keys; the DP noise from a target epsilon is set later,
 * once the number of users (hence the sampling rate) is known. */
static fr_status privacy_options(const fr_config *cfg, fr_pfedrec_options *o)
{
    double target;
    int64_t neighbours;
    FR_TRY_CLI(fr_config_get_float(cfg, "privacy.local_noise", &o->local_noise));
    FR_TRY_CLI(fr_config_get_float(cfg, "privacy.dp_noise", &o->dp_noise));
    FR_TRY_CLI(fr_config_get_float(cfg, "privacy.dp_epsilon", &target));
    FR_TRY_CLI(fr_config_get_float(cfg, "privacy.dp_delta", &o->dp_delta));
    FR_TRY_CLI(fr_config_get_bool(cfg, "privacy.secure_agg", &o->secure_agg));
    FR_TRY_CLI(fr_config_get_int(cfg, "privacy.secure_neighbours", &neighbours));
    o->secure_neighbours = (size_t)neighbours;
    if (target > 0 && o->dp_noise > 0)
        return fr_cli_fail(FR_ERR_CONFIG, "privacy.dp_epsilon = %g and privacy.dp_noise = %g: give one of them (the target epsilon sets the noise)",
                           target, o->dp_noise);
    if ((target > 0 || o->dp_noise > 0) && !(o->clip_norm > 0))
        return fr_cli_fail(FR_ERR_CONFIG, "differential privacy (privacy.dp_noise or privacy.dp_epsilon) needs fed.clip_norm > 0: the clipping bound C that the noise is scaled to");
    return FR_OK;
}

/* privacy.dp_epsilon: the noise multiplier that reaches it over the run. */
static fr_status dp_from_target(const fr_config *cfg, size_t n_users, int64_t rounds, fr_pfedrec_options *o)
{
    double target;
    FR_TRY_CLI(fr_config_get_float(cfg, "privacy.dp_epsilon", &target));
    if (!(target > 0))
        return FR_OK;
    double q = fr_pfedrec_sampling_rate(o, n_users);
    FR_TRY_CLI(fr_dp_calibrate(q, (unsigned)rounds, o->dp_delta, target, &o->dp_noise));
    return FR_OK;
}

fr_status fr_cli_pfedrec_options(const fr_config *cfg, fr_pfedrec_options *o)
{
    int64_t dim, negatives, epochs, batch, top_k, threads;
    double lr, eta, fraction, central_lr;
    const char *mode, *aggregation, *isa;
    int personal_items, personal_score;
    fr_pfedrec_options_default(o);
    const char *kind;
    FR_TRY_CLI(fr_config_get_string(cfg, "job.kind", &kind));
    o->algorithm = !strcmp(kind, "fedmf")        ? FR_ALGO_FEDMF
                   : !strcmp(kind, "fedncf")     ? FR_ALGO_FEDNCF
                   : !strcmp(kind, "central-mf") ? FR_ALGO_CENTRAL_MF
                                                 : FR_ALGO_PFEDREC;
    FR_TRY_CLI(fr_config_get_uint64(cfg, "run.seed", &o->seed));
    FR_TRY_CLI(fr_config_get_int(cfg, "pfedrec.dim", &dim));
    FR_TRY_CLI(fr_config_get_float(cfg, "pfedrec.lr", &lr));
    FR_TRY_CLI(fr_config_get_float(cfg, "pfedrec.lr_eta", &eta));
    FR_TRY_CLI(fr_config_get_int(cfg, "pfedrec.negatives", &negatives));
    FR_TRY_CLI(fr_config_get_int(cfg, "pfedrec.local_epochs", &epochs));
    FR_TRY_CLI(fr_config_get_float(cfg, "pfedrec.client_fraction", &fraction));
    FR_TRY_CLI(fr_config_get_string(cfg, "pfedrec.mode", &mode));
    FR_TRY_CLI(fr_config_get_string(cfg, "pfedrec.aggregation", &aggregation));
    FR_TRY_CLI(fr_config_get_bool(cfg, "pfedrec.item_personalisation", &personal_items));
    FR_TRY_CLI(fr_config_get_bool(cfg, "pfedrec.personal_score", &personal_score));
    FR_TRY_CLI(fr_config_get_int(cfg, "pfedrec.top_k", &top_k));
    FR_TRY_CLI(fr_config_get_float(cfg, "pfedrec.central_lr", &central_lr));
    FR_TRY_CLI(ncf_layers(cfg, o));
    FR_TRY_CLI(fr_config_get_int(cfg, "train.batch_size", &batch));
    FR_TRY_CLI(fr_config_get_int(cfg, "backend.threads", &threads));
    FR_TRY_CLI(fr_config_get_string(cfg, "backend.cpu_isa", &isa));
    const char *backend_kind;
    FR_TRY_CLI(fr_config_get_string(cfg, "backend.kind", &backend_kind));
    int64_t cohort;
    FR_TRY_CLI(fr_config_get_int(cfg, "pfedrec.cohort", &cohort));
    o->cohort = (size_t)cohort;
    if (!strcmp(backend_kind, "opencl") && o->algorithm == FR_ALGO_CENTRAL_MF)
        return fr_cli_fail(FR_ERR_UNSUPPORTED, "backend.kind = opencl: job.kind = central-mf trains on the CPU (the federated pfedrec, fedmf and fedncf train their clients as cohorts on a backend); use backend.kind = auto or cpu");
    fr_cpu_isa parsed;
    FR_TRY_CLI(fr_cpu_isa_parse(isa, &parsed));
    o->cpu_isa = (int)parsed;
    FR_TRY_CLI(fr_cli_participation(cfg, &o->participation));
    FR_TRY_CLI(fr_cli_screening(cfg, &o->clip_norm, &o->fault_nan, &o->fault_huge));
    FR_TRY_CLI(privacy_options(cfg, o));
    const char *aggregator;
    FR_TRY_CLI(fr_config_get_string(cfg, "fed.aggregator", &aggregator));
    FR_TRY_CLI(fr_config_get_float(cfg, "fed.trim", &o->trim));
    o->aggregator = !strcmp(aggregator, "median")         ? FR_AGG_MEDIAN
                    : !strcmp(aggregator, "trimmed_mean") ? FR_AGG_TRIMMED_MEAN
                                                          : FR_AGG_MEAN;
    o->dim = (size_t)dim;
    o->lr = (float)lr;
    o->lr_eta = (float)eta;
    o->negatives = (size_t)negatives;
    o->local_epochs = (size_t)epochs;
    o->client_fraction = fraction;
    o->strict = !strcmp(mode, "strict");
    o->weighted = !strcmp(aggregation, "weighted");
    o->eval_global_items = !personal_items;
    o->share_score = !personal_score;
    o->top_k = (size_t)top_k;
    o->central_lr = (float)central_lr;
    o->batch = (size_t)batch;
    o->threads = (int)threads;
    return FR_OK;
}

/* A JSON-lines report row (numbers that are not finite as null). */
static void report_json_row(FILE *f, long long round, const fr_pfedrec_round *st)
{
    fr_cli_json_row r;
    fr_cli_json_begin(&r, f);
    fr_cli_json_int(&r, "round", round);
    fr_cli_json_num(&r, "train_loss", st->train_loss);
    fr_cli_json_num(&r, "val_hr", st->val_hr);
    fr_cli_json_num(&r, "val_ndcg", st->val_ndcg);
    fr_cli_json_num(&r, "test_hr", st->test_hr);
    fr_cli_json_num(&r, "test_ndcg", st->test_ndcg);
    fr_cli_json_num(&r, "seconds", st->seconds);
    fr_cli_json_int(&r, "bytes_up", (long long)st->bytes_up);
    fr_cli_json_int(&r, "participants", (long long)st->participants);
    fr_cli_json_int(&r, "rejected", (long long)st->rejected);
    fr_cli_json_num(&r, "dp_epsilon", st->dp_epsilon);
    fr_cli_json_end(&r);
}

/* The job fingerprint checkpoints keep and the ranks compare: the
 * effective configuration, and with privacy.dp_epsilon the rounds too,
 * since the noise that reaches the target is set for the whole run (a
 * resume with more rounds would add noise of another scale, and the
 * epsilon reported would be wrong). */
static fr_status job_fingerprint(const fr_config *cfg, int64_t rounds, char **out)
{
    double target;
    FR_TRY_CLI(fr_config_get_float(cfg, "privacy.dp_epsilon", &target));
    FR_TRY_CLI(fr_config_fingerprint(cfg, out));
    if (!(target > 0))
        return FR_OK;
    size_t len = strlen(*out);
    char *longer = realloc(*out, len + 96);
    if (!longer) {
        free(*out);
        *out = NULL;
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the job fingerprint");
    }
    snprintf(longer + len, 96, "train.rounds (fixed by privacy.dp_epsilon) = %lld\n", (long long)rounds);
    *out = longer;
    return FR_OK;
}

/* The backend the clients train on as cohorts (pfedrec, fedmf, fedncf
 * with pfedrec.cohort > 0 or backend.kind = opencl), opened here; else
 * NULL. */
static fr_status cohort_backend(const fr_config *cfg, fr_backend **be)
{
    const char *kind, *backend_kind;
    int64_t cohort;
    *be = NULL;
    FR_TRY_CLI(fr_config_get_string(cfg, "job.kind", &kind));
    FR_TRY_CLI(fr_config_get_string(cfg, "backend.kind", &backend_kind));
    FR_TRY_CLI(fr_config_get_int(cfg, "pfedrec.cohort", &cohort));
    if (strcmp(kind, "pfedrec") && strcmp(kind, "fedmf") && strcmp(kind, "fedncf"))
        return FR_OK;
    if (cohort == 0 && strcmp(backend_kind, "opencl"))
        return FR_OK;
    return fr_cli_open_backend(cfg, be);
}

/* What this rank computes on: "cpu avx512, 2 threads", or the backend of
 * cohort training. */
static void device_of(const fr_pfedrec_options *o, char *buf, size_t n)
{
    if (o->backend) {
        snprintf(buf, n, "%s, cohorts of %zu", fr_backend_describe(o->backend),
                 fr_pfedrec_cohort_clients(o));
        return;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 1);
    fr_cpu_isa isa = o->cpu_isa ? (fr_cpu_isa)o->cpu_isa : fr_cpu_isa_best();
    snprintf(buf, n, "cpu %s, %d thread%s", fr_cpu_isa_name(isa), threads, threads == 1 ? "" : "s");
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* output.model, on every rank: the kept model of the best round (taken
 * when it was the best, or read from the checkpoint a resumed run started
 * from) or of the last, with every user's part gathered onto rank 0. A
 * run resumed from a checkpoint without models (one written without
 * output.model, or before checkpoint format 4) may have none and says so;
 * held: what the checkpoint gave (FR_PFEDREC_HELD_*). */
static fr_status model_to_save(fr_pfedrec *p, fr_pfedrec_model *saved, const char *path, int last,
                               long long best_round, unsigned start, int64_t rounds, int held)
{
    fr_status s = FR_OK;
    if (last && (int64_t)start >= rounds && !(held & FR_PFEDREC_HELD_KEPT))
        s = fr_cli_fail(FR_ERR_UNSUPPORTED, "output.model = '%s': nothing saved: this run resumed after round %u of %lld and trained no round, and its checkpoint holds no model (it was written without output.model, or by a fedrec before checkpoint format 4)",
                        path, start, (long long)rounds);
    else if (last)
        s = fr_pfedrec_model_take(p, saved);
    else if ((long long)saved->round != best_round)
        s = fr_cli_fail(FR_ERR_UNSUPPORTED, "output.model = '%s': nothing saved: the best validation round, %lld, came before this run resumed after round %u, and its checkpoint holds no model of it (it was written without output.model or with output.model_from = last, or by a fedrec before checkpoint format 4; output.model_from = last saves the last round's)",
                        path, best_round, start);
    /* Every rank decided alike: only then the exchange. */
    if (s == FR_OK)
        s = fr_pfedrec_model_gather(p, saved);
    return s;
}

/* The best model a checkpoint of round `round` keeps besides the
 * engine's kept model (that of `round` itself): output.model's of an
 * earlier best round, when this run has it (the same on every rank). */
static fr_pfedrec_model *best_to_keep(fr_pfedrec_model *saved, const char *model_path, int model_last,
                                      long long best_round, long long round)
{
    if (!*model_path || model_last || best_round == round || (long long)saved->round != best_round)
        return NULL;
    return saved;
}

/* Rank 0: write it. */
static int save_model(const fr_pfedrec_model *saved, const fr_config *cfg, const char *path, int last, int64_t rounds,
                      const fr_loo_split *split, char *const *user_names, char *const *item_names)
{
    fr_status s = FR_OK;
    if (!user_names)
        s = fr_cli_fail(FR_ERR_INVALID, "output.model = '%s': the data's original ids were not kept", path);
    if (s == FR_OK)
        s = fr_saved_rating_write(path, cfg, saved, split, user_names, item_names, (unsigned)rounds, last);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    printf("model saved to %s (round %u: %s)\n", path, saved->round,
           last ? "the last round" : "the best validation round");
    return FR_EXIT_OK;
}

static int run_pfedrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm,
                       fr_backend *be);

int fr_cli_run_pfedrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm)
{
    fr_backend *be = NULL;
    fr_status s = fr_cli_agree(comm, cohort_backend(cfg, &be));
    if (s != FR_OK) {
        fr_backend_close(be);
        return fr_cli_report(s, NULL);
    }
    int code = run_pfedrec(cfg, quiet, summary, resume, comm, be);
    fr_backend_close(be);
    return code;
}

static int run_pfedrec(const fr_config *cfg, int quiet, const char *summary, int resume, fr_comm *comm,
                       fr_backend *be)
{
    int rank = fr_comm_rank(comm);
    if (rank != 0) { /* rank 0 prints and writes; the others train */
        quiet = 1;
        summary = NULL;
    }
    fr_ratings_spec spec;
    const char *path, *report_path, *format, *name;
    int64_t rounds, eval_negatives, eval_every = 1;
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    const char *source;
    fr_config_get_string(cfg, "data.source", &source);
    fr_status s = !strcmp(source, "split")
                      ? fr_cli_fail(FR_ERR_CONFIG, "data.source = split (three files) is for job.kind = mtrec; the rating engine reads one file and splits it leave-one-out")
                      : fr_cli_ratings_spec(cfg, &spec, &path);
    if (s == FR_OK)
        s = fr_cli_pfedrec_options(cfg, &o);
    o.backend = be;
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "train.rounds", &rounds);
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "pfedrec.eval_negatives", &eval_negatives);
    if (s == FR_OK)
        s = fr_config_get_int(cfg, "train.eval_every", &eval_every);
    fr_config_get_string(cfg, "output.report", &report_path);
    fr_config_get_string(cfg, "output.report_format", &format);
    fr_config_get_string(cfg, "run.name", &name);
    /* output.model: the best-validation round's model (or the last's),
     * kept as the rounds run and written at the end. */
    const char *model_path, *model_from;
    fr_config_get_string(cfg, "output.model", &model_path);
    fr_config_get_string(cfg, "output.model_from", &model_from);
    int model_last = !strcmp(model_from, "last");
    if (s == FR_OK && *model_path && rank == 0)
        s = fr_saved_check_writable("output.model", model_path);
    if (rank != 0)
        report_path = "";
    fr_ratings r;
    int have_ratings = 0, have_split = 0;
    if (s == FR_OK && path) {
        s = fr_ratings_read(path, &spec, &r);
        have_ratings = s == FR_OK;
    } else if (s == FR_OK) {
        int64_t users, items, per_user;
        fr_config_get_int(cfg, "data.users", &users);
        fr_config_get_int(cfg, "data.items", &items);
        fr_config_get_int(cfg, "data.per_user", &per_user);
        fr_implicit_spec gen = {o.seed, (size_t)users, (size_t)items, (size_t)per_user};
        s = fr_implicit_generate(&gen, &r);
        have_ratings = s == FR_OK;
    }
    fr_loo_split split;
    size_t n_ratings = have_ratings ? r.n : 0;
    const char *split_in, *split_out;
    fr_config_get_string(cfg, "data.split_file", &split_in);
    fr_config_get_string(cfg, "output.split", &split_out);
    if (s == FR_OK) {
        s = *split_in ? fr_loo_split_read(&r, split_in, (size_t)eval_negatives, &split)
                      : fr_loo_split_make(&r, o.seed, (size_t)eval_negatives, &split);
        have_split = s == FR_OK;
    }
    if (s == FR_OK && *split_out && rank == 0)
        s = fr_loo_split_write(&split, &r, split_out);
    if (s == FR_OK && split.n_evaluated == 0)
        s = fr_cli_fail(FR_ERR_DATA, "%s: no user has the 3 interactions (with distinct items) that leave-one-out evaluation needs (%zu users)",
                        path ? path : "synthetic ratings", split.n_users);
    if (s == FR_OK && !quiet && rank == 0 && split.n_duplicates)
        printf("note: %zu repeated (user, item) rows: each pair counts once, at its latest time\n", split.n_duplicates);
    if (s == FR_OK && !quiet && rank == 0 && split.n_evaluated < split.n_users)
        printf("note: %zu users with fewer than 3 interactions train but are not evaluated\n",
               split.n_users - split.n_evaluated);
    /* The original ids go into the saved model. */
    char **user_names = NULL, **item_names = NULL;
    size_t n_user_names = 0, n_item_names = 0;
    if (have_ratings && *model_path) {
        user_names = r.user_names;
        item_names = r.item_names;
        n_user_names = r.n_users;
        n_item_names = r.n_items;
        r.user_names = r.item_names = NULL;
    }
    if (have_ratings)
        fr_ratings_free(&r);
    if (s == FR_OK)
        s = dp_from_target(cfg, split.n_users, rounds, &o);
    char *job = NULL;
    if (s == FR_OK)
        s = job_fingerprint(cfg, rounds, &job);
    o.job_fingerprint = job;
    fr_cli_progress progress; /* set up again after a resume */
    fr_cli_progress_init(&progress, quiet, "round", 1, (long long)rounds);
    o.progress = fr_cli_progress_hook(&progress);
    fr_pfedrec *p = NULL;
    if (s == FR_OK)
        s = fr_pfedrec_create(&split, &o, &p);
    free(job);
    o.job_fingerprint = NULL;
    /* Every rank gets here: one verdict, so that a failure (the same on
     * every rank, or one machine's missing file) is reported once and ends
     * every rank cleanly. Only then the engine's own exchanges. */
    s = fr_cli_agree(comm, s);
    if (s == FR_OK)
        s = fr_pfedrec_set_comm(p, comm);
    fr_cli_ranks ranks;
    char device[128];
    device_of(&o, device, sizeof device);
    if (s == FR_OK)
        s = fr_cli_ranks_open(&ranks, comm, cfg, device, quiet);
    if (s != FR_OK) {
        fr_pfedrec_free(p);
        if (have_split)
            fr_loo_split_free(&split);
        free_names(user_names, n_user_names);
        free_names(item_names, n_item_names);
        return fr_cli_report(s, NULL);
    }
    const char *ckpt_path;
    int64_t ckpt_every;
    fr_config_get_string(cfg, "output.checkpoint", &ckpt_path);
    fr_config_get_int(cfg, "train.checkpoint_every", &ckpt_every);
    unsigned start = 0;
    /* Best round so far, kept in the checkpoint: round, val HR, val NDCG,
     * test HR, test NDCG. */
    double best_saved[5] = {0, 0, 0, 0, 0};
    /* output.model: from here on each round's model is kept (the engine's
     * keeping, and the model to save, come back from a checkpoint that
     * holds them: doc/RELIABILITY.md). */
    fr_pfedrec_model saved;
    memset(&saved, 0, sizeof saved);
    int held = 0; /* what the checkpoint gave back (FR_PFEDREC_HELD_*) */
    if (*model_path)
        s = fr_cli_agree(comm, fr_pfedrec_keep_model(p));
    if (resume && s == FR_OK) {
        if (!*ckpt_path)
            s = fr_cli_fail(FR_ERR_CONFIG, "--resume needs output.checkpoint");
        else
            s = fr_pfedrec_load_models(p, ckpt_path, &start, best_saved, 5, *model_path ? &saved : NULL, &held);
        /* A checkpoint without the engine's kept model: keeping starts
         * afresh from the state read. The best round was the checkpoint's
         * own: the kept model is it. */
        if (s == FR_OK && *model_path && !(held & FR_PFEDREC_HELD_KEPT))
            s = fr_pfedrec_keep_model(p);
        if (s == FR_OK && *model_path && !model_last && !(held & FR_PFEDREC_HELD_BEST) &&
            (held & FR_PFEDREC_HELD_KEPT) && (unsigned)best_saved[0] == start)
            s = fr_pfedrec_model_take(p, &saved);
        if (s == FR_OK && *report_path)
            s = fr_cli_trim_report(report_path, (int64_t)start);
        s = fr_cli_agree(comm, s);
        if (s != FR_OK) {
            fr_cli_ranks_close(&ranks, FR_EXIT_OK);
            fr_pfedrec_model_free(&saved);
            fr_pfedrec_free(p);
            fr_loo_split_free(&split);
            free_names(user_names, n_user_names);
            free_names(item_names, n_item_names);
            return fr_cli_report(s, NULL);
        }
        if (!quiet)
            printf("resuming after round %u from %s\n", start, ckpt_path);
        fr_cli_ranks_checkpoint(&ranks, ckpt_path, (long long)start);
    }
    int jsonl = !strcmp(format, "jsonl");
    FILE *report = NULL;
    if (s == FR_OK && *report_path && !(report = fopen(report_path, resume ? "a" : "w")))
        s = fr_cli_fail(FR_ERR_IO, "%s: cannot write the report: %s", report_path, strerror(errno));
    s = fr_cli_agree(comm, s); /* rank 0's report: every rank learns whether it opened */
    if (s == FR_OK)
        s = fr_cli_ranks_open_report(&ranks, resume, (long long)start);
    if (s != FR_OK) {
        if (report)
            fclose(report);
        fr_cli_ranks_close(&ranks, FR_EXIT_OK);
        fr_pfedrec_model_free(&saved);
        fr_pfedrec_free(p);
        fr_loo_split_free(&split);
        free_names(user_names, n_user_names);
        free_names(item_names, n_item_names);
        return fr_cli_report(s, NULL);
    }
    if (report && !jsonl && !(resume && ftell(report) > 0))
        fprintf(report, "round,train_loss,val_hr,val_ndcg,test_hr,test_ndcg,seconds,bytes_up,participants,rejected,dp_epsilon\n");
    if (!quiet) {
        printf("fedrec train: %s: %s (%s mode) on %s: %zu users, %zu items, %zu ratings; %lld rounds\n",
               name, algorithm_name(o.algorithm), o.strict ? "strict" : "paper", path ? path : "synthetic ratings", split.n_users,
               split.n_items, n_ratings,
               (long long)rounds);
        if (*split_in)
            printf("  split: held-out items and evaluation negatives of %zu users from %s\n", split.n_evaluated, split_in);
        if (*split_out)
            printf("  split written to %s\n", split_out);
        if (o.local_noise > 0)
            printf("  local noise: Laplace, scale %g, on every uploaded item value\n", o.local_noise);
        if (o.dp_noise > 0)
            printf("  DP-FedAvg: clip %g, noise multiplier %.4f (Gaussian sd %.4g on the sum); epsilon at delta %g in the report\n",
                   o.clip_norm, o.dp_noise, o.dp_noise * o.clip_norm, o.dp_delta);
        if (o.secure_agg)
            printf("  secure aggregation: pairwise masks, %zu neighbour(s) each side\n", o.secure_neighbours);
        if (o.backend)
            printf("  clients trained on %s\n", device);
        printf("%5s %10s %8s %9s %8s %9s %7s %10s\n", "round", "train_loss", "val_hr", "val_ndcg",
               "test_hr", "test_ndcg", "seconds", "MB_up");
    }
    fr_cli_progress_init(&progress, quiet, "round", (long long)start + 1, (long long)rounds);
    long long checkpointed = resume ? (long long)start : -1; /* the round the checkpoint holds */
    fr_pfedrec_round best = {0}, st = {0};
    long long best_round = (long long)best_saved[0];
    best.val_hr = best_saved[1];
    best.val_ndcg = best_saved[2];
    best.test_hr = best_saved[3];
    best.test_ndcg = best_saved[4];
    double total = 0, t_neg = 0, t_train = 0, t_eval = 0, t_agg = 0;
    int central = o.algorithm == FR_ALGO_CENTRAL_MF;
    fr_cli_loss_watch watch;
    fr_cli_loss_watch_init(&watch, rank == 0, "round", central ? "pfedrec.central_lr" : "pfedrec.lr",
                           central ? o.central_lr : o.lr, NULL, 0, NULL);
    int64_t k;
    /* A stop (Ctrl-C, SIGTERM) is taken between rounds: a round always
     * finishes. On several ranks they agree on it before each round (one
     * small collective, interrupt.h), so that all stop after the same one. */
    for (k = start; k < rounds && s == FR_OK; k++) {
        s = fr_cli_interrupt_agree(comm);
        if (s != FR_OK || fr_cli_interrupted())
            break;
        /* train.eval_every: the same rounds on every rank */
        fr_pfedrec_set_evaluate(p, (k + 1) % eval_every == 0 || k + 1 == rounds);
        double t_round = fr_clock_seconds();
        s = fr_pfedrec_run_round(p, (unsigned)k, &st); /* its clients or batches tell the progress line */
        if (s == FR_OK)
            s = fr_cli_ranks_round(&ranks, (long long)k + 1, st.bytes_sent, st.bytes_received, st.t_comm,
                                   st.t_local, st.trained_here);
        if (s != FR_OK)
            break;
        t_neg += st.t_negatives;
        t_train += st.t_train;
        t_eval += st.t_eval;
        t_agg += st.t_aggregate;
        if (st.evaluated && (st.val_hr >= best.val_hr || best_round == 0)) { /* ties: the later round */
            best = st;
            best_round = (long long)k + 1;
            if (*model_path && !model_last)
                s = fr_pfedrec_model_take(p, &saved);
        }
        /* The round's time: the round and keeping its model (the
         * checkpoint comes after the report row, and counts in the total) */
        st.seconds = fr_clock_seconds() - t_round;
        total += st.seconds;
        fr_cli_progress_clear(&progress);
        if (!quiet && st.evaluated)
            printf("%5lld %10.5f %8.4f %9.4f %8.4f %9.4f", (long long)k + 1, st.train_loss, st.val_hr, st.val_ndcg,
                   st.test_hr, st.test_ndcg);
        else if (!quiet) /* train.eval_every: not evaluated */
            printf("%5lld %10.5f %8s %9s %8s %9s", (long long)k + 1, st.train_loss, "-", "-", "-", "-");
        if (!quiet)
            printf(" %7.3f %10.2f%s\n", st.seconds, (double)st.bytes_up / 1e6,
                   st.aggregated ? "" : "  (too few updates in time: global model kept)");
        if (!quiet && st.participants < st.clients)
            printf("      %zu of %zu sampled clients' updates aggregated (%zu rejected as not finite)\n", st.participants,
                   st.clients, st.rejected);
        fflush(stdout);
        if (report) {
            if (jsonl)
                report_json_row(report, (long long)k + 1, &st);
            else if (st.evaluated)
                fprintf(report, "%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,%llu,%zu,%zu,%.6g\n", (long long)k + 1,
                        st.train_loss, st.val_hr, st.val_ndcg, st.test_hr, st.test_ndcg, st.seconds,
                        (unsigned long long)st.bytes_up, st.participants, st.rejected, st.dp_epsilon);
            else /* not evaluated: empty cells */
                fprintf(report, "%lld,%.6f,,,,,%.4f,%llu,%zu,%zu,%.6g\n", (long long)k + 1, st.train_loss, st.seconds,
                        (unsigned long long)st.bytes_up, st.participants, st.rejected, st.dp_epsilon);
            fflush(report);
        }
        fr_cli_loss_watch_step(&watch, st.train_loss);
        /* The checkpoint last: a run killed before it is written resumes
         * from the one before and rewrites this round's report row. */
        if (*ckpt_path && ((k + 1) % ckpt_every == 0 || k + 1 == rounds)) {
            double t_ckpt = fr_clock_seconds();
            double keep[5] = {(double)best_round, best.val_hr, best.val_ndcg, best.test_hr, best.test_ndcg};
            fr_cli_ranks_checkpoint_writing(&ranks, ckpt_path, (long long)k + 1);
            s = fr_pfedrec_save_models(p, ckpt_path, (unsigned)(k + 1), keep, 5,
                                       best_to_keep(&saved, model_path, model_last, best_round, (long long)k + 1));
            if (s == FR_OK)
                fr_cli_ranks_checkpoint(&ranks, ckpt_path, (long long)k + 1);
            checkpointed = (long long)k + 1;
            total += fr_clock_seconds() - t_ckpt;
        }
        fr_cli_progress_next(&progress);
    }
    fr_cli_progress_clear(&progress);
    /* A signal during the last round: every rank takes it alike (the
     * steps below and the exit code depend on it). */
    if (s == FR_OK)
        s = fr_cli_interrupt_agree(comm);
    /* Stopped by a signal: the rounds run so far are checkpointed too, so
     * that --resume goes on from the last row of the report. */
    if (s == FR_OK && fr_cli_interrupted() && *ckpt_path && k > start && checkpointed != (long long)k) {
        double keep[5] = {(double)best_round, best.val_hr, best.val_ndcg, best.test_hr, best.test_ndcg};
        s = fr_pfedrec_save_models(p, ckpt_path, (unsigned)k, keep, 5,
                                   best_to_keep(&saved, model_path, model_last, best_round, (long long)k));
        if (s == FR_OK && !quiet)
            printf("checkpoint of round %lld written to %s (continue with --resume)\n", (long long)k, ckpt_path);
    }
    /* The model to save, on every rank (its users' parts gathered); a run
     * stopped by a signal saves from the rounds it ran. */
    fr_status model_status = FR_OK;
    if (s == FR_OK && *model_path)
        model_status = model_to_save(p, &saved, model_path, model_last, best_round, start, (int64_t)k, held);
    int code = fr_cli_close_report(report, report_path, s == FR_OK, FR_EXIT_OK);
    code = fr_cli_ranks_close(&ranks, code);
    if (s != FR_OK)
        code = fr_cli_report(s, NULL);
    else if (rank == 0) {
        if (fr_cli_interrupted())
            fr_cli_interrupt_say("round", (long long)k, (long long)rounds);
        printf("%sbest validation round %lld of %lld (%.2f s in rounds):\n", quiet ? "" : "\n", best_round,
               (long long)k, total);
        printf("  %-10s %8s %9s\n", "", "HR@K", "NDCG@K");
        printf("  %-10s %8.4f %9.4f\n", "validation", best.val_hr, best.val_ndcg);
        printf("  %-10s %8.4f %9.4f\n", "test", best.test_hr, best.test_ndcg);
        printf("  (K = %zu; a random ranking of 1 + %lld candidates gives HR@K %.3f)\n", o.top_k,
               (long long)eval_negatives,
               o.top_k >= (size_t)eval_negatives + 1 ? 1.0 : (double)o.top_k / (double)(eval_negatives + 1));
        printf("time: %.2f s wall in rounds; CPU seconds: negatives %.2f, training %.2f, evaluation %.2f; aggregation %.2f s wall\n",
               total, t_neg, t_train, t_eval, t_agg);
        if (summary) {
            fr_cli_metric m[] = {{"best_round", (double)best_round}, {"val_hr", best.val_hr},
                                 {"val_ndcg", best.val_ndcg}, {"test_hr", best.test_hr},
                                 {"test_ndcg", best.test_ndcg}, {"rounds", (double)k},
                                 {"seconds_negatives", t_neg}, {"seconds_training", t_train},
                                 {"seconds_evaluation", t_eval}, {"seconds_aggregation", t_agg}};
            const char *kind;
            char cpu[128];
            fr_config_get_string(cfg, "job.kind", &kind);
            fr_cli_cpu_device(o.threads, o.cpu_isa, cpu, sizeof cpu);
            fr_cli_summary sm = {kind, NULL, "cpu", cpu, "round", (long long)k, (long long)rounds, m,
                                 sizeof m / sizeof m[0], total, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
            code = fr_cli_write_summary(summary, cfg, &sm);
        }
        if (*model_path) {
            int rc = model_status != FR_OK ? fr_cli_report(model_status, NULL)
                                           : save_model(&saved, cfg, model_path, model_last, (int64_t)k, &split,
                                                        user_names, item_names);
            if (rc != FR_EXIT_OK)
                code = rc;
        }
    }
    if (s == FR_OK)
        code = fr_cli_final_verdict(comm, code);
    fr_pfedrec_model_free(&saved);
    fr_pfedrec_free(p);
    fr_loo_split_free(&split);
    free_names(user_names, n_user_names);
    free_names(item_names, n_item_names);
    return code;
}

fr_status fr_cli_pfedrec_check(const fr_config *cfg)
{
    fr_ratings_spec spec;
    const char *path;
    fr_pfedrec_options o;
    FR_TRY_CLI(fr_cli_ratings_spec(cfg, &spec, &path));
    FR_TRY_CLI(fr_cli_pfedrec_options(cfg, &o));
    return fr_pfedrec_options_check(&o);
}
