/* test_config.c — the typed configuration: defaults, a good file, every
 * kind of error (each must name the file, the line, the key, the value and
 * what was expected, and leave the configuration unchanged), nearest-key
 * suggestions, over-long lines, --set precedence, the print/reload round
 * trip, typed getters, and doc/CONFIG.md matching the schema. The sample
 * files in tests/config must fail with an exact "FILE:LINE: " prefix; a
 * second round trip makes every key differ from its default. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/config.h"
#include "testutil.h"

static char dir[] = "/tmp/fr_config_test_XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loading text must fail with FR_ERR_CONFIG and a message holding every
 * needle; the configuration must keep its values. */
static void expect_error(const char *name, const char *text, const char *needles[])
{
    fr_config *cfg;
    fr_config_create(&cfg);
    const char *path = write_file(name, text);
    fr_status s = fr_config_load_file(cfg, path);
    CHECK(s == FR_ERR_CONFIG, "%s: status %s", name, fr_status_name(s));
    for (int i = 0; needles[i]; i++)
        CHECK(strstr(fr_last_error(), needles[i]) != NULL, "%s: message '%s' lacks '%s'", name,
              fr_last_error(), needles[i]);
    int64_t epochs;
    fr_config_get_int(cfg, "train.epochs", &epochs);
    CHECK(epochs == 5, "%s: a failed load changed train.epochs to %lld", name, (long long)epochs);
    fr_config_free(cfg);
}

/* ---- sample files, booleans, full round trip, conf/demo.ini -------------- */

static const char *src_file(char *buf, size_t n, const char *rel)
{
    const char *top = getenv("top_srcdir");
    snprintf(buf, n, "%s/%s", top && *top ? top : ".", rel);
    return buf;
}

/* Nonzero when a and b hold the same value for every schema key (read
 * with the getter of each key's type; with read_only, every key a's job
 * reads); names the first difference. */
static int same_values_of(const fr_config *a, const fr_config *b, int read_only)
{
    size_t n;
    const fr_config_key *keys = fr_config_schema(&n);
    for (size_t k = 0; k < n; k++) {
        char key[128];
        snprintf(key, sizeof key, "%s.%s", keys[k].section, keys[k].name);
        if (read_only && fr_config_reads(a, key) == 0)
            continue;
        int same = 0;
        switch (keys[k].type) {
        case FR_CFG_INT: {
            int64_t x = -1, y = -2;
            same = fr_config_get_int(a, key, &x) == FR_OK &&
                   fr_config_get_int(b, key, &y) == FR_OK && x == y;
            break;
        }
        case FR_CFG_UINT64: {
            uint64_t x = 1, y = 2;
            same = fr_config_get_uint64(a, key, &x) == FR_OK &&
                   fr_config_get_uint64(b, key, &y) == FR_OK && x == y;
            break;
        }
        case FR_CFG_FLOAT: {
            double x = -1, y = -2;
            same = fr_config_get_float(a, key, &x) == FR_OK &&
                   fr_config_get_float(b, key, &y) == FR_OK && x == y;
            break;
        }
        case FR_CFG_BOOL: {
            int x = -1, y = -2;
            same = fr_config_get_bool(a, key, &x) == FR_OK &&
                   fr_config_get_bool(b, key, &y) == FR_OK && x == y;
            break;
        }
        case FR_CFG_STRING:
        case FR_CFG_ENUM:
        case FR_CFG_DELIMITER: {
            const char *x = NULL, *y = NULL;
            same = fr_config_get_string(a, key, &x) == FR_OK &&
                   fr_config_get_string(b, key, &y) == FR_OK && !strcmp(x, y);
            break;
        }
        case FR_CFG_INT_LIST: {
            const int64_t *x = NULL, *y = NULL;
            size_t nx = 0, ny = 1;
            same = fr_config_get_int_list(a, key, &x, &nx) == FR_OK &&
                   fr_config_get_int_list(b, key, &y, &ny) == FR_OK && nx == ny &&
                   (nx == 0 || !memcmp(x, y, nx * sizeof *x)); /* an empty list is NULL */
            break;
        }
        }
        if (!same) {
            fprintf(stderr, "configurations differ at %s\n", key);
            return 0;
        }
    }
    return 1;
}

static int same_values(const fr_config *a, const fr_config *b)
{
    return same_values_of(a, b, 0);
}

/* The files under tests/config: each error must start with "PATH:LINE:"
 * (the path as given), hold the key, the value and the expectation, and
 * leave every key as it was. */
typedef struct bad_file {
    const char *name;
    int line;
    const char *needle[3];
} bad_file;

