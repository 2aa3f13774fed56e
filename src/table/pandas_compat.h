/* pandas_compat.h — row orders and row choices that pandas 1.x makes, done
 * again exactly so that a data set prepared by another project's pandas
 * script can be prepared here row for row (internal). A "frame" is an
 * ordering of a table's rows: frame[p] is the row at position p. */
#ifndef FR_TABLE_PANDAS_COMPAT_H
#define FR_TABLE_PANDAS_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

/* The order pandas 1.x (before 2.2) leaves after an inner
 * DataFrame.merge(left, right, on=key) with sort=False, when every left row
 * matches exactly one right row: the left rows grouped by key, the groups
 * in the order their keys first appear in left, each group in left order.
 * frame (n positions) is reordered in place; key[frame[p] * key_stride] is
 * the key of the row at position p, an id in [0, n_keys). */
fr_status fr_pandas_merge_order(uint32_t *frame, size_t n, const int32_t *key, size_t key_stride, size_t n_keys);

/* Python's round() of x >= 0 to an integer: halves go to the even one. */
size_t fr_pandas_round(double x);

/* A three-way split as pandas draws it with two DataFrame.sample calls:
 *   train = frame.sample(frac=share[0], random_state=seed);
 *   rest  = the other rows in frame order;
 *   valid = rest.sample(frac=share[1] / (share[1] + share[2]),
 *                       random_state=seed);
 *   test  = the rest's other rows in frame order.
 * DataFrame.sample(frac=f) takes round(f * rows) rows, chosen as
 * numpy.random.RandomState(seed).choice(rows, k, replace=False), the first
 * k of a fresh generator's permutation, in that order. positions (n of
 * them) receives the frame positions of the training part in sample order,
 * then the validation part in sample order, then the test part in frame
 * order; counts the size of each part. */
fr_status fr_pandas_sample_split(size_t n, uint32_t seed, const double share[3], uint32_t *positions,
                                 size_t counts[3]);

#endif
