/* saved_msmt_data.c — the "data/" arrays of a saved multi-scenario model
 * (see saved_msmt_data.h): built from the training table when the model
 * is saved, read back for recommend and export. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/saved_msmt_data.h"

/* A text array's bytes: n strings one after another. */
static fr_status text_blob(fr_cli_msmt_data_out *o, const char *const *strings, size_t n, size_t *bytes)
{
    size_t size = 0;
    for (size_t k = 0; k < n; k++)
        size += strlen(strings[k]) + 1;
    char *blob = malloc(size ? size : 1), *at = blob;
    if (!blob)
        return fr_cli_fail(FR_ERR_NOMEM, "out of memory for the model's field values (%zu bytes)", size);
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(strings[k]) + 1;
        memcpy(at, strings[k], len);
        at += len;
    }
    o->blobs[o->n_blobs++] = blob;
    *bytes = size;
    return FR_OK;
}

static void add(fr_cli_msmt_data_out *o, const char *name, fr_model_dtype dtype, size_t rows, size_t cols,
                const void *data)
{
    o->arrays[o->n++] = (fr_model_array){name, dtype, rows, cols, data};
}

fr_status fr_cli_msmt_data_build(const fr_table *t, fr_cli_msmt_data_out *o)
{
    memset(o, 0, sizeof *o);
    if (!t->has_roles && !t->values && !t->field_names)
        return FR_OK;
    size_t nf = t->n_cat + t->n_num, cap = 12 + t->n_cat;
    o->arrays = calloc(cap, sizeof *o->arrays);
    o->blobs = calloc(1 + t->n_cat, sizeof *o->blobs);
    o->names = calloc(t->n_cat ? t->n_cat : 1, sizeof *o->names);
    const char **names = calloc(nf ? nf : 1, sizeof *names);
    fr_status st = o->arrays && o->blobs && o->names && names
                       ? FR_OK
                       : fr_cli_fail(FR_ERR_NOMEM, "out of memory for the model's user and item data");
    size_t bytes = 0;
    for (size_t f = 0; st == FR_OK && f < nf; f++)
        names[f] = fr_table_field_name(t, f);
    if (st == FR_OK)
        st = text_blob(o, names, nf, &bytes);
    free(names);
    if (st == FR_OK)
        add(o, "data/fields", FR_MODEL_TEXT, nf, bytes, o->blobs[0]);
    for (size_t f = 0; t->values && f < t->n_cat && st == FR_OK; f++) {
        snprintf(o->names[f], sizeof o->names[f], "data/values.%zu", f);
        st = text_blob(o, t->values + t->field_offset[f], t->vocab[f], &bytes);
        if (st == FR_OK)
            add(o, o->names[f], FR_MODEL_TEXT, t->vocab[f], bytes, o->blobs[o->n_blobs - 1]);
    }
    if (st == FR_OK && t->has_roles)
        st = fr_table_sides_compute(t, &o->sides);
    if (st != FR_OK) {
        fr_cli_msmt_data_release(o);
        return st;
    }
    if (!t->has_roles)
        return FR_OK;
    const fr_table_sides *s = &o->sides;
    o->roles[0] = (int32_t)t->user_field;
    o->roles[1] = (int32_t)t->item_field;
    o->roles[2] = s->scenario_of_user;
    add(o, "data/roles", FR_MODEL_I32, 1, 3, o->roles);
    add(o, "data/side", FR_MODEL_I32, 1, nf, s->side);
    add(o, "data/user_cat", FR_MODEL_I32, s->n_users, t->n_cat, s->user_cat);
    add(o, "data/user_num", FR_MODEL_F32, s->n_users, t->n_num, s->user_num);
    add(o, "data/item_cat", FR_MODEL_I32, s->n_items, t->n_cat, s->item_cat);
    add(o, "data/item_num", FR_MODEL_F32, s->n_items, t->n_num, s->item_num);
    add(o, "data/user_scenario", FR_MODEL_I32, s->n_users, 1, s->user_scenario);
    add(o, "data/seen_start", FR_MODEL_I64, s->n_users + 1, 1, s->seen_start);
    add(o, "data/seen", FR_MODEL_I32, (size_t)s->seen_start[s->n_users], 1, s->seen);
    return FR_OK;
}