static const bad_file bad_files[] = {
    {"bad_int.ini", 3, {"train.epochs", "'12abc'", "an integer in [1, 100000]"}},
    {"bad_range.ini", 4, {"data.fields", "'0'", "an integer in [1, 1000]"}},
    {"bad_overflow.ini", 3, {"train.batch_size", "99999999999999999999999", "an integer in ["}},
    {"bad_float.ini", 3, {"data.test_fraction", "'1.5'", "a number in (0, 1)"}},
    {"bad_empty.ini", 4, {"train.lr", "''", "a number in (0"}},
    {"bad_enum.ini", 3, {"train.optimizer", "'adagrad'", "one of adam, adamw, sgd"}},
    {"bad_bool.ini", 3, {"model.batch_norm", "'maybe'", "true or false"}},
    {"bad_list.ini", 3, {"model.hidden", "'64,,32'", "comma-separated"}},
    {"bad_list_range.ini", 4, {"model.hidden", "'64,0'", "[1, 65536]"}},
    {"bad_seed.ini", 3, {"run.seed", "'-1'", "an integer in [0, "}},
    {"unknown_key.ini", 4, {"train.epoch", "did you mean train.epochs?", NULL}},
    {"unknown_section.ini", 5, {"[trian]", "did you mean [train]?", NULL}},
    {"duplicate.ini", 5, {"train.epochs", "second time", NULL}},
    {"no_section.ini", 2, {"epochs", "outside a [section]", NULL}},
    {"syntax.ini", 4, {"syntax error", NULL, NULL}},
};

static void test_sample_files(void)
{
    for (size_t c = 0; c < sizeof bad_files / sizeof bad_files[0]; c++) {
        const bad_file *bf = &bad_files[c];
        char rel[128], path[1024], where[1100];
        snprintf(rel, sizeof rel, "tests/config/%s", bf->name);
        src_file(path, sizeof path, rel);
        snprintf(where, sizeof where, "%s:%d: ", path, bf->line);
        fr_config *cfg = NULL, *fresh = NULL;
        CHECK_OK(fr_config_create(&cfg));
        CHECK_OK(fr_config_create(&fresh));
        if (cfg && fresh) {
            fr_clear_error();
            fr_status s = fr_config_load_file(cfg, path);
            const char *msg = fr_last_error();
            CHECK(s == FR_ERR_CONFIG, "%s: status %s", bf->name, fr_status_name(s));
            CHECK(!strncmp(msg, where, strlen(where)), "%s: message does not start with '%s': %s",
                  bf->name, where, msg);
            for (int k = 0; k < 3; k++)
                CHECK(!bf->needle[k] || strstr(msg, bf->needle[k]), "%s: no '%s' in: %s",
                      bf->name, bf->needle[k], msg);
            /* Even keys set on lines before the bad one are rolled back. */
            CHECK(same_values(cfg, fresh), "%s: a failed load changed the configuration",
                  bf->name);
        }
        fr_config_free(cfg);
        fr_config_free(fresh);
    }
}

static void test_booleans(void)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes"};
    static const char *const no[] = {"false", "no", "off", "0", "False", "OFF"};
    fr_config *cfg = NULL;
    CHECK_OK(fr_config_create(&cfg));
    if (!cfg)
        return;
    for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++) {
        int b = -1;
        CHECK_OK(fr_config_set(cfg, "model.batch_norm", no[k], "--set"));
        CHECK_OK(fr_config_get_bool(cfg, "model.batch_norm", &b));
        CHECK(b == 0, "'%s' read as %d", no[k], b);
        CHECK_OK(fr_config_set(cfg, "model.batch_norm", yes[k], "--set"));
        CHECK_OK(fr_config_get_bool(cfg, "model.batch_norm", &b));
        CHECK(b == 1, "'%s' read as %d", yes[k], b);
    }
    /* A failed set keeps the old value and names its origin. */
    CHECK(fr_config_set(cfg, "model.batch_norm", "2", "--set") == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "--set") && strstr(fr_last_error(), "model.batch_norm"),
          "bad bool: %s", fr_last_error());
    int b = -1;
    CHECK_OK(fr_config_get_bool(cfg, "model.batch_norm", &b));
    CHECK(b == 1, "a failed set changed model.batch_norm to %d", b);
    fr_config_free(cfg);
}

/* Print, reload into a fresh configuration, compare every key its job
 * reads by type (the others are printed as comments, value included);
 * the reload must print to a text that reloads the same again, and its
 * job must accept it (no key set that it does not read). */
