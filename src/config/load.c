/* load.c — reading INI files and texts into a configuration with inih.
 *
 * inih reads through our reader function, which counts lines (so every
 * message has one), rejects a line longer than inih's buffer instead of
 * letting it be cut, and checks [section] headers as they pass (inih only
 * reports keys, so an empty unknown section would otherwise go unnoticed).
 * Values are applied to a copy and moved into the configuration only when
 * the whole input is valid: a bad file changes nothing. */
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/error_internal.h"

typedef struct load_ctx {
    fr_config *cfg;        /* the copy being filled */
    const char *origin;    /* file name or text name */
    FILE *file;            /* file input, or */
    const char *text;      /* text input */
    size_t line;
    unsigned char *seen;   /* keys set by this input: duplicates are errors */
    char raw[256];         /* the start of the line being read, as written */
    fr_status status;      /* first error */
} load_ctx;

static int fail_once(load_ctx *c, fr_status s)
{
    if (c->status == FR_OK)
        c->status = s;
    return 0;
}

static void check_section_header(load_ctx *c, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line != '[' || c->status != FR_OK)
        return;
    const char *end = strchr(line, ']');
    if (!end)
        return; /* inih reports the syntax error */
    char name[64];
    size_t len = (size_t)(end - line - 1);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, line + 1, len);
    name[len] = '\0';
    for (size_t k = 0; k < c->cfg->n_keys; k++)
        if (!strcmp(c->cfg->keys[k].section, name))
            return;
    const char *near = fr_config_suggest_section(c->cfg, name);
    if (near)
        fail_once(c, fr_fail(FR_ERR_CONFIG, "%s:%zu: unknown section [%s] (did you mean [%s]?)",
                             c->origin, c->line, name, near));
    else
        fail_once(c, fr_fail(FR_ERR_CONFIG, "%s:%zu: unknown section [%s]", c->origin, c->line, name));
}

static char *reader(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    size_t cap = (size_t)num;
    size_t len = 0;
    if (c->file) {
        if (!fgets(str, num, c->file))
            return NULL;
        len = strlen(str);
    } else {
        if (!*c->text)
            return NULL;
        const char *nl = strchr(c->text, '\n');
        size_t n = nl ? (size_t)(nl - c->text) + 1 : strlen(c->text);
        len = n < cap - 1 ? n : cap - 1;
        memcpy(str, c->text, len);
        str[len] = '\0';
        c->text += len;
    }
    c->line++;
    int at_end = c->file ? feof(c->file) : !*c->text;
    if (len > 0 && len == cap - 1 && str[len - 1] != '\n' && !at_end) {
        fail_once(c, fr_fail(FR_ERR_CONFIG, "%s:%zu: line longer than %d characters (the limit of the INI reader)",
                             c->origin, c->line, num - 2));
        return NULL; /* stop: the rest of the line would be misread */
    }
    /* inih reads an indented line as the continuation of the key above
     * it; in a configuration an indented line is just a line. */
    size_t lead = strspn(str, " \t");
    if (lead)
        memmove(str, str + lead, strlen(str + lead) + 1);
    snprintf(c->raw, sizeof c->raw, "%s", str);
    check_section_header(c, str);
    return str;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
    load_ctx *c = user;
    if (c->status != FR_OK)
        return 0;
    char where[512];
    snprintf(where, sizeof where, "%s:%zu", c->origin, c->line);
    if (!section || !*section)
        return fail_once(c, fr_fail(FR_ERR_CONFIG, "%s: key '%s' outside a [section]", where, name));
    long k = fr_config_find2(c->cfg, section, name);
    if (k < 0) {
        char dotted[160], buf[160];
        snprintf(dotted, sizeof dotted, "%s.%s", section, name);
        const char *near = fr_config_suggest(c->cfg, dotted, buf, sizeof buf);
        if (near)
            return fail_once(c, fr_fail(FR_ERR_CONFIG, "%s: unknown key '%s' (did you mean %s?)",
                                        where, dotted, near));
        return fail_once(c, fr_fail(FR_ERR_CONFIG, "%s: unknown key '%s' ('fedrec config --keys' lists them)",
                                    where, dotted));
    }
    if (c->seen[k])
        return fail_once(c, fr_fail(FR_ERR_CONFIG, "%s: %s.%s is set a second time in this file",
                                    where, section, name));
    c->seen[k] = 1;
    /* "delimiter = ;": inih takes the ';' for a comment and gives an
     * empty value; say so, and how to write the semicolon. */
    const char *eq = strchr(c->raw, '=');
    if (c->cfg->keys[k].type == FR_CFG_DELIMITER && !*value && eq && eq[strspn(eq + 1, " \t") + 1] == ';')
        return fail_once(c, fr_fail(FR_ERR_CONFIG, "%s: %s.%s = ';': the ';' starts a comment in an INI file, which leaves the value empty; write %s = semicolon",
                                    where, section, name, name));
    fr_status s = fr_config_assign(c->cfg, k, value, where);
    return s == FR_OK ? 1 : fail_once(c, s);
}

/* Copy every value of src into a fresh configuration. */
static fr_status clone(const fr_config *src, fr_config **out)
{
    fr_config *cfg;
    FR_TRY(fr_config_create(&cfg));
    for (size_t k = 0; k < src->n_keys; k++) {
        fr_status s = fr_config_assign(cfg, (long)k, src->values[k].text, src->values[k].origin);
        if (s != FR_OK) {
            fr_config_free(cfg);
            return s;
        }
    }
    *out = cfg;
    return FR_OK;
}

static fr_status run(fr_config *cfg, load_ctx *c)
{
    fr_config *copy;
    FR_TRY(clone(cfg, &copy));
    c->cfg = copy;
    c->seen = calloc(copy->n_keys, 1);
    if (!c->seen) {
        size_t n_keys = copy->n_keys; /* copy is gone after the free */
        fr_config_free(copy);
        return fr_fail_nomem("configuration", n_keys);
    }
    int rc = ini_parse_stream(reader, c, handler, c);
    fr_status s = c->status;
    if (s == FR_OK && rc > 0)
        s = fr_fail(FR_ERR_CONFIG, "%s:%d: syntax error: expected [section], key = value, or a ; comment",
                    c->origin, rc);
    else if (s == FR_OK && rc < 0)
        s = fr_fail(FR_ERR_CONFIG, "%s: the INI reader failed (%d)", c->origin, rc);
    if (c->file && ferror(c->file) && s == FR_OK)
        s = fr_fail(FR_ERR_CONFIG, "%s: read error", c->origin);
    free(c->seen);
    if (s == FR_OK) {
        /* Swap the checked values in. */
        fr_config_value *tmp = cfg->values;
        cfg->values = copy->values;
        copy->values = tmp;
    }
    fr_config_free(copy);
    return s;
}

fr_status fr_config_load_file(fr_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fr_fail(FR_ERR_CONFIG, "%s: cannot open configuration file: %s", path, strerror(errno));
    load_ctx c = {0};
    c.origin = path;
    c.file = f;
    fr_status s = run(cfg, &c);
    fclose(f);
    return s;
}

fr_status fr_config_load_string(fr_config *cfg, const char *text,
                                const char *origin)
{
    load_ctx c = {0};
    c.origin = origin;
    c.text = text;
    return run(cfg, &c);
}
