/* fuzz_checkpoint.c — libFuzzer target for the loaders of saved state: the
 * PFedRec checkpoint (fr_pfedrec_load), the mtrec checkpoint
 * (fr_mtr_checkpoint_load) and the model file (fr_model_load,
 * fr_model_read_meta, and the typed arrays' reader fr_model_open with
 * fr_model_strings). At start-up it builds a small engine, a small
 * multi-task trainer, a small parameter set and a file of arrays of every
 * type, and saves them (written as seeds when FR_FUZZ_SEED_DIR is set).
 * The first input byte picks the loader (bit 0: the PFedRec checkpoint or
 * a model file; bit 2 set: the mtrec checkpoint) and whether the harness
 * recomputes the file's trailing CRC-32 before loading (bit 1), so
 * mutations reach the checks behind the checksum too. A loader must
 * refuse with a message naming the file, or accept; a refusal must leave
 * the engine, the trainer or the parameters exactly as they were. */
#include "config.h"
#include "fuzz_util.h"
#include "io/crc32.h"
#include "fedrec/backend.h"
#include "fedrec/model_file.h"
#include "fedrec/mtrec.h"
#include "fedrec/params.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fr_ratings ratings;
static fr_loo_split split;
static fr_pfedrec *engine;
static fr_backend *backend;
static fr_param_set *params;
static fr_mtr_data mtr_data;
static fr_mtr *trainer;
/* The job fingerprint the seed holds and every load checks against. */
static const char trainer_job[] = "mtrec.combiner = gradvac\n";
#define TRAINER_EXTRA 3

static void *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fr_fuzz_fail("cannot read back", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, (size_t)n, 1, f) != 1))
        fr_fuzz_fail("cannot read back", path);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* A seed is the file with the mode byte in front. */
static void write_seed(const char *name, uint8_t mode, const char *path)
{
    if (!fr_fuzz_seed_dir())
        return;
    size_t n;
    uint8_t *file = read_whole(path, &n);
    uint8_t *seed = malloc(n + 1);
    if (!seed)
        fr_fuzz_fail("out of memory", name);
    seed[0] = mode;
    memcpy(seed + 1, file, n);
    fr_fuzz_write_seed(name, seed, n + 1);
    free(seed);
    free(file);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fr_implicit_spec gen = {5, 12, 30, 6};
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.dim = 4;
    o.threads = 1;
    if (fr_implicit_generate(&gen, &ratings) != FR_OK || fr_loo_split_make(&ratings, 5, 4, &split) != FR_OK ||
        fr_pfedrec_create(&split, &o, &engine) != FR_OK)
        fr_fuzz_fail("cannot build the engine", fr_last_error());
    fr_pfedrec_round round;
    if (fr_pfedrec_run_round(engine, 0, &round) != FR_OK)
        fr_fuzz_fail("cannot run a round", fr_last_error());
    double extra[2] = {1, 0.5};
    const char *ckpt = fr_fuzz_file(0, "seed.ckpt", (const uint8_t *)"", 0);
    if (fr_pfedrec_save(engine, ckpt, 1, extra, 2) != FR_OK)
        fr_fuzz_fail("cannot save a checkpoint", fr_last_error());
    write_seed("pfedrec-checkpoint", 0, ckpt);

    /* GradVac: a combiner with state to restore; a best table too. */
    fr_mtr_synthetic_spec spec = {5, 12, 20, 6, 3, 2};
    fr_mtr_options mo;
    fr_mtr_options_default(&mo);
    mo.dim = 4;
    mo.batch = 16;
    mo.threads = 1;
    mo.combine.method = FR_COMBINE_GRADVAC;
    fr_mtr_task tasks[] = {FR_MTR_BPR, FR_MTR_SOCIAL, FR_MTR_CATEGORY};
    memcpy(mo.tasks, tasks, sizeof tasks);
    mo.n_tasks = 3;
    fr_mtr_epoch ep;
    if (fr_mtr_synthetic(&spec, &mtr_data) != FR_OK || fr_mtr_create(&mtr_data, &mo, &trainer) != FR_OK ||
        fr_mtr_train_epoch(trainer, 0, &ep) != FR_OK)
        fr_fuzz_fail("cannot build the multi-task trainer", fr_last_error());
    double trainer_extra[TRAINER_EXTRA] = {1, 0, 0.25};
    fr_mtr_checkpoint c = {1, trainer_job, trainer_extra, TRAINER_EXTRA,
                           (float *)fr_mtr_embeddings(trainer), 0};
    const char *mtr_ckpt = fr_fuzz_file(0, "seed_mtrec.ckpt", (const uint8_t *)"", 0);
    if (fr_mtr_checkpoint_save(trainer, mtr_ckpt, &c) != FR_OK)
        fr_fuzz_fail("cannot save an mtrec checkpoint", fr_last_error());
    write_seed("mtrec-checkpoint", 4, mtr_ckpt);

    fr_backend_options bo;
    fr_backend_options_default(&bo);
    bo.threads = 1;
    fr_param *p;
    if (fr_backend_open(&bo, &backend) != FR_OK || fr_param_set_create(backend, &params) != FR_OK ||
        fr_param_add(params, "emb.table", FR_ROLE_GLOBAL, 6, 3, 1, 1, &p) != FR_OK ||
        fr_param_add(params, "fc.weight", FR_ROLE_LOCAL, 3, 2, 0, 1, &p) != FR_OK ||
        fr_param_add(params, "bn.mean", FR_ROLE_BN_LOCAL, 1, 2, 0, 0, &p) != FR_OK)
        fr_fuzz_fail("cannot build the parameters", fr_last_error());
    const char *model = fr_fuzz_file(1, "seed.frm", (const uint8_t *)"", 0);
    if (fr_model_save(model, params, "[run]\nseed = 7\n") != FR_OK)
        fr_fuzz_fail("cannot save a model", fr_last_error());
    write_seed("model-file", 1, model);
    float values[6] = {1, -2, 0.5f, 3, 4, -0.25f};
    int32_t ids[3] = {0, 7, -1};
    int64_t offsets[3] = {0, 2, 3};
    const char names[] = "u1\0u2\0";
    fr_model_array arrays[] = {{"rating.items", FR_MODEL_F32, 3, 2, values},
                               {"rating.personal_items", FR_MODEL_I32, 3, 1, ids},
                               {"rating.personal_start", FR_MODEL_I64, 3, 1, offsets},
                               {"rating.user_ids", FR_MODEL_TEXT, 2, sizeof names - 1, names}};
    const char *typed = fr_fuzz_file(1, "seed_arrays.frm", (const uint8_t *)"", 0);
    if (fr_model_save_arrays(typed, arrays, 4, "[job]\nkind = pfedrec\n") != FR_OK)
        fr_fuzz_fail("cannot save a model of arrays", fr_last_error());
    write_seed("model-arrays", 1, typed);
    return 0;
}

