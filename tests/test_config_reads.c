/* test_config_reads.c — which jobs read each key (fedrec/config.h, "Which
 * jobs read a key"): every key of the schema has a well-formed rule (a new
 * key without one fails here), malformed rules are caught, the rules are
 * evaluated on configurations of every job kind (fedmsmt methods, mtrec
 * combiners, msmt models, data sources), keys set for a job that does not
 * read them are refused with their value, origin and the jobs that read
 * them, whatever their value, a file's keys that an override of the job
 * leaves unread become notes, and the shipped configurations (conf) pass. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedrec/config.h"
#include "testutil.h"

static void test_every_key_has_a_rule(void)
{
    size_t n;
    const fr_config_key *keys = fr_config_schema(&n);
    for (size_t k = 0; k < n; k++) {
        char why[256];
        const char *err = fr_config_rule_error(&keys[k], why, sizeof why);
        CHECK(err == NULL, "%s.%s: %s (src/config/keys.c: give the row a .jobs rule)", keys[k].section,
              keys[k].name, err);
    }
}

static void test_malformed_rules(void)
{
    static const struct {
        const char *rule, *needle;
    } bad[] = {{NULL, "no rule"},
               {"", "no rule"},
               {"shared:", "must say why"},
               {"shared:   ", "must say why"},
               {"pfedrec nosuch", "'nosuch' is not a job.kind"},
               {"pfedrec pfedrec", "named twice"},
               {"msmt[msmt.model=xyz]", "'xyz' is not one of its values"},
               {"msmt[msmt.nosuch=ple]", "not a key"},
               {"msmt[run.name=x]", "neither an enum nor a boolean"},
               {"mtrec[mtrec.federated=maybe]", "'maybe' is not one of its values"},
               {"msmt[msmt.model=ple", "without its ']'"},
               {"msmt[msmt.model]", "not KEY=VALUE"},
               {"msmt[=ple]", "not KEY=VALUE"},
               {"pfedrec when", "'when' must be followed by conditions"},
               {"pfedrec when data.source=a b", "'when' must be followed by conditions"},
               {"when data.source=synthetic", "names no job kind"},
               {"[data.source=synthetic]", "names no job kind"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fr_config_key k = {"test", "key", FR_CFG_STRING, "", 0, 0, 0, 0, NULL, "doc", FR_FP_JOB, bad[i].rule};
        char why[256];
        const char *err = fr_config_rule_error(&k, why, sizeof why);
        CHECK(err && strstr(err, bad[i].needle), "rule '%s': %s, expected '%s'", bad[i].rule ? bad[i].rule : "(none)",
              err ? err : "accepted", bad[i].needle);
    }
    /* Well-formed rules, in words. */
    static const struct {
        const char *rule, *kind, *words;
    } good[] = {{"all", NULL, "every job"},
                {"shared: read by another command", NULL, "every job (shared: read by another command)"},
                {"shared: read by another command", "ctr", ""},
                {"pfedrec fedmf when data.source=synthetic", NULL, "pfedrec, fedmf when data.source = synthetic"},
                {"pfedrec fedmf when data.source=synthetic", "fedmf", "data.source = synthetic"},
                {"msmt[msmt.model=mmoe|ple] fedmsmt", NULL, "msmt (msmt.model = mmoe or ple), fedmsmt"},
                {"msmt[msmt.model=mmoe|ple] fedmsmt", "fedmsmt", ""},
                {"msmt[msmt.model=shared-bottom|mmoe|ple]", "msmt", "msmt.model = shared-bottom, mmoe or ple"},
                {"msmt[msmt.model!=lr]", "msmt", "msmt.model != lr"},
                {"mtrec[mtrec.federated=true] when data.source=split", "mtrec",
                 "mtrec.federated = true, data.source = split"},
                {"mtrec[mtrec.federated=true]", "pfedrec", ""}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fr_config_key k = {"test", "key", FR_CFG_STRING, "", 0, 0, 0, 0, NULL, "doc", FR_FP_JOB, good[i].rule};
        char why[256], words[256];
        const char *err = fr_config_rule_error(&k, why, sizeof why);
        CHECK(err == NULL, "rule '%s' refused: %s", good[i].rule, err);
        fr_config_rule_text(&k, good[i].kind, words, sizeof words);
        CHECK(!strcmp(words, good[i].words), "rule '%s' for %s in words: '%s', expected '%s'", good[i].rule,
              good[i].kind ? good[i].kind : "every kind", words, good[i].words);
    }
    fr_config_key shared = {"test", "key", FR_CFG_STRING, "", 0, 0, 0, 0, NULL, "doc", FR_FP_JOB,
                            "shared: read by another command"};
    fr_config_key some = {"test", "key", FR_CFG_STRING, "", 0, 0, 0, 0, NULL, "doc", FR_FP_JOB,
                          "msmt[msmt.model=ple] fedmsmt"};
    CHECK(fr_config_rule_names(&shared, "ctr") && fr_config_rule_names(&some, "msmt") &&
              fr_config_rule_names(&some, "fedmsmt") && !fr_config_rule_names(&some, "mtrec"),
          "fr_config_rule_names");
}

