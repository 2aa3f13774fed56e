/* test_params.c — the parameter set: unique names, roles and masks,
 * flat export/import in insertion order, row-sparse touch bookkeeping,
 * zero_grad, deterministic initialisation by name, PyTorch's default
 * Linear initialisation (fr_linear_init_fan_in). */
#include <math.h>
#include <string.h>

#include "fedrec/fedrec.h"
#include "testutil.h"

int main(void)
{
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.threads = 1;
    fr_backend *be;
    CHECK_OK(fr_backend_open(&opt, &be));
    fr_param_set *ps;
    CHECK_OK(fr_param_set_create(be, &ps));
    fr_param *g, *l, *bn, *emb, *dup;
    CHECK_OK(fr_param_add(ps, "a.weight", FR_ROLE_GLOBAL, 2, 3, 0, 1, &g));
    CHECK_OK(fr_param_add(ps, "b.local", FR_ROLE_LOCAL, 1, 4, 0, 1, &l));
    CHECK_OK(fr_param_add(ps, "c.running_mean", FR_ROLE_BN_LOCAL, 1, 2, 0, 0, &bn));
    CHECK_OK(fr_param_add(ps, "d.table", FR_ROLE_GLOBAL, 10, 2, 1, 1, &emb));
    CHECK(fr_param_add(ps, "a.weight", FR_ROLE_LOCAL, 1, 1, 0, 1, &dup) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "a.weight"),
          "duplicate name accepted: %s", fr_last_error());
    CHECK(fr_param_set_count(ps) == 4, "count %zu", fr_param_set_count(ps));
    CHECK(fr_param_set_find(ps, "b.local") == l && !fr_param_set_find(ps, "zzz"), "find");
    CHECK(!bn->trainable && !bn->grad && g->grad && !emb->grad, "gradient buffers by kind");

    unsigned global = FR_ROLE_BIT(FR_ROLE_GLOBAL);
    CHECK(fr_param_set_numel(ps, global) == 6 + 20, "global numel %zu", fr_param_set_numel(ps, global));
    CHECK(fr_param_set_numel(ps, FR_ROLES_ALL) == 6 + 4 + 2 + 20, "all numel");
    CHECK(fr_param_set_numel(ps, FR_ROLE_BIT(FR_ROLE_GROUP)) == 0, "group numel");

    /* Export/import of the global parameters only, in insertion order. */
    float v[26], back[26];
    for (int i = 0; i < 26; i++)
        v[i] = (float)i + 0.5f;
    CHECK_OK(fr_param_set_import(ps, global, v, 26));
    float w[6];
    fr_buffer_download(g->value, 0, w, sizeof w);
    CHECK(w[0] == 0.5f && w[5] == 5.5f, "first global parameter got %g..%g", w[0], w[5]);
    float t[2];
    fr_buffer_download(emb->value, 0, t, sizeof t);
    CHECK(t[0] == 6.5f, "second global parameter starts at %g, expected 6.5", t[0]);
    float lv[4];
    fr_buffer_download(l->value, 0, lv, sizeof lv);
    CHECK(lv[0] == 0.0f, "import of global roles touched a local parameter");
    CHECK_OK(fr_param_set_export(ps, global, back, 26));
    CHECK(!memcmp(v, back, sizeof v), "export differs from import");
    CHECK(fr_param_set_export(ps, global, back, 25) == FR_ERR_INVALID, "short vector accepted");

    /* Row-sparse touch bookkeeping. */
    int32_t ids[] = {7, 2, 7, 9}, slots[4];
    CHECK_OK(fr_param_touch_rows(emb, be, ids, 4, slots));
    CHECK(emb->n_touched == 3 && slots[0] == 0 && slots[1] == 1 && slots[2] == 0 && slots[3] == 2,
          "slots %d %d %d %d, touched %zu", slots[0], slots[1], slots[2], slots[3], emb->n_touched);
    int32_t more[] = {2, 3};
    CHECK_OK(fr_param_touch_rows(emb, be, more, 2, slots));
    CHECK(emb->n_touched == 4 && slots[0] == 1 && slots[1] == 3 && emb->touched[3] == 3, "second touch");
    int32_t dev[4];
    fr_buffer_download(emb->touched_dev, 0, dev, sizeof dev);
    CHECK(dev[0] == 7 && dev[1] == 2 && dev[2] == 9 && dev[3] == 3, "device copy of touched rows");
    int32_t bad = 10;
    CHECK(fr_param_touch_rows(emb, be, &bad, 1, slots) == FR_ERR_INVALID, "row 10 of 10 accepted");
    CHECK(fr_param_touch_rows(g, be, ids, 1, slots) == FR_ERR_INVALID, "dense parameter touched");
    /* Growing past the initial capacity keeps earlier slots' gradients. */
    fr_buffer_upload(emb->grad, 0, (float[]){1.5f, 2.5f}, 8);
    fr_param *big;
    CHECK_OK(fr_param_add(ps, "e.big", FR_ROLE_GLOBAL, 500, 2, 1, 1, &big));
    int32_t first = 5;
    CHECK_OK(fr_param_touch_rows(big, be, &first, 1, slots));
    fr_buffer_upload(big->grad, 0, (float[]){3.0f, 4.0f}, 8);
    int32_t many[300];
    for (int i = 0; i < 300; i++)
        many[i] = 100 + i;
    int32_t many_slots[300];
    CHECK_OK(fr_param_touch_rows(big, be, many, 300, many_slots));
    float kept[2];
    fr_buffer_download(big->grad, 0, kept, sizeof kept);
    CHECK(kept[0] == 3.0f && kept[1] == 4.0f && big->touched_cap >= 301, "growth lost a gradient row");
    /* ... and the device list of touched rows keeps the ids from before
     * the growth (the optimisers read it); new rows' gradients are zero. */
    int32_t *dev_ids = malloc(301 * sizeof *dev_ids);
    float *grown = malloc(301 * 2 * sizeof *grown);
    fr_buffer_download(big->touched_dev, 0, dev_ids, 301 * sizeof *dev_ids);
    fr_buffer_download(big->grad, 0, grown, 301 * 2 * sizeof *grown);
    int ids_ok = dev_ids[0] == 5, zero_ok = 1;
    for (int i = 0; i < 300; i++) {
        ids_ok &= dev_ids[1 + i] == 100 + i;
        zero_ok &= grown[2 + 2 * i] == 0.0f && grown[3 + 2 * i] == 0.0f;
    }
    CHECK(ids_ok, "growth lost the device ids of earlier touched rows (first is %d, expected 5)", dev_ids[0]);
    CHECK(zero_ok, "newly touched rows start with a nonzero gradient");
    free(dev_ids);
    free(grown);

    /* zero_grad forgets touched rows and zeroes dense gradients. */
    fr_buffer_upload(g->grad, 0, v, 6 * sizeof(float));
    CHECK_OK(fr_param_set_zero_grad(ps));
    CHECK(emb->n_touched == 0 && emb->slot_of_row[7] == -1, "touched rows survived zero_grad");
    fr_buffer_download(g->grad, 0, w, sizeof w);
    CHECK(w[0] == 0 && w[5] == 0, "dense gradient survived zero_grad");

    /* Initialisation depends on seed and name, not on creation order. */
    fr_param_set *p2;
    CHECK_OK(fr_param_set_create(be, &p2));
    fr_param *x1, *x2;
    CHECK_OK(fr_param_add(p2, "other", FR_ROLE_GLOBAL, 3, 3, 0, 1, &x1));
    CHECK_OK(fr_param_add(p2, "a.weight", FR_ROLE_GLOBAL, 2, 3, 0, 1, &x2));
    CHECK_OK(fr_param_init_uniform(g, 99, 0.3f));
    CHECK_OK(fr_param_init_uniform(x2, 99, 0.3f));
    float u1[6], u2[6];
    fr_buffer_download(g->value, 0, u1, sizeof u1);
    fr_buffer_download(x2->value, 0, u2, sizeof u2);
    CHECK(!memcmp(u1, u2, sizeof u1), "same name and seed gave different values");
    for (int i = 0; i < 6; i++)
        CHECK(u1[i] >= -0.3f && u1[i] <= 0.3f, "uniform init out of bound: %g", u1[i]);
    CHECK_OK(fr_param_init_uniform(x2, 100, 0.3f));
    fr_buffer_download(x2->value, 0, u2, sizeof u2);
    CHECK(memcmp(u1, u2, sizeof u1) != 0, "another seed gave the same values");

    /* Per-group learning rates by role mask and name prefix. */
    size_t matched = 99;
    CHECK_OK(fr_param_set_lr_scale(ps, FR_ROLE_BIT(FR_ROLE_GLOBAL), "d.", 0.5f, &matched));
    CHECK(matched == 1 && emb->lr_scale == 0.5f && g->lr_scale == 1.0f && big->lr_scale == 1.0f,
          "prefix 'd.' matched %zu", matched);
    CHECK_OK(fr_param_set_lr_scale(ps, FR_ROLE_BIT(FR_ROLE_GLOBAL), NULL, 2.0f, &matched));
    CHECK(matched == 3 && g->lr_scale == 2.0f && emb->lr_scale == 2.0f && l->lr_scale == 1.0f,
          "all global: matched %zu", matched);
    CHECK_OK(fr_param_set_lr_scale(ps, FR_ROLE_BIT(FR_ROLE_LOCAL), "d.", 3.0f, &matched));
    CHECK(matched == 0 && l->lr_scale == 1.0f, "role mask ignored");
    CHECK(fr_param_set_lr_scale(ps, FR_ROLES_ALL, "", -1.0f, NULL) == FR_ERR_INVALID,
          "negative scale accepted");

    fr_role r;
    CHECK_OK(fr_role_parse("bn-local", &r));
    CHECK(r == FR_ROLE_BN_LOCAL && !strcmp(fr_role_name(FR_ROLE_FROZEN), "frozen"), "role names");
    CHECK(fr_role_parse("shared", &r) == FR_ERR_INVALID, "unknown role accepted");
    fr_param_set_free(p2);
    fr_param_set_free(ps);
    /* Fan-in initialisation: weight and bias in U(-1/sqrt(in), 1/sqrt(in))
     * (Xavier's bound for 64 -> 4 is sqrt(6/68) = 0.297, this one 0.125),
     * spread over the whole range, the bias no longer zero. */
    {
        fr_param_set *lps;
        CHECK_OK(fr_param_set_create(be, &lps));
        fr_linear lin;
        CHECK_OK(fr_linear_init(&lin, lps, "fc", 64, 4, 1, FR_ROLE_GLOBAL, 7));
        CHECK_OK(fr_linear_init_fan_in(&lin, 7));
        float lw[256], b[4];
        CHECK_OK(fr_buffer_download(lin.weight->value, 0, lw, sizeof lw));
        CHECK_OK(fr_buffer_download(lin.bias->value, 0, b, sizeof b));
        float bound = 0.125f, wmax = 0.0f, bmax = 0.0f;
        for (int i = 0; i < 256; i++)
            wmax = fmaxf(wmax, fabsf(lw[i]));
        for (int i = 0; i < 4; i++)
            bmax = fmaxf(bmax, fabsf(b[i]));
        CHECK(wmax <= bound && wmax > 0.9f * bound, "fan-in weights: max |w| %g, bound %g", (double)wmax,
              (double)bound);
        CHECK(bmax <= bound && bmax > 0.0f, "fan-in biases: max |b| %g, bound %g", (double)bmax, (double)bound);
        fr_param_set_free(lps);
    }

    fr_backend_close(be);
    return fr_test_finish("test_params");
}
