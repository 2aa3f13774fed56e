/* reads.c — which jobs read each key: the rules of keys.c (the language is
 * in fedrec/config.h, "Which jobs read a key") parsed, checked, evaluated
 * on a configuration, said in words, and the refusal of keys set for a
 * job that does not read them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "core/error_internal.h"

#define MAX_ITEMS 12
#define MAX_CONDS 4

typedef struct cond {
    const char *key;  /* "section.name", key_len characters */
    size_t key_len;
    int negate;       /* != */
    const char *values; /* "a|b", values_len characters */
    size_t values_len;
} cond;

typedef struct item {
    const char *kind;
    size_t kind_len;
    cond conds[MAX_CONDS];
    size_t n_conds;
} item;

typedef struct rule {
    int all;          /* "all" or "shared: ..." */
    const char *why;  /* shared: the reason, else NULL */
    item items[MAX_ITEMS];
    size_t n_items;
    cond when[MAX_CONDS];
    size_t n_when;
} rule;

/* Conditions "K=V|W,K2!=X" of text[0, len) into out; 0 with err set when
 * malformed. */
static int parse_conds(const char *text, size_t len, cond *out, size_t *n, char *err, size_t errn)
{
    *n = 0;
    const char *end = text + len;
    while (text < end) {
        const char *comma = memchr(text, ',', (size_t)(end - text));
        const char *stop = comma ? comma : end;
        const char *eq = memchr(text, '=', (size_t)(stop - text));
        if (!eq || eq == text || eq + 1 == stop) {
            snprintf(err, errn, "condition '%.*s' is not KEY=VALUE or KEY!=VALUE", (int)(stop - text), text);
            return 0;
        }
        if (*n == MAX_CONDS) {
            snprintf(err, errn, "more than %d conditions", MAX_CONDS);
            return 0;
        }
        cond *c = &out[(*n)++];
        c->negate = eq[-1] == '!';
        c->key = text;
        c->key_len = (size_t)(eq - text) - (size_t)c->negate;
        c->values = eq + 1;
        c->values_len = (size_t)(stop - eq - 1);
        if (c->key_len == 0) {
            snprintf(err, errn, "condition '%.*s' names no key", (int)(stop - text), text);
            return 0;
        }
        text = comma ? comma + 1 : end;
    }
    return 1;
}

static int parse_rule(const char *text, rule *r, char *err, size_t errn)
{
    memset(r, 0, sizeof *r);
    if (!text || !*text) {
        snprintf(err, errn, "no rule (.jobs) saying which jobs read it");
        return 0;
    }
    if (!strcmp(text, "all")) {
        r->all = 1;
        return 1;
    }
    if (!strncmp(text, "shared:", 7)) {
        r->all = 1;
        r->why = text + 7;
        while (*r->why == ' ')
            r->why++;
        if (!*r->why) {
            snprintf(err, errn, "a shared rule must say why ('shared: WHY')");
            return 0;
        }
        return 1;
    }
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        if (len == 4 && !strncmp(p, "when", 4)) {
            p += 4;
            while (*p == ' ')
                p++;
            size_t clen = strlen(p);
            if (!clen || strchr(p, ' ')) {
                snprintf(err, errn, "'when' must be followed by conditions without blanks, separated by commas");
                return 0;
            }
            if (!parse_conds(p, clen, r->when, &r->n_when, err, errn))
                return 0;
            p += clen;
            break;
        }
        if (r->n_items == MAX_ITEMS) {
            snprintf(err, errn, "more than %d job kinds", MAX_ITEMS);
            return 0;
        }
        item *it = &r->items[r->n_items++];
        const char *bracket = memchr(p, '[', len);
        it->kind = p;
        it->kind_len = bracket ? (size_t)(bracket - p) : len;
        if (bracket) {
            if (p[len - 1] != ']') {
                snprintf(err, errn, "'%.*s': a '[' without its ']'", (int)len, p);
                return 0;
            }
            if (!parse_conds(bracket + 1, (size_t)(p + len - 1 - bracket - 1), it->conds, &it->n_conds, err,
                             errn))
                return 0;
        }
        if (it->kind_len == 0) {
            snprintf(err, errn, "'%.*s' names no job kind", (int)len, p);
            return 0;
        }
        p += len;
    }
    if (r->n_items == 0) {
        snprintf(err, errn, "names no job kind");
        return 0;
    }
    return 1;
}

