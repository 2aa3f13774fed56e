/* cmd_plot.c — `fedrec plot REPORT`: a report of `fedrec train` (CSV with a
 * header, or JSON lines) as an SVG learning curve: one line per metric
 * against the round or epoch. Written atomically. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "io/atomic_file.h"

#define MAX_SERIES 16

typedef struct table {
    char names[MAX_SERIES + 1][48]; /* column 0 is x */
    size_t n_cols;
    double *values;                /* rows x n_cols */
    size_t rows, cap;
} table;

static int add_row(table *t, const double *row)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        double *v = realloc(t->values, cap * t->n_cols * sizeof *v);
        if (!v)
            return 0;
        t->values = v;
        t->cap = cap;
    }
    memcpy(t->values + t->rows++ * t->n_cols, row, t->n_cols * sizeof *row);
    return 1;
}

/* CSV: header names, then numbers. JSON lines: {"name":number,...}. */
static int read_report(const char *path, table *t, char *err, size_t errn)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int ok = 1;
    while (ok && (got = getline(&line, &cap, f)) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        double row[MAX_SERIES + 1];
        size_t n = 0;
        if (line[0] == '{') {
            for (char *p = line; (p = strchr(p, '"')) && n <= MAX_SERIES;) {
                char *end = strchr(p + 1, '"');
                if (!end || end[1] != ':')
                    break;
                if (t->rows == 0)
                    snprintf(t->names[n], sizeof t->names[n], "%.*s", (int)(end - p - 1), p + 1);
                char *num_end;
                row[n++] = strtod(end + 2, &num_end);
                if (num_end == end + 2) {
                    snprintf(err, errn, "%s:%zu: field '%.*s' is not a number", path, lineno, (int)(end - p - 1), p + 1);
                    ok = 0;
                }
                p = num_end;
            }
            if (t->rows == 0)
                t->n_cols = n;
        } else if (t->n_cols == 0) {
            for (char *tok = strtok(line, ","); tok && n <= MAX_SERIES; tok = strtok(NULL, ","))
                snprintf(t->names[n++], sizeof t->names[0], "%s", tok);
            t->n_cols = n;
            continue;
        } else {
            for (char *tok = strtok(line, ","); tok && n <= MAX_SERIES; tok = strtok(NULL, ",")) {
                char *end;
                row[n++] = strtod(tok, &end);
                if (end == tok || *end) {
                    snprintf(err, errn, "%s:%zu: column %zu is '%s', expected a number", path, lineno, n, tok);
                    ok = 0;
                }
            }
        }
        if (ok && n != t->n_cols) {
            snprintf(err, errn, "%s:%zu: %zu fields, the first row has %zu", path, lineno, n, t->n_cols);
            ok = 0;
        }
        if (ok && n < 2) {
            snprintf(err, errn, "%s:%zu: needs a round or epoch column and at least one metric", path, lineno);
            ok = 0;
        }
        if (ok && !add_row(t, row)) {
            snprintf(err, errn, "out of memory reading %s", path);
            ok = 0;
        }
    }
    if (ok && !feof(f)) { /* getline stopped early: a read error, or no memory to grow the line */
        if (ferror(f))
            snprintf(err, errn, "%s:%zu: read error: %s", path, lineno + 1, strerror(errno));
        else
            snprintf(err, errn, "out of memory reading %s", path);
        ok = 0;
    }
    free(line);
    fclose(f);
    if (ok && t->rows == 0) {
        snprintf(err, errn, "%s: no rows to plot", path);
        ok = 0;
    }
    return ok;
}

static int wanted(const char *name, const char *metrics)
{
    if (!metrics) /* default: what moves with learning, not time or bytes */
        return strcmp(name, "seconds") && strcmp(name, "bytes_up") && strcmp(name, "participants") && strcmp(name, "rejected") &&
               strcmp(name, "dp_epsilon");
    size_t len = strlen(name);
    for (const char *m = metrics; *m;) {
        size_t l = strcspn(m, ",");
        if (l == len && !strncmp(m, name, len))
            return 1;
        m += l + (m[l] == ',');
    }
    return 0;
}

static void nice_range(double *lo, double *hi)
{
    if (*hi <= *lo) {
        *hi = *lo + 1;
        *lo -= 1;
    }
    double pad = (*hi - *lo) * 0.05;
    *lo -= pad;
    *hi += pad;
}

