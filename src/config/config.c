/* config.c — the configuration object: defaults, checked assignment of
 * values by type, typed getters, and nearest-key suggestions (edit
 * distance over "section.key"). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "core/error_internal.h"

static char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

long fr_config_find2(const fr_config *cfg, const char *section, const char *name)
{
    for (size_t k = 0; k < cfg->n_keys; k++)
        if (!strcmp(cfg->keys[k].section, section) && !strcmp(cfg->keys[k].name, name))
            return (long)k;
    return -1;
}

long fr_config_find(const fr_config *cfg, const char *dotted)
{
    const char *dot = strchr(dotted, '.');
    if (!dot || dot - dotted >= 64)
        return -1;
    char section[64];
    memcpy(section, dotted, (size_t)(dot - dotted));
    section[dot - dotted] = '\0';
    return fr_config_find2(cfg, section, dot + 1);
}

/* ---- what a key accepts, in words ---------------------------------------- */

void fr_config_choices_text(const fr_config_key *k, char *buf, size_t n)
{
    size_t len = 0;
    for (const char *c = k->choices; *c && len + 3 < n; c++) {
        if (*c == '|') {
            buf[len++] = ',';
            buf[len++] = ' ';
        } else {
            buf[len++] = *c;
        }
    }
    buf[len] = '\0';
}

void fr_config_format_number(char *buf, size_t n, double v)
{
    /* Whole bounds as whole numbers (1000000000000, not 1e+12). */
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.10g", v);
}

static void expected_text(const fr_config_key *k, char *buf, size_t n)
{
    char lo[32], hi[32];
    fr_config_format_number(lo, sizeof lo, k->min);
    fr_config_format_number(hi, sizeof hi, k->max);
    switch (k->type) {
    case FR_CFG_INT:
        snprintf(buf, n, "an integer in [%s, %s]", lo, hi);
        break;
    case FR_CFG_UINT64:
        snprintf(buf, n, "an integer in [0, 18446744073709551615]");
        break;
    case FR_CFG_FLOAT:
        snprintf(buf, n, "a number in %c%s, %s%c", k->min_open ? '(' : '[', lo, hi,
                 k->max_open ? ')' : ']');
        break;
    case FR_CFG_BOOL:
        snprintf(buf, n, "true or false (also yes/no, on/off, 1/0)");
        break;
    case FR_CFG_STRING:
        snprintf(buf, n, "any text");
        break;
    case FR_CFG_ENUM: {
        char choices[200];
        fr_config_choices_text(k, choices, sizeof choices);
        snprintf(buf, n, "one of %s", choices);
        break;
    }
    case FR_CFG_INT_LIST:
        snprintf(buf, n, "a comma-separated list of integers in [%s, %s]", lo, hi);
        break;
    case FR_CFG_DELIMITER:
        snprintf(buf, n, "one character, or tab, comma, semicolon, space, pipe%s", *k->default_value ? "" : ", or empty");
        break;
    }
}

/* The names of the separators an INI value cannot hold or show well. */
static const struct {
    const char *name;
    char c;
} delimiter_names[] = {{"tab", '\t'}, {"comma", ','}, {"semicolon", ';'}, {"space", ' '}, {"pipe", '|'}};

static int parse_delimiter(const char *text, int64_t *out)
{
    for (size_t k = 0; k < sizeof delimiter_names / sizeof delimiter_names[0]; k++)
        if (!strcmp(text, delimiter_names[k].name)) {
            *out = delimiter_names[k].c;
            return 1;
        }
    if (strlen(text) != 1)
        return 0;
    *out = (unsigned char)text[0];
    return 1;
}

/* ---- parsing a value ------------------------------------------------------ */

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return 0;
    *out = v;
    return 1;
}

static int enum_has(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && !strncmp(c, v, n))
            return 1;
        if (!bar)
            break;
        c = bar + 1;
    }
    return 0;
}

