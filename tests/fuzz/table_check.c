/* table_check.c — invariants of an accepted feature table (table_check.h). */
#include "config.h"
#include "table_check.h"
#include "fuzz_util.h"

#include <math.h>

void fr_fuzz_check_table(const fr_table *t, const char *what)
{
    size_t offset = 0;
    for (size_t f = 0; f < t->n_cat; f++) {
        if (t->field_offset[f] != offset)
            fr_fuzz_fail("field offsets are not the running sum of the vocabularies", what);
        offset += t->vocab[f];
    }
    if (offset != t->vocab_total)
        fr_fuzz_fail("vocab_total is not the sum of the vocabularies", what);
    if (t->n_tasks > FR_TABLE_MAX_TASKS || t->n_scenarios > FR_TABLE_MAX_SCENARIOS)
        fr_fuzz_fail("too many tasks or scenarios", what);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t f = 0; f < t->n_cat; f++) {
            int32_t id = t->cat[r * t->n_cat + f];
            if (id < 0 || (size_t)id >= t->vocab[f])
                fr_fuzz_fail("a categorical id outside its vocabulary", what);
        }
        for (size_t k = 0; k < t->n_num; k++)
            if (!isfinite(t->num[r * t->n_num + k]))
                fr_fuzz_fail("a number that is not finite", what);
        if (t->scenario[r] < 0 || (size_t)t->scenario[r] >= t->n_scenarios)
            fr_fuzz_fail("a scenario out of range", what);
        for (size_t k = 0; k < t->n_tasks; k++)
            if (t->labels[r * t->n_tasks + k] > 1)
                fr_fuzz_fail("a label that is not 0 or 1", what);
        if (t->split[r] > FR_SPLIT_TEST)
            fr_fuzz_fail("a split tag out of range", what);
    }
}
