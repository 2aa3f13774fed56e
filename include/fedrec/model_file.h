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

#ifdef __cplusplus
}
#endif
#endif