/* ---- evaluating ------------------------------------------------------------ */

static long find_n(const fr_config *cfg, const char *key, size_t len)
{
    char dotted[160];
    if (len >= sizeof dotted)
        return -1;
    memcpy(dotted, key, len);
    dotted[len] = '\0';
    return fr_config_find(cfg, dotted);
}

/* The value a condition compares: booleans as true/false. */
static const char *cond_value(const fr_config *cfg, long k)
{
    if (cfg->keys[k].type == FR_CFG_BOOL)
        return cfg->values[k].i ? "true" : "false";
    return cfg->values[k].text;
}

static int one_of(const char *values, size_t len, const char *v)
{
    size_t vl = strlen(v);
    const char *end = values + len;
    while (values < end) {
        const char *bar = memchr(values, '|', (size_t)(end - values));
        size_t n = bar ? (size_t)(bar - values) : (size_t)(end - values);
        if (n == vl && !strncmp(values, v, n))
            return 1;
        values = bar ? bar + 1 : end;
    }
    return 0;
}

static int cond_holds(const fr_config *cfg, const cond *c)
{
    long k = find_n(cfg, c->key, c->key_len);
    if (k < 0)
        return 1; /* a malformed rule; the tests refuse it */
    return one_of(c->values, c->values_len, cond_value(cfg, k)) != c->negate;
}

static int conds_hold(const fr_config *cfg, const cond *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!cond_holds(cfg, &c[i]))
            return 0;
    return 1;
}

static int kind_is(const item *it, const char *kind)
{
    return strlen(kind) == it->kind_len && !strncmp(it->kind, kind, it->kind_len);
}

static const char *job_kind(const fr_config *cfg)
{
    long k = fr_config_find(cfg, "job.kind");
    return k < 0 ? "" : cfg->values[k].text;
}

static int rule_reads(const fr_config *cfg, const rule *r)
{
    if (r->all)
        return 1;
    const char *kind = job_kind(cfg);
    if (!conds_hold(cfg, r->when, r->n_when))
        return 0;
    for (size_t i = 0; i < r->n_items; i++)
        if (kind_is(&r->items[i], kind) && conds_hold(cfg, r->items[i].conds, r->items[i].n_conds))
            return 1;
    return 0;
}

static int key_reads(const fr_config *cfg, size_t k)
{
    rule r;
    char err[160];
    if (!parse_rule(cfg->keys[k].jobs, &r, err, sizeof err))
        return 1; /* no rule: the tests refuse it; a run does not */
    return rule_reads(cfg, &r);
}

int fr_config_reads(const fr_config *cfg, const char *key)
{
    long k = fr_config_find(cfg, key);
    return k < 0 ? -1 : key_reads(cfg, (size_t)k);
}

int fr_config_rule_names(const fr_config_key *k, const char *kind)
{
    rule r;
    char err[160];
    if (!parse_rule(k->jobs, &r, err, sizeof err))
        return 1;
    if (r.all)
        return 1;
    for (size_t i = 0; i < r.n_items; i++)
        if (kind_is(&r.items[i], kind))
            return 1;
    return 0;
}

