/* read_movielens.c — MovieLens-100K as a multi-scenario multi-task table
 * (see fedrec/table_read.h), the way AutoIFS turns MovieLens-1M into one:
 * a row per rating, scenario by the user's age, two tasks (rating > 3,
 * rating > 4), eight categorical fields. Ages are exact years in 100K;
 * the age field uses MovieLens-1M's groups (under 18, 18-24, 25-34, 35-44,
 * 45-49, 50-55, 56+), the scenario AutoIFS's three (< 25, 25-34, >= 35).
 * The AutoIFS variant takes the zip code whole and the authors' split
 * (table/movielens_split.h); the seeded one, fedrec's earlier build, the
 * zip code's first two characters and a split drawn from the seed. Users
 * and items are numbers, as pandas reads them: "07" and "7" are one id.
 * The table knows its fields: the user and item fields, their names, and
 * every value's text (user and movie ids as numbers, the genre as its
 * flag's index 0-18 in u.item's order or "none", age groups and scenarios
 * by their labels). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"
#include "fedrec/table_read.h"
#include "table/movielens_split.h"

enum { F_USER, F_ITEM, F_GENDER, F_AGE, F_OCCUPATION, F_ZIP, F_GENRE, F_SCENARIO, N_FIELDS };

typedef struct user_info {
    int32_t gender, age_group, occupation, zip, scenario;
    size_t line; /* where u.user defines it; 0: not defined */
} user_info;

typedef struct item_info {
    int32_t genre;
    size_t line; /* where u.item defines it; 0: not defined */
} item_info;

static const char *const field_names[N_FIELDS] = {"user", "item", "gender", "age", "occupation", "zip", "genre",
                                                   "scenario"};
static const char *const age_labels[7] = {"under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"};
static const char *const scenario_labels[3] = {"age<25", "age25-34", "age>=35"};

/* Names, roles and every value's text into t (vocab set). */
static fr_status describe_fields(fr_table *t, const fr_id_map *maps)
{
    const char **values = malloc(t->vocab_total * sizeof *values);
    if (!values)
        return fr_fail_nomem("field values", t->vocab_total * sizeof *values);
    for (int f = 0; f < N_FIELDS; f++)
        for (size_t v = 0; v < t->vocab[f]; v++)
            values[t->field_offset[f] + v] = f == F_AGE        ? age_labels[v]
                                             : f == F_SCENARIO ? scenario_labels[v]
                                                               : maps[f].names[v];
    fr_status s = fr_table_set_values(t, values);
    free(values);
    if (s == FR_OK)
        s = fr_table_set_field_names(t, field_names);
    t->has_roles = 1;
    t->user_field = F_USER;
    t->item_field = F_ITEM;
    return s;
}

static int age_group(long age)
{
    static const long upper[] = {18, 25, 35, 45, 50, 56};
    for (int k = 0; k < 6; k++)
        if (age < upper[k])
            return k;
    return 6;
}

static fr_status open_in(const char *dir, const char *name, FILE **f, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    *f = fopen(path, "r");
    if (!*f)
        return fr_fail(FR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return FR_OK;
}

/* Fields of a '|' or tab separated line; returns the count. */
static size_t fields_of(char *line, char sep, char **field, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        field[n++] = p;
        char *end = strchr(p, sep);
        if (!end)
            break;
        *end = '\0';
        p = end + 1;
    }
    return n;
}

/* The next line of path without its line end, counted in *line_no; 0 at
 * the end of the file, or on a read error, no memory for the line or a
 * line holding a NUL byte (*s: the error). */
static int next_line(FILE *in, const char *path, char **line, size_t *cap, size_t *line_no, fr_status *s)
{
    ssize_t got = getline(line, cap, in);
    if (got < 0) {
        /* getline also stops when it cannot grow the line (ENOMEM), with
         * the stream neither at its end nor in error. */
        if (ferror(in))
            *s = fr_fail(FR_ERR_IO, "%s:%zu: read error: %s", path, *line_no + 1, strerror(errno));
        else if (!feof(in))
            *s = fr_fail(FR_ERR_NOMEM, "%s:%zu: out of memory reading the line", path, *line_no + 1);
        return 0;
    }
    ++*line_no;
    if ((size_t)got != strlen(*line)) {
        *s = fr_fail(FR_ERR_FORMAT, "%s:%zu: a NUL byte inside the line", path, *line_no);
        return 0;
    }
    while (got && ((*line)[got - 1] == '\n' || (*line)[got - 1] == '\r'))
        (*line)[--got] = '\0';
    return 1;
}

static int parse_long(const char *text, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(text, &end, 10);
    return *text && !*end && !errno;
}

/* An id as its decimal number, so that every spelling of it is one key. */
static fr_status number_id(fr_id_map *map, long id, int32_t *out)
{
    char text[32];
    int len = snprintf(text, sizeof text, "%ld", id);
    return fr_id_map_get(map, text, (size_t)len, out);
}

