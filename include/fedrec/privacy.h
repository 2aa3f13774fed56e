/* fedrec/privacy.h — what protects the clients' updates: the Rényi-DP
 * accountant of DP-FedAvg (client-level differential privacy through the
 * sampled Gaussian mechanism), and secure aggregation by pairwise additive
 * masks. The rating engine uses both (fedrec/pfedrec.h, doc/PRIVACY.md);
 * they are public so that a study can check the accounting or the masks
 * on its own.
 *
 * Accounting: a round that samples each client with probability q, clips
 * each update to L2 norm C and adds N(0, sigma^2 C^2) to the sum is the
 * sampled Gaussian mechanism; its RDP at integer order a is
 *   log( sum_k binom(a,k) (1-q)^(a-k) q^k exp((k^2 - k) / (2 sigma^2)) ) / (a - 1)
 * (Mironov, Talwar, Zhang 2019), rounds add, and (epsilon, delta) follows
 * by the conversion of Balle et al. 2020:
 *   epsilon = min_a  T rdp(a) + log((a-1)/a) - (log delta + log a) / (a - 1).
 *
 * Secure aggregation: each client's vector is encoded in 64-bit fixed point
 * (FR_SECAGG_FRACTION_BITS fractional bits) and, for every neighbour it is
 * paired with, a mask drawn from the pair's seed is added by the lower id
 * and subtracted by the higher, modulo 2^64. The server adds the masked
 * vectors: the masks cancel and the sum of the encoded vectors is exact,
 * while one masked vector alone is uniformly distributed. Pairs form a
 * ring over the round's participants (each paired with its `neighbours`
 * nearest on both sides, everyone with everyone when there are few). */
#ifndef FEDREC_PRIVACY_H
#define FEDREC_PRIVACY_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Rényi-DP accountant ------------------------------------------------ */

/* epsilon after `rounds` rounds of the sampled Gaussian mechanism with
 * sampling rate q in (0, 1] and noise multiplier sigma > 0, at delta in
 * (0, 1); *order_out (may be NULL) is the RDP order that gave it. */
fr_status fr_dp_epsilon(double q, double sigma, unsigned rounds, double delta, double *epsilon,
                        double *order_out);
/* The smallest noise multiplier whose epsilon after `rounds` rounds is at
 * most target (bisection to 1e-4 relative). */
fr_status fr_dp_calibrate(double q, unsigned rounds, double delta, double target, double *sigma);

/* ---- secure aggregation -------------------------------------------------- */

#define FR_SECAGG_FRACTION_BITS 32

typedef struct fr_secagg {
    uint64_t seed;           /* the run's seed: pair seeds derive from it */
    uint32_t round;
    const int32_t *clients;  /* the round's participants, ascending ids */
    size_t n_clients;
    size_t neighbours;       /* pairs on each side of the ring (>= 1) */
} fr_secagg;

/* The magnitude a client's values must stay below for the sum of
 * n_clients of them to fit the fixed point: 2^(63 - FR_SECAGG_FRACTION_BITS)
 * / n_clients (2^31 / n). A larger value would wrap around 2^64 unseen, so
 * the rating engine rejects an update holding one, like a non-finite one,
 * before masking (with n = the round's sampled clients, which no count of
 * participants exceeds). */
double fr_secagg_bound(size_t n_clients);
/* Encode x[0..len) in fixed point and add client index `at`'s masks: out
 * is what that client sends. FR_ERR_NUMERIC when a value is not finite or
 * not below fr_secagg_bound(sa->n_clients). */
fr_status fr_secagg_mask(const fr_secagg *sa, size_t at, const float *x, size_t len, uint64_t *out);
/* sum += masked (mod 2^64): the server's side. */
void fr_secagg_add(uint64_t *sum, const uint64_t *masked, size_t len);
/* The decoded sum, times scale. */
void fr_secagg_decode(const uint64_t *sum, size_t len, double scale, float *out);
/* Whether clients at indices i and j are paired (symmetric). */
int fr_secagg_paired(const fr_secagg *sa, size_t i, size_t j);

#ifdef __cplusplus
}
#endif
#endif
