/* fedrec/ratings.h — rating / interaction files and the leave-one-out split.
 *
 * Readers for MovieLens `u.data` (tab separated), MovieLens `ratings.dat`
 * (`::` separated) and generic delimited files (delimiter and column order
 * configurable, optional header, ids may be any text). User and item ids
 * are remapped to dense 0-based ids in the order of the original ids
 * (numeric order when every id is a number, else byte order). Every
 * malformed line is an error naming the file, the line and the field; an
 * empty file is an error too. */
#ifndef FEDREC_RATINGS_H
#define FEDREC_RATINGS_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_ratings_format {
    FR_RATINGS_MOVIELENS_TAB = 0, /* u.data: user \t item \t rating \t time */
    FR_RATINGS_MOVIELENS_DAT,     /* ratings.dat: user::item::rating::time */
    FR_RATINGS_DELIMITED          /* columns as in fr_ratings_spec */
} fr_ratings_format;

typedef struct fr_ratings_spec {
    fr_ratings_format format;
    char delimiter;      /* DELIMITED: one character (',' '\t' ';' ' ' ...) */
    int header;          /* DELIMITED: skip the first line */
    /* DELIMITED: 0-based columns; rating and time may be -1 (absent: rating
     * 1, time = line number, so file order decides). */
    int col_user, col_item, col_rating, col_time;
} fr_ratings_spec;

typedef struct fr_ratings {
    size_t n;            /* interactions, in file order */
    size_t n_users, n_items;
    int32_t *user, *item;
    float *rating;
    int64_t *time;
    char **user_names, **item_names; /* original ids, by dense id */
} fr_ratings;

/* The spec of a format with its usual columns (user, item, rating, time). */
void fr_ratings_spec_default(fr_ratings_format format, fr_ratings_spec *spec);
fr_status fr_ratings_read(const char *path, const fr_ratings_spec *spec,
                          fr_ratings *out);
/* Several files (training, validation, test) read into out[0 .. n_parts)
 * with one id space: every part has the same n_users, n_items and names
 * (each part its own copy), an id keeping its dense number in all. */
fr_status fr_ratings_read_parts(const char *const *paths, size_t n_parts,
                                const fr_ratings_spec *spec, fr_ratings *out);
void fr_ratings_free(fr_ratings *r);

/* ---- synthetic implicit feedback ----------------------------------------
 * Users and items get hidden factor vectors; item popularity follows a
 * Zipf-like law. Each user draws about `per_user` distinct items: a
 * candidate from the popularity law is kept with probability
 * sigmoid(3 * u . v), so a model that learns the factors beats popularity.
 * Timestamps are the order of the draws. Streams (seed, 0, user or item,
 * FR_RNG_DATA): the same seed gives the same data everywhere. */
typedef struct fr_implicit_spec {
    uint64_t seed;
    size_t users, items, per_user;
} fr_implicit_spec;

fr_status fr_implicit_generate(const fr_implicit_spec *spec, fr_ratings *out);

/* ---- leave-one-out ------------------------------------------------------
 * Per user, interactions sorted by time: the latest is the test positive,
 * the second latest the validation positive, the rest train. Among rows of
 * equal time the one that comes first in the file counts as the later (the
 * reference's pandas rank(method='first', ascending=False)): of several
 * rows sharing the latest time, the first in the file is the test item and
 * the next the validation item. 2 * negatives_per_eval items the user never interacted with are
 * drawn once from stream (seed, 0, user, FR_RNG_NEGATIVES): the first half
 * are validation negatives, the second half test negatives. Users with
 * fewer than 3 interactions keep them all for training and are not
 * evaluated (has_eval = 0). A (user, item) pair given more than once
 * counts once, at its latest time (n_duplicates rows dropped), so the
 * held-out items are never training items. */
typedef struct fr_loo_split {
    size_t n_users, n_items, negatives_per_eval;
    size_t *train_start;     /* n_users + 1: user u's training items are */
    int32_t *train_items;    /* train_items[train_start[u] .. train_start[u+1]) */
    size_t *seen_start;      /* n_users + 1: every item user u interacted */
    int32_t *seen_items;     /* with (train, validation, test), sorted, unique */
    int32_t *val_item, *test_item;   /* -1 when !has_eval[u] */
    unsigned char *has_eval;
    int32_t *eval_negatives; /* n_users x 2 * negatives_per_eval (-1 if none) */
    size_t n_evaluated;
    size_t n_duplicates;     /* repeated (user, item) rows left out */
} fr_loo_split;

fr_status fr_loo_split_make(const fr_ratings *r, uint64_t seed,
                            size_t negatives_per_eval, fr_loo_split *out);
void fr_loo_split_free(fr_loo_split *s);

/* Split files, so that runs of different tools or versions can be
 * evaluated on exactly the same held-out items and negatives (format in
 * doc/CONFIG.md, "Split files"): text, one line per evaluated user,
 * tab-separated ORIGINAL ids — user, validation item, test item, the
 * negatives_per_eval validation negatives, then as many test negatives;
 * lines starting with '#' and blank lines are ignored.
 * fr_loo_split_write writes split s of ratings r (atomically).
 * fr_loo_split_read builds the split of r the file gives: every user with
 * 3 or more distinct items needs exactly one line, its held-out items must
 * be its own, its negatives distinct items it never interacted with; the
 * training items are the user's others, in the order fr_loo_split_make
 * keeps them, so a run given the file another run wrote repeats that run
 * exactly. Errors name the file, the line, the field and what was
 * expected. */
fr_status fr_loo_split_write(const fr_loo_split *s, const fr_ratings *r, const char *path);
fr_status fr_loo_split_read(const fr_ratings *r, const char *path, size_t negatives_per_eval,
                            fr_loo_split *out);
/* A 64-bit hash of the split's contents: sizes, every user's training
 * items (in order), held-out items and evaluation negatives, in dense ids.
 * Two splits that differ anywhere differ here (but for a 2^-64 chance);
 * checkpoints and the ranks of a job compare it. */
uint64_t fr_loo_split_fingerprint(const fr_loo_split *s);
/* Whether user u interacted with item i (binary search). */
int fr_loo_seen(const fr_loo_split *s, size_t u, int32_t item);

#ifdef __cplusplus
}
#endif
#endif
