/* fed_screen.c — what the server does with an update before it may enter
 * the aggregate: refuse what is not well formed (rows out of range or out
 * of their groups), inject the configured faults (tests and studies),
 * refuse what is not finite, add the client's local noise, clip to the norm
 * bound, refuse what secure aggregation's fixed point cannot hold. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fed/fed_internal.h"
#include "fedrec/privacy.h"
#include "fedrec/rng.h"

/* Squared L2 norm of a client's whole update (table rows, dense part). */
static double update_norm2(const fr_fed *p, const fr_fed_upload *out, const float *dense)
{
    double norm2 = 0;
    for (size_t i = 0, n = out->n_rows * p->st.width; i < n; i++)
        norm2 += (double)out->delta[i] * out->delta[i];
    for (size_t i = 0; dense && i < p->st.n_dense; i++)
        norm2 += (double)dense[i] * dense[i];
    return norm2;
}

/* Whether n floats are all finite: a float is infinite or NaN when its
 * exponent bits are all ones. An OR over integers has no order, so the
 * loop vectorises (a float sum would not, without -ffast-math). */
static int floats_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

/* Whether every value of the update is finite (cheaper than the norm when
 * nothing needs the norm). */
static int all_finite(const fr_fed *p, const fr_fed_upload *out, const float *dense)
{
    return floats_finite(out->delta, out->n_rows * p->st.width) && (!dense || floats_finite(dense, p->st.n_dense));
}

/* Whether every value the client would mask (weight x change, as
 * fr_fed_secure_aggregate computes it) is below secure aggregation's bound
 * for a sum over the round's sampled clients: beyond it the fixed-point
 * sum would wrap around unseen. */
static int fits_secure_sum(const fr_fed *p, const fr_fed_upload *out, const float *dense)
{
    double bound = fr_secagg_bound(p->n_sampled);
    float weight = p->o.weighted ? (float)out->samples : 1.0f;
    for (size_t i = 0, n = out->n_rows * p->st.width; i < n; i++)
        if (!(fabs((double)(weight * out->delta[i])) < bound))
            return 0;
    for (size_t i = 0; dense && i < p->st.n_dense; i++)
        if (!(fabs((double)(weight * dense[i])) < bound))
            return 0;
    return 1;
}

/* Whether client c's personal values (shared: they travel too) are finite. */
static int personal_finite(const fr_fed *p, size_t c)
{
    size_t n = p->ops->n_personal;
    float buf[1025], *v = n <= 1025 ? buf : malloc(n * sizeof *v);
    if (!v)
        return 0; /* refuse what cannot be checked */
    p->ops->personal_get(p->model, c, v);
    int finite = 1;
    for (size_t i = 0; i < n; i++)
        finite = finite && isfinite(v[i]);
    if (v != buf)
        free(v);
    return finite;
}

/* Whether an upload is well formed: its rows within the table, sorted
 * into the groups its group_start says, the buffers as large as it
 * claims, the dense change present. A client that sends anything else (a
 * bug, or a client trying to write rows it has no business with, or to
 * count twice in one group's range) is refused, as one whose update is
 * not finite: aggregation reads rows and deltas by these counts. */
static int well_formed(const fr_fed *p, const fr_fed_upload *out)
{
    size_t n = out->n_rows, rows = p->st.n_rows;
    if (n > 0 && (!out->rows || !out->delta || n > out->cap_rows || n > rows))
        return 0;
    if (p->st.n_dense && !out->dense_delta)
        return 0;
    if (out->group_start[0] != 0 || out->group_start[FR_FED_GROUPS] != n)
        return 0;
    /* Row r is in group g exactly when first(g) <= r < first(g + 1): two
     * bounds per group instead of a division per row. */
    for (size_t g = 0; g < FR_FED_GROUPS; g++) {
        if (out->group_start[g + 1] < out->group_start[g])
            return 0;
        int64_t lo = (int64_t)fr_fed_group_first(g, rows), hi = (int64_t)fr_fed_group_first(g + 1, rows);
        for (size_t r = out->group_start[g]; r < out->group_start[g + 1]; r++)
            if (out->rows[r] < lo || out->rows[r] >= hi)
                return 0;
    }
    return 1;
}

float fr_fed_fault_factor(uint64_t seed, unsigned round_key, size_t client, double fault_nan, double fault_huge)
{
    if (!(fault_nan > 0 || fault_huge > 0))
        return 1.0f;
    fr_rng rng;
    fr_rng_init(&rng, seed, round_key, (uint32_t)client, FR_RNG_FAULT);
    double draw = fr_rng_uniform_double(&rng);
    return draw < fault_nan ? NAN : draw < fault_nan + fault_huge ? 1e6f : 1.0f;
}

int fr_fed_screen_values(uint64_t seed, unsigned round_key, size_t client, double fault_nan, double fault_huge,
                         double clip_norm, float *delta, size_t n)
{
    float factor = fr_fed_fault_factor(seed, round_key, client, fault_nan, fault_huge);
    for (size_t i = 0; factor != 1.0f && i < n; i++)
        delta[i] *= factor;
    int changed = factor != 1.0f;
    if (!(clip_norm > 0))
        return floats_finite(delta, n) ? 1 + changed : 0;
    double norm2 = 0;
    for (size_t i = 0; i < n; i++)
        norm2 += (double)delta[i] * delta[i];
    if (!isfinite(norm2))
        return 0;
    if (norm2 > clip_norm * clip_norm) {
        float scale = (float)(clip_norm / sqrt(norm2));
        for (size_t i = 0; i < n; i++)
            delta[i] *= scale;
        changed = 1;
    }
    return 1 + changed;
}

void fr_fed_screen_update(fr_fed *p, size_t u, fr_fed_upload *out)
{
    if (!well_formed(p, out)) {
        out->rejected = 1;
        out->n_rows = 0; /* nothing of it is read, counted or exchanged */
        return;
    }
    size_t n = out->n_rows * p->st.width;
    float *dense = p->st.dense ? out->dense_delta : NULL;
    if (p->o.fault_nan > 0 || p->o.fault_huge > 0) {
        float factor = fr_fed_fault_factor(p->o.seed, p->round + 1, u, p->o.fault_nan, p->o.fault_huge);
        for (size_t i = 0; factor != 1.0f && i < n; i++)
            out->delta[i] *= factor;
        for (size_t i = 0; dense && factor != 1.0f && i < p->st.n_dense; i++)
            dense[i] *= factor;
    }
    /* The norm only where a clip or the noise reads it. */
    int need_norm = p->o.clip_norm > 0 || p->o.local_noise > 0;
    double norm2 = need_norm ? update_norm2(p, out, dense) : 0.0;
    int finite = need_norm ? isfinite(norm2) : all_finite(p, out, dense);
    if (p->o.share_personal) /* the personal values travel too */
        finite = finite && personal_finite(p, u);
    if (!finite) {
        out->rejected = 1;
        return;
    }
    if (p->o.local_noise > 0) { /* before the clip, which then bounds what leaves the client (DP needs it) */
        fr_fed_local_noise(p, u, out);
        norm2 = update_norm2(p, out, dense);
    }
    if (p->o.clip_norm > 0 && norm2 > p->o.clip_norm * p->o.clip_norm) {
        float scale = (float)(p->o.clip_norm / sqrt(norm2));
        for (size_t i = 0; i < n; i++)
            out->delta[i] *= scale;
        for (size_t i = 0; dense && i < p->st.n_dense; i++)
            dense[i] *= scale;
    }
    if (p->o.secure_agg && !fits_secure_sum(p, out, dense))
        out->rejected = 1;
}
