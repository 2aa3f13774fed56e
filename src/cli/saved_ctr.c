/* saved_ctr.c — eval and export of a saved click-through demo model
 * (job.kind = ctr; saved_model.h): the model is rebuilt from the stored
 * configuration, its parameters loaded, and the test figures printed on
 * its regenerated test data; export writes every parameter as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/job_setup.h"
#include "cli/saved_model.h"
#include "cli/summary.h"
#include "fedrec/ctr_job.h"

int fr_saved_ctr_eval(const fr_saved_ctx *ctx, const char *summary)
{
    fr_backend *be = NULL;
    fr_ctr_job *job = NULL;
    double logloss = 0, auc = 0;
    fr_status s = fr_cli_open_backend(ctx->cfg, &be);
    if (s == FR_OK)
        s = fr_ctr_job_open(ctx->cfg, be, &job);
    if (s == FR_OK)
        s = fr_model_load(ctx->path, fr_ctr_job_params(job));
    if (s == FR_OK)
        s = fr_ctr_job_evaluate(job, &logloss, &auc);
    int code = FR_EXIT_OK;
    if (s == FR_OK) {
        fr_ctr_job_info info;
        fr_ctr_job_describe(job, &info);
        printf("model         %s\n", ctx->path);
        printf("test_rows     %zu\n", info.test_rows);
        printf("test_logloss  %.6f\n", logloss);
        printf("test_auc      %.6f\n", auc);
        if (summary) {
            fr_cli_metric m[] = {{"test_auc", auc}, {"test_logloss", logloss}};
            fr_cli_summary sm = {NULL, NULL, fr_backend_name(be), fr_backend_describe(be), NULL, 0, 0, m,
                                 sizeof m / sizeof m[0], 0.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
            code = fr_cli_write_summary(summary, ctx->cfg, &sm);
        }
    } else {
        code = fr_cli_report(s, NULL);
    }
    fr_ctr_job_close(job);
    if (be)
        fr_backend_close(be);
    return code;
}

int fr_saved_ctr_export(const fr_saved_ctx *ctx, fr_export *e)
{
    fr_model_contents mc;
    fr_status s = fr_model_read_all(ctx->path, &mc);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    for (size_t i = 0; s == FR_OK && i < mc.n_entries; i++) {
        const fr_model_entry *p = &mc.entries[i];
        char what[600];
        snprintf(what, sizeof what, "parameter '%s' (%zu x %zu, role %s)", p->name, p->rows, p->cols,
                 p->role < FR_ROLE_COUNT ? fr_role_name((fr_role)p->role) : "?");
        s = fr_export_array(e, p->name, what, FR_MODEL_F32, p->rows, p->cols, p->values, NULL, NULL, NULL,
                            "c");
    }
    fr_model_contents_free(&mc);
    if (s == FR_OK)
        s = fr_export_finish(e, ctx->path, ctx->kind, "\"about\": \"the click-through demo's parameters, one file each, named after the parameter (weights out x in as the layers use them)\"");
    return s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, NULL);
}
