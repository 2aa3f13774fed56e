/* fedrec/nn.h — layers with hand-written forward and backward passes.
 *
 * Conventions
 * - A layer registers its parameters in a parameter set under stable names
 *   ("<name>.weight", ...) and keeps pointers to them; it owns no
 *   activations. The caller passes views for inputs and outputs (sized for
 *   the batch) and keeps what backward needs, which each function names.
 * - Matrices are row-major, one example per row. Linear weights are
 *   in x out, so y = x W + b.
 * - backward accumulates parameter gradients (zero them with
 *   fr_param_set_zero_grad before a step) and overwrites dX. A dX view with
 *   a NULL buffer skips the input gradient (first layer).
 * - Activation layers are the backend ops themselves: fr_relu /
 *   fr_relu_backward and fr_sigmoid / fr_sigmoid_backward.
 * - Initial values come from the counter-based generator keyed by the seed
 *   and the parameter's name (fr_param_init_uniform). */
#ifndef FEDREC_NN_H
#define FEDREC_NN_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Linear: y = x W + b ---------------------------------------------- */
typedef struct fr_linear {
    size_t in, out;
    fr_param *weight; /* in x out, Xavier-uniform init */
    fr_param *bias;   /* 1 x out, zero init; NULL without bias */
} fr_linear;

fr_status fr_linear_init(fr_linear *l, fr_param_set *ps, const char *name,
                         size_t in, size_t out, int with_bias, fr_role role,
                         uint64_t seed);
/* Re-draws weight and bias from U(-1/sqrt(in), 1/sqrt(in)): PyTorch's
 * nn.Linear default (Kaiming-uniform with a = sqrt 5), for models ported
 * from code that keeps it. The streams are keyed by seed and name as in
 * fr_linear_init. */
fr_status fr_linear_init_fan_in(fr_linear *l, uint64_t seed);
/* y (batch x out) = x (batch x in) W + b. */
fr_status fr_linear_forward(const fr_linear *l, fr_backend *be, size_t batch,
                            fr_view x, fr_view y);
/* dW += x^T dy, db += colsum(dy), dx = dy W^T. */
fr_status fr_linear_backward(const fr_linear *l, fr_backend *be, size_t batch,
                             fr_view x, fr_view dy, fr_view dx);

/* ---- Embedding table: out[i] = T[idx[i]] ------------------------------- */
typedef struct fr_embedding {
    size_t rows, dim;
    fr_param *table;        /* rows x dim, row-sparse gradient */
    fr_buffer *slots;       /* scratch: compact-gradient slot per index */
    size_t slots_cap;
} fr_embedding;

/* Normal(0, std) init. */
fr_status fr_embedding_init(fr_embedding *e, fr_param_set *ps, const char *name,
                            size_t rows, size_t dim, fr_role role, uint64_t seed,
                            float std);
void fr_embedding_release(fr_embedding *e);
/* idx: n int32 row ids on the backend; out: n x dim. */
fr_status fr_embedding_forward(const fr_embedding *e, fr_backend *be, size_t n,
                               fr_view idx, fr_view out);
/* Adds dout's rows into the gradient rows of ids_host[0..n) (host copy of
 * the ids): only touched rows get gradient storage. */
fr_status fr_embedding_backward(fr_embedding *e, fr_backend *be, size_t n,
                                const int32_t *ids_host, fr_view dout);

/* ---- Multi-field embedding with a numeric token ------------------------
 * F categorical fields share one table of `vocab_total` rows (field f's
 * values carry global ids, e.g. f * vocab + v). The numeric features
 * (n_numeric per example) are projected to one more d-dim token:
 * token = num W_num + b_num. Output per example: F + 1 tokens of d values,
 * [field 0, ..., field F-1, numeric] (batch x (F+1)*d). Without numeric
 * features the output has F tokens. Internally the numeric slot gathers a
 * padding row (kept at zero, never updated) and the projection is added on
 * top with a strided GEMM, so no copy is needed. */
typedef struct fr_field_embedding {
    size_t fields, vocab_total, dim, n_numeric;
    fr_embedding emb;       /* (vocab_total + 1) x dim: last row is padding */
    fr_linear numeric;      /* n_numeric x dim (unused if n_numeric == 0) */
    int32_t *gather_ids;    /* host: batch x tokens ids incl. padding */
    fr_buffer *ids_dev;     /* the same on the backend */
    fr_buffer *ones;        /* cap ones: broadcasts / sums the numeric bias */
    size_t cap;             /* examples the scratch holds */
} fr_field_embedding;

