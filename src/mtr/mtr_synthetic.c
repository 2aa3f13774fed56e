/* mtr_synthetic.c — synthetic interactions with ratings, user links and
 * item categories from hidden factors (see fedrec/mtrec.h), so every
 * auxiliary task carries signal about the factors the main task needs.
 * Streams (seed, 0, row, FR_RNG_DATA) per user and per item (items offset
 * by the user count): the same seed gives the same data everywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/search.h"
#include "core/error_internal.h"
#include "mtr/mtr_internal.h"

#define FACTORS 8

static fr_status name_ids(size_t n, char ***out)
{
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out)
        return fr_fail_nomem("synthetic ids", n * sizeof **out);
    for (size_t i = 0; i < n; i++) {
        char buf[24];
        snprintf(buf, sizeof buf, "%zu", i);
        if (!((*out)[i] = strdup(buf)))
            return fr_fail_nomem("synthetic ids", 24);
    }
    return FR_OK;
}

static double dot(const float *a, const float *b)
{
    double s = 0;
    for (int k = 0; k < FACTORS; k++)
        s += (double)a[k] * b[k];
    return s;
}

fr_status fr_mtr_synthetic(const fr_mtr_synthetic_spec *sp, fr_mtr_data *out)
{
    memset(out, 0, sizeof *out);
    size_t nu = sp->users, ni = sp->items, nc = sp->categories;
    if (nu < 2 || ni < 10 || nc < 1 || nc > ni || sp->per_user < 3 || sp->per_user > ni / 2)
        return fr_fail(FR_ERR_INVALID,
                       "synthetic multi-task data: %zu users (>= 2), %zu items (>= 10), %zu categories (1 .. items), %zu per user (3 .. items / 2)",
                       nu, ni, nc, sp->per_user);
    float *fu = malloc(nu * FACTORS * sizeof *fu), *fi = malloc(ni * FACTORS * sizeof *fi);
    float *centre = malloc(nc * FACTORS * sizeof *centre);
    double *cdf = malloc(ni * sizeof *cdf);
    int32_t *category = malloc(ni * sizeof *category);
    size_t cap = nu * (sp->per_user * 3 / 2 + 1);
    fr_ratings r = {0};
    r.user = malloc(cap * sizeof *r.user);
    r.item = malloc(cap * sizeof *r.item);
    r.rating = malloc(cap * sizeof *r.rating);
    r.time = malloc(cap * sizeof *r.time);
    size_t n_links = nu * sp->links_per_user;
    int32_t *la = malloc((n_links ? n_links : 1) * sizeof *la);
    int32_t *lb = malloc((n_links ? n_links : 1) * sizeof *lb);
    int32_t *chosen = malloc(sp->per_user * 2 * sizeof *chosen);
    fr_status s = FR_OK;
    if (!fu || !fi || !centre || !cdf || !category || !r.user || !r.item || !r.rating || !r.time ||
        !la || !lb || !chosen)
        s = fr_fail_nomem("synthetic multi-task data", cap * 24 + (nu + ni) * FACTORS * 4);
    double scale = 1.0 / pow((double)FACTORS, 0.25); /* u.v ~ N(0, 1) */
    if (s == FR_OK) {
        fr_rng rng;
        fr_rng_init(&rng, sp->seed, 1, 0, FR_RNG_DATA);
        for (size_t c = 0; c < nc * FACTORS; c++)
            centre[c] = (float)(fr_rng_normal(&rng) * scale);
        double total = 0;
        for (size_t i = 0; i < ni; i++) {
            fr_rng_init(&rng, sp->seed, 0, (uint32_t)(nu + i), FR_RNG_DATA);
            category[i] = (int32_t)fr_rng_below(&rng, (uint32_t)nc);
            for (int k = 0; k < FACTORS; k++)
                fi[i * FACTORS + k] = (float)(0.8 * centre[category[i] * FACTORS + k] +
                                              0.6 * fr_rng_normal(&rng) * scale);
            total += 1.0 / pow((double)i + 10.0, 0.8); /* popularity by id */
            cdf[i] = total;
        }
        for (size_t u = 0; u < nu; u++) {
            fr_rng_init(&rng, sp->seed, 0, (uint32_t)u, FR_RNG_DATA);
            for (int k = 0; k < FACTORS; k++)
                fu[u * FACTORS + k] = (float)(fr_rng_normal(&rng) * scale);
        }
        for (size_t u = 0; u < nu; u++) {
            fr_rng_init(&rng, sp->seed, 2, (uint32_t)u, FR_RNG_DATA);
            size_t want = sp->per_user / 2 + fr_rng_below(&rng, (uint32_t)sp->per_user + 1), got = 0;
            for (size_t tries = 0; got < want && tries < want * 50; tries++) {
                size_t lo = fr_cdf_draw(cdf, ni, total, &rng);
                double affinity = dot(fu + u * FACTORS, fi + lo * FACTORS);
                if (fr_rng_uniform_double(&rng) >= 1.0 / (1.0 + exp(-3.0 * affinity)))
                    continue;
                int seen = 0;
                for (size_t k = 0; k < got; k++)
                    seen |= chosen[k] == (int32_t)lo;
                if (seen)
                    continue;
                chosen[got++] = (int32_t)lo;
                double level = 1.0 / (1.0 + exp(-(1.5 * affinity + 0.5 * fr_rng_normal(&rng))));
                r.user[r.n] = (int32_t)u;
                r.item[r.n] = (int32_t)lo;
                r.rating[r.n] = (float)(1 + (int)floor(level * 4.999));
                r.time[r.n] = (int64_t)r.n;
                r.n++;
            }
            /* links: of a few random users, the most similar */
            for (size_t l = 0; l < sp->links_per_user; l++) {
                int32_t best = -1;
                double best_sim = -INFINITY;
                for (int c = 0; c < 10; c++) {
                    int32_t v = (int32_t)fr_rng_below(&rng, (uint32_t)nu);
                    double sim = dot(fu + u * FACTORS, fu + (size_t)v * FACTORS);
                    if ((size_t)v != u && sim > best_sim) {
                        best_sim = sim;
                        best = v;
                    }
                }
                la[u * sp->links_per_user + l] = (int32_t)u;
                lb[u * sp->links_per_user + l] = best >= 0 ? best : (int32_t)((u + 1) % nu);
            }
        }
        r.n_users = nu;
        r.n_items = ni;
        s = name_ids(nu, &r.user_names);
        if (s == FR_OK)
            s = name_ids(ni, &r.item_names);
    }
    if (s == FR_OK)
        s = fr_mtr_data_split(&r, sp->seed, 0.6, 0.2, 0, out);
    if (s == FR_OK && n_links) {
        s = fr_mtr_relation_set(&out->links, nu, la, lb, n_links);
        la = lb = NULL;
    }
    if (s == FR_OK) {
        int32_t *item = malloc(ni * sizeof *item); /* one category each */
        s = item ? FR_OK : fr_fail_nomem("synthetic categories", ni * sizeof *item);
        for (size_t i = 0; s == FR_OK && i < ni; i++)
            item[i] = (int32_t)i;
        if (s == FR_OK)
            s = fr_mtr_categories_set(out, item, category, ni, nc);
        free(item);
    }
    free(fu);
    free(fi);
    free(centre);
    free(cdf);
    free(category);
    free(la);
    free(lb);
    free(chosen);
    fr_ratings_free(&r);
    if (s != FR_OK)
        fr_mtr_data_free(out);
    return s;
}
