/* cmd_tune.c — `fedrec tune CONFIG --grid key=v1,v2 [--random key=lo:hi
 * [:log] --trials N] [--seeds 0,1,2] [--jobs J] [--out DIR]`: a
 * hyper-parameter search. Each trial (a configuration and a seed) is this
 * program's own `fedrec train` in a child process, side by side up to
 * --jobs; a configuration is chosen on the job's validation metric alone
 * (mean over the seeds), and only its test figures are reported (mean and
 * standard deviation over the seeds). Every finished trial is a row of
 * DIR/trials.csv, so a rerun skips it; the chosen configuration is written
 * to DIR/best.ini. */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/child_run.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/run_summary.h"
#include "cli/tune_space.h"
#include "core/clock.h"
#include "io/atomic_file.h"
#include "io/hash64.h"

#define MAX_TESTS 8
#define MAX_TRIALS 100000

/* What a job kind's summary calls its validation metric (the one a tune
 * selects on; all of them higher-is-better) and its test figures. */
typedef struct job_metrics {
    const char *kind, *validation;
    const char *test[MAX_TESTS];
} job_metrics;

static const job_metrics job_table[] = {
    {"pfedrec", "val_hr", {"test_hr", "test_ndcg"}},
    {"fedmf", "val_hr", {"test_hr", "test_ndcg"}},
    {"fedncf", "val_hr", {"test_hr", "test_ndcg"}},
    {"central-mf", "val_hr", {"test_hr", "test_ndcg"}},
    {"msmt", "valid_auc", {"test_auc", "test_logloss"}},
    {"fedmsmt", "valid_auc", {"test_auc", "test_logloss"}},
    {"mtrec", "valid_recall@20",
     {"test_recall@5", "test_recall@10", "test_recall@20", "test_recall@40", "test_ndcg@5", "test_ndcg@10", "test_ndcg@20",
      "test_ndcg@40"}},
    {"ctr", "valid_auc", {"test_auc", "test_logloss"}},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec tune [CONFIG] [--grid section.key=v1,v2,...]... \n"
            "                   [--random section.key=LO:HI[:log]]... [--trials N] [--seed S]\n"
            "                   [--seeds 0,1,2] [--jobs J] [--out DIR] [--set K=V]...\n\n"
            "Searches hyper-parameters of the job CONFIG describes, any job kind:\n"
            "pfedrec, fedmf, fedncf, central-mf select on validation HR@K (val_hr),\n"
            "msmt and fedmsmt on the mean validation AUC (valid_auc), mtrec on\n"
            "validation Recall@20, ctr on the validation AUC of its\n"
            "data.valid_fraction rows (valid_auc). Each configuration runs once\n"
            "per seed as 'fedrec train' in a child process; the configuration with the\n"
            "best mean validation figure is chosen, and only its test figures are shown\n"
            "(mean +- standard deviation over the seeds): the test data never steers\n"
            "the choice.\n\n"
            "  --grid K=V1,V2   try each value (repeatable: the grid is the product);\n"
            "                   separate by ';' values that hold commas (list keys)\n"
            "  --random K=LO:HI[:log]  draw the value uniformly from [LO, HI] (on a log\n"
            "                   scale with :log, LO > 0), integers for integer keys\n"
            "  --trials N       random draws per grid point (default 10 with --random)\n"
            "  --seed S         the seed of the draws (default: run.seed)\n"
            "  --seeds LIST     run.seed values every configuration runs with\n"
            "                   (default: run.seed alone)\n"
            "  --jobs J         trials side by side (default: the number of CPU cores);\n"
            "                   each gets backend.threads = cores / J unless set\n"
            "  --out DIR        where the trials go (default: tune-RUN.NAME): trials.csv\n"
            "                   (a row per finished trial: config, seed, keys, status,\n"
            "                   validation, test figures, seconds), trials/ (each\n"
            "                   trial's summary, report and log), best.ini (the chosen\n"
            "                   configuration). A rerun skips the trials trials.csv\n"
            "                   holds; one interrupted by a signal runs again\n"
            "  --set K=V        change the base configuration (as for train)\n"
            "  --quiet          print only the result\n\n"
            "A searched key that a combination's job does not read (as 'fedrec train'\n"
            "refuses it: mtrec.tau under mtrec.combiner = ew) is dropped from that\n"
            "combination, and combinations left the same run once (shown n/a in\n"
            "trials.csv; the count folded is printed): --grid mtrec.combiner=pmtrec,ew\n"
            "--grid mtrec.tau=0.1,1 runs 3 configurations. A searched key that no\n"
            "configuration reads is refused.\n\n"
            "Exit status 1 when a trial failed (its log is in DIR/trials/); the choice is\n"
            "then made among the configurations whose every seed finished.\n");
}