fr_status fr_field_embedding_init(fr_field_embedding *fe, fr_param_set *ps,
                                  const char *name, size_t fields,
                                  size_t vocab_total, size_t dim,
                                  size_t n_numeric, fr_role role, uint64_t seed);
/* Redraw the table uniform in [-bound, bound] (the padding row stays
 * zero), for models whose reference initialises it that way. */
fr_status fr_field_embedding_init_uniform(fr_field_embedding *fe, uint64_t seed, float bound);
void fr_field_embedding_release(fr_field_embedding *fe);
size_t fr_field_embedding_width(const fr_field_embedding *fe);
/* ids_host: batch x fields global ids (host); numbers: batch x n_numeric on
 * the backend; out: batch x width. */
fr_status fr_field_embedding_forward(fr_field_embedding *fe, fr_backend *be,
                                     size_t batch, const int32_t *ids_host,
                                     fr_view numbers, fr_view out);
/* Uses the ids of the last forward. Accumulates the table's touched-row
 * gradient and the numeric projection's dW, db; the numeric features are
 * data, so their gradient is left to the function below. */
fr_status fr_field_embedding_backward(fr_field_embedding *fe, fr_backend *be,
                                      size_t batch, fr_view numbers,
                                      fr_view dout);
/* dnumbers (batch x n_numeric, overwritten) = d(numeric token) W_num^T, for
 * models whose numeric features come from an earlier layer. */
fr_status fr_field_embedding_backward_numbers(const fr_field_embedding *fe,
                                              fr_backend *be, size_t batch,
                                              fr_view dout, fr_view dnumbers);

/* ---- Batch-norm over features ------------------------------------------
 * y = act(gamma x-hat + beta); act FR_BN_RELU is the ReLU of an MLP layer
 * fused into the batch-norm ops (see fr_bn_activation). */
typedef struct fr_batchnorm {
    size_t features;
    float eps, momentum;
    fr_bn_activation act;
    fr_param *gamma, *beta;            /* trainable, role as given */
    fr_param *running_mean, *running_var; /* bn-local, not trainable */
    fr_buffer *save;    /* last batch's mean and invstd; constants (below) */
    fr_buffer *scratch; /* 2 x batch x features, for eval-mode backward */
    size_t scratch_cap;
    int last_training;  /* mode of the last forward: backward follows it */
} fr_batchnorm;

fr_status fr_bn_init(fr_batchnorm *bn, fr_param_set *ps,
                            const char *name, size_t features, fr_role role,
                            fr_bn_activation act);
void fr_bn_release(fr_batchnorm *bn);
/* training: batch statistics (batch >= 2, else FR_ERR_INVALID), running
 * statistics updated; otherwise the running statistics. */
fr_status fr_bn_forward(fr_batchnorm *bn, fr_backend *be, size_t batch,
                               fr_view x, fr_view y, int training);
/* Backward of the last forward, in its mode: after a training forward
 * through that batch's statistics (dx gets the terms of the mean and
 * variance), after an eval forward through the running statistics (a
 * per-feature affine map: dx = dy gamma / sqrt(running_var + eps)). dy is
 * the gradient of the output after act (a ReLU's mask is applied here).
 * dgamma and dbeta accumulate unless frozen; a NULL dx buffer skips dx. */
fr_status fr_bn_backward(fr_batchnorm *bn, fr_backend *be, size_t batch,
                                fr_view x, fr_view dy, fr_view dx);

/* ---- Dropout (inverted) --------------------------------------------------
 * Keeps each value with probability 1 - rate and scales it by 1/(1-rate).
 * The mask of call `step` comes from stream (seed, step, layer_id,
 * FR_RNG_DROPOUT), so it is the same on every run and thread count. */
typedef struct fr_dropout {
    float rate;
    uint64_t seed;
    uint32_t layer_id;
    fr_buffer *mask;
    size_t cap;
    float *host_mask;
} fr_dropout;

fr_status fr_dropout_init(fr_dropout *d, float rate, uint64_t seed,
                          uint32_t layer_id);
void fr_dropout_release(fr_dropout *d);
/* training == 0 (or rate == 0): y = x. y may be x (in place). */
fr_status fr_dropout_forward(fr_dropout *d, fr_backend *be, size_t n,
                             uint32_t step, fr_view x, fr_view y, int training);
/* dx = dy .* mask of the last training forward. */
fr_status fr_dropout_backward(fr_dropout *d, fr_backend *be, size_t n,
                              fr_view dy, fr_view dx, int training);

