/* synthetic_msmt.c — synthetic multi-scenario multi-task data with the
 * AliExpress schema (see fedrec/table_read.h).
 *
 * Per row: a scenario (uniform), 16 categorical values, 63 numbers in
 * [0, 1). The first 12 fields have `vocab` values, skewed (value =
 * floor(vocab * u^2), so small ids are frequent), each with a small
 * additive weight per task; the last 4 are context fields of at most
 * CONTEXT values, uniform. The planted signal is mostly pairwise
 * interaction of the context fields, which a neural model learns and a
 * linear one cannot express: each pair (a, b) of PAIRS pairs adds a random
 * table entry T_p[x_a, x_b]. Task logits
 *   t = b_t + c_s,t + add_t + sum_p T_t,p[x_a, x_b]
 *       + s * sum_p U_s,t,p[x_a, x_b] + num_t + 0.5 noise
 * with the tables T shared by all scenarios (T_conv = rho T_click +
 * sqrt(1 - rho^2) T', likewise the additive weights: rho < 0 makes the
 * tasks conflict; in the last conflict_scenarios scenarios the
 * conversion's add_t and T terms are negated: its tasks conflict there,
 * and its conversion signal runs against the other scenarios'), U each
 * scenario's own (s = scenario_strength), c_s,t a
 * base-rate shift per scenario, add_t of std 0.5, the shared interaction
 * of std 1.5, and num_t linear in the first 8 numbers plus a periodic
 * term in the 9th. A conversion needs a click (as in AliExpress). Weights
 * come from the seed alone (stream (seed, 0, field, INIT)); row r's draws
 * from stream (seed, 1, r / 4096, DATA), so any block of rows can be made
 * on its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/rng.h"
#include "fedrec/table_read.h"

enum {
    N_CAT = 16, N_NUM = 63, N_TASKS = 2, N_CONTEXT = 4, CONTEXT = 8, PAIRS = 4, BLOCK = 4096,
    N_LINEAR_NUM = 8, N_WIDE = N_CAT - N_CONTEXT, TABLE = CONTEXT * CONTEXT
};

/* The interacting pairs of context fields (offsets from N_WIDE). */
static const int pair_fields[PAIRS][2] = {{0, 1}, {2, 3}, {0, 3}, {1, 2}};

/* Values of field f. */
static size_t field_vocab(const fr_msmt_synth *o, size_t f)
{
    return f < N_WIDE || o->vocab < CONTEXT ? o->vocab : CONTEXT;
}

void fr_msmt_synth_default(fr_msmt_synth *o)
{
    memset(o, 0, sizeof *o);
    o->rows = 100000;
    o->scenarios = 4;
    o->vocab = 1000;
    o->scenario_strength = 0.5;
    o->task_correlation = 0.5;
    o->click_rate = 0.2;
    o->conversion_rate = 0.1;
    o->seed = 0;
}

typedef struct world {
    const fr_msmt_synth *o;
    float *additive;                            /* N_WIDE x vocab x N_TASKS */
    float shared[N_TASKS][PAIRS][TABLE];        /* T */
    float scen[FR_TABLE_MAX_SCENARIOS][N_TASKS][PAIRS][TABLE]; /* U */
    float scen_bias[FR_TABLE_MAX_SCENARIOS][N_TASKS];
    float num_w[N_LINEAR_NUM][N_TASKS], periodic_w[N_TASKS];
    float bias[N_TASKS];
} world;

static double logit(double p)
{
    return log(p / (1.0 - p));
}

