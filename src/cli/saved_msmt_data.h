/* saved_msmt_data.h — the data a saved multi-scenario model carries for
 * `fedrec recommend` and `fedrec export` besides its parameters: arrays
 * named "data/..." after the parameters (fedrec/model_file.h), written
 * when the training table names its user and item fields.
 *
 *   data/fields        text, n_cat + n_num field names (categorical first)
 *   data/roles         int32 1 x 3: user field, item field, 1 when the
 *                      scenario is a function of the user
 *   data/side          int32 1 x (n_cat + n_num): fr_field_side
 *   data/values.F      text, categorical field F's original values by id
 *                      (when the table keeps them)
 *   data/user_cat      int32 users x n_cat, data/user_num float users x
 *                      n_num: each user's user-side values (-1, NaN
 *                      elsewhere); data/item_cat, data/item_num likewise
 *   data/user_scenario int32 users x 1: the user's scenario or -1
 *   data/seen_start    int64 (users + 1) x 1, data/seen int32: each user's
 *                      distinct items (rows of every part), sorted
 * (fedrec/table_sides.h says how the sides are learnt.) */
#ifndef FR_CLI_SAVED_MSMT_DATA_H
#define FR_CLI_SAVED_MSMT_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/model_file.h"
#include "fedrec/table.h"
#include "fedrec/table_sides.h"

/* The arrays for table t (*n 0 when t does not name its user and item
 * fields). fr_cli_msmt_data_release frees what they point to. */
typedef struct fr_cli_msmt_data_out {
    fr_table_sides sides;
    fr_model_array *arrays;
    size_t n;
    char **blobs;       /* text arrays' bytes */
    size_t n_blobs;
    char (*names)[48];  /* data/values.F names */
    int32_t roles[3];
} fr_cli_msmt_data_out;

fr_status fr_cli_msmt_data_build(const fr_table *t, fr_cli_msmt_data_out *out);
void fr_cli_msmt_data_release(fr_cli_msmt_data_out *out);

/* The data read back from an open model file (pointers into it). */
typedef struct fr_cli_msmt_data {
    size_t n_cat, n_num, n_users, n_items, user_field, item_field;
    int scenario_of_user;
    const char **field_names;  /* n_cat + n_num */
    const int32_t *side;
    const char ***field_values; /* n_cat: a field's values by id, or NULL */
    const int32_t *user_cat, *item_cat, *user_scenario, *seen;
    const float *user_num, *item_num;
    const int64_t *seen_start;
} fr_cli_msmt_data;

/* Read the data arrays of the file (schema: n_cat, n_num, vocab, n_scenarios
 * checked against them). *present is 0 when the file has none (a model
 * trained on a table that does not name its user and item fields). */
fr_status fr_cli_msmt_data_read(const fr_model_file *f, size_t n_cat, size_t n_num, const size_t *vocab,
                                size_t n_scenarios, fr_cli_msmt_data *out, int *present);
void fr_cli_msmt_data_free(fr_cli_msmt_data *d);
/* Field f's name, or "field F" (categorical) / "numerical field F" in buf. */
const char *fr_cli_msmt_field_name(const fr_cli_msmt_data *d, size_t f, char *buf, size_t cap);

#endif
