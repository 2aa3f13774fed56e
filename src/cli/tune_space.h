/* tune_space.h — the search space of `fedrec tune`: --grid key=v1,v2,...
 * and --random key=lo:hi[:log] specs, checked against the configuration
 * schema (each key and value through the config layer, as --set would be),
 * and expanded into configurations: the grid's product, times --trials
 * random draws from the counter-based generator (purpose FR_RNG_TUNE,
 * keyed by --seed, the draw and the key), so a rerun draws the same. */
#ifndef FR_CLI_TUNE_SPACE_H
#define FR_CLI_TUNE_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "fedrec/config.h"

typedef struct fr_tune_dim {
    char *key;
    int random;          /* 0: grid values; 1: a random range */
    char **values;       /* grid: the values as given */
    size_t n_values;
    double lo, hi;       /* random: the range, both ends included */
    int log, integer;    /* random: drawn on a log scale; an integer key */
} fr_tune_dim;

typedef struct fr_tune_space {
    fr_tune_dim *dims;   /* grid keys first, then random keys */
    size_t n_dims, n_grid;
    size_t trials;       /* random draws per grid point (1 without --random) */
    uint64_t seed;       /* of the draws */
} fr_tune_space;

/* Add one --grid or --random spec; base is the configuration the trials
 * start from (used to check keys and values, not changed). FR_ERR_CONFIG
 * for a key or value the schema refuses, FR_ERR_INVALID for a spec that is
 * malformed; the message names the option and what was expected. */
fr_status fr_tune_space_add(fr_tune_space *sp, const fr_config *base, const char *option, const char *spec);
void fr_tune_space_free(fr_tune_space *sp);

/* How many configurations the space holds (grid product x trials). */
size_t fr_tune_space_size(const fr_tune_space *sp);
/* Configuration c's value of dimension d, as text for --set (buf for a
 * random one; a grid value's own text otherwise). */
const char *fr_tune_space_value(const fr_tune_space *sp, size_t c, size_t d, char *buf, size_t n);

#endif
