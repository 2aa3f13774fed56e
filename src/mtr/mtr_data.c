/* mtr_data.c — the multi-task recommender's data set (see fedrec/mtrec.h):
 * training / validation / test interactions from three files or a seeded
 * per-user split, per-user sorted item lists, and the CSR form of the side
 * relations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/search.h"
#include "core/error_internal.h"
#include "fedrec/mtrec.h"
#include "fedrec/rng.h"
#include "io/hash64.h"
#include "mtr/mtr_internal.h"

static void relation_free(fr_mtr_relation *r)
{
    free(r->a);
    free(r->b);
    free(r->start);
    free(r->neighbours);
    memset(r, 0, sizeof *r);
}

void fr_mtr_data_free(fr_mtr_data *d)
{
    free(d->train_user);
    free(d->train_item);
    free(d->train_rating);
    free(d->train_start);
    free(d->val_start);
    free(d->test_start);
    free(d->train_items);
    free(d->val_items);
    free(d->test_items);
    relation_free(&d->links);
    relation_free(&d->pairs);
    free(d->category_start);
    free(d->category_items);
    free(d->item_category_start);
    free(d->item_categories);
    for (size_t i = 0; d->user_names && i < d->n_users; i++)
        free(d->user_names[i]);
    for (size_t i = 0; d->item_names && i < d->n_items; i++)
        free(d->item_names[i]);
    free(d->user_names);
    free(d->item_names);
    memset(d, 0, sizeof *d);
}

static int compare_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

fr_status fr_mtr_lists_build(size_t rows, const int32_t *row, const int32_t *value, size_t n,
                             size_t **start_out, int32_t **values_out)
{
    size_t *start = calloc(rows + 1, sizeof *start);
    int32_t *values = malloc((n ? n : 1) * sizeof *values);
    size_t *fill = malloc((rows ? rows : 1) * sizeof *fill);
    if (!start || !values || !fill) {
        free(start);
        free(values);
        free(fill);
        return fr_fail_nomem("per-row lists", n * 4 + rows * 16);
    }
    for (size_t i = 0; i < n; i++)
        start[row[i] + 1]++;
    for (size_t r = 0; r < rows; r++) {
        start[r + 1] += start[r];
        fill[r] = start[r];
    }
    for (size_t i = 0; i < n; i++)
        values[fill[row[i]]++] = value[i];
    /* sort and de-duplicate each row, compacting in place */
    size_t out = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t b = start[r], e = start[r + 1];
        qsort(values + b, e - b, sizeof *values, compare_i32);
        start[r] = out;
        for (size_t i = b; i < e; i++)
            if (i == b || values[i] != values[i - 1])
                values[out++] = values[i];
    }
    start[rows] = out;
    free(fill);
    *start_out = start;
    *values_out = values;
    return FR_OK;
}

int fr_mtr_list_contains(const size_t *start, const int32_t *values, size_t row, int32_t x)
{
    return fr_sorted_contains(values + start[row], start[row + 1] - start[row], x);
}

static fr_status take_names(const fr_ratings *r, fr_mtr_data *d)
{
    d->user_names = calloc(r->n_users ? r->n_users : 1, sizeof *d->user_names);
    d->item_names = calloc(r->n_items ? r->n_items : 1, sizeof *d->item_names);
    if (!d->user_names || !d->item_names)
        return fr_fail_nomem("id names", (r->n_users + r->n_items) * sizeof(char *));
    for (size_t i = 0; i < r->n_users; i++)
        if (r->user_names && !(d->user_names[i] = strdup(r->user_names[i])))
            return fr_fail_nomem("id names", 0);
    for (size_t i = 0; i < r->n_items; i++)
        if (r->item_names && !(d->item_names[i] = strdup(r->item_names[i])))
            return fr_fail_nomem("id names", 0);
    return FR_OK;
}

