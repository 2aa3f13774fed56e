/* read_delimited.c — delimited text files to a binary table file (see
 * fedrec/table_read.h): column maps, the AliExpress preset, and the
 * two-pass streaming conversion. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "fedrec/rng.h"
#include "fedrec/table_read.h"
#include "io/lines.h"

void fr_table_columns_aliexpress(fr_table_columns *c)
{
    memset(c, 0, sizeof *c);
    c->delimiter = ',';
    c->header = 1;
    size_t k = 0;
    c->kind[k] = FR_COL_SKIP;
    snprintf(c->name[k++], FR_TABLE_NAME_MAX, "search_id");
    for (int f = 1; f <= 16; f++) {
        c->kind[k] = FR_COL_CAT;
        snprintf(c->name[k++], FR_TABLE_NAME_MAX, "categorical_%d", f);
    }
    for (int f = 1; f <= 63; f++) {
        c->kind[k] = FR_COL_NUM;
        snprintf(c->name[k++], FR_TABLE_NAME_MAX, "numerical_%d", f);
    }
    c->kind[k] = FR_COL_LABEL;
    snprintf(c->name[k++], FR_TABLE_NAME_MAX, "click");
    c->kind[k] = FR_COL_LABEL;
    snprintf(c->name[k++], FR_TABLE_NAME_MAX, "conversion");
    c->n_cols = k;
}

fr_status fr_table_columns_parse(const char *text, fr_table_columns *c)
{
    char delimiter = c->delimiter, user[FR_TABLE_NAME_MAX], item[FR_TABLE_NAME_MAX];
    int header = c->header;
    memcpy(user, c->user_field, sizeof user);
    memcpy(item, c->item_field, sizeof item);
    memset(c, 0, sizeof *c);
    c->delimiter = delimiter;
    c->header = header;
    memcpy(c->user_field, user, sizeof user);
    memcpy(c->item_field, item, sizeof item);
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        const char *colon = memchr(p, ':', len);
        size_t kind_len = colon ? (size_t)(colon - p) : len;
        fr_column_kind kind;
        if (kind_len == 3 && !strncmp(p, "cat", 3))
            kind = FR_COL_CAT;
        else if (kind_len == 3 && !strncmp(p, "num", 3))
            kind = FR_COL_NUM;
        else if (kind_len == 5 && !strncmp(p, "label", 5))
            kind = FR_COL_LABEL;
        else if (kind_len == 8 && !strncmp(p, "scenario", 8))
            kind = FR_COL_SCENARIO;
        else if (kind_len == 5 && !strncmp(p, "split", 5))
            kind = FR_COL_SPLIT;
        else if (kind_len == 1 && *p == '-')
            kind = FR_COL_SKIP;
        else
            return fr_fail(FR_ERR_CONFIG, "column map item %zu ('%.*s'): expected cat, num, label, scenario, split or -, optionally followed by :name",
                           c->n_cols + 1, (int)len, p);
        if (c->n_cols == FR_TABLE_MAX_COLUMNS)
            return fr_fail(FR_ERR_CONFIG, "column map: more than %d columns", FR_TABLE_MAX_COLUMNS);
        size_t name_len = colon ? len - kind_len - 1 : 0;
        if (name_len >= FR_TABLE_NAME_MAX)
            return fr_fail(FR_ERR_CONFIG, "column map item %zu: name longer than %d characters", c->n_cols + 1,
                           FR_TABLE_NAME_MAX - 1);
        c->kind[c->n_cols] = kind;
        if (colon)
            memcpy(c->name[c->n_cols], colon + 1, name_len);
        c->n_cols++;
        if (!end)
            break;
        p = end + 1;
    }
    size_t labels = 0, scenarios = 0, splits = 0;
    for (size_t k = 0; k < c->n_cols; k++) {
        labels += c->kind[k] == FR_COL_LABEL;
        scenarios += c->kind[k] == FR_COL_SCENARIO;
        splits += c->kind[k] == FR_COL_SPLIT;
    }
    if (labels < 1 || labels > FR_TABLE_MAX_TASKS || scenarios > 1 || splits > 1)
        return fr_fail(FR_ERR_CONFIG, "column map '%s': needs 1 to %d label columns, at most one scenario column and at most one split column",
                       text, FR_TABLE_MAX_TASKS);
    return FR_OK;
}

/* ---- conversion -------------------------------------------------------------- */

#define BLOCK 4096

