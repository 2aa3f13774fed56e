/* batchnorm.c — batch-norm layer: gamma/beta trainable with the given
 * role, running statistics as bn-local, non-trainable parameters (so
 * FedBN-style strategies can keep them per client). */
#include <string.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_bn_init(fr_batchnorm *bn, fr_param_set *ps,
                            const char *name, size_t features, fr_role role)
{
    char buf[256];
    memset(bn, 0, sizeof *bn);
    bn->features = features;
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
    /* mean, invstd, and two rows that absorb dgamma/dbeta when gamma and
     * beta are frozen (backward must still produce dx). */
    return fr_buffer_alloc_zero(be, 4 * features * sizeof(float), &bn->save);
}

void fr_bn_release(fr_batchnorm *bn)
{
    fr_buffer_free(bn->save);
    bn->save = NULL;
}

fr_status fr_bn_forward(fr_batchnorm *bn, fr_backend *be, size_t batch,
                               fr_view x, fr_view y, int training)
{
    size_t f = bn->features;
    if (!training)
        return fr_batchnorm_forward_eval(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                         fr_nn_whole(bn->beta->value),
                                         fr_nn_whole(bn->running_mean->value),
                                         fr_nn_whole(bn->running_var->value), bn->eps, y);
    return fr_batchnorm_forward_train(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                      fr_nn_whole(bn->beta->value), bn->eps, bn->momentum, y,
                                      fr_view_of(bn->save, 0), fr_view_of(bn->save, f),
                                      fr_nn_whole(bn->running_mean->value),
                                      fr_nn_whole(bn->running_var->value));
}

fr_status fr_bn_backward(fr_batchnorm *bn, fr_backend *be, size_t batch,
                                fr_view x, fr_view dy, fr_view dx)
{
    size_t f = bn->features;
    fr_view dgamma = bn->gamma->grad ? fr_nn_whole(bn->gamma->grad) : fr_view_of(bn->save, 2 * f);
    fr_view dbeta = bn->beta->grad ? fr_nn_whole(bn->beta->grad) : fr_view_of(bn->save, 3 * f);
    return fr_batchnorm_backward(be, batch, f, x, fr_nn_whole(bn->gamma->value),
                                 fr_view_of(bn->save, 0), fr_view_of(bn->save, f), dy, dx,
                                 dgamma, dbeta);
}