static void check_round_trip(const fr_config *cfg, const char *what)
{
    char *text = NULL, *again = NULL;
    fr_config *back = NULL, *third = NULL;
    CHECK_OK(fr_config_print_string(cfg, &text));
    CHECK_OK(fr_config_create(&back));
    CHECK_OK(fr_config_create(&third));
    if (text && back && third) {
        fr_status s = fr_config_load_string(back, text, "printed");
        CHECK(s == FR_OK, "%s: the printed configuration does not load: %s\n%s", what,
              fr_last_error(), text);
        CHECK(same_values_of(cfg, back, 1), "%s: reloaded values differ:\n%s", what, text);
        char *notes = NULL;
        CHECK(fr_config_check_reads(back, back, &notes) == FR_OK && !notes,
              "%s: the job refuses its printed configuration: %s%s", what, fr_last_error(), notes ? notes : "");
        free(notes);
        CHECK_OK(fr_config_print_string(back, &again));
        if (again) {
            CHECK_OK(fr_config_load_string(third, again, "printed twice"));
            CHECK(same_values(back, third), "%s: second round trip differs", what);
        }
        size_t n;
        const fr_config_key *keys = fr_config_schema(&n);
        for (size_t k = 0; k < n; k++) {
            char sec[96], line[96], dotted[128];
            snprintf(sec, sizeof sec, "[%s]\n", keys[k].section);
            snprintf(dotted, sizeof dotted, "%s.%s", keys[k].section, keys[k].name);
            int reads = fr_config_reads(cfg, dotted);
            snprintf(line, sizeof line, "\n%s%s = ", reads ? "" : ";", keys[k].name);
            CHECK(strstr(text, sec) && strstr(text, line), "%s: %s.%s not printed%s", what, keys[k].section,
                  keys[k].name, reads ? "" : " as a comment");
        }
    }
    free(text);
    free(again);
    fr_config_free(back);
    fr_config_free(third);
}