static fr_status world_make(world *w, const fr_msmt_synth *o)
{
    memset(w, 0, sizeof *w);
    w->o = o;
    size_t v = o->vocab;
    w->additive = malloc(N_WIDE * v * N_TASKS * sizeof *w->additive);
    if (!w->additive)
        return fr_fail_nomem("synthetic weights", N_WIDE * v * N_TASKS * 4);
    double rho = o->task_correlation, other = sqrt(1.0 - rho * rho);
    /* Additive weights scaled so their sum over the wide fields has std
     * 0.5; the shared interaction has std 1.5. */
    float add_scale = 0.5f / sqrtf((float)N_WIDE), pair_scale = 1.5f / sqrtf((float)PAIRS);
    fr_rng rng;
    for (size_t f = 0; f < N_WIDE; f++) {
        fr_rng_init(&rng, o->seed, 0, (uint32_t)f, FR_RNG_INIT);
        for (size_t id = 0; id < v; id++) {
            float a = fr_rng_normal(&rng), b = fr_rng_normal(&rng);
            w->additive[(f * v + id) * N_TASKS] = add_scale * a;
            w->additive[(f * v + id) * N_TASKS + 1] = add_scale * (float)(rho * a + other * b);
        }
    }
    fr_rng_init(&rng, o->seed, 0, N_CAT, FR_RNG_INIT);
    for (size_t p = 0; p < PAIRS; p++)
        for (size_t k = 0; k < TABLE; k++) {
            float a = fr_rng_normal(&rng), b = fr_rng_normal(&rng);
            w->shared[0][p][k] = pair_scale * a;
            w->shared[1][p][k] = pair_scale * (float)(rho * a + other * b);
        }
    for (size_t s = 0; s < o->scenarios; s++)
        for (size_t t = 0; t < N_TASKS; t++)
            for (size_t p = 0; p < PAIRS; p++)
                for (size_t k = 0; k < TABLE; k++)
                    w->scen[s][t][p][k] = pair_scale * fr_rng_normal(&rng);
    for (size_t s = 0; s < o->scenarios; s++)
        for (size_t t = 0; t < N_TASKS; t++)
            w->scen_bias[s][t] = 0.3f * fr_rng_normal(&rng);
    for (size_t j = 0; j < N_LINEAR_NUM; j++)
        for (size_t t = 0; t < N_TASKS; t++)
            w->num_w[j][t] = fr_rng_normal(&rng);
    for (size_t t = 0; t < N_TASKS; t++)
        w->periodic_w[t] = 0.5f * fr_rng_normal(&rng);
    w->bias[0] = (float)logit(o->click_rate);
    w->bias[1] = (float)logit(o->conversion_rate);
    return FR_OK;
}

static void world_free(world *w)
{
    free(w->additive);
}

static float sigmoid(float z)
{
    return 1.0f / (1.0f + expf(-z));
}

/* Rows [begin, begin + n) of block begin / BLOCK into the arrays. */
static void make_rows(const world *w, size_t begin, size_t n, int32_t *cat, float *num, int32_t *scen,
                      uint8_t *labels, uint8_t *split)
{
    const fr_msmt_synth *o = w->o;
    size_t v = o->vocab;
    float strength = (float)o->scenario_strength;
    fr_rng rng;
    fr_rng_init(&rng, o->seed, 1, (uint32_t)(begin / BLOCK), FR_RNG_DATA);
    for (size_t r = 0; r < n; r++) {
        size_t s = fr_rng_below(&rng, (uint32_t)o->scenarios);
        scen[r] = (int32_t)s;
        /* Sign of the conversion's shared signal in this scenario. */
        float conv_sign = s + o->conflict_scenarios >= o->scenarios ? -1.0f : 1.0f;
        float sign[N_TASKS] = {1.0f, conv_sign};
        float z[N_TASKS];
        for (size_t t = 0; t < N_TASKS; t++)
            z[t] = w->bias[t] + w->scen_bias[s][t];
        for (size_t f = 0; f < N_WIDE; f++) {
            float u = fr_rng_uniform(&rng);
            size_t id = (size_t)((float)v * u * u);
            if (id >= v)
                id = v - 1;
            cat[r * N_CAT + f] = (int32_t)id;
            for (size_t t = 0; t < N_TASKS; t++)
                z[t] += sign[t] * w->additive[(f * v + id) * N_TASKS + t];
        }
        size_t ctx = field_vocab(o, N_WIDE);
        for (size_t f = N_WIDE; f < N_CAT; f++)
            cat[r * N_CAT + f] = (int32_t)fr_rng_below(&rng, (uint32_t)ctx);
        for (size_t p = 0; p < PAIRS; p++) {
            size_t cell = (size_t)cat[r * N_CAT + N_WIDE + pair_fields[p][0]] * CONTEXT +
                          (size_t)cat[r * N_CAT + N_WIDE + pair_fields[p][1]];
            for (size_t t = 0; t < N_TASKS; t++)
                z[t] += sign[t] * w->shared[t][p][cell] + strength * w->scen[s][t][p][cell];
        }
        for (size_t j = 0; j < N_NUM; j++) {
            float x = fr_rng_uniform(&rng);
            num[r * N_NUM + j] = x;
            if (j < N_LINEAR_NUM)
                for (size_t t = 0; t < N_TASKS; t++)
                    z[t] += w->num_w[j][t] * (x - 0.5f) * 0.5f;
            else if (j == N_LINEAR_NUM)
                for (size_t t = 0; t < N_TASKS; t++)
                    z[t] += w->periodic_w[t] * cosf(6.2831853f * x);
        }
        for (size_t t = 0; t < N_TASKS; t++)
            z[t] += 0.5f * fr_rng_normal(&rng);
        int click = fr_rng_uniform(&rng) < sigmoid(z[0]);
        int conversion = click && fr_rng_uniform(&rng) < sigmoid(z[1]);
        labels[r * N_TASKS] = (uint8_t)click;
        labels[r * N_TASKS + 1] = (uint8_t)conversion;
        float u = fr_rng_uniform(&rng);
        split[r] = u < 0.8f ? FR_SPLIT_TRAIN : u < 0.9f ? FR_SPLIT_VALID : FR_SPLIT_TEST;
    }
}

