/* msmt_save.c — keeping a trained multi-scenario multi-task model (see
 * fedrec/msmt.h): its parameter sets as the parts of one model file, and
 * the phase an AutoIFS model must be in for them to mean what they meant
 * when it was saved. */
#include "core/error_internal.h"
#include "fedrec/msmt.h"

fr_status fr_msmt_model_save(fr_msmt_model *m, const char *path, const char *meta)
{
    fr_model_part parts[FR_MSMT_MAX_PARTS];
    size_t n = fr_msmt_model_parts(m, parts);
    if (n > 1 && !fr_msmt_model_retraining(m))
        return fr_fail(FR_ERR_INVALID, "%s: an AutoIFS model is saved after its search (in the retrain phase, with hard gates); this one is still searching",
                       path);
    return fr_model_save_parts(path, parts, n, meta);
}

fr_status fr_msmt_model_load(fr_msmt_model *m, const char *path)
{
    fr_model_part parts[FR_MSMT_MAX_PARTS];
    size_t n = fr_msmt_model_parts(m, parts);
    /* The switch copies the live embedding into the selector's input;
     * the load then overwrites that copy with the saved one. The
     * temperature does not matter to hard gates. */
    if (n > 1)
        FR_TRY(fr_msmt_autoifs_phase(m, 1, 1.0f));
    return fr_model_load_parts(path, parts, n);
}
