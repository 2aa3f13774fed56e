/* cmd_compare.c — `fedrec compare SUMMARY...`: runs side by side, one
 * column each: the job, the method, the configuration keys whose values
 * differ between the runs, every metric and per-scenario x task cell, the
 * time and the peak memory; as aligned text, Markdown or CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/run_summary.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec compare SUMMARY... [--format text|markdown|csv]\n\n"
            "Shows runs side by side, one column per summary of 'fedrec train --summary':\n"
            "the job kind and method, the configuration keys whose values differ between\n"
            "the runs (output.* file names, run.name and run.seed left out: the run's\n"
            "name heads its column and the seed has its own row), every metric and\n"
            "every per-scenario x task cell the summaries hold, the wall time and the\n"
            "peak memory. A run that lacks a figure shows '-'.\n\n"
            "  --format F   text (aligned columns, the default), markdown (a table) or\n"
            "               csv (section,field,run...; numbers unrounded)\n");
}

typedef enum { TEXT, MARKDOWN, CSV } format;

typedef struct row {
    const char *section, *label;
    char **cells; /* one per run, malloc'ed */
} row;

typedef struct table {
    row *rows;
    size_t n, cap, runs;
    int failed;
} table;

static row *add_row(table *t, const char *section, const char *label)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        row *r = realloc(t->rows, cap * sizeof *r);
        if (!r) {
            t->failed = 1;
            return NULL;
        }
        t->rows = r;
        t->cap = cap;
    }
    row *r = &t->rows[t->n];
    r->section = section;
    r->label = label;
    r->cells = calloc(t->runs, sizeof *r->cells);
    if (!r->cells) {
        t->failed = 1;
        return NULL;
    }
    t->n++;
    return r;
}

static void set_cell(table *t, row *r, size_t run, const char *text)
{
    if (r && !(r->cells[run] = strdup(text)))
        t->failed = 1;
}

/* decimals < 0: six significant digits; CSV: every digit */
static void set_number(table *t, row *r, size_t run, double v, int decimals, format f)
{
    char buf[64];
    if (isnan(v))
        snprintf(buf, sizeof buf, "%s", f == CSV ? "" : "nan");
    else if (f == CSV)
        snprintf(buf, sizeof buf, "%.10g", v);
    else if (decimals < 0)
        snprintf(buf, sizeof buf, "%.6g", v);
    else
        snprintf(buf, sizeof buf, "%.*f", decimals, v);
    set_cell(t, r, run, buf);
}

static int seen(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return 1;
    return 0;
}

/* Info fields the first rows show already. */
static int shown_elsewhere(const char *name)
{
    static const char *const n[] = {"job_kind", "kind", "job", "method", "run_name", "name", "run"};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        if (!strcmp(n[i], name))
            return 1;
    return 0;
}

static int differing_key(const char *key)
{
    return strncmp(key, "output.", 7) && strcmp(key, "run.name") && strcmp(key, "run.seed");
}

