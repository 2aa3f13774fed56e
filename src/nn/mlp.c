/* mlp.c — the MLP block: per layer Linear -> [BatchNorm] -> ReLU ->
 * [Dropout], widths from a list; with batch-norm, the ReLU runs inside
 * the batch-norm ops (FR_BN_RELU: one pass over memory fewer each way).
 * It owns its activation buffers (sized for max_batch) since every model
 * that uses it needs the same ones. */
#include <string.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_mlp_init(fr_mlp *m, fr_param_set *ps, const char *name,
                      size_t in, const size_t *widths, size_t n_layers,
                      int batch_norm, float dropout, size_t max_batch,
                      fr_role role, uint64_t seed)
{
    char buf[256];
    memset(m, 0, sizeof *m);
    if (n_layers == 0 || n_layers > FR_MLP_MAX_LAYERS)
        return fr_fail(FR_ERR_INVALID, "MLP '%s': %zu layers, expected 1..%d", name, n_layers,
                       FR_MLP_MAX_LAYERS);
    fr_backend *be = fr_param_set_backend(ps);
    m->n_layers = n_layers;
    m->in = in;
    m->max_batch = max_batch;
    m->use_bn = batch_norm;
    m->dropout = dropout;
    size_t widest = in;
    for (size_t i = 0; i < n_layers; i++) {
        size_t prev = i ? widths[i - 1] : in;
        m->width[i] = widths[i];
        widest = widths[i] > widest ? widths[i] : widest;
        snprintf(buf, sizeof buf, "%s.%zu.fc", name, i);
        FR_TRY(fr_linear_init(&m->fc[i], ps, buf, prev, widths[i], 1, role, seed));
        if (batch_norm) {
            snprintf(buf, sizeof buf, "%s.%zu.bn", name, i);
            FR_TRY(fr_bn_init(&m->bn[i], ps, buf, widths[i], role, FR_BN_RELU));
        }
        FR_TRY(fr_dropout_init(&m->drop[i], dropout, seed, m->fc[i].weight->name_hash));
        size_t bytes = max_batch * widths[i] * sizeof(float);
        FR_TRY(fr_buffer_alloc_zero(be, bytes, &m->pre[i]));
        FR_TRY(fr_buffer_alloc_zero(be, bytes, &m->act[i]));
    }
    FR_TRY(fr_buffer_alloc_zero(be, max_batch * widest * sizeof(float), &m->grad_a));
    return fr_buffer_alloc_zero(be, max_batch * widest * sizeof(float), &m->grad_b);
}

fr_status fr_mlp_init_fan_in(fr_mlp *m, uint64_t seed)
{
    for (size_t i = 0; i < m->n_layers; i++)
        FR_TRY(fr_linear_init_fan_in(&m->fc[i], seed));
    return FR_OK;
}

void fr_mlp_release(fr_mlp *m)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        if (m->use_bn)
            fr_bn_release(&m->bn[i]);
        fr_dropout_release(&m->drop[i]);
        fr_buffer_free(m->pre[i]);
        fr_buffer_free(m->act[i]);
    }
    fr_buffer_free(m->grad_a);
    fr_buffer_free(m->grad_b);
    memset(m, 0, sizeof *m);
}

size_t fr_mlp_out_width(const fr_mlp *m)
{
    return m->width[m->n_layers - 1];
}

/* Layer i's output: its ReLU output, dropped out in place (the backward
 * needs only the pre-activations and the mask). */
static fr_view layer_out(const fr_mlp *m, size_t i)
{
    return fr_nn_whole(m->act[i]);
}

fr_view fr_mlp_output(const fr_mlp *m)
{
    return layer_out(m, m->n_layers - 1);
}

fr_status fr_mlp_forward(fr_mlp *m, fr_backend *be, size_t batch, fr_view x,
                         uint32_t step, int training, fr_view *out)
{
    if (batch > m->max_batch)
        return fr_fail(FR_ERR_INVALID, "MLP: batch %zu exceeds max_batch %zu", batch, m->max_batch);
    fr_view in = x;
    for (size_t i = 0; i < m->n_layers; i++) {
        size_t n = batch * m->width[i];
        fr_view pre = fr_nn_whole(m->pre[i]), act = fr_nn_whole(m->act[i]);
        FR_TRY(fr_linear_forward(&m->fc[i], be, batch, in, pre));
        if (m->use_bn)
            FR_TRY(fr_bn_forward(&m->bn[i], be, batch, pre, act, training)); /* ReLU fused */
        else
            FR_TRY(fr_relu(be, n, pre, act));
        if (m->dropout > 0.0f)
            FR_TRY(fr_dropout_forward(&m->drop[i], be, n, step, act, act, training));
        in = layer_out(m, i);
    }
    *out = in;
    return FR_OK;
}

fr_status fr_mlp_backward(fr_mlp *m, fr_backend *be, size_t batch, fr_view x,
                          fr_view dout, fr_view dx, int training)
{
    if (batch > m->max_batch)
        return fr_fail(FR_ERR_INVALID, "MLP: batch %zu exceeds max_batch %zu", batch, m->max_batch);
    fr_view g = fr_nn_whole(m->grad_a), h = fr_nn_whole(m->grad_b);
    fr_view dcur = dout;
    for (size_t li = m->n_layers; li-- > 0;) {
        size_t n = batch * m->width[li];
        fr_view pre = fr_nn_whole(m->pre[li]);
        if (m->dropout > 0.0f) {
            FR_TRY(fr_dropout_backward(&m->drop[li], be, n, dcur, g, training));
            dcur = g;
        }
        /* d(pre) into the buffer dcur does not occupy. */
        fr_view dpre = dcur.buf == h.buf ? g : h;
        if (m->use_bn)
            FR_TRY(fr_bn_backward(&m->bn[li], be, batch, pre, dcur, dpre)); /* ReLU fused */
        else
            FR_TRY(fr_relu_backward(be, n, pre, dcur, dpre));
        fr_view in = li ? layer_out(m, li - 1) : x;
        /* d(input) goes to the buffer dpre does not occupy. */
        fr_view din = li ? (dpre.buf == g.buf ? h : g) : dx;
        FR_TRY(fr_linear_backward(&m->fc[li], be, batch, in, dpre, din));
        dcur = din;
    }
    return FR_OK;
}
