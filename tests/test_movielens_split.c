/* test_movielens_split.c — data.source = movielens-msmt on the real
 * MovieLens-100K (../shared/data/ml-100k; skipped, exit 77, without it):
 * the AutoIFS variant must give the authors' split row for row — the
 * figures a script running their preprocessing with Debian's pandas 1.5.3
 * and numpy 1.24 printed: the rows (u.data line numbers) of each part,
 * hashed, the first training rows in pandas' sample order, and the count
 * of rows and of each label per part — and the same split whatever the
 * seed; the zip code whole. The seeded variant keeps the zip prefix and
 * draws its split from the seed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fedrec/table_read.h"
#include "table/movielens_split.h"
#include "testutil.h"

enum { F_USER = 0, F_ITEM = 1, F_ZIP = 5 };

/* FNV-1a over the numbers, one step per number (x ^ h, then * prime). */
static uint64_t fnv(const uint32_t *x, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= x[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int differ(const fr_table *a, const fr_table *b)
{
    size_t n = 0;
    for (size_t r = 0; r < a->rows; r++)
        n += a->split[r] != b->split[r];
    return n != 0;
}

int main(void)
{
    const char *top = getenv("top_srcdir");
    char dir[1024], probe[1100];
    snprintf(dir, sizeof dir, "%s/../shared/data/ml-100k", top ? top : ".");
    snprintf(probe, sizeof probe, "%s/u.data", dir);
    if (access(probe, R_OK) != 0)
        TEST_SKIP("%s absent: the MovieLens-100K split cannot be checked", probe);

    fr_table t;
    CHECK_OK(fr_table_read_movielens(dir, FR_MOVIELENS_AUTOIFS, 0, &t));
    if (t.rows != 100000) {
        CHECK(0, "MovieLens-100K: %zu rows, expected 100000", t.rows);
        return fr_test_finish("test_movielens_split");
    }
    /* Rows, rating > 3, rating > 4 per part (train, validation, test). */
    static const size_t want[3][3] = {{80000, 44474, 17026}, {10000, 5410, 2102}, {10000, 5491, 2073}};
    size_t got[3][3] = {{0}};
    for (size_t r = 0; r < t.rows; r++) {
        CHECK(t.split[r] <= FR_SPLIT_TEST, "row %zu: split tag %u", r, t.split[r]);
        if (t.split[r] > FR_SPLIT_TEST)
            break;
        got[t.split[r]][0]++;
        got[t.split[r]][1] += t.labels[2 * r];
        got[t.split[r]][2] += t.labels[2 * r + 1];
    }
    static const char *const part[3] = {"train", "validation", "test"};
    for (int p = 0; p < 3; p++)
        CHECK(got[p][0] == want[p][0] && got[p][1] == want[p][1] && got[p][2] == want[p][2],
              "%s: %zu rows, %zu with rating > 3, %zu with rating > 4; pandas: %zu, %zu, %zu", part[p], got[p][0],
              got[p][1], got[p][2], want[p][0], want[p][1], want[p][2]);

    /* Row for row: u.data line numbers (row + 1) of each part, ascending,
     * hashed; and the order of the authors' frames. */
    static const uint64_t want_sorted[3] = {0x3ca5566367960040ull, 0x8ae841ba3cccd26eull, 0x0d2d8661ef38893dull};
    static const uint64_t want_order[3] = {0x1b43bd7d1f670a00ull, 0x03f61131d29d8af6ull, 0xd7d2681b8508fd57ull};
    static const uint32_t train_head[6] = {65873, 96055, 99641, 98699, 91114, 33937};
    static const uint32_t valid_head[6] = {30245, 77912, 60393, 47910, 47511, 46921};
    uint32_t *lines = malloc(t.rows * sizeof *lines), *order = malloc(t.rows * sizeof *order);
    CHECK(lines && order, "memory");
    size_t counts[3] = {0, 0, 0};
    if (lines && order) {
        for (int p = 0; p < 3; p++) {
            size_t n = 0;
            for (size_t r = 0; r < t.rows; r++)
                if (t.split[r] == p)
                    lines[n++] = (uint32_t)r + 1;
            CHECK(fnv(lines, n) == want_sorted[p], "%s: the rows are not pandas' (hash %016llx)", part[p],
                  (unsigned long long)fnv(lines, n));
        }
        CHECK_OK(fr_movielens_autoifs_order(&t, F_USER, F_ITEM, order, counts));
        for (size_t k = 0; k < t.rows; k++)
            lines[k] = order[k] + 1;
        CHECK(counts[0] == 80000 && counts[1] == 10000 && counts[2] == 10000, "part sizes %zu, %zu, %zu", counts[0],
              counts[1], counts[2]);
        size_t at = 0;
        for (int p = 0; p < 3; p++) {
            CHECK(fnv(lines + at, counts[p]) == want_order[p], "%s: not in pandas' order (hash %016llx)", part[p],
                  (unsigned long long)fnv(lines + at, counts[p]));
            at += counts[p];
        }
        for (size_t k = 0; k < 6; k++) {
            CHECK(lines[k] == train_head[k], "training row %zu in sample order: line %u, pandas' %u", k, lines[k],
                  train_head[k]);
            CHECK(lines[80000 + k] == valid_head[k], "validation row %zu in sample order: line %u, pandas' %u", k,
                  lines[80000 + k], valid_head[k]);
        }
    }
    free(lines);
    free(order);
    /* The zip code whole: 795 distinct codes among the 943 users. */
    CHECK(t.vocab[F_ZIP] == 795, "zip codes: %zu values, expected 795 (whole codes)", t.vocab[F_ZIP]);

    /* The split does not move with the seed (run.seed reaches the reader as
     * this argument). */
    static const uint64_t seeds[2] = {1, 1234567};
    for (int k = 0; k < 2; k++) {
        fr_table other;
        CHECK_OK(fr_table_read_movielens(dir, FR_MOVIELENS_AUTOIFS, seeds[k], &other));
        CHECK(other.rows == t.rows && !differ(&t, &other), "AutoIFS split with seed %llu differs from seed 0",
              (unsigned long long)seeds[k]);
        fr_table_free(&other);
    }

    /* The seeded variant: the zip prefix, and a split that does move. */
    fr_table s0, s1;
    CHECK_OK(fr_table_read_movielens(dir, FR_MOVIELENS_SEEDED, 0, &s0));
    CHECK_OK(fr_table_read_movielens(dir, FR_MOVIELENS_SEEDED, 1, &s1));
    if (s0.rows == t.rows && s1.rows == t.rows) {
        CHECK(s0.vocab[F_ZIP] == 111, "seeded variant: %zu zip prefixes, expected 111", s0.vocab[F_ZIP]);
        CHECK(differ(&s0, &s1), "seeded variant: seeds 0 and 1 give the same split");
        CHECK(differ(&s0, &t), "seeded variant: the AutoIFS split");
        size_t n_train = 0;
        for (size_t r = 0; r < s0.rows; r++)
            n_train += s0.split[r] == FR_SPLIT_TRAIN;
        CHECK(n_train == 80000, "seeded variant: %zu training rows", n_train);
    }
    fr_table_free(&s0);
    fr_table_free(&s1);
    fr_table_free(&t);
    return fr_test_finish("test_movielens_split");
}
