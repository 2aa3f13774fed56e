/* test_model_file.c — model files: round trip, and every kind of damage
 * (truncation, a flipped byte, another version, another model, a missing
 * file) refused with a clear message while the destination of a failed
 * save keeps its old contents; models of several parameter sets (parts)
 * and reading a whole file on the host; plain arrays of every type round
 * trip bit for bit, their checks name the array, and version 1 files
 * (written before arrays had types) still load. */
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

/* CRC-32 as the format uses it (reflected 0xEDB88320), kept here so the
 * hand-made version 1 file below does not borrow the code under test. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static size_t put_le(unsigned char *at, uint64_t v, size_t bytes)
{
    for (size_t b = 0; b < bytes; b++)
        at[b] = (unsigned char)(v >> (8 * b));
    return bytes;
}

static void arrays_round_trip(const char *dir)
{
    char path[300], bad[300];
    snprintf(path, sizeof path, "%s/arrays.frm", dir);
    snprintf(bad, sizeof bad, "%s/arrays_bad.frm", dir);
    float f[6] = {1.5f, -0.0f, 3.4e38f, 1e-45f, -2.25f, 0.1f};
    int32_t i32[3] = {-1, 0, 2147483647};
    int64_t i64[2] = {-9007199254740993LL, 4294967297LL};
    const char text[] = "196\0user two\0\0";
    fr_model_array arrays[] = {
        {"table", FR_MODEL_F32, 2, 3, f},
        {"ids", FR_MODEL_I32, 3, 1, i32},
        {"offsets", FR_MODEL_I64, 1, 2, i64},
        {"names", FR_MODEL_TEXT, 3, sizeof text - 1, text},
        {"empty", FR_MODEL_F32, 0, 4, NULL},
    };
    CHECK_OK(fr_model_save_arrays(path, arrays, 5, "[job]\nkind = fedmf\n"));
    fr_model_file *m = NULL;
    CHECK_OK(fr_model_open(path, &m));
    if (!m)
        return;
    CHECK(fr_model_count(m) == 5 && !strcmp(fr_model_meta(m), "[job]\nkind = fedmf\n"),
          "count %zu, meta '%s'", fr_model_count(m), fr_model_meta(m));
    const fr_model_array *a;
    CHECK_OK(fr_model_get(m, "table", FR_MODEL_F32, 2, 3, &a));
    CHECK(a && !memcmp(a->data, f, sizeof f), "float32 values differ");
    CHECK_OK(fr_model_get(m, "ids", FR_MODEL_I32, 3, 0, &a));
    CHECK(a && !memcmp(a->data, i32, sizeof i32), "int32 values differ");
    CHECK_OK(fr_model_get(m, "offsets", FR_MODEL_I64, 0, 2, &a));
    CHECK(a && !memcmp(a->data, i64, sizeof i64), "int64 values differ");
    CHECK_OK(fr_model_get(m, "names", FR_MODEL_TEXT, 3, 0, &a));
    const char **names = NULL;
    if (a)
        CHECK_OK(fr_model_strings(m, a, &names));
    CHECK(names && !strcmp(names[0], "196") && !strcmp(names[1], "user two") && !strcmp(names[2], ""),
          "strings differ");
    free(names);
    CHECK_OK(fr_model_get(m, "empty", FR_MODEL_F32, 0, 4, &a));
    CHECK(fr_model_get(m, "nothing", FR_MODEL_F32, 0, 0, &a) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "no array 'nothing'") && strstr(fr_last_error(), "arrays.frm"),
          "missing array: '%s'", fr_last_error());
    CHECK(fr_model_get(m, "ids", FR_MODEL_F32, 0, 0, &a) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "'ids' holds int32 values, expected float32"),
          "wrong type: '%s'", fr_last_error());
    CHECK(fr_model_get(m, "table", FR_MODEL_F32, 3, 3, &a) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "'table' is 2 x 3, expected 3 x 3"),
          "wrong shape: '%s'", fr_last_error());
    fr_model_close(m);
    fr_model_contents floats_only;
    CHECK(fr_model_read_all(path, &floats_only) == FR_ERR_FORMAT &&
              strstr(fr_last_error(), "array 'ids' holds int32 values"),
          "the float reader took an int32 array: '%s'", fr_last_error());

    /* Damage: a cut file and a flipped byte are refused whole. */
    long size = file_size(path);
    rewrite(path, bad, size - 3, -1);
    CHECK(fr_model_open(bad, &m) == FR_ERR_FORMAT && strstr(fr_last_error(), "arrays_bad.frm"),
          "cut arrays file: '%s'", fr_last_error());
    rewrite(path, bad, -1, size - 20);
    CHECK(fr_model_open(bad, &m) == FR_ERR_FORMAT && strstr(fr_last_error(), "checksum"),
          "flipped arrays file: '%s'", fr_last_error());
    /* Refused at save: a name given twice. */
    fr_model_array twice[] = {{"x", FR_MODEL_F32, 1, 1, f}, {"x", FR_MODEL_F32, 1, 1, f}};
    CHECK(fr_model_save_arrays(bad, twice, 2, NULL) == FR_ERR_INVALID && strstr(fr_last_error(), "'x' given twice"),
          "duplicate name: '%s'", fr_last_error());

    /* Version 1 (no type field, floats only), made by hand. */
    unsigned char v1[128];
    size_t n = 0;
    memcpy(v1, "FRMODEL\n", 8);
    n = 8;
    n += put_le(v1 + n, 1, 4);
    n += put_le(v1 + n, 1, 4);
    n += put_le(v1 + n, 0, 8);
    n += put_le(v1 + n, 1, 4);
    v1[n++] = 'w';
    n += put_le(v1 + n, 0, 4);
    n += put_le(v1 + n, 0, 4);
    n += put_le(v1 + n, 1, 8);
    n += put_le(v1 + n, 2, 8);
    uint32_t u;
    memcpy(&u, &f[0], 4);
    n += put_le(v1 + n, u, 4);
    memcpy(&u, &f[4], 4);
    n += put_le(v1 + n, u, 4);
    n += put_le(v1 + n, crc32_of(v1, n), 4);
    FILE *out = fopen(bad, "wb");
    fwrite(v1, 1, n, out);
    fclose(out);
    CHECK_OK(fr_model_open(bad, &m));
    if (m) {
        CHECK_OK(fr_model_get(m, "w", FR_MODEL_F32, 1, 2, &a));
        CHECK(a && ((const float *)a->data)[0] == 1.5f && ((const float *)a->data)[1] == -2.25f,
              "version 1 values differ");
        fr_model_close(m);
    }
    remove(path);
    remove(bad);
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

    /* Data arrays after the parameters: loading the parts passes over
     * them, fr_model_open reads them; a name outside "data/" is refused
     * when saving, and a file whose extra entry is a parameter does not
     * load into the parts. */
    int32_t ids[3] = {7, -1, 42};
    const char text[] = "ann\0bob\0";
    fr_model_array data[2] = {{"data/ids", FR_MODEL_I32, 1, 3, ids}, {"data/names", FR_MODEL_TEXT, 2, sizeof text - 1, text}};
    CHECK_OK(fr_model_save_parts_data(path, parts, 2, data, 2, "meta"));
    CHECK_OK(fr_model_load_parts(path, back, 2));
    fr_param_set_export(q1, FR_ROLES_ALL, x1, n1);
    CHECK(memcmp(w1, x1, n1 * sizeof *w1) == 0, "parts beside data arrays loaded other values");
    fr_model_file *mf = NULL;
    const fr_model_array *got = NULL;
    CHECK_OK(fr_model_open(path, &mf));
    CHECK(mf && fr_model_count(mf) == 8 && fr_model_get(mf, "data/ids", FR_MODEL_I32, 1, 3, &got) == FR_OK &&
              ((const int32_t *)got->data)[2] == 42,
          "data arrays not read back");
    fr_model_close(mf);
    fr_model_array stray = {"extra", FR_MODEL_I32, 1, 3, ids};
    CHECK(fr_model_save_parts_data(path, parts, 2, &stray, 1, NULL) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "data array 'extra': the name must start with 'data/'"),
          "a data array outside data/ saved: '%s'", fr_last_error());
    CHECK(fr_model_load_parts(path, parts, 1) == FR_ERR_FORMAT && strstr(fr_last_error(), "parameter 3 is 'client.1/emb.table' in the file, past this model's 3"),
          "a file with a parameter more than the parts loaded: '%s'", fr_last_error());
    free(w1);
    free(x1);
    fr_param_set_free(p0);
    fr_param_set_free(p1);
    fr_param_set_free(q0);
    fr_param_set_free(q1);
    arrays_round_trip(dir);

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
