/* cmd_plot.c — `fedrec plot REPORT...`: reports of `fedrec train` (CSV with
 * a header, or JSON lines; every job kind) as one SVG chart of metrics
 * against the round or epoch; several reports overlaid, the legend naming
 * the report and the metric. Written atomically. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/report_table.h"
#include "cli/svg_chart.h"
#include "io/atomic_file.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec plot REPORT... [--out FILE.svg] [--metrics a,b,...] [--title TEXT]\n\n"
            "Draws reports of 'fedrec train --report' (CSV or JSON lines, any job kind)\n"
            "as one SVG chart: the metrics against the round or epoch. Several reports\n"
            "are overlaid, the legend naming the report and the metric.\n\n"
            "  --metrics a,b  the columns to draw; shell patterns select many, like\n"
            "                 'valid_auc_*' for every scenario x task cell. Default: the\n"
            "                 validation and test quality figures of the job (val_hr,\n"
            "                 test_ndcg, valid_auc, test_recall@20, ...), not the\n"
            "                 training loss, times, bytes or counts\n"
            "  --out FILE     the SVG to write (default: REPORT.svg for one report,\n"
            "                 plot.svg for several)\n"
            "  --title TEXT   the chart's title (default: the reports' names)\n");
}

/* The default: a validation or test figure of the whole job, named
 * val_X, valid_X or test_X with X a word and perhaps @K (val_hr,
 * test_auc, valid_recall@20), not a per-scenario cell (valid_auc_s0_click)
 * nor a time or count. */
static int quality_metric(const char *name)
{
    const char *p = !strncmp(name, "val_", 4) ? name + 4 : !strncmp(name, "valid_", 6) ? name + 6
                                                    : !strncmp(name, "test_", 5)        ? name + 5
                                                                                        : NULL;
    if (!p || !*p)
        return 0;
    while (*p >= 'a' && *p <= 'z')
        p++;
    if (*p == '@') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0' && !strstr(name, "seconds");
}

/* A report without such figures: every column that moves with learning. */
static int learning_metric(const char *name)
{
    static const char *const skip[] = {"seconds", "bytes", "participants", "rejected", "dp_epsilon", "conflicts", "per_second"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strstr(name, skip[i]))
            return 0;
    return 1;
}

/* Whether name is one of the comma-separated patterns; used[i] counts the
 * columns pattern i matched. */
static int chosen(const char *name, const char *metrics, size_t *used)
{
    int hit = 0;
    size_t i = 0;
    for (const char *m = metrics; *m; i++) {
        size_t l = strcspn(m, ",");
        char pattern[256];
        snprintf(pattern, sizeof pattern, "%.*s", (int)(l < 255 ? l : 255), m);
        if (*pattern && fnmatch(pattern, name, 0) == 0) {
            used[i]++;
            hit = 1;
        }
        m += l + (m[l] == ',');
    }
    return hit;
}

/* The report's name in the legend: its file name without folder and
 * extension, or the whole path where two reports would share it. */
static const char *short_name(char *const *paths, size_t n, size_t k, char *buf, size_t bufn)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass ? paths[k] : strrchr(paths[k], '/') ? strrchr(paths[k], '/') + 1 : paths[k];
        snprintf(buf, bufn, "%s", p);
        char *dot = strrchr(buf, '.');
        if (!pass && dot && dot != buf)
            *dot = '\0';
        if (pass)
            return buf;
        int clash = 0;
        for (size_t j = 0; j < n; j++) {
            const char *q = strrchr(paths[j], '/') ? strrchr(paths[j], '/') + 1 : paths[j];
            size_t len = strlen(buf);
            if (j != k && !strncmp(q, buf, len) && (q[len] == '\0' || q[len] == '.'))
                clash = 1;
        }
        if (!clash)
            return buf;
    }
    return buf;
}

