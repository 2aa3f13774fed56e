/* fedrec/table_read.h — making feature tables from text files and from
 * MovieLens, and generating synthetic ones.
 *
 * Delimited files are converted to a binary table file in two streaming
 * passes (count the rows, then parse and write them), so files of tens of
 * millions of rows convert with memory bounded by the vocabularies.
 * Categorical values are taken as text and numbered densely per field in
 * first-seen order; the table keeps every value's text and the columns'
 * names (doc/TABLE_FORMAT.md). Every malformed line is an error naming the file, the
 * line, the column and what was expected; the output file is written under
 * a temporary name and only renamed into place when complete. */
#ifndef FEDREC_TABLE_READ_H
#define FEDREC_TABLE_READ_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"
#include "fedrec/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_column_kind {
    FR_COL_SKIP = 0,
    FR_COL_CAT,       /* categorical field */
    FR_COL_NUM,       /* numerical field */
    FR_COL_LABEL,     /* binary task label: 0 or 1 (0.0 / 1.0 accepted) */
    FR_COL_SCENARIO,  /* scenario name or number */
    FR_COL_SPLIT      /* the row's part: train or 0, val / valid /
                         validation or 1, test or 2 */
} fr_column_kind;

#define FR_TABLE_MAX_COLUMNS 1024

typedef struct fr_table_columns {
    char delimiter;
    int header;                          /* first line is a header */
    size_t n_cols;
    fr_column_kind kind[FR_TABLE_MAX_COLUMNS];
    /* Expected header names (checked when header is set and the name is
     * not empty); label columns name their task. */
    char name[FR_TABLE_MAX_COLUMNS][FR_TABLE_NAME_MAX];
    /* The names of the categorical columns holding the user and the item
     * ("" both: the table has no such roles); recorded in the table for
     * `fedrec recommend`. */
    char user_field[FR_TABLE_NAME_MAX], item_field[FR_TABLE_NAME_MAX];
} fr_table_columns;

/* The processed AliExpress layout: search_id (skipped), categorical_1..16,
 * numerical_1..63, click, conversion; comma-separated with that header. */
void fr_table_columns_aliexpress(fr_table_columns *c);
/* Parse a column map: comma-separated items cat[:name], num[:name],
 * label[:name], scenario[:name], split[:name], - (skip); e.g.
 * "-,cat:user,cat:item,num,label:click,split". At most one scenario and
 * one split column. The user and item fields are kept as c had them. */
fr_status fr_table_columns_parse(const char *text, fr_table_columns *c);

/* One input file: its split (FR_SPLIT_*; FR_SPLIT_TRAIN rows go to
 * validation with probability valid_fraction, drawn per row from stream
 * (seed, 0, file index, FR_RNG_SPLIT)) and, without a scenario column, the
 * scenario name all its rows belong to. With a split column in the column
 * map each row's split is the column's and the file's is not used;
 * valid_fraction must then be 0 (the marks are kept exactly). */
typedef struct fr_table_input {
    const char *path;
    int split;
    const char *scenario;
} fr_table_input;

fr_status fr_table_convert_delimited(const fr_table_input *inputs, size_t n_inputs,
                                     const fr_table_columns *columns, double valid_fraction,
                                     uint64_t seed, const char *out_path, size_t *rows_out);

/* How MovieLens-100K becomes a table. */
typedef enum fr_movielens_variant {
    /* As the AutoIFS authors' preprocessing: the zip code whole, and their
     * 80/10/10 split row for row (pandas DataFrame.sample with
     * random_state 2021 on the frame their merges build), the same
     * whatever the seed. */
    FR_MOVIELENS_AUTOIFS = 0,
    /* fedrec's earlier build: the zip code's first two characters, and an
     * 80/10/10 split drawn from the seed (fr_table_random_split). */
    FR_MOVIELENS_SEEDED = 1
} fr_movielens_variant;

/* MovieLens-100K as a multi-scenario multi-task set, as AutoIFS builds
 * MovieLens-1M: one row per rating (in u.data's order); scenarios by age
 * (< 25, 25-34, >= 35); tasks rating > 3 and rating > 4; fields user,
 * item, gender, age bucket, occupation, zip, first genre, scenario; the
 * split of the variant (seed is used by FR_MOVIELENS_SEEDED only). dir
 * holds u.data, u.user and u.item; a user or item defined twice, or a
 * rating naming one not defined, is refused. */
fr_status fr_table_read_movielens(const char *dir, fr_movielens_variant variant, uint64_t seed, fr_table *out);

/* Synthetic data with the AliExpress schema (16 categorical fields, 63
 * numerical, click and conversion) and planted structure: a logit per task
 * is a signal shared by all scenarios (mostly interactions of the four
 * context fields), plus a scenario-specific signal, plus noise;
 * task_correlation in [-1, 1] mixes the second task's private signal with
 * the first's (negative: conflicting tasks); in the last
 * conflict_scenarios scenarios the second task's shared signal enters with
 * its sign flipped, so that there what raises the first task lowers the
 * second, against the other scenarios. Rows are written to out_path
 * in blocks (so any row count fits in memory), 80/10/10 split drawn per
 * row. */
typedef struct fr_msmt_synth {
    size_t rows, scenarios;
    size_t vocab;                   /* values of fields 1-12; fields 13-16 have min(vocab, 8) */
    double scenario_strength;       /* weight of the scenario-specific signal (0.5) */
    double task_correlation;        /* 0.5 */
    size_t conflict_scenarios;      /* scenarios (the last ones) whose tasks conflict (0) */
    double click_rate;              /* base click rate (0.2) */
    double conversion_rate;         /* base conversion rate among clicks (0.1) */
    uint64_t seed;
} fr_msmt_synth;
void fr_msmt_synth_default(fr_msmt_synth *o);
fr_status fr_msmt_synth_write(const fr_msmt_synth *o, const char *out_path);
/* The same rows in memory. */
fr_status fr_msmt_synth_make(const fr_msmt_synth *o, fr_table *out);

#ifdef __cplusplus
}
#endif
#endif