/* ---- in words -------------------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t n, len;
} text;

static void put(text *t, const char *fmt, ...) FR_PRINTF(2, 3);
static void put(text *t, const char *fmt, ...)
{
    if (t->len >= t->n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(t->buf + t->len, t->n - t->len, fmt, ap);
    va_end(ap);
    if (w > 0)
        t->len = t->len + (size_t)w < t->n ? t->len + (size_t)w : t->n - 1;
}

/* "msmt.model = mmoe or ple", "data.source != synthetic" */
static void put_cond(text *t, const cond *c)
{
    put(t, "%.*s %s ", (int)c->key_len, c->key, c->negate ? "!=" : "=");
    const char *v = c->values, *end = c->values + c->values_len;
    size_t count = 1;
    for (const char *q = v; q < end; q++)
        count += *q == '|';
    for (size_t i = 0; v < end; i++) {
        const char *bar = memchr(v, '|', (size_t)(end - v));
        size_t n = bar ? (size_t)(bar - v) : (size_t)(end - v);
        put(t, "%s%.*s", i == 0 ? "" : i + 1 == count ? (c->negate ? " nor " : " or ") : ", ", (int)n, v);
        v = bar ? bar + 1 : end;
    }
}

static void put_conds(text *t, const cond *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(t, ", ");
        put_cond(t, &c[i]);
    }
}

static const item *item_of(const rule *r, const char *kind)
{
    for (size_t i = 0; i < r->n_items; i++)
        if (kind_is(&r->items[i], kind))
            return &r->items[i];
    return NULL;
}

static void rule_words(const rule *r, const char *kind, text *t)
{
    if (r->all) {
        if (!kind) {
            put(t, "every job");
            if (r->why)
                put(t, " (shared: %s)", r->why);
        }
        return;
    }
    if (kind) {
        const item *it = item_of(r, kind);
        if (!it)
            return;
        put_conds(t, it->conds, it->n_conds);
        if (r->n_when && it->n_conds)
            put(t, ", ");
        put_conds(t, r->when, r->n_when);
        return;
    }
    for (size_t i = 0; i < r->n_items; i++) {
        const item *it = &r->items[i];
        put(t, "%s%.*s", i ? ", " : "", (int)it->kind_len, it->kind);
        if (it->n_conds) {
            put(t, " (");
            put_conds(t, it->conds, it->n_conds);
            put(t, ")");
        }
    }
    if (r->n_when) {
        put(t, " when ");
        put_conds(t, r->when, r->n_when);
    }
}

void fr_config_rule_text(const fr_config_key *k, const char *kind, char *buf, size_t n)
{
    text t = {buf, n, 0};
    buf[0] = '\0';
    rule r;
    char err[160];
    if (!parse_rule(k->jobs, &r, err, sizeof err)) {
        put(&t, kind ? "" : "every job (no rule)");
        return;
    }
    rule_words(&r, kind, &t);
}

/* ---- checking the rules ------------------------------------------------------ */

static const char *check_cond(const fr_config *cfg, const cond *c, char *buf, size_t n)
{
    long k = find_n(cfg, c->key, c->key_len);
    if (k < 0) {
        snprintf(buf, n, "condition on '%.*s', which is not a key", (int)c->key_len, c->key);
        return buf;
    }
    const fr_config_key *key = &cfg->keys[k];
    if (key->type != FR_CFG_ENUM && key->type != FR_CFG_BOOL) {
        snprintf(buf, n, "condition on %.*s, which is neither an enum nor a boolean", (int)c->key_len, c->key);
        return buf;
    }
    const char *v = c->values, *end = c->values + c->values_len;
    while (v < end) {
        const char *bar = memchr(v, '|', (size_t)(end - v));
        size_t len = bar ? (size_t)(bar - v) : (size_t)(end - v);
        char one[64];
        if (len == 0 || len >= sizeof one) {
            snprintf(buf, n, "condition on %.*s: an empty or overlong value", (int)c->key_len, c->key);
            return buf;
        }
        memcpy(one, v, len);
        one[len] = '\0';
        int ok = key->type == FR_CFG_BOOL ? !strcmp(one, "true") || !strcmp(one, "false")
                                          : one_of(key->choices, strlen(key->choices), one);
        if (!ok) {
            snprintf(buf, n, "condition on %.*s: '%s' is not one of its values", (int)c->key_len, c->key, one);
            return buf;
        }
        v = bar ? bar + 1 : end;
    }
    return NULL;
}

