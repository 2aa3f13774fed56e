/* params_checkpoint.h — a parameter set's values and an optimiser's state
 * in a checkpoint (internal), shared by the jobs whose checkpoints hold
 * models (msmt, fedmsmt): each parameter's values in the set's order,
 * every role; an optimiser as its step count, its parameter count and one
 * byte per parameter (1: the parameter has Adam moments), then those
 * moments, m then v, parameter by parameter. Values go through a caller's
 * scratch array of fr_ckpt_largest_param floats. */
#ifndef FR_NN_PARAMS_CHECKPOINT_H
#define FR_NN_PARAMS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fedrec/optim.h"
#include "fedrec/params.h"
#include "io/checkpoint_file.h"

/* An optimiser's part of a checkpoint before its flags. */
typedef struct fr_ckpt_opt_head {
    int64_t steps;
    uint64_t n_params;
} fr_ckpt_opt_head;

/* The most values a parameter of the n sets holds (at least 1). */
size_t fr_ckpt_largest_param(fr_param_set *const *sets, size_t n);

/* ---- writing ---------------------------------------------------------- */

/* opt (stepping set): its head, its flags (malloc'd into *flags, one byte
 * per parameter) and the bytes its moments take, added to *moment_bytes. */
fr_status fr_ckpt_opt_measure(fr_optimizer *opt, fr_param_set *set, fr_ckpt_opt_head *head, unsigned char **flags,
                              uint64_t *moment_bytes);
/* Every parameter's values, in the set's order. */
fr_status fr_ckpt_write_values(fr_ckpt_writer *w, fr_param_set *set, float *tmp);
/* The moments flagged, m then v, parameter by parameter. */
fr_status fr_ckpt_write_moments(fr_ckpt_writer *w, fr_optimizer *opt, fr_param_set *set,
                                const unsigned char *flags, float *tmp);

/* ---- reading ---------------------------------------------------------- */

/* Optimiser `which` (named in messages, 1-based) of a checkpoint, its head
 * and flags (may be NULL when the head's count is wrong), against the set
 * it steps in this run; sgd: this run's optimiser keeps no moments. Adds
 * the bytes its moments take to *moment_bytes. */
fr_status fr_ckpt_opt_check(const char *path, fr_param_set *set, size_t which, const fr_ckpt_opt_head *head,
                            const unsigned char *flags, int sgd, uint64_t *moment_bytes);
/* Every parameter's values from the file, in the set's order. */
fr_status fr_ckpt_read_values(FILE *f, const char *path, fr_param_set *set, float *tmp);
/* The optimiser's step count and flagged moments (checked before). */
fr_status fr_ckpt_read_moments(FILE *f, const char *path, fr_optimizer *opt, fr_param_set *set,
                               const fr_ckpt_opt_head *head, const unsigned char *flags, float *tmp);

#endif
