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
    /* Set by fr_tune_space_fold: the distinct configurations ("points")
     * the combinations become once each drops the keys its job does not
     * read, in the order of their first combination. */
    size_t n_points;
    size_t *point_combination; /* a point's first combination */
    unsigned char *applies;    /* n_points x n_dims: the point's job reads dims[d].key */
    size_t folded;             /* combinations that are an earlier one's point */
} fr_tune_space;

/* Add one --grid or --random spec; base is the configuration the trials
 * start from (used to check keys and values, not changed). FR_ERR_CONFIG
 * for a key or value the schema refuses, FR_ERR_INVALID for a spec that is
 * malformed; the message names the option and what was expected. */
fr_status fr_tune_space_add(fr_tune_space *sp, const fr_config *base, const char *option, const char *spec);
void fr_tune_space_free(fr_tune_space *sp);

/* How many combinations the space holds (grid product x trials). */
size_t fr_tune_space_size(const fr_tune_space *sp);
/* Combination c's value of dimension d, as text for --set (buf for a
 * random one; a grid value's own text otherwise). */
const char *fr_tune_space_value(const fr_tune_space *sp, size_t c, size_t d, char *buf, size_t n);

/* Fold the combinations into points. A combination's keys go onto the
 * base; every searched key its job does not read there (fr_config_reads,
 * the rule `fedrec train` refuses keys by: mtrec.tau under mtrec.combiner
 * = ew) is dropped, and the rest are applied again until each one left is
 * read. Combinations left with the same keys and values are one point
 * (the first one's). A searched key that no point reads is FR_ERR_CONFIG,
 * naming the key and the jobs and conditions under which it is read. */
fr_status fr_tune_space_fold(fr_tune_space *sp, const fr_config *base);
/* Point p's value of dimension d (as fr_tune_space_value), or NULL when
 * its job does not read the key: the trial leaves it unset. */
const char *fr_tune_point_value(const fr_tune_space *sp, size_t p, size_t d, char *buf, size_t n);

#endif
