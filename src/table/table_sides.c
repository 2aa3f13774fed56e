/* table_sides.c — user-side and item-side fields of a feature table,
 * learnt from its rows (see fedrec/table_sides.h): each user's and item's
 * first value of every field is kept and a later different value rules
 * the field out for that side; then the items every user has a row of
 * (any part: training, validation or test) are gathered, sorted and made
 * distinct. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/table_sides.h"

#define BLOCK 65536

void fr_table_sides_free(fr_table_sides *s)
{
    free(s->side);
    free(s->user_cat);
    free(s->item_cat);
    free(s->user_num);
    free(s->item_num);
    free(s->user_scenario);
    free(s->seen_start);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

static int by_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Record row r's values for one side (key k of that side's table);
 * clear functional[f] where they disagree with earlier rows of k. */
static void record(const fr_table *t, size_t r, size_t k, int32_t *cat, float *num, uint8_t *functional,
                   size_t key_field)
{
    const int32_t *rc = t->cat + r * t->n_cat;
    const float *rn = t->num + r * t->n_num;
    int32_t *kc = cat + k * t->n_cat;
    float *kn = num + k * t->n_num;
    if (kc[key_field] < 0) { /* first row of k */
        memcpy(kc, rc, t->n_cat * sizeof *kc);
        memcpy(kn, rn, t->n_num * sizeof *kn);
        return;
    }
    for (size_t f = 0; f < t->n_cat; f++)
        if (kc[f] != rc[f])
            functional[f] = 0;
    for (size_t f = 0; f < t->n_num; f++)
        if (kn[f] != rn[f])
            functional[t->n_cat + f] = 0;
}

/* Blank the fields of a side's table that are not on that side. */
static void blank(const fr_table_sides *s, size_t n, int32_t *cat, float *num, int side)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t f = 0; f < s->n_cat; f++)
            if (s->side[f] != side)
                cat[k * s->n_cat + f] = -1;
        for (size_t f = 0; f < s->n_num; f++)
            if (s->side[s->n_cat + f] != side)
                num[k * s->n_num + f] = NAN;
    }
}

