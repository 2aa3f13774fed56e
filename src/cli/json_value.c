/* json_value.c — the JSON reader of json_value.h: recursive descent over
 * the text, tracking the line and column for messages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json_value.h"

#define MAX_DEPTH 64

typedef struct parser {
    const char *p, *end, *line_start;
    size_t line;
    char *err;
    size_t errn;
    int failed;
} parser;

static void describe_here(const parser *ps, char *buf, size_t n)
{
    if (ps->p >= ps->end)
        snprintf(buf, n, "the end of the text");
    else if ((unsigned char)*ps->p < 0x20)
        snprintf(buf, n, "character 0x%02x", (unsigned char)*ps->p);
    else
        snprintf(buf, n, "'%.*s'", (int)(ps->end - ps->p < 12 ? ps->end - ps->p : 12), ps->p);
}

static int fail(parser *ps, const char *expected)
{
    if (!ps->failed) {
        char found[64];
        describe_here(ps, found, sizeof found);
        char *nl = strchr(found, '\n');
        if (nl) /* keep the quote of what was found on one line */
            snprintf(nl, (size_t)(found + sizeof found - nl), "...'");
        snprintf(ps->err, ps->errn, "%zu:%zu: expected %s, found %s", ps->line,
                 (size_t)(ps->p - ps->line_start) + 1, expected, found);
        ps->failed = 1;
    }
    return 0;
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n')) {
        if (*ps->p == '\n') {
            ps->line++;
            ps->line_start = ps->p + 1;
        }
        ps->p++;
    }
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) >= n && !strncmp(ps->p, word, n)) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static void put_utf8(char *out, size_t *len, unsigned long cp)
{
    if (cp < 0x80) {
        out[(*len)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*len)++] = (char)(0xC0 | (cp >> 6));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*len)++] = (char)(0xE0 | (cp >> 12));
        out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*len)++] = (char)(0xF0 | (cp >> 18));
        out[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int hex4(parser *ps, unsigned long *cp)
{
    *cp = 0;
    for (int i = 0; i < 4; i++, ps->p++) {
        if (ps->p >= ps->end)
            return fail(ps, "four hex digits after \\u");
        char c = *ps->p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return fail(ps, "four hex digits after \\u");
        *cp = *cp * 16 + (unsigned long)d;
    }
    return 1;
}

/* At the opening quote. */
static int parse_string(parser *ps, char **out)
{
    ps->p++;
    /* decoded text is never longer than the quoted one */
    const char *q = ps->p;
    while (q < ps->end && *q != '"')
        q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
    char *s = malloc((size_t)(q - ps->p) + 4);
    if (!s)
        return fail(ps, "a string that fits in memory");
    size_t len = 0;
    for (;;) {
        if (ps->p >= ps->end) {
            free(s);
            return fail(ps, "a closing '\"'");
        }
        char c = *ps->p;
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20) {
            free(s);
            return fail(ps, "a string character (control characters are written as \\n, \\t or \\u00XX)");
        }
        if (c != '\\') {
            s[len++] = c;
            ps->p++;
            continue;
        }
        ps->p++;
        if (ps->p >= ps->end) {
            free(s);
            return fail(ps, "an escape after '\\'");
        }
        char e = *ps->p++;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = strchr(from, e);
        if (e && hit) {
            s[len++] = to[hit - from];
        } else if (e == 'u') {
            unsigned long cp;
            if (!hex4(ps, &cp)) {
                free(s);
                return 0;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                unsigned long lo;
                ps->p += 2;
                if (!hex4(ps, &lo)) {
                    free(s);
                    return 0;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(s, &len, cp);
        } else {
            ps->p--;
            free(s);
            return fail(ps, "one of the escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
        }
    }
    ps->p++;
    s[len] = '\0';
    *out = s;
    return 1;
}

static int parse_value(parser *ps, fr_json *v, int depth);

static int parse_container(parser *ps, fr_json *v, int depth, int object)
{
    char close = object ? '}' : ']';
    size_t cap = 0;
    v->kind = object ? FR_JSON_OBJECT : FR_JSON_ARRAY;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 1;
    }
    for (;;) {
        if (v->count == cap) {
            cap = cap ? cap * 2 : 8;
            fr_json *items = realloc(v->items, cap * sizeof *items);
            if (!items)
                return fail(ps, "a value that fits in memory");
            v->items = items;
            if (object) {
                char **keys = realloc(v->keys, cap * sizeof *keys);
                if (!keys)
                    return fail(ps, "a value that fits in memory");
                v->keys = keys;
            }
        }
        char *key = NULL;
        skip_space(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "a member name in double quotes");
            if (!parse_string(ps, &key))
                return 0;
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return fail(ps, "':' after the member name");
            }
            ps->p++;
        }
        fr_json *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        if (object)
            v->keys[v->count] = key;
        v->count++; /* counted before parsing: freed on failure either way */
        if (!parse_value(ps, item, depth + 1))
            return 0;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 1;
        }
        return fail(ps, object ? "',' or '}'" : "',' or ']'");
    }
}

