/* mtr_categories.c — item categories (see fedrec/mtrec.h): several per
 * item, read from a file of item<delimiter>categories lines or from a
 * category column of the rating files, and kept as the category -> items
 * and item -> categories lists the category task draws from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "io/lines.h"
#include "mtr/mtr_internal.h"

fr_status fr_mtr_categories_set(fr_mtr_data *d, const int32_t *item, const int32_t *category, size_t n,
                                size_t n_categories)
{
    free(d->category_start);
    free(d->category_items);
    free(d->item_category_start);
    free(d->item_categories);
    d->category_start = d->item_category_start = NULL;
    d->category_items = d->item_categories = NULL;
    d->n_categories = n_categories;
    fr_status s = fr_mtr_lists_build(n_categories, category, item, n, &d->category_start, &d->category_items);
    if (s == FR_OK)
        s = fr_mtr_lists_build(d->n_items, item, category, n, &d->item_category_start, &d->item_categories);
    if (s != FR_OK) {
        free(d->category_start);
        free(d->category_items);
        d->category_start = NULL;
        d->category_items = NULL;
        d->n_categories = 0;
    }
    return s;
}

/* The (item, category) pairs read so far, categories numbered as first
 * seen. */
typedef struct collector {
    fr_id_map items;      /* the data's item ids (fr_mtr_names_map) */
    size_t n_items;
    fr_id_map categories;
    size_t n, cap;
    int32_t *item, *category;
} collector;

static void collector_free(collector *c)
{
    fr_id_map_free(&c->items);
    fr_id_map_free(&c->categories);
    free(c->item);
    free(c->category);
}

static fr_status add_pair(collector *c, int32_t item, const char *name, size_t len)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 4096;
        int32_t *ni = realloc(c->item, nc * sizeof *ni);
        if (ni)
            c->item = ni;
        int32_t *nk = realloc(c->category, nc * sizeof *nk);
        if (nk)
            c->category = nk;
        if (!ni || !nk)
            return fr_fail_nomem("item categories", nc * 8);
        c->cap = nc;
    }
    FR_TRY(fr_id_map_get(&c->categories, name, len, &c->category[c->n]));
    c->item[c->n++] = item;
    return FR_OK;
}

/* The categories of one field (several separated by sep; 0: one). */
static fr_status add_field(collector *c, int32_t item, const char *field, size_t len, char sep)
{
    for (;;) {
        const char *end = sep ? memchr(field, sep, len) : NULL;
        size_t piece = end ? (size_t)(end - field) : len;
        const char *name = field;
        size_t name_len = piece;
        fr_trim_blanks(&name, &name_len);
        if (name_len)
            FR_TRY(add_pair(c, item, name, name_len));
        if (!end)
            return FR_OK;
        field += piece + 1;
        len -= piece + 1;
    }
}

/* The field separator's name for messages: 'tab' or "','". */
static const char *separator_name(char delimiter, char *buf, size_t n)
{
    if (delimiter == '\t')
        return "tab";
    snprintf(buf, n, "'%c'", delimiter);
    return buf;
}

static char sub_separator(char delimiter)
{
    return delimiter == FR_MTR_CATEGORY_SEPARATOR ? 0 : FR_MTR_CATEGORY_SEPARATOR;
}

/* Hand the collected pairs to the data (the collector is freed). */
static fr_status collector_finish(collector *c, fr_mtr_data *d, size_t *duplicates)
{
    fr_status s = fr_mtr_categories_set(d, c->item, c->category, c->n, c->categories.count);
    if (s == FR_OK && duplicates)
        *duplicates = c->n - d->item_category_start[d->n_items];
    collector_free(c);
    return s;
}

static fr_status collector_init(collector *c, const fr_mtr_data *d)
{
    memset(c, 0, sizeof *c);
    fr_id_map_init(&c->categories);
    c->n_items = d->n_items;
    return fr_mtr_names_map(d->item_names, d->n_items, &c->items);
}

/* ---- a file of item<delimiter>categories lines --------------------------- */

typedef struct file_reader {
    const char *path;
    char delimiter;
    collector *c;
    size_t *skipped;
} file_reader;