static void test_round_trip_every_key(void)
{
    fr_config *cfg = NULL;
    CHECK_OK(fr_config_create(&cfg));
    if (cfg)
        check_round_trip(cfg, "defaults");
    fr_config_free(cfg);

    /* good.ini, then overrides, so that every key differs from its default
     * and the values take the awkward forms people write. */
    char path[1024];
    src_file(path, sizeof path, "tests/config/good.ini");
    char *sets[] = {
        "run.name=name; with=signs:and#marks",  "backend.cpu_isa=scalar",
        "data.rows=12345",                     "data.fields=3",
        "data.vocab=77",                       "data.numeric=0",
        "data.test_fraction=1e-3",             "data.valid_fraction=0.25",
        "model.embed_dim=9",
        "model.hidden= 7, 5 ,3",               "train.batch_size=33",
        "train.optimizer=sgd",                 "train.lr=0.1234567890123",
        "train.weight_decay=2.5e-4",           "output.report=out/r.jsonl",
        "output.report_format=jsonl",          "output.model=out/m.frm",
        "opencl.platform=Portable Computing",  "opencl.device=1",
        "opencl.min_elements=0",               "job.kind=ctr",
        "data.users=12",                       "data.items=34",
        "data.per_user=5",                     "data.movielens_msmt=seeded",
        "data.path=data/r.csv",                "data.delimiter=tab",
        "data.header=yes",                     "data.columns=item,user,-,time",
        "train.rounds=7",                      "pfedrec.dim=16",
        "pfedrec.lr=0.5",                      "pfedrec.lr_eta=10",
        "pfedrec.negatives=2",                 "pfedrec.local_epochs=3",
        "pfedrec.client_fraction=0.25",        "pfedrec.mode=strict",
        "pfedrec.aggregation=weighted",        "pfedrec.item_personalisation=no",
        "pfedrec.personal_score=off",          "pfedrec.eval_negatives=49",
        "pfedrec.top_k=5",                     "output.checkpoint=out/ck",
        "fed.placement=round-robin",           "fed.deadline=2.5",
        "fed.deadline_clock=simulated",        "fed.latency=0.5",
        "fed.min_clients=3",                   "rank.backend=opencl,cpu",
        "rank.threads=8,2",                    "rank.cpu_isa=avx2,scalar",
        "rank.device=0,1",                     "output.comm_report=out/comm.csv",
        "fed.clip_norm=5",                     "fault.nan=0.1",
        "fault.huge=0.2",                      "privacy.local_noise=0.1",
        "privacy.dp_noise=1.5",                "privacy.dp_epsilon=4",
        "privacy.dp_delta=1e-6",               "privacy.secure_agg=true",
        "privacy.secure_neighbours=4",         "fed.aggregator=median",
        "fed.trim=0.2",
        "pfedrec.ncf_layers=64,32",            "pfedrec.central_lr=0.01",
        "msmt.model=ple",                      "msmt.expert_layers=32,16",
        "msmt.tower_layers=8,4",               "msmt.experts=3",
        "msmt.task_experts=2",                 "msmt.levels=2",  "msmt.level_widths=16,8",
        "msmt.esmm=yes",                       "msmt.patience=5",
        "msmt.block_rows=1000",                "msmt.scenarios=3",
        "msmt.dense_embedding=true",           "msmt.shuffle=once", "msmt.min_epochs=4",
        "msmt.task_correlation=-0.5",          "msmt.scenario_strength=1.5", "msmt.conflict_scenarios=1",
        "autoifs.bottom=64,32",                "autoifs.width=16",
        "autoifs.rank=3",                      "autoifs.search_epochs=4",
        "autoifs.rewind_epoch=3",              "autoifs.tau_final=50",
        "autoifs.search_lr=0.001",             "autoifs.search_weight_decay=0.0001",
        "autoifs.selector_lr=0.00001",
        "train.checkpoint_every=3",            "train.eval_every=4",
        "fedmsmt.method=fedprox",              "fedmsmt.shared_experts=2",
        "fedmsmt.private_experts=1",           "fedmsmt.membership=110;011",
        "fedmsmt.fedbn=false",                 "fedmsmt.coordination=false",
        "fedmsmt.experts=mean",                "fedmsmt.towers=local",
        "fedmsmt.tower_coordination=true",     "fedmsmt.embedding=local",
        "fedmsmt.temperature=0.5",             "fedmsmt.prox_mu=0.01",
        "fedmsmt.local_epochs=2",
        "mtrec.tasks=bpr,social",              "mtrec.combiner=cagrad",
        "mtrec.dim=16",                        "mtrec.alpha=1.05",
        "mtrec.tau=1e-3",                      "mtrec.focusing=no",
        "mtrec.tau_relative=true",
        "mtrec.balancing=no",                  "mtrec.gamma=0.5",
        "mtrec.cagrad_c=0.4",                  "mtrec.gradvac_beta=0.1",
        "mtrec.patience=20",                   "mtrec.min_epochs=100",
        "mtrec.dense_adam=true",               "mtrec.test_excludes_val=false",
        "mtrec.parts=a.csv,b.csv,c.csv",       "mtrec.train_share=0.7",
        "mtrec.val_share=0.1",                 "mtrec.test_min_rating=4",
        "mtrec.links=trust.txt",               "mtrec.item_pairs=pairs.txt",
        "mtrec.categories=cats.txt",           "mtrec.relation_delimiter=tab",
        "mtrec.synthetic_categories=7",        "mtrec.synthetic_links=3",
        "mtrec.federated=true",                "mtrec.client_fraction=0.5",
        "mtrec.client_lr=0.2",                 "mtrec.server_lr=10",
        "mtrec.local_steps=4",                 "data.split_file=my.split",
        "output.split=out.split",              "output.model_from=last",
        "pfedrec.cohort=64",                   "mtrec.cohort=32",
    };
    cfg = NULL;
    CHECK_OK(fr_config_build(path, sets, sizeof sets / sizeof sets[0], &cfg));
    if (!cfg)
        return;
    fr_config *defaults = NULL;
    CHECK_OK(fr_config_create(&defaults));
    if (defaults) {
        size_t n;
        const fr_config_key *keys = fr_config_schema(&n);
        for (size_t k = 0; k < n; k++) {
            char key[128];
            snprintf(key, sizeof key, "%s.%s", keys[k].section, keys[k].name);
            const char *origin = fr_config_origin(cfg, key);
            /* data.source has one choice only; it cannot differ. */
            CHECK(!strcmp(key, "data.source") || (origin && strcmp(origin, "default")),
                  "%s still at its default: extend this test", key);
        }
    }
    fr_config_free(defaults);
    check_round_trip(cfg, "good.ini with overrides");

    /* The printed text says where values came from; fr_config_print to a
     * FILE writes the same text as fr_config_print_string. */
    char *text = NULL;
    CHECK_OK(fr_config_print_string(cfg, &text));
    CHECK(text && strstr(text, "good.ini:") && strstr(text, "--set") && strstr(text, "default"),
          "printed origins:\n%s", text ? text : "");
    FILE *f = tmpfile();
    if (f && text) {
        CHECK_OK(fr_config_print(cfg, f));
        size_t len = strlen(text);
        char *buf = calloc(1, len + 2);
        rewind(f);
        size_t got = buf ? fread(buf, 1, len + 1, f) : 0;
        CHECK(buf && got == len && !memcmp(buf, text, len),
              "fr_config_print and fr_config_print_string differ");
        free(buf);
    }
    if (f)
        fclose(f);
    free(text);
    fr_config_free(cfg);
}

/* The example configurations load; quickstart.ini spells out the defaults
 * (it is what `fedrec train` runs), and demo.ini differs from them only in
 * the job it picks. */
