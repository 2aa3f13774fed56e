/* params.c — the parameter set (see fedrec/params.h): a growable list of
 * named parameters with their value and gradient buffers, flat export and
 * import by role, and the touched-row bookkeeping of row-sparse gradients. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/params.h"
#include "fedrec/rng.h"

struct fr_param_set {
    fr_backend *be;
    fr_param **items;
    size_t count, cap;
};

static const char *const role_names[FR_ROLE_COUNT] = {"global", "group", "local",
                                                      "bn-local", "frozen"};

const char *fr_role_name(fr_role role)
{
    return (unsigned)role < FR_ROLE_COUNT ? role_names[role] : "unknown";
}

fr_status fr_role_parse(const char *name, fr_role *out)
{
    for (int i = 0; i < FR_ROLE_COUNT; i++)
        if (name && !strcmp(name, role_names[i])) {
            *out = (fr_role)i;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID, "unknown role '%s': expected one of global, group, local, bn-local, frozen",
                   name ? name : "(null)");
}

fr_status fr_param_set_create(fr_backend *be, fr_param_set **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fr_fail_nomem("parameter set", sizeof **out);
    (*out)->be = be;
    return FR_OK;
}

static void param_free(fr_param *p)
{
    fr_buffer_free(p->value);
    fr_buffer_free(p->grad);
    fr_buffer_free(p->touched_dev);
    free(p->touched);
    free(p->slot_of_row);
    free(p->name);
    free(p);
}

void fr_param_set_free(fr_param_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        param_free(set->items[i]);
    free(set->items);
    free(set);
}

fr_backend *fr_param_set_backend(const fr_param_set *set)
{
    return set->be;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

fr_status fr_param_add(fr_param_set *set, const char *name, fr_role role,
                       size_t rows, size_t cols, int row_sparse, int trainable,
                       fr_param **out)
{
    *out = NULL;
    if (!name || !*name)
        return fr_fail(FR_ERR_INVALID, "parameter name is empty");
    if ((unsigned)role >= FR_ROLE_COUNT)
        return fr_fail(FR_ERR_INVALID, "parameter '%s': role %d out of range", name, (int)role);
    if (rows && cols > SIZE_MAX / 4 / rows)
        return fr_fail(FR_ERR_INVALID, "parameter '%s': %zux%zu is too large", name, rows, cols);
    if (fr_param_set_find(set, name))
        return fr_fail(FR_ERR_INVALID, "parameter '%s' already exists", name);
    if (set->count == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 16;
        fr_param **ni = realloc(set->items, ncap * sizeof *ni);
        if (!ni)
            return fr_fail_nomem("parameter list", ncap * sizeof *ni);
        set->items = ni;
        set->cap = ncap;
    }
    fr_param *p = calloc(1, sizeof *p);
    size_t len = strlen(name) + 1;
    if (!p || !(p->name = malloc(len))) {
        free(p);
        return fr_fail_nomem("parameter", sizeof *p + len);
    }
    memcpy(p->name, name, len);
    p->name_hash = fnv1a(name);
    p->role = role;
    p->rows = rows;
    p->cols = cols;
    p->row_sparse = row_sparse && trainable;
    p->trainable = trainable && role != FR_ROLE_FROZEN;
    p->lr_scale = 1.0f;
    size_t bytes = rows * cols * sizeof(float);
    fr_status s = fr_buffer_alloc_zero(set->be, bytes ? bytes : 4, &p->value);
    if (s == FR_OK && p->trainable && !p->row_sparse)
        s = fr_buffer_alloc_zero(set->be, bytes ? bytes : 4, &p->grad);
    if (s == FR_OK && p->row_sparse) {
        p->slot_of_row = malloc((rows ? rows : 1) * sizeof *p->slot_of_row);
        if (!p->slot_of_row)
            s = fr_fail_nomem("row-sparse slot map", rows * sizeof *p->slot_of_row);
        else
            for (size_t r = 0; r < rows; r++)
                p->slot_of_row[r] = -1;
    }
    if (s != FR_OK) {
        param_free(p);
        return s;
    }
    set->items[set->count++] = p;
    *out = p;
    return FR_OK;
}

size_t fr_param_set_count(const fr_param_set *set)
{
    return set->count;
}

fr_param *fr_param_set_at(fr_param_set *set, size_t i)
{
    return i < set->count ? set->items[i] : NULL;
}

fr_param *fr_param_set_find(fr_param_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (!strcmp(set->items[i]->name, name))
            return set->items[i];
    return NULL;
}

size_t fr_param_set_numel(const fr_param_set *set, unsigned role_mask)
{
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++)
        if (role_mask & FR_ROLE_BIT(set->items[i]->role))
            n += set->items[i]->rows * set->items[i]->cols;
    return n;
}

size_t fr_param_set_numel_trainable(const fr_param_set *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++)
        if (set->items[i]->trainable)
            n += set->items[i]->rows * set->items[i]->cols;
    return n;
}

static fr_status check_flat(const fr_param_set *set, unsigned role_mask,
                            size_t n, const char *what)
{
    size_t want = fr_param_set_numel(set, role_mask);
    if (n != want)
        return fr_fail(FR_ERR_INVALID, "%s: vector has %zu values, the selected parameters %zu",
                       what, n, want);
    return FR_OK;
}

fr_status fr_param_set_export(const fr_param_set *set, unsigned role_mask,
                              float *dst, size_t n)
{
    FR_TRY(check_flat(set, role_mask, n, "parameter export"));
    for (size_t i = 0; i < set->count; i++) {
        const fr_param *p = set->items[i];
        if (!(role_mask & FR_ROLE_BIT(p->role)))
            continue;
        size_t numel = p->rows * p->cols;
        FR_TRY(fr_buffer_download(p->value, 0, dst, numel * sizeof *dst));
        dst += numel;
    }
    return FR_OK;
}

fr_status fr_param_set_import(fr_param_set *set, unsigned role_mask,
                              const float *src, size_t n)
{
    FR_TRY(check_flat(set, role_mask, n, "parameter import"));
    for (size_t i = 0; i < set->count; i++) {
        fr_param *p = set->items[i];
        if (!(role_mask & FR_ROLE_BIT(p->role)))
            continue;
        size_t numel = p->rows * p->cols;
        FR_TRY(fr_buffer_upload(p->value, 0, src, numel * sizeof *src));
        src += numel;
    }
    return FR_OK;
}

fr_status fr_param_set_lr_scale(fr_param_set *set, unsigned role_mask,
                                const char *prefix, float scale,
                                size_t *matched)
{
    size_t hits = 0, plen = prefix ? strlen(prefix) : 0;
    if (matched)
        *matched = 0;
    if (!(scale >= 0.0f && scale <= FLT_MAX))
        return fr_fail(FR_ERR_INVALID, "learning-rate scale %g: expected a finite value >= 0", scale);
    for (size_t i = 0; i < set->count; i++) {
        fr_param *p = set->items[i];
        if ((role_mask & FR_ROLE_BIT(p->role)) && !strncmp(p->name, prefix ? prefix : "", plen)) {
            p->lr_scale = scale;
            hits++;
        }
    }
    if (matched)
        *matched = hits;
    return FR_OK;
}

fr_status fr_param_set_zero_grad(fr_param_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        fr_param *p = set->items[i];
        if (p->row_sparse) {
            for (size_t t = 0; t < p->n_touched; t++)
                p->slot_of_row[p->touched[t]] = -1;
            p->n_touched = 0;
        } else if (p->grad && p->rows * p->cols != 0) {
            FR_TRY(fr_fill(set->be, p->rows * p->cols, 0.0f, fr_view_of(p->grad, 0)));
        }
    }
    return FR_OK;
}

/* Fill p from its init stream: uniform in [-scale, scale] or normal with
 * standard deviation scale. */
