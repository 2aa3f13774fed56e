/* tune_space.c — parsing, checking and expanding the search space of
 * `fedrec tune` (see tune_space.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/tune_space.h"
#include "fedrec/rng.h"
#include "io/hash64.h"

static const fr_config_key *schema_key(const char *key)
{
    size_t n;
    const fr_config_key *k = fr_config_schema(&n);
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(k[i].section);
        if (!strncmp(key, k[i].section, sl) && key[sl] == '.' && !strcmp(key + sl + 1, k[i].name))
            return &k[i];
    }
    return NULL;
}

/* Check value for key as `--set` would, on a copy of the base. */
static fr_status check_value(const fr_config *base, const char *option, const char *key, const char *value)
{
    char *ini = NULL;
    fr_config *c = NULL;
    fr_status s = fr_config_print_string(base, &ini);
    if (s == FR_OK)
        s = fr_config_create(&c);
    if (s == FR_OK)
        s = fr_config_load_string(c, ini, "the base configuration");
    if (s == FR_OK) /* the config layer's message, as --set gets it */
        s = fr_config_set(c, key, value, option);
    fr_config_free(c);
    free(ini);
    return s;
}

static fr_status check_key(const fr_tune_space *sp, const fr_config *base, const char *option, const char *key)
{
    if (!strcmp(key, "job.kind"))
        return fr_cli_fail(FR_ERR_INVALID, "%s job.kind: the job kind decides the validation metric a tune selects on, so one tune runs one job kind; tune each kind on its own",
                           option);
    if (!strcmp(key, "run.seed"))
        return fr_cli_fail(FR_ERR_INVALID, "%s run.seed: give the seeds with --seeds 0,1,2: every configuration runs with each of them", option);
    if (!strncmp(key, "output.", 7))
        return fr_cli_fail(FR_ERR_INVALID, "%s %s: tune names each trial's output files itself; output.* keys cannot be searched", option, key);
    for (size_t d = 0; d < sp->n_dims; d++)
        if (!strcmp(sp->dims[d].key, key))
            return fr_cli_fail(FR_ERR_INVALID, "%s %s: the key is searched twice (already by --%s); give each key once", option,
                               key, sp->dims[d].random ? "random" : "grid");
    (void)base;
    return FR_OK;
}

static fr_status grid_values(fr_tune_dim *dim, const fr_config *base, const char *spec, const char *list)
{
    /* ';' separates values that hold commas themselves (list keys) */
    char sep = strchr(list, ';') ? ';' : ',';
    if (!*list)
        return fr_cli_fail(FR_ERR_INVALID, "--grid %s: no values after '=', expected a list like %s=v1,v2", spec, dim->key);
    for (const char *p = list;;) {
        size_t len = strcspn(p, sep == ';' ? ";" : ",");
        if (len == 0)
            return fr_cli_fail(FR_ERR_INVALID, "--grid %s: an empty value in the list (value %zu), expected values separated by '%c'",
                               spec, dim->n_values + 1, sep);
        char **v = realloc(dim->values, (dim->n_values + 1) * sizeof *v);
        if (!v)
            return FR_ERR_NOMEM;
        dim->values = v;
        if (!(v[dim->n_values] = strndup(p, len)))
            return FR_ERR_NOMEM;
        dim->n_values++;
        if (!strcmp(v[dim->n_values - 1], "n/a"))
            return fr_cli_fail(FR_ERR_INVALID, "--grid %s: 'n/a' is how trials.csv marks a key a trial's job does not read, not a value",
                               spec);
        FR_TRY_CLI(check_value(base, "--grid", dim->key, v[dim->n_values - 1]));
        for (size_t i = 0; i + 1 < dim->n_values; i++)
            if (!strcmp(v[i], v[dim->n_values - 1]))
                return fr_cli_fail(FR_ERR_INVALID, "--grid %s: the value '%s' is listed twice", spec, v[i]);
        if (!p[len])
            break;
        p += len + 1;
    }
    return FR_OK;
}

