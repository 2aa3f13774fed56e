/* fedrec/table.h — feature tables for multi-scenario multi-task models.
 *
 * A table is a set of rows, each with n_cat categorical fields (dense
 * ids), n_num numerical fields, a scenario id, n_tasks binary labels and a
 * split tag (train, validation, test). Categorical ids are per field:
 * field f's ids are in [0, vocab[f]); field_offset[f] + id is the value's
 * row in one embedding table of vocab_total rows serving every field.
 *
 * The values live in column groups, each contiguous: the categorical ids
 * (rows x n_cat, one row after another), the numbers (rows x n_num), the
 * scenarios, the labels (rows x n_tasks, 0 or 1) and the split tags. A
 * table is either built in memory (the readers and the generator) or
 * memory-mapped from fedrec's binary table file (doc/TABLE_FORMAT.md), so
 * tens of millions of rows train with memory bounded by the model: the
 * trainer walks the rows in blocks and tells the kernel when it is done
 * with a block (fr_table_release_rows).
 *
 * A table may also know what its fields mean (table files of version 2;
 * the MovieLens reader and `fedrec data convert` fill it): which
 * categorical field is the user and which the item, every field's name,
 * and the original text of every categorical value, one string per
 * distinct value (never per row). `fedrec recommend` and `fedrec export`
 * of a multi-scenario model need them. */
#ifndef FEDREC_TABLE_H
#define FEDREC_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FR_SPLIT_TRAIN = 0, FR_SPLIT_VALID = 1, FR_SPLIT_TEST = 2 };

#define FR_TABLE_MAX_TASKS 16
#define FR_TABLE_MAX_SCENARIOS 256
#define FR_TABLE_NAME_MAX 64

typedef struct fr_table {
    size_t rows, n_cat, n_num, n_tasks, n_scenarios;
    int32_t *cat;        /* rows x n_cat, field f's ids in [0, vocab[f]) */
    float *num;          /* rows x n_num */
    int32_t *scenario;   /* rows, in [0, n_scenarios) */
    uint8_t *labels;     /* rows x n_tasks, 0 or 1 */
    uint8_t *split;      /* rows, FR_SPLIT_* */
    size_t *vocab;       /* n_cat: distinct ids of each field */
    size_t *field_offset;/* n_cat: first global id of each field */
    size_t vocab_total;
    char task_names[FR_TABLE_MAX_TASKS][FR_TABLE_NAME_MAX];
    char scenario_names[FR_TABLE_MAX_SCENARIOS][FR_TABLE_NAME_MAX];
    /* Optional knowledge of the fields (all zero / NULL: unknown). With
     * has_roles set, user_field and item_field are the categorical fields
     * holding the user and the item (two different fields). field_names:
     * n_cat + n_num names (categorical fields first; "" unnamed), or NULL.
     * values: vocab_total strings, values[field_offset[f] + id] the
     * original text of field f's id, or NULL; values_text holds them for
     * an in-memory table (NULL for a mapped one, whose strings are in the
     * mapping). */
    int has_roles;
    size_t user_field, item_field;
    char (*field_names)[FR_TABLE_NAME_MAX];
    const char **values;
    char *values_text;
    /* Storage: heap arrays, or one read-only mapping of a table file. */
    void *map;
    size_t map_bytes;
} fr_table;

/* An empty in-memory table of `rows` rows (values zero, split train);
 * vocab[] zero: the caller fills the ids and then calls
 * fr_table_set_vocab. */
fr_status fr_table_alloc(fr_table *t, size_t rows, size_t n_cat, size_t n_num, size_t n_tasks,
                         size_t n_scenarios);
/* Set the per-field vocabularies and the offsets derived from them. */
void fr_table_set_vocab(fr_table *t, const size_t *vocab);
void fr_table_free(fr_table *t);
/* Name the n_cat + n_num fields (copied; longer names are cut). */
fr_status fr_table_set_field_names(fr_table *t, const char *const *names);
/* The original text of every categorical value (vocab_total strings in
 * global id order, copied into the table); after fr_table_set_vocab. */
fr_status fr_table_set_values(fr_table *t, const char *const *values);
/* The categorical field called name, or -1. */
long fr_table_field_index(const fr_table *t, const char *name);
/* Field f's name ("" when unnamed or unknown). */
const char *fr_table_field_name(const fr_table *t, size_t f);

/* A 64-bit hash of the table's contents: sizes, vocabularies, every
 * column, the split marks, the names (reads every row: a mapped table is
 * paged in). The ranks of a job compare it. */
uint64_t fr_table_fingerprint(const fr_table *t);
/* Rows of each split, in row order (the caller frees *rows). */
fr_status fr_table_split_rows(const fr_table *t, int split, uint32_t **rows, size_t *n);
/* Seeded random split of every row: exactly round(train * rows) rows for
 * training, round(valid * rows) for validation, the rest for test, chosen
 * by a permutation from stream (seed, 0, 0, FR_RNG_SPLIT). */
fr_status fr_table_random_split(fr_table *t, uint64_t seed, double train, double valid);

/* Binary table files (doc/TABLE_FORMAT.md). Writing goes to a temporary
 * name renamed into place at the end, so a failed write leaves any older
 * file untouched. */
fr_status fr_table_save(const fr_table *t, const char *path);
/* Map a table file read-only. The header and the sizes are checked (magic,
 * version, header checksum, file length, ids within their vocabularies
 * only when check_values is set — that reads every row). */
fr_status fr_table_map(fr_table *t, const char *path, int check_values);
/* Drop the pages of rows [begin, end) from memory (mapped tables; a no-op
 * for heap tables): the trainer calls it after a block of rows. */
void fr_table_release_rows(const fr_table *t, size_t begin, size_t end);

/* Streaming writer for tables too large to build in memory: the row count
 * is declared up front, rows are appended in order, vocabularies and names
 * are given at the end. */
typedef struct fr_table_writer fr_table_writer;
fr_status fr_table_writer_open(const char *path, size_t rows, size_t n_cat, size_t n_num,
                               size_t n_tasks, fr_table_writer **out);
/* Append n rows (arrays laid out as in fr_table). */
fr_status fr_table_writer_append(fr_table_writer *w, size_t n, const int32_t *cat,
                                 const float *num, const int32_t *scenario,
                                 const uint8_t *labels, const uint8_t *split);
/* meta supplies vocab, n_scenarios, the names and, when it has them, the
 * roles, field names and values (its row arrays are not read). Fails unless exactly the declared rows were appended. */
fr_status fr_table_writer_commit(fr_table_writer *w, const fr_table *meta);
/* Give up: the temporary file is removed. */
void fr_table_writer_abort(fr_table_writer *w);

#ifdef __cplusplus
}
#endif
#endif
