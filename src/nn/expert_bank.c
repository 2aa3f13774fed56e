/* expert_bank.c — E MLPs of equal widths evaluated side by side, and the
 * gated mixture of their outputs (see fedrec/nn.h). Every expert reads the
 * same input, so the first layer is one GEMM with the experts' weights
 * side by side (in x E*w: expert e owns columns [e * w, (e + 1) * w)),
 * which also sums the experts' input gradients in its backward GEMM. A
 * deeper layer is one strided-batched GEMM over the experts: expert e
 * reads columns [e * in, (e + 1) * in) of the previous layer's output and
 * writes columns [e * out, (e + 1) * out) of its own (weights E blocks of
 * in x out).
 * With batch-norm after a layer the ReLU runs inside the batch-norm ops
 * (FR_BN_RELU: the normalised values are never stored), and the layer's
 * bias is not applied: the batch mean
 * (and the running mean) would remove it, and its gradient is zero, so
 * skipping the two passes changes nothing but rounding; the parameter
 * stays (at zero) so that banks with and without batch-norm have the same
 * parameters. */
#include <math.h>
#include <string.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_expert_bank_init(fr_expert_bank *b, fr_param_set *ps, const char *name,
                              size_t experts, size_t in, const size_t *widths,
                              size_t n_layers, int batch_norm, float dropout,
                              size_t max_batch, fr_role role, uint64_t seed)
{
    char buf[256];
    memset(b, 0, sizeof *b);
    if (experts == 0 || in == 0 || n_layers == 0 || n_layers > FR_MLP_MAX_LAYERS)
        return fr_fail(FR_ERR_INVALID, "expert bank '%s': need >= 1 expert, input > 0, 1..%d layers", name,
                       FR_MLP_MAX_LAYERS);
    fr_backend *be = fr_param_set_backend(ps);
    b->experts = experts;
    b->n_layers = n_layers;
    b->in = in;
    b->max_batch = max_batch;
    b->use_bn = batch_norm;
    b->dropout = dropout;
    /* The backward's scratch holds one layer's gradients, E * width wide
     * (the input's gradient goes to the caller's dx). */
    size_t widest = 0;
    for (size_t l = 0; l < n_layers; l++) {
        size_t prev = l ? widths[l - 1] : in, w = widths[l];
        if (w == 0)
            return fr_fail(FR_ERR_INVALID, "expert bank '%s': layer %zu has width 0", name, l + 1);
        b->width[l] = w;
        if (experts * w > widest)
            widest = experts * w;
        snprintf(buf, sizeof buf, "%s.%zu.weight", name, l);
        if (l == 0)
            FR_TRY(fr_param_add(ps, buf, role, in, experts * w, 0, 1, &b->weight[l]));
        else
            FR_TRY(fr_param_add(ps, buf, role, experts * prev, w, 0, 1, &b->weight[l]));
        FR_TRY(fr_param_init_uniform(b->weight[l], seed, sqrtf(6.0f / (float)(prev + w))));
        snprintf(buf, sizeof buf, "%s.%zu.bias", name, l);
        FR_TRY(fr_param_add(ps, buf, role, 1, experts * w, 0, 1, &b->bias[l]));
        if (batch_norm) {
            snprintf(buf, sizeof buf, "%s.%zu.bn", name, l);
            FR_TRY(fr_bn_init(&b->bn[l], ps, buf, experts * w, role, FR_BN_RELU));
        }
        FR_TRY(fr_dropout_init(&b->drop[l], dropout, seed, b->weight[l]->name_hash));
        size_t bytes = max_batch * experts * w * sizeof(float);
        FR_TRY(fr_buffer_alloc_zero(be, bytes, &b->pre[l]));
        FR_TRY(fr_buffer_alloc_zero(be, bytes, &b->act[l]));
    }
    b->scratch_width = widest;
    return FR_OK;
}

