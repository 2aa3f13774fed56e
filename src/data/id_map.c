/* id_map.c — text ids to dense ids (see id_map.h). FNV-1a hashing, linear
 * probing, table kept at most half full. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "data/id_map.h"

void fr_id_map_init(fr_id_map *m)
{
    memset(m, 0, sizeof *m);
}

void fr_id_map_free(fr_id_map *m)
{
    for (size_t i = 0; i < m->count; i++)
        free(m->names[i]);
    free(m->names);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static fr_status grow(fr_id_map *m)
{
    /* At most half full after growing, whatever the current count. */
    size_t n = m->n_slots ? m->n_slots * 2 : 1024;
    while (n < 2 * (m->count + 1))
        n *= 2;
    int32_t *slots = malloc(n * sizeof *slots);
    if (!slots)
        return fr_fail_nomem("id table", n * sizeof *slots);
    for (size_t i = 0; i < n; i++)
        slots[i] = -1;
    for (size_t id = 0; id < m->count; id++) {
        size_t at = hash(m->names[id], strlen(m->names[id])) & (n - 1);
        while (slots[at] >= 0)
            at = (at + 1) & (n - 1);
        slots[at] = (int32_t)id;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n;
    return FR_OK;
}

fr_status fr_id_map_get(fr_id_map *m, const char *text, size_t len, int32_t *id)
{
    if (2 * (m->count + 1) > m->n_slots)
        FR_TRY(grow(m));
    size_t at = hash(text, len) & (m->n_slots - 1);
    while (m->slots[at] >= 0) {
        const char *name = m->names[m->slots[at]];
        if (strlen(name) == len && !memcmp(name, text, len)) {
            *id = m->slots[at];
            return FR_OK;
        }
        at = (at + 1) & (m->n_slots - 1);
    }
    if (m->count >= INT32_MAX)
        return fr_fail(FR_ERR_DATA, "more than 2^31-1 distinct ids");
    if (m->count == m->names_cap) {
        size_t cap = m->names_cap ? m->names_cap * 2 : 1024;
        char **names = realloc(m->names, cap * sizeof *names);
        if (!names)
            return fr_fail_nomem("id names", cap * sizeof *names);
        m->names = names;
        m->names_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return fr_fail_nomem("id name", len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    m->names[m->count] = copy;
    m->slots[at] = (int32_t)m->count;
    *id = (int32_t)m->count++;
    return FR_OK;
}

/* Names in byte order; plain numbers by value (a shorter digit string is
 * smaller). Two comparators rather than a flag, so sorting keeps no state
 * outside the call and two threads may sort at once. */
static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_number(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x, y);
}

static int is_plain_number(const char *s)
{
    if (!*s || (*s == '0' && s[1]))
        return 0; /* leading zeros would make numeric order ambiguous */
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

fr_status fr_id_map_sort(fr_id_map *m, int32_t **new_of_old)
{
    size_t n = m->count;
    char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    int32_t *map = malloc((n ? n : 1) * sizeof *map);
    if (!sorted || !map) {
        free(sorted);
        free(map);
        return fr_fail_nomem("id renumbering", n * 12);
    }
    memcpy(sorted, m->names, n * sizeof *sorted);
    int all_numeric = 1;
    for (size_t i = 0; i < n && all_numeric; i++)
        all_numeric = is_plain_number(sorted[i]);
    qsort(sorted, n, sizeof *sorted, all_numeric ? by_number : by_bytes);
    /* Old id of each name: look it up through the hash table. */
    for (size_t i = 0; i < n; i++) {
        int32_t old;
        fr_id_map_get(m, sorted[i], strlen(sorted[i]), &old);
        map[old] = (int32_t)i;
    }
    memcpy(m->names, sorted, n * sizeof *sorted);
    free(sorted);
    /* The hash slots still hold old ids: rebuild them. */
    free(m->slots);
    m->slots = NULL;
    m->n_slots = 0;
    fr_status s = grow(m);
    if (s != FR_OK) {
        free(map);
        return s;
    }
    *new_of_old = map;
    return FR_OK;
}
