/* cmd_data.c — `fedrec data`: making and inspecting binary table files.
 *   fedrec data convert --out FILE [--format aliexpress | --columns MAP]
 *                       [--delimiter C] [--header] [--valid-fraction F]
 *                       [--seed N] [--user-field NAME --item-field NAME]
 *                       INPUT...
 *     INPUT is PATH[:SCENARIO[:SPLIT]] (SPLIT train, valid or test; a file
 *     named test.csv defaults to test, valid.csv, val.csv or validation.csv
 *     to validation, any other to train; SCENARIO defaults to the name of
 *     the folder holding the file). A split column in the column map marks
 *     each row instead.
 *   fedrec data synth --out FILE [--rows N] [--scenarios S] [--vocab V]
 *                     [--task-correlation R] [--scenario-strength W]
 *                     [--conflict-scenarios K] [--seed N]
 *   fedrec data info FILE [--check] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "fedrec/table_read.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec data convert --out FILE [--format aliexpress | --columns MAP]\n"
            "                           [--delimiter C] [--header] [--valid-fraction F]\n"
            "                           [--seed N] [--user-field NAME --item-field NAME]\n"
            "                           INPUT...\n"
            "       fedrec data synth --out FILE [--rows N] [--scenarios S] [--vocab V]\n"
            "                         [--task-correlation R] [--scenario-strength W]\n"
            "                         [--conflict-scenarios K] [--seed N]\n"
            "       fedrec data info FILE [--check]\n\n"
            "convert: text files to one binary table file for job.kind = msmt\n"
            "(data.source = table). INPUT is PATH[:SCENARIO[:SPLIT]]; SPLIT is train,\n"
            "valid (or val, validation) or test (default: test for a file named\n"
            "test.csv, valid for valid.csv, val.csv or validation.csv, else train);\n"
            "SCENARIO defaults to the name of the file's folder (AliExpress: the\n"
            "country). --format aliexpress expects the processed AliExpress header;\n"
            "--columns maps the columns of other files: cat[:name], num[:name],\n"
            "label[:name], scenario, split, - (skip), comma-separated. A split column\n"
            "marks each row: train, val, valid, validation, test, or 0, 1, 2.\n"
            "Without validation rows marked (no split column, no valid file),\n"
            "--valid-fraction (0.1) of each training file goes to validation, drawn\n"
            "from --seed (0); with them the marks are kept exactly. The table keeps\n"
            "every categorical value's text and the columns' names; --user-field and\n"
            "--item-field name the categorical columns (cat:NAME) holding the user\n"
            "and the item, which 'fedrec recommend' of a model trained on the table\n"
            "needs.\n"
            "synth: AliExpress-shaped rows with planted structure, streamed to FILE\n"
            "(--vocab values in fields 1-12, min(V, 8) in the context fields 13-16;\n"
            "defaults: 100000 rows, 4 scenarios, vocab 1000, task correlation 0.5,\n"
            "scenario strength 0.5, no conflicting scenarios, seed 0). In the last K\n"
            "scenarios the conversion's shared signal is negated: tasks conflict.\n"
            "info: the shape, names, fields and split sizes of FILE; --check also verifies\n"
            "every section's checksum and every value's range.\n");
}

static int parse_number(const char *flag, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "fedrec data: %s '%s': expected a number in [%g, %g]\n", flag, text, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

/* A part named on the command line or by a file's name: FR_SPLIT_*, or
 * -1. */
static int part_of(const char *name)
{
    if (!strcmp(name, "train"))
        return FR_SPLIT_TRAIN;
    if (!strcmp(name, "valid") || !strcmp(name, "val") || !strcmp(name, "validation"))
        return FR_SPLIT_VALID;
    if (!strcmp(name, "test"))
        return FR_SPLIT_TEST;
    return -1;
}

/* PATH[:SCENARIO[:SPLIT]] into in; scenario and split defaults from PATH;
 * *explicit_split tells whether SPLIT was given. */
