/* batchnorm.c — batch-norm layer, optionally with the ReLU after it fused
 * in: gamma/beta trainable with the given role, running statistics as
 * bn-local, non-trainable parameters (so FedBN-style strategies can keep
 * them per client). Backward follows the mode of the last forward: batch
 * statistics after training, running statistics after evaluation
 * (fine-tuning through a frozen-statistics layer). */
#include <string.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

/* Layout of bn->save, in blocks of `features` floats. */
enum {
    SAVE_MEAN = 0, /* batch mean of the last training forward */
    SAVE_INVSTD,   /* its 1/sqrt(var + eps) */
    SAVE_DGAMMA,   /* sinks that absorb dgamma/dbeta when gamma and beta */
    SAVE_DBETA,    /* are frozen (backward must still produce dx) */
    SAVE_ONES,     /* constants for the eval-mode backward */
    SAVE_ZEROS,
    SAVE_BLOCKS
};

static fr_view save_at(const fr_batchnorm *bn, unsigned block)
{
    return fr_view_of(bn->save, block * bn->features);
}

fr_status fr_bn_init(fr_batchnorm *bn, fr_param_set *ps, const char *name,
                     size_t features, fr_role role, fr_bn_activation act)
{
    char buf[256];
    memset(bn, 0, sizeof *bn);
    if (features == 0)
        return fr_fail(FR_ERR_INVALID, "batch-norm '%s': no features", name);
    if (act != FR_BN_IDENTITY && act != FR_BN_RELU)
        return fr_fail(FR_ERR_INVALID, "batch-norm '%s': unknown activation %d", name, (int)act);
    bn->features = features;
    bn->act = act;
    bn->eps = 1e-5f;
    bn->momentum = 0.1f;
    fr_backend *be = fr_param_set_backend(ps);
    FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "gamma"), role, 1, features, 0, 1, &bn->gamma));
    FR_TRY(fr_param_fill(bn->gamma, 1.0f));
    FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "beta"), role, 1, features, 0, 1, &bn->beta));
    FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "running_mean"), FR_ROLE_BN_LOCAL, 1,
                        features, 0, 0, &bn->running_mean));
    FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "running_var"), FR_ROLE_BN_LOCAL, 1,
                        features, 0, 0, &bn->running_var));
    FR_TRY(fr_param_fill(bn->running_var, 1.0f));
    FR_TRY(fr_buffer_alloc_zero(be, SAVE_BLOCKS * features * sizeof(float), &bn->save));
    return fr_fill(be, features, 1.0f, save_at(bn, SAVE_ONES));
}

void fr_bn_release(fr_batchnorm *bn)
{
    fr_buffer_free(bn->save);
    fr_buffer_free(bn->scratch);
    bn->save = bn->scratch = NULL;
    bn->scratch_cap = 0;
}

fr_status fr_bn_forward(fr_batchnorm *bn, fr_backend *be, size_t batch,
                        fr_view x, fr_view y, int training)
{
    size_t f = bn->features;
    bn->last_training = training != 0;
    if (!training)
        return fr_batchnorm_forward_eval(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                         fr_nn_whole(bn->beta->value),
                                         fr_nn_whole(bn->running_mean->value),
                                         fr_nn_whole(bn->running_var->value), bn->eps, bn->act, y);
    /* One example has no spread: x-hat would be 0 and dx 0, silently. */
    if (batch < 2)
        return fr_fail(FR_ERR_INVALID, "batch-norm '%s': training needs a batch of at least 2, got %zu",
                       bn->gamma->name, batch);
    return fr_batchnorm_forward_train(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                      fr_nn_whole(bn->beta->value), bn->eps, bn->momentum, bn->act, y,
                                      save_at(bn, SAVE_MEAN), save_at(bn, SAVE_INVSTD),
                                      fr_nn_whole(bn->running_mean->value),
                                      fr_nn_whole(bn->running_var->value));
}

/* y = gamma (x - mu) / sqrt(var + eps) + beta with fixed mu, var is affine
 * per feature, so each gradient is an eval-mode batch-norm of something:
 * x-hat = BN(x; gamma 1, beta 0), dgamma += colsum(dy .* x-hat),
 * dbeta += colsum(dy), dx = BN(dy; gamma, beta 0, mean 0, var). A fused
 * ReLU first masks dy by the forward's pre-ReLU output, recomputed. This
 * path (fine-tuning through frozen statistics) is rare: clarity over
 * passes. */
static fr_status backward_eval(fr_batchnorm *bn, fr_backend *be, size_t batch,
                               fr_view x, fr_view dy, fr_view dx)
{
    size_t f = bn->features, n = batch * f;
    fr_view var = fr_nn_whole(bn->running_var->value);
    FR_TRY(fr_nn_reserve(be, &bn->scratch, &bn->scratch_cap, 2 * n));
    if (bn->act == FR_BN_RELU) {
        fr_view pre_relu = fr_view_of(bn->scratch, 0), masked = fr_view_of(bn->scratch, n);
        FR_TRY(fr_batchnorm_forward_eval(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                         fr_nn_whole(bn->beta->value),
                                         fr_nn_whole(bn->running_mean->value), var, bn->eps,
                                         FR_BN_IDENTITY, pre_relu));
        FR_TRY(fr_relu_backward(be, n, pre_relu, dy, masked));
        dy = masked;
    }
    if (bn->gamma->grad) {
        fr_view xhat = fr_view_of(bn->scratch, 0);
        FR_TRY(fr_batchnorm_forward_eval(be, batch, f, x, save_at(bn, SAVE_ONES),
                                         save_at(bn, SAVE_ZEROS),
                                         fr_nn_whole(bn->running_mean->value), var, bn->eps,
                                         FR_BN_IDENTITY, xhat));
        FR_TRY(fr_mul(be, n, xhat, dy, xhat));
        FR_TRY(fr_col_sum(be, batch, f, xhat, 1.0f, fr_nn_whole(bn->gamma->grad)));
    }
    if (bn->beta->grad)
        FR_TRY(fr_col_sum(be, batch, f, dy, 1.0f, fr_nn_whole(bn->beta->grad)));
    if (!dx.buf)
        return FR_OK;
    return fr_batchnorm_forward_eval(be, batch, f, dy, fr_nn_whole(bn->gamma->value),
                                     save_at(bn, SAVE_ZEROS), save_at(bn, SAVE_ZEROS), var,
                                     bn->eps, FR_BN_IDENTITY, dx);
}

fr_status fr_bn_backward(fr_batchnorm *bn, fr_backend *be, size_t batch,
                         fr_view x, fr_view dy, fr_view dx)
{
    size_t f = bn->features;
    if (!bn->last_training)
        return backward_eval(bn, be, batch, x, dy, dx);
    fr_view dgamma = bn->gamma->grad ? fr_nn_whole(bn->gamma->grad) : save_at(bn, SAVE_DGAMMA);
    fr_view dbeta = bn->beta->grad ? fr_nn_whole(bn->beta->grad) : save_at(bn, SAVE_DBETA);
    if (!dx.buf) {
        /* The backend op always writes dx: give it the scratch. */
        FR_TRY(fr_nn_reserve(be, &bn->scratch, &bn->scratch_cap, batch * f));
        dx = fr_nn_whole(bn->scratch);
    }
    return fr_batchnorm_backward(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                 fr_nn_whole(bn->beta->value), save_at(bn, SAVE_MEAN),
                                 save_at(bn, SAVE_INVSTD), bn->act, dy, dx, dgamma, dbeta);
}