typedef struct tune_opts {
    const char *config, *out, *seeds_text, *jobs_text, *trials_text, *seed_text;
    fr_cli_sets sets;
    const char **specs, **spec_options;
    size_t n_specs;
    int quiet;
} tune_opts;

typedef struct trial {
    size_t config;
    uint64_t seed;
    char id[64];                /* trials/<id>.json, .csv, .log */
    int done;                   /* a row in trials.csv */
    char status[64];
    double validation, test[MAX_TESTS], seconds;
    double started;
} trial;

static int parse(int argc, char **argv, tune_opts *o)
{
    for (int i = 1; i < argc; i++) {
        int took = fr_cli_take_set("tune", argc, argv, &i, &o->sets);
        if (took < 0)
            return FR_EXIT_USAGE;
        if (took)
            continue;
        const char *a = argv[i];
        static const char *const valued[] = {"--grid", "--random", "--trials", "--seed", "--seeds", "--jobs", "--out"};
        int v = -1;
        for (int k = 0; k < 7; k++)
            if (!strcmp(a, valued[k]))
                v = k;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->quiet = 1;
        } else if (v >= 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fedrec tune: %s needs a value\n", a);
                return FR_EXIT_USAGE;
            }
            const char *val = argv[++i];
            if (v <= 1) {
                o->specs[o->n_specs] = val;
                o->spec_options[o->n_specs++] = a;
            } else {
                const char **slot[] = {&o->trials_text, &o->seed_text, &o->seeds_text, &o->jobs_text, &o->out};
                *slot[v - 2] = val;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec tune: unknown option '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        } else if (!o->config) {
            o->config = a;
        } else {
            fprintf(stderr, "fedrec tune: more than one configuration file ('%s', '%s')\n", o->config, a);
            return FR_EXIT_USAGE;
        }
    }
    return FR_EXIT_OK;
}

/* A whole number in [lo, hi] from text, or a usage error naming option. */
static int parse_count(const char *option, const char *text, unsigned long long lo, unsigned long long hi,
                       unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "fedrec tune: %s '%s': expected a whole number from %llu to %llu\n", option, text, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_seeds(const char *text, uint64_t **seeds, size_t *n)
{
    *n = 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    *seeds = calloc(cap, sizeof **seeds);
    if (!*seeds)
        return 0;
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        char item[32], *end;
        snprintf(item, sizeof item, "%.*s", (int)(len < 31 ? len : 31), p);
        errno = 0;
        unsigned long long v = strtoull(item, &end, 10);
        if (!len || len > 20 || *end || errno || item[0] == '-') {
            fprintf(stderr, "fedrec tune: --seeds '%s': seed %zu is '%.*s', expected comma-separated whole numbers like 0,1,2\n",
                    text, *n + 1, (int)len, p);
            return 0;
        }
        for (size_t i = 0; i < *n; i++)
            if ((*seeds)[i] == v) {
                fprintf(stderr, "fedrec tune: --seeds '%s': seed %llu is listed twice\n", text, v);
                return 0;
            }
        (*seeds)[(*n)++] = v;
        if (!p[len])
            break;
        p += len + 1;
    }
    return 1;
}

/* A malloc'ed formatted string, like asprintf (which is not C11). */
static int format_new(char **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int format_new(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!*out)
        return -1;
    va_start(ap, fmt);
    vsnprintf(*out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- trials.csv ---------------------------------------------------------- */

static void csv_put(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Split a CSV line in place into at most max fields; returns the count. */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *start = p, *w = p;
        if (*p == '"') {
            p++;
            while (*p) {
                if (*p == '"' && p[1] == '"')
                    *w++ = '"', p += 2;
                else if (*p == '"')
                    break;
                else
                    *w++ = *p++;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',')
                w++, p++;
        }
        char end = *p;
        *w = '\0';
        if (n < max)
            fields[n] = start;
        n++;
        if (end != ',')
            break;
        p++;
    }
    return n;
}

static void write_header(FILE *f, const fr_tune_space *sp, const job_metrics *jm)
{
    fputs("config,seed", f);
    for (size_t d = 0; d < sp->n_dims; d++) {
        fputc(',', f);
        csv_put(f, sp->dims[d].key);
    }
    fprintf(f, ",status,%s", jm->validation);
    for (size_t t = 0; t < MAX_TESTS && jm->test[t]; t++)
        fprintf(f, ",%s", jm->test[t]);
    fputs(",seconds\n", f);
}

static void write_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.10g", v);
    else
        fputs(",", f);
}

/* Point p's value of dimension d as trials.csv and the listings show it:
 * "n/a" where the point's job does not read the key. */
static const char *shown_value(const fr_tune_space *sp, size_t p, size_t d, char *buf, size_t n)
{
    const char *v = fr_tune_point_value(sp, p, d, buf, n);
    return v ? v : "n/a";
}