static int parse_input(char *arg, fr_table_input *in, char *scenario_buf, size_t cap, int *explicit_split)
{
    char *first = strchr(arg, ':'), *second = first ? strchr(first + 1, ':') : NULL;
    if (first)
        *first = '\0';
    if (second)
        *second = '\0';
    in->path = arg;
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    in->split = !strcmp(base, "test.csv") ? FR_SPLIT_TEST
                : !strcmp(base, "valid.csv") || !strcmp(base, "val.csv") || !strcmp(base, "validation.csv")
                    ? FR_SPLIT_VALID
                    : FR_SPLIT_TRAIN;
    *explicit_split = second != NULL;
    if (second) {
        in->split = part_of(second + 1);
        if (in->split < 0) {
            fprintf(stderr, "fedrec data: input '%s': split '%s' is not train, valid (val, validation) or test\n",
                    arg, second + 1);
            return 0;
        }
    }
    if (first && first[1]) {
        snprintf(scenario_buf, cap, "%s", first + 1);
    } else {
        /* The folder's name. */
        const char *slash = strrchr(arg, '/');
        if (!slash) {
            snprintf(scenario_buf, cap, "default");
        } else {
            const char *p = slash;
            while (p > arg && p[-1] != '/')
                p--;
            snprintf(scenario_buf, cap, "%.*s", (int)(slash - p), p);
            if (!scenario_buf[0])
                snprintf(scenario_buf, cap, "default");
        }
    }
    in->scenario = scenario_buf;
    return 1;
}