static fr_status read_users(const char *dir, fr_movielens_variant variant, fr_id_map *maps, user_info **users,
                            size_t *n_users)
{
    char path[4096], *line = NULL, *f[8];
    size_t cap = 0, line_no = 0, n = 0, alloc = 0;
    FILE *in;
    FR_TRY(open_in(dir, "u.user", &in, path, sizeof path));
    fr_status s = FR_OK;
    *users = NULL;
    while (s == FR_OK && next_line(in, path, &line, &cap, &line_no, &s)) {
        if (!*line)
            continue;
        if (fields_of(line, '|', f, 8) != 5) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: expected 5 fields id|age|gender|occupation|zip", path, line_no);
            break;
        }
        long id, age;
        if (!parse_long(f[0], &id) || id < 1 || id > 10000000) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 1 (user id): expected a positive integer, got '%s'", path,
                        line_no, f[0]);
            break;
        }
        if (!parse_long(f[1], &age) || age < 0 || age > 150) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 2 (age): expected an age in years, got '%s'", path,
                        line_no, f[1]);
            break;
        }
        if ((size_t)id >= alloc) {
            size_t grow = (size_t)id * 2 + 16;
            user_info *u = realloc(*users, grow * sizeof *u);
            if (!u) {
                s = fr_fail_nomem("users", grow * sizeof *u);
                break;
            }
            memset(u + alloc, 0, (grow - alloc) * sizeof *u);
            *users = u;
            alloc = grow;
        }
        user_info *u = &(*users)[id];
        if (u->line) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 1 (user id): user %ld is defined a second time (first on line %zu), expected each user once",
                        path, line_no, id, u->line);
            break;
        }
        char prefix[3] = {f[4][0], f[4][0] ? f[4][1] : '\0', '\0'};
        const char *zip = variant == FR_MOVIELENS_SEEDED ? prefix : f[4];
        u->age_group = age_group(age);
        u->scenario = age < 25 ? 0 : age < 35 ? 1 : 2;
        if ((s = fr_id_map_get(&maps[F_GENDER], f[2], strlen(f[2]), &u->gender)) != FR_OK ||
            (s = fr_id_map_get(&maps[F_OCCUPATION], f[3], strlen(f[3]), &u->occupation)) != FR_OK ||
            (s = fr_id_map_get(&maps[F_ZIP], zip, strlen(zip), &u->zip)) != FR_OK)
            break;
        u->line = line_no;
        if ((size_t)id + 1 > n)
            n = (size_t)id + 1;
    }
    free(line);
    fclose(in);
    *n_users = n;
    if (s == FR_OK && n == 0)
        s = fr_fail(FR_ERR_FORMAT, "%s: no users", path);
    return s;
}

/* First genre of every item: the first of the 19 trailing flags set
 * (none set: "none"). */
static fr_status read_items(const char *dir, fr_id_map *maps, item_info **items, size_t *n_items)
{
    char path[4096], *line = NULL, *f[40];
    size_t cap = 0, line_no = 0, n = 0, alloc = 0;
    FILE *in;
    FR_TRY(open_in(dir, "u.item", &in, path, sizeof path));
    fr_status s = FR_OK;
    *items = NULL;
    while (s == FR_OK && next_line(in, path, &line, &cap, &line_no, &s)) {
        if (!*line)
            continue;
        size_t k = fields_of(line, '|', f, 40);
        long id;
        if (k < 20 || !parse_long(f[0], &id) || id < 1 || id > 100000000) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: expected id|title|...|19 genre flags", path, line_no);
            break;
        }
        char first[8] = "none";
        for (size_t g = 0; g < 19; g++) {
            const char *flag = f[k - 19 + g];
            if (strcmp(flag, "0") != 0 && strcmp(flag, "1") != 0) {
                s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field %zu (genre flag): expected 0 or 1, got '%s'", path,
                            line_no, k - 19 + g + 1, flag);
                break;
            }
            if (flag[0] == '1' && !strcmp(first, "none"))
                snprintf(first, sizeof first, "%zu", g);
        }
        if (s != FR_OK)
            break;
        if ((size_t)id >= alloc) {
            size_t grow = (size_t)id * 2 + 16;
            item_info *g = realloc(*items, grow * sizeof *g);
            if (!g) {
                s = fr_fail_nomem("items", grow * sizeof *g);
                break;
            }
            memset(g + alloc, 0, (grow - alloc) * sizeof *g);
            *items = g;
            alloc = grow;
        }
        item_info *item = &(*items)[id];
        if (item->line) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 1 (item id): item %ld is defined a second time (first on line %zu), expected each item once",
                        path, line_no, id, item->line);
            break;
        }
        item->line = line_no;
        s = fr_id_map_get(&maps[F_GENRE], first, strlen(first), &item->genre);
        if ((size_t)id + 1 > n)
            n = (size_t)id + 1;
    }
    free(line);
    fclose(in);
    *n_items = n;
    return s;
}

