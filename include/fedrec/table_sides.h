/* fedrec/table_sides.h — which fields of a feature table belong to the
 * user and which to the item, learnt from its rows, and what a
 * recommender needs to build a user's candidate rows.
 *
 * For a table that names its user and item fields (fedrec/table.h,
 * has_roles): a field is user-side when its value is a function of the
 * user field over every row (each user has one value), item-side when it
 * is a function of the item field; a field that is both counts as
 * user-side, the user and item fields are their own side, and a field
 * that is neither (a context such as the time of day) is FR_SIDE_NEITHER.
 * The scenario is the user's when it is a function of the user too. The
 * arrays are per user and per item, never per row, but for the
 * interactions (each user's distinct items, from rows of every part). */
#ifndef FEDREC_TABLE_SIDES_H
#define FEDREC_TABLE_SIDES_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"
#include "fedrec/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_field_side { FR_SIDE_USER = 0, FR_SIDE_ITEM = 1, FR_SIDE_NEITHER = 2 } fr_field_side;

typedef struct fr_table_sides {
    size_t n_cat, n_num;
    size_t n_users, n_items;    /* the user and item fields' vocabularies */
    int32_t *side;              /* n_cat + n_num: fr_field_side (categorical fields first) */
    /* users x n_cat, users x n_num: each user's value of every user-side
     * field (-1, NaN for the other fields); items likewise for the
     * item-side fields. A user (item) without rows has -1 (NaN)
     * everywhere, its own field too. */
    int32_t *user_cat, *item_cat;
    float *user_num, *item_num;
    int scenario_of_user;       /* the scenario is a function of the user */
    int32_t *user_scenario;     /* n_users: the user's scenario, or -1 (none, or not a function of the user) */
    /* Each user's distinct items, from its rows of every part (training,
     * validation, test: what recommend leaves out), sorted:
     * seen[seen_start[u] .. seen_start[u + 1]). */
    int64_t *seen_start;        /* n_users + 1 */
    int32_t *seen;
} fr_table_sides;

/* Learn the sides of t (which must name its user and item fields): two
 * passes over the rows (a mapped table's pages are dropped after each
 * block). */
fr_status fr_table_sides_compute(const fr_table *t, fr_table_sides *out);
void fr_table_sides_free(fr_table_sides *s);

#ifdef __cplusplus
}
#endif
#endif
