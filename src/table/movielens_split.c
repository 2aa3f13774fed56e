/* movielens_split.c — the AutoIFS authors' split of a MovieLens table
 * (see table/movielens_split.h). Their preprocessing builds one pandas
 * frame from the ratings, merged first with the movies on the movie id,
 * then with the users on the user id, and draws the split from that frame
 * with DataFrame.sample (random_state 2021). Which rows land where depends
 * on the frame's row order, and pandas 1.x's merges regroup the rows: by
 * movie in order of first appearance, then by user in order of first
 * appearance in that. (Writing the frame to CSV and reading it back, as
 * they do between the steps, keeps the order.) */
#include <stdlib.h>

#include "core/error_internal.h"
#include "table/movielens_split.h"
#include "table/pandas_compat.h"

fr_status fr_movielens_autoifs_order(const fr_table *t, size_t user_field, size_t item_field, uint32_t *rows,
                                     size_t counts[3])
{
    if (t->rows > UINT32_MAX)
        return fr_fail(FR_ERR_INVALID, "feature table: %zu rows, at most 2^32 - 1 supported", t->rows);
    uint32_t *frame = malloc((t->rows ? t->rows : 1) * sizeof *frame);
    if (!frame)
        return fr_fail_nomem("split", t->rows * 4);
    for (size_t r = 0; r < t->rows; r++)
        frame[r] = (uint32_t)r;
    const double share[3] = {FR_AUTOIFS_SPLIT_TRAIN, FR_AUTOIFS_SPLIT_VALID, FR_AUTOIFS_SPLIT_TEST};
    fr_status s = fr_pandas_merge_order(frame, t->rows, t->cat + item_field, t->n_cat, t->vocab[item_field]);
    if (s == FR_OK)
        s = fr_pandas_merge_order(frame, t->rows, t->cat + user_field, t->n_cat, t->vocab[user_field]);
    if (s == FR_OK)
        s = fr_pandas_sample_split(t->rows, FR_AUTOIFS_SPLIT_SEED, share, rows, counts);
    if (s == FR_OK)
        for (size_t k = 0; k < t->rows; k++)
            rows[k] = frame[rows[k]];
    free(frame);
    return s;
}

fr_status fr_movielens_autoifs_split(fr_table *t, size_t user_field, size_t item_field)
{
    uint32_t *rows = malloc((t->rows ? t->rows : 1) * sizeof *rows);
    if (!rows)
        return fr_fail_nomem("split", t->rows * 4);
    size_t counts[3];
    fr_status s = fr_movielens_autoifs_order(t, user_field, item_field, rows, counts);
    if (s == FR_OK)
        for (size_t k = 0; k < t->rows; k++)
            t->split[rows[k]] = k < counts[0] ? FR_SPLIT_TRAIN
                                : k < counts[0] + counts[1] ? FR_SPLIT_VALID
                                                            : FR_SPLIT_TEST;
    free(rows);
    return s;
}