/* Fill the training arrays from `count` interactions picked by `pick`. */
static fr_status set_train(fr_mtr_data *d, const fr_ratings *r, const size_t *pick, size_t count)
{
    d->n_train = count;
    d->train_user = malloc((count ? count : 1) * sizeof *d->train_user);
    d->train_item = malloc((count ? count : 1) * sizeof *d->train_item);
    d->train_rating = malloc((count ? count : 1) * sizeof *d->train_rating);
    if (!d->train_user || !d->train_item || !d->train_rating)
        return fr_fail_nomem("training interactions", count * 12);
    for (size_t k = 0; k < count; k++) {
        size_t i = pick ? pick[k] : k;
        d->train_user[k] = r->user[i];
        d->train_item[k] = r->item[i];
        d->train_rating[k] = r->rating[i];
    }
    return fr_mtr_lists_build(d->n_users, d->train_user, d->train_item, count, &d->train_start,
                              &d->train_items);
}

/* Per-user lists of the interactions picked (users/items by index). */
static fr_status lists_of(const fr_mtr_data *d, const fr_ratings *r, const size_t *pick,
                          size_t count, size_t **start, int32_t **items)
{
    int32_t *u = malloc((count ? count : 1) * sizeof *u);
    int32_t *it = malloc((count ? count : 1) * sizeof *it);
    if (!u || !it) {
        free(u);
        free(it);
        return fr_fail_nomem("evaluation lists", count * 8);
    }
    for (size_t k = 0; k < count; k++) {
        size_t i = pick ? pick[k] : k;
        u[k] = r->user[i];
        it[k] = r->item[i];
    }
    fr_status s = fr_mtr_lists_build(d->n_users, u, it, count, start, items);
    free(u);
    free(it);
    return s;
}

fr_status fr_mtr_data_from_parts(const fr_ratings parts[3], float test_min_rating, fr_mtr_data *out)
{
    memset(out, 0, sizeof *out);
    out->n_users = parts[0].n_users;
    out->n_items = parts[0].n_items;
    size_t *keep = malloc((parts[2].n ? parts[2].n : 1) * sizeof *keep), n_keep = 0;
    if (!keep)
        return fr_fail_nomem("test interactions", parts[2].n * sizeof *keep);
    for (size_t i = 0; i < parts[2].n; i++)
        if (parts[2].rating[i] >= test_min_rating)
            keep[n_keep++] = i;
    fr_status s = take_names(&parts[0], out);
    if (s == FR_OK)
        s = set_train(out, &parts[0], NULL, parts[0].n);
    if (s == FR_OK)
        s = lists_of(out, &parts[1], NULL, parts[1].n, &out->val_start, &out->val_items);
    if (s == FR_OK)
        s = lists_of(out, &parts[2], keep, n_keep, &out->test_start, &out->test_items);
    free(keep);
    if (s != FR_OK)
        fr_mtr_data_free(out);
    return s;
}

