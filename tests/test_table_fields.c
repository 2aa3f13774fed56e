/* test_table_fields.c — what a table knows of its fields: the user and
 * item fields, the field names and every categorical value's text survive
 * a table file (version 2) exactly; a table without them maps without
 * them; a damaged field section is refused; and the user and item sides
 * learnt from the rows (fedrec/table_sides.h): user-side, item-side and
 * context fields, the scenario of each user, the training items. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/table.h"
#include "fedrec/table_sides.h"
#include "testutil.h"

/* 8 rows: user (3), item (4), region (a function of the user), colour (of
 * the item), hour (neither); price (of the item); scenario by user. */
static const int32_t rows_cat[8][5] = {{0, 0, 0, 2, 0}, {0, 1, 0, 1, 1}, {1, 1, 1, 1, 0}, {1, 2, 1, 0, 1},
                                       {2, 3, 0, 2, 1}, {2, 0, 0, 2, 0}, {0, 3, 0, 2, 0}, {1, 0, 1, 2, 1}};
static const float item_price[4] = {1.5f, 2.0f, 0.25f, 9.0f};
static const uint8_t rows_split[8] = {0, 0, 0, 1, 0, 2, 0, 0};
static const int32_t user_scen[3] = {1, 0, 1};

static void make(fr_table *t, int with_fields)
{
    CHECK_OK(fr_table_alloc(t, 8, 5, 1, 1, 2));
    size_t vocab[5] = {3, 4, 2, 3, 2};
    fr_table_set_vocab(t, vocab);
    for (size_t r = 0; r < 8; r++) {
        memcpy(t->cat + r * 5, rows_cat[r], sizeof rows_cat[r]);
        t->num[r] = item_price[rows_cat[r][1]];
        t->scenario[r] = user_scen[rows_cat[r][0]];
        t->split[r] = rows_split[r];
    }
    if (!with_fields)
        return;
    const char *names[6] = {"user", "item", "region", "colour", "hour", "price"};
    const char *values[14] = {"ann", "bob", "cy", "i10", "i20", "i30", "i40", "north", "south",
                              "red", "green", "blue", "am", "pm"};
    CHECK_OK(fr_table_set_field_names(t, names));
    CHECK_OK(fr_table_set_values(t, values));
    t->has_roles = 1;
    t->user_field = 0;
    t->item_field = 1;
}

int main(void)
{
    char dir[] = "/tmp/fr_table_fields_XXXXXX", path[600], bare[600];
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    snprintf(path, sizeof path, "%s/t.tbl", dir);
    snprintf(bare, sizeof bare, "%s/bare.tbl", dir);

    fr_table t, back;
    make(&t, 1);
    CHECK_OK(fr_table_save(&t, path));
    CHECK_OK(fr_table_map(&back, path, 1));
    CHECK(back.has_roles && back.user_field == 0 && back.item_field == 1, "roles lost: %d %zu %zu", back.has_roles,
          back.user_field, back.item_field);
    CHECK(back.field_names && !strcmp(back.field_names[2], "region") && !strcmp(back.field_names[5], "price"),
          "field names lost");
    CHECK(fr_table_field_index(&back, "colour") == 3 && fr_table_field_index(&back, "price") == -1,
          "field_index: categorical fields by name");
    for (size_t v = 0; back.values && v < t.vocab_total; v++)
        CHECK(!strcmp(back.values[v], t.values[v]), "value %zu: '%s', wrote '%s'", v, back.values[v], t.values[v]);
    CHECK(back.values != NULL, "values lost");
    CHECK(fr_table_fingerprint(&back) == fr_table_fingerprint(&t), "the round trip changed the rows");
    fr_table_free(&back);

    /* Without fields: none come back. */
    fr_table plain;
    make(&plain, 0);
    CHECK_OK(fr_table_save(&plain, bare));
    CHECK_OK(fr_table_map(&back, bare, 1));
    CHECK(!back.has_roles && !back.field_names && !back.values, "a table without fields mapped with some");
    CHECK(fr_table_fingerprint(&back) == fr_table_fingerprint(&t), "fields changed the fingerprint");
    fr_table_free(&back);
    fr_table_free(&plain);

    /* A byte of the field section changed (the last value's text). */
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, -2, SEEK_END);
        fputc('X', f);
        fclose(f);
    }
    CHECK(fr_table_map(&back, path, 0) == FR_ERR_FORMAT && strstr(fr_last_error(), "the field section (names, user and item fields, values) is corrupt"),
          "a damaged field section was read: %s", fr_last_error());

    /* Sides from the rows. */
    fr_table_sides s;
    CHECK_OK(fr_table_sides_compute(&t, &s));
    int32_t want_side[6] = {FR_SIDE_USER, FR_SIDE_ITEM, FR_SIDE_USER, FR_SIDE_ITEM, FR_SIDE_NEITHER, FR_SIDE_ITEM};
    for (size_t k = 0; k < 6; k++)
        CHECK(s.side[k] == want_side[k], "field %zu: side %d, expected %d", k, s.side[k], want_side[k]);
    CHECK(s.scenario_of_user && s.user_scenario[0] == 1 && s.user_scenario[1] == 0 && s.user_scenario[2] == 1,
          "the users' scenarios");
    CHECK(s.user_cat[1 * 5 + 2] == 1 && s.user_cat[1 * 5 + 3] == -1 && s.item_cat[3 * 5 + 3] == 2 &&
              s.item_cat[3 * 5 + 2] == -1 && s.item_num[2] == 0.25f && isnan(s.user_num[0]),
          "user and item values");
    /* Items of every part: user 0 rows 0, 1, 6 (items 0, 1, 3); user 1 rows 2, 3, 7 (1, 2, 0; row 3 is
     * validation, still left out by recommend); user 2 rows 4, 5 (3, 0; row 5 is test). */
    int64_t want_start[4] = {0, 3, 6, 8};
    int32_t want_seen[8] = {0, 1, 3, 0, 1, 2, 0, 3};
    for (size_t u = 0; u < 4; u++)
        CHECK(s.seen_start[u] == want_start[u], "seen_start[%zu] = %lld", u, (long long)s.seen_start[u]);
    for (size_t k = 0; k < 8; k++)
        CHECK(s.seen[k] == want_seen[k], "seen[%zu] = %d, expected %d", k, s.seen[k], want_seen[k]);
    fr_table_sides_free(&s);
    /* A scenario that is not the user's. */
    t.scenario[0] = 0;
    CHECK_OK(fr_table_sides_compute(&t, &s));
    CHECK(!s.scenario_of_user && s.user_scenario[0] == -1, "a user in two scenarios has no scenario of its own");
    fr_table_sides_free(&s);
    t.has_roles = 0;
    CHECK(fr_table_sides_compute(&t, &s) == FR_ERR_INVALID, "sides of a table without user and item fields");
    fr_table_free(&t);
    unlink(path);
    unlink(bare);
    rmdir(dir);
    return fr_test_finish("test_table_fields");
}
