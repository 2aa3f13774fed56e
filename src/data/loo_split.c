/* loo_split.c — the leave-one-out split and its fixed evaluation
 * negatives, drawn from the data (see fedrec/ratings.h); the rows in time
 * order and the assembly that a split read from a file shares
 * (data/loo_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "core/search.h"
#include "core/error_internal.h"
#include "data/loo_internal.h"
#include "fedrec/ratings.h"
#include "fedrec/rng.h"

void fr_loo_split_free(fr_loo_split *s)
{
    free(s->train_start);
    free(s->train_items);
    free(s->seen_start);
    free(s->seen_items);
    free(s->val_item);
    free(s->test_item);
    free(s->has_eval);
    free(s->eval_negatives);
    memset(s, 0, sizeof *s);
}

int fr_loo_seen(const fr_loo_split *s, size_t u, int32_t item)
{
    return fr_sorted_contains(s->seen_items + s->seen_start[u], s->seen_start[u + 1] - s->seen_start[u],
                              item);
}

static const fr_ratings *sort_source;

/* By user, then time, then file position backwards: a user's last row in
 * this order is the test positive, the one before it the validation
 * positive. Among rows of equal time the one first in the file comes last,
 * so it is the one held out for test, the next for validation, as the
 * reference's pandas rank(method='first', ascending=False) picks them. */
static int by_user_time(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const fr_ratings *r = sort_source;
    if (r->user[x] != r->user[y])
        return r->user[x] < r->user[y] ? -1 : 1;
    if (r->time[x] != r->time[y])
        return r->time[x] < r->time[y] ? -1 : 1;
    return x > y ? -1 : x < y;
}

