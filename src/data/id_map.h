/* id_map.h — text id -> dense id, an open-addressing hash table (internal). */
#ifndef FR_ID_MAP_H
#define FR_ID_MAP_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

typedef struct fr_id_map {
    char **names;        /* by dense id, in first-seen order */
    size_t count, names_cap;
    int32_t *slots;      /* hash slots: dense id or -1 */
    size_t n_slots;
} fr_id_map;

void fr_id_map_init(fr_id_map *m);
void fr_id_map_free(fr_id_map *m);
/* Dense id of the len bytes at text, adding it when new. */
fr_status fr_id_map_get(fr_id_map *m, const char *text, size_t len, int32_t *id);
/* Renumber ids in the order of their names (numeric when all are
 * numbers): new_of_old[old] = new, and names reordered to match. */
fr_status fr_id_map_sort(fr_id_map *m, int32_t **new_of_old);

#endif
