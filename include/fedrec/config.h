/* fedrec/config.h — the typed configuration.
 *
 * Every key is declared once in a schema (section, name, type, default,
 * allowed range or choices, one-line doc). A configuration starts at the
 * defaults; INI files and `section.key=value` overrides then set keys, each
 * value checked against the schema. Errors name the file and line (or the
 * override), the key, the value and what was expected; unknown keys get the
 * nearest valid key suggested. */
#ifndef FEDREC_CONFIG_H
#define FEDREC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_config_type {
    FR_CFG_INT,      /* 64-bit signed integer, range [min, max] */
    FR_CFG_UINT64,   /* 64-bit unsigned integer */
    FR_CFG_FLOAT,    /* finite number, range with open or closed ends */
    FR_CFG_BOOL,     /* true/false, yes/no, on/off, 1/0 */
    FR_CFG_STRING,   /* any text (may be empty) */
    FR_CFG_ENUM,     /* one of the choices "a|b|c" */
    FR_CFG_INT_LIST  /* comma-separated integers, each in [min, max] */
} fr_config_type;

typedef struct fr_config_key {
    const char *section;
    const char *name;
    fr_config_type type;
    const char *default_value;
    double min, max;     /* ranges of INT, FLOAT, INT_LIST */
    int min_open, max_open; /* FLOAT: the end is excluded */
    const char *choices; /* ENUM: "a|b|c" */
    const char *doc;
} fr_config_key;

/* The schema, in documentation order. */
const fr_config_key *fr_config_schema(size_t *count);

typedef struct fr_config fr_config;

/* A configuration holding every key's default. */
fr_status fr_config_create(fr_config **out);
void fr_config_free(fr_config *cfg);

/* Apply an INI file / INI text. origin names the text in messages. */
fr_status fr_config_load_file(fr_config *cfg, const char *path);
fr_status fr_config_load_string(fr_config *cfg, const char *text,
                                const char *origin);
/* Set one key ("section.key") from text; origin names where it came from
 * ("--set"). */
fr_status fr_config_set(fr_config *cfg, const char *key, const char *value,
                        const char *origin);
/* "section.key=value" form of fr_config_set. */
fr_status fr_config_set_arg(fr_config *cfg, const char *assignment,
                            const char *origin);

/* Defaults, then the file (if path is not NULL), then each override. */
fr_status fr_config_build(const char *path, char *const *overrides,
                          size_t n_overrides, fr_config **out);

/* Typed getters. A key that is not in the schema, or of another type, is
 * FR_ERR_INVALID (a programming error). */
fr_status fr_config_get_int(const fr_config *cfg, const char *key, int64_t *out);
fr_status fr_config_get_uint64(const fr_config *cfg, const char *key, uint64_t *out);
fr_status fr_config_get_float(const fr_config *cfg, const char *key, double *out);
fr_status fr_config_get_bool(const fr_config *cfg, const char *key, int *out);
/* STRING and ENUM keys; the pointer lives as long as the value. */
fr_status fr_config_get_string(const fr_config *cfg, const char *key,
                               const char **out);
/* INT_LIST: *out points at *count values owned by cfg (0 values, *out
 * NULL, for a blank value). */
fr_status fr_config_get_int_list(const fr_config *cfg, const char *key,
                                 const int64_t **out, size_t *count);
/* Where a key's value came from: "default", "FILE:LINE" or the origin. */
const char *fr_config_origin(const fr_config *cfg, const char *key);

/* The effective configuration as an INI text that loads back to it. */
fr_status fr_config_print(const fr_config *cfg, FILE *out);
/* The same into a malloc'ed string. */
fr_status fr_config_print_string(const fr_config *cfg, char **out);
/* The schema as a table: plain text aligned, or Markdown. */
fr_status fr_config_print_keys(FILE *out, int markdown);

#ifdef __cplusplus
}
#endif
#endif
