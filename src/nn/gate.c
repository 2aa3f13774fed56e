/* gate.c — softmax gate of mixture-of-experts models: a linear projection
 * to one logit per expert, then a row softmax. */
#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_softmax_gate_init(fr_softmax_gate *g, fr_param_set *ps,
                               const char *name, size_t in, size_t experts,
                               fr_role role, uint64_t seed)
{
    g->experts = experts;
    return fr_linear_init(&g->proj, ps, name, in, experts, 1, role, seed);
}

fr_status fr_softmax_gate_forward(const fr_softmax_gate *g, fr_backend *be,
                                  size_t batch, fr_view x, fr_view logits,
                                  fr_view gates)
{
    FR_TRY(fr_linear_forward(&g->proj, be, batch, x, logits));
    return fr_softmax_rows(be, batch, g->experts, logits, gates);
}

fr_status fr_softmax_gate_backward(const fr_softmax_gate *g, fr_backend *be,
                                   size_t batch, fr_view x, fr_view gates,
                                   fr_view dgates, fr_view dlogits, fr_view dx)
{
    FR_TRY(fr_softmax_rows_backward(be, batch, g->experts, gates, dgates, dlogits));
    return fr_linear_backward(&g->proj, be, batch, x, dlogits, dx);
}
