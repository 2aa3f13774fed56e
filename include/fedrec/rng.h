/* fedrec/rng.h — the counter-based random generator behind every draw.
 *
 * Philox4x32-10 (Salmon et al., SC'11). A stream is keyed by
 * (seed, round, client, purpose), and its n-th number depends only on that
 * key and n. So a draw does not depend on which thread or MPI rank makes it,
 * nor on the order clients run in, and a resumed run repeats the draws of an
 * uninterrupted one. Use a distinct purpose for each kind of draw. */
#ifndef FEDREC_RNG_H
#define FEDREC_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Purposes: which kind of draw a stream serves. Add new ones at the end. */
enum fr_rng_purpose {
    FR_RNG_INIT = 1,      /* parameter initialisation */
    FR_RNG_DROPOUT,       /* dropout masks */
    FR_RNG_SHUFFLE,       /* batch order */
    FR_RNG_NEGATIVES,     /* negative sampling */
    FR_RNG_SAMPLING,      /* client sampling */
    FR_RNG_DATA,          /* synthetic data generation */
    FR_RNG_SPLIT,         /* train/validation/test split */
    FR_RNG_TEST,          /* reserved for tests */
    FR_RNG_COORDINATION,  /* federated conflict coordination: pair order */
    FR_RNG_COMBINE,       /* gradient combiners: RLW weights, orders, GradDrop */
    FR_RNG_AUX,           /* auxiliary tasks' pairs and their negatives */
    FR_RNG_LATENCY,       /* simulated client arrival times (stragglers) */
    FR_RNG_FAULT,         /* injected client faults */
    FR_RNG_LOCAL_NOISE,   /* clients' local Laplace noise */
    FR_RNG_DP_NOISE,      /* DP-FedAvg: the server's Gaussian noise */
    FR_RNG_SECAGG,        /* secure aggregation: pairwise masks */
    FR_RNG_TUNE           /* `fedrec tune --random`: the trials' values */
};

typedef struct fr_rng {
    uint32_t key[2];      /* Philox key: derived from seed and purpose */
    uint32_t ctr_hi[2];   /* high counter words: round and client */
    uint64_t counter;     /* low 64 bits of the counter: block index */
    uint32_t block[4];    /* the current output block */
    unsigned used;        /* words of block already handed out (4 = empty) */
} fr_rng;

/* Start the stream for (seed, round, client, purpose) at its first number. */
void fr_rng_init(fr_rng *rng, uint64_t seed, uint32_t round, uint32_t client,
                 uint32_t purpose);

/* Jump to the n-th 32-bit number of the stream (for random access). */
void fr_rng_seek(fr_rng *rng, uint64_t n);

uint32_t fr_rng_u32(fr_rng *rng);
uint64_t fr_rng_u64(fr_rng *rng);
/* Uniform in [0, 1), 24 random bits. */
float fr_rng_uniform(fr_rng *rng);
/* Uniform in [0, 1), 53 random bits. */
double fr_rng_uniform_double(fr_rng *rng);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint32_t fr_rng_below(fr_rng *rng, uint32_t n);
/* Standard normal (Box-Muller on doubles). */
float fr_rng_normal(fr_rng *rng);

/* One Philox4x32-10 block: the building block, exposed for tests. */
void fr_philox4x32_10(const uint32_t counter[4], const uint32_t key[2],
                      uint32_t out[4]);

#ifdef __cplusplus
}
#endif
#endif
