/* fedrec/model_file.h — saving and loading a model's parameters.
 *
 * A model file holds every parameter of a parameter set (name, role, shape,
 * values) and a free-form metadata text (the CLI stores the effective
 * configuration there, so a saved model can be rebuilt from the file alone).
 *
 * Files are written crash-safe: to a temporary name in the same folder,
 * flushed and fsync'ed, then renamed over the destination, so a reader sees
 * either the old file or the complete new one. A version number and a
 * CRC-32 of the whole content let the loader refuse truncated, corrupted,
 * foreign or wrong-version files, and a parameter set whose names or shapes
 * differ from the file's is refused too: nothing is imported partially. */
#ifndef FEDREC_MODEL_FILE_H
#define FEDREC_MODEL_FILE_H

#include "fedrec/error.h"
#include "fedrec/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_MODEL_FILE_VERSION 1u

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
 * (prefixed names, order, roles, shapes); nothing is imported otherwise. */
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

/* Read and check (magic, version, checksum, layout) the whole file. */
fr_status fr_model_read_all(const char *path, fr_model_contents *out);
void fr_model_contents_free(fr_model_contents *c);

#ifdef __cplusplus
}
#endif
#endif
