/* fuzz_relations.c — libFuzzer target for the side-relation files of the
 * multi-task job (mtrec.links, mtrec.item_pairs, mtrec.categories). The
 * ids resolve against a small fixed rating set read at start-up (users
 * u1..u6, items i1..i8). The first byte picks the file kind and the
 * delimiter (and, for categories, a file of them or a rating file with a
 * category column). An accepted file must give pairs within range and
 * categories the two lists agree on; a refused one must name its file. */
#include "config.h"
#include "fuzz_util.h"
#include "fedrec/mtrec.h"
#include "fedrec/ratings.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fr_mtr_data base;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char text[4096];
    size_t len = 0;
    for (int u = 1; u <= 6; u++)
        for (int i = 1; i <= 8; i++)
            if ((u + i) % 3 != 0)
                len += (size_t)snprintf(text + len, sizeof text - len, "u%d,i%d,%d\n", u, i, 1 + (u * i) % 5);
    const char *path = fr_fuzz_file(0, "ratings.csv", (const uint8_t *)text, len);
    fr_ratings_spec spec;
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &spec);
    spec.delimiter = ',';
    spec.col_time = -1;
    fr_ratings r;
    if (fr_ratings_read(path, &spec, &r) != FR_OK ||
        fr_mtr_data_split(&r, 1, 0.6, 0.2, 0, &base) != FR_OK)
        fr_fuzz_fail("cannot build the base data", fr_last_error());
    fr_ratings_free(&r);
    return 0;
}

static void check_relation(const fr_mtr_relation *rel, size_t n, const char *path)
{
    for (size_t k = 0; k < rel->n_pairs; k++)
        if (rel->a[k] < 0 || (size_t)rel->a[k] >= n || rel->b[k] < 0 || (size_t)rel->b[k] >= n ||
            rel->a[k] == rel->b[k])
            fr_fuzz_fail("a pair out of range or with itself", path);
    for (size_t k = 0; k < n; k++)
        if (rel->start[k] > rel->start[k + 1])
            fr_fuzz_fail("neighbour offsets out of order", path);
}

/* Both lists agree: every item's categories in range, sorted and unique,
 * each category's items holding that item, as many memberships each way. */
static void check_categories(const fr_mtr_data *d, const char *path)
{
    for (size_t i = 0; i < d->n_items; i++)
        for (size_t k = d->item_category_start[i]; k < d->item_category_start[i + 1]; k++) {
            int32_t c = d->item_categories[k];
            if (c < 0 || (size_t)c >= d->n_categories)
                fr_fuzz_fail("a category out of range", path);
            if (k > d->item_category_start[i] && c <= d->item_categories[k - 1])
                fr_fuzz_fail("an item's categories not sorted and unique", path);
            int found = 0;
            for (size_t j = d->category_start[c]; j < d->category_start[c + 1]; j++)
                found |= d->category_items[j] == (int32_t)i;
            if (!found)
                fr_fuzz_fail("an item missing from its category's list", path);
        }
    if (d->category_start[d->n_categories] != d->item_category_start[d->n_items])
        fr_fuzz_fail("the category lists and the item lists hold other memberships", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char delimiters[] = {',', '\t', ' ', ';'};
    unsigned kind = data[0] % 3;
    char delimiter = delimiters[(data[0] >> 2) % sizeof delimiters];
    const char *path = fr_fuzz_file(1, "relation.txt", data + 1, size - 1);
    size_t skipped = 0;
    fr_status s;
    if (kind == 0) {
        s = fr_mtr_read_links(&base, path, delimiter, &skipped);
        if (s == FR_OK)
            check_relation(&base.links, base.n_users, path);
    } else if (kind == 1) {
        s = fr_mtr_read_item_pairs(&base, path, delimiter, &skipped);
        if (s == FR_OK)
            check_relation(&base.pairs, base.n_items, path);
    } else {
        /* bit 5: the bytes as a rating file whose third column holds
         * categories; otherwise as a categories file */
        size_t duplicates = 0, with = 0;
        if (data[0] & 0x20) {
            fr_ratings_spec spec;
            fr_ratings_spec_default(FR_RATINGS_DELIMITED, &spec);
            spec.delimiter = delimiter;
            spec.header = (data[0] >> 6) & 1;
            spec.col_time = -1;
            spec.col_rating = -1;
            s = fr_mtr_read_category_column(&base, &path, 1, &spec, 2, &with);
        } else {
            s = fr_mtr_read_categories(&base, path, delimiter, &skipped, &duplicates);
        }
        if (s == FR_OK)
            check_categories(&base, path);
    }
    if (s != FR_OK)
        fr_fuzz_expect_named(s, path);
    return 0;
}