fr_status fr_table_read_movielens(const char *dir, fr_movielens_variant variant, uint64_t seed, fr_table *out)
{
    memset(out, 0, sizeof *out);
    fr_id_map maps[N_FIELDS];
    for (int k = 0; k < N_FIELDS; k++)
        fr_id_map_init(&maps[k]);
    user_info *users = NULL;
    item_info *items = NULL;
    size_t n_users = 0, n_items = 0, cap = 0, line_no = 0, rows = 0, rows_cap = 0;
    int32_t *cat = NULL;
    uint8_t *labels = NULL;
    char path[4096], *line = NULL, *f[8];
    FILE *in = NULL;
    fr_status s = FR_OK;
    if (variant != FR_MOVIELENS_AUTOIFS && variant != FR_MOVIELENS_SEEDED)
        s = fr_fail(FR_ERR_INVALID, "MovieLens table: variant %d, expected autoifs (%d) or seeded (%d)", (int)variant,
                    (int)FR_MOVIELENS_AUTOIFS, (int)FR_MOVIELENS_SEEDED);
    if (s == FR_OK)
        s = read_users(dir, variant, maps, &users, &n_users);
    if (s == FR_OK)
        s = read_items(dir, maps, &items, &n_items);
    if (s == FR_OK)
        s = open_in(dir, "u.data", &in, path, sizeof path);
    while (s == FR_OK && next_line(in, path, &line, &cap, &line_no, &s)) {
        if (!*line)
            continue;
        if (fields_of(line, '\t', f, 8) != 4) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: expected 4 tab-separated fields user item rating time", path,
                        line_no);
            break;
        }
        long user, item, rating;
        if (!parse_long(f[0], &user) || user < 1 || (size_t)user >= n_users || !users[user].line) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 1 (user): '%s' is not a user of u.user", path, line_no, f[0]);
            break;
        }
        if (!parse_long(f[1], &item) || item < 1 || (size_t)item >= n_items || !items[item].line) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 2 (item): '%s' is not an item of u.item", path, line_no, f[1]);
            break;
        }
        if (!parse_long(f[2], &rating) || rating < 0 || rating > 10) {
            s = fr_fail(FR_ERR_FORMAT, "%s:%zu: field 3 (rating): expected an integer rating, got '%s'", path,
                        line_no, f[2]);
            break;
        }
        if (rows == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 65536;
            int32_t *c = realloc(cat, rows_cap * N_FIELDS * sizeof *c);
            if (c)
                cat = c;
            uint8_t *l = realloc(labels, rows_cap * 2);
            if (l)
                labels = l;
            if (!c || !l) {
                s = fr_fail_nomem("ratings", rows_cap * 40);
                break;
            }
        }
        const user_info *u = &users[user];
        int32_t *row = cat + rows * N_FIELDS;
        s = number_id(&maps[F_USER], user, &row[F_USER]);
        if (s == FR_OK)
            s = number_id(&maps[F_ITEM], item, &row[F_ITEM]);
        row[F_GENDER] = u->gender;
        row[F_AGE] = u->age_group;
        row[F_OCCUPATION] = u->occupation;
        row[F_ZIP] = u->zip;
        row[F_GENRE] = items[item].genre;
        row[F_SCENARIO] = u->scenario;
        labels[rows * 2] = rating > 3;
        labels[rows * 2 + 1] = rating > 4;
        rows++;
    }
    if (in)
        fclose(in);
    free(line);
    if (s == FR_OK && rows == 0)
        s = fr_fail(FR_ERR_FORMAT, "%s: no ratings", path);
    if (s == FR_OK)
        s = fr_table_alloc(out, rows, N_FIELDS, 0, 2, 3);
    if (s == FR_OK) {
        memcpy(out->cat, cat, rows * N_FIELDS * sizeof *cat);
        memcpy(out->labels, labels, rows * 2);
        for (size_t r = 0; r < rows; r++)
            out->scenario[r] = cat[r * N_FIELDS + F_SCENARIO];
        size_t vocab[N_FIELDS];
        for (int k = 0; k < N_FIELDS; k++)
            vocab[k] = maps[k].count;
        vocab[F_AGE] = 7;
        vocab[F_SCENARIO] = 3;
        fr_table_set_vocab(out, vocab);
        snprintf(out->task_names[0], FR_TABLE_NAME_MAX, "rating>3");
        snprintf(out->task_names[1], FR_TABLE_NAME_MAX, "rating>4");
        snprintf(out->scenario_names[0], FR_TABLE_NAME_MAX, "age<25");
        snprintf(out->scenario_names[1], FR_TABLE_NAME_MAX, "age25-34");
        snprintf(out->scenario_names[2], FR_TABLE_NAME_MAX, "age>=35");
        s = describe_fields(out, maps);
        if (s != FR_OK)
            ;
        else if (variant == FR_MOVIELENS_AUTOIFS)
            s = fr_movielens_autoifs_split(out, F_USER, F_ITEM);
        else
            s = fr_table_random_split(out, seed, 0.8, 0.1);
        if (s != FR_OK)
            fr_table_free(out);
    }
    free(cat);
    free(labels);
    free(users);
    free(items);
    for (int k = 0; k < N_FIELDS; k++)
        fr_id_map_free(&maps[k]);
    return s;
}
