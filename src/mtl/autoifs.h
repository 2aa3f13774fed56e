/* autoifs.h — AutoIFS's network above the embedding (internal; see
 * ../shared/specs/autoifs.md and doc/MSMT.md): shared bottom MLP, the
 * scenario layer (shared linear plus a rank-r LoRA unit per scenario), the
 * task layer (shared weight plus a rank-r LoRA unit per task), the
 * selection network with one 4-way head per task, and the pruning of the
 * four information flows. msmt_model.c owns the embedding and calls these.
 *
 * The task layer's outputs are a few numbers per row and task, so the
 * flows, gates and logits are combined on the host from three small
 * matrices the device computes (the activation, the shared pre-activation
 * and the scenario-specific pre-activation, each times [W_t | A_1 .. A_T]). */
#ifndef FR_AUTOIFS_H
#define FR_AUTOIFS_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/backend.h"
#include "fedrec/msmt.h"
#include "fedrec/params.h"

typedef struct fr_autoifs fr_autoifs;

/* Parameters of the model go to model_ps; the selection network's to a
 * set of its own (fr_autoifs_selector_params). in: embedding width. */
fr_status fr_autoifs_create(fr_backend *be, fr_param_set *model_ps, const fr_msmt_options *o, size_t in,
                            size_t n_scenarios, size_t n_tasks, fr_autoifs **out);
void fr_autoifs_free(fr_autoifs *a);
fr_param_set *fr_autoifs_selector_params(fr_autoifs *a);
/* Search (soft gates sigmoid(tau * w), selector trained) or retrain (hard
 * gates 1[w > 0], selector frozen and run in inference mode). */
void fr_autoifs_set_phase(fr_autoifs *a, int retrain, float tau);
/* x: the embedding (n x in); x_sel: the selector's input (the same x in
 * search, a frozen copy's output in retrain); scen: host scenario ids.
 * Writes the logits task-major to the host array logits (T x n). */
fr_status fr_autoifs_forward(fr_autoifs *a, size_t n, fr_view x, fr_view x_sel, const int32_t *scen,
                             uint32_t step, int training, float *logits);
/* dlogits: host, task-major; dx (n x in) overwritten. */
fr_status fr_autoifs_backward(fr_autoifs *a, const float *dlogits, fr_view x, fr_view x_sel, fr_view dx);
/* Mean of the gates of the last forward for each flow (shsh, km, shm,
 * ksh) over rows and tasks: what the selector keeps. */
void fr_autoifs_gate_means(const fr_autoifs *a, double means[4]);
/* The sums behind those means and the gates counted (checkpoints). */
void fr_autoifs_gate_stats(const fr_autoifs *a, double sums[4], uint64_t *count);
void fr_autoifs_set_gate_stats(fr_autoifs *a, const double sums[4], uint64_t count);

#endif