static void write_svg(FILE *o, const table *t, const char *metrics, const char *title)
{
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    const double W = 800, H = 450, L = 70, R = 200, T = 40, B = 50;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t r = 0; r < t->rows; r++) {
        const double *row = t->values + r * t->n_cols;
        xlo = fmin(xlo, row[0]);
        xhi = fmax(xhi, row[0]);
        for (size_t c = 1; c < t->n_cols; c++)
            if (wanted(t->names[c], metrics) && isfinite(row[c])) {
                ylo = fmin(ylo, row[c]);
                yhi = fmax(yhi, row[c]);
            }
    }
    if (!isfinite(ylo))
        ylo = 0, yhi = 1;
    nice_range(&ylo, &yhi);
    if (xhi <= xlo)
        xhi = xlo + 1;
    double pw = W - L - R, ph = H - T - B;
#define X(v) (L + ((v) - xlo) / (xhi - xlo) * pw)
#define Y(v) (T + ph - ((v) - ylo) / (yhi - ylo) * ph)
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(o, "<text x=\"%.0f\" y=\"24\" font-size=\"15\">", L);
    for (const char *c = title; *c; c++)
        if (*c == '<')
            fputs("&lt;", o);
        else if (*c == '&')
            fputs("&amp;", o);
        else
            fputc(*c, o);
    fputs("</text>\n", o);
    for (int i = 0; i <= 5; i++) {
        double v = ylo + (yhi - ylo) * i / 5, y = Y(v);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y, L + pw, y);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", L - 6, y + 4, v);
        double xv = xlo + (xhi - xlo) * i / 5;
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g</text>\n", X(xv), T + ph + 18, xv);
    }
    fprintf(o, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n", L, T, pw, ph);
    fprintf(o, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", L + pw / 2, H - 12, t->names[0]);
    size_t k = 0;
    for (size_t c = 1; c < t->n_cols; c++) {
        if (!wanted(t->names[c], metrics))
            continue;
        const char *color = colors[k % (sizeof colors / sizeof colors[0])];
        fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
        for (size_t r = 0; r < t->rows; r++) {
            const double *row = t->values + r * t->n_cols;
            if (isfinite(row[c]))
                fprintf(o, "%.1f,%.1f ", X(row[0]), Y(row[c]));
        }
        fputs("\"/>\n", o);
        double ly = T + 10 + 18.0 * (double)k;
        fprintf(o, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n",
                L + pw + 15, ly, L + pw + 40, ly, color);
        fprintf(o, "<text x=\"%.0f\" y=\"%.1f\">%s</text>\n", L + pw + 46, ly + 4, t->names[c]);
        k++;
    }
    fputs("</svg>\n", o);
#undef X
#undef Y
}

int fr_cli_plot(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *metrics = NULL, *title = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("Usage: fedrec plot REPORT [--out FILE.svg] [--metrics a,b,...] [--title TEXT]\n\n"
                   "Draws a report of 'fedrec train --report' (CSV or JSON lines) as an SVG\n"
                   "learning curve: every metric column (or those named) against the first\n"
                   "column (round or epoch). Default output: REPORT with .svg appended.\n");
            return FR_EXIT_OK;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--metrics") || !strcmp(a, "--title")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fedrec plot: %s needs a value\n", a);
                return FR_EXIT_USAGE;
            }
            *(a[2] == 'o' ? &out : a[2] == 'm' ? &metrics : &title) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec plot: unknown option '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        } else if (!in) {
            in = a;
        } else {
            fprintf(stderr, "fedrec plot: one report at a time ('%s', '%s')\n", in, a);
            return FR_EXIT_USAGE;
        }
    }
    if (!in) {
        fprintf(stderr, "Usage: fedrec plot REPORT [--out FILE.svg] [--metrics a,b] (try --help)\n");
        return FR_EXIT_USAGE;
    }
    table t;
    memset(&t, 0, sizeof t);
    char err[512];
    if (!read_report(in, &t, err, sizeof err)) {
        free(t.values);
        fprintf(stderr, "fedrec: %s\n", err);
        return FR_EXIT_INPUT;
    }
    int any = 0;
    for (size_t c = 1; c < t.n_cols; c++)
        any |= wanted(t.names[c], metrics);
    if (!any) {
        free(t.values);
        fprintf(stderr, "fedrec plot: none of the metrics '%s' is a column of %s\n", metrics ? metrics : "", in);
        return FR_EXIT_USAGE;
    }
    char *path = NULL;
    if (!out) {
        size_t n = strlen(in) + 5;
        path = malloc(n);
        if (!path)
            return FR_EXIT_FAILURE;
        snprintf(path, n, "%s.svg", in);
        out = path;
    }
    fr_atomic_file af;
    fr_status s = fr_atomic_open(&af, out);
    if (s == FR_OK) {
        write_svg(af.f, &t, metrics, title ? title : in);
        s = fr_atomic_commit(&af);
    }
    int code = s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, "plot");
    if (s == FR_OK)
        printf("%s\n", out);
    free(path);
    free(t.values);
    return code;
}
