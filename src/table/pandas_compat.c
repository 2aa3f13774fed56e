/* pandas_compat.c — pandas 1.x's merge order and DataFrame.sample split,
 * reproduced exactly (see table/pandas_compat.h) on numpy's legacy
 * generator (core/mt19937.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/mt19937.h"
#include "table/pandas_compat.h"

fr_status fr_pandas_merge_order(uint32_t *frame, size_t n, const int32_t *key, size_t key_stride, size_t n_keys)
{
    /* pandas numbers the keys in order of first appearance in the left
     * frame and emits the rows key by key: a stable counting sort by that
     * number. */
    size_t *start = malloc((n_keys + 1) * sizeof *start);
    int64_t *group = malloc((n_keys ? n_keys : 1) * sizeof *group);
    uint32_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!start || !group || !out) {
        free(start);
        free(group);
        free(out);
        return fr_fail_nomem("merge order", n * 4 + n_keys * 16);
    }
    for (size_t k = 0; k < n_keys; k++)
        group[k] = -1;
    memset(start, 0, (n_keys + 1) * sizeof *start);
    size_t groups = 0;
    fr_status s = FR_OK;
    for (size_t p = 0; p < n; p++) {
        int32_t k = key[(size_t)frame[p] * key_stride];
        if (k < 0 || (size_t)k >= n_keys) {
            s = fr_fail(FR_ERR_INVALID, "merge order: key %d of row %u outside [0, %zu)", (int)k, frame[p],
                        n_keys);
            break;
        }
        if (group[k] < 0)
            group[k] = (int64_t)groups++;
        start[group[k] + 1]++;
    }
    if (s == FR_OK) {
        for (size_t g = 0; g < groups; g++)
            start[g + 1] += start[g];
        for (size_t p = 0; p < n; p++)
            out[start[group[key[(size_t)frame[p] * key_stride]]]++] = frame[p];
        memcpy(frame, out, n * sizeof *frame);
    }
    free(start);
    free(group);
    free(out);
    return s;
}

size_t fr_pandas_round(double x)
{
    double whole = floor(x), part = x - whole;
    if (part > 0.5 || (part == 0.5 && fmod(whole, 2.0) != 0.0))
        whole += 1.0;
    return (size_t)whole;
}

/* How many rows DataFrame.sample(frac) takes from n: round(frac * n). */
static fr_status sample_size(double frac, size_t n, size_t *k)
{
    if (!(frac >= 0.0 && frac <= 1.0))
        return fr_fail(FR_ERR_INVALID, "split: a share of %g, expected one in [0, 1]", frac);
    *k = fr_pandas_round(frac * (double)n);
    if (*k > n)
        *k = n;
    return FR_OK;
}

/* DataFrame.sample of k of the n frame positions from[]: the chosen ones
 * into chosen (in sample order), the others into others (in frame order);
 * perm and taken are n-long scratch. */
static void sample(const uint32_t *from, size_t n, size_t k, uint32_t seed, uint32_t *chosen, uint32_t *others,
                   uint32_t *perm, uint8_t *taken)
{
    fr_mt19937 m;
    fr_mt19937_seed(&m, seed);
    fr_mt19937_permutation(&m, perm, (uint32_t)n);
    memset(taken, 0, n);
    for (size_t i = 0; i < k; i++) {
        chosen[i] = from[perm[i]];
        taken[perm[i]] = 1;
    }
    for (size_t i = 0, o = 0; i < n; i++)
        if (!taken[i])
            others[o++] = from[i];
}

fr_status fr_pandas_sample_split(size_t n, uint32_t seed, const double share[3], uint32_t *positions,
                                 size_t counts[3])
{
    if (n > UINT32_MAX)
        return fr_fail(FR_ERR_INVALID, "split: %zu rows, at most 2^32 - 1 supported", n);
    if (!(share[1] + share[2] > 0.0))
        return fr_fail(FR_ERR_INVALID, "split: validation and test shares %g and %g, expected a positive sum",
                       share[1], share[2]);
    size_t n_train = 0, n_valid = 0;
    FR_TRY(sample_size(share[0], n, &n_train));
    FR_TRY(sample_size(share[1] / (share[1] + share[2]), n - n_train, &n_valid));
    uint32_t *frame = malloc((n ? n : 1) * sizeof *frame);
    uint32_t *rest = malloc((n ? n : 1) * sizeof *rest);
    uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
    uint8_t *taken = malloc(n ? n : 1);
    if (!frame || !rest || !perm || !taken) {
        free(frame);
        free(rest);
        free(perm);
        free(taken);
        return fr_fail_nomem("split", n * 13);
    }
    for (size_t p = 0; p < n; p++)
        frame[p] = (uint32_t)p;
    sample(frame, n, n_train, seed, positions, rest, perm, taken);
    sample(rest, n - n_train, n_valid, seed, positions + n_train, positions + n_train + n_valid, perm, taken);
    counts[0] = n_train;
    counts[1] = n_valid;
    counts[2] = n - n_train - n_valid;
    free(frame);
    free(rest);
    free(perm);
    free(taken);
    return FR_OK;
}
