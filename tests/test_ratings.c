/* test_ratings.c — rating readers (MovieLens tab and '::', generic
 * delimited with string ids and a header), their errors (file, line,
 * field), dense id renumbering, the leave-one-out split (time order, ties
 * by file order, users with fewer than 3 interactions) and the evaluation
 * negatives (never seen, distinct, reproducible). On MovieLens-100K when
 * ../shared/data is present. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/ratings.h"
#include "testutil.h"

static char dir[] = "/tmp/fr_ratings_test_XXXXXX";

static const char *put(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_error(const char *name, const char *text, const fr_ratings_spec *spec,
                         const char *needle1, const char *needle2)
{
    fr_ratings r;
    fr_status s = fr_ratings_read(put(name, text), spec, &r);
    CHECK(s == FR_ERR_DATA, "%s: status %s", name, fr_status_name(s));
    CHECK(strstr(fr_last_error(), needle1) && strstr(fr_last_error(), needle2),
          "%s: message '%s' lacks '%s' / '%s'", name, fr_last_error(), needle1, needle2);
}

int main(void)
{
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary folder");
    fr_ratings_spec tab, dat, csv;
    fr_ratings_spec_default(FR_RATINGS_MOVIELENS_TAB, &tab);
    fr_ratings_spec_default(FR_RATINGS_MOVIELENS_DAT, &dat);
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &csv);

    /* u.data: ids renumbered in numeric order (10 after 9). */
    fr_ratings r;
    CHECK_OK(fr_ratings_read(put("u.data", "10\t5\t3\t100\n9\t5\t4\t50\r\n\n10\t7\t1\t90\n"), &tab, &r));
    CHECK(r.n == 3 && r.n_users == 2 && r.n_items == 2, "counts %zu %zu %zu", r.n, r.n_users, r.n_items);
    CHECK(!strcmp(r.user_names[0], "9") && !strcmp(r.user_names[1], "10"), "numeric order");
    CHECK(r.user[0] == 1 && r.user[1] == 0 && r.item[2] == 1, "remapped ids");
    CHECK(r.rating[1] == 4.0f && r.time[0] == 100, "values");
    fr_ratings_free(&r);
    /* ratings.dat */
    CHECK_OK(fr_ratings_read(put("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n"), &dat, &r));
    CHECK(r.n == 2 && r.n_items == 2 && r.time[1] == 978302109, "ratings.dat");
    fr_ratings_free(&r);
    /* Generic: string ids, header, other column order, no time. */
    fr_ratings_spec g = csv;
    g.delimiter = ';';
    g.header = 1;
    g.col_item = 0;
    g.col_user = 2;
    g.col_rating = 1;
    g.col_time = -1;
    CHECK_OK(fr_ratings_read(put("g.csv", "item;rating;user\nbook;2.5;bob\npen;1;alice\nbook;5;alice\n"), &g, &r));
    CHECK(r.n == 3 && r.n_users == 2 && !strcmp(r.user_names[0], "alice") && r.user[0] == 1, "generic ids");
    CHECK(r.time[0] == 2 && r.time[2] == 4, "time defaults to the line number");
    fr_ratings_free(&r);

    /* Errors name the file, the line and the field. */
    expect_error("missing.data", "1\t2\t3\t4\n1\t2\t3\n", &tab, "missing.data:2", "expected at least 4");
    expect_error("rating.data", "1\t2\tfive\t4\n", &tab, "rating.data:1", "field 3 (rating) is 'five'");
    expect_error("time.data", "1\t2\t3\t4\n5\t6\t7\t12:30\n", &tab, "time.data:2", "field 4 (time)");
    expect_error("nan.data", "1\t2\tnan\t4\n", &tab, "nan.data:1", "finite number");
    expect_error("empty.data", "", &tab, "empty.data", "no ratings");
    expect_error("header.csv", "user,item,rating,time\n", &(fr_ratings_spec){FR_RATINGS_DELIMITED, ',', 1, 0, 1, 2, 3},
                 "header.csv", "only its header");
    expect_error("wrongdelim.csv", "1;2;3;4\n", &csv, "wrongdelim.csv:1", "separated by ','");
    expect_error("emptyid.csv", "1,,3,4\n", &csv, "emptyid.csv:1", "field 2 (item) is empty");
    CHECK(fr_ratings_read("/nonexistent/u.data", &tab, &r) == FR_ERR_IO && strstr(fr_last_error(), "/nonexistent/u.data"),
          "missing file: %s", fr_last_error());

    /* Leave-one-out: time order; among rows of equal time the first in the
     * file counts as the later (the reference's pandas rank(method='first',
     * ascending=False)). User a: times 5, 1, 5, 3 (items i1..i4): i1 and
     * i3 share the latest time and i1 comes first -> test i1, val i3,
     * train {i2, i4}. User d: three rows of one time (z1, z2, z3) -> test
     * z1, val z2, train z3. User b has 2 interactions: trained on, not
     * evaluated. */
    fr_ratings_spec nt = csv;
    const char *text = "a,i1,1,5\na,i2,1,1\na,i3,1,5\na,i4,1,3\nb,i1,1,1\nb,i2,1,2\n"
                       "d,z1,1,9\nd,z2,1,9\nd,z3,1,9\n";
    char items_text[4096] = "";
    strcat(items_text, text);
    for (int k = 0; k < 3; k++) {
        char line[64];
        snprintf(line, sizeof line, "c,x%02d,1,%d\n", k, k);
        strcat(items_text, line);
    }
    /* Thirty one-interaction users widen the item catalogue. */
    for (int k = 0; k < 30; k++) {
        char line[64];
        snprintf(line, sizeof line, "f%02d,y%02d,1,1\n", k, k);
        strcat(items_text, line);
    }
    CHECK_OK(fr_ratings_read(put("loo.csv", items_text), &nt, &r));
    fr_loo_split s;
    fr_status made = fr_loo_split_make(&r, 7, 10, &s);
    CHECK_OK(made);
    if (made != FR_OK)
        return fr_test_finish("test_ratings");
    /* user ids: a=0, b=1, c=2, d=3, f00..; items by name: i1..i4, x00..,
     * y00.., z1..z3 */
    CHECK(s.has_eval[0] && !s.has_eval[1] && s.has_eval[2] && s.has_eval[3] && !s.has_eval[4] &&
          s.n_evaluated == 3, "has_eval");
    CHECK(s.train_start[1] - s.train_start[0] == 2 && s.train_items[0] == 1 && s.train_items[1] == 3,
          "user a trains on i2, i4");
    CHECK(s.val_item[0] == 2 && s.test_item[0] == 0, "user a: val i3 %d, test i1 %d", s.val_item[0], s.test_item[0]);
    {
        int32_t z1 = (int32_t)r.n_items - 3;
        CHECK(s.test_item[3] == z1 && s.val_item[3] == z1 + 1 && s.train_start[4] - s.train_start[3] == 1 &&
                  s.train_items[s.train_start[3]] == z1 + 2,
              "user d (three rows of one time): test z1, val z2, train z3; got test %d val %d", s.test_item[3],
              s.val_item[3]);
    }
    CHECK(s.train_start[2] - s.train_start[1] == 2 && s.val_item[1] == -1, "user b keeps both for training");
    for (size_t u = 0; u < 3; u += 2) {
        const int32_t *neg = s.eval_negatives + u * 20;
        for (int k = 0; k < 20; k++) {
            CHECK(neg[k] >= 0 && (size_t)neg[k] < r.n_items && !fr_loo_seen(&s, u, neg[k]),
                  "user %zu negative %d = %d is seen or out of range", u, k, neg[k]);
            for (int j = 0; j < k; j++)
                CHECK(neg[j] != neg[k], "user %zu negative repeated", u);
        }
    }
    fr_loo_split s2;
    CHECK_OK(fr_loo_split_make(&r, 7, 10, &s2));
    CHECK(!memcmp(s.eval_negatives, s2.eval_negatives, 3 * 20 * sizeof(int32_t)), "negatives not reproducible");
    fr_loo_split_free(&s2);
    CHECK(fr_loo_split_make(&r, 7, 20, &s2) == FR_ERR_DATA && strstr(fr_last_error(), "'a'"),
          "too few unseen items accepted: %s", fr_last_error());
    fr_loo_split_free(&s);
    fr_ratings_free(&r);

    /* MovieLens-100K, when the shared data is beside the project. */
    const char *top = getenv("top_srcdir");
    char ml[1024];
    snprintf(ml, sizeof ml, "%s/../shared/data/ml-100k/u.data", top ? top : ".");
    if (access(ml, R_OK) == 0) {
        CHECK_OK(fr_ratings_read(ml, &tab, &r));
        CHECK(r.n == 100000 && r.n_users == 943 && r.n_items == 1682, "ml-100k counts %zu %zu %zu", r.n,
              r.n_users, r.n_items);
        CHECK_OK(fr_loo_split_make(&r, 0, 99, &s));
        CHECK(s.n_evaluated == 943 && s.train_start[943] == 100000 - 2 * 943, "ml-100k split");
        fr_loo_split_free(&s);
        fr_ratings_free(&r);
    } else {
        TEST_SKIP_PART("test_ratings: the MovieLens-100K counts and split: %s is absent", ml);
    }
    return fr_test_finish("test_ratings");
}