typedef struct converter {
    const fr_table_columns *cols;
    size_t n_cat, n_num, n_tasks;
    fr_id_map *maps;     /* one per categorical field */
    fr_id_map scenarios;
    fr_table_writer *w;
    /* A block of parsed rows. */
    int32_t *cat, *scenario;
    float *num;
    uint8_t *labels, *split;
    size_t filled;
    char **field;
    size_t *len;
} converter;

static fr_status flush(converter *cv)
{
    fr_status s = fr_table_writer_append(cv->w, cv->filled, cv->cat, cv->num, cv->scenario, cv->labels,
                                         cv->split);
    cv->filled = 0;
    return s;
}

/* Cut line at the delimiter into at most max fields; returns how many
 * (max + 1 when there are more). */
static size_t cut(char *line, char delimiter, char **field, size_t *len, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, delimiter);
        if (n == max)
            return max + 1;
        field[n] = p;
        len[n] = end ? (size_t)(end - p) : strlen(p);
        n++;
        if (!end)
            return n;
        p = end + 1;
    }
}

static fr_status check_header(const converter *cv, const char *path, char *line)
{
    size_t n = cut(line, cv->cols->delimiter, cv->field, cv->len, cv->cols->n_cols);
    if (n != cv->cols->n_cols)
        return fr_fail(FR_ERR_FORMAT, "%s:1: header has %s%zu columns, the column map %zu", path,
                       n > cv->cols->n_cols ? "more than " : "", n > cv->cols->n_cols ? n - 1 : n,
                       cv->cols->n_cols);
    for (size_t k = 0; k < n; k++) {
        const char *want = cv->cols->name[k];
        if (*want && (strlen(want) != cv->len[k] || strncmp(want, cv->field[k], cv->len[k]) != 0))
            return fr_fail(FR_ERR_FORMAT, "%s:1: column %zu is '%.*s', expected '%s'", path, k + 1,
                           (int)cv->len[k], cv->field[k], want);
    }
    return FR_OK;
}

/* A split mark: train, val, valid, validation, test, or the table file's
 * tags 0, 1, 2; -1 for anything else. */
static int split_mark(const char *text, size_t len)
{
    static const struct {
        const char *name;
        int split;
    } marks[] = {{"train", FR_SPLIT_TRAIN}, {"0", FR_SPLIT_TRAIN},     {"val", FR_SPLIT_VALID},
                 {"valid", FR_SPLIT_VALID}, {"validation", FR_SPLIT_VALID}, {"1", FR_SPLIT_VALID},
                 {"test", FR_SPLIT_TEST},   {"2", FR_SPLIT_TEST}};
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++)
        if (strlen(marks[k].name) == len && !memcmp(marks[k].name, text, len))
            return marks[k].split;
    return -1;
}

static fr_status parse_row(converter *cv, const char *path, size_t line_no, char *line, int split,
                           int32_t file_scenario, fr_rng *rng, double valid_fraction)
{
    const fr_table_columns *c = cv->cols;
    size_t n = cut(line, c->delimiter, cv->field, cv->len, c->n_cols);
    if (n != c->n_cols)
        return fr_fail(FR_ERR_FORMAT, "%s:%zu: %s%zu fields, expected %zu", path, line_no,
                       n > c->n_cols ? "more than " : "", n > c->n_cols ? n - 1 : n, c->n_cols);
    size_t r = cv->filled, fc = 0, fn = 0, ft = 0;
    int32_t scenario = file_scenario;
    for (size_t k = 0; k < n; k++) {
        char *text = cv->field[k];
        size_t len = cv->len[k];
        char what[FR_TABLE_NAME_MAX + 4] = "";
        if (c->name[k][0])
            snprintf(what, sizeof what, " (%s)", c->name[k]);
        else if (c->kind[k] == FR_COL_SPLIT)
            snprintf(what, sizeof what, " (split)");
        if (c->kind[k] == FR_COL_SKIP)
            continue;
        if (len == 0)
            return fr_fail(FR_ERR_FORMAT, "%s:%zu: column %zu%s is empty", path, line_no, k + 1, what);
        if (c->kind[k] == FR_COL_SPLIT) {
            split = split_mark(text, len);
            if (split < 0)
                return fr_fail(FR_ERR_FORMAT, "%s:%zu: column %zu%s: expected a split mark train, val, valid, validation, test, 0, 1 or 2, got '%.*s'",
                               path, line_no, k + 1, what, (int)(len > 40 ? 40 : len), text);
            continue;
        }
        if (c->kind[k] == FR_COL_CAT) {
            int32_t id;
            FR_TRY(fr_id_map_get(&cv->maps[fc], text, len, &id));
            cv->cat[r * cv->n_cat + fc++] = id;
            continue;
        }
        if (c->kind[k] == FR_COL_SCENARIO) {
            FR_TRY(fr_id_map_get(&cv->scenarios, text, len, &scenario));
            if (scenario >= FR_TABLE_MAX_SCENARIOS)
                return fr_fail(FR_ERR_FORMAT, "%s:%zu: more than %d distinct scenarios", path, line_no,
                               FR_TABLE_MAX_SCENARIOS);
            continue;
        }
        char saved = text[len], *end;
        text[len] = '\0';
        errno = 0;
        double v = strtod(text, &end);
        int bad = end != text + len || errno == ERANGE || !isfinite((float)v); /* within float range */
        text[len] = saved;
        if (c->kind[k] == FR_COL_NUM) {
            if (bad)
                return fr_fail(FR_ERR_FORMAT, "%s:%zu: column %zu%s: expected a finite number within float range, got '%.*s'", path,
                               line_no, k + 1, what, (int)len, text);
            cv->num[r * cv->n_num + fn++] = (float)v;
        } else {
            if (bad || (v != 0.0 && v != 1.0))
                return fr_fail(FR_ERR_FORMAT, "%s:%zu: column %zu%s: expected a label 0 or 1, got '%.*s'", path,
                               line_no, k + 1, what, (int)len, text);
            cv->labels[r * cv->n_tasks + ft++] = (uint8_t)v;
        }
    }
    cv->scenario[r] = scenario;
    cv->split[r] = (uint8_t)split;
    if (split == FR_SPLIT_TRAIN && fr_rng_uniform_double(rng) < valid_fraction)
        cv->split[r] = FR_SPLIT_VALID;
    if (++cv->filled == BLOCK)
        return flush(cv);
    return FR_OK;
}