static void build(table *t, const fr_run_summary *s, size_t n, format f)
{
    /* the column heads: the run names, or the files where names repeat */
    int names_unique = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s[i].run_name, s[j].run_name))
                names_unique = 0;
    row *r = add_row(t, "run", "run");
    for (size_t i = 0; i < n; i++)
        set_cell(t, r, i, names_unique ? s[i].run_name : s[i].path);
    r = add_row(t, "run", names_unique ? "file" : "run.name");
    for (size_t i = 0; i < n; i++)
        set_cell(t, r, i, names_unique ? s[i].path : s[i].run_name);
    r = add_row(t, "run", "job");
    for (size_t i = 0; i < n; i++)
        set_cell(t, r, i, s[i].job_kind);
    r = add_row(t, "run", "method");
    for (size_t i = 0; i < n; i++)
        set_cell(t, r, i, s[i].method);
    /* every other descriptive field any summary has, in first-seen order */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n_info; k++) {
            const char *name = s[i].info[k].name;
            int dup = shown_elsewhere(name);
            for (size_t j = 0; j < i && !dup; j++)
                for (size_t m = 0; m < s[j].n_info && !dup; m++)
                    dup = !strcmp(s[j].info[m].name, name);
            for (size_t m = 0; m < k && !dup; m++)
                dup = !strcmp(s[i].info[m].name, name);
            if (dup)
                continue;
            r = add_row(t, "run", name);
            for (size_t j = 0; r && j < n; j++) {
                const char *v = "-";
                for (size_t m = 0; m < s[j].n_info; m++)
                    if (!strcmp(s[j].info[m].name, name))
                        v = s[j].info[m].text;
                set_cell(t, r, j, v);
            }
        }
    /* configuration keys whose values differ (or that some lack) */
    size_t n_keys = 0;
    char **keys = NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n_config; k++) {
            const char *key = s[i].config[k].name;
            if (!differing_key(key) || seen(keys, n_keys, key))
                continue;
            const char *first = fr_run_summary_config(&s[0], key);
            int differs = 0;
            for (size_t j = 0; j < n && !differs; j++) {
                const char *v = fr_run_summary_config(&s[j], key);
                differs = !v || !first || strcmp(v, first);
            }
            if (!differs)
                continue;
            char **nk = realloc(keys, (n_keys + 1) * sizeof *nk);
            if (!nk) {
                t->failed = 1;
                break;
            }
            keys = nk;
            keys[n_keys++] = s[i].config[k].name;
            r = add_row(t, "configuration", key);
            for (size_t j = 0; r && j < n; j++) {
                const char *v = fr_run_summary_config(&s[j], key);
                set_cell(t, r, j, v ? (*v || f == CSV ? v : "(empty)") : "-");
            }
        }
    if (!n_keys && n > 1) {
        r = add_row(t, "configuration", "(every key alike)");
        for (size_t j = 0; r && j < n; j++)
            set_cell(t, r, j, "");
    }
    free(keys);
    /* metrics, then cells: the union of names, in first-seen order */
    for (int cells = 0; cells < 2; cells++)
        for (size_t i = 0; i < n; i++)
            for (size_t k = cells ? s[i].n_metrics : 0; k < (cells ? s[i].n_figures : s[i].n_metrics); k++) {
                const char *name = s[i].figures[k].name;
                int dup = 0;
                for (size_t j = 0; j <= i && !dup; j++)
                    for (size_t m = cells ? s[j].n_metrics : 0; m < (j == i ? k : cells ? s[j].n_figures : s[j].n_metrics) && !dup; m++)
                        dup = !strcmp(s[j].figures[m].name, name);
                for (size_t j = 0; cells && j < n && !dup; j++) /* a metric row has it */
                    for (size_t m = 0; m < s[j].n_metrics && !dup; m++)
                        dup = !strcmp(s[j].figures[m].name, name);
                if (dup)
                    continue;
                r = add_row(t, cells ? "cells" : "metrics", name);
                for (size_t j = 0; r && j < n; j++) {
                    int found;
                    double v = fr_run_summary_figure(&s[j], name, &found);
                    if (found)
                        set_number(t, r, j, v, -1, f);
                    else
                        set_cell(t, r, j, "-");
                }
            }
    r = add_row(t, "resources", f == CSV ? "wall_seconds" : "time (s)");
    for (size_t j = 0; r && j < n; j++)
        set_number(t, r, j, s[j].wall_seconds, 2, f);
    r = add_row(t, "resources", f == CSV ? "peak_rss_bytes" : "peak memory (MiB)");
    for (size_t j = 0; r && j < n; j++)
        set_number(t, r, j, f == CSV ? s[j].peak_rss_bytes : s[j].peak_rss_bytes / 1048576.0, 1, f);
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void md_field(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            putchar('\\');
        putchar(*s);
    }
}

