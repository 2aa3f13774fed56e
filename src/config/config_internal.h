/* config_internal.h — the configuration object's insides (internal). */
#ifndef FR_CONFIG_INTERNAL_H
#define FR_CONFIG_INTERNAL_H

#include "fedrec/config.h"

typedef struct fr_config_value {
    char *text;        /* canonical text of the value */
    char *origin;      /* "default", "FILE:LINE", "--set" */
    int64_t i;         /* INT, BOOL */
    uint64_t u;        /* UINT64 */
    double f;          /* FLOAT */
    int64_t *list;     /* INT_LIST */
    size_t list_len;
} fr_config_value;

struct fr_config {
    size_t n_keys;
    const fr_config_key *keys;
    fr_config_value *values;
};

/* Index of "section.key" or of (section, name); -1 if unknown. */
long fr_config_find(const fr_config *cfg, const char *dotted);
long fr_config_find2(const fr_config *cfg, const char *section, const char *name);
/* Parse and store text as key index k. `where` prefixes messages
 * ("conf/a.ini:12" or "--set"). */
fr_status fr_config_assign(fr_config *cfg, long k, const char *text,
                           const char *where);
/* A range bound as text. */
void fr_config_format_number(char *buf, size_t n, double v);
/* An ENUM key's choices as "a, b, c". */
void fr_config_choices_text(const fr_config_key *k, char *buf, size_t n);
/* Nearest "section.key" to a misspelt one, or NULL when none is close. */
const char *fr_config_suggest(const fr_config *cfg, const char *dotted,
                              char *buf, size_t n);
/* Nearest section name, or NULL. */
const char *fr_config_suggest_section(const fr_config *cfg, const char *section);

#endif