/* Pass 1: data lines of a file (non-blank lines after the header), read
 * the way pass 2 reads them, so the two always agree. */
typedef struct row_count {
    int header;
    size_t rows;
} row_count;

static fr_status count_line(void *arg, char *line, size_t len, size_t line_no)
{
    row_count *rc = arg;
    (void)line;
    rc->rows += len > 0 && !(line_no == 1 && rc->header);
    return FR_OK;
}

static fr_status count_rows(const char *path, int header, size_t *rows)
{
    row_count rc = {header, 0};
    FR_TRY(fr_read_lines(path, count_line, &rc));
    if (rc.rows == 0)
        return fr_fail(FR_ERR_FORMAT, "%s: no data rows", path);
    *rows = rc.rows;
    return FR_OK;
}

/* Pass 2, one line: the header checked, blank lines skipped, rows parsed. */
typedef struct file_pass {
    converter *cv;
    const fr_table_input *in;
    int32_t scenario;
    fr_rng rng;
    double valid_fraction;
} file_pass;

static fr_status convert_line(void *arg, char *line, size_t len, size_t line_no)
{
    file_pass *fp = arg;
    if (line_no == 1 && fp->cv->cols->header)
        return check_header(fp->cv, fp->in->path, line);
    if (len == 0)
        return FR_OK;
    return parse_row(fp->cv, fp->in->path, line_no, line, fp->in->split, fp->scenario, &fp->rng,
                     fp->valid_fraction);
}

static fr_status convert_file(converter *cv, const fr_table_input *in, size_t index, double valid_fraction,
                              uint64_t seed)
{
    file_pass fp = {.cv = cv, .in = in, .scenario = 0, .valid_fraction = valid_fraction};
    int scenario_column = 0;
    for (size_t k = 0; k < cv->cols->n_cols; k++)
        scenario_column |= cv->cols->kind[k] == FR_COL_SCENARIO;
    /* With a scenario column the rows name theirs: the file's name would
     * be a scenario without rows. */
    if (in->scenario && !scenario_column)
        FR_TRY(fr_id_map_get(&cv->scenarios, in->scenario, strlen(in->scenario), &fp.scenario));
    fr_rng_init(&fp.rng, seed, 0, (uint32_t)index, FR_RNG_SPLIT);
    return fr_read_lines(in->path, convert_line, &fp);
}

/* The categorical field (index among the categorical columns) whose
 * column is called name. */
