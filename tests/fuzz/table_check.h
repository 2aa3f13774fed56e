/* table_check.h — invariants of a feature table a reader accepted: ids in
 * their vocabularies, scenarios in range, labels 0 or 1, split tags valid,
 * numbers finite. */
#ifndef FR_FUZZ_TABLE_CHECK_H
#define FR_FUZZ_TABLE_CHECK_H

#include "fedrec/table.h"

void fr_fuzz_check_table(const fr_table *t, const char *what);
#endif