/* ---- Softmax gate: g = softmax(x W_g + b_g) over `experts` -------------- */
typedef struct fr_softmax_gate {
    fr_linear proj;
    size_t experts;
} fr_softmax_gate;

fr_status fr_softmax_gate_init(fr_softmax_gate *g, fr_param_set *ps,
                               const char *name, size_t in, size_t experts,
                               fr_role role, uint64_t seed);
/* logits: batch x experts scratch; gates: batch x experts output. */
fr_status fr_softmax_gate_forward(const fr_softmax_gate *g, fr_backend *be,
                                  size_t batch, fr_view x, fr_view logits,
                                  fr_view gates);
/* dlogits: scratch (batch x experts). */
fr_status fr_softmax_gate_backward(const fr_softmax_gate *g, fr_backend *be,
                                   size_t batch, fr_view x, fr_view gates,
                                   fr_view dgates, fr_view dlogits, fr_view dx);

/* ---- LoRA linear: y = x W + (alpha / r) (x A) B + b ---------------------
 * W (in x out) is the base weight, frozen unless base_trainable; A (in x r)
 * starts small and random, B (r x out) at zero, so training starts from the
 * base layer. */
typedef struct fr_lora_linear {
    fr_linear base;
    fr_param *a, *b;   /* "<name>.lora_a", "<name>.lora_b" */
    size_t rank;
    float scale;       /* alpha / rank */
} fr_lora_linear;

fr_status fr_lora_linear_init(fr_lora_linear *l, fr_param_set *ps,
                              const char *name, size_t in, size_t out,
                              size_t rank, float alpha, int base_trainable,
                              fr_role role, uint64_t seed);
/* xa: batch x rank scratch, kept for backward. */
fr_status fr_lora_linear_forward(const fr_lora_linear *l, fr_backend *be,
                                 size_t batch, fr_view x, fr_view xa,
                                 fr_view y);
/* dxa: batch x rank scratch. */
fr_status fr_lora_linear_backward(const fr_lora_linear *l, fr_backend *be,
                                  size_t batch, fr_view x, fr_view xa,
                                  fr_view dy, fr_view dxa, fr_view dx);

/* ---- MLP block: per layer Linear -> [BatchNorm] -> ReLU -> [Dropout] ---- */
#define FR_MLP_MAX_LAYERS 16
typedef struct fr_mlp {
    size_t n_layers, in, max_batch;
    size_t width[FR_MLP_MAX_LAYERS];
    int use_bn;
    fr_linear fc[FR_MLP_MAX_LAYERS];
    fr_batchnorm bn[FR_MLP_MAX_LAYERS];
    fr_dropout drop[FR_MLP_MAX_LAYERS];
    float dropout;
    /* Activations per layer: pre (linear out), act (relu out, batch-norm
     * and ReLU fused when use_bn, then dropped out in place: the next
     * layer's input); and two gradient scratches. */
    fr_buffer *pre[FR_MLP_MAX_LAYERS];
    fr_buffer *act[FR_MLP_MAX_LAYERS];
    fr_buffer *grad_a, *grad_b;
} fr_mlp;

fr_status fr_mlp_init(fr_mlp *m, fr_param_set *ps, const char *name,
                      size_t in, const size_t *widths, size_t n_layers,
                      int batch_norm, float dropout, size_t max_batch,
                      fr_role role, uint64_t seed);
/* Re-draws every layer's weight and bias from U(-1/sqrt(in), 1/sqrt(in)),
 * PyTorch's nn.Linear default, for models ported from code that keeps it
 * (fr_linear_init_fan_in). */
fr_status fr_mlp_init_fan_in(fr_mlp *m, uint64_t seed);
void fr_mlp_release(fr_mlp *m);
size_t fr_mlp_out_width(const fr_mlp *m);
/* The last layer's activations of the latest forward. */
fr_view fr_mlp_output(const fr_mlp *m);
/* Output: a view of the last layer's activations (batch x out width). */
fr_status fr_mlp_forward(fr_mlp *m, fr_backend *be, size_t batch, fr_view x,
                         uint32_t step, int training, fr_view *out);
fr_status fr_mlp_backward(fr_mlp *m, fr_backend *be, size_t batch, fr_view x,
                          fr_view dout, fr_view dx, int training);


/* ---- Gradient scratch: two buffers a backward pass ping-pongs between ---
 * They grow to the largest request and keep nothing between passes, so
 * layers whose backward passes never run at the same time can share one
 * pair (a PLE model's expert banks, run one after another). */
