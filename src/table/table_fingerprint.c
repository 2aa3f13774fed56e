/* table_fingerprint.c — a hash of a feature table's contents (see
 * fedrec/table.h): every column, the split marks, the vocabularies and the
 * names, so that the ranks of a job know they read the same table. */
#include <string.h>

#include "fedrec/table.h"
#include "io/hash64.h"

uint64_t fr_table_fingerprint(const fr_table *t)
{
    uint64_t sizes[6] = {t->rows, t->n_cat, t->n_num, t->n_tasks, t->n_scenarios, t->vocab_total};
    uint64_t h = fr_hash64(0, sizes, sizeof sizes);
    for (size_t f = 0; f < t->n_cat; f++) {
        uint64_t v[2] = {t->vocab[f], t->field_offset[f]};
        h = fr_hash64(h, v, sizeof v);
    }
    h = fr_hash64(h, t->cat, t->rows * t->n_cat * sizeof *t->cat);
    h = fr_hash64(h, t->num, t->rows * t->n_num * sizeof *t->num);
    h = fr_hash64(h, t->scenario, t->rows * sizeof *t->scenario);
    h = fr_hash64(h, t->labels, t->rows * t->n_tasks * sizeof *t->labels);
    h = fr_hash64(h, t->split, t->rows * sizeof *t->split);
    for (size_t k = 0; k < t->n_tasks && k < FR_TABLE_MAX_TASKS; k++)
        h = fr_hash64(h, t->task_names[k], strnlen(t->task_names[k], FR_TABLE_NAME_MAX));
    for (size_t k = 0; k < t->n_scenarios && k < FR_TABLE_MAX_SCENARIOS; k++)
        h = fr_hash64(h, t->scenario_names[k], strnlen(t->scenario_names[k], FR_TABLE_NAME_MAX));
    return h;
}
