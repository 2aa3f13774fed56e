/* test_split_file.c — split files (data.split_file, output.split): a split
 * written and read back is the drawn split exactly (held-out items,
 * training items in order, negatives); a hand-written file decides the
 * held-out items; and every kind of bad file is refused with its file,
 * line and field named: unknown user or item, a held-out item that is not
 * the user's, a negative the user interacted with or given twice, a user
 * missing or given twice, a user with too few items, the wrong number of
 * fields, an empty field, no user at all. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/ratings.h"
#include "testutil.h"

static char dir[] = "/tmp/fr_split_test_XXXXXX";

static const char *path_of(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static const char *put(const char *name, const char *text)
{
    const char *path = path_of(name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int same_split(const fr_loo_split *a, const fr_loo_split *b)
{
    size_t nu = a->n_users, k2 = 2 * a->negatives_per_eval;
    return a->n_users == b->n_users && a->n_items == b->n_items && a->negatives_per_eval == b->negatives_per_eval &&
           a->n_evaluated == b->n_evaluated &&
           !memcmp(a->train_start, b->train_start, (nu + 1) * sizeof *a->train_start) &&
           !memcmp(a->train_items, b->train_items, a->train_start[nu] * sizeof *a->train_items) &&
           !memcmp(a->seen_start, b->seen_start, (nu + 1) * sizeof *a->seen_start) &&
           !memcmp(a->seen_items, b->seen_items, a->seen_start[nu] * sizeof *a->seen_items) &&
           !memcmp(a->val_item, b->val_item, nu * sizeof *a->val_item) &&
           !memcmp(a->test_item, b->test_item, nu * sizeof *a->test_item) &&
           !memcmp(a->has_eval, b->has_eval, nu) &&
           !memcmp(a->eval_negatives, b->eval_negatives, nu * k2 * sizeof *a->eval_negatives);
}

/* The split file text with line `line` (1-based, counting every line)
 * replaced by `with` (NULL: dropped; with a trailing "+": the line kept
 * and `with` less the '+' added after it). */
static char *edit(const char *text, int line, const char *with)
{
    size_t with_len = with ? strlen(with) : 0, n = 0;
    int add = with_len && with[with_len - 1] == '+';
    char *out = malloc(strlen(text) + with_len + 2);
    int at = 1;
    for (const char *p = text; *p; at++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (at != line || add) {
            memcpy(out + n, p, len);
            n += len;
        }
        if (at == line && with) {
            memcpy(out + n, with, with_len - (size_t)add);
            n += with_len - (size_t)add;
            out[n++] = '\n';
        }
        p += len;
    }
    out[n] = '\0';
    return out;
}

static void expect_refused(const fr_ratings *r, const char *name, const char *text, const char *needle1,
                           const char *needle2)
{
    fr_loo_split s;
    fr_status st = fr_loo_split_read(r, put(name, text), 5, &s);
    CHECK(st == FR_ERR_DATA, "%s: accepted (status %s)", name, fr_status_name(st));
    if (st == FR_OK)
        fr_loo_split_free(&s);
    CHECK(strstr(fr_last_error(), name) && strstr(fr_last_error(), needle1) && strstr(fr_last_error(), needle2),
          "%s: message '%s' lacks '%s' / '%s'", name, fr_last_error(), needle1, needle2);
}