static fr_status random_range(fr_tune_dim *dim, const fr_config *base, const char *spec, const char *range)
{
    const fr_config_key *k = schema_key(dim->key);
    if (!k) /* the config layer names the key and suggests one */
        return check_value(base, "--random", dim->key, "0");
    if (k->type != FR_CFG_INT && k->type != FR_CFG_UINT64 && k->type != FR_CFG_FLOAT)
        return fr_cli_fail(FR_ERR_INVALID, "--random %s: %s is not a number (a %s key), expected an integer or real key; list its values with --grid",
                           spec, dim->key,
                           k->type == FR_CFG_BOOL ? "true/false" : k->type == FR_CFG_ENUM ? "choice" : k->type == FR_CFG_INT_LIST ? "list" : "text");
    dim->integer = k->type != FR_CFG_FLOAT;
    char lo_text[64], hi_text[64], mode[16] = "";
    size_t l1 = strcspn(range, ":");
    const char *rest = range[l1] ? range + l1 + 1 : NULL;
    size_t l2 = rest ? strcspn(rest, ":") : 0;
    if (!rest || l1 >= sizeof lo_text || l2 >= sizeof hi_text || (rest[l2] && strlen(rest + l2 + 1) >= sizeof mode))
        return fr_cli_fail(FR_ERR_INVALID, "--random %s: expected %s=LO:HI or %s=LO:HI:log", spec, dim->key, dim->key);
    snprintf(lo_text, sizeof lo_text, "%.*s", (int)l1, range);
    snprintf(hi_text, sizeof hi_text, "%.*s", (int)l2, rest);
    if (rest[l2])
        snprintf(mode, sizeof mode, "%s", rest + l2 + 1);
    if (*mode && strcmp(mode, "log") && strcmp(mode, "lin"))
        return fr_cli_fail(FR_ERR_INVALID, "--random %s: '%s' after the range, expected 'log' (or 'lin', the default)", spec, mode);
    dim->log = !strcmp(mode, "log");
    const char *texts[2] = {lo_text, hi_text};
    double *ends[2] = {&dim->lo, &dim->hi};
    for (int e = 0; e < 2; e++) {
        char *end;
        errno = 0;
        *ends[e] = strtod(texts[e], &end);
        if (!*texts[e] || *end || errno || !isfinite(*ends[e]) || (dim->integer && *ends[e] != floor(*ends[e])))
            return fr_cli_fail(FR_ERR_INVALID, "--random %s: the %s end '%s' is not %s", spec, e ? "upper" : "lower", texts[e],
                               dim->integer ? "a whole number (the key is an integer)" : "a number");
    }
    if (!(dim->lo < dim->hi))
        return fr_cli_fail(FR_ERR_INVALID, "--random %s: the range %s:%s is empty, expected LO < HI", spec, lo_text, hi_text);
    if (dim->log && dim->lo <= 0)
        return fr_cli_fail(FR_ERR_INVALID, "--random %s: a log scale needs LO > 0, got %s", spec, lo_text);
    FR_TRY_CLI(check_value(base, "--random", dim->key, lo_text));
    return check_value(base, "--random", dim->key, hi_text);
}

fr_status fr_tune_space_add(fr_tune_space *sp, const fr_config *base, const char *option, const char *spec)
{
    int random = !strcmp(option, "--random");
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return fr_cli_fail(FR_ERR_INVALID, "%s '%s': expected %s", option, spec,
                           random ? "section.key=LO:HI[:log]" : "section.key=v1,v2,...");
    fr_tune_dim dim;
    memset(&dim, 0, sizeof dim);
    dim.random = random;
    if (!(dim.key = strndup(spec, (size_t)(eq - spec))))
        return FR_ERR_NOMEM;
    fr_status s = check_key(sp, base, option, dim.key);
    if (s == FR_OK)
        s = random ? random_range(&dim, base, spec, eq + 1) : grid_values(&dim, base, spec, eq + 1);
    fr_tune_dim *d = s == FR_OK ? realloc(sp->dims, (sp->n_dims + 1) * sizeof *d) : NULL;
    if (s == FR_OK && !d)
        s = FR_ERR_NOMEM;
    if (s != FR_OK) {
        free(dim.key);
        for (size_t i = 0; i < dim.n_values; i++)
            free(dim.values[i]);
        free(dim.values);
        return s;
    }
    sp->dims = d;
    if (random) {
        sp->dims[sp->n_dims++] = dim;
    } else { /* grid keys stay ahead of random ones */
        memmove(&sp->dims[sp->n_grid + 1], &sp->dims[sp->n_grid], (sp->n_dims - sp->n_grid) * sizeof dim);
        sp->dims[sp->n_grid++] = dim;
        sp->n_dims++;
    }
    return FR_OK;
}

