/* fedrec/loss.h — losses: each returns the mean loss on the host and
 * writes the gradient of that mean with respect to its inputs. `scratch`
 * is a backend view of the stated size the caller provides. */
#ifndef FEDREC_LOSS_H
#define FEDREC_LOSS_H

#include <stddef.h>
#include "fedrec/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Binary cross-entropy on logits, mean over n: (1/n) sum w_i l_i with
 * l_i = max(z,0) - z y + log(1 + e^-|z|); weights.buf == NULL means w = 1.
 * dlogits_i = w_i (sigmoid(z_i) - y_i) / n. scratch: n floats. */
fr_status fr_loss_bce(fr_backend *be, size_t n, fr_view logits, fr_view labels,
                      fr_view weights, fr_view scratch, fr_view dlogits,
                      float *loss);

/* BPR: (1/n) sum -log sigmoid(pos_i - neg_i). dpos = -dneg =
 * (sigmoid(pos - neg) - 1) / n. scratch: 3n floats. */
fr_status fr_loss_bpr(fr_backend *be, size_t n, fr_view pos, fr_view neg,
                      fr_view scratch, fr_view dpos, fr_view dneg, float *loss);

/* MSE: (1/n) sum (p_i - y_i)^2; dp = 2 (p - y) / n. No scratch. */
fr_status fr_loss_mse(fr_backend *be, size_t n, fr_view pred, fr_view target,
                      fr_view dpred, float *loss);

#ifdef __cplusplus
}
#endif
#endif
