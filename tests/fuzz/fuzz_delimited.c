/* fuzz_delimited.c — libFuzzer target for delimited rating files. The
 * first two bytes pick the delimiter, the header flag, the column order
 * (rating and time present or absent) and whether the rest is one file or
 * three parts read into one id space (training, validation, test, cut at
 * FR_FUZZ_SEPARATOR). An accepted input must give a consistent data set; a
 * refused one must name its file. */
#include "config.h"
#include "fuzz_util.h"
#include "ratings_check.h"
#include "fedrec/ratings.h"

#include <string.h>

FR_FUZZ_NO_INIT
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* user, item, rating, time columns */
static const int layouts[][4] = {
    {0, 1, 2, 3}, {0, 1, -1, -1}, {0, 1, 2, -1}, {0, 1, -1, 2}, {1, 0, 3, 2}, {2, 0, 1, -1}, {3, 2, 1, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const char delimiters[] = {',', '\t', ';', ' ', '|', ':'};
    fr_ratings_spec spec;
    fr_ratings_spec_default(FR_RATINGS_DELIMITED, &spec);
    spec.delimiter = delimiters[data[0] % sizeof delimiters];
    spec.header = (data[0] >> 3) & 1;
    int parts = (data[0] >> 4) & 1;
    const int *l = layouts[data[1] % (sizeof layouts / sizeof layouts[0])];
    spec.col_user = l[0];
    spec.col_item = l[1];
    spec.col_rating = l[2];
    spec.col_time = l[3];
    data += 2;
    size -= 2;
    if (!parts) {
        fr_fuzz_read_ratings(fr_fuzz_file(0, "ratings.csv", data, size), &spec);
        return 0;
    }
    static const char *const names[3] = {"train.csv", "valid.csv", "test.csv"};
    const char *paths[3];
    fr_fuzz_files(data, size, names, 3, paths);
    fr_ratings r[3];
    fr_status s = fr_ratings_read_parts(paths, 3, &spec, r);
    if (s == FR_OK) {
        for (size_t k = 0; k < 3; k++) {
            if (r[k].n_users != r[0].n_users || r[k].n_items != r[0].n_items)
                fr_fuzz_fail("parts with different id spaces", paths[k]);
            for (size_t u = 0; u < r[0].n_users; u++)
                if (strcmp(r[k].user_names[u], r[0].user_names[u]) != 0)
                    fr_fuzz_fail("a user id numbered differently in two parts", paths[k]);
        }
        fr_fuzz_check_ratings(&r[0], paths[0]);
        for (size_t k = 0; k < 3; k++)
            fr_ratings_free(&r[k]);
    } else if (!fr_fuzz_names_one(paths, 3)) {
        fr_fuzz_fail("the message names none of the files", fr_last_error());
    }
    return 0;
}
