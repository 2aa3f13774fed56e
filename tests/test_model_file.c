/* test_model_file.c — model files: round trip, and every kind of damage
 * (truncation, a flipped byte, another version, another model, a missing
 * file) refused with a clear message while the destination of a failed
 * save keeps its old contents; models of several parameter sets (parts)
 * and reading a whole file on the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedrec/fedrec.h"
#include "fedrec/model_file.h"
#include "testutil.h"

static fr_param_set *make_set(fr_backend *be, size_t hidden, float base)
{
    fr_param_set *ps;
    fr_param *p;
    if (fr_param_set_create(be, &ps) != FR_OK)
        return NULL;
    fr_param_add(ps, "emb.table", FR_ROLE_GLOBAL, 10, 4, 1, 1, &p);
    fr_param_add(ps, "fc.weight", FR_ROLE_LOCAL, 4, hidden, 0, 1, &p);
    fr_param_add(ps, "bn.running_mean", FR_ROLE_BN_LOCAL, 1, hidden, 0, 0, &p);
    size_t n = fr_param_set_numel(ps, FR_ROLES_ALL);
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = base + (float)i * 0.25f;
    fr_param_set_import(ps, FR_ROLES_ALL, v, n);
    free(v);
    return ps;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void rewrite(const char *src, const char *dst, long keep, long flip_at)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int c;
    long i = 0;
    while ((c = fgetc(in)) != EOF && (keep < 0 || i < keep)) {
        if (i == flip_at)
            c ^= 0x40;
        fputc(c, out);
        i++;
    }
    fclose(in);
    fclose(out);
}

int main(void)
{
    char dir[] = "/tmp/fr_model_test_XXXXXX";
    if (!mkdtemp(dir))
        TEST_SKIP("cannot create a temporary folder");
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/model.frm", dir);
    snprintf(bad, sizeof bad, "%s/bad.frm", dir);

    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.threads = 1;
    fr_backend *be;
    CHECK_OK(fr_backend_open(&opt, &be));
    fr_param_set *a = make_set(be, 3, 1.0f);
    CHECK_OK(fr_model_save(path, a, "[run]\nseed = 7\n"));

    /* Round trip into a set of the same shape with other values. */
    fr_param_set *b = make_set(be, 3, -5.0f);
    CHECK_OK(fr_model_load(path, b));
    size_t n = fr_param_set_numel(a, FR_ROLES_ALL);
    float *va = malloc(n * sizeof *va), *vb = malloc(n * sizeof *vb);
    fr_param_set_export(a, FR_ROLES_ALL, va, n);
    fr_param_set_export(b, FR_ROLES_ALL, vb, n);
    CHECK(memcmp(va, vb, n * sizeof *va) == 0, "loaded values differ");
    char *meta = NULL;
    CHECK_OK(fr_model_read_meta(path, &meta));
    CHECK(meta && !strcmp(meta, "[run]\nseed = 7\n"), "metadata differs: %s", meta ? meta : "(null)");
    free(meta);

    /* Damaged files: each refused, and the target set keeps its values. */
    long size = file_size(path);
    struct { long keep, flip; const char *expect; } cases[] = {
        {size - 1, -1, "corrupt or truncated"},
        {size / 2, -1, "corrupt or truncated"},
        {4, -1, "not a fedrec model"},
        {-1, size / 2, "checksum"},
        {-1, 0, "not a fedrec model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rewrite(path, bad, cases[i].keep, cases[i].flip);
        fr_param_set *c = make_set(be, 3, -5.0f);
        fr_status s = fr_model_load(bad, c);
        CHECK(s == FR_ERR_FORMAT, "case %zu: status %s", i, fr_status_name(s));
        CHECK(strstr(fr_last_error(), cases[i].expect) && strstr(fr_last_error(), "bad.frm"),
              "case %zu: message '%s' lacks '%s' or the file name", i, fr_last_error(), cases[i].expect);
        float *vc = malloc(n * sizeof *vc);
        fr_param_set_export(c, FR_ROLES_ALL, vc, n);
        CHECK(vc[0] == -5.0f, "case %zu: a refused file changed the model", i);
        free(vc);
        fr_param_set_free(c);
    }
    /* Another version: patch the version field and fix nothing else. */
    rewrite(path, bad, -1, 8);
    CHECK(fr_model_load(bad, b) == FR_ERR_FORMAT && strstr(fr_last_error(), "version"),
          "wrong version: '%s'", fr_last_error());

    /* Another model: different shape, then different parameter count. */
    fr_param_set *wide = make_set(be, 5, 0.0f);
    CHECK(fr_model_load(path, wide) == FR_ERR_FORMAT && strstr(fr_last_error(), "fc.weight"),
          "shape mismatch not named: '%s'", fr_last_error());
    fr_param *extra;
    fr_param_add(wide, "extra", FR_ROLE_GLOBAL, 1, 1, 0, 1, &extra);
    CHECK(fr_model_load(path, wide) == FR_ERR_FORMAT && strstr(fr_last_error(), "parameters"),
          "count mismatch: '%s'", fr_last_error());

    /* Missing file. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.frm", dir);
    CHECK(fr_model_load(missing, b) == FR_ERR_IO && strstr(fr_last_error(), "none.frm"),
          "missing file: '%s'", fr_last_error());

    /* A save into a folder that does not exist fails and leaves nothing;
     * a save over an existing file replaces it whole. */
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/m.frm", dir);
    CHECK(fr_model_save(nodir, a, NULL) == FR_ERR_IO, "save into a missing folder succeeded");
    CHECK_OK(fr_model_save(path, wide, NULL));
    CHECK(fr_model_load(path, a) == FR_ERR_FORMAT, "old model accepted a new file");
    CHECK_OK(fr_model_load(path, wide));

    /* Parts: two sets under prefixes, loaded back; a file read whole. */
    fr_param_set *p0 = make_set(be, 3, 2.0f), *p1 = make_set(be, 2, 7.0f);
    fr_model_part parts[2] = {{"client.0/", p0}, {"client.1/", p1}};
    CHECK_OK(fr_model_save_parts(path, parts, 2, "meta"));
    fr_param_set *q0 = make_set(be, 3, 0.0f), *q1 = make_set(be, 2, 0.0f);
    fr_model_part back[2] = {{"client.0/", q0}, {"client.1/", q1}};
    CHECK_OK(fr_model_load_parts(path, back, 2));
    size_t n1 = fr_param_set_numel(p1, FR_ROLES_ALL);
    float *w1 = malloc(n1 * sizeof *w1), *x1 = malloc(n1 * sizeof *x1);
    fr_param_set_export(p1, FR_ROLES_ALL, w1, n1);
    fr_param_set_export(q1, FR_ROLES_ALL, x1, n1);
    CHECK(memcmp(w1, x1, n1 * sizeof *w1) == 0, "the second part loaded other values");
    fr_model_part swapped[2] = {{"client.1/", q0}, {"client.0/", q1}};
    CHECK(fr_model_load_parts(path, swapped, 2) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "'client.0/emb.table' in the file but 'client.1/emb.table'"),
          "another prefix not named: '%s'", fr_last_error());
    CHECK(fr_model_load(path, a) == FR_ERR_FORMAT, "a one-set model accepted a file of two parts");
    fr_model_contents mc;
    CHECK_OK(fr_model_read_all(path, &mc));
    CHECK(mc.n_entries == 6 && !strcmp(mc.meta, "meta") && !strcmp(mc.entries[4].name, "client.1/fc.weight") &&
              mc.entries[4].rows == 4 && mc.entries[4].cols == 2 && mc.entries[4].role == FR_ROLE_LOCAL &&
              mc.entries[4].values[1] == w1[41],
          "read_all: %zu entries, entry 4 '%s' %zux%zu value %g (want %g)", mc.n_entries,
          mc.n_entries > 4 ? mc.entries[4].name : "", mc.n_entries > 4 ? mc.entries[4].rows : 0,
          mc.n_entries > 4 ? mc.entries[4].cols : 0, mc.n_entries > 4 ? mc.entries[4].values[1] : 0.0, w1[41]);
    fr_model_contents_free(&mc);
    rewrite(path, bad, file_size(path) - 3, -1);
    CHECK(fr_model_read_all(bad, &mc) == FR_ERR_FORMAT && mc.entries == NULL, "read_all took a truncated file");
    free(w1);
    free(x1);
    fr_param_set_free(p0);
    fr_param_set_free(p1);
    fr_param_set_free(q0);
    fr_param_set_free(q1);

    free(va);
    free(vb);
    fr_param_set_free(a);
    fr_param_set_free(b);
    fr_param_set_free(wide);
    fr_backend_close(be);
    remove(path);
    remove(bad);
    rmdir(dir);
    return fr_test_finish("test_model_file");
}
