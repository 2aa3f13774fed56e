/* loo_split_file.c — the leave-one-out split as a file (see
 * fedrec/ratings.h): written by a run (output.split) so that another run,
 * another version or another tool evaluates on exactly the same held-out
 * items and negatives, and read back (data.split_file) with every line
 * checked against the rating data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "data/loo_internal.h"
#include "io/atomic_file.h"
#include "io/lines.h"
#include "fedrec/ratings.h"

fr_status fr_loo_split_write(const fr_loo_split *s, const fr_ratings *r, const char *path)
{
    if (r->n_users != s->n_users || r->n_items != s->n_items)
        return fr_fail(FR_ERR_INVALID, "%s: the split (%zu users, %zu items) is not of these ratings (%zu, %zu)", path,
                       s->n_users, s->n_items, r->n_users, r->n_items);
    fr_atomic_file af;
    FR_TRY(fr_atomic_open(&af, path));
    size_t k = s->negatives_per_eval;
    fprintf(af.f, "# fedrec leave-one-out split: one line per evaluated user, tab-separated original ids:\n"
                  "# user, validation item, test item, %zu validation negatives, %zu test negatives\n",
            k, k);
    for (size_t u = 0; u < s->n_users; u++) {
        if (!s->has_eval[u])
            continue;
        fprintf(af.f, "%s\t%s\t%s", r->user_names[u], r->item_names[s->val_item[u]], r->item_names[s->test_item[u]]);
        const int32_t *neg = s->eval_negatives + u * 2 * k;
        for (size_t j = 0; j < 2 * k; j++) {
            fputc('\t', af.f);
            fputs(r->item_names[neg[j]], af.f);
        }
        fputc('\n', af.f);
    }
    if (ferror(af.f)) {
        int err = errno;
        fr_atomic_abort(&af);
        return fr_fail(FR_ERR_IO, "%s: cannot write the split: %s", path, strerror(err));
    }
    return fr_atomic_commit(&af);
}

/* What reading a split file keeps. */
typedef struct split_reader {
    const char *path;
    const fr_ratings *r;
    const fr_loo_rows *rows;
    size_t k;              /* negatives per evaluation */
    fr_id_map users, items;
    int32_t *val, *test;   /* per user, -1 until its line */
    size_t *line_of;       /* per user: its line (0: none yet) */
    int32_t *negatives;    /* n_users x 2k */
    uint32_t *mark;        /* item -> line whose user interacted with it */
    uint32_t *in_line;     /* item -> line that named it as a negative */
    size_t *field_of;      /* item -> that field */
    char **field;          /* 3 + 2k field starts of the current line */
    size_t lines;          /* lines with a user */
} split_reader;

static const char *field_name(size_t f, size_t k, char *buf, size_t n)
{
    if (f == 1)
        return "user";
    if (f == 2)
        return "validation item";
    if (f == 3)
        return "test item";
    if (f <= 3 + k)
        snprintf(buf, n, "validation negative %zu", f - 3);
    else
        snprintf(buf, n, "test negative %zu", f - 3 - k);
    return buf;
}

/* Dense id of a known name, or -1 (the map holds exactly the data's ids;
 * an unknown name is added past them and never matches). */
static fr_status lookup(fr_id_map *m, size_t known, const char *name, int32_t *id)
{
    FR_TRY(fr_id_map_get(m, name, strlen(name), id));
    if ((size_t)*id >= known)
        *id = -1;
    return FR_OK;
}

