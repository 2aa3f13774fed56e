/* fedrec/optim.h — optimisers over a parameter set.
 *
 * A step reads every trainable parameter's gradient and updates its value:
 * dense parameters whole, row-sparse ones (embedding tables) only on the
 * rows the batch touched (lazy updates: other rows and their Adam moments
 * do not move). Each parameter's learning rate is lr * its lr_scale, which
 * gives per-group learning rates. State (Adam moments) is allocated on a
 * parameter's first step. Formulas: src/backend/cpu/cpu_ops.h and
 * doc/LAYERS.md. */
#ifndef FEDREC_OPTIM_H
#define FEDREC_OPTIM_H

#include <stdint.h>
#include "fedrec/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_optim_kind {
    FR_OPTIM_SGD = 0,
    FR_OPTIM_ADAM,   /* L2 weight decay added to the gradient */
    FR_OPTIM_ADAMW   /* decoupled weight decay */
} fr_optim_kind;

typedef struct fr_optimizer fr_optimizer;

fr_status fr_optimizer_create(fr_param_set *ps, fr_optim_kind kind, float lr,
                              float weight_decay, fr_optimizer **out);
void fr_optimizer_free(fr_optimizer *opt);
/* Adam's beta1, beta2, eps (defaults 0.9, 0.999, 1e-8). */
fr_status fr_optimizer_set_adam(fr_optimizer *opt, float beta1, float beta2,
                                float eps);
/* Row-sparse parameters (embedding tables) are stepped lazily by default:
 * only the rows a batch touched move, and their moments and weight decay
 * advance only then. dense = 1 steps every row every time as PyTorch's
 * dense Adam does on an nn.Embedding: untouched rows get a zero gradient,
 * so their moments decay and weight decay shrinks them (costs a pass over
 * the whole table per step). */
void fr_optimizer_set_dense_rows(fr_optimizer *opt, int dense);
fr_status fr_optimizer_step(fr_optimizer *opt);
int64_t fr_optimizer_steps(const fr_optimizer *opt);
/* The Adam moments of p (rows x cols each, on the backend, owned by the
 * optimiser), for checkpoints and tests; both NULL before p's first Adam
 * step and for SGD. FR_ERR_INVALID if p is not in the optimiser's set. */
fr_status fr_optimizer_moments(const fr_optimizer *opt, const fr_param *p,
                               fr_buffer **m, fr_buffer **v);
/* Restoring a saved state (checkpoints): the step count (Adam's bias
 * correction counts it; >= 0), and p's moments allocated (zeroed, as a
 * first step would) when p has none yet, for the caller to upload into.
 * An optimiser given another's step count and moments goes on exactly as
 * that one would. FR_ERR_INVALID for SGD's moments, a parameter that is
 * not trainable or not in the set, or a negative count. */
fr_status fr_optimizer_set_steps(fr_optimizer *opt, int64_t steps);
fr_status fr_optimizer_moments_alloc(fr_optimizer *opt, const fr_param *p,
                                     fr_buffer **m, fr_buffer **v);

const char *fr_optim_kind_name(fr_optim_kind kind);
/* The kind fr_optim_kind_name names ("sgd", "adam", "adamw");
 * FR_ERR_INVALID for any other name. */
fr_status fr_optim_kind_parse(const char *name, fr_optim_kind *kind);

#ifdef __cplusplus
}
#endif
#endif