static int append_row(FILE *f, const fr_tune_space *sp, const job_metrics *jm, const trial *t)
{
    char buf[64];
    fprintf(f, "%zu,%llu", t->config + 1, (unsigned long long)t->seed);
    for (size_t d = 0; d < sp->n_dims; d++) {
        fputc(',', f);
        csv_put(f, shown_value(sp, t->config, d, buf, sizeof buf));
    }
    fputc(',', f);
    csv_put(f, t->status);
    write_number(f, t->validation);
    for (size_t k = 0; k < MAX_TESTS && jm->test[k]; k++)
        write_number(f, t->test[k]);
    fprintf(f, ",%.3f\n", t->seconds);
    return fflush(f) == 0 && fsync(fileno(f)) == 0;
}

static double number_or_nan(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    return *s && !*end ? v : NAN;
}

/* Mark the trials trials.csv holds as done. 0 and a message when the file
 * is of another search. */
static int read_done(const char *path, const fr_tune_space *sp, const job_metrics *jm, trial *trials, size_t n_trials,
                     size_t *done)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 1 : (fprintf(stderr, "fedrec tune: %s: cannot open: %s\n", path, strerror(errno)), 0);
    char *want = NULL, *line = NULL;
    size_t want_len = 0, cap = 0, lineno = 0;
    FILE *h = open_memstream(&want, &want_len);
    if (!h) {
        fclose(f);
        return 0;
    }
    write_header(h, sp, jm);
    fclose(h);
    size_t n_tests = 0;
    while (n_tests < MAX_TESTS && jm->test[n_tests])
        n_tests++;
    size_t n_fields = 2 + sp->n_dims + 2 + n_tests + 1;
    char **fields = calloc(n_fields, sizeof *fields);
    int ok = fields != NULL;
    while (ok && getline(&line, &cap, f) > 0) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, want)) {
                line[strcspn(line, "\n")] = '\0';
                want[strcspn(want, "\n")] = '\0';
                fprintf(stderr, "fedrec tune: %s holds the trials of another search (its columns are '%s', this search's '%s'): give another --out, or remove the folder to start afresh\n",
                        path, line, want);
                ok = 0;
            }
            continue;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        if (csv_split(line, fields, n_fields) != n_fields) /* a row cut short by a crash: run it again */
            continue;
        char buf[64];
        for (size_t i = 0; i < n_trials; i++) {
            trial *t = &trials[i];
            if (strtoull(fields[1], NULL, 10) != t->seed)
                continue;
            int same = 1;
            for (size_t d = 0; d < sp->n_dims && same; d++)
                same = !strcmp(fields[2 + d], shown_value(sp, t->config, d, buf, sizeof buf));
            if (!same)
                continue;
            const char *status = fields[2 + sp->n_dims];
            if (!strncmp(status, "killed", 6)) /* interrupted: run it again */
                break;
            if (!t->done)
                (*done)++;
            t->done = 1;
            snprintf(t->status, sizeof t->status, "%s", status);
            t->validation = number_or_nan(fields[3 + sp->n_dims]);
            for (size_t k = 0; k < n_tests; k++)
                t->test[k] = number_or_nan(fields[4 + sp->n_dims + k]);
            t->seconds = number_or_nan(fields[4 + sp->n_dims + n_tests]);
            break;
        }
    }
    if (ok && !feof(f)) { /* a read error, or getline could not grow the line */
        fprintf(stderr, "fedrec tune: %s:%zu: %s\n", path, lineno + 1,
                ferror(f) ? "read error" : "out of memory reading the line");
        ok = 0;
    }
    free(fields);
    free(line);
    free(want);
    fclose(f);
    return ok;
}

/* The folder remembers the base configuration its trials ran from: a
 * rerun with another one would mix two searches in one table. */
