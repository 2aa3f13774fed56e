/* fuzz_split.c — libFuzzer target for split files (data.split_file,
 * fr_loo_split_read). The ids resolve against a small fixed rating set
 * read at start-up (users u1..u6 with 2 to 7 items each among i1..i14);
 * the input is the split file, read for 2 negatives per evaluation. A
 * refused file must be named in the message; an accepted one must give a
 * consistent split (every user with 3 or more items evaluated, held-out
 * items two of the user's own, training items the user's others, 4
 * distinct unseen negatives) that writes out and reads back the same. */
#include "config.h"
#include "fuzz_util.h"
#include "fedrec/ratings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fr_ratings base;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char text[4096];
    size_t len = 0;
    for (int u = 1; u <= 6; u++)
        for (int k = 0; k < u + 1; k++)
            len += (size_t)snprintf(text + len, sizeof text - len, "u%d,i%d,1,%d\n", u, 1 + (u * 3 + k * 5) % 14,
                                    k / 2);
    const char *path = fr_fuzz_file(0, "ratings.csv", (const uint8_t *)text, len);
    fr_ratings_spec spec;
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &spec);
    if (fr_ratings_read(path, &spec, &base) != FR_OK)
        fr_fuzz_fail("cannot build the base data", fr_last_error());
    return 0;
}

static void check_split(const fr_loo_split *s, const char *path)
{
    const size_t k2 = 4;
    size_t evaluated = 0;
    for (size_t u = 0; u < s->n_users; u++) {
        size_t seen = s->seen_start[u + 1] - s->seen_start[u];
        size_t train = s->train_start[u + 1] - s->train_start[u];
        if (s->has_eval[u] != (seen >= 3))
            fr_fuzz_fail("a user evaluated without 3 items, or one with 3 left out", path);
        evaluated += s->has_eval[u];
        if (!s->has_eval[u]) {
            if (train != seen)
                fr_fuzz_fail("a user not evaluated does not train on everything", path);
            continue;
        }
        if (train != seen - 2 || s->val_item[u] == s->test_item[u] || !fr_loo_seen(s, u, s->val_item[u]) ||
            !fr_loo_seen(s, u, s->test_item[u]))
            fr_fuzz_fail("held-out items that are not two of the user's own", path);
        for (size_t j = s->train_start[u]; j < s->train_start[u + 1]; j++)
            if (s->train_items[j] == s->val_item[u] || s->train_items[j] == s->test_item[u] ||
                !fr_loo_seen(s, u, s->train_items[j]))
                fr_fuzz_fail("a training item held out or not the user's", path);
        const int32_t *neg = s->eval_negatives + u * k2;
        for (size_t a = 0; a < k2; a++) {
            if (neg[a] < 0 || (size_t)neg[a] >= s->n_items || fr_loo_seen(s, u, neg[a]))
                fr_fuzz_fail("a negative out of range or seen", path);
            for (size_t b = 0; b < a; b++)
                if (neg[a] == neg[b])
                    fr_fuzz_fail("a negative given twice", path);
        }
    }
    if (evaluated != s->n_evaluated)
        fr_fuzz_fail("n_evaluated miscounted", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fr_fuzz_file(1, "fuzz.split", data, size);
    fr_loo_split s;
    fr_status st = fr_loo_split_read(&base, path, 2, &s);
    if (st != FR_OK) {
        fr_fuzz_expect_named(st, path);
        return 0;
    }
    check_split(&s, path);
    char again[1024];
    snprintf(again, sizeof again, "%s/again.split", fr_fuzz_dir());
    fr_loo_split back;
    if (fr_loo_split_write(&s, &base, again) != FR_OK || fr_loo_split_read(&base, again, 2, &back) != FR_OK)
        fr_fuzz_fail("an accepted split does not write out and read back", fr_last_error());
    if (memcmp(s.val_item, back.val_item, s.n_users * sizeof *s.val_item) ||
        memcmp(s.test_item, back.test_item, s.n_users * sizeof *s.test_item) ||
        memcmp(s.eval_negatives, back.eval_negatives, s.n_users * 4 * sizeof *s.eval_negatives) ||
        memcmp(s.train_items, back.train_items, s.train_start[s.n_users] * sizeof *s.train_items))
        fr_fuzz_fail("a split written and read back differs", path);
    fr_loo_split_free(&back);
    fr_loo_split_free(&s);
    return 0;
}
