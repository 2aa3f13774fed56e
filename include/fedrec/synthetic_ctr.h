/* fedrec/synthetic_ctr.h — a generated click-through data set with planted
 * structure, so that every command works without a data download.
 *
 * Each row has `fields` categorical features (value v of field f has the
 * global id f * vocab + v, so one embedding table serves all fields),
 * `numeric` real features, and a 0/1 label. Values follow a Zipf-like
 * popularity per field. The label is drawn from a planted logistic model:
 * every value has a hidden factor vector; the logit sums a first-order term
 * per value, pairwise factor interactions between fields, a linear term on
 * the numeric features and a bias chosen for a click rate near 25 %. A model
 * that learns embeddings and their interactions can therefore beat a
 * constant predictor by a clear margin. Everything is drawn from the
 * counter-based generator keyed by the seed, so the same seed gives the
 * same data on any machine. */
#ifndef FEDREC_SYNTHETIC_CTR_H
#define FEDREC_SYNTHETIC_CTR_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_ctr_spec {
    uint64_t seed;
    size_t rows;
    size_t fields;   /* categorical fields, >= 1 */
    size_t vocab;    /* values per field, >= 2 */
    size_t numeric;  /* numeric features, >= 0 */
} fr_ctr_spec;

typedef struct fr_ctr_data {
    size_t rows, fields, vocab, numeric;
    int32_t *ids;     /* rows x fields global value ids */
    float *numbers;   /* rows x numeric */
    float *labels;    /* rows */
} fr_ctr_data;

fr_status fr_ctr_generate(const fr_ctr_spec *spec, fr_ctr_data *out);
void fr_ctr_free(fr_ctr_data *data);

#ifdef __cplusplus
}
#endif
#endif
