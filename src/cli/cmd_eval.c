/* cmd_eval.c — `fedrec eval MODEL`: rebuild the model from the
 * configuration stored in the file, load its parameters, and print the
 * test figures on its (regenerated) test data; the multi-scenario jobs'
 * models (msmt, fedmsmt) go to saved_msmt.c, which also takes new data of
 * the same schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/job_setup.h"
#include "cli/options.h"
#include "cli/saved_msmt.h"
#include "fedrec/ctr_job.h"
#include "fedrec/model_file.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec eval MODEL [--set section.key=value]...\n\n"
            "Evaluate a model saved by 'fedrec train --save': the file carries the\n"
            "configuration it was trained with; --set changes keys that do not alter\n"
            "the model (backend.*, for instance). Prints test log loss and AUC.\n\n"
            "Multi-scenario models (job.kind = msmt, fedmsmt) print the training run's\n"
            "table of AUC and log loss per scenario x task on the validation and test\n"
            "rows, on the training data or, with --set data.path=... (data.*, and the\n"
            "synthetic generator's run.seed and msmt.* data keys), on new data of the\n"
            "same schema: the same categorical fields and vocabularies, numerical\n"
            "fields, tasks and scenarios. Other keys are refused.\n");
}

int fr_cli_eval(int argc, char **argv)
{
    const char *path = NULL;
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
    char *meta = NULL;
    fr_status s = fr_model_read_meta(path, &meta);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    char origin[600];
    snprintf(origin, sizeof origin, "%s (stored configuration)", path);
    fr_config *cfg = NULL;
    s = fr_config_create(&cfg);
    if (s == FR_OK)
        s = fr_config_load_string(cfg, meta, origin);
    const char *kind = "";
    if (s == FR_OK)
        fr_config_get_string(cfg, "job.kind", &kind);
    if (s == FR_OK && (!strcmp(kind, "msmt") || !strcmp(kind, "fedmsmt"))) {
        int code = fr_cli_msmt_eval(path, meta, cfg, &sets);
        free(meta);
        fr_config_free(cfg);
        return code;
    }
    free(meta);
    for (size_t i = 0; s == FR_OK && i < sets.count; i++)
        s = fr_config_set_arg(cfg, sets.items[i], "--set");
    if (s != FR_OK) {
        fr_config_free(cfg);
        return fr_cli_report(s, NULL);
    }
    fr_backend *be = NULL;
    fr_ctr_job *job = NULL;
    double logloss = 0, auc = 0;
    s = fr_cli_open_backend(cfg, &be);
    if (s == FR_OK)
        s = fr_ctr_job_open(cfg, be, &job);
    if (s == FR_OK)
        s = fr_model_load(path, fr_ctr_job_params(job));
    if (s == FR_OK)
        s = fr_ctr_job_evaluate(job, &logloss, &auc);
    int code = FR_EXIT_OK;
    if (s == FR_OK) {
        fr_ctr_job_info info;
        fr_ctr_job_describe(job, &info);
        printf("model         %s\n", path);
        printf("test_rows     %zu\n", info.test_rows);
        printf("test_logloss  %.6f\n", logloss);
        printf("test_auc      %.6f\n", auc);
    } else {
        code = fr_cli_report(s, NULL);
    }
    fr_ctr_job_close(job);
    if (be)
        fr_backend_close(be);
    fr_config_free(cfg);
    return code;
}