static void test_demo_ini(void)
{
    char path[1024];
    fr_config *conf = NULL, *defaults = NULL;
    CHECK_OK(fr_config_create(&conf));
    CHECK_OK(fr_config_create(&defaults));
    if (conf && defaults) {
        src_file(path, sizeof path, "conf/quickstart.ini");
        CHECK_OK(fr_config_load_file(conf, path));
        CHECK(same_values(conf, defaults), "conf/quickstart.ini differs from the defaults");
        src_file(path, sizeof path, "conf/demo.ini");
        CHECK_OK(fr_config_load_file(conf, path));
        CHECK_OK(fr_config_set(defaults, "job.kind", "ctr", "test"));
        CHECK_OK(fr_config_set(defaults, "run.name", "demo", "test"));
        CHECK(same_values(conf, defaults), "conf/demo.ini differs from the defaults in more than job.kind");
    }
    fr_config_free(conf);
    fr_config_free(defaults);
}

/* The job's fingerprint: every key but the per-rank ones, values
 * canonical; the comparison names what differs, and skips what a resume
 * may change only when resuming. */
static void test_fingerprint(void)
{
    size_t n_keys;
    const fr_config_key *keys = fr_config_schema(&n_keys);
    for (size_t k = 0; k < n_keys; k++)
        CHECK(keys[k].fingerprint == FR_FP_JOB || keys[k].fingerprint == FR_FP_RESUME_MAY_CHANGE ||
                  keys[k].fingerprint == FR_FP_PER_RANK,
              "%s.%s: fingerprint rule %d", keys[k].section, keys[k].name, (int)keys[k].fingerprint);
    fr_config *a = NULL, *b = NULL;
    char *fa = NULL, *fb = NULL, diff[1024];
    CHECK_OK(fr_config_create(&a));
    CHECK_OK(fr_config_create(&b));
    if (!a || !b) {
        fr_config_free(a);
        fr_config_free(b);
        return;
    }
    /* Written otherwise, the same values. */
    CHECK_OK(fr_config_set_arg(b, "pfedrec.lr=0.10", "--set"));
    CHECK_OK(fr_config_set_arg(b, "pfedrec.personal_score=yes", "--set"));
    CHECK_OK(fr_config_set_arg(b, "msmt.expert_layers=256, 128", "--set"));
    CHECK_OK(fr_config_set_arg(b, "fed.trim=1e-1", "--set"));
    CHECK_OK(fr_config_fingerprint(a, &fa));
    CHECK_OK(fr_config_fingerprint(b, &fb));
    CHECK(fa && fb && !strcmp(fa, fb), "the same values written otherwise differ");
    CHECK(fa && strstr(fa, "\npfedrec.lr = 0.1\n") && strstr(fa, "\nfed.clip_norm = 0\n") &&
              strstr(fa, "\nprivacy.dp_delta = 1e-05\n") && strstr(fa, "\ntrain.rounds = 100\n") &&
              strstr(fa, "\noutput.checkpoint = \n") && !strstr(fa, "backend.threads") &&
              !strstr(fa, "data.path") && !strstr(fa, "rank.threads"),
          "fingerprint lines: %.300s", fa ? fa : "");
    free(fb);
    /* What differs, named with both values; per-rank keys never. */
    CHECK_OK(fr_config_set_arg(b, "pfedrec.lr=5", "--set"));
    CHECK_OK(fr_config_set_arg(b, "pfedrec.negatives=0", "--set"));
    CHECK_OK(fr_config_set_arg(b, "train.rounds=7", "--set"));
    CHECK_OK(fr_config_set_arg(b, "output.report=r.csv", "--set"));
    CHECK_OK(fr_config_set_arg(b, "backend.threads=3", "--set"));
    CHECK_OK(fr_config_set_arg(b, "data.path=elsewhere", "--set"));
    CHECK_OK(fr_config_fingerprint(b, &fb));
    size_t n = fr_config_fingerprint_compare(fa, fb, 1, "checkpoint", "now", diff, sizeof diff);
    CHECK(n == 2 && !strcmp(diff, "pfedrec.lr: checkpoint 0.1, now 5; pfedrec.negatives: checkpoint 4, now 0"),
          "resume comparison: %zu: %s", n, diff);
    n = fr_config_fingerprint_compare(fa, fb, 0, "rank 0", "rank 1", diff, sizeof diff);
    CHECK(n == 4 && strstr(diff, "train.rounds: rank 0 100, rank 1 7") &&
              strstr(diff, "output.report: rank 0 '', rank 1 r.csv") && !strstr(diff, "backend.threads") &&
              !strstr(diff, "data.path"),
          "ranks comparison: %zu: %s", n, diff);
    CHECK(fr_config_fingerprint_compare(fa, fa, 0, "a", "b", diff, sizeof diff) == 0 && !*diff,
          "a fingerprint differs from itself: %s", diff);
    /* A key missing on one side: the same as its default; lines of a job's
     * own (names outside the schema) always compared; many differences:
     * the first six, then a count. */
    n = fr_config_fingerprint_compare("pfedrec.lr = 0.1\n", "pfedrec.lr = 0.1\nfed.clip_norm = 0\n", 1, "w", "n",
                                      diff, sizeof diff);
    CHECK(n == 0, "a key at its default missing from one side: %zu: %s", n, diff);
    n = fr_config_fingerprint_compare("fed.clip_norm = 1\n", "", 1, "w", "n", diff, sizeof diff);
    CHECK(n == 1 && !strcmp(diff, "fed.clip_norm: w 1, n (none)"), "a key missing now: %zu: %s", n, diff);
    n = fr_config_fingerprint_compare("x (derived) = 1\n", "x (derived) = 2\n", 1, "w", "n", diff, sizeof diff);
    CHECK(n == 1 && !strcmp(diff, "x (derived): w 1, n 2"), "a derived line: %zu: %s", n, diff);
    n = fr_config_fingerprint_compare("a.a = 1\nb.b = 1\nc.c = 1\nd.d = 1\ne.e = 1\nf.f = 1\ng.g = 1\nh.h = 1\n",
                                      "", 1, "w", "n", diff, sizeof diff);
    CHECK(n == 8 && strstr(diff, "f.f: w 1, n (none); and 2 more") && !strstr(diff, "g.g"),
          "eight differences: %zu: %s", n, diff);
    /* The rules' keys, for messages. */
    char list[512];
    fr_config_rule_keys(FR_FP_RESUME_MAY_CHANGE, list, sizeof list);
    CHECK(!strcmp(list, "run.name, train.rounds, train.checkpoint_every, fed.placement, output.*"),
          "keys a resume may change: %s", list);
    fr_config_rule_keys(FR_FP_PER_RANK, list, sizeof list);
    CHECK(!strcmp(list, "backend.*, opencl.*, data.path, data.split_file, rank.*"), "per-rank keys: %s", list);
    free(fa);
    free(fb);
    fr_config_free(a);
    fr_config_free(b);
}