void fr_cli_msmt_data_release(fr_cli_msmt_data_out *o)
{
    fr_table_sides_free(&o->sides);
    for (size_t k = 0; k < o->n_blobs; k++)
        free(o->blobs[k]);
    free(o->blobs);
    free(o->arrays);
    free(o->names);
    memset(o, 0, sizeof *o);
}

/* ---- reading ---------------------------------------------------------------- */

void fr_cli_msmt_data_free(fr_cli_msmt_data *d)
{
    free(d->field_names);
    for (size_t f = 0; d->field_values && f < d->n_cat; f++)
        free(d->field_values[f]);
    free(d->field_values);
    memset(d, 0, sizeof *d);
}

const char *fr_cli_msmt_field_name(const fr_cli_msmt_data *d, size_t f, char *buf, size_t cap)
{
    if (d->field_names && *d->field_names[f])
        return d->field_names[f];
    if (f < d->n_cat)
        snprintf(buf, cap, "field %zu", f);
    else
        snprintf(buf, cap, "numerical field %zu", f - d->n_cat);
    return buf;
}

/* The user and item data (data/roles and what it implies). */
static fr_status read_roles(const fr_model_file *f, const size_t *vocab, size_t n_scenarios, fr_cli_msmt_data *d)
{
    const fr_model_array *a;
    size_t n_cat = d->n_cat, n_num = d->n_num, nf = n_cat + n_num;
    FR_TRY_CLI(fr_model_get(f, "data/roles", FR_MODEL_I32, 1, 3, &a));
    const int32_t *roles = a->data;
    if (roles[0] < 0 || roles[1] < 0 || (size_t)roles[0] >= n_cat || (size_t)roles[1] >= n_cat || roles[0] == roles[1])
        return fr_cli_fail(FR_ERR_FORMAT, "%s: data/roles names fields %d and %d the user and the item, expected two of the %zu categorical fields",
                           fr_model_path(f), roles[0], roles[1], n_cat);
    d->user_field = (size_t)roles[0];
    d->item_field = (size_t)roles[1];
    d->scenario_of_user = roles[2] != 0;
    d->n_users = vocab[d->user_field];
    d->n_items = vocab[d->item_field];
    fr_status s = fr_model_get(f, "data/side", FR_MODEL_I32, 1, nf, &a);
    if (s == FR_OK)
        d->side = a->data;
    static const struct {
        const char *name;
        fr_model_dtype dtype;
        int users, cols; /* rows: users (1) or items (0); cols: 0 n_cat, 1 n_num, 2 one */
    } shapes[] = {{"data/user_cat", FR_MODEL_I32, 1, 0}, {"data/user_num", FR_MODEL_F32, 1, 1},
                  {"data/item_cat", FR_MODEL_I32, 0, 0}, {"data/item_num", FR_MODEL_F32, 0, 1},
                  {"data/user_scenario", FR_MODEL_I32, 1, 2}};
    const void *data[5] = {NULL};
    for (size_t k = 0; s == FR_OK && k < 5; k++) {
        size_t rows = shapes[k].users ? d->n_users : d->n_items;
        size_t cols = shapes[k].cols == 0 ? n_cat : shapes[k].cols == 1 ? n_num : 1;
        const fr_model_array *x = fr_model_find(f, shapes[k].name);
        /* An empty array (no numbers) is stored 0 wide: any shape with no values. */
        if (x && rows * cols == 0 && x->rows * x->cols == 0 && x->dtype == shapes[k].dtype) {
            data[k] = x->data;
            continue;
        }
        s = fr_model_get(f, shapes[k].name, shapes[k].dtype, rows, cols, &x);
        if (s == FR_OK)
            data[k] = x->data;
    }
    d->user_cat = data[0];
    d->user_num = data[1];
    d->item_cat = data[2];
    d->item_num = data[3];
    d->user_scenario = data[4];
    if (s == FR_OK)
        s = fr_model_get(f, "data/seen_start", FR_MODEL_I64, d->n_users + 1, 1, &a);
    if (s == FR_OK)
        d->seen_start = a->data;
    if (s == FR_OK)
        s = fr_model_get(f, "data/seen", FR_MODEL_I32, 0, 1, &a);
    if (s == FR_OK) {
        d->seen = a->data;
        int ok = d->seen_start[0] == 0 && (size_t)d->seen_start[d->n_users] == a->rows;
        for (size_t u = 0; ok && u < d->n_users; u++)
            ok = d->seen_start[u] <= d->seen_start[u + 1];
        for (size_t k = 0; ok && k < a->rows; k++)
            ok = d->seen[k] >= 0 && (size_t)d->seen[k] < d->n_items;
        /* each user's list sorted and distinct (recommend searches it) */
        for (size_t u = 0; ok && u < d->n_users; u++)
            for (int64_t j = d->seen_start[u] + 1; ok && j < d->seen_start[u + 1]; j++)
                ok = d->seen[j - 1] < d->seen[j];
        for (size_t k = 0; ok && k < nf; k++)
            ok = d->side[k] >= FR_SIDE_USER && d->side[k] <= FR_SIDE_NEITHER;
        ok = ok && d->side[d->user_field] == FR_SIDE_USER && d->side[d->item_field] == FR_SIDE_ITEM;
        for (size_t u = 0; ok && u < d->n_users; u++)
            ok = d->user_scenario[u] >= -1 && d->user_scenario[u] < (int32_t)n_scenarios;
        for (size_t k = 0; ok && k < d->n_users * n_cat; k++)
            ok = d->user_cat[k] >= -1 && d->user_cat[k] < (int32_t)vocab[k % n_cat];
        for (size_t k = 0; ok && k < d->n_items * n_cat; k++)
            ok = d->item_cat[k] >= -1 && d->item_cat[k] < (int32_t)vocab[k % n_cat];
        /* A user or item with rows has every field of its side, and the
         * user its scenario when the scenario is the user's: recommend
         * reads them as ids. */
        for (size_t u = 0; ok && u < d->n_users; u++) {
            const int32_t *row = d->user_cat + u * n_cat;
            if (row[d->user_field] != (int32_t)u)
                continue;
            for (size_t k = 0; ok && k < n_cat; k++)
                ok = d->side[k] != FR_SIDE_USER || row[k] >= 0;
            ok = ok && (!d->scenario_of_user || d->user_scenario[u] >= 0);
        }
        for (size_t i = 0; ok && i < d->n_items; i++) {
            const int32_t *row = d->item_cat + i * n_cat;
            if (row[d->item_field] != (int32_t)i)
                continue;
            for (size_t k = 0; ok && k < n_cat; k++)
                ok = d->side[k] != FR_SIDE_ITEM || row[k] >= 0;
        }
        if (!ok)
            s = fr_cli_fail(FR_ERR_FORMAT, "%s: the user and item data (data/*) are inconsistent with the model's schema (a damaged file?)",
                            fr_model_path(f));
    }
    if (s != FR_OK)
        d->side = NULL;
    return s;
}

