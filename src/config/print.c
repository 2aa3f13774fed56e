/* print.c — the effective configuration as INI text (every key, with its
 * doc and where its value came from), and the schema as a table. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/error_internal.h"

static const char *type_name(fr_config_type t)
{
    switch (t) {
    case FR_CFG_INT: return "int";
    case FR_CFG_UINT64: return "uint64";
    case FR_CFG_FLOAT: return "float";
    case FR_CFG_BOOL: return "bool";
    case FR_CFG_STRING: return "string";
    case FR_CFG_ENUM: return "enum";
    case FR_CFG_INT_LIST: return "int list";
    }
    return "?";
}

static void allowed_text(const fr_config_key *k, char *buf, size_t n)
{
    char lo[40], hi[40];
    switch (k->type) {
    case FR_CFG_INT:
    case FR_CFG_INT_LIST:
        fr_config_format_number(lo, sizeof lo, k->min);
        fr_config_format_number(hi, sizeof hi, k->max);
        snprintf(buf, n, "%s .. %s", lo, hi);
        break;
    case FR_CFG_FLOAT:
        fr_config_format_number(lo, sizeof lo, k->min);
        fr_config_format_number(hi, sizeof hi, k->max);
        snprintf(buf, n, "%c%s, %s%c", k->min_open ? '(' : '[', lo, hi, k->max_open ? ')' : ']');
        break;
    case FR_CFG_ENUM:
        /* "a, b, c": a '|' would split a Markdown table cell. */
        fr_config_choices_text(k, buf, n);
        break;
    case FR_CFG_BOOL:
        snprintf(buf, n, "true, false");
        break;
    case FR_CFG_UINT64:
        snprintf(buf, n, "0 .. 2^64-1");
        break;
    case FR_CFG_STRING:
        snprintf(buf, n, "text");
        break;
    }
}

/* "; text" over as many lines as it takes at 76 columns: comment lines
 * must stay under the INI reader's line limit too. */
static void print_wrapped_comment(FILE *out, const char *text)
{
    while (*text) {
        size_t len = strlen(text), cut = len;
        if (len > 76) {
            cut = 76;
            while (cut > 20 && text[cut] != ' ')
                cut--;
            if (text[cut] != ' ')
                cut = 76;
        }
        fprintf(out, "; %.*s\n", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

fr_status fr_config_print(const fr_config *cfg, FILE *out)
{
    fprintf(out, "; fedrec configuration: the effective value of every key.\n");
    const char *section = "";
    for (size_t k = 0; k < cfg->n_keys; k++) {
        const fr_config_key *key = &cfg->keys[k];
        if (strcmp(section, key->section)) {
            section = key->section;
            fprintf(out, "\n[%s]\n", section);
        }
        char note[1024];
        snprintf(note, sizeof note, "%s (%s, from %s)", key->doc, type_name(key->type),
                 cfg->values[k].origin);
        print_wrapped_comment(out, note);
        fprintf(out, "%s = %s\n", key->name, cfg->values[k].text);
    }
    return ferror(out) ? fr_fail(FR_ERR_IO, "cannot write the configuration") : FR_OK;
}

fr_status fr_config_print_string(const fr_config *cfg, char **out)
{
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return fr_fail_nomem("configuration text", 4096);
    fr_status s = fr_config_print(cfg, f);
    /* A memory stream fails only when it cannot grow its buffer (on a
     * write, or the last flush in fclose): out of memory, not an I/O error. */
    int short_of_memory = ferror(f);
    if (fclose(f) != 0)
        short_of_memory = 1;
    if (short_of_memory)
        s = fr_fail_nomem("configuration text", size);
    if (s != FR_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* What the key is to the job's fingerprint, after its description. */
static const char *fingerprint_note(const fr_config_key *k, int markdown)
{
    switch (k->fingerprint) {
    case FR_FP_RESUME_MAY_CHANGE:
        return markdown ? " *(a resume may change it)*" : " [a resume may change it]";
    case FR_FP_PER_RANK:
        return markdown ? " *(may differ between ranks and on a resume)*"
                        : " [may differ between ranks and on a resume]";
    default:
        return "";
    }
}

fr_status fr_config_print_keys(FILE *out, int markdown)
{
    size_t n;
    const fr_config_key *keys = fr_config_schema(&n);
    if (markdown)
        fprintf(out, "| key | type | default | allowed | description |\n"
                     "|---|---|---|---|---|\n");
    for (size_t k = 0; k < n; k++) {
        char dotted[160], allowed[160];
        snprintf(dotted, sizeof dotted, "%s.%s", keys[k].section, keys[k].name);
        allowed_text(&keys[k], allowed, sizeof allowed);
        if (markdown)
            fprintf(out, "| `%s` | %s | `%s` | %s | %s%s |\n", dotted, type_name(keys[k].type),
                    keys[k].default_value, allowed, keys[k].doc, fingerprint_note(&keys[k], 1));
        else
            fprintf(out, "%-22s %-8s %-10s %-32s %s%s\n", dotted, type_name(keys[k].type),
                    *keys[k].default_value ? keys[k].default_value : "\"\"", allowed, keys[k].doc,
                    fingerprint_note(&keys[k], 0));
    }
    return ferror(out) ? fr_fail(FR_ERR_IO, "cannot write the key list") : FR_OK;
}