static int parse_value(parser *ps, fr_json *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > MAX_DEPTH)
        return fail(ps, "at most 64 nested arrays and objects");
    skip_space(ps);
    if (ps->p >= ps->end)
        return fail(ps, "a value");
    char c = *ps->p;
    if (c == '{' || c == '[')
        return parse_container(ps, v, depth, c == '{');
    if (c == '"') {
        v->kind = FR_JSON_STRING;
        return parse_string(ps, &v->string);
    }
    if (literal(ps, "true") || literal(ps, "false")) {
        v->kind = FR_JSON_BOOL;
        v->number = ps->p[-1] == 'e' && ps->p[-2] == 'u';
        return 1;
    }
    if (literal(ps, "null")) {
        v->kind = FR_JSON_NULL;
        v->number = NAN;
        return 1;
    }
    if (literal(ps, "nan") || literal(ps, "-nan") || literal(ps, "NaN")) {
        v->kind = FR_JSON_NUMBER;
        v->number = NAN;
        return 1;
    }
    if (literal(ps, "inf") || literal(ps, "Infinity")) {
        v->kind = FR_JSON_NUMBER;
        v->number = INFINITY;
        return 1;
    }
    if (literal(ps, "-inf") || literal(ps, "-Infinity")) {
        v->kind = FR_JSON_NUMBER;
        v->number = -INFINITY;
        return 1;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        /* strtod wants a terminated string: copy the number's characters */
        char buf[64];
        size_t n = 0;
        while (ps->p + n < ps->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", ps->p[n]))
            n++;
        memcpy(buf, ps->p, n);
        buf[n] = '\0';
        char *end;
        v->kind = FR_JSON_NUMBER;
        v->number = strtod(buf, &end);
        if (end == buf)
            return fail(ps, "a number");
        ps->p += end - buf;
        return 1;
    }
    return fail(ps, "a value (an object, array, string, number, true, false or null)");
}

int fr_json_parse(const char *text, size_t len, fr_json *out, char *err, size_t errn)
{
    parser ps = {text, text + len, text, 1, err, errn, 0};
    if (!parse_value(&ps, out, 0)) {
        fr_json_free(out);
        return 0;
    }
    skip_space(&ps);
    if (ps.p < ps.end) {
        fail(&ps, "the end of the text after the value");
        fr_json_free(out);
        return 0;
    }
    return 1;
}

void fr_json_free(fr_json *v)
{
    if (!v)
        return;
    free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        fr_json_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

const fr_json *fr_json_get(const fr_json *v, const char *key)
{
    if (!v || v->kind != FR_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->count; i++)
        if (!strcmp(v->keys[i], key))
            return &v->items[i];
    return NULL;
}

static int flatten_except(const fr_json *v, const char *suffix, const char *skip, fr_json_emit emit, void *ctx);

/* suffix: what the enclosing objects and cells add to a member's name. */
static int flatten(const fr_json *v, const char *suffix, fr_json_emit emit, void *ctx)
{
    return flatten_except(v, suffix, NULL, emit, ctx);
}

static int flatten_except(const fr_json *v, const char *suffix, const char *skip, fr_json_emit emit, void *ctx)
{
    for (size_t i = 0; i < v->count; i++) {
        const fr_json *m = &v->items[i];
        const char *key = v->keys ? v->keys[i] : "";
        if (skip && !strcmp(key, skip))
            continue;
        size_t need = strlen(key) + strlen(suffix) + 32;
        char *name = malloc(need);
        if (!name)
            return 0;
        int ok = 1;
        if (m->kind == FR_JSON_NUMBER || m->kind == FR_JSON_NULL || m->kind == FR_JSON_BOOL) {
            snprintf(name, need, "%s%s", key, suffix);
            ok = emit(ctx, name, m->number);
        } else if (m->kind == FR_JSON_OBJECT) {
            snprintf(name, need, "%s_%s", suffix, key);
            ok = flatten(m, name, emit, ctx);
        } else if (m->kind == FR_JSON_ARRAY) {
            for (size_t j = 0; ok && j < m->count; j++) {
                const fr_json *e = &m->items[j];
                if (e->kind == FR_JSON_OBJECT) {
                    size_t n = strlen(suffix) + 24;
                    for (size_t k = 0; k < e->count; k++)
                        if (e->items[k].kind == FR_JSON_STRING)
                            n += strlen(e->items[k].string) + 1;
                    char *cell = malloc(n);
                    if (!cell) {
                        ok = 0;
                        break;
                    }
                    size_t len = (size_t)snprintf(cell, n, "%s", suffix);
                    int named = 0;
                    for (size_t k = 0; k < e->count; k++)
                        if (e->items[k].kind == FR_JSON_STRING) {
                            len += (size_t)snprintf(cell + len, n - len, "_%s", e->items[k].string);
                            named = 1;
                        }
                    /* a ranking cutoff {"k":10,"valid_recall":..}: valid_recall@10 */
                    const fr_json *k = fr_json_get(e, "k");
                    int cutoff = !named && k && k->kind == FR_JSON_NUMBER;
                    if (cutoff)
                        snprintf(cell + len, n - len, "@%.0f", k->number);
                    else if (!named)
                        snprintf(cell + len, n - len, "_%zu", j);
                    ok = cutoff ? flatten_except(e, cell, "k", emit, ctx) : flatten(e, cell, emit, ctx);
                    free(cell);
                } else if (e->kind == FR_JSON_NUMBER || e->kind == FR_JSON_NULL || e->kind == FR_JSON_BOOL) {
                    snprintf(name, need, "%s%s_%zu", key, suffix, j);
                    ok = emit(ctx, name, e->number);
                }
            }
        }
        free(name);
        if (!ok)
            return 0;
    }
    return 1;
}

int fr_json_flatten(const fr_json *object, fr_json_emit emit, void *ctx)
{
    return object->kind == FR_JSON_OBJECT ? flatten(object, "", emit, ctx) : 1;
}
