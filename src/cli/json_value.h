/* json_value.h — a small JSON reader for the files fedrec itself writes
 * (run summaries, JSON-lines reports), used by `fedrec plot`, `compare` and
 * `tune`. The whole text becomes a tree of values; a damaged text gets a
 * message naming the line, the column and what was expected there. */
#ifndef FR_CLI_JSON_VALUE_H
#define FR_CLI_JSON_VALUE_H

#include <stddef.h>

typedef enum fr_json_kind {
    FR_JSON_NULL,
    FR_JSON_BOOL,
    FR_JSON_NUMBER,
    FR_JSON_STRING,
    FR_JSON_ARRAY,
    FR_JSON_OBJECT
} fr_json_kind;

typedef struct fr_json fr_json;
struct fr_json {
    fr_json_kind kind;
    double number;   /* NUMBER (NaN for null where a number was written as
                      * null, which fedrec writes for NaN); BOOL: 0 or 1 */
    char *string;    /* STRING: the text, escapes decoded */
    size_t count;    /* ARRAY / OBJECT: how many items */
    char **keys;     /* OBJECT: the item names, in file order */
    fr_json *items;  /* ARRAY / OBJECT: the items */
};

/* Parse text (len bytes) as one JSON value. Returns 1, or 0 with a message
 * "LINE:COLUMN: expected ..., found ..." in err. Bare nan, inf and -inf
 * (which fedrec's JSON-lines reports once wrote) are read as numbers. */
int fr_json_parse(const char *text, size_t len, fr_json *out, char *err, size_t errn);
void fr_json_free(fr_json *v);

/* The item named key of an object (NULL when absent or v is no object). */
const fr_json *fr_json_get(const fr_json *v, const char *key);

/* Every number (and null) under an object, as (name, value) pairs, named
 * as fedrec's CSV reports name their columns: a member "m" is "m"; a
 * member of a nested object "o" is "m_o"; an array of objects (the
 * per-scenario x task cells) names each element by its string members
 * joined with '_', so {"cells":[{"scenario":"s0","task":"click",
 * "valid_auc":0.7}]} gives "valid_auc_s0_click"; an element without string
 * members but with a number "k" (a ranking cutoff) names its members
 * "m@K" (valid_recall@20); other elements, and arrays of numbers, are
 * named by their index. Booleans are 0 or
 * 1. Stops and returns 0 when emit returns 0. */
typedef int (*fr_json_emit)(void *ctx, const char *name, double value);
int fr_json_flatten(const fr_json *object, fr_json_emit emit, void *ctx);

#endif
