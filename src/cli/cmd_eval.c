/* cmd_eval.c — `fedrec eval MODEL`: evaluate a saved model on its
 * training data (rebuilt from the configuration stored in the file, or
 * kept in it) or on other data of the same schema (--set data.path=...),
 * printing the job's test figures; the job kind's row in saved_model.c
 * does the work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/saved_model.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec eval MODEL [--set section.key=value]... [--summary FILE]\n\n"
            "Evaluate a model saved by 'fedrec train --save' (output.model) and print the\n"
            "job's figures. On the training data they are the figures training printed\n"
            "for the round or epoch it saved (the best-validation one unless\n"
            "output.model_from = last):\n"
            "  pfedrec, fedmf, fedncf, central-mf: validation and test HR@K, NDCG@K of\n"
            "    every user's own model (the split is kept in the model file);\n"
            "  mtrec: full-ranking validation and test Recall@K, NDCG@K;\n"
            "  msmt, fedmsmt: AUC and log loss per scenario x task, validation and test\n"
            "    (fedmsmt: each scenario's rows through its client's model);\n"
            "  ctr: test log loss and AUC on the regenerated test rows.\n"
            "Other data of the same schema: --set data.path=FILE (and the other data.*\n"
            "keys); users and items the model does not know are left out and counted\n"
            "(msmt, fedmsmt: the same fields and vocabularies, numbers, tasks and\n"
            "scenarios, or refused; the synthetic generator's run.seed and msmt.* data\n"
            "keys draw other rows).\n"
            "--set may change only keys that do not define the model (backend.*, data.*,\n"
            "the evaluation's K, ...); the others are refused, naming the key.\n\n"
            "  --set K=V       override a stored key (repeatable)\n"
            "  --summary FILE  the figures as JSON, as 'fedrec train --summary' names them\n");
}

int fr_cli_eval(int argc, char **argv)
{
    const char *path = NULL, *summary = NULL;
    fr_cli_sets sets = {0};
    for (int i = 1; i < argc; i++) {
        int took = fr_cli_take_set("eval", argc, argv, &i, &sets);
        if (took < 0)
            return FR_EXIT_USAGE;
        if (took)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return FR_EXIT_OK;
        }
        if (!strcmp(argv[i], "--summary")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "fedrec eval: --summary needs a file name\n");
                return FR_EXIT_USAGE;
            }
            summary = argv[++i];
            continue;
        }
        if (argv[i][0] == '-' || path) {
            fprintf(stderr, "fedrec eval: unexpected argument '%s' (try --help)\n", argv[i]);
            return FR_EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        usage(stderr);
        return FR_EXIT_USAGE;
    }
    fr_saved_ctx ctx;
    const fr_saved_kind *row;
    int code = fr_saved_open("eval", path, &sets, &ctx, &row);
    if (code != FR_EXIT_OK)
        return code;
    code = row->eval(&ctx, summary);
    fr_saved_close(&ctx);
    return code;
}
