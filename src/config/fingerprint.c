/* fingerprint.c — the job's fingerprint (see fedrec/config.h): the
 * effective configuration as "section.key = value" lines of every key a
 * rank may not choose for itself, values in canonical form; and the
 * comparison of two fingerprints that names the keys that differ. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/error_internal.h"

/* A value as text that is equal exactly when the values are: numbers as
 * parsed (shortest text that reads back to the same double), booleans
 * as true/false, lists without blanks. */
static void canonical(const fr_config_key *k, const fr_config_value *v, FILE *out)
{
    switch (k->type) {
    case FR_CFG_INT:
        fprintf(out, "%lld", (long long)v->i);
        break;
    case FR_CFG_UINT64:
        fprintf(out, "%llu", (unsigned long long)v->u);
        break;
    case FR_CFG_FLOAT: {
        char buf[40];
        for (int digits = 1; digits <= 17; digits++) {
            snprintf(buf, sizeof buf, "%.*g", digits, v->f);
            if (strtod(buf, NULL) == v->f)
                break;
        }
        fputs(buf, out);
        break;
    }
    case FR_CFG_BOOL:
        fputs(v->i ? "true" : "false", out);
        break;
    case FR_CFG_INT_LIST:
        for (size_t i = 0; i < v->list_len; i++)
            fprintf(out, "%s%lld", i ? "," : "", (long long)v->list[i]);
        break;
    case FR_CFG_STRING:
    case FR_CFG_ENUM:
    case FR_CFG_DELIMITER: /* as written: checkpoints of earlier versions hold the text */
        fputs(v->text, out);
        break;
    }
}

fr_status fr_config_fingerprint(const fr_config *cfg, char **out)
{
    size_t size = 0;
    *out = NULL;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return fr_fail_nomem("configuration fingerprint", 8192);
    for (size_t k = 0; k < cfg->n_keys; k++) {
        const fr_config_key *key = &cfg->keys[k];
        if (key->fingerprint == FR_FP_PER_RANK)
            continue;
        fprintf(f, "%s.%s = ", key->section, key->name);
        canonical(key, &cfg->values[k], f);
        fputc('\n', f);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || !*out) {
        free(*out);
        *out = NULL;
        return fr_fail_nomem("configuration fingerprint", size);
    }
    return FR_OK;
}

/* ---- comparing two fingerprints ------------------------------------------ */

typedef struct entry {
    const char *name, *value; /* into a copy of the text */
    int matched;
} entry;

