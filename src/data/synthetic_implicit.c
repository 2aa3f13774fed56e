/* synthetic_implicit.c — generated implicit-feedback data with planted
 * structure (see fedrec/ratings.h): every command that trains on ratings
 * works without a data download. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/search.h"
#include "core/error_internal.h"
#include "fedrec/ratings.h"
#include "fedrec/rng.h"

#define FACTORS 8

static char *name_of(char prefix, size_t i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%c%zu", prefix, i);
    size_t n = strlen(buf) + 1;
    char *s = malloc(n);
    if (s)
        memcpy(s, buf, n);
    return s;
}

fr_status fr_implicit_generate(const fr_implicit_spec *spec, fr_ratings *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = spec->users, ni = spec->items, per = spec->per_user;
    if (nu < 1 || ni < 10 || per < 3 || per * 2 > ni)
        return fr_fail(FR_ERR_INVALID, "synthetic ratings: need users >= 1, items >= 10 and 3 <= per_user <= items / 2 (got %zu, %zu, %zu)",
                       nu, ni, per);
    float *uf = malloc(nu * FACTORS * sizeof *uf), *vf = malloc(ni * FACTORS * sizeof *vf);
    double *cdf = malloc(ni * sizeof *cdf);
    unsigned char *taken = calloc(ni, 1);
    size_t cap = nu * (per + per / 2 + 1);
    out->user = malloc(cap * sizeof *out->user);
    out->item = malloc(cap * sizeof *out->item);
    out->rating = malloc(cap * sizeof *out->rating);
    out->time = malloc(cap * sizeof *out->time);
    out->user_names = calloc(nu, sizeof *out->user_names);
    out->item_names = calloc(ni, sizeof *out->item_names);
    int ok = uf && vf && cdf && taken && out->user && out->item && out->rating && out->time &&
             out->user_names && out->item_names;
    out->n_users = nu;
    out->n_items = ni;
    for (size_t u = 0; ok && u < nu; u++)
        ok = (out->user_names[u] = name_of('u', u)) != NULL;
    for (size_t i = 0; ok && i < ni; i++)
        ok = (out->item_names[i] = name_of('i', i)) != NULL;
    if (!ok) {
        free(uf); free(vf); free(cdf); free(taken);
        fr_ratings_free(out);
        return fr_fail_nomem("synthetic ratings", cap * 20);
    }
    fr_rng rng;
    for (size_t i = 0; i < ni; i++) {
        fr_rng_init(&rng, spec->seed, 0, (uint32_t)(nu + i), FR_RNG_DATA);
        for (int f = 0; f < FACTORS; f++)
            vf[i * FACTORS + f] = fr_rng_normal(&rng) / sqrtf(FACTORS);
    }
    /* Popularity ~ 1 / (rank + 10): a long tail without a single giant. */
    double acc = 0;
    for (size_t i = 0; i < ni; i++) {
        acc += 1.0 / ((double)i + 10.0);
        cdf[i] = acc;
    }
    for (size_t u = 0; u < nu; u++) {
        fr_rng_init(&rng, spec->seed, 0, (uint32_t)u, FR_RNG_DATA);
        for (int f = 0; f < FACTORS; f++)
            uf[u * FACTORS + f] = fr_rng_normal(&rng);
        /* Between per/2 and 3 per/2 interactions, mean per. */
        size_t want = per / 2 + fr_rng_below(&rng, (uint32_t)(per + 1));
        if (want < 3)
            want = 3;
        size_t got = 0, tries = 0, first = out->n;
        while (got < want && tries < 200 * want) {
            tries++;
            size_t lo = fr_cdf_draw(cdf, ni, acc, &rng);
            if (taken[lo])
                continue;
            float z = 0;
            for (int f = 0; f < FACTORS; f++)
                z += uf[u * FACTORS + f] * vf[lo * FACTORS + f];
            if (fr_rng_uniform(&rng) >= 1.0f / (1.0f + expf(-3.0f * z)))
                continue;
            taken[lo] = 1;
            out->user[out->n] = (int32_t)u;
            out->item[out->n] = (int32_t)lo;
            out->rating[out->n] = 1.0f;
            out->time[out->n] = (int64_t)got;
            out->n++;
            got++;
        }
        for (size_t k = first; k < out->n; k++)
            taken[out->item[k]] = 0;
    }
    free(uf);
    free(vf);
    free(cdf);
    free(taken);
    return FR_OK;
}