static fr_status check(const fr_msmt_synth *o)
{
    if (o->rows == 0 || o->rows > UINT32_MAX || o->scenarios < 1 || o->scenarios > FR_TABLE_MAX_SCENARIOS ||
        o->vocab < 2 || o->vocab > 10000000 || !(o->task_correlation >= -1 && o->task_correlation <= 1) ||
        !(o->click_rate > 0 && o->click_rate < 1) || !(o->conversion_rate > 0 && o->conversion_rate < 1) ||
        !(o->scenario_strength >= 0) || o->conflict_scenarios > o->scenarios)
        return fr_fail(FR_ERR_INVALID, "synthetic table: need 1 <= rows < 2^32, 1 to %d scenarios, vocab >= 2, task correlation in [-1, 1], rates in (0, 1), scenario strength >= 0, conflicting scenarios <= scenarios",
                       FR_TABLE_MAX_SCENARIOS);
    return FR_OK;
}

static void names(fr_table *t, const fr_msmt_synth *o)
{
    size_t vocab[N_CAT];
    for (size_t f = 0; f < N_CAT; f++)
        vocab[f] = field_vocab(o, f);
    fr_table_set_vocab(t, vocab);
    snprintf(t->task_names[0], FR_TABLE_NAME_MAX, "click");
    snprintf(t->task_names[1], FR_TABLE_NAME_MAX, "conversion");
    for (size_t s = 0; s < o->scenarios; s++)
        snprintf(t->scenario_names[s], FR_TABLE_NAME_MAX, "s%zu", s);
}

fr_status fr_msmt_synth_make(const fr_msmt_synth *o, fr_table *out)
{
    FR_TRY(check(o));
    world w;
    FR_TRY(world_make(&w, o));
    fr_status s = fr_table_alloc(out, o->rows, N_CAT, N_NUM, N_TASKS, o->scenarios);
    if (s == FR_OK) {
        for (size_t at = 0; at < o->rows; at += BLOCK) {
            size_t n = o->rows - at < BLOCK ? o->rows - at : BLOCK;
            make_rows(&w, at, n, out->cat + at * N_CAT, out->num + at * N_NUM, out->scenario + at,
                      out->labels + at * N_TASKS, out->split + at);
        }
        names(out, o);
    }
    world_free(&w);
    return s;
}

fr_status fr_msmt_synth_write(const fr_msmt_synth *o, const char *out_path)
{
    FR_TRY(check(o));
    world w;
    FR_TRY(world_make(&w, o));
    fr_table meta;
    memset(&meta, 0, sizeof meta);
    fr_table_writer *wr = NULL;
    int32_t *cat = malloc(BLOCK * N_CAT * sizeof *cat), *scen = malloc(BLOCK * sizeof *scen);
    float *num = malloc(BLOCK * N_NUM * sizeof *num);
    uint8_t *labels = malloc(BLOCK * N_TASKS), *split = malloc(BLOCK);
    meta.vocab = calloc(N_CAT, sizeof *meta.vocab);
    meta.field_offset = calloc(N_CAT, sizeof *meta.field_offset);
    fr_status s = FR_OK;
    if (!cat || !scen || !num || !labels || !split || !meta.vocab || !meta.field_offset)
        s = fr_fail_nomem("synthetic block", BLOCK * (N_CAT + N_NUM) * 4);
    if (s == FR_OK)
        s = fr_table_writer_open(out_path, o->rows, N_CAT, N_NUM, N_TASKS, &wr);
    for (size_t at = 0; s == FR_OK && at < o->rows; at += BLOCK) {
        size_t n = o->rows - at < BLOCK ? o->rows - at : BLOCK;
        make_rows(&w, at, n, cat, num, scen, labels, split);
        s = fr_table_writer_append(wr, n, cat, num, scen, labels, split);
    }
    if (s == FR_OK) {
        meta.n_cat = N_CAT;
        meta.n_num = N_NUM;
        meta.n_tasks = N_TASKS;
        meta.n_scenarios = o->scenarios;
        names(&meta, o);
        s = fr_table_writer_commit(wr, &meta);
    } else if (wr) {
        fr_table_writer_abort(wr);
    }
    free(cat);
    free(scen);
    free(num);
    free(labels);
    free(split);
    free(meta.vocab);
    free(meta.field_offset);
    world_free(&w);
    return s;
}
