/* mtr_relations.c — reading side relations (see fedrec/mtrec.h): user
 * links, item pairs, item categories, one pair of text ids per line,
 * looked up among the ids the rating files named. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "io/lines.h"
#include "mtr/mtr_internal.h"

/* A lookup of the data set's ids: the names inserted in dense order, so an
 * id's dense number is its map number; a name the map had to add is
 * unknown. */
static fr_status names_map(char **names, size_t n, fr_id_map *map)
{
    fr_id_map_init(map);
    for (size_t i = 0; i < n; i++) {
        int32_t id;
        FR_TRY(fr_id_map_get(map, names[i], strlen(names[i]), &id));
        if ((size_t)id != i)
            return fr_fail(FR_ERR_DATA, "id '%s' appears twice among the rating files' ids", names[i]);
    }
    return FR_OK;
}

typedef struct pair_lines {
    size_t n, cap;
    int32_t *a, *b;        /* ids of the first column's and second column's maps */
    size_t *line;          /* the line each pair came from */
} pair_lines;

static void trim(char **f, size_t *len)
{
    while (*len && (**f == ' ' || **f == '\t')) {
        (*f)++;
        (*len)--;
    }
    while (*len && ((*f)[*len - 1] == ' ' || (*f)[*len - 1] == '\t'))
        (*len)--;
}

typedef struct pair_reader {
    const char *path;
    char delimiter;
    fr_id_map *first_map, *second_map;
    size_t first_known, second_known;
    int second_adds;
    pair_lines *out;
    size_t *skipped;
} pair_reader;

static fr_status pair_line(void *arg, char *line, size_t len, size_t lineno)
{
    pair_reader *pr = arg;
    if (len == 0)
        return FR_OK;
    char *sep = strchr(line, pr->delimiter);
    if (!sep)
        return fr_fail(FR_ERR_DATA, "%s:%zu: one field, expected two ids separated by '%s'", pr->path,
                       lineno, pr->delimiter == '\t' ? "tab" : (char[]){pr->delimiter, 0});
    char *f1 = line, *f2 = sep + 1;
    size_t l1 = (size_t)(sep - line);
    char *third = strchr(f2, pr->delimiter);
    size_t l2 = third ? (size_t)(third - f2) : strlen(f2);
    trim(&f1, &l1);
    trim(&f2, &l2);
    if (l1 == 0 || l2 == 0)
        return fr_fail(FR_ERR_DATA, "%s:%zu: field %d is empty, expected an id", pr->path, lineno,
                       l1 == 0 ? 1 : 2);
    int32_t a, b;
    FR_TRY(fr_id_map_get(pr->first_map, f1, l1, &a));
    if ((size_t)a >= pr->first_known) { /* before the second column adds anything */
        ++*pr->skipped;
        return FR_OK;
    }
    FR_TRY(fr_id_map_get(pr->second_map, f2, l2, &b));
    if (!pr->second_adds && ((size_t)b >= pr->second_known || a == b)) {
        ++*pr->skipped;
        return FR_OK;
    }
    pair_lines *out = pr->out;
    if (out->n == out->cap) {
        size_t nc = out->cap ? 2 * out->cap : 4096;
        int32_t *na = realloc(out->a, nc * sizeof *na);
        if (na)
            out->a = na;
        int32_t *nb = realloc(out->b, nc * sizeof *nb);
        if (nb)
            out->b = nb;
        size_t *nl = realloc(out->line, nc * sizeof *nl);
        if (nl)
            out->line = nl;
        if (!na || !nb || !nl)
            return fr_fail_nomem("relation pairs", nc * 16);
        out->cap = nc;
    }
    out->a[out->n] = a;
    out->b[out->n] = b;
    out->line[out->n] = lineno;
    out->n++;
    return FR_OK;
}

/* Read path's lines as (first, second) ids. first_map resolves the first
 * column; second_map the second (or, when second_adds, collects the
 * second column's names as new ids: categories). Unknown ids: skipped. */
static fr_status read_pairs(const char *path, char delimiter, fr_id_map *first_map,
                            size_t first_known, fr_id_map *second_map, size_t second_known,
                            int second_adds, pair_lines *out, size_t *skipped)
{
    *skipped = 0;
    pair_reader pr = {path, delimiter, first_map, second_map, first_known, second_known,
                      second_adds, out, skipped};
    fr_status s = fr_read_lines(path, pair_line, &pr);
    if (s == FR_OK && out->n == 0)
        s = fr_fail(FR_ERR_DATA, "%s: no usable pairs (%zu line(s) named ids the rating files do not have)",
                    path, *skipped);
    return s;
}

static fr_status read_relation(const char *path, char delimiter, char **names, size_t n,
                               fr_mtr_relation *rel, size_t *skipped)
{
    fr_id_map map;
    pair_lines lines = {0, 0, NULL, NULL, NULL};
    fr_status s = names_map(names, n, &map);
    if (s == FR_OK)
        s = read_pairs(path, delimiter, &map, n, &map, n, 0, &lines, skipped);
    fr_id_map_free(&map);
    free(lines.line);
    if (s == FR_OK)
        return fr_mtr_relation_set(rel, n, lines.a, lines.b, lines.n);
    free(lines.a);
    free(lines.b);
    return s;
}

fr_status fr_mtr_read_links(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped)
{
    return read_relation(path, delimiter, d->user_names, d->n_users, &d->links, skipped);
}

fr_status fr_mtr_read_item_pairs(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped)
{
    return read_relation(path, delimiter, d->item_names, d->n_items, &d->pairs, skipped);
}

fr_status fr_mtr_read_categories(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped)
{
    fr_id_map items, categories;
    fr_id_map_init(&categories);
    pair_lines lines = {0, 0, NULL, NULL, NULL};
    int32_t *category = NULL;
    fr_status s = names_map(d->item_names, d->n_items, &items);
    if (s == FR_OK)
        s = read_pairs(path, delimiter, &items, d->n_items, &categories, 0, 1, &lines, skipped);
    if (s == FR_OK) {
        category = malloc((d->n_items ? d->n_items : 1) * sizeof *category);
        if (!category)
            s = fr_fail_nomem("categories", d->n_items * 4);
    }
    for (size_t i = 0; s == FR_OK && i < d->n_items; i++)
        category[i] = -1;
    for (size_t k = 0; s == FR_OK && k < lines.n; k++) {
        int32_t item = lines.a[k], cat = lines.b[k];
        if (category[item] >= 0 && category[item] != cat) {
            size_t first = 0; /* the line that gave the first category */
            for (size_t j = 0; j < k && !first; j++)
                if (lines.a[j] == item)
                    first = lines.line[j];
            s = fr_fail(FR_ERR_DATA, "%s:%zu: item '%s' has category '%s' here and '%s' on line %zu, expected one",
                        path, lines.line[k], d->item_names[item], categories.names[cat],
                        categories.names[category[item]], first);
        } else {
            category[item] = cat;
        }
    }
    size_t n_categories = categories.count;
    fr_id_map_free(&items);
    fr_id_map_free(&categories);
    free(lines.a);
    free(lines.b);
    free(lines.line);
    if (s != FR_OK) {
        free(category);
        return s;
    }
    return fr_mtr_categories_set(d, category, n_categories);
}
