/* fedrec/params.h — named, role-tagged model parameters.
 *
 * Every trainable tensor of a model is an fr_param with a stable name
 * ("expert.3.fc1.weight") and a role that tells federation what to do with
 * it. The parameter set is the only view of a model the federation engine
 * has: it exports the values of chosen roles as one flat host vector and
 * imports them back, in the order the parameters were added.
 *
 * Gradients: a dense parameter has a dense gradient buffer of the same
 * shape. A row-sparse parameter (an embedding table) keeps the gradient of
 * the rows a batch touched only: the list of touched row ids (host) and a
 * compact gradient buffer holding one row per touched id, in list order,
 * plus one discard row (index touched_cap) that absorbs gradient meant for
 * no row and is never read. */
#ifndef FEDREC_PARAMS_H
#define FEDREC_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_role {
    FR_ROLE_GLOBAL = 0, /* aggregated over all clients */
    FR_ROLE_GROUP,      /* aggregated over the clients that hold it */
    FR_ROLE_LOCAL,      /* never leaves the client */
    FR_ROLE_BN_LOCAL,   /* batch-norm statistics/affine kept per client */
    FR_ROLE_FROZEN,     /* not trained */
    FR_ROLE_COUNT
} fr_role;

/* Role masks select several roles at once: FR_ROLE_BIT(FR_ROLE_GLOBAL) | ... */
#define FR_ROLE_BIT(role) (1u << (unsigned)(role))
#define FR_ROLES_ALL ((1u << FR_ROLE_COUNT) - 1u)

const char *fr_role_name(fr_role role);
fr_status fr_role_parse(const char *name, fr_role *out);

typedef struct fr_param {
    char *name;
    fr_role role;
    unsigned group;       /* federation group, for FR_ROLE_GROUP */
    size_t rows, cols;    /* shape; a vector is rows = 1 */
    int row_sparse;       /* gradient kept for touched rows only */
    int trainable;        /* 0 for frozen tensors and running statistics */
    float lr_scale;       /* per-parameter learning-rate multiplier (1) */
    fr_buffer *value;     /* rows x cols floats */
    fr_buffer *grad;      /* dense: rows x cols; row-sparse: capacity x cols */
    /* Row-sparse gradient bookkeeping (host side). */
    int32_t *touched;     /* ids of touched rows, in first-touch order */
    size_t n_touched;
    size_t touched_cap;   /* rows the compact gradient buffer can hold */
    fr_buffer *touched_dev; /* touched ids on the backend (int32) */
    int32_t *slot_of_row; /* row -> slot in touched, -1 if untouched */
    uint32_t name_hash;   /* FNV-1a of the name: keys its init stream */
} fr_param;

typedef struct fr_param_set fr_param_set;

fr_status fr_param_set_create(fr_backend *be, fr_param_set **out);
void fr_param_set_free(fr_param_set *set);
fr_backend *fr_param_set_backend(const fr_param_set *set);

/* Add a parameter; values start at zero. The name must be unique.
 * trainable = 0 gives no gradient buffer. */
fr_status fr_param_add(fr_param_set *set, const char *name, fr_role role,
                       size_t rows, size_t cols, int row_sparse, int trainable,
                       fr_param **out);

size_t fr_param_set_count(const fr_param_set *set);
fr_param *fr_param_set_at(fr_param_set *set, size_t i);
fr_param *fr_param_set_find(fr_param_set *set, const char *name);

/* Total values of the parameters whose role is in role_mask. */
size_t fr_param_set_numel(const fr_param_set *set, unsigned role_mask);
/* Total values of the trainable parameters (what PyTorch's
 * parameters() counts: no running statistics, no frozen tensors). */
size_t fr_param_set_numel_trainable(const fr_param_set *set);

/* Copy the values of the parameters in role_mask to/from one flat host
 * vector of exactly fr_param_set_numel(set, role_mask) floats, in the order
 * the parameters were added. */
fr_status fr_param_set_export(const fr_param_set *set, unsigned role_mask,
                              float *dst, size_t n);
fr_status fr_param_set_import(fr_param_set *set, unsigned role_mask,
                              const float *src, size_t n);

/* Per-group learning rates: set lr_scale of every parameter whose role is
 * in role_mask and whose name starts with `prefix` (NULL or "": any name);
 * *matched (may be NULL) gets how many. scale must be finite and >= 0. */
fr_status fr_param_set_lr_scale(fr_param_set *set, unsigned role_mask,
                                const char *prefix, float scale,
                                size_t *matched);

/* Zero every gradient; row-sparse parameters forget their touched rows. */
fr_status fr_param_set_zero_grad(fr_param_set *set);

/* Fill p's values: uniform in [-bound, bound] (Xavier/He style) or normal
 * with standard deviation `std`, from the stream (seed, 0, name hash,
 * FR_RNG_INIT): the values depend on the seed and the name only, not on the
 * order parameters were created in. */
fr_status fr_param_init_uniform(fr_param *p, uint64_t seed, float bound);
fr_status fr_param_init_normal(fr_param *p, uint64_t seed, float std);
fr_status fr_param_fill(fr_param *p, float value);

/* Row-sparse: make sure rows ids[0..n) are in the touched list (growing the
 * compact gradient buffer as needed, new slots zeroed) and write each id's
 * slot into slots[] (host). */
fr_status fr_param_touch_rows(fr_param *p, fr_backend *be, const int32_t *ids,
                              size_t n, int32_t *slots);

#ifdef __cplusplus
}
#endif
#endif