/* Every value the engine holds that a checkpoint restores, as one CRC. */
static uint32_t engine_state(void)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/state.ckpt", fr_fuzz_dir());
    double extra[2] = {0, 0};
    if (fr_pfedrec_save(engine, tmp, 0, extra, 2) != FR_OK)
        fr_fuzz_fail("cannot save the engine's state", fr_last_error());
    size_t n;
    void *bytes = read_whole(tmp, &n);
    uint32_t crc = fr_crc32(0, bytes, n);
    free(bytes);
    return crc;
}

/* The same for the trainer (every array and value it restores). */
static uint32_t trainer_state(void)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/state_mtrec.ckpt", fr_fuzz_dir());
    double extra[TRAINER_EXTRA] = {0, 0, 0};
    fr_mtr_checkpoint c = {0, NULL, extra, TRAINER_EXTRA, NULL, 0};
    if (fr_mtr_checkpoint_save(trainer, tmp, &c) != FR_OK)
        fr_fuzz_fail("cannot save the trainer's state", fr_last_error());
    size_t n;
    void *bytes = read_whole(tmp, &n);
    uint32_t crc = fr_crc32(0, bytes, n);
    free(bytes);
    return crc;
}

static uint32_t params_state(void)
{
    size_t n = fr_param_set_numel(params, FR_ROLES_ALL);
    float v[64];
    if (n > 64 || fr_param_set_export(params, FR_ROLES_ALL, v, n) != FR_OK)
        fr_fuzz_fail("cannot export the parameters", fr_last_error());
    return fr_crc32(0, v, n * sizeof *v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned loader = data[0] & 4 ? 2 : data[0] & 1, fix_crc = (data[0] >> 1) & 1;
    data++;
    size--;
    uint8_t *file = fr_fuzz_copy(data, size);
    if (fix_crc && size >= 4) {
        uint32_t crc = fr_crc32(0, file, size - 4);
        memcpy(file + size - 4, &crc, 4);
    }
    const char *path = fr_fuzz_file(2, loader == 1 ? "input.frm" : "input.ckpt", file, size);
    free(file);
    if (loader == 2) {
        uint32_t before = trainer_state();
        double extra[TRAINER_EXTRA];
        size_t floats = (mtr_data.n_users + mtr_data.n_items) * 4;
        float *best = malloc(floats * sizeof *best);
        if (!best)
            fr_fuzz_fail("out of memory", path);
        fr_mtr_checkpoint c = {0, trainer_job, extra, TRAINER_EXTRA, best, 0};
        fr_status s = fr_mtr_checkpoint_load(trainer, path, &c);
        free(best);
        if (s != FR_OK) {
            fr_fuzz_expect_named(s, path);
            if (trainer_state() != before)
                fr_fuzz_fail("a refused checkpoint changed the trainer", path);
        }
        return 0;
    }
    if (loader == 0) {
        uint32_t before = engine_state();
        unsigned rounds = 0;
        double extra[2];
        fr_status s = fr_pfedrec_load(engine, path, &rounds, extra, 2);
        if (s != FR_OK) {
            fr_fuzz_expect_named(s, path);
            if (engine_state() != before)
                fr_fuzz_fail("a refused checkpoint changed the engine", path);
        }
        return 0;
    }
    uint32_t before = params_state();
    fr_status s = fr_model_load(path, params);
    if (s != FR_OK) {
        fr_fuzz_expect_named(s, path);
        if (params_state() != before)
            fr_fuzz_fail("a refused model file changed the parameters", path);
    }
    char *meta = NULL;
    s = fr_model_read_meta(path, &meta);
    if (s == FR_OK)
        free(meta);
    else
        fr_fuzz_expect_named(s, path);
    fr_model_file *m = NULL;
    s = fr_model_open(path, &m);
    if (s != FR_OK) {
        fr_fuzz_expect_named(s, path);
        return 0;
    }
    for (size_t i = 0; i < fr_model_count(m); i++) {
        const fr_model_array *a = fr_model_at(m, i);
        const char **strings = NULL;
        if (a->dtype == FR_MODEL_TEXT && fr_model_strings(m, a, &strings) == FR_OK) {
            size_t bytes = 0; /* every string inside the array */
            for (size_t k = 0; k < a->rows; k++)
                bytes += strlen(strings[k]) + 1;
            if (bytes != a->cols)
                fr_fuzz_fail("a text array's strings run past its bytes", path);
        }
        free(strings);
    }
    fr_model_close(m);
    return 0;
}
