/* fuzz_movielens.c — libFuzzer target for the MovieLens readers. The first
 * byte picks the reader: u.data (tab separated), ratings.dat ("::"), or
 * the MovieLens-100K folder read as a multi-scenario table (u.data,
 * u.user and u.item: the rest of the input cut in three at
 * FR_FUZZ_SEPARATOR). An accepted input must give a consistent data set;
 * a refused one must name its file. */
#include "config.h"
#include "fuzz_util.h"
#include "ratings_check.h"
#include "table_check.h"
#include "fedrec/ratings.h"
#include "fedrec/table_read.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 3;
    data++;
    size--;
    if (mode < 2) {
        const char *path = fr_fuzz_file(0, mode ? "ratings.dat" : "u.data", data, size);
        fr_ratings_spec spec;
        fr_ratings_spec_default(mode ? FR_RATINGS_MOVIELENS_DAT : FR_RATINGS_MOVIELENS_TAB, &spec);
        fr_ratings r;
        fr_status s = fr_ratings_read(path, &spec, &r);
        if (s == FR_OK) {
            fr_fuzz_check_ratings(&r, path);
            fr_ratings_free(&r);
        } else {
            fr_fuzz_expect_named(s, path);
        }
        return 0;
    }
    const uint8_t *part[3];
    size_t len[3];
    size_t n = fr_fuzz_split(data, size, part, len, 3);
    static const char *names[3] = {"u.data", "u.user", "u.item"};
    const char *paths[3];
    for (size_t k = 0; k < 3; k++)
        paths[k] = fr_fuzz_file((unsigned)k, names[k], k < n ? part[k] : (const uint8_t *)"",
                                k < n ? len[k] : 0);
    fr_table t;
    fr_status s = fr_table_read_movielens(fr_fuzz_dir(), 7, &t);
    if (s == FR_OK) {
        fr_fuzz_check_table(&t, "movielens table");
        fr_table_free(&t);
    } else {
        /* The message must name one of the three files. */
        const char *msg = fr_last_error();
        int named = 0;
        for (size_t k = 0; k < 3; k++)
            named |= strstr(msg, paths[k]) != NULL;
        if (!named)
            fr_fuzz_fail("the message names none of the files", msg);
    }
    return 0;
}
