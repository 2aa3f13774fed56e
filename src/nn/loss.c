/* loss.c — BCE, BPR and MSE built from backend ops; the per-example
 * losses are summed on the host in double. */
#include <math.h>
#include <stdlib.h>

#include "core/error_internal.h"
#include "fedrec/loss.h"

/* Sum of n floats of view v, in double on the host. */
static fr_status host_sum(fr_view v, size_t n, double *sum)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h)
        return fr_fail_nomem("loss sum", n * sizeof *h);
    fr_status s = fr_buffer_download(v.buf, v.off * sizeof *h, h, n * sizeof *h);
    double acc = 0;
    for (size_t i = 0; s == FR_OK && i < n; i++)
        acc += h[i];
    free(h);
    *sum = acc;
    if (s == FR_OK && !isfinite(acc))
        return fr_fail(FR_ERR_NUMERIC, "loss is %g: a prediction or label is NaN or infinite", acc);
    return s;
}

fr_status fr_loss_bce(fr_backend *be, size_t n, fr_view logits, fr_view labels,
                      fr_view weights, fr_view scratch, fr_view dlogits,
                      float *loss)
{
    if (n == 0)
        return fr_fail(FR_ERR_INVALID, "BCE loss of an empty batch");
    FR_TRY(fr_bce_with_logits(be, n, logits, labels, scratch, dlogits));
    if (weights.buf) {
        FR_TRY(fr_mul(be, n, scratch, weights, scratch));
        FR_TRY(fr_mul(be, n, dlogits, weights, dlogits));
    }
    FR_TRY(fr_scal(be, n, 1.0f / (float)n, dlogits));
    double sum;
    FR_TRY(host_sum(scratch, n, &sum));
    *loss = (float)(sum / (double)n);
    return FR_OK;
}

fr_status fr_loss_bpr(fr_backend *be, size_t n, fr_view pos, fr_view neg,
                      fr_view scratch, fr_view dpos, fr_view dneg, float *loss)
{
    if (n == 0)
        return fr_fail(FR_ERR_INVALID, "BPR loss of an empty batch");
    /* -log sigmoid(d) is BCE on logit d with label 1. */
    fr_view diff = scratch, ones = fr_view_of(scratch.buf, scratch.off + n),
            elem = fr_view_of(scratch.buf, scratch.off + 2 * n);
    FR_TRY(fr_copy(be, n, pos, diff));
    FR_TRY(fr_axpy(be, n, -1.0f, neg, diff));
    FR_TRY(fr_fill(be, n, 1.0f, ones));
    FR_TRY(fr_bce_with_logits(be, n, diff, ones, elem, dpos));
    FR_TRY(fr_scal(be, n, 1.0f / (float)n, dpos));
    FR_TRY(fr_copy(be, n, dpos, dneg));
    FR_TRY(fr_scal(be, n, -1.0f, dneg));
    double sum;
    FR_TRY(host_sum(elem, n, &sum));
    *loss = (float)(sum / (double)n);
    return FR_OK;
}

fr_status fr_loss_mse(fr_backend *be, size_t n, fr_view pred, fr_view target,
                      fr_view dpred, float *loss)
{
    if (n == 0)
        return fr_fail(FR_ERR_INVALID, "MSE loss of an empty batch");
    FR_TRY(fr_copy(be, n, pred, dpred));
    FR_TRY(fr_axpy(be, n, -1.0f, target, dpred));
    float sq;
    FR_TRY(fr_dot(be, n, dpred, dpred, &sq));
    FR_TRY(fr_scal(be, n, 2.0f / (float)n, dpred));
    *loss = sq / (float)n;
    if (!isfinite(*loss))
        return fr_fail(FR_ERR_NUMERIC, "MSE loss is %g: a prediction or target is NaN or infinite", *loss);
    return FR_OK;
}