int main(void)
{
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary folder");
    /* Users a (four items, two of one time), b (two items: not
     * evaluated), c and d (three each); thirty one-item users widen the
     * catalogue. */
    char text[4096] = "a,i1,1,5\na,i2,1,1\na,i3,1,5\na,i4,1,3\nb,i1,1,1\nb,i2,1,2\n"
                      "c,x0,1,1\nc,x1,1,2\nc,x2,1,3\nd,z1,1,9\nd,z2,1,9\nd,z3,1,9\n";
    for (int k = 0; k < 30; k++) {
        char line[64];
        snprintf(line, sizeof line, "f%02d,y%02d,1,1\n", k, k);
        strcat(text, line);
    }
    fr_ratings_spec csv;
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &csv);
    fr_ratings r;
    CHECK_OK(fr_ratings_read(put("r.csv", text), &csv, &r));
    fr_loo_split drawn, back;
    CHECK_OK(fr_loo_split_make(&r, 3, 5, &drawn));

    /* Written and read back: the same split, field for field. */
    char file[512];
    snprintf(file, sizeof file, "%s", path_of("drawn.split"));
    CHECK_OK(fr_loo_split_write(&drawn, &r, file));
    CHECK_OK(fr_loo_split_read(&r, file, 5, &back));
    CHECK(same_split(&drawn, &back), "a split read back differs from the one written");
    fr_loo_split_free(&back);
    char *good = slurp(file);
    CHECK(good && good[0] == '#', "the written file has no header comment");
    /* Lines: 2 comments, then users a, c, d. */
    CHECK(good && !strncmp(strstr(good, "\na\t") + 1, "a\ti3\ti1\t", 8), "user a's line: %.20s",
          good ? strstr(good, "\na\t") + 1 : "");

    /* A hand-written file decides: user a holds out i2 (validation) and
     * i4 (test), trains on i1 and i3 in time order. */
    char *hand = edit(good, 3, "a\ti2\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03");
    CHECK_OK(fr_loo_split_read(&r, put("hand.split", hand), 5, &back));
    /* item ids by name: i1..i4 = 0..3, x0..x2 = 4..6, y00.. = 7.., z1 = 37 */
    CHECK(back.val_item[0] == 1 && back.test_item[0] == 3 && back.train_start[1] - back.train_start[0] == 2 &&
              back.train_items[0] == 2 && back.train_items[1] == 0,
          "hand-written held-out items: val %d test %d, train %d %d", back.val_item[0], back.test_item[0],
          back.train_items[0], back.train_items[1]);
    CHECK(back.eval_negatives[0] == 4 && back.eval_negatives[9] == 10, "hand-written negatives");
    fr_loo_split_free(&back);
    free(hand);

    /* Bad files. */
    char *bad;
    expect_refused(&r, "unknown_user.split", bad = edit(good, 3, "nobody\ti2\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03"),
                   ":3: field 1 (user) is 'nobody'", "not a user");
    free(bad);
    expect_refused(&r, "unknown_item.split", bad = edit(good, 3, "a\ti2\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\tnothing\ty03"),
                   ":3: field 12 (test negative 4) is 'nothing'", "not an item");
    free(bad);
    expect_refused(&r, "seen_negative.split", bad = edit(good, 3, "a\ti2\ti4\tx0\ti3\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03"),
                   ":3: field 5 (validation negative 2) is 'i3'", "interacted with");
    free(bad);
    expect_refused(&r, "repeated_negative.split", bad = edit(good, 3, "a\ti2\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\tx1\ty02\ty03"),
                   ":3: field 11 (test negative 3) is 'x1', as field 5", "distinct");
    free(bad);
    expect_refused(&r, "not_hers.split", bad = edit(good, 3, "a\tx0\ti4\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03\ty04"),
                   ":3: field 2 (validation item) is 'x0'", "never interacted");
    free(bad);
    expect_refused(&r, "same_twice.split", bad = edit(good, 3, "a\ti4\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03"),
                   ":3: field 3 (test item) is 'i4'", "validation item too");
    free(bad);
    expect_refused(&r, "missing_user.split", bad = edit(good, 4, NULL), "user 'c' has 3 items but no line",
                   "1 such user");
    free(bad);
    expect_refused(&r, "twice.split", bad = edit(good, 4, "c\tx0\tx1\ti1\ti2\ti3\ti4\tz1\tz2\tz3\ty00\ty01\ty02+"),
                   ":5: user 'c' has a line already (line 4)", "");
    free(bad);
    expect_refused(&r, "few_items.split", bad = edit(good, 4, "b\ti1\ti2\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03+"),
                   ":5: user 'b' has 2 distinct item(s)", "needs 3");
    free(bad);
    expect_refused(&r, "count.split", bad = edit(good, 3, "a\ti2\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02"),
                   ":3: 12 tab-separated fields, expected 13", "pfedrec.eval_negatives = 5");
    free(bad);
    expect_refused(&r, "empty_field.split", bad = edit(good, 3, "a\t\ti4\tx0\tx1\tx2\tz1\tz2\tz3\ty00\ty01\ty02\ty03"),
                   ":3: field 2 (validation item) is empty", "");
    free(bad);
    expect_refused(&r, "no_users.split", "# only a comment\n\n", "no user lines", "");
    /* The same file read for another negative count: the count is named. */
    fr_loo_split other;
    CHECK(fr_loo_split_read(&r, file, 4, &other) == FR_ERR_DATA && strstr(fr_last_error(), "expected 11"),
          "a file of 5 negatives read for 4: %s", fr_last_error());
    CHECK(fr_loo_split_read(&r, path_of("absent.split"), 5, &other) == FR_ERR_IO &&
              strstr(fr_last_error(), "absent.split"),
          "a missing file: %s", fr_last_error());
    /* Writing where no file can go fails without a trace. */
    CHECK(fr_loo_split_write(&drawn, &r, "/nonexistent/folder/x.split") == FR_ERR_IO &&
              strstr(fr_last_error(), "/nonexistent/folder/x.split"),
          "an unwritable split file: %s", fr_last_error());

    free(good);
    fr_loo_split_free(&drawn);
    fr_ratings_free(&r);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fr_test_finish("test_split_file");
}