void fr_tune_space_free(fr_tune_space *sp)
{
    for (size_t d = 0; d < sp->n_dims; d++) {
        free(sp->dims[d].key);
        for (size_t i = 0; i < sp->dims[d].n_values; i++)
            free(sp->dims[d].values[i]);
        free(sp->dims[d].values);
    }
    free(sp->dims);
    free(sp->point_combination);
    free(sp->applies);
    memset(sp, 0, sizeof *sp);
}

size_t fr_tune_space_size(const fr_tune_space *sp)
{
    size_t n = sp->trials ? sp->trials : 1;
    for (size_t d = 0; d < sp->n_grid; d++)
        n *= sp->dims[d].n_values;
    return n;
}

const char *fr_tune_space_value(const fr_tune_space *sp, size_t c, size_t d, char *buf, size_t n)
{
    size_t draws = sp->trials ? sp->trials : 1, draw = c % draws, g = c / draws;
    const fr_tune_dim *dim = &sp->dims[d];
    if (!dim->random) {
        /* the grid's last key varies fastest */
        for (size_t e = sp->n_grid; e-- > d + 1;)
            g /= sp->dims[e].n_values;
        return dim->values[g % dim->n_values];
    }
    fr_rng r;
    fr_rng_init(&r, sp->seed, (uint32_t)draw, (uint32_t)(d - sp->n_grid), FR_RNG_TUNE);
    double u = fr_rng_uniform_double(&r), v;
    if (dim->integer) {
        /* every integer of [lo, hi] alike (log: alike on a log scale) */
        double lo = dim->lo, hi = dim->hi + 1;
        v = floor(dim->log ? exp(log(lo) + u * (log(hi) - log(lo))) : lo + u * (hi - lo));
        v = v > dim->hi ? dim->hi : v;
        snprintf(buf, n, "%.0f", v);
    } else {
        v = dim->log ? exp(log(dim->lo) + u * (log(dim->hi) - log(dim->lo))) : dim->lo + u * (dim->hi - dim->lo);
        snprintf(buf, n, "%.4g", v);
    }
    return buf;
}

/* A configuration of the base (as INI text) with combination c's kept
 * keys set. */
static fr_status combination_config(const char *base_ini, const fr_tune_space *sp, size_t c,
                                    const unsigned char *keep, fr_config **out)
{
    char buf[64];
    fr_config *cfg = NULL;
    fr_status s = fr_config_create(&cfg);
    if (s == FR_OK)
        s = fr_config_load_string(cfg, base_ini, "the base configuration");
    for (size_t d = 0; s == FR_OK && d < sp->n_dims; d++)
        if (keep[d])
            s = fr_config_set(cfg, sp->dims[d].key, fr_tune_space_value(sp, c, d, buf, sizeof buf), "tune");
    if (s != FR_OK) {
        fr_config_free(cfg);
        cfg = NULL;
    }
    *out = cfg;
    return s;
}

/* Combination c's kept keys and values, hashed. */
static uint64_t combination_hash(const fr_tune_space *sp, size_t c, const unsigned char *keep)
{
    char buf[64];
    uint64_t h = 0;
    for (size_t d = 0; d < sp->n_dims; d++)
        if (keep[d]) {
            const char *v = fr_tune_space_value(sp, c, d, buf, sizeof buf);
            h = fr_hash64(h, sp->dims[d].key, strlen(sp->dims[d].key));
            h = fr_hash64(h, v, strlen(v));
        }
    return h;
}

static int same_combination(const fr_tune_space *sp, size_t a, const unsigned char *ka, size_t b,
                            const unsigned char *kb)
{
    char x[64], y[64];
    for (size_t d = 0; d < sp->n_dims; d++) {
        if (ka[d] != kb[d])
            return 0;
        if (ka[d] && strcmp(fr_tune_space_value(sp, a, d, x, sizeof x), fr_tune_space_value(sp, b, d, y, sizeof y)))
            return 0;
    }
    return 1;
}

typedef struct hashed {
    uint64_t h;
    size_t c;
} hashed;

static int by_hash(const void *a, const void *b)
{
    const hashed *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->c < y->c ? -1 : x->c > y->c;
}