const char *fr_config_rule_error(const fr_config_key *k, char *buf, size_t n)
{
    rule r;
    if (!parse_rule(k->jobs, &r, buf, n))
        return buf;
    if (r.all)
        return NULL;
    fr_config *cfg;
    if (fr_config_create(&cfg) != FR_OK) {
        snprintf(buf, n, "cannot create a configuration to check against");
        return buf;
    }
    long kind_key = fr_config_find(cfg, "job.kind");
    const char *choices = cfg->keys[kind_key].choices;
    const char *why = NULL;
    for (size_t i = 0; !why && i < r.n_items; i++) {
        const item *it = &r.items[i];
        char kind[64];
        snprintf(kind, sizeof kind, "%.*s", (int)it->kind_len, it->kind);
        if (!one_of(choices, strlen(choices), kind)) {
            snprintf(buf, n, "'%s' is not a job.kind", kind);
            why = buf;
        }
        for (size_t j = i + 1; !why && j < r.n_items; j++)
            if (kind_is(&r.items[j], kind)) {
                snprintf(buf, n, "job kind '%s' named twice", kind);
                why = buf;
            }
        for (size_t c = 0; !why && c < it->n_conds; c++)
            why = check_cond(cfg, &it->conds[c], buf, n);
    }
    for (size_t c = 0; !why && c < r.n_when; c++)
        why = check_cond(cfg, &r.when[c], buf, n);
    fr_config_free(cfg);
    return why;
}

/* ---- refusing what a job does not read ----------------------------------------- */

/* Why the job cfg describes does not read a key of rule r: "is not read
 * by job.kind = pfedrec, only by ctr, msmt, ..." or "is read by job.kind =
 * mtrec only with mtrec.combiner = pmtrec (here mtrec.combiner = ew, from
 * --set)". */
static void why_unread(const fr_config *cfg, const rule *r, text *t)
{
    const char *kind = job_kind(cfg);
    const item *it = item_of(r, kind);
    if (!it) {
        put(t, "is not read by job.kind = %s, only by ", kind);
        rule_words(r, NULL, t);
        return;
    }
    put(t, "is read by job.kind = %s only with ", kind);
    rule_words(r, kind, t);
    cond all[2 * MAX_CONDS];
    size_t n = 0;
    for (size_t c = 0; c < it->n_conds; c++)
        all[n++] = it->conds[c];
    for (size_t c = 0; c < r->n_when; c++)
        all[n++] = r->when[c];
    put(t, " (here ");
    int first = 1;
    for (size_t c = 0; c < n; c++) {
        if (cond_holds(cfg, &all[c]))
            continue;
        long s = find_n(cfg, all[c].key, all[c].key_len);
        put(t, "%s%s.%s = %s, from %s", first ? "" : "; ", cfg->keys[s].section, cfg->keys[s].name,
            cond_value(cfg, s), cfg->values[s].origin);
        first = 0;
    }
    put(t, ")");
}

/* The keys a job's reading of key k depends on: job.kind and those its
 * rule's conditions name, whose values differ between a and b, as
 * "msmt.model = lr (--set)"; 0 when none differ. */
static int changed_selectors(const fr_config *a, const fr_config *b, const rule *r, text *t)
{
    const cond *conds[MAX_ITEMS * MAX_CONDS + MAX_CONDS];
    size_t n = 0;
    for (size_t i = 0; i < r->n_items; i++)
        for (size_t c = 0; c < r->items[i].n_conds; c++)
            conds[n++] = &r->items[i].conds[c];
    for (size_t c = 0; c < r->n_when; c++)
        conds[n++] = &r->when[c];
    long keys[1 + MAX_ITEMS * MAX_CONDS + MAX_CONDS];
    size_t nk = 0;
    keys[nk++] = fr_config_find(a, "job.kind");
    for (size_t c = 0; c < n; c++) {
        long s = find_n(a, conds[c]->key, conds[c]->key_len);
        int dup = s < 0;
        for (size_t j = 0; j < nk && !dup; j++)
            dup = keys[j] == s;
        if (!dup)
            keys[nk++] = s;
    }
    int changed = 0;
    for (size_t j = 0; j < nk; j++) {
        long s = keys[j];
        if (!strcmp(cond_value(a, s), cond_value(b, s)))
            continue;
        put(t, "%s%s.%s = %s (%s)", changed ? ", " : "", a->keys[s].section, a->keys[s].name, cond_value(a, s),
            a->values[s].origin);
        changed = 1;
    }
    return changed;
}