static fr_status read_line(void *arg, char *line, size_t len, size_t lineno)
{
    split_reader *sr = arg;
    const fr_ratings *r = sr->r;
    size_t k = sr->k, want = 3 + 2 * k, n = 0;
    char name[48];
    if (len == 0 || line[0] == '#')
        return FR_OK;
    if (lineno > UINT32_MAX - 1)
        return fr_fail(FR_ERR_DATA, "%s:%zu: more lines than a split file can have", sr->path, lineno);
    for (char *p = line;; n++) {
        char *tab = strchr(p, '\t');
        if (n < want)
            sr->field[n] = p;
        if (!tab) {
            n++;
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n != want)
        return fr_fail(FR_ERR_DATA, "%s:%zu: %zu tab-separated fields, expected %zu: user, validation item, test item, %zu validation negatives and %zu test negatives (pfedrec.eval_negatives = %zu)",
                       sr->path, lineno, n, want, k, k, k);
    for (size_t f = 0; f < want; f++)
        if (!*sr->field[f])
            return fr_fail(FR_ERR_DATA, "%s:%zu: field %zu (%s) is empty", sr->path, lineno, f + 1,
                           field_name(f + 1, k, name, sizeof name));
    int32_t u;
    FR_TRY(lookup(&sr->users, r->n_users, sr->field[0], &u));
    if (u < 0)
        return fr_fail(FR_ERR_DATA, "%s:%zu: field 1 (user) is '%s', not a user of the rating data", sr->path,
                       lineno, sr->field[0]);
    if (sr->line_of[u])
        return fr_fail(FR_ERR_DATA, "%s:%zu: user '%s' has a line already (line %zu)", sr->path, lineno,
                       sr->field[0], sr->line_of[u]);
    size_t begin = sr->rows->start[u], end = sr->rows->start[u + 1];
    if (end - begin < 3)
        return fr_fail(FR_ERR_DATA, "%s:%zu: user '%s' has %zu distinct item(s): leave-one-out needs 3 (a validation, a test and a training item)",
                       sr->path, lineno, sr->field[0], end - begin);
    sr->line_of[u] = lineno;
    sr->lines++;
    uint32_t stamp = (uint32_t)lineno;
    for (size_t j = begin; j < end; j++)
        sr->mark[r->item[sr->rows->rows[j]]] = stamp;
    int32_t *neg = sr->negatives + (size_t)u * 2 * k;
    for (size_t f = 1; f < want; f++) {
        int32_t item;
        FR_TRY(lookup(&sr->items, r->n_items, sr->field[f], &item));
        const char *what = field_name(f + 1, k, name, sizeof name);
        if (item < 0)
            return fr_fail(FR_ERR_DATA, "%s:%zu: field %zu (%s) is '%s', not an item of the rating data", sr->path,
                           lineno, f + 1, what, sr->field[f]);
        if (f <= 2) {
            if (sr->mark[item] != stamp)
                return fr_fail(FR_ERR_DATA, "%s:%zu: field %zu (%s) is '%s', an item user '%s' never interacted with",
                               sr->path, lineno, f + 1, what, sr->field[f], sr->field[0]);
            if (f == 2 && item == sr->val[u])
                return fr_fail(FR_ERR_DATA, "%s:%zu: field 3 (test item) is '%s', the validation item too", sr->path,
                               lineno, sr->field[f]);
            (f == 1 ? sr->val : sr->test)[u] = item;
            continue;
        }
        if (sr->mark[item] == stamp)
            return fr_fail(FR_ERR_DATA, "%s:%zu: field %zu (%s) is '%s', an item user '%s' interacted with: a negative must be unseen",
                           sr->path, lineno, f + 1, what, sr->field[f], sr->field[0]);
        if (sr->in_line[item] == stamp)
            return fr_fail(FR_ERR_DATA, "%s:%zu: field %zu (%s) is '%s', as field %zu: the %zu negatives must be distinct",
                           sr->path, lineno, f + 1, what, sr->field[f], sr->field_of[item], 2 * k);
        sr->in_line[item] = stamp;
        sr->field_of[item] = f + 1;
        neg[f - 3] = item;
    }
    return FR_OK;
}

static void reader_free(split_reader *sr)
{
    fr_id_map_free(&sr->users);
    fr_id_map_free(&sr->items);
    free(sr->val);
    free(sr->test);
    free(sr->line_of);
    free(sr->negatives);
    free(sr->mark);
    free(sr->in_line);
    free(sr->field_of);
    free(sr->field);
}

/* Both maps hold the data's names at their dense ids. */
static fr_status map_names(fr_id_map *m, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id;
        FR_TRY(fr_id_map_get(m, names[i], strlen(names[i]), &id));
    }
    return FR_OK;
}

fr_status fr_loo_split_read(const fr_ratings *r, const char *path, size_t negatives_per_eval, fr_loo_split *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = r->n_users, ni = r->n_items, k = negatives_per_eval;
    fr_loo_rows rows;
    FR_TRY(fr_loo_rows_make(r, &rows));
    split_reader sr;
    memset(&sr, 0, sizeof sr);
    sr.path = path;
    sr.r = r;
    sr.rows = &rows;
    sr.k = k;
    fr_id_map_init(&sr.users);
    fr_id_map_init(&sr.items);
    sr.val = malloc((nu ? nu : 1) * sizeof *sr.val);
    sr.test = malloc((nu ? nu : 1) * sizeof *sr.test);
    sr.line_of = calloc(nu ? nu : 1, sizeof *sr.line_of);
    sr.negatives = malloc((nu * 2 * k + 1) * sizeof *sr.negatives);
    sr.mark = calloc(ni ? ni : 1, sizeof *sr.mark);
    sr.in_line = calloc(ni ? ni : 1, sizeof *sr.in_line);
    sr.field_of = calloc(ni ? ni : 1, sizeof *sr.field_of);
    sr.field = malloc((3 + 2 * k) * sizeof *sr.field);
    fr_status s = FR_OK;
    if (!sr.val || !sr.test || !sr.line_of || !sr.negatives || !sr.mark || !sr.in_line || !sr.field_of || !sr.field)
        s = fr_fail_nomem("split file", nu * (2 * k + 4) * 4 + ni * 16);
    for (size_t u = 0; s == FR_OK && u < nu; u++)
        sr.val[u] = sr.test[u] = -1;
    if (s == FR_OK)
        s = map_names(&sr.users, r->user_names, nu);
    if (s == FR_OK)
        s = map_names(&sr.items, r->item_names, ni);
    if (s == FR_OK)
        s = fr_read_lines(path, read_line, &sr);
    if (s == FR_OK && sr.lines == 0)
        s = fr_fail(FR_ERR_DATA, "%s: no user lines (expected one per user with 3 or more items)", path);
    size_t missing = 0, first_missing = 0;
    for (size_t u = 0; s == FR_OK && u < nu; u++)
        if (!sr.line_of[u] && rows.start[u + 1] - rows.start[u] >= 3 && missing++ == 0)
            first_missing = u;
    if (s == FR_OK && missing)
        s = fr_fail(FR_ERR_DATA, "%s: user '%s' has %zu items but no line (%zu such user(s)): the split file needs one line per user with 3 or more items",
                    path, r->user_names[first_missing], rows.start[first_missing + 1] - rows.start[first_missing],
                    missing);
    if (s == FR_OK)
        s = fr_loo_assemble(r, &rows, sr.val, sr.test, k, out);
    if (s == FR_OK)
        for (size_t u = 0; u < nu; u++)
            if (out->has_eval[u])
                memcpy(out->eval_negatives + u * 2 * k, sr.negatives + u * 2 * k, 2 * k * sizeof *sr.negatives);
    reader_free(&sr);
    fr_loo_rows_free(&rows);
    return s;
}
