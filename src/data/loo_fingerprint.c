/* loo_fingerprint.c — a hash of a leave-one-out split's contents (see
 * fedrec/ratings.h): what a checkpoint and the ranks of a job compare to
 * know they train and evaluate on the same data, whatever file or split
 * file it came from. */
#include "fedrec/ratings.h"
#include "io/hash64.h"

uint64_t fr_loo_split_fingerprint(const fr_loo_split *s)
{
    uint64_t sizes[3] = {s->n_users, s->n_items, s->negatives_per_eval};
    uint64_t h = fr_hash64(0, sizes, sizeof sizes);
    size_t per_user_negatives = 2 * s->negatives_per_eval;
    for (size_t u = 0; u < s->n_users; u++) {
        /* Training items in the order training visits them; then the
         * held-out items and the evaluation negatives. */
        uint64_t n_train = s->train_start[u + 1] - s->train_start[u];
        int32_t held[3] = {s->val_item[u], s->test_item[u], s->has_eval[u]};
        h = fr_hash64(h, &n_train, sizeof n_train);
        h = fr_hash64(h, s->train_items + s->train_start[u], (size_t)n_train * sizeof *s->train_items);
        h = fr_hash64(h, held, sizeof held);
        h = fr_hash64(h, s->eval_negatives + u * per_user_negatives, per_user_negatives * sizeof *s->eval_negatives);
    }
    return h;
}
