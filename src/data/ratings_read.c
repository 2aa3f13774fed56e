/* ratings_read.c — reading rating files (see fedrec/ratings.h). Lines of
 * any length (io/lines.h); '\r' before the newline is ignored; blank lines
 * are skipped. Ids are remapped densely through id_map, then renumbered in the
 * order of the original ids. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "io/lines.h"
#include "fedrec/ratings.h"

void fr_ratings_spec_default(fr_ratings_format format, fr_ratings_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->format = format;
    spec->delimiter = format == FR_RATINGS_MOVIELENS_TAB ? '\t' : ',';
    spec->col_user = 0;
    spec->col_item = 1;
    spec->col_rating = 2;
    spec->col_time = 3;
}

void fr_ratings_free(fr_ratings *r)
{
    free(r->user);
    free(r->item);
    free(r->rating);
    free(r->time);
    for (size_t i = 0; r->user_names && i < r->n_users; i++)
        free(r->user_names[i]);
    for (size_t i = 0; r->item_names && i < r->n_items; i++)
        free(r->item_names[i]);
    free(r->user_names);
    free(r->item_names);
    memset(r, 0, sizeof *r);
}

#define MAX_FIELDS 64

/* Split line into at most MAX_FIELDS fields at the separator (one char,
 * or "::"). Returns the number of fields. */
static int split(char *line, const fr_ratings_spec *spec, char **field, size_t *len)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *end;
        if (spec->format == FR_RATINGS_MOVIELENS_DAT)
            end = strstr(p, "::");
        else
            end = strchr(p, spec->delimiter);
        if (n == MAX_FIELDS)
            return n + 1; /* too many: the caller reports */
        field[n] = p;
        len[n] = end ? (size_t)(end - p) : strlen(p);
        n++;
        if (!end)
            return n;
        p = end + (spec->format == FR_RATINGS_MOVIELENS_DAT ? 2 : 1);
    }
}

static const char *column_name(int which)
{
    static const char *const names[] = {"user", "item", "rating", "time"};
    return names[which];
}

typedef struct reader {
    fr_ratings *r;
    size_t cap;
    fr_id_map users, items;
} reader;

static fr_status grow(reader *rd)
{
    fr_ratings *r = rd->r;
    if (r->n < rd->cap)
        return FR_OK;
    size_t cap = rd->cap ? rd->cap * 2 : 65536;
    int32_t *u = realloc(r->user, cap * sizeof *u);
    if (u)
        r->user = u;
    int32_t *i = realloc(r->item, cap * sizeof *i);
    if (i)
        r->item = i;
    float *ra = realloc(r->rating, cap * sizeof *ra);
    if (ra)
        r->rating = ra;
    int64_t *t = realloc(r->time, cap * sizeof *t);
    if (t)
        r->time = t;
    if (!u || !i || !ra || !t)
        return fr_fail_nomem("ratings", cap * 20);
    rd->cap = cap;
    return FR_OK;
}

static fr_status parse_line(reader *rd, const char *path, size_t lineno, char *line,
                            const fr_ratings_spec *spec)
{
    char *field[MAX_FIELDS + 1];
    size_t len[MAX_FIELDS + 1];
    int n = split(line, spec, field, len);
    const int cols[4] = {spec->col_user, spec->col_item, spec->col_rating, spec->col_time};
    int need = 0;
    for (int c = 0; c < 4; c++)
        if (cols[c] + 1 > need)
            need = cols[c] + 1;
    if (n > MAX_FIELDS)
        return fr_fail(FR_ERR_DATA, "%s:%zu: more than %d fields", path, lineno, MAX_FIELDS);
    if (n < need) {
        const char *sep = spec->format == FR_RATINGS_MOVIELENS_DAT ? "'::'" :
                          spec->delimiter == '\t' ? "tab" : NULL;
        char sepbuf[8];
        if (!sep) {
            snprintf(sepbuf, sizeof sepbuf, "'%c'", spec->delimiter);
            sep = sepbuf;
        }
        return fr_fail(FR_ERR_DATA, "%s:%zu: %d field(s) separated by %s, expected at least %d (user, item%s%s)",
                       path, lineno, n, sep, need, spec->col_rating >= 0 ? ", rating" : "",
                       spec->col_time >= 0 ? ", time" : "");
    }
    FR_TRY(grow(rd));
    fr_ratings *r = rd->r;
    for (int c = 0; c < 2; c++) {
        char *f = field[cols[c]];
        size_t l = len[cols[c]];
        while (l && (*f == ' ')) {
            f++;
            l--;
        }
        while (l && f[l - 1] == ' ')
            l--;
        if (l == 0)
            return fr_fail(FR_ERR_DATA, "%s:%zu: field %d (%s) is empty", path, lineno, cols[c] + 1,
                           column_name(c));
        FR_TRY(fr_id_map_get(c == 0 ? &rd->users : &rd->items, f, l, c == 0 ? &r->user[r->n] : &r->item[r->n]));
    }
    r->rating[r->n] = 1.0f;
    r->time[r->n] = (int64_t)lineno;
    for (int c = 2; c < 4; c++) {
        if (cols[c] < 0)
            continue;
        char *f = field[cols[c]];
        char saved = f[len[cols[c]]];
        f[len[cols[c]]] = '\0';
        char *end;
        errno = 0;
        int ok;
        if (c == 2) {
            double v = strtod(f, &end);
            while (*end == ' ')
                end++;
            ok = end != f && !*end && errno != ERANGE && isfinite((float)v); /* within float range */
            r->rating[r->n] = (float)v;
        } else {
            long long v = strtoll(f, &end, 10);
            while (*end == ' ')
                end++;
            ok = end != f && !*end && errno != ERANGE;
            r->time[r->n] = v;
        }
        if (!ok) {
            /* Words where a number belongs on the first line: a header. */
            const char *hint = lineno != 1 ? ""
                               : spec->format == FR_RATINGS_DELIMITED
                                   ? "; line 1 looks like a header: say so with data.header = true"
                                   : "; line 1 looks like a header, which this format has none of: read the file as data.source = delimited with data.header = true";
            fr_status s = fr_fail(FR_ERR_DATA, "%s:%zu: field %d (%s) is '%s', expected %s%s", path,
                                  lineno, cols[c] + 1, column_name(c), f,
                                  c == 2 ? "a finite number within float range" : "an integer timestamp", hint);
            f[len[cols[c]]] = saved;
            return s;
        }
        f[len[cols[c]]] = saved;
    }
    r->n++;
    return FR_OK;
}

