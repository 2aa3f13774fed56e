/* report_table.h — a report of `fedrec train --report` (CSV with a header
 * row, or JSON lines) read back as columns of numbers, for `fedrec plot`.
 * Every column is kept, whatever its name or how many there are; the
 * per-scenario x task cells of a JSON-lines row are named as the CSV
 * report names them (valid_auc_SCENARIO_TASK). */
#ifndef FR_CLI_REPORT_TABLE_H
#define FR_CLI_REPORT_TABLE_H

#include <stddef.h>

typedef struct fr_report_column {
    char *name;
    double *v; /* one value per row; NaN where a row has none */
} fr_report_column;

typedef struct fr_report_table {
    fr_report_column *cols; /* cols[0] is the x axis: round or epoch */
    size_t n_cols, rows, cap_cols, cap_rows;
} fr_report_table;

/* Read path. Returns 1, or 0 with "PATH:LINE: what is wrong" in err. */
int fr_report_table_read(const char *path, fr_report_table *t, char *err, size_t errn);
void fr_report_table_free(fr_report_table *t);
/* The index of the column named name, or -1. */
long fr_report_table_find(const fr_report_table *t, const char *name);

#endif
