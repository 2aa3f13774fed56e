/* fedrec/model_file.h — saving and loading a trained model.
 *
 * A model file holds named arrays and a free-form metadata text (the CLI
 * stores the effective configuration there, so a saved model can be
 * rebuilt from the file alone). Two ways in:
 * - a parameter set (fedrec/params.h): every parameter's name, role,
 *   shape and float values (fr_model_save / fr_model_load);
 * - plain host arrays of floats, integers or text (fr_model_save_arrays /
 *   fr_model_open), for models kept outside a parameter set: the rating
 *   engine's tables, every client's personal part, the original ids.
 *
 * Files are written crash-safe: to a temporary name in the same folder,
 * flushed and fsync'ed, then renamed over the destination, so a reader sees
 * either the old file or the complete new one. A version number and a
 * CRC-32 of the whole content let the loader refuse truncated, corrupted,
 * foreign or wrong-version files, and a parameter set whose names or shapes
 * differ from the file's is refused too: nothing is imported partially.
 * Version 2 files tag each array with its element type; version 1 files
 * (floats only) are still read. */
#ifndef FEDREC_MODEL_FILE_H
#define FEDREC_MODEL_FILE_H

#include <stddef.h>
#include "fedrec/error.h"
#include "fedrec/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_MODEL_FILE_VERSION 2u

/* Write every parameter of set and the metadata text (may be NULL). */
fr_status fr_model_save(const char *path, const fr_param_set *set,
                        const char *meta);

/* Read the metadata text of a model file (after checking the whole file).
 * *meta_out is malloc'ed; free() it. */
fr_status fr_model_read_meta(const char *path, char **meta_out);

/* Load the values of a model file into set, whose parameters must match the
 * file's one for one (same names, order, roles and shapes). */
fr_status fr_model_load(const char *path, fr_param_set *set);

/* A model of several parameter sets (a federated job's clients, a model's
 * auxiliary networks): the file holds set after set, each parameter named
 * prefix + its name ("client.2/tower.0.fc0.weight"). */
typedef struct fr_model_part {
    const char *prefix; /* "" or NULL: the names as they are */
    fr_param_set *set;
} fr_model_part;

fr_status fr_model_save_parts(const char *path, const fr_model_part *parts, size_t n_parts,
                              const char *meta);
/* Load into the parts, which must match the file's parameters one for one
 * (prefixed names, order, roles, shapes); nothing is imported otherwise.
 * Data arrays after the parameters (FR_MODEL_DATA_PREFIX) are skipped. */
fr_status fr_model_load_parts(const char *path, const fr_model_part *parts, size_t n_parts);

/* Everything a model file holds, on the host (for exporters and tools that
 * read a model without rebuilding it). */
typedef struct fr_model_entry {
    char *name;
    unsigned role, group; /* fr_role as stored */
    size_t rows, cols;
    float *values;        /* rows x cols, row-major */
} fr_model_entry;

typedef struct fr_model_contents {
    char *meta;
    fr_model_entry *entries;
    size_t n_entries;
} fr_model_contents;

/* Read and check (magic, version, checksum, layout) the whole file; a file
 * holding arrays of other types than float32 is refused (fr_model_open
 * below reads every type). */
fr_status fr_model_read_all(const char *path, fr_model_contents *out);
void fr_model_contents_free(fr_model_contents *c);

/* ---- plain arrays ---------------------------------------------------------- */

typedef enum fr_model_dtype {
    FR_MODEL_F32 = 0,  /* float */
    FR_MODEL_I32,      /* int32_t */
    FR_MODEL_I64,      /* int64_t */
    FR_MODEL_TEXT      /* rows strings, each NUL-terminated, one after
                        * another: cols bytes in all */
} fr_model_dtype;

const char *fr_model_dtype_name(fr_model_dtype t);

typedef struct fr_model_array {
    const char *name;
    fr_model_dtype dtype;
    size_t rows, cols;   /* TEXT: strings, bytes */
    const void *data;    /* row-major; NULL only when empty */
} fr_model_array;

/* Write n arrays (names unique, at most 4095 bytes) and the metadata text
 * (may be NULL). */
fr_status fr_model_save_arrays(const char *path, const fr_model_array *arrays,
                               size_t n, const char *meta);

/* fr_model_save_parts with plain arrays after the parameters: data the model's users
 * need besides its parameters (the ids and features `fedrec recommend`
 * ranks with). Their names must start with FR_MODEL_DATA_PREFIX, which no
 * parameter's does; fr_model_load_parts passes over them. */
#define FR_MODEL_DATA_PREFIX "data/"
fr_status fr_model_save_parts_data(const char *path, const fr_model_part *parts, size_t n_parts,
                                   const fr_model_array *data, size_t n_data, const char *meta);

/* A model file read whole and checked (magic, version, length, checksum,
 * every array's size; TEXT arrays hold exactly rows strings). */
typedef struct fr_model_file fr_model_file;

fr_status fr_model_open(const char *path, fr_model_file **out);
void fr_model_close(fr_model_file *m);
const char *fr_model_path(const fr_model_file *m);
const char *fr_model_meta(const fr_model_file *m);
size_t fr_model_count(const fr_model_file *m);
const fr_model_array *fr_model_at(const fr_model_file *m, size_t i);
/* The array called name, or NULL. */
const fr_model_array *fr_model_find(const fr_model_file *m, const char *name);
/* The array called name, of type dtype and shape rows x cols (0: any), or
 * FR_ERR_FORMAT naming the file, the array and what was expected. */
fr_status fr_model_get(const fr_model_file *m, const char *name, fr_model_dtype dtype,
                       size_t rows, size_t cols, const fr_model_array **out);
/* The strings of a TEXT array: out[i] points into the array (valid while
 * m is open); *out is malloc'ed, free() it (not the strings). */
fr_status fr_model_strings(const fr_model_file *m, const fr_model_array *a, const char ***out);

#ifdef __cplusplus
}
#endif
#endif