fr_status fr_mtr_data_split(const fr_ratings *all, uint64_t seed, double train_share,
                            double val_share, float test_min_rating, fr_mtr_data *out)
{
    memset(out, 0, sizeof *out);
    if (!(train_share > 0) || !(val_share >= 0) || train_share + val_share > 1.0 + 1e-9)
        return fr_fail(FR_ERR_INVALID, "split: shares %g (training) and %g (validation) must be positive and sum to at most 1",
                       train_share, val_share);
    out->n_users = all->n_users;
    out->n_items = all->n_items;
    size_t n = all->n, nu = all->n_users;
    size_t *start = calloc(nu + 1, sizeof *start);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *fill = malloc((nu ? nu : 1) * sizeof *fill);
    size_t *pick[3];
    size_t count[3] = {0, 0, 0};
    for (int p = 0; p < 3; p++)
        pick[p] = malloc((n ? n : 1) * sizeof *pick[p]);
    fr_status s = FR_OK;
    if (!start || !order || !fill || !pick[0] || !pick[1] || !pick[2])
        s = fr_fail_nomem("split", n * 32);
    if (s == FR_OK) {
        for (size_t i = 0; i < n; i++)
            start[all->user[i] + 1]++;
        for (size_t u = 0; u < nu; u++) {
            start[u + 1] += start[u];
            fill[u] = start[u];
        }
        for (size_t i = 0; i < n; i++) /* file order within a user */
            order[fill[all->user[i]]++] = i;
        for (size_t u = 0; u < nu; u++) {
            size_t b = start[u], m = start[u + 1] - b;
            fr_rng rng;
            fr_rng_init(&rng, seed, 0, (uint32_t)u, FR_RNG_SPLIT);
            for (size_t i = m; i > 1; i--) {
                size_t j = fr_rng_below(&rng, (uint32_t)i);
                size_t x = order[b + i - 1];
                order[b + i - 1] = order[b + j];
                order[b + j] = x;
            }
            size_t n_train = (size_t)floor(train_share * (double)m + 0.5);
            size_t n_val = (size_t)floor(val_share * (double)m + 0.5);
            if (n_train < 1)
                n_train = 1;
            if (n_train > m)
                n_train = m;
            if (n_val > m - n_train)
                n_val = m - n_train;
            for (size_t k = 0; k < m; k++) {
                size_t i = order[b + k];
                int part = k < n_train ? 0 : k < n_train + n_val ? 1 : 2;
                if (part == 2 && all->rating[i] < test_min_rating)
                    continue;
                pick[part][count[part]++] = i;
            }
        }
        s = take_names(all, out);
    }
    if (s == FR_OK)
        s = set_train(out, all, pick[0], count[0]);
    if (s == FR_OK)
        s = lists_of(out, all, pick[1], count[1], &out->val_start, &out->val_items);
    if (s == FR_OK)
        s = lists_of(out, all, pick[2], count[2], &out->test_start, &out->test_items);
    free(start);
    free(order);
    free(fill);
    for (int p = 0; p < 3; p++)
        free(pick[p]);
    if (s != FR_OK)
        fr_mtr_data_free(out);
    return s;
}

fr_status fr_mtr_relation_set(fr_mtr_relation *r, size_t rows, int32_t *a, int32_t *b, size_t n)
{
    relation_free(r);
    r->n_pairs = n;
    r->a = a;
    r->b = b;
    /* symmetric neighbour lists: both directions */
    int32_t *from = malloc((n ? 2 * n : 1) * sizeof *from);
    int32_t *to = malloc((n ? 2 * n : 1) * sizeof *to);
    if (!from || !to) {
        free(from);
        free(to);
        return fr_fail_nomem("relation", n * 16);
    }
    for (size_t i = 0; i < n; i++) {
        from[2 * i] = a[i];
        to[2 * i] = b[i];
        from[2 * i + 1] = b[i];
        to[2 * i + 1] = a[i];
    }
    fr_status s = fr_mtr_lists_build(rows, from, to, 2 * n, &r->start, &r->neighbours);
    free(from);
    free(to);
    return s;
}

uint64_t fr_mtr_data_fingerprint(const fr_mtr_data *d)
{
    uint64_t sizes[3] = {d->n_users, d->n_items, d->n_train};
    uint64_t h = fr_hash64(0, sizes, sizeof sizes);
    h = fr_hash64(h, d->train_user, d->n_train * sizeof *d->train_user);
    h = fr_hash64(h, d->train_item, d->n_train * sizeof *d->train_item);
    const size_t *starts[3] = {d->train_start, d->val_start, d->test_start};
    const int32_t *lists[3] = {d->train_items, d->val_items, d->test_items};
    for (int part = 0; part < 3; part++)
        for (size_t u = 0; u < d->n_users; u++) {
            uint64_t n = starts[part][u + 1] - starts[part][u];
            h = fr_hash64(h, &n, sizeof n);
            h = fr_hash64(h, lists[part] + starts[part][u], (size_t)n * sizeof *lists[part]);
        }
    return h;
}
