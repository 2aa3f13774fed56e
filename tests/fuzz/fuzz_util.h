/* fuzz_util.h — what the fuzz targets share: the readers take paths, so a
 * target writes its input to files in a private temporary folder; a target
 * whose input is several files cuts it at a separator; and every refused
 * input must come with a message naming the file it refused. */
#ifndef FR_FUZZ_UTIL_H
#define FR_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

/* The separator between the files of a multi-file input. */
#define FR_FUZZ_SEPARATOR "\n%%%%\n"

/* Write size bytes to `name` in the target's temporary folder (made on
 * first use, removed at exit) and return its path (static storage, one per
 * name slot 0..7). Aborts when the file cannot be written: that is the
 * harness failing, not the reader. */
const char *fr_fuzz_file(unsigned slot, const char *name, const uint8_t *data, size_t size);
/* The temporary folder. */
const char *fr_fuzz_dir(void);

/* Cut data into at most max_parts pieces at FR_FUZZ_SEPARATOR; returns the
 * count. part[k], len[k] point into data. */
size_t fr_fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len,
                     size_t max_parts);

/* A reader refused its input: its status must be an error code, and the
 * message must name `path` (the file) — else abort with what was seen, so
 * the fuzzer reports it. */
void fr_fuzz_expect_named(fr_status s, const char *path);

/* Abort with a message (a property the target checks failed). */
void fr_fuzz_fail(const char *what, const char *detail);

/* Write the parts of a multi-file input (cut at FR_FUZZ_SEPARATOR) to
 * names[0..n) in slots 0..n-1, a missing part as an empty file; paths[k]
 * get the paths. */
void fr_fuzz_files(const uint8_t *data, size_t size, const char *const *names, size_t n,
                   const char **paths);
/* Whether the last error message names one of paths[0..n). */
int fr_fuzz_names_one(const char *const *paths, size_t n);

/* A malloc'ed copy of data (at least one byte), which a target may edit
 * (a fixed checksum) before writing it; aborts when out of memory. */
uint8_t *fr_fuzz_copy(const uint8_t *data, size_t size);

/* For targets without start-up work. */
#define FR_FUZZ_NO_INIT                                                    \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                    \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                     \
    {                                                                      \
        (void)argc;                                                        \
        (void)argv;                                                        \
        return 0;                                                          \
    }

/* The folder given in FR_FUZZ_SEED_DIR, if any: targets of binary formats
 * write valid seed inputs there at start-up. */
const char *fr_fuzz_seed_dir(void);
void fr_fuzz_write_seed(const char *name, const void *data, size_t size);
#endif