static void print(const table *t, format f)
{
    size_t runs = t->runs, label_w = 5;
    size_t *w = calloc(runs, sizeof *w);
    if (!w)
        return;
    for (size_t i = 0; i < t->n; i++) {
        size_t l = strlen(t->rows[i].label);
        label_w = l > label_w ? l : label_w;
        for (size_t j = 0; j < runs; j++) {
            size_t c = strlen(t->rows[i].cells[j]);
            w[j] = c > w[j] ? c : w[j];
        }
    }
    const char *section = "run";
    for (size_t i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        if (f == CSV) {
            csv_field(i ? r->section : "section");
            putchar(',');
            csv_field(i ? r->label : "field");
            for (size_t j = 0; j < runs; j++) {
                putchar(',');
                csv_field(r->cells[j]);
            }
            putchar('\n');
            continue;
        }
        if (strcmp(section, r->section)) {
            section = r->section;
            if (f == MARKDOWN) {
                printf("| **%s** |", section);
                for (size_t j = 0; j < runs; j++)
                    fputs(" |", stdout);
                putchar('\n');
            } else {
                printf("%s\n", section);
            }
        }
        if (f == MARKDOWN) {
            fputs("| ", stdout);
            md_field(r->label);
            for (size_t j = 0; j < runs; j++) {
                fputs(" | ", stdout);
                md_field(r->cells[j]);
            }
            fputs(" |\n", stdout);
            if (i == 0) {
                fputs("|---", stdout);
                for (size_t j = 0; j < runs; j++)
                    fputs("|---:", stdout);
                fputs("|\n", stdout);
            }
        } else {
            printf("  %-*s", (int)label_w, r->label);
            for (size_t j = 0; j < runs; j++)
                printf("  %*s", (int)w[j], r->cells[j]);
            putchar('\n');
        }
    }
    free(w);
}

int fr_cli_compare(int argc, char **argv)
{
    format f = TEXT;
    size_t n = 0;
    char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths)
        return FR_EXIT_FAILURE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(paths);
            return FR_EXIT_OK;
        } else if (!strcmp(a, "--format")) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (!strcmp(v, "text"))
                f = TEXT;
            else if (!strcmp(v, "markdown") || !strcmp(v, "md"))
                f = MARKDOWN;
            else if (!strcmp(v, "csv"))
                f = CSV;
            else {
                fprintf(stderr, "fedrec compare: --format '%s': expected text, markdown or csv\n", v);
                free(paths);
                return FR_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec compare: unknown option '%s' (try --help)\n", a);
            free(paths);
            return FR_EXIT_USAGE;
        } else {
            paths[n++] = argv[i];
        }
    }
    if (!n) {
        fprintf(stderr, "Usage: fedrec compare SUMMARY... [--format text|markdown|csv] (try --help)\n");
        free(paths);
        return FR_EXIT_USAGE;
    }
    fr_run_summary *s = calloc(n, sizeof *s);
    int code = s ? FR_EXIT_OK : FR_EXIT_FAILURE;
    size_t loaded = 0;
    char err[1024];
    for (; code == FR_EXIT_OK && loaded < n; loaded++) {
        code = fr_run_summary_load(paths[loaded], &s[loaded], err, sizeof err);
        if (code != FR_EXIT_OK)
            fprintf(stderr, "fedrec compare: %s\n", err);
    }
    if (code == FR_EXIT_OK) {
        table t = {NULL, 0, 0, n, 0};
        build(&t, s, n, f);
        if (t.failed) {
            fprintf(stderr, "fedrec compare: out of memory\n");
            code = FR_EXIT_FAILURE;
        } else {
            print(&t, f);
        }
        for (size_t i = 0; i < t.n; i++) {
            for (size_t j = 0; j < n; j++)
                free(t.rows[i].cells[j]);
            free(t.rows[i].cells);
        }
        free(t.rows);
    }
    for (size_t i = 0; s && i < n; i++)
        fr_run_summary_free(&s[i]);
    free(s);
    free(paths);
    return code;
}
