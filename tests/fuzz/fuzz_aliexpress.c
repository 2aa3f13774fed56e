/* fuzz_aliexpress.c — libFuzzer target for the delimited feature-table
 * converter (fedrec data convert). The first byte picks the column map:
 * the processed AliExpress layout, or a map given on the input's first
 * line (so fr_table_columns_parse is fuzzed too, a split column
 * included); the rest is a training
 * file and, after FR_FUZZ_SEPARATOR, a test file. An accepted input must
 * convert to a table file that maps back, values checked, consistent; a
 * refused one must name its file; a failed conversion must leave no
 * output file behind. */
#include "config.h"
#include "fuzz_util.h"
#include "table_check.h"
#include "fedrec/table.h"
#include "fedrec/table_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

FR_FUZZ_NO_INIT
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static fr_table_columns columns; /* large: not on the stack */
    int own_map = data[0] & 1;
    int with_header = (data[0] >> 1) & 1;
    data++;
    size--;
    if (own_map) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        char *text = malloc(len + 1);
        if (!text)
            return 0;
        memcpy(text, data, len);
        text[len] = 0;
        fr_status s = fr_table_columns_parse(text, &columns);
        free(text);
        if (s != FR_OK) {
            if (!*fr_last_error())
                fr_fuzz_fail("a refused column map without a message", "");
            return 0;
        }
        columns.delimiter = ',';
        columns.header = with_header;
        data += nl ? len + 1 : len;
        size -= nl ? len + 1 : len;
    } else {
        fr_table_columns_aliexpress(&columns);
    }
    const uint8_t *part[2];
    size_t len[2];
    size_t n = fr_fuzz_split(data, size, part, len, 2);
    fr_table_input inputs[2];
    inputs[0] = (fr_table_input){fr_fuzz_file(0, "train.csv", part[0], len[0]), FR_SPLIT_TRAIN, "s1"};
    if (n > 1)
        inputs[1] = (fr_table_input){fr_fuzz_file(1, "test.csv", part[1], len[1]), FR_SPLIT_TEST, "s2"};
    char out[600];
    snprintf(out, sizeof out, "%s/table.frt", fr_fuzz_dir());
    unlink(out);
    size_t rows = 0;
    /* As the CLI: marked rows (a split column) are kept, no share moves. */
    double valid_fraction = 0.25;
    for (size_t k = 0; k < columns.n_cols; k++)
        if (columns.kind[k] == FR_COL_SPLIT)
            valid_fraction = 0.0;
    fr_status s = fr_table_convert_delimited(inputs, n, &columns, valid_fraction, 3, out, &rows);
    if (s != FR_OK) {
        const char *msg = fr_last_error();
        int named = strstr(msg, inputs[0].path) || (n > 1 && strstr(msg, inputs[1].path));
        if (!named)
            fr_fuzz_fail("the message names none of the files", msg);
        if (access(out, F_OK) == 0)
            fr_fuzz_fail("a failed conversion left its output file", out);
        return 0;
    }
    fr_table t;
    s = fr_table_map(&t, out, 1);
    if (s != FR_OK)
        fr_fuzz_fail("a converted table does not map back", fr_last_error());
    if (t.rows != rows)
        fr_fuzz_fail("the table's row count differs from the converter's", out);
    fr_fuzz_check_table(&t, out);
    fr_table_free(&t);
    return 0;
}