static int check_base(const char *dir, const fr_config *base, const fr_tune_space *sp)
{
    char *fp = NULL, path[4096];
    if (fr_config_fingerprint(base, &fp) != FR_OK)
        return fr_cli_report(FR_ERR_NOMEM, "tune"), 0;
    /* run.seed is the tune's --seeds; the searched keys vary by trial */
    char *clean = malloc(strlen(fp) + 1), *w = clean;
    for (const char *l = fp; clean && *l;) {
        size_t len = strcspn(l, "\n");
        int skip = !strncmp(l, "run.seed ", 9);
        for (size_t d = 0; d < sp->n_dims && !skip; d++) {
            size_t kl = strlen(sp->dims[d].key);
            skip = !strncmp(l, sp->dims[d].key, kl) && l[kl] == ' ';
        }
        if (!skip) {
            memcpy(w, l, len);
            w += len;
            *w++ = '\n';
        }
        l += len + (l[len] == '\n');
    }
    if (clean)
        *w = '\0';
    free(fp);
    if (!clean)
        return 0;
    snprintf(path, sizeof path, "%s/base.fingerprint", dir);
    FILE *f = fopen(path, "r");
    int ok = 1;
    if (f) {
        char *was = NULL;
        size_t len = 0;
        ssize_t got = getdelim(&was, &len, '\0', f);
        fclose(f);
        char diff[1024];
        size_t n_diff = got >= 0 ? fr_config_fingerprint_compare(was, clean, 0, "there", "now", diff, sizeof diff) : 0;
        if (n_diff == FR_CONFIG_COMPARE_NOMEM) {
            fprintf(stderr, "fedrec tune: out of memory comparing %s's base configuration with this one\n", dir);
            ok = 0;
        } else if (n_diff) {
            fprintf(stderr, "fedrec tune: %s holds the trials of another base configuration (%s): give another --out, or remove the folder to start afresh\n",
                    dir, diff);
            ok = 0;
        }
        free(was);
    } else {
        fr_atomic_file af;
        fr_status s = fr_atomic_open(&af, path);
        if (s == FR_OK) {
            fputs(clean, af.f);
            s = fr_atomic_commit(&af);
        }
        if (s != FR_OK)
            ok = (fr_cli_report(s, "tune"), 0);
    }
    free(clean);
    return ok;
}

/* ---- running ------------------------------------------------------------- */

typedef struct run_ctx {
    const tune_opts *o;
    const fr_tune_space *sp;
    const job_metrics *jm;
    const char *dir;
    int threads; /* backend.threads for each trial; 0: leave the base's */
    char **base_outputs; /* output.* keys the base sets, emptied per trial */
    size_t n_base_outputs;
} run_ctx;

static pid_t start_trial(const run_ctx *c, trial *t)
{
    size_t cap = 2 * c->o->sets.count + 2 * c->sp->n_dims + 2 * c->n_base_outputs + 16, n = 0;
    char **args = calloc(cap, sizeof *args);
    char **owned = calloc(cap, sizeof *owned);
    size_t n_owned = 0;
    pid_t pid = -1;
    if (!args || !owned)
        goto done;
#define OWN(...)                                                  \
    do {                                                          \
        char *s_;                                                 \
        if (format_new(&s_, __VA_ARGS__) < 0)                       \
            goto done;                                            \
        owned[n_owned++] = s_;                                    \
        args[n++] = s_;                                           \
    } while (0)
    args[n++] = (char *)"train";
    if (c->o->config)
        args[n++] = (char *)c->o->config;
    for (size_t i = 0; i < c->o->sets.count; i++) {
        args[n++] = (char *)"--set";
        args[n++] = c->o->sets.items[i];
    }
    char buf[64];
    for (size_t d = 0; d < c->sp->n_dims; d++) {
        const char *value = fr_tune_point_value(c->sp, t->config, d, buf, sizeof buf);
        if (!value) /* the trial's job does not read the key: left unset */
            continue;
        args[n++] = (char *)"--set";
        OWN("%s=%s", c->sp->dims[d].key, value);
    }
    args[n++] = (char *)"--set";
    OWN("run.seed=%llu", (unsigned long long)t->seed);
    if (c->threads > 0) {
        args[n++] = (char *)"--set";
        OWN("backend.threads=%d", c->threads);
    }
    for (size_t i = 0; i < c->n_base_outputs; i++) {
        args[n++] = (char *)"--set";
        OWN("%s=", c->base_outputs[i]);
    }
    args[n++] = (char *)"--report";
    OWN("%s/trials/%s.csv", c->dir, t->id);
    args[n++] = (char *)"--summary";
    OWN("%s/trials/%s.json", c->dir, t->id);
    args[n++] = (char *)"--quiet";
    args[n] = NULL;
    char log[4096];
    snprintf(log, sizeof log, "%s/trials/%s.log", c->dir, t->id);
    /* a summary left by an earlier, interrupted run must not pass for this one's */
    char summary[4096];
    snprintf(summary, sizeof summary, "%s/trials/%s.json", c->dir, t->id);
    unlink(summary);
    t->started = fr_clock_seconds();
    pid = fr_child_start(args, log);
#undef OWN
done:
    for (size_t i = 0; owned && i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(args);
    return pid;
}

/* Fill the trial's figures from its summary. */
static void read_figures(const run_ctx *c, trial *t)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/trials/%s.json", c->dir, t->id);
    fr_run_summary s;
    if (fr_run_summary_load(path, &s, err, sizeof err) != FR_EXIT_OK) {
        snprintf(t->status, sizeof t->status, "failed (no summary)");
        fprintf(stderr, "fedrec tune: trial %s: %s\n", t->id, err);
        return;
    }
    for (size_t i = 0; i < s.n_info; i++)
        if (!strcmp(s.info[i].name, "status") && strcmp(s.info[i].text, "completed")) {
            /* a summary of the rounds before an interrupt: not a result */
            snprintf(t->status, sizeof t->status, "killed (summary says %.30s)", s.info[i].text);
            fr_run_summary_free(&s);
            return;
        }
    int found;
    t->validation = fr_run_summary_figure(&s, c->jm->validation, &found);
    if (!found) {
        snprintf(t->status, sizeof t->status, "failed (no %s)", c->jm->validation);
        fprintf(stderr, "fedrec tune: trial %s: %s has no metric %s\n", t->id, path, c->jm->validation);
    }
    for (size_t k = 0; k < MAX_TESTS && c->jm->test[k]; k++)
        t->test[k] = fr_run_summary_figure(&s, c->jm->test[k], NULL);
    fr_run_summary_free(&s);
}