static int in_range(const fr_config_key *k, double v)
{
    if (k->min_open ? !(v > k->min) : !(v >= k->min))
        return 0;
    if (k->max_open ? !(v < k->max) : !(v <= k->max))
        return 0;
    return 1;
}

/* Values must survive being printed into an INI file and read back: one
 * line, no blanks at either end, nothing inih would take for a comment. */
static const char *unprintable_reason(const char *text)
{
    size_t len = strlen(text);
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return "control characters (such as a newline) are not allowed";
    if (len && (text[0] == ' ' || text[0] == '\t' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        return "blanks at either end are not allowed";
    if (text[0] == ';' || text[0] == '#' || strstr(text, " ;") || strstr(text, "\t;"))
        return "a ';' or '#' there would start a comment in an INI file";
    return NULL;
}

fr_status fr_config_assign(fr_config *cfg, long idx, const char *text,
                           const char *where)
{
    const fr_config_key *k = &cfg->keys[idx];
    fr_config_value nv = {0};
    int ok = 1;
    const char *why = unprintable_reason(text);
    if (why && k->type == FR_CFG_DELIMITER && !strcmp(text, ";"))
        return fr_fail(FR_ERR_CONFIG, "%s: %s.%s = ';': a ';' would start a comment in an INI file; write %s.%s = semicolon",
                       where, k->section, k->name, k->section, k->name);
    if (why)
        return fr_fail(FR_ERR_CONFIG, "%s: %s.%s = '%s': %s", where, k->section, k->name, text, why);
    switch (k->type) {
    case FR_CFG_INT:
        ok = parse_int(text, &nv.i) && in_range(k, (double)nv.i);
        break;
    case FR_CFG_UINT64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        ok = *text && *text != '-' && *text != '+' && end != text && !*end && errno != ERANGE;
        nv.u = v;
        break;
    }
    case FR_CFG_FLOAT: {
        char *end;
        errno = 0;
        nv.f = strtod(text, &end);
        ok = end != text && !*end && errno != ERANGE && isfinite(nv.f) && in_range(k, nv.f);
        break;
    }
    case FR_CFG_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1"))
            nv.i = 1;
        else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") ||
                 !strcasecmp(text, "off") || !strcmp(text, "0"))
            nv.i = 0;
        else
            ok = 0;
        break;
    case FR_CFG_STRING:
        break;
    case FR_CFG_ENUM:
        ok = enum_has(k->choices, text);
        break;
    case FR_CFG_DELIMITER:
        /* a key whose default is empty may be empty: the reader then
         * takes another key's separator (mtrec.relation_delimiter) */
        if (!*text && !*k->default_value)
            nv.i = 0;
        else
            ok = parse_delimiter(text, &nv.i);
        break;
    case FR_CFG_INT_LIST: {
        /* A blank value is an empty list: keys whose list may be absent
         * (msmt.level_widths) use it; the others refuse an empty list
         * where they read it. */
        const char *first = text;
        while (*first == ' ' || *first == '\t')
            first++;
        if (!*first) {
            nv.list = NULL;
            nv.list_len = 0;
            break;
        }
        size_t n = 1;
        for (const char *c = text; *c; c++)
            n += *c == ',';
        nv.list = malloc(n * sizeof *nv.list);
        if (!nv.list)
            return fr_fail_nomem("configuration list", n * sizeof *nv.list);
        char item[64];
        const char *c = text;
        for (size_t i = 0; ok && i < n; i++) {
            const char *comma = strchr(c, ',');
            size_t len = comma ? (size_t)(comma - c) : strlen(c);
            while (len && (*c == ' ' || *c == '\t')) {
                c++;
                len--;
            }
            if (len == 0 || len >= sizeof item) {
                ok = 0;
                break;
            }
            memcpy(item, c, len);
            item[len] = '\0';
            ok = parse_int(item, &nv.list[i]) && in_range(k, (double)nv.list[i]);
            c = comma ? comma + 1 : c + len;
        }
        nv.list_len = n;
        break;
    }
    }
    if (!ok) {
        free(nv.list);
        char expected[256];
        expected_text(k, expected, sizeof expected);
        return fr_fail(FR_ERR_CONFIG, "%s: %s.%s = '%s': expected %s", where, k->section, k->name,
                       text, expected);
    }
    nv.text = dup_text(text);
    nv.origin = dup_text(where);
    if (!nv.text || !nv.origin) {
        free(nv.text);
        free(nv.origin);
        free(nv.list);
        return fr_fail_nomem("configuration value", strlen(text));
    }
    fr_config_value *old = &cfg->values[idx];
    free(old->text);
    free(old->origin);
    free(old->list);
    *old = nv;
    return FR_OK;
}