fr_status fr_table_sides_compute(const fr_table *t, fr_table_sides *s)
{
    memset(s, 0, sizeof *s);
    if (!t->has_roles || t->user_field >= t->n_cat || t->item_field >= t->n_cat)
        return fr_fail(FR_ERR_INVALID, "feature table: the user and item fields are not named");
    size_t uf = t->user_field, itf = t->item_field, nf = t->n_cat + t->n_num;
    s->n_cat = t->n_cat;
    s->n_num = t->n_num;
    s->n_users = t->vocab[uf];
    s->n_items = t->vocab[itf];
    size_t nu = s->n_users ? s->n_users : 1, ni = s->n_items ? s->n_items : 1;
    uint8_t *by_user = malloc(nf ? nf : 1), *by_item = malloc(nf ? nf : 1);
    s->side = malloc((nf ? nf : 1) * sizeof *s->side);
    s->user_cat = malloc(nu * (t->n_cat ? t->n_cat : 1) * sizeof *s->user_cat);
    s->item_cat = malloc(ni * (t->n_cat ? t->n_cat : 1) * sizeof *s->item_cat);
    s->user_num = malloc(nu * (t->n_num ? t->n_num : 1) * sizeof *s->user_num);
    s->item_num = malloc(ni * (t->n_num ? t->n_num : 1) * sizeof *s->item_num);
    s->user_scenario = malloc(nu * sizeof *s->user_scenario);
    s->seen_start = calloc(nu + 1, sizeof *s->seen_start);
    fr_status st = FR_OK;
    if (!by_user || !by_item || !s->side || !s->user_cat || !s->item_cat || !s->user_num || !s->item_num ||
        !s->user_scenario || !s->seen_start)
        st = fr_fail_nomem("user and item features", (nu + ni) * nf * 4);
    if (st == FR_OK) {
        memset(by_user, 1, nf ? nf : 1);
        memset(by_item, 1, nf ? nf : 1);
        for (size_t k = 0; k < nu * t->n_cat; k++)
            s->user_cat[k] = -1;
        for (size_t k = 0; k < ni * t->n_cat; k++)
            s->item_cat[k] = -1;
        for (size_t k = 0; k < nu; k++)
            s->user_scenario[k] = -1;
        s->scenario_of_user = 1;
        /* Pass 1: every row; pass 2's counts of each user's rows on the way. */
        for (size_t r = 0; r < t->rows; r++) {
            size_t u = (size_t)t->cat[r * t->n_cat + uf], i = (size_t)t->cat[r * t->n_cat + itf];
            if (u >= s->n_users || i >= s->n_items) {
                st = fr_fail(FR_ERR_DATA, "feature table, row %zu: user %zu or item %zu outside the field's %zu or %zu values",
                             r, u, i, s->n_users, s->n_items);
                break;
            }
            if (s->user_scenario[u] >= 0 && s->user_scenario[u] != t->scenario[r])
                s->scenario_of_user = 0;
            s->user_scenario[u] = t->scenario[r];
            record(t, r, u, s->user_cat, s->user_num, by_user, uf);
            record(t, r, i, s->item_cat, s->item_num, by_item, itf);
            s->seen_start[u + 1]++;
            if ((r + 1) % BLOCK == 0)
                fr_table_release_rows(t, r + 1 - BLOCK, r + 1);
        }
    }
    if (st == FR_OK) {
        for (size_t f = 0; f < nf; f++)
            s->side[f] = f == uf ? FR_SIDE_USER : f == itf ? FR_SIDE_ITEM
                         : by_user[f]                      ? FR_SIDE_USER
                         : by_item[f]                      ? FR_SIDE_ITEM
                                                           : FR_SIDE_NEITHER;
        blank(s, s->n_users, s->user_cat, s->user_num, FR_SIDE_USER);
        blank(s, s->n_items, s->item_cat, s->item_num, FR_SIDE_ITEM);
        if (!s->scenario_of_user)
            for (size_t k = 0; k < s->n_users; k++)
                s->user_scenario[k] = -1;
        for (size_t u = 0; u < s->n_users; u++)
            s->seen_start[u + 1] += s->seen_start[u];
        size_t n_seen = (size_t)s->seen_start[s->n_users];
        s->seen = malloc((n_seen ? n_seen : 1) * sizeof *s->seen);
        int64_t *fill = malloc(nu * sizeof *fill);
        if (!s->seen || !fill)
            st = fr_fail_nomem("items the users have rows of", n_seen * sizeof *s->seen);
        for (size_t u = 0; st == FR_OK && u < s->n_users; u++)
            fill[u] = s->seen_start[u];
        for (size_t r = 0; st == FR_OK && r < t->rows; r++) {
            size_t u = (size_t)t->cat[r * t->n_cat + uf];
            s->seen[fill[u]++] = t->cat[r * t->n_cat + itf];
            if ((r + 1) % BLOCK == 0)
                fr_table_release_rows(t, r + 1 - BLOCK, r + 1);
        }
        free(fill);
        /* Sorted and distinct, compacted in place. */
        int64_t out = 0;
        for (size_t u = 0; st == FR_OK && u < s->n_users; u++) {
            int64_t b = s->seen_start[u], e = s->seen_start[u + 1];
            qsort(s->seen + b, (size_t)(e - b), sizeof *s->seen, by_id);
            s->seen_start[u] = out;
            for (int64_t k = b; k < e; k++)
                if (k == b || s->seen[k] != s->seen[k - 1])
                    s->seen[out++] = s->seen[k];
        }
        if (st == FR_OK)
            s->seen_start[s->n_users] = out;
    }
    free(by_user);
    free(by_item);
    if (st != FR_OK)
        fr_table_sides_free(s);
    return st;
}