static void describe(const fr_tune_space *sp, size_t config, char *out, size_t n)
{
    char buf[64];
    size_t len = 0;
    out[0] = '\0';
    for (size_t d = 0; d < sp->n_dims && len < n; d++)
        len += (size_t)snprintf(out + len, n - len, "%s%s=%s", d ? " " : "", sp->dims[d].key,
                                shown_value(sp, config, d, buf, sizeof buf));
    if (!sp->n_dims)
        snprintf(out, n, "the base configuration");
}

/* Run every trial not done; returns 0 when the table cannot be written. */
static int run_trials(const run_ctx *c, trial *trials, size_t n_trials, size_t done_before, int jobs, FILE *table)
{
    pid_t *running = calloc((size_t)jobs, sizeof *running);
    size_t *which = calloc((size_t)jobs, sizeof *which);
    size_t next = 0, finished = done_before, active = 0;
    int ok = running && which;
    while (ok && (next < n_trials || active)) {
        while (next < n_trials && active < (size_t)jobs) {
            if (trials[next].done) {
                next++;
                continue;
            }
            pid_t pid = start_trial(c, &trials[next]);
            if (pid < 0) {
                fprintf(stderr, "fedrec tune: cannot start a trial: %s\n", strerror(errno));
                ok = 0;
                break;
            }
            for (int j = 0; j < jobs; j++)
                if (!running[j]) {
                    running[j] = pid;
                    which[j] = next;
                    break;
                }
            active++;
            next++;
        }
        if (!active)
            break;
        char status[64];
        int interrupted;
        pid_t pid = fr_child_wait(status, sizeof status, &interrupted);
        if (pid < 0)
            break;
        int j = 0;
        while (j < jobs && running[j] != pid)
            j++;
        if (j == jobs)
            continue;
        running[j] = 0;
        active--;
        trial *t = &trials[which[j]];
        t->seconds = fr_clock_seconds() - t->started;
        snprintf(t->status, sizeof t->status, "%s", status);
        if (!strcmp(status, "ok"))
            read_figures(c, t);
        interrupted |= !strncmp(t->status, "killed", 6);
        t->done = !interrupted;
        finished++;
        if (!append_row(table, c->sp, c->jm, t)) {
            fprintf(stderr, "fedrec tune: %s/trials.csv: write failed: %s\n", c->dir, strerror(errno));
            ok = 0;
        }
        if (!c->o->quiet) {
            char what[1024];
            describe(c->sp, t->config, what, sizeof what);
            if (!strcmp(t->status, "ok"))
                printf("trial %zu/%zu: %s, seed %llu: %s %.4f (%.1f s)\n", finished, n_trials, what,
                       (unsigned long long)t->seed, c->jm->validation, t->validation, t->seconds);
            else
                printf("trial %zu/%zu: %s, seed %llu: %s; see %s/trials/%s.log\n", finished, n_trials, what,
                       (unsigned long long)t->seed, t->status, c->dir, t->id);
            fflush(stdout);
        }
    }
    /* a failure above leaves children running: wait for them */
    while (active) {
        char status[64];
        int interrupted;
        if (fr_child_wait(status, sizeof status, &interrupted) < 0)
            break;
        active--;
    }
    free(running);
    free(which);
    return ok;
}

/* ---- choosing ------------------------------------------------------------ */

static void mean_std(const double *v, size_t n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    *mean = n ? s / (double)n : NAN;
    for (size_t i = 0; i < n; i++)
        q += (v[i] - *mean) * (v[i] - *mean);
    *std = n > 1 ? sqrt(q / (double)(n - 1)) : 0.0;
}

typedef struct config_result {
    size_t config, ok, failed;
    double valid_mean, valid_std;
} config_result;

static int by_validation(const void *a, const void *b)
{
    const config_result *x = a, *y = b;
    int xa = x->failed == 0 && isfinite(x->valid_mean), ya = y->failed == 0 && isfinite(y->valid_mean);
    if (xa != ya)
        return ya - xa;
    if (xa && x->valid_mean != y->valid_mean)
        return x->valid_mean < y->valid_mean ? 1 : -1;
    return x->config < y->config ? -1 : x->config > y->config;
}

