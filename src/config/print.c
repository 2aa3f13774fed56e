/* print.c — the effective configuration as INI text (every key, with its
 * doc and where its value came from; the keys its job does not read as
 * comments), and the schema as a table (Markdown, or text wrapped to a
 * width; every key or the keys one job reads). */
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
    case FR_CFG_DELIMITER: return "delimiter";
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
    case FR_CFG_DELIMITER:
        snprintf(buf, n, "a character, tab, comma, semicolon, space, pipe%s", *k->default_value ? "" : ", or empty");
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
    fprintf(out, "; fedrec configuration: the effective value of every key (those the job\n"
                 "; does not read commented out).\n");
    const char *section = "";
    char dotted[160];
    for (size_t k = 0; k < cfg->n_keys; k++) {
        const fr_config_key *key = &cfg->keys[k];
        if (strcmp(section, key->section)) {
            section = key->section;
            fprintf(out, "\n[%s]\n", section);
        }
        /* A key the job does not read is a comment: the text then loads
         * back to a configuration that runs the same job and that the job
         * accepts (it refuses unread keys that are set). */
        snprintf(dotted, sizeof dotted, "%s.%s", key->section, key->name);
        int reads = fr_config_reads(cfg, dotted) != 0;
        char note[1024];
        snprintf(note, sizeof note, "%s (%s, from %s%s)", key->doc, type_name(key->type),
                 cfg->values[k].origin, reads ? "" : "; not read by this job");
        print_wrapped_comment(out, note);
        fprintf(out, "%s%s = %s\n", reads ? "" : ";", key->name, cfg->values[k].text);
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

/* text at indent, in lines of at most width columns (a longer word has
 * a line of its own); the first line's indent is first. */
static void print_wrapped(FILE *out, const char *text, size_t width, size_t first, size_t indent)
{
    size_t col = 0, at_start = 1;
    fprintf(out, "%*s", (int)first, "");
    col = first;
    while (*text) {
        while (*text == ' ')
            text++;
        size_t len = strcspn(text, " ");
        if (!len)
            break;
        if (!at_start && col + 1 + len > width) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
            at_start = 1;
        }
        if (!at_start) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)len, text);
        col += len;
        at_start = 0;
        text += len;
    }
    fputc('\n', out);
}

/* One key as text: "name = default  (type: allowed)", then its
 * description, what the fingerprint makes of it and which jobs read it
 * (for one job: the conditions, if any), wrapped at width. */
static void print_key_text(FILE *out, const fr_config_key *k, const char *job, size_t width)
{
    char head[1024], allowed[512], read[512], body[4096];
    allowed_text(k, allowed, sizeof allowed);
    const char *shown = *k->default_value ? k->default_value : "\"\"";
    if (k->type == FR_CFG_STRING || k->type == FR_CFG_BOOL)
        snprintf(head, sizeof head, "%s.%s = %s  (%s)", k->section, k->name, shown, type_name(k->type));
    else
        snprintf(head, sizeof head, "%s.%s = %s  (%s: %s)", k->section, k->name, shown, type_name(k->type),
                 allowed);
    print_wrapped(out, head, width, 0, 8);
    fr_config_rule_text(k, job, read, sizeof read);
    if (!job)
        snprintf(body, sizeof body, "%s%s. Read by %s.", k->doc, fingerprint_note(k, 0), read);
    else if (*read)
        snprintf(body, sizeof body, "%s%s. Read only with %s.", k->doc, fingerprint_note(k, 0), read);
    else
        snprintf(body, sizeof body, "%s%s.", k->doc, fingerprint_note(k, 0));
    print_wrapped(out, body, width, 4, 4);
}

fr_status fr_config_print_keys_for(FILE *out, const char *job, int markdown, size_t width)
{
    size_t n;
    const fr_config_key *keys = fr_config_schema(&n);
    if (width < 40)
        width = 40; /* narrower than any key name and type */
    if (markdown)
        fprintf(out, "| key | type | default | allowed | %s | description |\n"
                     "|---|---|---|---|---|---|\n",
                job ? "read" : "read by");
    if (job && !markdown) {
        size_t reads = 0;
        for (size_t k = 0; k < n; k++)
            reads += fr_config_rule_names(&keys[k], job) != 0;
        char intro[256];
        snprintf(intro, sizeof intro, "The %zu keys (of %zu) job.kind = %s reads; a key read only under some settings says which.",
                 reads, n, job);
        print_wrapped(out, intro, width, 0, 0);
        fputc('\n', out);
    }
    const char *section = "";
    int first = 1;
    for (size_t k = 0; k < n; k++) {
        if (job && !fr_config_rule_names(&keys[k], job))
            continue;
        char dotted[160], allowed[160], read[512];
        snprintf(dotted, sizeof dotted, "%s.%s", keys[k].section, keys[k].name);
        allowed_text(&keys[k], allowed, sizeof allowed);
        fr_config_rule_text(&keys[k], job, read, sizeof read);
        if (markdown) {
            /* '|' would split a table cell */
            for (char *c = read; *c; c++)
                if (*c == '|')
                    *c = '/';
            fprintf(out, "| `%s` | %s | `%s` | %s | %s | %s%s |\n", dotted, type_name(keys[k].type),
                    keys[k].default_value, allowed, job && !*read ? "always" : read, keys[k].doc,
                    fingerprint_note(&keys[k], 1));
            continue;
        }
        if (strcmp(section, keys[k].section)) {
            section = keys[k].section;
            fprintf(out, "%s[%s]\n", first ? "" : "\n", section);
            first = 0;
        }
        print_key_text(out, &keys[k], job, width);
    }
    return ferror(out) ? fr_fail(FR_ERR_IO, "cannot write the key list") : FR_OK;
}

fr_status fr_config_print_keys(FILE *out, int markdown)
{
    return fr_config_print_keys_for(out, NULL, markdown, 80);
}
