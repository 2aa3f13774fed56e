/* export_files.h — `fedrec export`'s files: arrays as NumPy .npy files
 * and as CSV (one row per line, the row's original id first when the rows
 * are users or items), the id lists, and manifest.json saying what each
 * file holds. Every file is written atomically. A job kind's exporter
 * (saved_*.c) adds its arrays one by one, then closes the export. */
#ifndef FR_CLI_EXPORT_FILES_H
#define FR_CLI_EXPORT_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fedrec/error.h"
#include "fedrec/model_file.h"

typedef struct fr_export {
    const char *dir;
    int npy, csv;           /* which formats */
    FILE *manifest;         /* the "files" entries, gathered in memory */
    char *manifest_text;
    size_t manifest_len;
    size_t n_files;
} fr_export;

/* Start an export into dir (created if missing; its parent must exist). */
fr_status fr_export_begin(fr_export *e, const char *dir, int npy, int csv);

/* An array: stem.npy and/or stem.csv. dtype F32, I32 or I64; rows x cols
 * row-major. row_ids (may be NULL): the original id of each row, written
 * as the CSV's first column (header `id_header`) and named in the
 * manifest as `ids_file`; col_header: the CSV's column names prefix
 * ("e" gives e0, e1, ...). what: one line for the manifest. */
fr_status fr_export_array(fr_export *e, const char *stem, const char *what, fr_model_dtype dtype,
                          size_t rows, size_t cols, const void *data, const char *const *row_ids,
                          const char *id_header, const char *ids_file, const char *col_header);
/* An id list: one id per line (stem.txt), in row order. */
fr_status fr_export_ids(fr_export *e, const char *file, const char *what, const char *const *ids, size_t n);
/* A CSV of (user, item, row) triples or any small table the caller
 * writes: the file is opened atomically, `fill` writes its lines. */
fr_status fr_export_table(fr_export *e, const char *file, const char *what,
                          fr_status (*fill)(FILE *f, void *arg), void *arg);
/* manifest.json: {"model": ..., "kind": ..., plus the caller's facts (a
 * JSON object's members, "" for none), "files": [...]}. */
fr_status fr_export_finish(fr_export *e, const char *model_path, const char *kind, const char *facts);
/* Free what an unfinished export holds (after a failure). */
void fr_export_abort(fr_export *e);

/* A CSV field: quoted when it holds a comma, quote or space at an end. */
void fr_csv_field(FILE *f, const char *s);

#endif