static int write_best(const tune_opts *o, const fr_tune_space *sp, size_t config, uint64_t seed, const char *path)
{
    size_t n = o->sets.count;
    char **sets = calloc(n + sp->n_dims + 1, sizeof *sets);
    if (!sets)
        return FR_EXIT_FAILURE;
    memcpy(sets, o->sets.items, n * sizeof *sets);
    char buf[64];
    int code = FR_EXIT_OK;
    size_t m = n;
    for (size_t d = 0; d < sp->n_dims && code == FR_EXIT_OK; d++) {
        const char *value = fr_tune_point_value(sp, config, d, buf, sizeof buf);
        if (value && format_new(&sets[m++], "%s=%s", sp->dims[d].key, value) < 0)
            code = FR_EXIT_FAILURE;
    }
    if (code == FR_EXIT_OK && format_new(&sets[m++], "run.seed=%llu", (unsigned long long)seed) < 0)
        code = FR_EXIT_FAILURE;
    fr_config *cfg = NULL;
    fr_status s = code == FR_EXIT_OK ? fr_config_build(o->config, sets, m, &cfg) : FR_ERR_NOMEM;
    fr_atomic_file af;
    if (s == FR_OK)
        s = fr_atomic_open(&af, path);
    if (s == FR_OK) {
        s = fr_config_print(cfg, af.f);
        s = s == FR_OK ? fr_atomic_commit(&af) : s;
        if (s != FR_OK && af.f)
            fr_atomic_abort(&af);
    }
    if (s != FR_OK)
        code = fr_cli_report(s, "tune");
    fr_config_free(cfg);
    for (size_t d = n; d < m; d++)
        free(sets[d]);
    free(sets);
    return code;
}

static int choose(const tune_opts *o, const fr_tune_space *sp, const job_metrics *jm, const trial *trials,
                  size_t n_configs, size_t n_seeds, const char *dir)
{
    config_result *r = calloc(n_configs, sizeof *r);
    double *v = calloc(n_seeds, sizeof *v);
    if (!r || !v) {
        free(r);
        free(v);
        return FR_EXIT_FAILURE;
    }
    size_t failed = 0;
    for (size_t c = 0; c < n_configs; c++) {
        r[c].config = c;
        for (size_t k = 0; k < n_seeds; k++) {
            const trial *t = &trials[c * n_seeds + k];
            if (!strcmp(t->status, "ok"))
                v[r[c].ok++] = t->validation;
            else
                r[c].failed++;
        }
        failed += r[c].failed;
        mean_std(v, r[c].ok, &r[c].valid_mean, &r[c].valid_std);
    }
    qsort(r, n_configs, sizeof *r, by_validation);
    char what[1024];
    size_t shown = n_configs < 10 ? n_configs : 10;
    if (sp->folded)
        printf("\n%zu of the %zu combinations folded into another: a key a configuration's job does not read is dropped from it (n/a)\n",
               sp->folded, sp->folded + sp->n_points);
    printf("\nconfigurations by validation %s (mean +- std over %zu seed%s)%s:\n", jm->validation, n_seeds,
           n_seeds == 1 ? "" : "s", shown < n_configs ? ", the best 10" : "");
    for (size_t i = 0; i < shown; i++) {
        describe(sp, r[i].config, what, sizeof what);
        if (r[i].failed)
            printf("  %3zu  %-9s  %s (%zu of %zu trials failed)\n", r[i].config + 1, "-", what, r[i].failed, n_seeds);
        else
            printf("  %3zu  %.4f +- %.4f  %s\n", r[i].config + 1, r[i].valid_mean, r[i].valid_std, what);
    }
    int code = FR_EXIT_OK;
    if (r[0].failed || !isfinite(r[0].valid_mean)) {
        fprintf(stderr, "fedrec tune: no configuration finished on every seed with a finite %s: nothing to choose (logs in %s/trials/)\n",
                jm->validation, dir);
        code = FR_EXIT_FAILURE;
    } else {
        size_t c = r[0].config;
        describe(sp, c, what, sizeof what);
        printf("\nchosen: configuration %zu, %s\n  validation %s %.4f +- %.4f\n  test (this configuration only):", c + 1,
               what, jm->validation, r[0].valid_mean, r[0].valid_std);
        for (size_t k = 0; k < MAX_TESTS && jm->test[k]; k++) {
            size_t n = 0;
            for (size_t s = 0; s < n_seeds; s++)
                v[n++] = trials[c * n_seeds + s].test[k];
            double mean, std;
            mean_std(v, n, &mean, &std);
            printf("%s %s %.4f +- %.4f", k ? "," : "", jm->test[k], mean, std);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/best.ini", dir);
        code = write_best(o, sp, c, trials[c * n_seeds].seed, path);
        printf("\nwritten: %s (the chosen configuration), %s/trials.csv (every trial)\n", path, dir);
    }
    if (failed) {
        fprintf(stderr, "fedrec tune: %zu trial%s failed; their logs are in %s/trials/\n", failed, failed == 1 ? "" : "s", dir);
        code = FR_EXIT_FAILURE;
    }
    free(r);
    free(v);
    return code;
}

/* ---- the command --------------------------------------------------------- */

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return 1;
    fprintf(stderr, "fedrec tune: %s: cannot create the folder: %s\n", path, strerror(errno));
    return 0;
}