/* cfg with each "key=value" set from "--set"; NULL-terminated. */
static fr_config *with(const char *const *sets)
{
    fr_config *cfg = NULL;
    CHECK_OK(fr_config_create(&cfg));
    for (size_t i = 0; cfg && sets[i]; i++)
        CHECK_OK(fr_config_set_arg(cfg, sets[i], "--set"));
    return cfg;
}

#define WITH(...) with((const char *const[]){__VA_ARGS__, NULL})

/* reads(cfg, key) == want, naming the case. */
static void expect_reads(const fr_config *cfg, const char *what, const char *key, int want)
{
    int got = fr_config_reads(cfg, key);
    CHECK(got == want, "%s: reads %s = %d, expected %d", what, key, got, want);
}

static void test_every_job_kind(void)
{
    fr_config *c;
    /* The defaults: PFedRec on synthetic ratings. */
    c = WITH("run.name=x");
    expect_reads(c, "pfedrec", "pfedrec.lr", 1);
    expect_reads(c, "pfedrec", "pfedrec.item_personalisation", 1);
    expect_reads(c, "pfedrec", "train.rounds", 1);
    expect_reads(c, "pfedrec", "train.epochs", 0);
    expect_reads(c, "pfedrec", "data.users", 1);
    expect_reads(c, "pfedrec", "data.path", 0);
    expect_reads(c, "pfedrec", "fed.trim", 0);
    expect_reads(c, "pfedrec", "fed.latency", 0);
    expect_reads(c, "pfedrec", "privacy.secure_neighbours", 0);
    expect_reads(c, "pfedrec", "msmt.model", 0);
    expect_reads(c, "pfedrec", "output.checkpoint", 1);
    expect_reads(c, "pfedrec", "nosuch.key", -1);
    fr_config_free(c);
    c = WITH("fed.aggregator=trimmed_mean", "fed.deadline_clock=simulated", "privacy.secure_agg=yes",
             "data.source=movielens");
    expect_reads(c, "pfedrec, robust", "fed.trim", 1);
    expect_reads(c, "pfedrec, simulated clock", "fed.latency", 1);
    expect_reads(c, "pfedrec, secure aggregation (yes)", "privacy.secure_neighbours", 1);
    expect_reads(c, "pfedrec, movielens", "data.path", 1);
    expect_reads(c, "pfedrec, movielens", "data.users", 0);
    expect_reads(c, "pfedrec, movielens", "data.delimiter", 0);
    fr_config_free(c);
    c = WITH("job.kind=fedmf");
    expect_reads(c, "fedmf", "pfedrec.lr", 1);
    expect_reads(c, "fedmf", "pfedrec.item_personalisation", 0);
    expect_reads(c, "fedmf", "pfedrec.ncf_layers", 0);
    fr_config_free(c);
    c = WITH("job.kind=fedncf", "data.source=delimited");
    expect_reads(c, "fedncf", "pfedrec.ncf_layers", 1);
    expect_reads(c, "fedncf, delimited", "data.delimiter", 1);
    fr_config_free(c);
    c = WITH("job.kind=central-mf");
    expect_reads(c, "central-mf", "pfedrec.central_lr", 1);
    expect_reads(c, "central-mf", "pfedrec.lr", 0);
    expect_reads(c, "central-mf", "pfedrec.negatives", 1);
    expect_reads(c, "central-mf", "privacy.local_noise", 0);
    expect_reads(c, "central-mf", "fed.deadline", 0);
    expect_reads(c, "central-mf", "output.checkpoint", 1);
    fr_config_free(c);
    c = WITH("job.kind=ctr");
    expect_reads(c, "ctr", "train.epochs", 1);
    expect_reads(c, "ctr", "model.hidden", 1);
    expect_reads(c, "ctr", "data.rows", 1);
    expect_reads(c, "ctr", "output.model", 1);
    expect_reads(c, "ctr", "train.rounds", 0);
    expect_reads(c, "ctr", "output.checkpoint", 0);
    fr_config_free(c);
    /* msmt: what each model reads. */
    static const struct {
        const char *model;
        int experts, task_experts, expert_layers, autoifs, embed_dim;
    } models[] = {{"lr", 0, 0, 0, 0, 0},
                  {"shared-bottom", 0, 0, 1, 0, 1},
                  {"mmoe", 1, 0, 1, 0, 1},
                  {"ple", 1, 1, 1, 0, 1},
                  {"autoifs", 0, 0, 0, 1, 1}};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char set[64], what[64];
        snprintf(set, sizeof set, "msmt.model=%s", models[m].model);
        snprintf(what, sizeof what, "msmt %s", models[m].model);
        c = WITH("job.kind=msmt", set);
        expect_reads(c, what, "msmt.experts", models[m].experts);
        expect_reads(c, what, "msmt.task_experts", models[m].task_experts);
        expect_reads(c, what, "msmt.level_widths", models[m].task_experts);
        expect_reads(c, what, "msmt.expert_layers", models[m].expert_layers);
        expect_reads(c, what, "msmt.tower_layers", models[m].expert_layers);
        expect_reads(c, what, "autoifs.search_epochs", models[m].autoifs);
        expect_reads(c, what, "model.embed_dim", models[m].embed_dim);
        expect_reads(c, what, "msmt.esmm", 1);
        expect_reads(c, what, "train.epochs", 1);
        expect_reads(c, what, "train.rounds", 0);
        expect_reads(c, what, "msmt.scenarios", 1);
        expect_reads(c, what, "data.movielens_msmt", 0);
        fr_config_free(c);
    }
    /* fedmsmt: PF-MSMTrec's modules only with its method. */
    static const char *const methods[] = {"pfmsmtrec", "fedavg", "fedprox", "fedbn", "local"};
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        char set[64], what[64];
        snprintf(set, sizeof set, "fedmsmt.method=%s", methods[m]);
        snprintf(what, sizeof what, "fedmsmt %s", methods[m]);
        c = WITH("job.kind=fedmsmt", set, "data.source=movielens-msmt");
        int pf = m == 0;
        static const char *const pf_keys[] = {"fedmsmt.membership", "fedmsmt.fedbn", "fedmsmt.coordination",
                                              "fedmsmt.experts", "fedmsmt.towers", "fedmsmt.tower_coordination",
                                              "fedmsmt.embedding", "fedmsmt.temperature"};
        for (size_t k = 0; k < sizeof pf_keys / sizeof pf_keys[0]; k++)
            expect_reads(c, what, pf_keys[k], pf);
        expect_reads(c, what, "fedmsmt.prox_mu", 1);
        expect_reads(c, what, "fedmsmt.shared_experts", 1);
        expect_reads(c, what, "fedmsmt.private_experts", 1);
        expect_reads(c, what, "msmt.model", 1); /* to refuse all but mmoe */
        expect_reads(c, what, "msmt.expert_layers", 1);
        expect_reads(c, what, "msmt.experts", 0);
        expect_reads(c, what, "msmt.patience", 0);
        expect_reads(c, what, "train.epochs", 0);
        expect_reads(c, what, "train.rounds", 1);
        expect_reads(c, what, "data.movielens_msmt", 1);
        expect_reads(c, what, "msmt.scenarios", 0);
        expect_reads(c, what, "output.comm_report", 1);
        fr_config_free(c);
    }
    /* mtrec: each combiner's own keys. */
    static const char *const combiners[] = {"pmtrec", "ew", "main", "rlw", "pcgrad", "cagrad", "gradvac",
                                            "graddrop", "nash", "aligned", "mgda"};
    for (size_t m = 0; m < sizeof combiners / sizeof combiners[0]; m++) {
        char set[64], what[64];
        snprintf(set, sizeof set, "mtrec.combiner=%s", combiners[m]);
        snprintf(what, sizeof what, "mtrec %s", combiners[m]);
        c = WITH("job.kind=mtrec", set);
        int pm = !strcmp(combiners[m], "pmtrec");
        expect_reads(c, what, "mtrec.alpha", pm);
        expect_reads(c, what, "mtrec.tau", pm);
        expect_reads(c, what, "mtrec.tau_relative", pm);
        expect_reads(c, what, "mtrec.focusing", pm);
        expect_reads(c, what, "mtrec.balancing", pm);
        expect_reads(c, what, "mtrec.cagrad_c", !strcmp(combiners[m], "cagrad"));
        expect_reads(c, what, "mtrec.gradvac_beta", !strcmp(combiners[m], "gradvac"));
        expect_reads(c, what, "mtrec.gamma", 1);
        expect_reads(c, what, "train.epochs", 1);
        expect_reads(c, what, "train.rounds", 0);
        expect_reads(c, what, "mtrec.client_lr", 0);
        expect_reads(c, what, "mtrec.synthetic_links", 1);
        expect_reads(c, what, "mtrec.parts", 0);
        expect_reads(c, what, "backend.kind", 1); /* to refuse opencl */
        fr_config_free(c);
    }
    c = WITH("job.kind=mtrec", "mtrec.federated=on", "data.source=split");
    expect_reads(c, "mtrec federated", "train.epochs", 0);
    expect_reads(c, "mtrec federated", "train.rounds", 1);
    expect_reads(c, "mtrec federated", "train.lr", 0);
    expect_reads(c, "mtrec federated", "mtrec.client_lr", 1);
    expect_reads(c, "mtrec federated", "mtrec.dense_adam", 0);
    expect_reads(c, "mtrec split", "mtrec.parts", 1);
    expect_reads(c, "mtrec split", "mtrec.train_share", 0);
    expect_reads(c, "mtrec split", "data.header", 1);
    fr_config_free(c);
}