typedef struct fr_grad_scratch {
    fr_buffer *a, *b;
    size_t cap_a, cap_b;  /* floats */
} fr_grad_scratch;
/* Both buffers hold at least `floats` floats (contents not kept). */
fr_status fr_grad_scratch_reserve(fr_grad_scratch *s, fr_backend *be, size_t floats);
void fr_grad_scratch_release(fr_grad_scratch *s);

/* ---- Expert bank: E MLPs of the same widths side by side ----------------
 * E experts, each Linear -> [BatchNorm] -> ReLU -> [Dropout] per layer,
 * read one input x (batch x in) and write one output whose row b holds
 * expert 0's values, then expert 1's, ... (batch x E * width_last), so
 * row b is an E x width matrix. The first layer's weights are one
 * in x (E * out_0) parameter ("<name>.0.weight", expert e's columns
 * [e * out_0, (e + 1) * out_0)), run as one GEMM; a deeper layer's are E
 * stacked (in_l x out_l) blocks (expert e's block contiguous), run as one
 * strided-batched GEMM over the experts. Layer l's bias is one row of
 * E * out_l, applied only without batch-norm (which would remove it; it
 * then stays zero). Batch-norm, ReLU and dropout run once over all
 * experts' columns. */
typedef struct fr_expert_bank {
    size_t experts, n_layers, in, max_batch;
    size_t width[FR_MLP_MAX_LAYERS];
    int use_bn;
    float dropout;
    fr_param *weight[FR_MLP_MAX_LAYERS], *bias[FR_MLP_MAX_LAYERS];
    fr_batchnorm bn[FR_MLP_MAX_LAYERS];
    fr_dropout drop[FR_MLP_MAX_LAYERS];
    /* Activations per layer as in fr_mlp (dropout in place in act). */
    fr_buffer *pre[FR_MLP_MAX_LAYERS];
    fr_buffer *act[FR_MLP_MAX_LAYERS];
    /* The backward's two gradient scratches (scratch_width floats per
     * row), allocated by the first backward: the bank's own, or a pair
     * shared with other banks (fr_expert_bank_share_scratch). */
    size_t scratch_width;
    fr_grad_scratch own_scratch, *shared_scratch;
} fr_expert_bank;
fr_status fr_expert_bank_init(fr_expert_bank *b, fr_param_set *ps, const char *name,
                              size_t experts, size_t in, const size_t *widths,
                              size_t n_layers, int batch_norm, float dropout,
                              size_t max_batch, fr_role role, uint64_t seed);
void fr_expert_bank_release(fr_expert_bank *b);
/* Use the caller's gradient scratch (which must outlive the bank's
 * backward passes; the caller releases it) in place of the bank's own. */
void fr_expert_bank_share_scratch(fr_expert_bank *b, fr_grad_scratch *s);
size_t fr_expert_bank_out_width(const fr_expert_bank *b); /* per expert */
/* The output of the latest forward (batch x E * width). */
fr_view fr_expert_bank_output(const fr_expert_bank *b);
fr_status fr_expert_bank_forward(fr_expert_bank *b, fr_backend *be, size_t batch,
                                 fr_view x, uint32_t step, int training,
                                 fr_view *out);
/* dout: batch x E * width; dx (batch x in, overwritten) may have a NULL
 * buffer. */
fr_status fr_expert_bank_backward(fr_expert_bank *b, fr_backend *be, size_t batch,
                                  fr_view x, fr_view dout, fr_view dx,
                                  int training);

/* ---- Gated mixture: y[b] = sum_e g[b, e] * experts[b, e, :] --------------
 * experts: batch x (E * width) as an expert bank writes it; g: E gate
 * values per row, row b starting at g.off + b * g_stride (so a gate row
 * may be a slice of a wider one); y: batch x width, y = mix + beta * y.
 * One strided-batched GEMM over the rows. */
fr_status fr_mixture_forward(fr_backend *be, size_t batch, size_t experts,
                             size_t width, fr_view g, size_t g_stride,
                             fr_view expert_out, float beta, fr_view y);
/* dg (laid out like g, overwritten) = dy experts^T; dexperts += g^T dy. */
fr_status fr_mixture_backward(fr_backend *be, size_t batch, size_t experts,
                              size_t width, fr_view g, size_t g_stride,
                              fr_view expert_out, fr_view dy, fr_view dg,
                              fr_view dexperts);
#ifdef __cplusplus
}
#endif
#endif