static fr_status role_field(const fr_table_columns *c, const char *option, const char *name, size_t *out)
{
    char cats[512] = "";
    for (size_t k = 0, f = 0; k < c->n_cols; k++) {
        if (c->kind[k] != FR_COL_CAT)
            continue;
        if (!strcmp(c->name[k], name)) {
            *out = f;
            return FR_OK;
        }
        if (c->name[k][0] && strlen(cats) + strlen(c->name[k]) + 8 < sizeof cats)
            snprintf(cats + strlen(cats), sizeof cats - strlen(cats), "%s'%s'", cats[0] ? ", " : "", c->name[k]);
        f++;
    }
    return fr_fail(FR_ERR_CONFIG, "%s '%s': no categorical column of that name (the column map's named categorical columns: %s)",
                   option, name, cats[0] ? cats : "none; name them as cat:NAME");
}

/* The user and item fields the columns name, checked. */
static fr_status resolve_roles(const fr_table_columns *c, fr_table *meta)
{
    if (!c->user_field[0] && !c->item_field[0])
        return FR_OK;
    if (!c->user_field[0] || !c->item_field[0])
        return fr_fail(FR_ERR_CONFIG, "%s '%s' without %s: name both the user and the item field, or neither",
                       c->user_field[0] ? "--user-field" : "--item-field",
                       c->user_field[0] ? c->user_field : c->item_field,
                       c->user_field[0] ? "--item-field" : "--user-field");
    FR_TRY(role_field(c, "--user-field", c->user_field, &meta->user_field));
    FR_TRY(role_field(c, "--item-field", c->item_field, &meta->item_field));
    if (meta->user_field == meta->item_field)
        return fr_fail(FR_ERR_CONFIG, "--user-field and --item-field both name '%s', expected two different columns",
                       c->user_field);
    meta->has_roles = 1;
    return FR_OK;
}

/* The columns' names and every categorical value's text into meta. */
static fr_status describe_fields(const converter *cv, const fr_table_columns *columns, fr_table *meta)
{
    size_t n_fields = cv->n_cat + cv->n_num, total = 0;
    const char **names = calloc(n_fields ? n_fields : 1, sizeof *names);
    for (size_t f = 0; f < cv->n_cat; f++)
        total += cv->maps[f].count;
    const char **values = malloc((total ? total : 1) * sizeof *values);
    fr_status s = names && values ? FR_OK : fr_fail_nomem("field values", total * sizeof *values);
    for (size_t k = 0, fc = 0, fn = 0; s == FR_OK && k < columns->n_cols; k++) {
        if (columns->kind[k] == FR_COL_CAT)
            names[fc++] = columns->name[k];
        else if (columns->kind[k] == FR_COL_NUM)
            names[cv->n_cat + fn++] = columns->name[k];
    }
    for (size_t f = 0, at = 0; s == FR_OK && f < cv->n_cat; f++)
        for (size_t v = 0; v < cv->maps[f].count; v++)
            values[at++] = cv->maps[f].names[v];
    if (s == FR_OK)
        s = fr_table_set_field_names(meta, names);
    free(names);
    /* The id maps' own strings, not a copy: meta only describes the file. */
    if (s == FR_OK)
        meta->values = values;
    else
        free(values);
    return s;
}