/* fr_config_check_reads on cfg (and file_only): the status, and the
 * error or the notes each hold every needle (NULL-terminated). */
static void expect_check(const char *what, const fr_config *cfg, const fr_config *file_only, fr_status want,
                         const char *const *needles)
{
    char *notes = NULL;
    fr_status s = fr_config_check_reads(cfg, file_only, &notes);
    const char *text = s == FR_OK ? (notes ? notes : "") : fr_last_error();
    CHECK(s == want, "%s: status %s, expected %s: %s", what, fr_status_name(s), fr_status_name(want), text);
    for (size_t i = 0; needles[i]; i++)
        CHECK(strstr(text, needles[i]) != NULL, "%s: no '%s' in: %s", what, needles[i], text);
    CHECK(s == FR_OK || notes == NULL, "%s: notes left after a refusal", what);
    free(notes);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_refusals(void)
{
    fr_config *c = WITH("train.epochs=2");
    expect_check("train.epochs on pfedrec", c, NULL, FR_ERR_CONFIG,
                 NEEDLES("train.epochs = 2 (--set) is not read by job.kind = pfedrec, only by ctr, msmt, mtrec (mtrec.federated = false)",
                         "remove it", "fedrec config --keys --job pfedrec"));
    fr_config_free(c);
    /* Its default value, set explicitly, is refused all the same. */
    c = WITH("train.epochs=5");
    expect_check("train.epochs = its default on pfedrec", c, NULL, FR_ERR_CONFIG, NEEDLES("train.epochs = 5 (--set)"));
    fr_config_free(c);
    /* The keys a job reads, set to anything, pass; defaults never count. */
    c = WITH("pfedrec.lr=0.2", "train.rounds=3", "run.name=r", "output.report=x.csv");
    expect_check("pfedrec's own keys", c, NULL, FR_OK, NEEDLES(""));
    fr_config_free(c);
    c = WITH("job.kind=fedmsmt", "fedmsmt.method=fedavg", "fedmsmt.fedbn=false", "fedmsmt.towers=mean",
             "train.rounds=2");
    expect_check("pfmsmtrec keys on fedavg", c, NULL, FR_ERR_CONFIG,
                 NEEDLES("2 keys this job does not read",
                         "fedmsmt.fedbn = false (--set) is read by job.kind = fedmsmt only with fedmsmt.method = pfmsmtrec (here fedmsmt.method = fedavg, from --set)",
                         "fedmsmt.towers = mean (--set)", "remove them"));
    fr_config_free(c);
    c = WITH("job.kind=mtrec", "mtrec.combiner=ew", "mtrec.tau=1");
    expect_check("mtrec.tau with ew", c, NULL, FR_ERR_CONFIG,
                 NEEDLES("mtrec.tau = 1 (--set) is read by job.kind = mtrec only with mtrec.combiner = pmtrec (here mtrec.combiner = ew, from --set)"));
    fr_config_free(c);
    c = WITH("data.source=movielens", "data.users=5");
    expect_check("data.users on a file", c, NULL, FR_ERR_CONFIG,
                 NEEDLES("data.users = 5 (--set) is read by job.kind = pfedrec only with data.source = synthetic (here data.source = movielens, from --set)"));
    fr_config_free(c);

    /* A file's keys that an override of the job leaves unread: notes. */
    fr_config *file = NULL;
    CHECK_OK(fr_config_create(&file));
    const char *ini = "[job]\nkind = mtrec\n[mtrec]\ncombiner = pmtrec\nalpha = 1.2\ntau = 1\n";
    CHECK_OK(fr_config_load_string(file, ini, "p.ini"));
    c = NULL;
    CHECK_OK(fr_config_create(&c));
    CHECK_OK(fr_config_load_string(c, ini, "p.ini"));
    CHECK_OK(fr_config_set(c, "mtrec.combiner", "ew", "--set"));
    expect_check("pmtrec file run with ew", c, file, FR_OK,
                 NEEDLES("note: with mtrec.combiner = ew (--set) this run does not read mtrec.alpha, mtrec.tau, set in p.ini for the file's own job"));
    /* ... but a key set by --set is still refused, and so is a file key its
     * own job does not read. */
    CHECK_OK(fr_config_set(c, "mtrec.cagrad_c", "0.3", "--set"));
    expect_check("cagrad_c by --set with ew", c, file, FR_ERR_CONFIG, NEEDLES("mtrec.cagrad_c = 0.3 (--set)"));
    fr_config_free(c);
    fr_config_free(file);
    const char *own = "[job]\nkind = fedmsmt\n[fedmsmt]\nmethod = fedavg\nfedbn = true\n";
    CHECK_OK(fr_config_create(&file));
    CHECK_OK(fr_config_load_string(file, own, "f.ini"));
    expect_check("a file at odds with itself", file, file, FR_ERR_CONFIG,
                 NEEDLES("fedmsmt.fedbn = true (f.ini:5) is read by job.kind = fedmsmt only with fedmsmt.method = pfmsmtrec"));
    fr_config_free(file);
}

/* Every shipped configuration passes: its keys are read by its job. */
static void test_shipped_configurations(void)
{
    const char *top = getenv("top_srcdir");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/conf", top && *top ? top : ".");
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot list %s", dir);
    size_t checked = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fr_config *cfg = NULL;
        CHECK_OK(fr_config_build(path, NULL, 0, &cfg));
        if (!cfg)
            continue;
        char *notes = NULL;
        fr_status s = fr_config_check_reads(cfg, cfg, &notes);
        CHECK(s == FR_OK && !notes, "%s: %s", path, s == FR_OK ? notes : fr_last_error());
        free(notes);
        fr_config_free(cfg);
        checked++;
    }
    if (d)
        closedir(d);
    CHECK(checked >= 20, "only %zu configurations in %s", checked, dir);
}

int main(void)
{
    test_every_key_has_a_rule();
    test_malformed_rules();
    test_every_job_kind();
    test_refusals();
    test_shipped_configurations();
    return fr_test_finish("test_config_reads");
}