/* No point reads dims[d]: say which jobs do, and under what. */
static fr_status read_by_none(const fr_tune_space *sp, const fr_config *base, size_t d)
{
    const char *option = sp->dims[d].random ? "--random" : "--grid", *key = sp->dims[d].key, *kind = "";
    fr_config_get_string(base, "job.kind", &kind);
    const fr_config_key *k = schema_key(key);
    char rule[512] = "";
    if (k && fr_config_rule_names(k, kind)) {
        fr_config_rule_text(k, kind, rule, sizeof rule);
        return fr_cli_fail(FR_ERR_CONFIG, "%s %s: job.kind = %s reads it only with %s, and no configuration of this search has that: no trial would use it; drop the key, or search it together with those values",
                           option, key, kind, *rule ? rule : "other settings");
    }
    if (k)
        fr_config_rule_text(k, NULL, rule, sizeof rule);
    return fr_cli_fail(FR_ERR_CONFIG, "%s %s: job.kind = %s does not read it (the jobs that do: %s); drop the key ('fedrec config --keys --job %s' lists the keys this job reads)",
                       option, key, kind, *rule ? rule : "no job", kind);
}

fr_status fr_tune_space_fold(fr_tune_space *sp, const fr_config *base)
{
    size_t n = fr_tune_space_size(sp), nd = sp->n_dims, draws = sp->trials ? sp->trials : 1;
    size_t row = nd ? nd : 1;
    unsigned char *keep = malloc(n * row);
    hashed *order = malloc(n * sizeof *order);
    size_t *rep = malloc(n * sizeof *rep);
    char *ini = NULL;
    free(sp->point_combination);
    free(sp->applies);
    sp->point_combination = NULL;
    sp->applies = NULL;
    sp->n_points = sp->folded = 0;
    fr_status s = keep && order && rep ? fr_config_print_string(base, &ini) : fr_cli_fail(FR_ERR_NOMEM, "out of memory for %zu combinations", n);
    /* Which keys a job reads depends on job.kind and on enum and boolean
     * keys (the rules' conditions), never on a --random key (a number):
     * a grid point's draws keep the same keys. */
    for (size_t g = 0; s == FR_OK && g < n / draws; g++) {
        unsigned char *k = keep + g * draws * row;
        memset(k, 1, row);
        for (int dropped = 1; s == FR_OK && dropped;) {
            fr_config *cfg;
            dropped = 0;
            s = combination_config(ini, sp, g * draws, k, &cfg);
            for (size_t d = 0; s == FR_OK && d < nd; d++)
                if (k[d] && fr_config_reads(cfg, sp->dims[d].key) == 0)
                    k[d] = 0, dropped = 1;
            fr_config_free(cfg);
        }
        for (size_t t = 1; t < draws; t++)
            memcpy(k + t * row, k, row);
    }
    /* Combinations with the same kept keys and values: one point, the
     * first combination's. */
    for (size_t c = 0; s == FR_OK && c < n; c++)
        order[c] = (hashed){combination_hash(sp, c, keep + c * row), c};
    if (s == FR_OK)
        qsort(order, n, sizeof *order, by_hash);
    for (size_t i = 0; s == FR_OK && i < n; i++) {
        size_t c = order[i].c;
        rep[c] = c;
        for (size_t j = i; j-- > 0 && order[j].h == order[i].h;)
            if (rep[order[j].c] == order[j].c &&
                same_combination(sp, c, keep + c * row, order[j].c, keep + order[j].c * row)) {
                rep[c] = order[j].c;
                break;
            }
    }
    size_t points = 0;
    for (size_t c = 0; s == FR_OK && c < n; c++)
        points += rep[c] == c;
    if (s == FR_OK) {
        sp->point_combination = malloc((points ? points : 1) * sizeof *sp->point_combination);
        sp->applies = malloc((points ? points : 1) * row);
        if (!sp->point_combination || !sp->applies)
            s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for %zu configurations", points);
    }
    for (size_t c = 0; s == FR_OK && c < n; c++)
        if (rep[c] == c) {
            sp->point_combination[sp->n_points] = c;
            memcpy(sp->applies + sp->n_points * nd, keep + c * row, nd);
            sp->n_points++;
        }
    if (s == FR_OK)
        sp->folded = n - sp->n_points;
    for (size_t d = 0; s == FR_OK && d < nd; d++) {
        size_t p = 0;
        while (p < sp->n_points && !sp->applies[p * nd + d])
            p++;
        if (p == sp->n_points)
            s = read_by_none(sp, base, d);
    }
    free(ini);
    free(keep);
    free(order);
    free(rep);
    return s;
}

const char *fr_tune_point_value(const fr_tune_space *sp, size_t p, size_t d, char *buf, size_t n)
{
    if (!sp->applies[p * sp->n_dims + d])
        return NULL;
    return fr_tune_space_value(sp, sp->point_combination[p], d, buf, n);
}