static int by_int(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void fr_loo_rows_free(fr_loo_rows *rows)
{
    free(rows->rows);
    free(rows->start);
    memset(rows, 0, sizeof *rows);
}

fr_status fr_loo_rows_make(const fr_ratings *r, fr_loo_rows *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = r->n_users, ni = r->n_items, n = r->n;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *start = calloc(nu + 1, sizeof *start);
    unsigned char *latest = calloc(ni ? ni : 1, 1);
    if (!order || !start || !latest) {
        free(order);
        free(start);
        free(latest);
        return fr_fail_nomem("leave-one-out split", n * sizeof *order + ni);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_source = r;
    qsort(order, n, sizeof *order, by_user_time);
    /* A (user, item) pair given more than once counts once, at its latest
     * time: else the held-out item could also be a training item. */
    size_t kept = 0;
    for (size_t end = 0; end < n;) {
        size_t begin = end;
        while (end < n && r->user[order[end]] == r->user[order[begin]])
            end++;
        size_t write = end; /* walk back, keep first sightings, pack at the end */
        for (size_t k = end; k-- > begin;) {
            int32_t item = r->item[order[k]];
            if (latest[item])
                continue;
            latest[item] = 1;
            order[--write] = order[k];
        }
        for (size_t k = write; k < end; k++)
            latest[r->item[order[k]]] = 0;
        out->n_duplicates += write - begin;
        memmove(order + kept, order + write, (end - write) * sizeof *order);
        kept += end - write;
    }
    free(latest);
    for (size_t k = 0; k < kept; k++)
        start[r->user[order[k]] + 1]++;
    for (size_t u = 0; u < nu; u++)
        start[u + 1] += start[u];
    out->rows = order;
    out->start = start;
    return FR_OK;
}

fr_status fr_loo_assemble(const fr_ratings *r, const fr_loo_rows *rows, const int32_t *val,
                          const int32_t *test, size_t negatives_per_eval, fr_loo_split *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = r->n_users, n = rows->start[nu];
    out->n_users = nu;
    out->n_items = r->n_items;
    out->negatives_per_eval = negatives_per_eval;
    out->n_duplicates = rows->n_duplicates;
    out->train_start = calloc(nu + 1, sizeof *out->train_start);
    out->train_items = malloc((n ? n : 1) * sizeof *out->train_items);
    out->seen_start = calloc(nu + 1, sizeof *out->seen_start);
    out->seen_items = malloc((n ? n : 1) * sizeof *out->seen_items);
    out->val_item = malloc((nu ? nu : 1) * sizeof *out->val_item);
    out->test_item = malloc((nu ? nu : 1) * sizeof *out->test_item);
    out->has_eval = calloc(nu ? nu : 1, 1);
    out->eval_negatives = malloc((nu * 2 * negatives_per_eval + 1) * sizeof *out->eval_negatives);
    if (!out->train_start || !out->train_items || !out->seen_start || !out->seen_items || !out->val_item ||
        !out->test_item || !out->has_eval || !out->eval_negatives) {
        fr_loo_split_free(out);
        return fr_fail_nomem("leave-one-out split", n * 8 + nu * (2 * negatives_per_eval + 3) * 4);
    }
    size_t n_train = 0, n_seen = 0, k2 = 2 * negatives_per_eval;
    for (size_t u = 0; u < nu; u++) {
        size_t begin = rows->start[u], end = rows->start[u + 1], count = end - begin;
        int eval = val[u] >= 0;
        out->has_eval[u] = (unsigned char)eval;
        out->n_evaluated += eval;
        out->val_item[u] = eval ? val[u] : -1;
        out->test_item[u] = eval ? test[u] : -1;
        out->train_start[u] = n_train;
        for (size_t k = begin; k < end; k++) {
            int32_t item = r->item[rows->rows[k]];
            if (!eval || (item != val[u] && item != test[u]))
                out->train_items[n_train++] = item;
        }
        out->seen_start[u] = n_seen;
        for (size_t k = begin; k < end; k++)
            out->seen_items[n_seen + (k - begin)] = r->item[rows->rows[k]];
        qsort(out->seen_items + n_seen, count, sizeof *out->seen_items, by_int);
        n_seen += count; /* distinct already: repeated pairs were dropped */
        for (size_t k = 0; !eval && k < k2; k++)
            out->eval_negatives[u * k2 + k] = -1;
    }
    out->train_start[nu] = n_train;
    out->seen_start[nu] = n_seen;
    return FR_OK;
}

fr_status fr_loo_split_make(const fr_ratings *r, uint64_t seed,
                            size_t negatives_per_eval, fr_loo_split *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = r->n_users, ni = r->n_items;
    fr_loo_rows rows;
    FR_TRY(fr_loo_rows_make(r, &rows));
    int32_t *val = malloc((nu ? nu : 1) * sizeof *val), *test = malloc((nu ? nu : 1) * sizeof *test);
    unsigned char *taken = calloc(ni ? ni : 1, 1);
    if (!val || !test || !taken) {
        free(val);
        free(test);
        free(taken);
        fr_loo_rows_free(&rows);
        return fr_fail_nomem("leave-one-out split", nu * 8 + ni);
    }
    /* The latest row is the test positive, the one before it the
     * validation positive; users with fewer than 3 are not evaluated. */
    for (size_t u = 0; u < nu; u++) {
        size_t begin = rows.start[u], end = rows.start[u + 1];
        int eval = end - begin >= 3;
        val[u] = eval ? r->item[rows.rows[end - 2]] : -1;
        test[u] = eval ? r->item[rows.rows[end - 1]] : -1;
    }
    fr_status s = fr_loo_assemble(r, &rows, val, test, negatives_per_eval, out);
    free(val);
    free(test);
    fr_loo_rows_free(&rows);
    if (s != FR_OK) {
        free(taken);
        return s;
    }
    /* Evaluation negatives: without replacement, never a seen item. */
    size_t k2 = 2 * negatives_per_eval;
    for (size_t u = 0; u < nu; u++) {
        int32_t *neg = out->eval_negatives + u * k2;
        size_t seen = out->seen_start[u + 1] - out->seen_start[u];
        if (!out->has_eval[u])
            continue;
        if (ni - seen < k2) {
            free(taken);
            s = fr_fail(FR_ERR_DATA, "user '%s' interacted with %zu of %zu items: fewer than the %zu unseen items evaluation needs",
                        r->user_names[u], seen, ni, k2);
            fr_loo_split_free(out);
            return s;
        }
        fr_rng rng;
        fr_rng_init(&rng, seed, 0, (uint32_t)u, FR_RNG_NEGATIVES);
        for (size_t k = 0; k < k2;) {
            int32_t cand = (int32_t)fr_rng_below(&rng, (uint32_t)ni);
            if (taken[cand] || fr_loo_seen(out, u, cand))
                continue;
            taken[cand] = 1;
            neg[k++] = cand;
        }
        for (size_t k = 0; k < k2; k++)
            taken[neg[k]] = 0;
    }
    free(taken);
    return FR_OK;
}
