/* fuzz_relations.c — libFuzzer target for the side-relation files of the
 * multi-task job (mtrec.links, mtrec.item_pairs, mtrec.categories). The
 * ids resolve against a small fixed rating set read at start-up (users
 * u1..u6, items i1..i8). The first byte picks the file kind and the
 * delimiter. An accepted file must give pairs within range (and every
 * item one category at most); a refused one must name its file. */
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
        s = fr_mtr_read_categories(&base, path, delimiter, &skipped);
        if (s == FR_OK) {
            size_t listed = 0;
            for (size_t i = 0; i < base.n_items; i++) {
                if (base.category[i] < -1 || base.category[i] >= (int32_t)base.n_categories)
                    fr_fuzz_fail("a category out of range", path);
                listed += base.category[i] >= 0;
            }
            if (base.category_start[base.n_categories] != listed)
                fr_fuzz_fail("category lists do not hold every categorised item once", path);
        }
    }
    if (s != FR_OK)
        fr_fuzz_expect_named(s, path);
    return 0;
}