/* The file of an origin "FILE:LINE". */
static void origin_file(const char *origin, char *buf, size_t n)
{
    snprintf(buf, n, "%s", origin);
    char *colon = strrchr(buf, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1))
        *colon = '\0';
}

typedef struct note {
    char changed[512];
    char file[512];
    char keys[1024];
} note;

fr_status fr_config_check_reads(const fr_config *cfg, const fr_config *file_only, char **notes)
{
    *notes = NULL;
    char refused[3000];
    text rt = {refused, sizeof refused, 0};
    refused[0] = '\0';
    size_t n_refused = 0, n_unsaid = 0;
    note *found = calloc(cfg->n_keys, sizeof *found);
    if (!found)
        return fr_fail_nomem("notes", cfg->n_keys * sizeof *found);
    size_t n_notes = 0;
    for (size_t k = 0; k < cfg->n_keys; k++) {
        const fr_config_value *v = &cfg->values[k];
        if (!strcmp(v->origin, "default") || key_reads(cfg, k))
            continue;
        rule r;
        char err[160];
        parse_rule(cfg->keys[k].jobs, &r, err, sizeof err); /* a missing rule reads: not here */
        char dotted[160];
        snprintf(dotted, sizeof dotted, "%s.%s", cfg->keys[k].section, cfg->keys[k].name);
        int from_file = file_only && !strcmp(v->origin, file_only->values[k].origin) &&
                        strcmp(file_only->values[k].origin, "default") != 0;
        if (from_file && key_reads(file_only, k)) {
            /* The file's own job reads it: an override changed the job. */
            note nt = {{0}, {0}, {0}};
            text ct = {nt.changed, sizeof nt.changed, 0};
            changed_selectors(cfg, file_only, &r, &ct);
            origin_file(v->origin, nt.file, sizeof nt.file);
            size_t j = 0;
            while (j < n_notes && (strcmp(found[j].changed, nt.changed) || strcmp(found[j].file, nt.file)))
                j++;
            if (j == n_notes)
                found[n_notes++] = nt;
            text kt = {found[j].keys, sizeof found[j].keys, strlen(found[j].keys)};
            put(&kt, "%s%s", kt.len ? ", " : "", dotted);
            continue;
        }
        n_refused++;
        char one[1024];
        text ot = {one, sizeof one, 0};
        put(&ot, "%s = %s (%s) ", dotted, v->text, v->origin);
        why_unread(cfg, &r, &ot);
        if (rt.len + ot.len + 64 < rt.n) /* room left for "; and N more" */
            put(&rt, "%s%s", rt.len ? "; " : "", one);
        else
            n_unsaid++;
    }
    if (n_unsaid)
        put(&rt, "; and %zu more", n_unsaid);
    if (n_notes) {
        size_t size = 0;
        FILE *f = open_memstream(notes, &size);
        for (size_t j = 0; f && j < n_notes; j++)
            fprintf(f, "note: with %s this run does not read %s, set in %s for the file's own job\n",
                    found[j].changed, found[j].keys, found[j].file);
        if (f)
            fclose(f);
    }
    free(found);
    if (n_refused == 0)
        return FR_OK;
    free(*notes);
    *notes = NULL;
    const char *kind = job_kind(cfg);
    if (n_refused == 1)
        return fr_fail(FR_ERR_CONFIG, "%s; remove it ('fedrec config --keys --job %s' lists the keys this job reads)",
                       refused, kind);
    return fr_fail(FR_ERR_CONFIG, "%zu keys this job does not read: %s; remove them ('fedrec config --keys --job %s' lists the keys it reads)",
                   n_refused, refused, kind);
}
