/* table_fields.h — the optional field section of a version-2 table file
 * (internal; doc/TABLE_FORMAT.md): the user and item fields, the field
 * names and every categorical value's original text. */
#ifndef FR_TABLE_FIELDS_H
#define FR_TABLE_FIELDS_H

#include <stddef.h>
#include "fedrec/error.h"
#include "fedrec/table.h"

/* The section for what t knows of its fields (*bytes 0 and *out NULL when
 * it knows nothing); *out is malloc'ed. */
fr_status fr_table_fields_encode(const fr_table *t, unsigned char **out, size_t *bytes);
/* Read a section into t (shape and vocabularies set): the roles and names
 * are copied, the values point into data (which must outlive t). Errors
 * name path. */
fr_status fr_table_fields_decode(fr_table *t, const unsigned char *data, size_t bytes, const char *path);

#endif