static int tune(tune_opts *o)
{
    fr_config *base = NULL;
    fr_status s = fr_config_build(o->config, o->sets.items, o->sets.count, &base);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    const char *kind, *name;
    fr_config_get_string(base, "job.kind", &kind);
    fr_config_get_string(base, "run.name", &name);
    const job_metrics *jm = NULL;
    for (size_t i = 0; i < sizeof job_table / sizeof job_table[0]; i++)
        if (!strcmp(job_table[i].kind, kind))
            jm = &job_table[i];
    int code = FR_EXIT_OK;
    fr_tune_space sp;
    memset(&sp, 0, sizeof sp);
    uint64_t *seeds = NULL;
    size_t n_seeds = 0;
    trial *trials = NULL;
    char *dir = NULL;
    FILE *table = NULL;
    char **outputs = NULL;
    size_t n_outputs = 0;
    if (!jm) { /* a job kind the schema has and job_table lacks */
        fr_cli_fail(FR_ERR_UNSUPPORTED, "job.kind = %s: tune does not know which validation metric this job reports", kind);
        code = fr_cli_report(FR_ERR_UNSUPPORTED, "tune");
        goto done;
    }
    fr_config_get_uint64(base, "run.seed", &sp.seed);
    unsigned long long v;
    if (o->seed_text) {
        if (!parse_count("--seed", o->seed_text, 0, UINT64_MAX, &v)) {
            code = FR_EXIT_USAGE;
            goto done;
        }
        sp.seed = v;
    }
    for (size_t i = 0; i < o->n_specs; i++) {
        s = fr_tune_space_add(&sp, base, o->spec_options[i], o->specs[i]);
        if (s != FR_OK) {
            int c = fr_cli_report(s, "tune");
            code = s == FR_ERR_INVALID ? FR_EXIT_USAGE : c;
            goto done;
        }
    }
    int has_random = sp.n_dims > sp.n_grid;
    if (o->trials_text && !has_random) {
        fprintf(stderr, "fedrec tune: --trials %s: counts the draws of --random keys, and none is given\n", o->trials_text);
        code = FR_EXIT_USAGE;
        goto done;
    }
    sp.trials = has_random ? 10 : 1;
    if (o->trials_text) {
        if (!parse_count("--trials", o->trials_text, 1, MAX_TRIALS, &v)) {
            code = FR_EXIT_USAGE;
            goto done;
        }
        sp.trials = (size_t)v;
    }
    if (o->seeds_text) {
        if (!parse_seeds(o->seeds_text, &seeds, &n_seeds)) {
            code = FR_EXIT_USAGE;
            goto done;
        }
    } else {
        seeds = malloc(sizeof *seeds);
        if (!seeds) {
            code = FR_EXIT_FAILURE;
            goto done;
        }
        fr_config_get_uint64(base, "run.seed", &seeds[0]);
        n_seeds = 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cores = cores > 0 ? cores : 1;
    int jobs_n = (int)cores;
    if (o->jobs_text) {
        if (!parse_count("--jobs", o->jobs_text, 1, 1024, &v)) {
            code = FR_EXIT_USAGE;
            goto done;
        }
        jobs_n = (int)v;
    }
    size_t n_configs = fr_tune_space_size(&sp);
    if (n_configs > MAX_TRIALS || n_configs * n_seeds > MAX_TRIALS) {
        fprintf(stderr, "fedrec tune: %zu configurations x %zu seeds is over %d trials: narrow the grid or lower --trials\n",
                n_configs, n_seeds, MAX_TRIALS);
        code = FR_EXIT_USAGE;
        goto done;
    }
    /* the combinations, each without the searched keys its job does not read */
    s = fr_tune_space_fold(&sp, base);
    if (s != FR_OK) {
        code = fr_cli_report(s, "tune");
        goto done;
    }
    n_configs = sp.n_points;
    size_t n_trials = n_configs * n_seeds;
    if ((size_t)jobs_n > n_trials)
        jobs_n = (int)n_trials;
    if (o->out)
        dir = strdup(o->out);
    else if (format_new(&dir, "tune-%s", *name ? name : kind) < 0)
        dir = NULL;
    trials = calloc(n_trials, sizeof *trials);
    if (!dir || !trials) {
        code = FR_EXIT_FAILURE;
        goto done;
    }
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/trials", dir);
    if (!make_dir(dir) || !make_dir(sub) || !check_base(dir, base, &sp)) {
        code = FR_EXIT_USAGE;
        goto done;
    }
    for (size_t c = 0; c < n_configs; c++)
        for (size_t k = 0; k < n_seeds; k++) {
            trial *t = &trials[c * n_seeds + k];
            t->config = c;
            t->seed = seeds[k];
            t->validation = NAN;
            for (size_t m = 0; m < MAX_TESTS; m++)
                t->test[m] = NAN;
            /* named by its values, so a rerun with a longer grid finds it */
            char buf[64];
            uint64_t h = 0;
            for (size_t d = 0; d < sp.n_dims; d++) {
                const char *val = fr_tune_point_value(&sp, c, d, buf, sizeof buf);
                if (!val)
                    continue;
                h = fr_hash64(h, sp.dims[d].key, strlen(sp.dims[d].key));
                h = fr_hash64(h, val, strlen(val));
            }
            snprintf(t->id, sizeof t->id, "%016llx-seed%llu", (unsigned long long)h, (unsigned long long)seeds[k]);
        }
    char table_path[4096];
    snprintf(table_path, sizeof table_path, "%s/trials.csv", dir);
    size_t done_before = 0;
    if (!read_done(table_path, &sp, jm, trials, n_trials, &done_before)) {
        code = FR_EXIT_USAGE;
        goto done;
    }
    int fresh = access(table_path, F_OK) != 0;
    table = fopen(table_path, "a");
    if (!table) {
        fprintf(stderr, "fedrec tune: %s: cannot write: %s\n", table_path, strerror(errno));
        code = FR_EXIT_FAILURE;
        goto done;
    }
    if (fresh)
        write_header(table, &sp, jm);
    /* output files the base names would be written by every trial at once */
    static const char *const out_keys[] = {"output.model", "output.checkpoint", "output.comm_report", "output.split"};
    outputs = calloc(4, sizeof *outputs);
    for (size_t i = 0; outputs && i < 4; i++) {
        const char *val;
        if (fr_config_get_string(base, out_keys[i], &val) == FR_OK && *val)
            outputs[n_outputs++] = (char *)out_keys[i];
    }
    run_ctx ctx = {o, &sp, jm, dir, 0, outputs, n_outputs};
    if (jobs_n > 1 && !strcmp(fr_config_origin(base, "backend.threads"), "default"))
        ctx.threads = (int)(cores / jobs_n > 0 ? cores / jobs_n : 1);
    if (!o->quiet) {
        printf("fedrec tune: %s (%s), %zu configuration%s", name, kind, n_configs, n_configs == 1 ? "" : "s");
        if (sp.folded)
            printf(" (%zu combinations, %zu folded into another: keys a configuration's job does not read are dropped)",
                   sp.folded + n_configs, sp.folded);
        printf(" x %zu seed%s = %zu trials in %s/", n_seeds, n_seeds == 1 ? "" : "s", n_trials, dir);
        if (done_before)
            printf(" (%zu done before)", done_before);
        printf(", %d at a time; selecting on validation %s\n", jobs_n, jm->validation);
        fflush(stdout);
    }
    if (!run_trials(&ctx, trials, n_trials, done_before, jobs_n, table)) {
        code = FR_EXIT_FAILURE;
        goto done;
    }
    for (size_t i = 0; i < n_trials; i++)
        if (!trials[i].done) { /* interrupted by a signal */
            fprintf(stderr, "fedrec tune: trial %s was interrupted (%s); run the same command again to finish it\n",
                    trials[i].id, trials[i].status);
            code = FR_EXIT_FAILURE;
        }
    if (code == FR_EXIT_OK)
        code = choose(o, &sp, jm, trials, n_configs, n_seeds, dir);
done:
    if (table && fclose(table) != 0 && code == FR_EXIT_OK) {
        fprintf(stderr, "fedrec tune: %s/trials.csv: write failed: %s\n", dir, strerror(errno));
        code = FR_EXIT_FAILURE;
    }
    free(outputs);
    free(trials);
    free(dir);
    free(seeds);
    fr_tune_space_free(&sp);
    fr_config_free(base);
    return code;
}

int fr_cli_tune(int argc, char **argv)
{
    tune_opts o;
    memset(&o, 0, sizeof o);
    o.specs = calloc((size_t)argc, sizeof *o.specs);
    o.spec_options = calloc((size_t)argc, sizeof *o.spec_options);
    int code = o.specs && o.spec_options ? parse(argc, argv, &o) : FR_EXIT_FAILURE;
    if (code == FR_EXIT_OK)
        code = tune(&o);
    else if (code == -1)
        code = FR_EXIT_OK;
    free(o.specs);
    free(o.spec_options);
    return code;
}