int main(void)
{
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary folder");
    fr_config *cfg;
    CHECK_OK(fr_config_create(&cfg));
    int64_t i64;
    uint64_t u64;
    double f;
    int b;
    const char *str;
    const int64_t *list;
    size_t n;
    CHECK_OK(fr_config_get_int(cfg, "train.epochs", &i64));
    CHECK(i64 == 5, "default epochs %lld", (long long)i64);
    CHECK_OK(fr_config_get_uint64(cfg, "run.seed", &u64));
    CHECK(u64 == 42, "default seed");
    CHECK_OK(fr_config_get_int_list(cfg, "model.hidden", &list, &n));
    CHECK(n == 2 && list[0] == 64 && list[1] == 32, "default hidden");
    CHECK(!strcmp(fr_config_origin(cfg, "train.lr"), "default"), "origin of a default");
    /* Getters refuse unknown keys and other types. */
    CHECK(fr_config_get_int(cfg, "train.nope", &i64) == FR_ERR_INVALID, "unknown key read");
    CHECK(fr_config_get_float(cfg, "train.epochs", &f) == FR_ERR_INVALID, "int read as float");

    /* A good file from the source tree (VPATH and distcheck safe). */
    const char *srcdir = getenv("top_srcdir");
    char good[1024];
    snprintf(good, sizeof good, "%s/tests/config/good.ini", srcdir ? srcdir : ".");
    CHECK_OK(fr_config_load_file(cfg, good));
    CHECK_OK(fr_config_get_uint64(cfg, "run.seed", &u64));
    CHECK(u64 == UINT64_MAX, "seed %llu", (unsigned long long)u64);
    CHECK_OK(fr_config_get_string(cfg, "run.name", &str));
    CHECK(!strcmp(str, "a run with spaces"), "name '%s'", str);
    CHECK_OK(fr_config_get_string(cfg, "backend.kind", &str));
    CHECK(!strcmp(str, "cpu"), "kind '%s'", str);
    CHECK_OK(fr_config_get_int_list(cfg, "model.hidden", &list, &n));
    CHECK(n == 3 && list[0] == 128 && list[1] == 64 && list[2] == 32, "hidden list");
    CHECK_OK(fr_config_get_bool(cfg, "model.batch_norm", &b));
    CHECK(b == 0, "batch_norm off");
    CHECK_OK(fr_config_get_float(cfg, "train.lr", &f));
    CHECK(f == 1e-3, "lr %g", f);
    CHECK(strstr(fr_config_origin(cfg, "train.lr"), "good.ini:21") != NULL, "origin '%s'",
          fr_config_origin(cfg, "train.lr"));

    /* Overrides win over the file and are checked the same way. */
    CHECK_OK(fr_config_set_arg(cfg, "train.epochs=3", "--set"));
    fr_config_get_int(cfg, "train.epochs", &i64);
    CHECK(i64 == 3 && !strcmp(fr_config_origin(cfg, "train.epochs"), "--set"), "override");
    CHECK(fr_config_set_arg(cfg, "train.epochs=0", "--set") == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "--set") && strstr(fr_last_error(), "[1, 100000]"),
          "out-of-range override: %s", fr_last_error());
    CHECK(fr_config_set_arg(cfg, "train.epoch=3", "--set") == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "did you mean train.epochs?"),
          "suggestion: %s", fr_last_error());
    CHECK(fr_config_set_arg(cfg, "optimizer=adam", "--set") == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "train.optimizer"),
          "key without section: %s", fr_last_error());
    CHECK(fr_config_set_arg(cfg, "novalue", "--set") == FR_ERR_CONFIG, "missing '='");
    /* Values must print and reload unchanged: no comment starts, no
     * control characters; blanks around an override are trimmed. */
    CHECK(fr_config_set_arg(cfg, "run.name=a ;b", "--set") == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "comment"),
          "' ;' in a value accepted: %s", fr_last_error());
    CHECK(fr_config_set_arg(cfg, "run.name=a\nb", "--set") == FR_ERR_CONFIG, "newline accepted");
    CHECK(fr_config_set_arg(cfg, "run.seed= -1", "--set") == FR_ERR_CONFIG, "' -1' accepted as a seed");
    CHECK_OK(fr_config_set_arg(cfg, "run.name=  padded  ", "--set"));
    fr_config_get_string(cfg, "run.name", &str);
    CHECK(!strcmp(str, "padded"), "override not trimmed: '%s'", str);
    CHECK_OK(fr_config_set_arg(cfg, "run.name=a run with spaces", "--set"));

    /* Print, reload: the same configuration. */
    char *text = NULL;
    CHECK_OK(fr_config_print_string(cfg, &text));
    fr_config *again;
    fr_config_create(&again);
    CHECK_OK(fr_config_load_string(again, text, "printed"));
    char *text2 = NULL;
    CHECK_OK(fr_config_print_string(again, &text2));
    /* Origins differ (printed:LINE); compare the key = value lines. */
    size_t nk;
    const fr_config_key *keys = fr_config_schema(&nk);
    for (size_t k = 0; k < nk; k++) {
        char dotted[128];
        snprintf(dotted, sizeof dotted, "%s.%s", keys[k].section, keys[k].name);
        const char *v1, *v2;
        if (keys[k].type == FR_CFG_STRING || keys[k].type == FR_CFG_ENUM || keys[k].type == FR_CFG_DELIMITER) {
            fr_config_get_string(cfg, dotted, &v1);
            fr_config_get_string(again, dotted, &v2);
            CHECK(!strcmp(v1, v2), "%s: '%s' reloaded as '%s'", dotted, v1, v2);
        }
    }
    fr_config_get_int_list(again, "model.hidden", &list, &n);
    CHECK(n == 3 && list[2] == 32, "hidden after round trip");
    fr_config_get_uint64(again, "run.seed", &u64);
    CHECK(u64 == UINT64_MAX, "seed after round trip");
    fr_config_get_int(again, "train.epochs", &i64);
    CHECK(i64 == 3, "epochs after round trip");
    free(text);
    free(text2);
    fr_config_free(again);
    fr_config_free(cfg);

    /* Errors, each with file, line, key, value and expectation. */
    expect_error("range.ini", "[train]\nepochs = 0\n",
                 (const char *[]){"range.ini:2", "train.epochs", "'0'", "an integer in [1, 100000]", NULL});
    expect_error("junk.ini", "[train]\n\nepochs = 12abc\n",
                 (const char *[]){"junk.ini:3", "train.epochs", "12abc", "integer", NULL});
    expect_error("overflow.ini", "[run]\nseed = 99999999999999999999999\n",
                 (const char *[]){"overflow.ini:2", "run.seed", NULL});
    expect_error("negative.ini", "[run]\nseed = -1\n", (const char *[]){"negative.ini:2", "run.seed", NULL});
    expect_error("enum.ini", "[train]\noptimizer = adagrad\n",
                 (const char *[]){"enum.ini:2", "train.optimizer", "adagrad", "one of adam, adamw, sgd", NULL});
    expect_error("float.ini", "[data]\ntest_fraction = 1\n",
                 (const char *[]){"float.ini:2", "data.test_fraction", "a number in (0, 1)", NULL});
    expect_error("nan.ini", "[train]\nlr = nan\n", (const char *[]){"nan.ini:2", "train.lr", NULL});
    expect_error("bool.ini", "[model]\nbatch_norm = maybe\n",
                 (const char *[]){"bool.ini:2", "model.batch_norm", "true or false", NULL});
    expect_error("list.ini", "[model]\nhidden = 64,,32\n",
                 (const char *[]){"list.ini:2", "model.hidden", "comma-separated", NULL});
    expect_error("empty.ini", "[train]\nepochs =\n", (const char *[]){"empty.ini:2", "train.epochs", NULL});
    expect_error("unknown_key.ini", "[train]\nepochs = 3\nlearning_rate = 0.1\n",
                 (const char *[]){"unknown_key.ini:3", "train.learning_rate", "fedrec config --keys", NULL});
    expect_error("misspelt.ini", "[train]\nepoks = 3\n",
                 (const char *[]){"misspelt.ini:2", "did you mean train.epochs?", NULL});
    expect_error("section.ini", "[trian]\n", (const char *[]){"section.ini:1", "[trian]", "did you mean [train]?", NULL});
    expect_error("duplicate.ini", "[train]\nepochs = 3\nepochs = 4\n",
                 (const char *[]){"duplicate.ini:3", "train.epochs", "second time", NULL});
    expect_error("outside.ini", "epochs = 3\n", (const char *[]){"outside.ini:1", "outside a [section]", NULL});
    expect_error("syntax.ini", "[train]\nepochs 3\n", (const char *[]){"syntax.ini:2", "syntax error", NULL});
    /* An indented line is an ordinary line, not a continuation. */
    {
        fr_config *ind;
        fr_config_create(&ind);
        CHECK_OK(fr_config_load_file(ind, write_file("indented.ini", "[train]\nepochs = 3\n  lr = 0.5\n")));
        fr_config_get_float(ind, "train.lr", &f);
        CHECK(f == 0.5, "indented key read as %g", f);
        fr_config_free(ind);
    }
    /* A line longer than the reader's buffer is an error, never cut. */
    char *longtext = malloc(6000);
    strcpy(longtext, "[run]\nseed = 1\nname = ");
    memset(longtext + strlen(longtext), 'x', 5000);
    strcpy(longtext + strlen("[run]\nseed = 1\nname = ") + 5000, "\n");
    expect_error("long.ini", longtext, (const char *[]){"long.ini:3", "longer than", NULL});
    free(longtext);
    /* Missing file. */
    fr_config_create(&cfg);
    CHECK(fr_config_load_file(cfg, "/nonexistent/x.ini") == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "/nonexistent/x.ini") && strstr(fr_last_error(), "No such file"),
          "missing file: %s", fr_last_error());
    /* fr_config_build: defaults, then file, then overrides. */
    fr_config_free(cfg);
    char *sets[] = {"train.epochs=7", "model.hidden=8"};
    CHECK_OK(fr_config_build(good, sets, 2, &cfg));
    fr_config_get_int(cfg, "train.epochs", &i64);
    fr_config_get_int_list(cfg, "model.hidden", &list, &n);
    CHECK(i64 == 7 && n == 1 && list[0] == 8, "build precedence");
    /* A blank list value is an empty list (msmt.level_widths' default);
     * an empty item is still refused (bad_list.ini). */
    CHECK_OK(fr_config_get_int_list(cfg, "msmt.level_widths", &list, &n));
    CHECK(n == 0, "msmt.level_widths by default: %zu values", n);
    CHECK_OK(fr_config_set_arg(cfg, "msmt.level_widths=512, 256", "--set"));
    CHECK_OK(fr_config_get_int_list(cfg, "msmt.level_widths", &list, &n));
    CHECK(n == 2 && list[0] == 512 && list[1] == 256, "msmt.level_widths=512, 256: %zu values", n);
    CHECK_OK(fr_config_set_arg(cfg, "msmt.level_widths= ", "--set"));
    CHECK_OK(fr_config_get_int_list(cfg, "msmt.level_widths", &list, &n));
    CHECK(n == 0, "msmt.level_widths set blank: %zu values", n);
    fr_config_free(cfg);

    /* doc/CONFIG.md holds exactly the generated table. */
    char docpath[1024], *gen = NULL;
    snprintf(docpath, sizeof docpath, "%s/doc/CONFIG.md", srcdir ? srcdir : ".");
    size_t gen_len = 0;
    FILE *mem = open_memstream(&gen, &gen_len);
    fr_config_print_keys(mem, 1);
    fclose(mem);
    FILE *doc = fopen(docpath, "r");
    CHECK(doc != NULL, "cannot open %s", docpath);
    if (doc) {
        char *all = calloc(1, 1 << 20);
        size_t got = fread(all, 1, (1 << 20) - 1, doc);
        all[got] = '\0';
        fclose(doc);
        CHECK(strstr(all, gen) != NULL,
              "doc/CONFIG.md is out of date: regenerate its table with 'fedrec config --keys --markdown'");
        free(all);
    }
    free(gen);
    rmdir(dir); /* files inside are left for inspection only on failure */
    test_sample_files();
    test_booleans();
    test_round_trip_every_key();
    test_demo_ini();
    test_fingerprint();
    return fr_test_finish("test_config");
}