typedef struct plot_opts {
    char **reports;
    size_t n_reports;
    const char *out, *metrics, *title;
} plot_opts;

static int parse(int argc, char **argv, plot_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--metrics") || !strcmp(a, "--title")) {
            if (i + 1 >= argc || (!argv[i + 1][0] && strcmp(a, "--title"))) {
                fprintf(stderr, "fedrec plot: %s needs a value\n", a);
                return FR_EXIT_USAGE;
            }
            *(a[2] == 'o' ? &o->out : a[2] == 'm' ? &o->metrics : &o->title) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec plot: unknown option '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        } else {
            o->reports[o->n_reports++] = argv[i];
        }
    }
    if (!o->n_reports) {
        fprintf(stderr, "Usage: fedrec plot REPORT... [--out FILE.svg] [--metrics a,b] (try --help)\n");
        return FR_EXIT_USAGE;
    }
    return FR_EXIT_OK;
}

static int x_is_integer(const fr_report_table *t)
{
    for (size_t r = 0; r < t->rows; r++)
        if (isfinite(t->cols[0].v[r]) && t->cols[0].v[r] != floor(t->cols[0].v[r]))
            return 0;
    return 1;
}

/* Choose the series, check every --metrics pattern found a column, and
 * draw. Returns an exit code. */
static int draw(const plot_opts *o, fr_report_table *tables, const char *out)
{
    size_t n_patterns = 1;
    for (const char *m = o->metrics ? o->metrics : ""; *m; m++)
        n_patterns += *m == ',';
    size_t *used = calloc(n_patterns, sizeof *used);
    size_t cap = 0, n = 0;
    for (size_t k = 0; k < o->n_reports; k++)
        cap += tables[k].n_cols;
    fr_chart_series *series = calloc(cap, sizeof *series);
    char **labels = calloc(cap, sizeof *labels);
    /* each series' points: the rows with a value in its column (a row of
     * an epoch not evaluated, train.eval_every, has its evaluation cells
     * empty: the line goes from one evaluated epoch to the next) */
    double **points = calloc(cap, sizeof *points);
    char x_label[256] = "";
    int x_integer = 1, code = FR_EXIT_OK;
    if (!used || !series || !labels || !points) {
        code = FR_EXIT_FAILURE;
        fprintf(stderr, "fedrec plot: out of memory\n");
        goto done;
    }
    for (size_t k = 0; k < o->n_reports; k++) {
        const fr_report_table *t = &tables[k];
        int quality = 0;
        for (size_t c = 1; c < t->n_cols; c++)
            quality |= quality_metric(t->cols[c].name);
        char name[512];
        short_name(o->reports, o->n_reports, k, name, sizeof name);
        for (size_t c = 1; c < t->n_cols; c++) {
            const char *col = t->cols[c].name;
            int take = o->metrics ? chosen(col, o->metrics, used) : quality ? quality_metric(col) : learning_metric(col);
            if (!take)
                continue;
            size_t len = strlen(name) + strlen(col) + 3;
            labels[n] = malloc(len);
            if (!labels[n]) {
                code = FR_EXIT_FAILURE;
                goto done;
            }
            if (o->n_reports > 1)
                snprintf(labels[n], len, "%s: %s", name, col);
            else
                snprintf(labels[n], len, "%s", col);
            points[n] = malloc(2 * (t->rows ? t->rows : 1) * sizeof *points[n]);
            if (!points[n]) {
                free(labels[n]);
                code = FR_EXIT_FAILURE;
                fprintf(stderr, "fedrec plot: out of memory\n");
                goto done;
            }
            size_t m = 0;
            for (size_t r = 0; r < t->rows; r++)
                if (isfinite(t->cols[c].v[r])) {
                    points[n][m] = t->cols[0].v[r];
                    points[n][t->rows + m++] = t->cols[c].v[r];
                }
            series[n] = (fr_chart_series){labels[n], points[n], points[n] + t->rows, m};
            n++;
        }
        x_integer &= x_is_integer(t);
        if (!strstr(x_label, t->cols[0].name)) /* round, epoch or both */
            snprintf(x_label + strlen(x_label), sizeof x_label - strlen(x_label), "%s%s", *x_label ? " / " : "",
                     t->cols[0].name);
    }
    if (o->metrics) {
        size_t i = 0;
        for (const char *m = o->metrics; *m; i++) {
            size_t l = strcspn(m, ",");
            if (!used[i]) {
                fprintf(stderr, "fedrec plot: --metrics: '%.*s' is not a column of %s%s; its columns:", (int)l, m,
                        o->reports[0], o->n_reports > 1 ? " or the other reports" : "");
                for (size_t c = 1; c < tables[0].n_cols && c <= 40; c++)
                    fprintf(stderr, "%s %s", c > 1 ? "," : "", tables[0].cols[c].name);
                fprintf(stderr, "%s\n", tables[0].n_cols > 41 ? ", ..." : "");
                code = FR_EXIT_USAGE;
                goto done;
            }
            m += l + (m[l] == ',');
        }
    }
    if (!n) {
        fprintf(stderr, "fedrec plot: %s has no metric column to draw\n", o->reports[0]);
        code = FR_EXIT_INPUT;
        goto done;
    }
    char title[1024] = "";
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        for (size_t k = 0; k < o->n_reports; k++)
            snprintf(title + strlen(title), sizeof title - strlen(title), "%s%s", k ? ", " : "", o->reports[k]);
    fr_atomic_file af;
    fr_status s = fr_atomic_open(&af, out);
    if (s == FR_OK) {
        fr_chart_write_svg(af.f, title, x_label, series, n, x_integer);
        s = ferror(af.f) ? FR_ERR_IO : fr_atomic_commit(&af);
        if (s != FR_OK && af.f)
            fr_atomic_abort(&af);
    }
    if (s != FR_OK)
        code = fr_cli_report(s, "plot");
    else
        printf("%s\n", out);
done:
    for (size_t i = 0; labels && points && i < n; i++) {
        free(labels[i]);
        free(points[i]);
    }
    free(labels);
    free(points);
    free(series);
    free(used);
    return code;
}