fr_status fr_config_create(fr_config **out)
{
    fr_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return fr_fail_nomem("configuration", sizeof *cfg);
    cfg->keys = fr_config_schema(&cfg->n_keys);
    cfg->values = calloc(cfg->n_keys, sizeof *cfg->values);
    if (!cfg->values) {
        size_t bytes = cfg->n_keys * sizeof *cfg->values;
        free(cfg);
        return fr_fail_nomem("configuration values", bytes);
    }
    for (size_t k = 0; k < cfg->n_keys; k++) {
        fr_status s = fr_config_assign(cfg, (long)k, cfg->keys[k].default_value, "default");
        if (s != FR_OK) {
            fr_config_free(cfg);
            return s;
        }
    }
    *out = cfg;
    return FR_OK;
}

void fr_config_free(fr_config *cfg)
{
    if (!cfg)
        return;
    for (size_t k = 0; k < cfg->n_keys; k++) {
        free(cfg->values[k].text);
        free(cfg->values[k].origin);
        free(cfg->values[k].list);
    }
    free(cfg->values);
    free(cfg);
}

/* ---- suggestions --------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *fr_config_suggest(const fr_config *cfg, const char *dotted,
                              char *buf, size_t n)
{
    size_t best = (size_t)-1;
    const char *dot = strchr(dotted, '.');
    for (size_t k = 0; k < cfg->n_keys; k++) {
        char full[160];
        snprintf(full, sizeof full, "%s.%s", cfg->keys[k].section, cfg->keys[k].name);
        size_t d = edit_distance(dotted, full);
        /* A right key name in the wrong section, or without its section,
         * is a good suggestion too. */
        if (dot && !strcmp(dot + 1, cfg->keys[k].name) && d > 2)
            d = 2;
        if (!dot) {
            size_t dn = edit_distance(dotted, cfg->keys[k].name);
            if (dn < d)
                d = dn;
        }
        if (d < best) {
            best = d;
            snprintf(buf, n, "%s", full);
        }
    }
    return best <= 3 ? buf : NULL;
}

const char *fr_config_suggest_section(const fr_config *cfg, const char *section)
{
    size_t best = (size_t)-1;
    const char *found = NULL;
    for (size_t k = 0; k < cfg->n_keys; k++) {
        size_t d = edit_distance(section, cfg->keys[k].section);
        if (d < best) {
            best = d;
            found = cfg->keys[k].section;
        }
    }
    return best <= 3 ? found : NULL;
}

/* ---- setting and getting --------------------------------------------------- */

static fr_status unknown_key(const fr_config *cfg, const char *where, const char *dotted)
{
    char buf[160];
    const char *near = fr_config_suggest(cfg, dotted, buf, sizeof buf);
    if (near)
        return fr_fail(FR_ERR_CONFIG, "%s: unknown key '%s' (did you mean %s?)", where, dotted, near);
    return fr_fail(FR_ERR_CONFIG, "%s: unknown key '%s' ('fedrec config --keys' lists them)",
                   where, dotted);
}

