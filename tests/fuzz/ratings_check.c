/* ratings_check.c — invariants of an accepted rating set (ratings_check.h). */
#include "config.h"
#include "ratings_check.h"
#include "fuzz_util.h"

#include <math.h>

void fr_fuzz_check_ratings(const fr_ratings *r, const char *path)
{
    if (r->n == 0 || r->n_users == 0 || r->n_items == 0)
        fr_fuzz_fail("an empty rating set was accepted", path);
    for (size_t i = 0; i < r->n; i++) {
        if (r->user[i] < 0 || (size_t)r->user[i] >= r->n_users || r->item[i] < 0 ||
            (size_t)r->item[i] >= r->n_items)
            fr_fuzz_fail("an id out of range", path);
        if (!isfinite(r->rating[i]))
            fr_fuzz_fail("a rating that is not finite was accepted", path);
    }
    for (size_t u = 0; u < r->n_users; u++)
        if (!r->user_names[u])
            fr_fuzz_fail("a user without a name", path);
    for (size_t i = 0; i < r->n_items; i++)
        if (!r->item_names[i])
            fr_fuzz_fail("an item without a name", path);
    fr_loo_split s;
    if (fr_loo_split_make(r, 1, 3, &s) != FR_OK)
        return; /* e.g. too few items to draw negatives: refused, fine */
    for (size_t u = 0; u < s.n_users; u++) {
        if (s.train_start[u] > s.train_start[u + 1] || s.seen_start[u] > s.seen_start[u + 1])
            fr_fuzz_fail("split offsets out of order", path);
        for (size_t k = 0; s.has_eval[u] && k < 2 * s.negatives_per_eval; k++) {
            int32_t neg = s.eval_negatives[u * 2 * s.negatives_per_eval + k];
            if (neg >= 0 && fr_loo_seen(&s, u, neg))
                fr_fuzz_fail("an evaluation negative the user has seen", path);
        }
    }
    fr_loo_split_free(&s);
}

void fr_fuzz_read_ratings(const char *path, const fr_ratings_spec *spec)
{
    fr_ratings r;
    fr_status s = fr_ratings_read(path, spec, &r);
    if (s != FR_OK) {
        fr_fuzz_expect_named(s, path);
        return;
    }
    fr_fuzz_check_ratings(&r, path);
    fr_ratings_free(&r);
}