static int convert(int argc, char **argv)
{
    const char *out = NULL, *format = NULL, *columns = NULL, *user_field = NULL, *item_field = NULL;
    char delimiter = ',';
    int header = 0;
    double valid = 0.1, seed = 0;
    int n_inputs = 0, valid_given = 0, explicit_split = -1;
    const char *explicit_input = NULL;
    fr_table_input *inputs = calloc((size_t)argc, sizeof *inputs);
    char(*names)[FR_TABLE_NAME_MAX] = calloc((size_t)argc, sizeof *names);
    if (!inputs || !names) {
        free(inputs);
        free(names);
        fprintf(stderr, "fedrec data: out of memory\n");
        return FR_EXIT_FAILURE;
    }
    int rc = FR_EXIT_OK;
    for (int i = 1; i < argc && rc == FR_EXIT_OK; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--out") && has_value)
            out = argv[++i];
        else if (!strcmp(a, "--format") && has_value)
            format = argv[++i];
        else if (!strcmp(a, "--columns") && has_value)
            columns = argv[++i];
        else if ((!strcmp(a, "--user-field") || !strcmp(a, "--item-field")) && has_value) {
            const char *v = argv[++i];
            if (!*v || strlen(v) >= FR_TABLE_NAME_MAX) {
                fprintf(stderr, "fedrec data convert: %s '%s': expected a column name of 1 to %d characters\n", a, v,
                        FR_TABLE_NAME_MAX - 1);
                rc = FR_EXIT_USAGE;
            }
            *(a[2] == 'u' ? &user_field : &item_field) = v;
        }
        else if (!strcmp(a, "--delimiter") && has_value) {
            const char *d = argv[++i];
            if (!strcmp(d, "tab"))
                delimiter = '\t';
            else if (strlen(d) == 1)
                delimiter = d[0];
            else {
                fprintf(stderr, "fedrec data: --delimiter '%s': one character or tab expected\n", d);
                rc = FR_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--header"))
            header = 1;
        else if (!strcmp(a, "--valid-fraction") && has_value) {
            valid_given = 1;
            if (!parse_number(a, argv[++i], 0, 1, &valid))
                rc = FR_EXIT_USAGE;
        } else if (!strcmp(a, "--seed") && has_value) {
            if (!parse_number(a, argv[++i], 0, 1e18, &seed))
                rc = FR_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec data convert: unknown option or missing value: %s\n", a);
            rc = FR_EXIT_USAGE;
        } else {
            int marked = 0;
            if (!parse_input(argv[i], &inputs[n_inputs], names[n_inputs], FR_TABLE_NAME_MAX, &marked)) {
                rc = FR_EXIT_USAGE;
            } else {
                if (marked && !explicit_input)
                    explicit_input = inputs[n_inputs].path, explicit_split = inputs[n_inputs].split;
                n_inputs++;
            }
        }
    }
    if (rc == FR_EXIT_OK && (!out || n_inputs == 0 || (!format == !columns))) {
        fprintf(stderr, "fedrec data convert: needs --out, one of --format aliexpress or --columns, and input files\n");
        rc = FR_EXIT_USAGE;
    }
    if (rc == FR_EXIT_OK && format && strcmp(format, "aliexpress") != 0) {
        fprintf(stderr, "fedrec data convert: --format '%s': only aliexpress is known\n", format);
        rc = FR_EXIT_USAGE;
    }
    fr_table_columns *cols = calloc(1, sizeof *cols);
    if (rc == FR_EXIT_OK && !cols)
        rc = FR_EXIT_FAILURE;
    if (rc == FR_EXIT_OK) {
        fr_status s = FR_OK;
        if (format) {
            fr_table_columns_aliexpress(cols);
        } else {
            cols->delimiter = delimiter;
            cols->header = header;
            s = fr_table_columns_parse(columns, cols);
        }
        if (user_field)
            snprintf(cols->user_field, sizeof cols->user_field, "%s", user_field);
        if (item_field)
            snprintf(cols->item_field, sizeof cols->item_field, "%s", item_field);
        /* Marked validation rows (a split column, a validation file) are
         * kept as marked: no share of the training rows moves to validation. */
        int split_column = 0, valid_file = 0;
        for (size_t k = 0; s == FR_OK && k < cols->n_cols; k++)
            split_column |= cols->kind[k] == FR_COL_SPLIT;
        for (int k = 0; k < n_inputs; k++)
            valid_file |= inputs[k].split == FR_SPLIT_VALID;
        if (s == FR_OK && split_column && explicit_input) {
            fprintf(stderr, "fedrec data convert: input '%s' is marked %s, but the column map's split column marks every row: drop the mark or the column\n",
                    explicit_input, explicit_split == FR_SPLIT_TEST ? "test"
                                    : explicit_split == FR_SPLIT_VALID ? "valid" : "train");
            rc = FR_EXIT_USAGE;
        } else if (s == FR_OK && (split_column || valid_file) && valid_given && valid > 0) {
            fprintf(stderr, "fedrec data convert: --valid-fraction %g: the validation rows are marked (%s), so no share of the training rows moves to validation; drop --valid-fraction\n",
                    valid, split_column ? "a split column" : "an input marked valid");
            rc = FR_EXIT_USAGE;
        }
        if (split_column || valid_file)
            valid = 0;
        size_t rows = 0;
        if (s == FR_OK && rc == FR_EXIT_OK)
            s = fr_table_convert_delimited(inputs, (size_t)n_inputs, cols, valid, (uint64_t)seed, out, &rows);
        if (s != FR_OK)
            rc = fr_cli_report(s, NULL);
        else if (rc == FR_EXIT_OK)
            printf("%s: %zu rows from %d file(s)\n", out, rows, n_inputs);
    }
    free(cols);
    free(inputs);
    free(names);
    return rc;
}

static int synth(int argc, char **argv)
{
    fr_msmt_synth o;
    fr_msmt_synth_default(&o);
    const char *out = NULL;
    double v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "fedrec data synth: unknown option or missing value: %s\n", a);
            return FR_EXIT_USAGE;
        }
        const char *val = argv[++i];
        if (!strcmp(a, "--out"))
            out = val;
        else if (!strcmp(a, "--rows") && parse_number(a, val, 1, 4294967295.0, &v))
            o.rows = (size_t)v;
        else if (!strcmp(a, "--scenarios") && parse_number(a, val, 1, FR_TABLE_MAX_SCENARIOS, &v))
            o.scenarios = (size_t)v;
        else if (!strcmp(a, "--vocab") && parse_number(a, val, 2, 1e7, &v))
            o.vocab = (size_t)v;
        else if (!strcmp(a, "--task-correlation") && parse_number(a, val, -1, 1, &v))
            o.task_correlation = v;
        else if (!strcmp(a, "--conflict-scenarios") && parse_number(a, val, 0, FR_TABLE_MAX_SCENARIOS, &v))
            o.conflict_scenarios = (size_t)v;
        else if (!strcmp(a, "--scenario-strength") && parse_number(a, val, 0, 100, &v))
            o.scenario_strength = v;
        else if (!strcmp(a, "--seed") && parse_number(a, val, 0, 1e18, &v))
            o.seed = (uint64_t)v;
        else {
            if (strcmp(a, "--rows") && strcmp(a, "--scenarios") && strcmp(a, "--vocab") &&
                strcmp(a, "--task-correlation") && strcmp(a, "--conflict-scenarios") &&
                strcmp(a, "--scenario-strength") && strcmp(a, "--seed"))
                fprintf(stderr, "fedrec data synth: unknown option: %s\n", a);
            return FR_EXIT_USAGE;
        }
    }
    if (!out) {
        fprintf(stderr, "fedrec data synth: --out FILE is required\n");
        return FR_EXIT_USAGE;
    }
    fr_status s = fr_msmt_synth_write(&o, out);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    printf("%s: %zu rows, %zu scenarios\n", out, o.rows, o.scenarios);
    return FR_EXIT_OK;
}