static fr_status init_random(fr_param *p, uint64_t seed, float scale, int normal)
{
    size_t n = p->rows * p->cols;
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return fr_fail_nomem("parameter init", n * sizeof *v);
    fr_rng rng;
    fr_rng_init(&rng, seed, 0, p->name_hash, FR_RNG_INIT);
    for (size_t i = 0; i < n; i++)
        v[i] = normal ? scale * fr_rng_normal(&rng)
                      : (2.0f * fr_rng_uniform(&rng) - 1.0f) * scale;
    fr_status s = fr_buffer_upload(p->value, 0, v, n * sizeof *v);
    free(v);
    return s;
}

fr_status fr_param_init_uniform(fr_param *p, uint64_t seed, float bound)
{
    return init_random(p, seed, bound, 0);
}

fr_status fr_param_init_normal(fr_param *p, uint64_t seed, float std)
{
    return init_random(p, seed, std, 1);
}

fr_status fr_param_fill(fr_param *p, float value)
{
    size_t n = p->rows * p->cols;
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return fr_fail_nomem("parameter fill", n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = value;
    fr_status s = fr_buffer_upload(p->value, 0, v, n * sizeof *v);
    free(v);
    return s;
}

/* Grow the compact gradient buffer to hold `need` rows, keeping its rows. */
static fr_status grow_grad(fr_param *p, fr_backend *be, size_t need)
{
    if (need <= p->touched_cap && p->grad)
        return FR_OK;
    size_t cap = p->touched_cap ? p->touched_cap : 64;
    while (cap < need)
        cap *= 2;
    fr_buffer *g, *ids;
    /* One row more than cap: the discard row (see params.h). */
    FR_TRY(fr_buffer_alloc_zero(be, (cap + 1) * p->cols * sizeof(float), &g));
    fr_status s = fr_buffer_alloc(be, cap * sizeof(int32_t), &ids);
    if (s != FR_OK) {
        fr_buffer_free(g);
        return s;
    }
    if (p->grad && p->n_touched * p->cols != 0)
        s = fr_copy(be, p->n_touched * p->cols, fr_view_of(p->grad, 0), fr_view_of(g, 0));
    int32_t *nt = realloc(p->touched, cap * sizeof *nt);
    if (s != FR_OK || !nt) {
        fr_buffer_free(g);
        fr_buffer_free(ids);
        if (nt)
            p->touched = nt;
        return s != FR_OK ? s : fr_fail_nomem("touched rows", cap * sizeof *nt);
    }
    p->touched = nt;
    fr_buffer_free(p->grad);
    fr_buffer_free(p->touched_dev);
    p->grad = g;
    p->touched_dev = ids;
    p->touched_cap = cap;
    return FR_OK;
}

fr_status fr_param_touch_rows(fr_param *p, fr_backend *be, const int32_t *ids,
                              size_t n, int32_t *slots)
{
    if (!p->row_sparse)
        return fr_fail(FR_ERR_INVALID, "parameter '%s' is not row-sparse", p->name);
    size_t first_new = p->n_touched;
    const fr_buffer *dev_before = p->touched_dev;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= p->rows)
            return fr_fail(FR_ERR_INVALID, "parameter '%s': row %d outside [0, %zu)", p->name,
                           (int)ids[i], p->rows);
        if (p->slot_of_row[ids[i]] < 0) {
            FR_TRY(grow_grad(p, be, p->n_touched + 1));
            p->slot_of_row[ids[i]] = (int32_t)p->n_touched;
            p->touched[p->n_touched++] = ids[i];
        }
        slots[i] = p->slot_of_row[ids[i]];
    }
    size_t added = p->n_touched - first_new;
    if (added) {
        /* New slots start at zero: clear the rows a previous step left,
         * all in one op (they are contiguous). */
        FR_TRY(fr_fill(be, added * p->cols, 0.0f, fr_view_of(p->grad, first_new * p->cols)));
        /* A grown list is a new device buffer: it needs every id, not
         * only the new ones. */
        size_t from = p->touched_dev == dev_before ? first_new : 0;
        FR_TRY(fr_buffer_upload(p->touched_dev, from * sizeof(int32_t), p->touched + from,
                                (p->n_touched - from) * sizeof(int32_t)));
    }
    return FR_OK;
}
