/* loo_split.c — leave-one-out split and the fixed evaluation negatives
 * (see fedrec/ratings.h). */
#include <stdlib.h>
#include <string.h>

#include "core/search.h"
#include "core/error_internal.h"
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

/* By user, then time, then file position: a stable order for the split. */
static int by_user_time(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const fr_ratings *r = sort_source;
    if (r->user[x] != r->user[y])
        return r->user[x] < r->user[y] ? -1 : 1;
    if (r->time[x] != r->time[y])
        return r->time[x] < r->time[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_int(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

fr_status fr_loo_split_make(const fr_ratings *r, uint64_t seed,
                            size_t negatives_per_eval, fr_loo_split *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = r->n_users, ni = r->n_items, n = r->n;
    out->n_users = nu;
    out->n_items = ni;
    out->negatives_per_eval = negatives_per_eval;
    size_t *order = malloc(n * sizeof *order);
    out->train_start = calloc(nu + 1, sizeof *out->train_start);
    out->train_items = malloc(n * sizeof *out->train_items);
    out->seen_start = calloc(nu + 1, sizeof *out->seen_start);
    out->seen_items = malloc(n * sizeof *out->seen_items);
    out->val_item = malloc(nu * sizeof *out->val_item);
    out->test_item = malloc(nu * sizeof *out->test_item);
    out->has_eval = calloc(nu, 1);
    out->eval_negatives = malloc((nu * 2 * negatives_per_eval + 1) * sizeof *out->eval_negatives);
    if (!order || !out->train_start || !out->train_items || !out->seen_start || !out->seen_items ||
        !out->val_item || !out->test_item || !out->has_eval || !out->eval_negatives) {
        free(order);
        fr_loo_split_free(out);
        return fr_fail_nomem("leave-one-out split", n * 24);
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_source = r;
    qsort(order, n, sizeof *order, by_user_time);
    /* A (user, item) pair given more than once counts once, at its latest
     * time: else the held-out item could also be a training item. */
    unsigned char *latest = calloc(ni ? ni : 1, 1);
    if (!latest) {
        free(order);
        fr_loo_split_free(out);
        return fr_fail_nomem("leave-one-out split", ni);
    }
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
    n = kept;
    /* Walk each user's time-ordered interactions. */
    size_t at = 0, n_train = 0, n_seen = 0;
    for (size_t u = 0; u < nu; u++) {
        size_t begin = at;
        while (at < n && (size_t)r->user[order[at]] == u)
            at++;
        size_t count = at - begin;
        int eval = count >= 3;
        out->has_eval[u] = (unsigned char)eval;
        out->n_evaluated += eval;
        size_t train_count = eval ? count - 2 : count;
        out->train_start[u] = n_train;
        for (size_t k = 0; k < train_count; k++)
            out->train_items[n_train++] = r->item[order[begin + k]];
        out->val_item[u] = eval ? r->item[order[at - 2]] : -1;
        out->test_item[u] = eval ? r->item[order[at - 1]] : -1;
        out->seen_start[u] = n_seen;
        for (size_t k = begin; k < at; k++)
            out->seen_items[n_seen + (k - begin)] = r->item[order[k]];
        qsort(out->seen_items + n_seen, count, sizeof *out->seen_items, by_int);
        size_t uniq = 0;
        for (size_t k = 0; k < count; k++)
            if (k == 0 || out->seen_items[n_seen + k] != out->seen_items[n_seen + uniq - 1])
                out->seen_items[n_seen + uniq++] = out->seen_items[n_seen + k];
        n_seen += uniq;
    }
    out->train_start[nu] = n_train;
    out->seen_start[nu] = n_seen;
    free(order);

    /* Evaluation negatives: without replacement, never a seen item. */
    size_t k2 = 2 * negatives_per_eval;
    unsigned char *taken = calloc(ni ? ni : 1, 1);
    if (!taken) {
        fr_loo_split_free(out);
        return fr_fail_nomem("negative sampling", ni);
    }
    for (size_t u = 0; u < nu; u++) {
        int32_t *neg = out->eval_negatives + u * k2;
        size_t seen = out->seen_start[u + 1] - out->seen_start[u];
        if (!out->has_eval[u]) {
            for (size_t k = 0; k < k2; k++)
                neg[k] = -1;
            continue;
        }
        if (ni - seen < k2) {
            free(taken);
            fr_status s = fr_fail(FR_ERR_DATA, "user '%s' interacted with %zu of %zu items: fewer than the %zu unseen items evaluation needs",
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