static int info(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "fedrec data info: unexpected argument: %s\n", argv[i]);
            return FR_EXIT_USAGE;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "fedrec data info: FILE is required\n");
        return FR_EXIT_USAGE;
    }
    fr_table t;
    fr_status s = fr_table_map(&t, path, check);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    size_t split[3] = {0, 0, 0};
    for (size_t r = 0; r < t.rows; r++)
        if (t.split[r] <= FR_SPLIT_TEST)
            split[t.split[r]]++;
    printf("%s: %zu rows (train %zu, validation %zu, test %zu)\n", path, t.rows, split[0], split[1], split[2]);
    printf("%zu categorical fields (%zu values in all), %zu numerical fields\n", t.n_cat, t.vocab_total, t.n_num);
    printf("tasks:");
    for (size_t k = 0; k < t.n_tasks; k++)
        printf(" %s", t.task_names[k]);
    printf("\nscenarios:");
    for (size_t k = 0; k < t.n_scenarios; k++)
        printf(" %s", t.scenario_names[k]);
    printf("\nfields:");
    for (size_t f = 0; f < t.n_cat + t.n_num; f++) {
        const char *name = fr_table_field_name(&t, f);
        printf(" %s%s%s", *name ? name : f < t.n_cat ? "(categorical)" : "(numerical)",
               t.has_roles && f == t.user_field ? " (user)" : "", t.has_roles && f == t.item_field ? " (item)" : "");
    }
    printf("\n%s; %s\n", t.values ? "categorical values: their original text is kept"
                                   : "categorical values: ids only (no original text)",
           t.has_roles ? "user and item fields: named" : "user and item fields: not named (no 'fedrec recommend')");
    printf("%s\n", check ? "checksums and value ranges: ok" : "(--check verifies every value)");
    fr_table_free(&t);
    return FR_EXIT_OK;
}

int fr_cli_data(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FR_EXIT_USAGE : FR_EXIT_OK;
    }
    if (!strcmp(argv[1], "convert"))
        return convert(argc - 1, argv + 1);
    if (!strcmp(argv[1], "synth"))
        return synth(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return info(argc - 1, argv + 1);
    fprintf(stderr, "fedrec data: unknown action '%s' (convert, synth, info)\n", argv[1]);
    return FR_EXIT_USAGE;
}
