/* movielens_split.h — the AutoIFS authors' 80/10/10 split of a MovieLens
 * table (internal; fr_table_read_movielens uses it, the tests check it row
 * for row against pandas). */
#ifndef FR_TABLE_MOVIELENS_SPLIT_H
#define FR_TABLE_MOVIELENS_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/table.h"

/* The seed and shares of the authors' preprocessing. */
#define FR_AUTOIFS_SPLIT_SEED 2021u
#define FR_AUTOIFS_SPLIT_TRAIN 0.8
#define FR_AUTOIFS_SPLIT_VALID 0.1
#define FR_AUTOIFS_SPLIT_TEST 0.1

/* t's rows are the ratings in file order, field user_field and item_field
 * their user and item. rows (t->rows of them) receives the rows in the
 * order the authors' preprocessing leaves them: its training part in
 * pandas' sample order, then validation in sample order, then test in
 * frame order; counts the three sizes. */
fr_status fr_movielens_autoifs_order(const fr_table *t, size_t user_field, size_t item_field, uint32_t *rows,
                                     size_t counts[3]);
/* Tag t's rows with that split. */
fr_status fr_movielens_autoifs_split(fr_table *t, size_t user_field, size_t item_field);

#endif
