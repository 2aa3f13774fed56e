/* mtr_relations.c — reading side relations (see fedrec/mtrec.h): user
 * links and item pairs, one pair of text ids per line, looked up among the
 * ids the rating files named (item categories: mtr_categories.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "io/lines.h"
#include "mtr/mtr_internal.h"

fr_status fr_mtr_names_map(char **names, size_t n, fr_id_map *map)
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

typedef struct pair_reader {
    const char *path;
    char delimiter;
    fr_id_map *map;
    size_t known;
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
    const char *f1 = line, *f2 = sep + 1;
    size_t l1 = (size_t)(sep - line);
    const char *third = strchr(f2, pr->delimiter);
    size_t l2 = third ? (size_t)(third - f2) : strlen(f2);
    fr_trim_blanks(&f1, &l1);
    fr_trim_blanks(&f2, &l2);
    if (l1 == 0 || l2 == 0)
        return fr_fail(FR_ERR_DATA, "%s:%zu: field %d is empty, expected an id", pr->path, lineno,
                       l1 == 0 ? 1 : 2);
    int32_t a, b;
    FR_TRY(fr_id_map_get(pr->map, f1, l1, &a));
    if ((size_t)a >= pr->known) {
        ++*pr->skipped;
        return FR_OK;
    }
    FR_TRY(fr_id_map_get(pr->map, f2, l2, &b));
    if ((size_t)b >= pr->known || a == b) {
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

/* Read path's lines as pairs of ids of map (its first `known` names are
 * the data's). Unknown ids and self-pairs: skipped. */
static fr_status read_pairs(const char *path, char delimiter, fr_id_map *map, size_t known, pair_lines *out,
                            size_t *skipped)
{
    *skipped = 0;
    pair_reader pr = {path, delimiter, map, known, out, skipped};
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
    fr_status s = fr_mtr_names_map(names, n, &map);
    if (s == FR_OK)
        s = read_pairs(path, delimiter, &map, n, &lines, skipped);
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
