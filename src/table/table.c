/* table.c — in-memory feature tables (see fedrec/table.h): allocation,
 * vocabularies, field names and values, splits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/error_internal.h"
#include "fedrec/rng.h"
#include "fedrec/table.h"

fr_status fr_table_alloc(fr_table *t, size_t rows, size_t n_cat, size_t n_num, size_t n_tasks,
                         size_t n_scenarios)
{
    memset(t, 0, sizeof *t);
    if (n_tasks < 1 || n_tasks > FR_TABLE_MAX_TASKS || n_scenarios < 1 ||
        n_scenarios > FR_TABLE_MAX_SCENARIOS)
        return fr_fail(FR_ERR_INVALID, "feature table: need 1 to %d tasks and 1 to %d scenarios (got %zu, %zu)",
                       FR_TABLE_MAX_TASKS, FR_TABLE_MAX_SCENARIOS, n_tasks, n_scenarios);
    t->rows = rows;
    t->n_cat = n_cat;
    t->n_num = n_num;
    t->n_tasks = n_tasks;
    t->n_scenarios = n_scenarios;
    size_t r = rows ? rows : 1;
    t->cat = calloc(r * (n_cat ? n_cat : 1), sizeof *t->cat);
    t->num = calloc(r * (n_num ? n_num : 1), sizeof *t->num);
    t->scenario = calloc(r, sizeof *t->scenario);
    t->labels = calloc(r * n_tasks, sizeof *t->labels);
    t->split = calloc(r, sizeof *t->split);
    t->vocab = calloc(n_cat ? n_cat : 1, sizeof *t->vocab);
    t->field_offset = calloc(n_cat ? n_cat : 1, sizeof *t->field_offset);
    if (!t->cat || !t->num || !t->scenario || !t->labels || !t->split || !t->vocab ||
        !t->field_offset) {
        fr_table_free(t);
        return fr_fail_nomem("feature table", r * (n_cat * 4 + n_num * 4 + 5 + n_tasks));
    }
    for (size_t k = 0; k < n_tasks; k++)
        snprintf(t->task_names[k], FR_TABLE_NAME_MAX, "task%zu", k);
    for (size_t k = 0; k < n_scenarios; k++)
        snprintf(t->scenario_names[k], FR_TABLE_NAME_MAX, "s%zu", k);
    return FR_OK;
}

void fr_table_set_vocab(fr_table *t, const size_t *vocab)
{
    size_t at = 0;
    for (size_t f = 0; f < t->n_cat; f++) {
        t->vocab[f] = vocab[f];
        t->field_offset[f] = at;
        at += vocab[f];
    }
    t->vocab_total = at;
}

void fr_table_free(fr_table *t)
{
    if (t->map) {
        munmap(t->map, t->map_bytes);
    } else {
        free(t->cat);
        free(t->num);
        free(t->scenario);
        free(t->labels);
        free(t->split);
    }
    free(t->vocab);
    free(t->field_offset);
    free(t->field_names);
    free((void *)t->values);
    free(t->values_text);
    memset(t, 0, sizeof *t);
}

fr_status fr_table_set_field_names(fr_table *t, const char *const *names)
{
    size_t n = t->n_cat + t->n_num;
    char(*copy)[FR_TABLE_NAME_MAX] = calloc(n ? n : 1, sizeof *copy);
    if (!copy)
        return fr_fail_nomem("field names", n * FR_TABLE_NAME_MAX);
    for (size_t f = 0; f < n; f++)
        snprintf(copy[f], FR_TABLE_NAME_MAX, "%s", names[f] ? names[f] : "");
    free(t->field_names);
    t->field_names = copy;
    return FR_OK;
}

fr_status fr_table_set_values(fr_table *t, const char *const *values)
{
    /* One block of text and one pointer per distinct value. */
    size_t bytes = 0, n = t->vocab_total;
    for (size_t v = 0; v < n; v++)
        bytes += strlen(values[v]) + 1;
    char *text = malloc(bytes ? bytes : 1);
    const char **index = malloc((n ? n : 1) * sizeof *index);
    if (!text || !index) {
        free(text);
        free(index);
        return fr_fail_nomem("field values", bytes + n * sizeof *index);
    }
    char *at = text;
    for (size_t v = 0; v < n; v++) {
        size_t len = strlen(values[v]) + 1;
        memcpy(at, values[v], len);
        index[v] = at;
        at += len;
    }
    free((void *)t->values);
    free(t->values_text);
    t->values = index;
    t->values_text = text;
    return FR_OK;
}

const char *fr_table_field_name(const fr_table *t, size_t f)
{
    return t->field_names && f < t->n_cat + t->n_num ? t->field_names[f] : "";
}

long fr_table_field_index(const fr_table *t, const char *name)
{
    for (size_t f = 0; t->field_names && f < t->n_cat; f++)
        if (!strcmp(t->field_names[f], name))
            return (long)f;
    return -1;
}

fr_status fr_table_split_rows(const fr_table *t, int split, uint32_t **rows, size_t *n)
{
    size_t count = 0;
    if (t->rows > UINT32_MAX)
        return fr_fail(FR_ERR_INVALID, "feature table: %zu rows, at most 2^32 - 1 supported", t->rows);
    for (size_t r = 0; r < t->rows; r++)
        count += t->split[r] == split;
    *rows = malloc((count ? count : 1) * sizeof **rows);
    if (!*rows)
        return fr_fail_nomem("split rows", count * 4);
    size_t k = 0;
    for (size_t r = 0; r < t->rows; r++)
        if (t->split[r] == split)
            (*rows)[k++] = (uint32_t)r;
    *n = count;
    return FR_OK;
}

fr_status fr_table_random_split(fr_table *t, uint64_t seed, double train, double valid)
{
    /* Exact shares: a seeded permutation, the first train share of it for
     * training, the next valid share for validation, the rest for test. */
    if (t->rows > UINT32_MAX)
        return fr_fail(FR_ERR_INVALID, "feature table: %zu rows, at most 2^32 - 1 supported", t->rows);
    uint32_t *perm = malloc((t->rows ? t->rows : 1) * sizeof *perm);
    if (!perm)
        return fr_fail_nomem("split", t->rows * 4);
    for (size_t r = 0; r < t->rows; r++)
        perm[r] = (uint32_t)r;
    fr_rng rng;
    fr_rng_init(&rng, seed, 0, 0, FR_RNG_SPLIT);
    for (size_t i = t->rows; i > 1; i--) {
        size_t j = fr_rng_below(&rng, (uint32_t)i);
        uint32_t x = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = x;
    }
    size_t n_train = (size_t)(train * (double)t->rows + 0.5);
    size_t n_valid = (size_t)(valid * (double)t->rows + 0.5);
    for (size_t k = 0; k < t->rows; k++)
        t->split[perm[k]] = k < n_train ? FR_SPLIT_TRAIN
                            : k < n_train + n_valid ? FR_SPLIT_VALID
                                                    : FR_SPLIT_TEST;
    free(perm);
    return FR_OK;
}
