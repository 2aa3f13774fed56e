/* test_table_marks.c — converting text files whose rows are marked train /
 * validation / test (fedrec data convert): by a split column (every
 * spelling of the marks) or by one input file per part; the table keeps
 * each row's mark exactly (no share moved to validation), and bad marks,
 * a second split column, or a validation share beside a split column are
 * refused with the file, line and column named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/table.h"
#include "fedrec/table_read.h"
#include "testutil.h"

static char dir[] = "/tmp/fr_table_marks_XXXXXX";

static const char *put(const char *name, const char *text)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

static const char *out_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* The split tags of a table file, "" when it cannot be mapped. */
static void tags_of(const char *path, char *tags, size_t cap)
{
    fr_table t;
    tags[0] = '\0';
    if (fr_table_map(&t, path, 1) != FR_OK)
        return;
    size_t r = 0;
    for (; r < t.rows && r + 1 < cap; r++)
        tags[r] = (char)('0' + t.split[r]);
    tags[r] = '\0';
    fr_table_free(&t);
}

int main(void)
{
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary folder");
    fr_table_columns cols;
    char tags[64];
    size_t rows = 0;

    /* A split column, every mark: 0 train, 1 validation, 2 test. */
    memset(&cols, 0, sizeof cols);
    cols.delimiter = ',';
    cols.header = 1;
    CHECK_OK(fr_table_columns_parse("cat:user,label:click,split:part", &cols));
    fr_table_input in = {put("marked.csv", "user,click,part\n"
                                           "u1,1,train\nu2,0,test\nu3,1,val\nu4,0,valid\nu5,1,validation\n"
                                           "u6,0,0\nu7,1,1\nu8,0,2\nu9,1,train\nu10,0,train\n"),
                         FR_SPLIT_TRAIN, "s"};
    CHECK_OK(fr_table_convert_delimited(&in, 1, &cols, 0.0, 0, out_path("marked.tbl"), &rows));
    tags_of(out_path("marked.tbl"), tags, sizeof tags);
    CHECK(rows == 10 && !strcmp(tags, "0211101200"), "split column: %zu rows, tags '%s', expected '0211101200'",
          rows, tags);
    /* The file's own part is not used when a column marks the rows. */
    in.split = FR_SPLIT_TEST;
    CHECK_OK(fr_table_convert_delimited(&in, 1, &cols, 0.0, 0, out_path("marked2.tbl"), &rows));
    tags_of(out_path("marked2.tbl"), tags, sizeof tags);
    CHECK(!strcmp(tags, "0211101200"), "split column over a test file: tags '%s'", tags);
    /* A validation share beside a split column would move marked rows. */
    in.split = FR_SPLIT_TRAIN;
    CHECK(fr_table_convert_delimited(&in, 1, &cols, 0.1, 0, out_path("share.tbl"), &rows) == FR_ERR_INVALID,
          "a validation share with a split column is refused");
    CHECK(strstr(fr_last_error(), "split column") != NULL, "message: %s", fr_last_error());
    CHECK(access(out_path("share.tbl"), F_OK) != 0, "a refused conversion left its output");

    /* Bad marks: file, line, column (by its name, or "split"), the value. */
    fr_table_input bad = {put("bad.csv", "user,click,part\nu1,1,train\nu2,0,Test\n"), FR_SPLIT_TRAIN, "s"};
    CHECK(fr_table_convert_delimited(&bad, 1, &cols, 0.0, 0, out_path("bad.tbl"), &rows) == FR_ERR_FORMAT,
          "mark 'Test' is refused");
    CHECK(strstr(fr_last_error(), "bad.csv:3: column 3 (part): expected a split mark") &&
              strstr(fr_last_error(), "got 'Test'"),
          "message: %s", fr_last_error());
    CHECK_OK(fr_table_columns_parse("cat,label,split", &cols));
    fr_table_input bad3 = {put("bad3.csv", "user,click,part\nu1,1,3\n"), FR_SPLIT_TRAIN, "s"};
    CHECK(fr_table_convert_delimited(&bad3, 1, &cols, 0.0, 0, out_path("bad.tbl"), &rows) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "bad3.csv:2: column 3 (split): expected a split mark") &&
              strstr(fr_last_error(), "got '3'"),
          "mark '3': %s", fr_last_error());
    fr_table_input empty = {put("empty.csv", "user,click,part\nu1,1,\n"), FR_SPLIT_TRAIN, "s"};
    CHECK(fr_table_convert_delimited(&empty, 1, &cols, 0.0, 0, out_path("bad.tbl"), &rows) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "empty.csv:2: column 3 (split) is empty"),
          "empty mark: %s", fr_last_error());
    CHECK(fr_table_columns_parse("cat,label,split,split", &cols) == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "at most one split column"),
          "two split columns: %s", fr_last_error());
    CHECK(fr_table_columns_parse("cat,label,splits", &cols) == FR_ERR_CONFIG &&
              strstr(fr_last_error(), "expected cat, num, label, scenario, split or -"),
          "unknown kind: %s", fr_last_error());

    /* One file per part, validation included: kept exactly. */
    memset(&cols, 0, sizeof cols);
    cols.delimiter = ',';
    CHECK_OK(fr_table_columns_parse("cat,label", &cols));
    fr_table_input parts[3] = {{put("tr.csv", "a,1\nb,0\nc,1\nd,0\n"), FR_SPLIT_TRAIN, "s"},
                               {put("va.csv", "a,0\nb,1\n"), FR_SPLIT_VALID, "s"},
                               {put("te.csv", "c,0\nd,1\ne,1\n"), FR_SPLIT_TEST, "s"}};
    CHECK_OK(fr_table_convert_delimited(parts, 3, &cols, 0.0, 0, out_path("parts.tbl"), &rows));
    tags_of(out_path("parts.tbl"), tags, sizeof tags);
    CHECK(rows == 9 && !strcmp(tags, "000011222"), "one file per part: tags '%s', expected '000011222'", tags);
    parts[1].split = 7;
    CHECK(fr_table_convert_delimited(parts, 3, &cols, 0.0, 0, out_path("parts.tbl"), &rows) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "va.csv: split 7"),
          "an unknown part: %s", fr_last_error());

    const char *names[] = {"marked.csv", "marked.tbl", "marked2.tbl", "bad.csv",  "bad3.csv",
                           "empty.csv",  "tr.csv",     "va.csv",      "te.csv",   "parts.tbl"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        unlink(out_path(names[k]));
    rmdir(dir);
    return fr_test_finish("test_table_marks");
}