fr_status fr_cli_msmt_data_read(const fr_model_file *f, size_t n_cat, size_t n_num, const size_t *vocab,
                                size_t n_scenarios, fr_cli_msmt_data *d, int *present)
{
    memset(d, 0, sizeof *d);
    *present = 0;
    const fr_model_array *a;
    size_t nf = n_cat + n_num;
    d->n_cat = n_cat;
    d->n_num = n_num;
    fr_status s = FR_OK;
    if (fr_model_find(f, "data/fields")) {
        s = fr_model_get(f, "data/fields", FR_MODEL_TEXT, nf, 0, &a);
        if (s == FR_OK)
            s = fr_model_strings(f, a, &d->field_names);
    }
    if (s == FR_OK && !(d->field_values = calloc(n_cat ? n_cat : 1, sizeof *d->field_values)))
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory reading the model's field values");
    for (size_t k = 0; s == FR_OK && k < n_cat; k++) {
        char name[48];
        snprintf(name, sizeof name, "data/values.%zu", k);
        if (!fr_model_find(f, name))
            continue;
        s = fr_model_get(f, name, FR_MODEL_TEXT, vocab[k], 0, &a);
        if (s == FR_OK)
            s = fr_model_strings(f, a, &d->field_values[k]);
    }
    if (s == FR_OK && fr_model_find(f, "data/roles"))
        s = read_roles(f, vocab, n_scenarios, d);
    if (s == FR_OK)
        *present = d->side != NULL;
    else
        fr_cli_msmt_data_free(d);
    return s;
}