static fr_status category_line(void *arg, char *line, size_t len, size_t lineno)
{
    file_reader *r = arg;
    char sepbuf[8];
    if (len == 0)
        return FR_OK;
    const char *sep = memchr(line, r->delimiter, len);
    if (!sep)
        return fr_fail(FR_ERR_DATA, "%s:%zu: one field, expected an item id and its categories separated by %s",
                       r->path, lineno, separator_name(r->delimiter, sepbuf, sizeof sepbuf));
    const char *f1 = line, *f2 = sep + 1;
    size_t l1 = (size_t)(sep - line), l2 = len - l1 - 1;
    if (memchr(f2, r->delimiter, l2)) {
        size_t fields = 1;
        for (size_t i = 0; i < len; i++)
            fields += line[i] == r->delimiter;
        return fr_fail(FR_ERR_DATA, "%s:%zu: %zu fields separated by %s, expected two: an item id and its categories (several separated by '%c')",
                       r->path, lineno, fields, separator_name(r->delimiter, sepbuf, sizeof sepbuf),
                       FR_MTR_CATEGORY_SEPARATOR);
    }
    fr_trim_blanks(&f1, &l1);
    fr_trim_blanks(&f2, &l2);
    if (l1 == 0 || l2 == 0)
        return fr_fail(FR_ERR_DATA, "%s:%zu: field %d is empty, expected %s", r->path, lineno, l1 == 0 ? 1 : 2,
                       l1 == 0 ? "an item id" : "a category");
    int32_t item;
    FR_TRY(fr_id_map_get(&r->c->items, f1, l1, &item));
    if ((size_t)item >= r->c->n_items) { /* an item the ratings lack */
        ++*r->skipped;
        return FR_OK;
    }
    return add_field(r->c, item, f2, l2, sub_separator(r->delimiter));
}

fr_status fr_mtr_read_categories(fr_mtr_data *d, const char *path, char delimiter, size_t *skipped,
                                 size_t *duplicates)
{
    *skipped = 0;
    *duplicates = 0;
    collector c;
    fr_status s = collector_init(&c, d);
    file_reader r = {path, delimiter, &c, skipped};
    if (s == FR_OK)
        s = fr_read_lines(path, category_line, &r);
    if (s == FR_OK && c.n == 0)
        s = fr_fail(FR_ERR_DATA, "%s: no usable pairs (%zu line(s) named ids the rating files do not have)", path,
                    *skipped);
    if (s != FR_OK) {
        collector_free(&c);
        return s;
    }
    return collector_finish(&c, d, duplicates);
}

/* ---- a category column of the rating files ------------------------------- */

typedef struct column_reader {
    const char *path;
    const fr_ratings_spec *spec;
    int column;
    collector *c;
} column_reader;

static fr_status column_line(void *arg, char *line, size_t len, size_t lineno)
{
    column_reader *r = arg;
    if (len == 0 || (lineno == 1 && r->spec->header))
        return FR_OK;
    /* fields as the rating reader splits them: at every delimiter, spaces
     * around an id trimmed */
    const char *item_f = NULL, *cat_f = NULL;
    size_t item_l = 0, cat_l = 0;
    int field = 0;
    for (const char *p = line;; field++) {
        const char *end = memchr(p, r->spec->delimiter, len - (size_t)(p - line));
        size_t l = end ? (size_t)(end - p) : len - (size_t)(p - line);
        if (field == r->spec->col_item)
            item_f = p, item_l = l;
        if (field == r->column)
            cat_f = p, cat_l = l;
        if (!end)
            break;
        p = end + 1;
    }
    if (!cat_f) {
        char sepbuf[8];
        return fr_fail(FR_ERR_DATA, "%s:%zu: %d field(s) separated by %s, expected at least %d: field %d holds the item's categories",
                       r->path, lineno, field + 1, separator_name(r->spec->delimiter, sepbuf, sizeof sepbuf),
                       r->column + 1, r->column + 1);
    }
    if (!item_f) /* the rating reader refused this line already */
        return fr_fail(FR_ERR_DATA, "%s:%zu: no item field", r->path, lineno);
    while (item_l && *item_f == ' ')
        item_f++, item_l--;
    while (item_l && item_f[item_l - 1] == ' ')
        item_l--;
    int32_t item;
    FR_TRY(fr_id_map_get(&r->c->items, item_f, item_l, &item));
    if ((size_t)item >= r->c->n_items) /* not among the data's items */
        return FR_OK;
    return add_field(r->c, item, cat_f, cat_l, sub_separator(r->spec->delimiter));
}

fr_status fr_mtr_read_category_column(fr_mtr_data *d, const char *const *paths, size_t n_paths,
                                      const fr_ratings_spec *spec, int column, size_t *with)
{
    *with = 0;
    if (spec->format != FR_RATINGS_DELIMITED || column < 0 || column == spec->col_item)
        return fr_fail(FR_ERR_INVALID, "category column: a delimited rating file and a column of its own are needed");
    collector c;
    fr_status s = collector_init(&c, d);
    for (size_t p = 0; s == FR_OK && p < n_paths; p++) {
        column_reader r = {paths[p], spec, column, &c};
        s = fr_read_lines(paths[p], column_line, &r);
    }
    if (s != FR_OK) {
        collector_free(&c);
        return s;
    }
    s = collector_finish(&c, d, NULL);
    for (size_t i = 0; s == FR_OK && i < d->n_items; i++)
        *with += d->item_category_start[i + 1] > d->item_category_start[i];
    return s;
}