int fr_cli_plot(int argc, char **argv)
{
    plot_opts o = {calloc((size_t)argc, sizeof(char *)), 0, NULL, NULL, NULL};
    if (!o.reports)
        return FR_EXIT_FAILURE;
    int code = parse(argc, argv, &o);
    if (code != FR_EXIT_OK) {
        free(o.reports);
        return code == -1 ? FR_EXIT_OK : code;
    }
    fr_report_table *tables = calloc(o.n_reports, sizeof *tables);
    char err[1024];
    for (size_t k = 0; tables && k < o.n_reports && code == FR_EXIT_OK; k++)
        if (!fr_report_table_read(o.reports[k], &tables[k], err, sizeof err)) {
            fprintf(stderr, "fedrec plot: %s\n", err);
            code = strstr(err, "cannot open") ? FR_EXIT_FAILURE : FR_EXIT_INPUT;
        }
    if (!tables)
        code = FR_EXIT_FAILURE;
    char *path = NULL;
    const char *out = o.out;
    if (code == FR_EXIT_OK && !out) {
        if (o.n_reports == 1) {
            size_t len = strlen(o.reports[0]) + 5;
            path = malloc(len);
            if (path)
                snprintf(path, len, "%s.svg", o.reports[0]);
            out = path;
        } else {
            out = "plot.svg";
        }
    }
    if (code == FR_EXIT_OK)
        code = out ? draw(&o, tables, out) : FR_EXIT_FAILURE;
    for (size_t k = 0; tables && k < o.n_reports; k++)
        fr_report_table_free(&tables[k]);
    free(tables);
    free(path);
    free(o.reports);
    return code;
}
