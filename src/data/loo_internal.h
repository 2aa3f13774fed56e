/* loo_internal.h — the parts of the leave-one-out split that drawing it
 * (loo_split.c) and reading it from a split file (loo_split_file.c) share
 * (internal): every user's rows in time order, and the split assembled
 * from the held-out items chosen per user. */
#ifndef FR_LOO_INTERNAL_H
#define FR_LOO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/ratings.h"

/* A user's rows in the order leave-one-out reads them: by time, and among
 * rows of equal time the one first in the file last; a (user, item) pair
 * given more than once kept once, at its latest time. User u's rows are
 * rows[start[u] .. start[u + 1]) (indices into r). */
typedef struct fr_loo_rows {
    size_t *rows;
    size_t *start;       /* n_users + 1 */
    size_t n_duplicates; /* repeated (user, item) rows left out */
} fr_loo_rows;

fr_status fr_loo_rows_make(const fr_ratings *r, fr_loo_rows *out);
void fr_loo_rows_free(fr_loo_rows *rows);

/* The split with val[u] / test[u] held out for user u (-1 for both: user u
 * is not evaluated and trains on everything): the training items are the
 * user's other items in row order. Both held-out items must be items of
 * the user (the caller checks). The evaluation negatives are allocated,
 * -1 for users not evaluated, and left for the caller to fill. */
fr_status fr_loo_assemble(const fr_ratings *r, const fr_loo_rows *rows, const int32_t *val,
                          const int32_t *test, size_t negatives_per_eval, fr_loo_split *out);

#endif