fr_status fr_table_convert_delimited(const fr_table_input *inputs, size_t n_inputs,
                                     const fr_table_columns *columns, double valid_fraction,
                                     uint64_t seed, const char *out_path, size_t *rows_out)
{
    if (n_inputs == 0)
        return fr_fail(FR_ERR_INVALID, "table conversion: no input files");
    converter cv;
    memset(&cv, 0, sizeof cv);
    cv.cols = columns;
    int has_scenario_col = 0, has_split_col = 0;
    for (size_t k = 0; k < columns->n_cols; k++) {
        cv.n_cat += columns->kind[k] == FR_COL_CAT;
        cv.n_num += columns->kind[k] == FR_COL_NUM;
        cv.n_tasks += columns->kind[k] == FR_COL_LABEL;
        has_scenario_col |= columns->kind[k] == FR_COL_SCENARIO;
        has_split_col |= columns->kind[k] == FR_COL_SPLIT;
    }
    if (has_split_col && valid_fraction > 0.0)
        return fr_fail(FR_ERR_INVALID, "table conversion: a validation share of %g with a split column, expected 0 (the column marks the validation rows)",
                       valid_fraction);
    for (size_t i = 0; i < n_inputs; i++)
        if (inputs[i].split < FR_SPLIT_TRAIN || inputs[i].split > FR_SPLIT_TEST)
            return fr_fail(FR_ERR_INVALID, "%s: split %d, expected train (%d), validation (%d) or test (%d)",
                           inputs[i].path, inputs[i].split, FR_SPLIT_TRAIN, FR_SPLIT_VALID, FR_SPLIT_TEST);
    size_t rows = 0;
    for (size_t i = 0; i < n_inputs; i++) {
        if (!has_scenario_col && !inputs[i].scenario)
            return fr_fail(FR_ERR_INVALID, "%s: no scenario column and no scenario named for the file",
                           inputs[i].path);
        size_t n = 0;
        FR_TRY(count_rows(inputs[i].path, columns->header, &n));
        rows += n;
    }
    fr_table meta;
    memset(&meta, 0, sizeof meta);
    FR_TRY(resolve_roles(columns, &meta));
    cv.maps = calloc(cv.n_cat ? cv.n_cat : 1, sizeof *cv.maps);
    cv.cat = malloc(BLOCK * (cv.n_cat ? cv.n_cat : 1) * sizeof *cv.cat);
    cv.num = malloc(BLOCK * (cv.n_num ? cv.n_num : 1) * sizeof *cv.num);
    cv.scenario = malloc(BLOCK * sizeof *cv.scenario);
    cv.labels = malloc(BLOCK * cv.n_tasks * sizeof *cv.labels);
    cv.split = malloc(BLOCK * sizeof *cv.split);
    cv.field = malloc((columns->n_cols + 1) * sizeof *cv.field);
    cv.len = malloc((columns->n_cols + 1) * sizeof *cv.len);
    meta.vocab = calloc(cv.n_cat ? cv.n_cat : 1, sizeof *meta.vocab);
    fr_status s = FR_OK;
    if (!cv.maps || !cv.cat || !cv.num || !cv.scenario || !cv.labels || !cv.split || !cv.field || !cv.len ||
        !meta.vocab)
        s = fr_fail_nomem("table conversion", BLOCK * (cv.n_cat + cv.n_num) * 4);
    for (size_t f = 0; cv.maps && f < cv.n_cat; f++)
        fr_id_map_init(&cv.maps[f]);
    fr_id_map_init(&cv.scenarios);
    if (s == FR_OK)
        s = fr_table_writer_open(out_path, rows, cv.n_cat, cv.n_num, cv.n_tasks, &cv.w);
    for (size_t i = 0; s == FR_OK && i < n_inputs; i++)
        s = convert_file(&cv, &inputs[i], i, valid_fraction, seed);
    if (s == FR_OK && cv.filled)
        s = flush(&cv);
    if (s == FR_OK) {
        meta.n_cat = cv.n_cat;
        meta.n_num = cv.n_num;
        meta.n_tasks = cv.n_tasks;
        meta.n_scenarios = cv.scenarios.count;
        for (size_t f = 0; f < cv.n_cat; f++)
            meta.vocab[f] = cv.maps[f].count;
        meta.field_offset = calloc(cv.n_cat ? cv.n_cat : 1, sizeof *meta.field_offset);
        if (!meta.field_offset)
            s = fr_fail_nomem("table conversion", cv.n_cat * sizeof *meta.field_offset);
        else
            fr_table_set_vocab(&meta, meta.vocab);
    }
    if (s == FR_OK)
        s = describe_fields(&cv, columns, &meta);
    if (s == FR_OK) {
        for (size_t k = 0, t = 0; k < columns->n_cols; k++)
            if (columns->kind[k] == FR_COL_LABEL) {
                if (columns->name[k][0])
                    snprintf(meta.task_names[t], FR_TABLE_NAME_MAX, "%s", columns->name[k]);
                else
                    snprintf(meta.task_names[t], FR_TABLE_NAME_MAX, "task%zu", t);
                t++;
            }
        for (size_t k = 0; k < cv.scenarios.count; k++)
            snprintf(meta.scenario_names[k], FR_TABLE_NAME_MAX, "%s", cv.scenarios.names[k]);
        s = fr_table_writer_commit(cv.w, &meta);
        cv.w = NULL;
    }
    if (cv.w)
        fr_table_writer_abort(cv.w);
    for (size_t f = 0; cv.maps && f < cv.n_cat; f++)
        fr_id_map_free(&cv.maps[f]);
    fr_id_map_free(&cv.scenarios);
    free(cv.maps);
    free(cv.cat);
    free(cv.num);
    free(cv.scenario);
    free(cv.labels);
    free(cv.split);
    free(cv.field);
    free(cv.len);
    free(meta.vocab);
    free(meta.field_offset);
    free(meta.field_names);
    free((void *)meta.values);
    free(meta.values_text);
    if (s == FR_OK && rows_out)
        *rows_out = rows;
    return s;
}