typedef struct file_reader {
    reader *rd;
    const char *path;
    const fr_ratings_spec *spec;
} file_reader;

static fr_status one_line(void *arg, char *line, size_t len, size_t lineno)
{
    file_reader *fr = arg;
    if (len == 0 || (lineno == 1 && fr->spec->header && fr->spec->format == FR_RATINGS_DELIMITED))
        return FR_OK;
    return parse_line(fr->rd, fr->path, lineno, line, fr->spec);
}

/* Read one file into rd->r through the reader's shared id maps. */
static fr_status read_file(reader *rd, const char *path, const fr_ratings_spec *spec)
{
    file_reader fr = {rd, path, spec};
    fr_status s = fr_read_lines(path, one_line, &fr);
    if (s == FR_OK && rd->r->n == 0)
        s = fr_fail(FR_ERR_DATA, "%s: no ratings (the file is empty%s)", path,
                    spec->header ? " or holds only its header" : "");
    return s;
}

static fr_status copy_names(char **from, size_t n, char ***to)
{
    *to = calloc(n ? n : 1, sizeof **to);
    if (!*to)
        return fr_fail_nomem("id names", n * sizeof **to);
    for (size_t i = 0; i < n; i++) {
        (*to)[i] = strdup(from[i]);
        if (!(*to)[i])
            return fr_fail_nomem("id names", strlen(from[i]) + 1);
    }
    return FR_OK;
}

fr_status fr_ratings_read_parts(const char *const *paths, size_t n_parts,
                                const fr_ratings_spec *spec, fr_ratings *out)
{
    for (size_t p = 0; p < n_parts; p++)
        memset(&out[p], 0, sizeof out[p]);
    if (spec->col_user < 0 || spec->col_item < 0 || spec->col_user == spec->col_item)
        return fr_fail(FR_ERR_INVALID, "ratings: user and item columns must be distinct and >= 0");
    fr_id_map users, items;
    fr_id_map_init(&users);
    fr_id_map_init(&items);
    fr_status s = FR_OK;
    for (size_t p = 0; s == FR_OK && p < n_parts; p++) {
        reader rd = {&out[p], 0, users, items};
        s = read_file(&rd, paths[p], spec);
        users = rd.users; /* the maps grow as each file adds ids */
        items = rd.items;
    }
    /* Renumber every part in name order; part 0 takes the names, the
     * others get copies, so each part frees its own. */
    int32_t *user_of = NULL, *item_of = NULL;
    if (s == FR_OK)
        s = fr_id_map_sort(&users, &user_of);
    if (s == FR_OK)
        s = fr_id_map_sort(&items, &item_of);
    size_t n_users = users.count, n_items = items.count;
    for (size_t p = 0; s == FR_OK && p < n_parts; p++) {
        fr_ratings *r = &out[p];
        for (size_t i = 0; i < r->n; i++) {
            r->user[i] = user_of[r->user[i]];
            r->item[i] = item_of[r->item[i]];
        }
        r->n_users = n_users;
        r->n_items = n_items;
        if (p == 0) {
            r->user_names = users.names;
            r->item_names = items.names;
            users.names = items.names = NULL;
            users.count = items.count = 0;
        } else {
            s = copy_names(out[0].user_names, r->n_users, &r->user_names);
            if (s == FR_OK)
                s = copy_names(out[0].item_names, r->n_items, &r->item_names);
        }
    }
    free(user_of);
    free(item_of);
    fr_id_map_free(&users);
    fr_id_map_free(&items);
    if (s != FR_OK)
        for (size_t p = 0; p < n_parts; p++)
            fr_ratings_free(&out[p]);
    return s;
}

fr_status fr_ratings_read(const char *path, const fr_ratings_spec *spec, fr_ratings *out)
{
    return fr_ratings_read_parts(&path, 1, spec, out);
}