/* Split a copy of text into entries: lines "name = value". */
static entry *parse(char *text, size_t *count)
{
    size_t lines = 1;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    entry *e = calloc(lines, sizeof *e);
    if (!e)
        return NULL;
    size_t n = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strstr(line, " = ");
        if (eq && eq != line) {
            *eq = '\0';
            e[n].name = line;
            e[n].value = eq + 3;
            n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    *count = n;
    return e;
}

static const char *shown(const char *v)
{
    return v ? (*v ? v : "''") : "(none)";
}

/* The schema's default of name, canonical, into buf; 0 if name is not a
 * key, -1 out of memory. */
static int default_of(const fr_config *defaults, const char *name, char *buf, size_t n)
{
    long k = defaults ? fr_config_find(defaults, name) : -1;
    if (k < 0)
        return 0;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return -1;
    canonical(&defaults->keys[k], &defaults->values[k], f);
    int grown = fclose(f) == 0 && text;
    if (!grown) {
        free(text);
        return -1;
    }
    snprintf(buf, n, "%s", text);
    free(text);
    return 1;
}

/* Whether a difference in name counts: not for a key a resume may change
 * (when resuming), nor for a key present on one side only whose other
 * side holds its default; -1 out of memory. */
static int counts(const fr_config *defaults, const char *name, const char *was, const char *now, int resume)
{
    long k = defaults ? fr_config_find(defaults, name) : -1;
    if (k >= 0 && defaults->keys[k].fingerprint == FR_FP_PER_RANK)
        return 0;
    if (k >= 0 && resume && defaults->keys[k].fingerprint == FR_FP_RESUME_MAY_CHANGE)
        return 0;
    if (was && now)
        return strcmp(was, now) != 0;
    char def[256];
    int has = default_of(defaults, name, def, sizeof def);
    if (has < 0)
        return -1;
    if (has)
        return strcmp(was ? was : now, def) != 0;
    return 1;
}

/* Append "name: WAS v1, NOW v2" to buf (the first `listed` only). */
static void note(char *buf, size_t n, size_t *used, size_t found, const char *name, const char *was_label,
                 const char *was, const char *now_label, const char *now)
{
    enum { LISTED = 6 };
    if (found > LISTED || *used >= n)
        return;
    int w = snprintf(buf + *used, n - *used, "%s%s: %s %s, %s %s", found > 1 ? "; " : "", name, was_label,
                     shown(was), now_label, shown(now));
    if (w > 0)
        *used += (size_t)w < n - *used ? (size_t)w : n - *used - 1;
}

size_t fr_config_fingerprint_compare(const char *was, const char *now, int resume, const char *was_label,
                                     const char *now_label, char *buf, size_t n)
{
    if (n)
        buf[0] = '\0';
    char *a = strdup(was ? was : ""), *b = strdup(now ? now : "");
    size_t na = 0, nb = 0, found = 0, used = 0;
    entry *ea = a ? parse(a, &na) : NULL, *eb = b ? parse(b, &nb) : NULL;
    fr_config *defaults = NULL;
    if (!ea || !eb || fr_config_create(&defaults) != FR_OK) {
        /* Out of memory: say so rather than call them equal or different. */
        snprintf(buf, n, "(the fingerprints could not be compared: out of memory)");
        fr_config_free(defaults);
        free(ea);
        free(eb);
        free(a);
        free(b);
        return FR_CONFIG_COMPARE_NOMEM;
    }
    int oom = 0;
    for (size_t j = 0; j < nb; j++) {
        const char *old = NULL;
        for (size_t i = 0; i < na; i++)
            if (!ea[i].matched && !strcmp(ea[i].name, eb[j].name)) {
                ea[i].matched = 1;
                old = ea[i].value;
                break;
            }
        int c = counts(defaults, eb[j].name, old, eb[j].value, resume);
        oom |= c < 0;
        if (c > 0)
            note(buf, n, &used, ++found, eb[j].name, was_label, old, now_label, eb[j].value);
    }
    for (size_t i = 0; i < na; i++) {
        int c = ea[i].matched ? 0 : counts(defaults, ea[i].name, ea[i].value, NULL, resume);
        oom |= c < 0;
        if (c > 0)
            note(buf, n, &used, ++found, ea[i].name, was_label, ea[i].value, now_label, NULL);
    }
    if (found > 6 && used < n)
        snprintf(buf + used, n - used, "; and %zu more", found - 6);
    fr_config_free(defaults);
    free(ea);
    free(eb);
    free(a);
    free(b);
    if (oom) {
        snprintf(buf, n, "(the fingerprints could not be compared: out of memory)");
        return FR_CONFIG_COMPARE_NOMEM;
    }
    return found;
}

void fr_config_rule_keys(fr_config_fingerprint_rule rule, char *buf, size_t n)
{
    size_t count, used = 0;
    const fr_config_key *keys = fr_config_schema(&count);
    if (n)
        buf[0] = '\0';
    for (size_t k = 0; k < count && used < n; k++) {
        if (keys[k].fingerprint != rule)
            continue;
        /* A section whose every key has the rule: once, as section.*. */
        int whole = 1, first = 1;
        for (size_t j = 0; j < count; j++)
            if (!strcmp(keys[j].section, keys[k].section)) {
                whole &= keys[j].fingerprint == rule;
                if (j < k && keys[j].fingerprint == rule)
                    first = 0;
            }
        if (whole && !first)
            continue;
        int w = whole ? snprintf(buf + used, n - used, "%s%s.*", used ? ", " : "", keys[k].section)
                      : snprintf(buf + used, n - used, "%s%s.%s", used ? ", " : "", keys[k].section, keys[k].name);
        if (w > 0)
            used += (size_t)w < n - used ? (size_t)w : n - used - 1;
    }
}
