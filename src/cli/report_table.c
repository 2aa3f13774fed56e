/* report_table.c — reading a training report into columns (see
 * report_table.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json_value.h"
#include "cli/report_table.h"

long fr_report_table_find(const fr_report_table *t, const char *name)
{
    for (size_t c = 0; c < t->n_cols; c++)
        if (!strcmp(t->cols[c].name, name))
            return (long)c;
    return -1;
}

static int add_column(fr_report_table *t, const char *name)
{
    if (t->n_cols == t->cap_cols) {
        size_t cap = t->cap_cols ? t->cap_cols * 2 : 16;
        fr_report_column *c = realloc(t->cols, cap * sizeof *c);
        if (!c)
            return 0;
        t->cols = c;
        t->cap_cols = cap;
    }
    fr_report_column *c = &t->cols[t->n_cols];
    c->name = strdup(name);
    c->v = malloc((t->cap_rows ? t->cap_rows : 1) * sizeof *c->v);
    if (!c->name || !c->v) {
        free(c->name);
        free(c->v);
        return 0;
    }
    for (size_t r = 0; r < t->rows; r++)
        c->v[r] = NAN; /* rows before the column appeared have no value */
    t->n_cols++;
    return 1;
}

/* A new row, every value NaN until set. */
static int add_row(fr_report_table *t)
{
    if (t->rows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 64;
        for (size_t c = 0; c < t->n_cols; c++) {
            double *v = realloc(t->cols[c].v, cap * sizeof *v);
            if (!v)
                return 0;
            t->cols[c].v = v;
        }
        t->cap_rows = cap;
    }
    for (size_t c = 0; c < t->n_cols; c++)
        t->cols[c].v[t->rows] = NAN;
    t->rows++;
    return 1;
}

typedef struct json_row {
    fr_report_table *t;
    int failed;
} json_row;

static int set_json_value(void *ctx, const char *name, double value)
{
    json_row *jr = ctx;
    fr_report_table *t = jr->t;
    long c = fr_report_table_find(t, name);
    if (c < 0) {
        if (!add_column(t, name))
            return jr->failed = 1, 0;
        c = (long)t->n_cols - 1;
    }
    t->cols[c].v[t->rows - 1] = value;
    return 1;
}

static int json_line(fr_report_table *t, const char *path, size_t lineno, const char *line, char *err, size_t errn)
{
    fr_json v;
    char why[256];
    if (!fr_json_parse(line, strlen(line), &v, why, sizeof why)) {
        /* the parser counts lines within the one line: keep its column */
        const char *col = strchr(why, ':');
        snprintf(err, errn, "%s:%zu:%s", path, lineno, col ? col + 1 : why);
        return 0;
    }
    if (v.kind != FR_JSON_OBJECT || v.count == 0) {
        snprintf(err, errn, "%s:%zu: expected a JSON object of a round's or epoch's figures, like {\"round\":1,...}", path, lineno);
        fr_json_free(&v);
        return 0;
    }
    if (t->rows == 0 && t->n_cols == 0 && v.items[0].kind != FR_JSON_NUMBER) {
        snprintf(err, errn, "%s:%zu: the first member '%s' is not a number, expected the round or epoch", path, lineno, v.keys[0]);
        fr_json_free(&v);
        return 0;
    }
    int ok = add_row(t);
    json_row jr = {t, 0};
    if (ok)
        ok = fr_json_flatten(&v, set_json_value, &jr) && !jr.failed;
    fr_json_free(&v);
    if (!ok)
        snprintf(err, errn, "out of memory reading %s", path);
    return ok;
}

static int csv_line(fr_report_table *t, const char *path, size_t lineno, char *line, char *err, size_t errn)
{
    if (t->n_cols == 0) {
        for (char *tok = line;;) {
            size_t len = strcspn(tok, ",");
            char end = tok[len];
            tok[len] = '\0';
            if (!*tok) {
                snprintf(err, errn, "%s:%zu: column %zu of the header has no name", path, lineno, t->n_cols + 1);
                return 0;
            }
            if (fr_report_table_find(t, tok) >= 0) {
                snprintf(err, errn, "%s:%zu: column '%s' is named twice in the header", path, lineno, tok);
                return 0;
            }
            if (!add_column(t, tok)) {
                snprintf(err, errn, "out of memory reading %s", path);
                return 0;
            }
            if (!end)
                break;
            tok += len + 1;
        }
        if (t->n_cols < 2) {
            snprintf(err, errn, "%s:%zu: a header of %zu column, expected a round or epoch column and at least one metric",
                     path, lineno, t->n_cols);
            return 0;
        }
        return 1;
    }
    if (!add_row(t)) {
        snprintf(err, errn, "out of memory reading %s", path);
        return 0;
    }
    size_t n = 0;
    for (char *tok = line;; n++) {
        size_t len = strcspn(tok, ",");
        char end = tok[len];
        tok[len] = '\0';
        if (n < t->n_cols) {
            char *num_end;
            double v = *tok ? strtod(tok, &num_end) : NAN;
            if (*tok && (num_end == tok || *num_end)) {
                snprintf(err, errn, "%s:%zu: column %zu (%s) is '%s', expected a number", path, lineno, n + 1,
                         t->cols[n].name, tok);
                return 0;
            }
            t->cols[n].v[t->rows - 1] = v;
        }
        if (!end)
            break;
        tok += len + 1;
    }
    if (n + 1 != t->n_cols) {
        snprintf(err, errn, "%s:%zu: %zu fields, the header has %zu", path, lineno, n + 1, t->n_cols);
        return 0;
    }
    return 1;
}

int fr_report_table_read(const char *path, fr_report_table *t, char *err, size_t errn)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errn, "%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int ok = 1, jsonl = -1;
    while (ok && getline(&line, &cap, f) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        if (jsonl < 0)
            jsonl = line[0] == '{';
        ok = jsonl ? json_line(t, path, lineno, line, err, errn) : csv_line(t, path, lineno, line, err, errn);
    }
    if (ok && ferror(f)) {
        snprintf(err, errn, "%s: read failed: %s", path, strerror(errno));
        ok = 0;
    } else if (ok && !feof(f)) { /* getline could not grow the line (ENOMEM) */
        snprintf(err, errn, "%s:%zu: out of memory reading the line", path, lineno + 1);
        ok = 0;
    }
    free(line);
    fclose(f);
    if (ok && t->rows == 0) {
        snprintf(err, errn, "%s: no rows to plot (%s)", path, lineno ? "only a header" : "the file is empty");
        ok = 0;
    }
    if (ok && t->n_cols < 2) {
        snprintf(err, errn, "%s: only the column '%s', expected a round or epoch column and at least one metric", path,
                 t->cols[0].name);
        ok = 0;
    }
    return ok;
}

void fr_report_table_free(fr_report_table *t)
{
    for (size_t c = 0; c < t->n_cols; c++) {
        free(t->cols[c].name);
        free(t->cols[c].v);
    }
    free(t->cols);
    memset(t, 0, sizeof *t);
}
