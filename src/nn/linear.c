/* linear.c — fully connected layer y = x W + b (W is in x out) and the
 * shared scratch-buffer helper of the layer files. */
#include <math.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_nn_reserve(fr_backend *be, fr_buffer **buf, size_t *cap,
                        size_t floats)
{
    if (*buf && *cap >= floats)
        return FR_OK;
    fr_buffer_free(*buf);
    *buf = NULL;
    *cap = 0;
    FR_TRY(fr_buffer_alloc_zero(be, (floats ? floats : 1) * sizeof(float), buf));
    *cap = floats;
    return FR_OK;
}

fr_status fr_linear_init(fr_linear *l, fr_param_set *ps, const char *name,
                         size_t in, size_t out, int with_bias, fr_role role,
                         uint64_t seed)
{
    char buf[256];
    l->in = in;
    l->out = out;
    l->bias = NULL;
    if (in == 0 || out == 0)
        return fr_fail(FR_ERR_INVALID, "linear '%s': sizes %zu -> %zu must be positive", name, in, out);
    FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "weight"), role, in, out, 0, 1,
                        &l->weight));
    /* Xavier/Glorot uniform: keeps activation variance across layers. */
    FR_TRY(fr_param_init_uniform(l->weight, seed, sqrtf(6.0f / (float)(in + out))));
    if (with_bias)
        FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "bias"), role, 1, out, 0, 1,
                            &l->bias));
    return FR_OK;
}

fr_status fr_linear_init_fan_in(fr_linear *l, uint64_t seed)
{
    float bound = 1.0f / sqrtf((float)l->in);
    FR_TRY(fr_param_init_uniform(l->weight, seed, bound));
    if (l->bias)
        FR_TRY(fr_param_init_uniform(l->bias, seed, bound));
    return FR_OK;
}

fr_status fr_linear_forward(const fr_linear *l, fr_backend *be, size_t batch,
                            fr_view x, fr_view y)
{
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, batch, l->out, l->in, 1.0f, x, l->in,
                   fr_nn_whole(l->weight->value), l->out, 0.0f, y, l->out));
    if (l->bias)
        FR_TRY(fr_bias_add(be, batch, l->out, y, fr_nn_whole(l->bias->value)));
    return FR_OK;
}

fr_status fr_linear_backward(const fr_linear *l, fr_backend *be, size_t batch,
                             fr_view x, fr_view dy, fr_view dx)
{
    if (l->weight->trainable)
        FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, l->in, l->out, batch, 1.0f, x, l->in, dy,
                       l->out, 1.0f, fr_nn_whole(l->weight->grad), l->out));
    if (l->bias && l->bias->trainable)
        FR_TRY(fr_col_sum(be, batch, l->out, dy, 1.0f, fr_nn_whole(l->bias->grad)));
    if (dx.buf)
        FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, batch, l->in, l->out, 1.0f, dy, l->out,
                       fr_nn_whole(l->weight->value), l->out, 0.0f, dx, l->in));
    return FR_OK;
}
