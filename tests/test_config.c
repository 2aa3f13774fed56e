/* test_config.c — the typed configuration: defaults, a good file, every
 * kind of error (each must name the file, the line, the key, the value and
 * what was expected, and leave the configuration unchanged), nearest-key
 * suggestions, over-long lines, --set precedence, the print/reload round
 * trip, typed getters, and doc/CONFIG.md matching the schema. */
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
    CHECK(strstr(fr_config_origin(cfg, "train.lr"), "good.ini:17") != NULL, "origin '%s'",
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
        if (keys[k].type == FR_CFG_STRING || keys[k].type == FR_CFG_ENUM) {
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
    return fr_test_finish("test_config");
}