fr_status fr_grad_scratch_reserve(fr_grad_scratch *s, fr_backend *be, size_t floats)
{
    FR_TRY(fr_nn_reserve(be, &s->a, &s->cap_a, floats));
    return fr_nn_reserve(be, &s->b, &s->cap_b, floats);
}

void fr_grad_scratch_release(fr_grad_scratch *s)
{
    fr_buffer_free(s->a);
    fr_buffer_free(s->b);
    memset(s, 0, sizeof *s);
}

void fr_expert_bank_share_scratch(fr_expert_bank *b, fr_grad_scratch *s)
{
    fr_grad_scratch_release(&b->own_scratch);
    b->shared_scratch = s;
}

void fr_expert_bank_release(fr_expert_bank *b)
{
    for (size_t l = 0; l < b->n_layers; l++) {
        if (b->use_bn)
            fr_bn_release(&b->bn[l]);
        fr_dropout_release(&b->drop[l]);
        fr_buffer_free(b->pre[l]);
        fr_buffer_free(b->act[l]);
    }
    fr_grad_scratch_release(&b->own_scratch);
    memset(b, 0, sizeof *b);
}

size_t fr_expert_bank_out_width(const fr_expert_bank *b)
{
    return b->width[b->n_layers - 1];
}

/* Layer l's output: its ReLU output, dropped out in place (the backward
 * needs only the pre-activations and the mask). */
static fr_view layer_out(const fr_expert_bank *b, size_t l)
{
    return fr_nn_whole(b->act[l]);
}

fr_view fr_expert_bank_output(const fr_expert_bank *b)
{
    return layer_out(b, b->n_layers - 1);
}

/* Expert e's input block of layer l: (start, row stride, stride between
 * experts). */
static void input_layout(const fr_expert_bank *b, size_t l, size_t *ld, size_t *stride)
{
    if (l == 0) {
        *ld = b->in;
        *stride = 0;
    } else {
        *ld = b->experts * b->width[l - 1];
        *stride = b->width[l - 1];
    }
}

fr_status fr_expert_bank_forward(fr_expert_bank *b, fr_backend *be, size_t batch,
                                 fr_view x, uint32_t step, int training,
                                 fr_view *out)
{
    if (batch > b->max_batch)
        return fr_fail(FR_ERR_INVALID, "expert bank: batch %zu exceeds max_batch %zu", batch, b->max_batch);
    fr_view in = x;
    size_t E = b->experts;
    for (size_t l = 0; l < b->n_layers; l++) {
        size_t w = b->width[l], prev = l ? b->width[l - 1] : b->in, ld, stride;
        input_layout(b, l, &ld, &stride);
        fr_view pre = fr_nn_whole(b->pre[l]), act = fr_nn_whole(b->act[l]);
        fr_view wv = fr_nn_whole(b->weight[l]->value);
        if (l == 0)
            FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, batch, E * w, prev, 1.0f, in, ld, wv, E * w, 0.0f, pre,
                           E * w));
        else
            FR_TRY(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, batch, w, prev, 1.0f, in, ld, stride, wv,
                                           w, prev * w, 0.0f, pre, E * w, w, E));
        if (b->use_bn) {
            FR_TRY(fr_bn_forward(&b->bn[l], be, batch, pre, act, training)); /* ReLU fused */
        } else {
            FR_TRY(fr_bias_add(be, batch, E * w, pre, fr_nn_whole(b->bias[l]->value)));
            FR_TRY(fr_relu(be, batch * E * w, pre, act));
        }
        if (b->dropout > 0.0f)
            FR_TRY(fr_dropout_forward(&b->drop[l], be, batch * E * w, step, act, act, training));
        in = layer_out(b, l);
    }
    *out = in;
    return FR_OK;
}

