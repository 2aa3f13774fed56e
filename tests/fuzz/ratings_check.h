/* ratings_check.h — what the rating-file targets check of a rating set a
 * reader accepted: every id within its count, every name present, every
 * rating finite, and a leave-one-out split of it that also holds. */
#ifndef FR_FUZZ_RATINGS_CHECK_H
#define FR_FUZZ_RATINGS_CHECK_H

#include "fedrec/ratings.h"

void fr_fuzz_check_ratings(const fr_ratings *r, const char *path);
/* Read path with spec: accepted, check it; refused, the message must name
 * the file. */
void fr_fuzz_read_ratings(const char *path, const fr_ratings_spec *spec);
#endif
