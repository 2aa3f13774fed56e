/* cmd_export.c — `fedrec export MODEL --out DIR [--format npy|csv|both]`:
 * a saved model's embeddings and dense layers as plain files, ids in the
 * original id space, with manifest.json saying what each file holds; the
 * job kind's row in saved_model.c picks the arrays. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/export_files.h"
#include "cli/options.h"
#include "cli/saved_model.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec export MODEL --out DIR [--format npy|csv|both]\n\n"
            "Write a saved model's embeddings and dense layers into DIR (created if\n"
            "missing) as NumPy .npy files (numpy.load reads them) and/or CSV files\n"
            "(a row per line, the row's original user or item id first), the id\n"
            "lists (users.txt, items.txt: one original id per line, in row order) and\n"
            "manifest.json, which names every file, its shape, its rows' ids and what\n"
            "it holds. What is written, by job kind: see fedrec(1), EXPORT.\n\n"
            "  --out DIR       the folder\n"
            "  --format F      npy, csv or both (default)\n");
}

int fr_cli_export(int argc, char **argv)
{
    const char *path = NULL, *dir = NULL;
    int npy = 1, csv = 1;
    fr_cli_sets sets = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FR_EXIT_OK;
        }
        if ((!strcmp(a, "--out") || !strcmp(a, "--format")) && (i + 1 >= argc || !*argv[i + 1])) {
            fprintf(stderr, "fedrec export: %s needs a value (try --help)\n", a);
            return FR_EXIT_USAGE;
        }
        if (!strcmp(a, "--out")) {
            dir = argv[++i];
        } else if (!strcmp(a, "--format")) {
            const char *v = argv[++i];
            npy = !strcmp(v, "npy") || !strcmp(v, "both");
            csv = !strcmp(v, "csv") || !strcmp(v, "both");
            if (!npy && !csv) {
                fprintf(stderr, "fedrec export: --format '%s': expected npy, csv or both\n", v);
                return FR_EXIT_USAGE;
            }
        } else if (a[0] == '-' || path) {
            fprintf(stderr, "fedrec export: unexpected argument '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path || !dir) {
        if (path)
            fprintf(stderr, "fedrec export: --out DIR is needed\n");
        else
            usage(stderr);
        return FR_EXIT_USAGE;
    }
    fr_saved_ctx ctx;
    const fr_saved_kind *row;
    int code = fr_saved_open("export", path, &sets, &ctx, &row);
    if (code != FR_EXIT_OK)
        return code;
    if (!row->export_files) {
        fprintf(stderr, "fedrec export: %s: a model of job.kind = %s, which 'fedrec export' does not read\n", path,
                ctx.kind);
        fr_saved_close(&ctx);
        return FR_EXIT_INPUT;
    }
    fr_export e;
    fr_status s = fr_export_begin(&e, dir, npy, csv);
    if (s != FR_OK) {
        code = fr_cli_report(s, NULL);
    } else {
        code = row->export_files(&ctx, &e);
        fr_export_abort(&e);
        if (code == FR_EXIT_OK)
            printf("exported %s (job.kind = %s) to %s: %zu file(s) and manifest.json\n", path, ctx.kind, dir,
                   e.n_files);
    }
    fr_saved_close(&ctx);
    return code;
}
