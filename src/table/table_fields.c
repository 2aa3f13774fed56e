/* table_fields.c — the field section of a version-2 table file (see
 * table_fields.h): u32 flags (1 roles, 2 names, 4 values), u32 zero, u64
 * user field, u64 item field, then with names n_cat + n_num slots of
 * FR_TABLE_NAME_MAX bytes, then with values n_cat u64 byte counts and each
 * field's vocab[f] NUL-terminated strings in id order. Its size grows with
 * the distinct values, never with the rows. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "table/table_fields.h"

enum { HAS_ROLES = 1, HAS_NAMES = 2, HAS_VALUES = 4 };
#define FIXED 24u

fr_status fr_table_fields_encode(const fr_table *t, unsigned char **out, size_t *bytes)
{
    *out = NULL;
    *bytes = 0;
    uint32_t flags = (t->has_roles ? HAS_ROLES : 0) | (t->field_names ? HAS_NAMES : 0) | (t->values ? HAS_VALUES : 0);
    if (!flags)
        return FR_OK;
    size_t n_fields = t->n_cat + t->n_num, size = FIXED;
    if (flags & HAS_NAMES)
        size += n_fields * FR_TABLE_NAME_MAX;
    if (flags & HAS_VALUES) {
        size += t->n_cat * 8;
        for (size_t v = 0; v < t->vocab_total; v++)
            size += strlen(t->values[v]) + 1;
    }
    unsigned char *buf = calloc(1, size);
    if (!buf)
        return fr_fail_nomem("table field section", size);
    uint64_t roles[2] = {t->user_field, t->item_field};
    memcpy(buf, &flags, 4);
    memcpy(buf + 8, roles, 16);
    unsigned char *at = buf + FIXED;
    if (flags & HAS_NAMES)
        for (size_t f = 0; f < n_fields; f++, at += FR_TABLE_NAME_MAX)
            strncpy((char *)at, t->field_names[f], FR_TABLE_NAME_MAX - 1);
    if (flags & HAS_VALUES) {
        unsigned char *counts = at;
        at += t->n_cat * 8;
        for (size_t f = 0; f < t->n_cat; f++) {
            uint64_t field_bytes = 0;
            for (size_t v = 0; v < t->vocab[f]; v++) {
                const char *text = t->values[t->field_offset[f] + v];
                size_t len = strlen(text) + 1;
                memcpy(at, text, len);
                at += len;
                field_bytes += len;
            }
            memcpy(counts + 8 * f, &field_bytes, 8);
        }
    }
    *out = buf;
    *bytes = size;
    return FR_OK;
}

fr_status fr_table_fields_decode(fr_table *t, const unsigned char *data, size_t bytes, const char *path)
{
    uint32_t flags;
    uint64_t roles[2];
    size_t n_fields = t->n_cat + t->n_num;
    if (bytes < FIXED)
        return fr_fail(FR_ERR_FORMAT, "%s: a field section of %zu bytes, shorter than its %u-byte head", path, bytes,
                       FIXED);
    memcpy(&flags, data, 4);
    memcpy(roles, data + 8, 16);
    if (flags & ~(uint32_t)(HAS_ROLES | HAS_NAMES | HAS_VALUES))
        return fr_fail(FR_ERR_FORMAT, "%s: the field section has flags %#x, this fedrec knows 1, 2 and 4 (a later fedrec's file?)",
                       path, flags);
    if ((flags & HAS_ROLES) && (roles[0] >= t->n_cat || roles[1] >= t->n_cat || roles[0] == roles[1]))
        return fr_fail(FR_ERR_FORMAT, "%s: the field section names fields %llu and %llu the user and the item, expected two different fields of the %zu categorical ones",
                       path, (unsigned long long)roles[0], (unsigned long long)roles[1], t->n_cat);
    const unsigned char *at = data + FIXED, *end = data + bytes;
    if (flags & HAS_NAMES) {
        if ((size_t)(end - at) < n_fields * FR_TABLE_NAME_MAX)
            return fr_fail(FR_ERR_FORMAT, "%s: the field section ends inside the field names", path);
        t->field_names = calloc(n_fields ? n_fields : 1, sizeof *t->field_names);
        if (!t->field_names)
            return fr_fail_nomem("field names", n_fields * FR_TABLE_NAME_MAX);
        for (size_t f = 0; f < n_fields; f++, at += FR_TABLE_NAME_MAX) {
            memcpy(t->field_names[f], at, FR_TABLE_NAME_MAX);
            t->field_names[f][FR_TABLE_NAME_MAX - 1] = '\0';
        }
    }
    if (flags & HAS_VALUES) {
        if ((size_t)(end - at) < t->n_cat * 8)
            return fr_fail(FR_ERR_FORMAT, "%s: the field section ends inside the value counts", path);
        const unsigned char *counts = at;
        at += t->n_cat * 8;
        const char **index = malloc((t->vocab_total ? t->vocab_total : 1) * sizeof *index);
        if (!index)
            return fr_fail_nomem("field values", t->vocab_total * sizeof *index);
        t->values = index;
        for (size_t f = 0; f < t->n_cat; f++) {
            uint64_t field_bytes;
            memcpy(&field_bytes, counts + 8 * f, 8);
            if (field_bytes > (uint64_t)(end - at))
                return fr_fail(FR_ERR_FORMAT, "%s: field %zu's values run past the end of the field section", path,
                               f + 1);
            const char *p = (const char *)at, *stop = (const char *)at + field_bytes;
            size_t v = 0;
            while (p < stop && v < t->vocab[f]) {
                const char *nul = memchr(p, '\0', (size_t)(stop - p));
                if (!nul)
                    break;
                index[t->field_offset[f] + v++] = p;
                p = nul + 1;
            }
            if (v != t->vocab[f] || p != stop)
                return fr_fail(FR_ERR_FORMAT, "%s: field %zu's values: %zu NUL-terminated strings in %llu bytes, expected exactly %zu (one per value)",
                               path, f + 1, v, (unsigned long long)field_bytes, t->vocab[f]);
            at += field_bytes;
        }
    }
    if (at != end)
        return fr_fail(FR_ERR_FORMAT, "%s: %td unexpected bytes at the end of the field section", path, end - at);
    t->has_roles = (flags & HAS_ROLES) != 0;
    t->user_field = (size_t)roles[0];
    t->item_field = (size_t)roles[1];
    return FR_OK;
}
