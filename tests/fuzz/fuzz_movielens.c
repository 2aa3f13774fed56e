/* fuzz_movielens.c — libFuzzer target for the MovieLens readers. The first
 * byte picks the reader: u.data (tab separated), ratings.dat ("::"), or
 * the MovieLens-100K folder read as a multi-scenario table (u.data,
 * u.user and u.item: the rest of the input cut in three at
 * FR_FUZZ_SEPARATOR; the first byte divided by 3, odd or even, picks the
 * seeded or the AutoIFS variant). An accepted input must give a
 * consistent data set; a refused one must name its file. */
#include "config.h"
#include "fuzz_util.h"
#include "ratings_check.h"
#include "table_check.h"
#include "fedrec/ratings.h"
#include "fedrec/table_read.h"

#include <string.h>

FR_FUZZ_NO_INIT
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 3, variant = data[0] / 3 % 2;
    data++;
    size--;
    if (mode < 2) {
        const char *path = fr_fuzz_file(0, mode ? "ratings.dat" : "u.data", data, size);
        fr_ratings_spec spec;
        fr_ratings_spec_default(mode ? FR_RATINGS_MOVIELENS_DAT : FR_RATINGS_MOVIELENS_TAB, &spec);
        fr_fuzz_read_ratings(path, &spec);
        return 0;
    }
    static const char *const names[3] = {"u.data", "u.user", "u.item"};
    const char *paths[3];
    fr_fuzz_files(data, size, names, 3, paths);
    fr_table t;
    fr_status s = fr_table_read_movielens(fr_fuzz_dir(), variant ? FR_MOVIELENS_SEEDED : FR_MOVIELENS_AUTOIFS, 7, &t);
    if (s == FR_OK) {
        fr_fuzz_check_table(&t, "movielens table");
        fr_table_free(&t);
    } else {
        if (!fr_fuzz_names_one(paths, 3)) /* the message names one of the files */
            fr_fuzz_fail("the message names none of the files", fr_last_error());
    }
    return 0;
}