fr_status fr_expert_bank_backward(fr_expert_bank *b, fr_backend *be, size_t batch,
                                  fr_view x, fr_view dout, fr_view dx,
                                  int training)
{
    if (batch > b->max_batch)
        return fr_fail(FR_ERR_INVALID, "expert bank: batch %zu exceeds max_batch %zu", batch, b->max_batch);
    size_t E = b->experts;
    fr_grad_scratch *scratch = b->shared_scratch ? b->shared_scratch : &b->own_scratch;
    FR_TRY(fr_grad_scratch_reserve(scratch, be, batch * b->scratch_width));
    fr_view g = fr_nn_whole(scratch->a), h = fr_nn_whole(scratch->b), dcur = dout;
    for (size_t l = b->n_layers; l-- > 0;) {
        size_t w = b->width[l], prev = l ? b->width[l - 1] : b->in, n = batch * E * w, ld, stride;
        fr_view pre = fr_nn_whole(b->pre[l]);
        if (b->dropout > 0.0f) {
            FR_TRY(fr_dropout_backward(&b->drop[l], be, n, dcur, g, training));
            dcur = g;
        }
        /* d(pre) into the buffer dcur does not occupy. */
        fr_view dpre = dcur.buf == h.buf ? g : h;
        if (b->use_bn)
            FR_TRY(fr_bn_backward(&b->bn[l], be, batch, pre, dcur, dpre)); /* ReLU fused */
        else
            FR_TRY(fr_relu_backward(be, n, pre, dcur, dpre));
        fr_view in = l ? layer_out(b, l - 1) : x;
        input_layout(b, l, &ld, &stride);
        if (!b->use_bn)
            FR_TRY(fr_col_sum(be, batch, E * w, dpre, 1.0f, fr_nn_whole(b->bias[l]->grad)));
        fr_view wv = fr_nn_whole(b->weight[l]->value), wg = fr_nn_whole(b->weight[l]->grad);
        if (l == 0) {
            /* dW += x^T dpre; dx = dpre W^T sums over the experts. */
            FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, prev, E * w, batch, 1.0f, in, ld, dpre, E * w, 1.0f, wg,
                           E * w));
            if (dx.buf)
                FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, batch, prev, E * w, 1.0f, dpre, E * w, wv, E * w, 0.0f,
                               dx, prev));
        } else {
            /* dW_e += in_e^T dpre_e */
            FR_TRY(fr_gemm_strided_batched(be, FR_TRANS, FR_NO_TRANS, prev, w, batch, 1.0f, in, ld, stride, dpre,
                                           E * w, w, 1.0f, wg, w, prev * w, E));
            /* d(in_e) = dpre_e W_e^T, into the buffer dpre does not hold. */
            fr_view din = dpre.buf == g.buf ? h : g;
            FR_TRY(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_TRANS, batch, prev, w, 1.0f, dpre, E * w, w, wv,
                                           w, prev * w, 0.0f, din, E * prev, prev, E));
            dcur = din;
        }
    }
    return FR_OK;
}

fr_status fr_mixture_forward(fr_backend *be, size_t batch, size_t experts,
                             size_t width, fr_view g, size_t g_stride,
                             fr_view expert_out, float beta, fr_view y)
{
    /* Row b: (1 x E) g_b times (E x width) experts_b. */
    return fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, 1, width, experts, 1.0f, g, g_stride, g_stride,
                                   expert_out, width, experts * width, beta, y, width, width, batch);
}

fr_status fr_mixture_backward(fr_backend *be, size_t batch, size_t experts,
                              size_t width, fr_view g, size_t g_stride,
                              fr_view expert_out, fr_view dy, fr_view dg,
                              fr_view dexperts)
{
    /* dg_b (1 x E) = dy_b (1 x width) experts_b^T. */
    FR_TRY(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_TRANS, 1, experts, width, 1.0f, dy, width, width,
                                   expert_out, width, experts * width, 0.0f, dg, g_stride, g_stride, batch));
    /* dexperts_b (E x width) += g_b^T (E x 1) dy_b (1 x width). */
    return fr_gemm_strided_batched(be, FR_TRANS, FR_NO_TRANS, experts, width, 1, 1.0f, g, g_stride, g_stride, dy,
                                   width, width, 1.0f, dexperts, width, experts * width, batch);
}
