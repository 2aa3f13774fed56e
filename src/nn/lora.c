/* lora.c — LoRA linear layer: a base linear layer (frozen unless asked)
 * plus a trainable low-rank update (alpha / r) * x A B, with B starting at
 * zero so the layer starts as its base (Hu et al., 2021). */
#include <math.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_lora_linear_init(fr_lora_linear *l, fr_param_set *ps,
                              const char *name, size_t in, size_t out,
                              size_t rank, float alpha, int base_trainable,
                              fr_role role, uint64_t seed)
{
    char buf[256];
    /* A rank above min(in, out) adds no capacity but is legal (AutoIFS uses
     * rank 2 on a layer with one output). */
    if (rank == 0)
        return fr_fail(FR_ERR_INVALID, "LoRA '%s': rank 0, expected at least 1", name);
    FR_TRY(fr_linear_init(&l->base, ps, name, in, out, 1, base_trainable ? role : FR_ROLE_FROZEN,
                          seed));
    l->rank = rank;
    l->scale = alpha / (float)rank;
    FR_TRY(fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "lora_a"), role, in, rank, 0, 1, &l->a));
    FR_TRY(fr_param_init_uniform(l->a, seed, 1.0f / sqrtf((float)in)));
    return fr_param_add(ps, fr_nn_name(buf, sizeof buf, name, "lora_b"), role, rank, out, 0, 1, &l->b);
}

fr_status fr_lora_linear_forward(const fr_lora_linear *l, fr_backend *be,
                                 size_t batch, fr_view x, fr_view xa,
                                 fr_view y)
{
    size_t in = l->base.in, out = l->base.out, r = l->rank;
    FR_TRY(fr_linear_forward(&l->base, be, batch, x, y));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, batch, r, in, 1.0f, x, in,
                   fr_nn_whole(l->a->value), r, 0.0f, xa, r));
    return fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, batch, out, r, l->scale, xa, r,
                   fr_nn_whole(l->b->value), out, 1.0f, y, out);
}

fr_status fr_lora_linear_backward(const fr_lora_linear *l, fr_backend *be,
                                  size_t batch, fr_view x, fr_view xa,
                                  fr_view dy, fr_view dxa, fr_view dx)
{
    size_t in = l->base.in, out = l->base.out, r = l->rank;
    /* dB += scale * xa^T dy; dxa = scale * dy B^T; dA += x^T dxa. */
    FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, r, out, batch, l->scale, xa, r, dy, out, 1.0f,
                   fr_nn_whole(l->b->grad), out));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, batch, r, out, l->scale, dy, out,
                   fr_nn_whole(l->b->value), out, 0.0f, dxa, r));
    FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, in, r, batch, 1.0f, x, in, dxa, r, 1.0f,
                   fr_nn_whole(l->a->grad), r));
    FR_TRY(fr_linear_backward(&l->base, be, batch, x, dy, dx));
    if (dx.buf)
        FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, batch, in, r, 1.0f, dxa, r,
                       fr_nn_whole(l->a->value), r, 1.0f, dx, in));
    return FR_OK;
}