fr_status fr_config_set(fr_config *cfg, const char *key, const char *value,
                        const char *origin)
{
    long k = fr_config_find(cfg, key);
    if (k < 0)
        return unknown_key(cfg, origin, key);
    /* A shell-quoted override may carry blanks around the value. */
    while (*value == ' ' || *value == '\t')
        value++;
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    char *trimmed = malloc(len + 1);
    if (!trimmed)
        return fr_fail_nomem("configuration value", len + 1);
    memcpy(trimmed, value, len);
    trimmed[len] = '\0';
    fr_status s = fr_config_assign(cfg, k, trimmed, origin);
    free(trimmed);
    return s;
}

fr_status fr_config_set_arg(fr_config *cfg, const char *assignment,
                            const char *origin)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return fr_fail(FR_ERR_CONFIG, "%s: '%s': expected section.key=value", origin, assignment);
    char key[160];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof key)
        return fr_fail(FR_ERR_CONFIG, "%s: key '%.*s...' is too long", origin, 40, assignment);
    memcpy(key, assignment, len);
    key[len] = '\0';
    return fr_config_set(cfg, key, eq + 1, origin);
}

fr_status fr_config_build(const char *path, char *const *overrides,
                          size_t n_overrides, fr_config **out)
{
    fr_config *cfg;
    FR_TRY(fr_config_create(&cfg));
    fr_status s = path ? fr_config_load_file(cfg, path) : FR_OK;
    for (size_t i = 0; s == FR_OK && i < n_overrides; i++)
        s = fr_config_set_arg(cfg, overrides[i], "--set");
    if (s != FR_OK) {
        fr_config_free(cfg);
        return s;
    }
    *out = cfg;
    return FR_OK;
}

static fr_status lookup(const fr_config *cfg, const char *key, fr_config_type type,
                        const fr_config_value **v)
{
    long k = fr_config_find(cfg, key);
    if (k < 0)
        return fr_fail(FR_ERR_INVALID, "configuration key '%s' is not in the schema", key);
    if (cfg->keys[k].type != type &&
        !(type == FR_CFG_STRING && (cfg->keys[k].type == FR_CFG_ENUM || cfg->keys[k].type == FR_CFG_DELIMITER)))
        return fr_fail(FR_ERR_INVALID, "configuration key '%s' read with the wrong type", key);
    *v = &cfg->values[k];
    return FR_OK;
}

fr_status fr_config_get_int(const fr_config *cfg, const char *key, int64_t *out)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_INT, &v));
    *out = v->i;
    return FR_OK;
}

fr_status fr_config_get_uint64(const fr_config *cfg, const char *key, uint64_t *out)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_UINT64, &v));
    *out = v->u;
    return FR_OK;
}

fr_status fr_config_get_float(const fr_config *cfg, const char *key, double *out)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_FLOAT, &v));
    *out = v->f;
    return FR_OK;
}

fr_status fr_config_get_bool(const fr_config *cfg, const char *key, int *out)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_BOOL, &v));
    *out = (int)v->i;
    return FR_OK;
}

fr_status fr_config_get_delimiter(const fr_config *cfg, const char *key, char *out)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_DELIMITER, &v));
    *out = (char)v->i;
    return FR_OK;
}

fr_status fr_config_get_string(const fr_config *cfg, const char *key, const char **out)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_STRING, &v));
    *out = v->text;
    return FR_OK;
}

fr_status fr_config_get_int_list(const fr_config *cfg, const char *key,
                                 const int64_t **out, size_t *count)
{
    const fr_config_value *v = NULL;
    FR_TRY(lookup(cfg, key, FR_CFG_INT_LIST, &v));
    *out = v->list;
    *count = v->list_len;
    return FR_OK;
}

const char *fr_config_origin(const fr_config *cfg, const char *key)
{
    long k = fr_config_find(cfg, key);
    return k < 0 ? NULL : cfg->values[k].origin;
}
