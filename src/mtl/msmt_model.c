/* msmt_model.c — the multi-scenario multi-task models (see fedrec/msmt.h):
 * input embedding, the four architectures' forward and backward passes,
 * and the loss. The loss and its gradient are computed on the host: they
 * touch only batch x tasks values, and ESMM's product of probabilities
 * needs its own derivative. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/msmt.h"
#include "fedrec/nn.h"
#include "mtl/autoifs.h"
#include "mtl/msmt_internal.h"

#define MAX_T FR_TABLE_MAX_TASKS
#define MAX_LEVELS 4

/* One CGC level of PLE: inputs `in` wide, experts `h` wide. */
typedef struct cgc_level {
    size_t in, h;
    fr_expert_bank task_bank[MAX_T], shared_bank;
    fr_softmax_gate task_gate[MAX_T], shared_gate;
    int has_shared_gate;
    fr_buffer *gates[MAX_T + 1], *gate_logits[MAX_T + 1];
    fr_buffer *out[MAX_T + 1];     /* task outputs, then the shared one */
    fr_buffer *dout[MAX_T + 1];    /* their gradients */
} cgc_level;

struct fr_msmt_model {
    fr_backend *be;
    fr_msmt_options o;
    size_t n_cat, n_num, n_tasks, n_scen, tokens, width, max_batch;
    size_t cat_offset_scen;        /* global id of scenario 0 */
    size_t *field_offset;          /* copy of the table's */
    fr_param_set *ps;
    fr_field_embedding fe;
    /* LR */
    fr_buffer *sum_matrix;         /* (tokens * T) x T stacked identities */
    fr_param *lr_bias;
    /* Shared-Bottom */
    fr_mlp bottom;
    /* MMoE */
    fr_expert_bank bank;
    fr_softmax_gate gate[MAX_T];
    fr_buffer *gates[MAX_T], *gate_logits[MAX_T], *mixed[MAX_T], *dmixed[MAX_T], *dbank;
    /* PLE. The levels' backward passes run one after another, so they
     * share the gradients of the banks' outputs (ple_dbank: tasks', then
     * the shared bank's, each sized for the widest level) and the banks'
     * gradient scratch. */
    cgc_level level[MAX_LEVELS];
    fr_buffer *ple_dbank[MAX_T + 1];
    fr_grad_scratch bank_scratch;
    /* AutoIFS; in retrain its selector reads a frozen copy of the
     * searched embedding (sel_fe, in a set no optimiser sees). */
    fr_autoifs *ifs;
    fr_param_set *sel_emb_ps;
    fr_field_embedding sel_fe;
    fr_buffer *sel_x;
    int ifs_retrain;
    int32_t *scen;                 /* host: the batch's scenarios */
    /* Towers */
    fr_mlp tower[MAX_T];
    fr_linear head[MAX_T];
    /* Batch state. */
    size_t n;
    int training;
    uint32_t step;
    int32_t *ids;                  /* host: n x (n_cat + 1) */
    float *host_num, *host_logits, *host_dlogits, *host_labels, *host_tmp;
    /* dtmp, dacc: batch x max(width, expert width) gradient scratch;
     * gscratch: gate-logit gradients (batch x the widest gate). */
    fr_buffer *numbers, *emb, *demb, *dtmp, *dacc, *gscratch, *logits, *dlogits, *tower_in_grad;
};

void fr_msmt_options_default(fr_msmt_options *o)
{
    memset(o, 0, sizeof *o);
    o->arch = FR_ARCH_MMOE;
    o->embed_dim = 16;
    o->expert[0] = 256;
    o->expert[1] = 128;
    o->n_expert = 2;
    o->tower[0] = 64;
    o->n_tower = 1;
    o->experts = 8;
    o->task_experts = 1;
    o->levels = 1;
    o->batch_norm = 1;
    o->max_batch = 2048;
    o->ifs_bottom[0] = 1024;
    o->ifs_bottom[1] = 512;
    o->n_ifs_bottom = 2;
    o->ifs_width = 256;
    o->ifs_rank = 2;
}

static const char *arch_names[] = {"lr", "shared-bottom", "mmoe", "ple", "autoifs"};

const char *fr_msmt_arch_name(fr_msmt_arch a)
{
    return (unsigned)a < 5 ? arch_names[a] : "?";
}

fr_status fr_msmt_arch_parse(const char *name, fr_msmt_arch *out)
{
    for (int k = 0; k < 5; k++)
        if (!strcmp(name, arch_names[k])) {
            *out = (fr_msmt_arch)k;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID, "unknown model '%s' (expected lr, shared-bottom, mmoe, ple or autoifs)", name);
}

fr_param_set *fr_msmt_model_params(fr_msmt_model *m)
{
    return m->ps;
}

size_t fr_msmt_model_tasks(const fr_msmt_model *m)
{
    return m->n_tasks;
}

size_t fr_msmt_model_max_batch(const fr_msmt_model *m)
{
    return m->max_batch;
}

fr_param_set *fr_msmt_model_selector_params(fr_msmt_model *m)
{
    return m->ifs ? fr_autoifs_selector_params(m->ifs) : NULL;
}

size_t fr_msmt_model_parts(fr_msmt_model *m, fr_model_part parts[FR_MSMT_MAX_PARTS])
{
    parts[0] = (fr_model_part){"", m->ps};
    if (!m->ifs)
        return 1;
    parts[1] = (fr_model_part){"selector/", fr_autoifs_selector_params(m->ifs)};
    parts[2] = (fr_model_part){"selector_input/", m->sel_emb_ps};
    return 3;
}

int fr_msmt_model_retraining(const fr_msmt_model *m)
{
    return m->ifs && m->ifs_retrain;
}

/* Copy a parameter's values between two sets' tensors of one shape. */
static fr_status copy_param(const fr_param *from, fr_param *to)
{
    size_t bytes = from->rows * from->cols * sizeof(float);
    float *tmp = malloc(bytes ? bytes : 1);
    if (!tmp)
        return fr_fail_nomem("parameter copy", bytes);
    fr_status s = fr_buffer_download(from->value, 0, tmp, bytes);
    if (s == FR_OK)
        s = fr_buffer_upload(to->value, 0, tmp, bytes);
    free(tmp);
    return s;
}

fr_status fr_msmt_autoifs_phase(fr_msmt_model *m, int retrain, float tau)
{
    if (!m->ifs)
        return fr_fail(FR_ERR_INVALID, "not an AutoIFS model");
    if (retrain && !m->ifs_retrain) {
        /* The selector keeps reading the embedding as searched. */
        FR_TRY(copy_param(m->fe.emb.table, m->sel_fe.emb.table));
        if (m->n_num) {
            FR_TRY(copy_param(m->fe.numeric.weight, m->sel_fe.numeric.weight));
            FR_TRY(copy_param(m->fe.numeric.bias, m->sel_fe.numeric.bias));
        }
    }
    m->ifs_retrain = retrain;
    fr_autoifs_set_phase(m->ifs, retrain, tau);
    return FR_OK;
}

void fr_msmt_autoifs_gates(const fr_msmt_model *m, double means[4])
{
    if (m->ifs)
        fr_autoifs_gate_means(m->ifs, means);
    else
        for (int q = 0; q < 4; q++)
            means[q] = NAN;
}

fr_msmt_arch fr_msmt_model_arch(const fr_msmt_model *m)
{
    return m->o.arch;
}

void fr_msmt_gate_stats(const fr_msmt_model *m, double sums[4], uint64_t *count)
{
    if (m->ifs) {
        fr_autoifs_gate_stats(m->ifs, sums, count);
        return;
    }
    for (int q = 0; q < 4; q++)
        sums[q] = 0.0;
    *count = 0;
}

void fr_msmt_set_gate_stats(fr_msmt_model *m, const double sums[4], uint64_t count)
{
    if (m->ifs)
        fr_autoifs_set_gate_stats(m->ifs, sums, count);
}

static fr_status alloc(fr_msmt_model *m, size_t floats, fr_buffer **b)
{
    return fr_buffer_alloc_zero(m->be, (floats ? floats : 1) * sizeof(float), b);
}

static fr_view whole(fr_buffer *b)
{
    return fr_view_of(b, 0);
}

static fr_status build_towers(fr_msmt_model *m, size_t in)
{
    char name[64];
    const fr_msmt_options *o = &m->o;
    for (size_t t = 0; t < m->n_tasks; t++) {
        snprintf(name, sizeof name, "tower.%zu", t);
        FR_TRY(fr_mlp_init(&m->tower[t], m->ps, name, in, o->tower, o->n_tower, o->batch_norm, o->dropout,
                           m->max_batch, FR_ROLE_GLOBAL, o->seed));
        snprintf(name, sizeof name, "head.%zu", t);
        FR_TRY(fr_linear_init(&m->head[t], m->ps, name, o->tower[o->n_tower - 1], 1, 1, FR_ROLE_GLOBAL,
                              o->seed));
    }
    size_t last = o->tower[o->n_tower - 1];
    return alloc(m, m->max_batch * (in > last ? in : last), &m->tower_in_grad);
}

/* PLE level l's expert layers: one layer of level_width[l] units where
 * per-level widths are given (MTReclib's PLE), else the expert MLP. */
static const size_t *ple_level_layers(const fr_msmt_options *o, size_t l, size_t *n)
{
    *n = o->n_level_width ? 1 : o->n_expert;
    return o->n_level_width ? &o->level_width[l] : o->expert;
}

/* Width of the experts' outputs: PLE's top level's, else the expert MLP's. */
static size_t expert_out_width(const fr_msmt_options *o)
{
    if (o->arch == FR_ARCH_PLE && o->n_level_width)
        return o->level_width[o->levels - 1];
    return o->expert[o->n_expert - 1];
}

static fr_status build_ple(fr_msmt_model *m)
{
    const fr_msmt_options *o = &m->o;
    size_t B = m->max_batch, T = m->n_tasks;
    size_t P = o->task_experts, S = o->experts, widest[MAX_T + 1] = {0};
    char name[64];
    for (size_t l = 0; l < o->levels; l++) {
        cgc_level *lv = &m->level[l];
        size_t n_layers;
        const size_t *layers = ple_level_layers(o, l, &n_layers);
        size_t in = lv->in = l ? m->level[l - 1].h : m->width, h = lv->h = layers[n_layers - 1];
        lv->has_shared_gate = l + 1 < o->levels;
        for (size_t t = 0; t <= T; t++) {
            int shared = t == T;
            size_t experts = shared ? S : P;
            fr_expert_bank *bank = shared ? &lv->shared_bank : &lv->task_bank[t];
            snprintf(name, sizeof name, shared ? "ple.%zu.shared" : "ple.%zu.task%zu", l, t);
            FR_TRY(fr_expert_bank_init(bank, m->ps, name, experts, in, layers, n_layers, o->batch_norm, o->dropout,
                                       B, FR_ROLE_GLOBAL, o->seed));
            fr_expert_bank_share_scratch(bank, &m->bank_scratch);
            if (experts * h > widest[t])
                widest[t] = experts * h;
            if (shared && !lv->has_shared_gate)
                continue;
            size_t gated = shared ? T * P + S : P + S;
            snprintf(name, sizeof name, shared ? "ple.%zu.gate_shared" : "ple.%zu.gate%zu", l, t);
            FR_TRY(fr_softmax_gate_init(shared ? &lv->shared_gate : &lv->task_gate[t], m->ps, name, in, gated,
                                        FR_ROLE_GLOBAL, o->seed));
            FR_TRY(alloc(m, B * gated, &lv->gates[t]));
            FR_TRY(alloc(m, B * gated, &lv->gate_logits[t]));
            FR_TRY(alloc(m, B * h, &lv->out[t]));
            FR_TRY(alloc(m, B * h, &lv->dout[t]));
        }
    }
    for (size_t t = 0; t <= T; t++)
        FR_TRY(alloc(m, B * widest[t], &m->ple_dbank[t]));
    return build_towers(m, m->level[o->levels - 1].h);
}

fr_status fr_msmt_model_create(fr_backend *be, const fr_table *shape, const fr_msmt_options *o,
                               fr_msmt_model **out)
{
    *out = NULL;
    if (o->embed_dim == 0 || o->max_batch < 2 || o->n_expert < 1 || o->n_expert > FR_MSMT_MAX_LAYERS ||
        o->n_tower < 1 || o->n_tower > FR_MSMT_MAX_LAYERS || o->experts < 1 ||
        (o->arch == FR_ARCH_PLE && (o->task_experts < 1 || o->levels < 1 || o->levels > MAX_LEVELS)) ||
        (unsigned)o->arch > FR_ARCH_AUTOIFS || !(o->dropout >= 0.0f && o->dropout < 1.0f))
        return fr_fail(FR_ERR_INVALID, "multi-task model: need embedding > 0, batch >= 2, 1 to %d expert and tower layers, >= 1 expert, PLE: >= 1 task expert and 1 to %d levels, 0 <= dropout < 1",
                       FR_MSMT_MAX_LAYERS, MAX_LEVELS);
    if (o->arch == FR_ARCH_PLE && o->n_level_width) {
        if (o->n_level_width != o->levels)
            return fr_fail(FR_ERR_INVALID, "PLE: %zu per-level expert widths for %zu levels, expected one per level",
                           o->n_level_width, o->levels);
        for (size_t l = 0; l < o->levels; l++)
            if (o->level_width[l] == 0)
                return fr_fail(FR_ERR_INVALID, "PLE: level %zu's expert width is 0, expected at least 1", l + 1);
    }
    if (o->esmm && shape->n_tasks != 2)
        return fr_fail(FR_ERR_INVALID, "ESMM needs exactly two tasks (click, then conversion); the data has %zu",
                       shape->n_tasks);
    fr_msmt_model *m = calloc(1, sizeof *m);
    if (!m)
        return fr_fail_nomem("model", sizeof *m);
    m->be = be;
    m->o = *o;
    m->n_cat = shape->n_cat;
    m->n_num = shape->n_num;
    m->n_tasks = shape->n_tasks;
    m->n_scen = shape->n_scenarios;
    m->max_batch = o->max_batch;
    m->cat_offset_scen = shape->vocab_total;
    size_t T = m->n_tasks, B = m->max_batch;
    fr_status s = FR_OK;
    m->field_offset = malloc((m->n_cat ? m->n_cat : 1) * sizeof *m->field_offset);
    m->ids = malloc(B * (m->n_cat + 1) * sizeof *m->ids);
    m->host_num = malloc(B * (m->n_num ? m->n_num : 1) * sizeof *m->host_num);
    m->host_logits = malloc(B * T * sizeof *m->host_logits);
    m->host_dlogits = malloc(B * T * sizeof *m->host_dlogits);
    m->host_labels = malloc(B * T * sizeof *m->host_labels);
    m->host_tmp = malloc(B * T * sizeof *m->host_tmp);
    m->scen = malloc(B * sizeof *m->scen);
    if (!m->scen ||!m->field_offset || !m->ids || !m->host_num || !m->host_logits || !m->host_dlogits || !m->host_labels ||
        !m->host_tmp) {
        size_t bytes = B * (m->n_cat + m->n_num) * 4; /* m is gone after the free */
        fr_msmt_model_free(m);
        return fr_fail_nomem("model batch", bytes);
    }
    memcpy(m->field_offset, shape->field_offset, m->n_cat * sizeof *m->field_offset);
    s = fr_param_set_create(be, &m->ps);
    size_t d = o->arch == FR_ARCH_LR ? T : o->embed_dim;
    if (s == FR_OK)
        s = fr_field_embedding_init(&m->fe, m->ps, "emb", m->n_cat + 1, shape->vocab_total + m->n_scen, d,
                                    m->n_num, FR_ROLE_GLOBAL, o->seed);
    /* AutoIFS's embedding starts Xavier-uniform (the spec); the other
     * models keep N(0, 0.05^2). */
    if (s == FR_OK && o->arch == FR_ARCH_AUTOIFS)
        s = fr_field_embedding_init_uniform(&m->fe, o->seed,
                                            sqrtf(6.0f / (float)(m->fe.emb.table->rows + m->fe.emb.table->cols)));
    m->tokens = m->n_cat + 1 + (m->n_num > 0);
    m->width = m->tokens * d;
    if (s == FR_OK)
        s = alloc(m, B * (m->n_num ? m->n_num : 1), &m->numbers);
    if (s == FR_OK)
        s = alloc(m, B * m->width, &m->emb);
    if (s == FR_OK)
        s = alloc(m, B * m->width, &m->demb);
    /* dtmp holds a gradient of an embedding, an expert output or (PLE) a
     * level's input. */
    size_t h = expert_out_width(o);
    size_t wide = m->width > h ? m->width : h;
    for (size_t l = 0; o->arch == FR_ARCH_PLE && l < o->n_level_width; l++)
        wide = o->level_width[l] > wide ? o->level_width[l] : wide;
    size_t gated = o->arch == FR_ARCH_PLE ? T * o->task_experts + o->experts : o->experts;
    if (s == FR_OK)
        s = alloc(m, B * wide, &m->dtmp);
    if (s == FR_OK)
        s = alloc(m, B * wide, &m->dacc);
    if (s == FR_OK)
        s = alloc(m, B * gated, &m->gscratch);
    if (s == FR_OK)
        s = alloc(m, B * T, &m->logits);
    if (s == FR_OK)
        s = alloc(m, B * T, &m->dlogits);
    if (s == FR_OK && o->arch == FR_ARCH_LR) {
        s = alloc(m, m->width * T, &m->sum_matrix);
        float *ones = s == FR_OK ? calloc(m->width * T, sizeof *ones) : NULL;
        if (s == FR_OK && !ones)
            s = fr_fail_nomem("LR", m->width * T * 4);
        if (s == FR_OK) {
            for (size_t k = 0; k < m->tokens; k++)
                for (size_t t = 0; t < T; t++)
                    ones[(k * T + t) * T + t] = 1.0f;
            s = fr_buffer_upload(m->sum_matrix, 0, ones, m->width * T * sizeof *ones);
        }
        free(ones);
        if (s == FR_OK)
            s = fr_param_add(m->ps, "lr.bias", FR_ROLE_GLOBAL, 1, T, 0, 1, &m->lr_bias);
    } else if (s == FR_OK && o->arch == FR_ARCH_SHARED_BOTTOM) {
        s = fr_mlp_init(&m->bottom, m->ps, "bottom", m->width, o->expert, o->n_expert, o->batch_norm,
                        o->dropout, B, FR_ROLE_GLOBAL, o->seed);
        if (s == FR_OK)
            s = build_towers(m, h);
    } else if (s == FR_OK && o->arch == FR_ARCH_MMOE) {
        s = fr_expert_bank_init(&m->bank, m->ps, "expert", o->experts, m->width, o->expert, o->n_expert,
                                o->batch_norm, o->dropout, B, FR_ROLE_GLOBAL, o->seed);
        if (s == FR_OK)
            s = alloc(m, B * o->experts * h, &m->dbank);
        for (size_t t = 0; s == FR_OK && t < T; t++) {
            char name[32];
            snprintf(name, sizeof name, "gate.%zu", t);
            s = fr_softmax_gate_init(&m->gate[t], m->ps, name, m->width, o->experts, FR_ROLE_GLOBAL, o->seed);
            if (s == FR_OK)
                s = alloc(m, B * o->experts, &m->gates[t]);
            if (s == FR_OK)
                s = alloc(m, B * o->experts, &m->gate_logits[t]);
            if (s == FR_OK)
                s = alloc(m, B * h, &m->mixed[t]);
            if (s == FR_OK)
                s = alloc(m, B * h, &m->dmixed[t]);
        }
        if (s == FR_OK)
            s = build_towers(m, h);
    } else if (s == FR_OK && o->arch == FR_ARCH_PLE) {
        s = build_ple(m);
    } else if (s == FR_OK) {
        s = fr_autoifs_create(be, m->ps, o, m->width, m->n_scen, T, &m->ifs);
        if (s == FR_OK)
            s = fr_param_set_create(be, &m->sel_emb_ps);
        if (s == FR_OK)
            s = fr_field_embedding_init(&m->sel_fe, m->sel_emb_ps, "ifs.selector_emb", m->n_cat + 1,
                                        shape->vocab_total + m->n_scen, d, m->n_num, FR_ROLE_FROZEN, o->seed);
        if (s == FR_OK)
            s = alloc(m, B * m->width, &m->sel_x);
    }
    if (s != FR_OK) {
        fr_msmt_model_free(m);
        return s;
    }
    *out = m;
    return FR_OK;
}

void fr_msmt_model_free(fr_msmt_model *m)
{
    if (!m)
        return;
    fr_field_embedding_release(&m->fe);
    fr_autoifs_free(m->ifs);
    if (m->sel_emb_ps)
        fr_field_embedding_release(&m->sel_fe);
    fr_param_set_free(m->sel_emb_ps);
    fr_buffer_free(m->sel_x);
    free(m->scen);
    fr_mlp_release(&m->bottom);
    fr_expert_bank_release(&m->bank);
    for (size_t t = 0; t < MAX_T; t++) {
        fr_buffer_free(m->gates[t]);
        fr_buffer_free(m->gate_logits[t]);
        fr_buffer_free(m->mixed[t]);
        fr_buffer_free(m->dmixed[t]);
        fr_mlp_release(&m->tower[t]);
    }
    for (size_t l = 0; l < MAX_LEVELS; l++) {
        cgc_level *lv = &m->level[l];
        for (size_t t = 0; t <= MAX_T; t++) {
            if (t < MAX_T)
                fr_expert_bank_release(&lv->task_bank[t]);
            fr_buffer_free(lv->gates[t]);
            fr_buffer_free(lv->gate_logits[t]);
            fr_buffer_free(lv->out[t]);
            fr_buffer_free(lv->dout[t]);
        }
        fr_expert_bank_release(&lv->shared_bank);
    }
    for (size_t t = 0; t <= MAX_T; t++)
        fr_buffer_free(m->ple_dbank[t]);
    fr_grad_scratch_release(&m->bank_scratch);
    fr_buffer_free(m->sum_matrix);
    fr_buffer_free(m->dbank);
    fr_buffer_free(m->numbers);
    fr_buffer_free(m->emb);
    fr_buffer_free(m->demb);
    fr_buffer_free(m->dtmp);
    fr_buffer_free(m->dacc);
    fr_buffer_free(m->gscratch);
    fr_buffer_free(m->logits);
    fr_buffer_free(m->dlogits);
    fr_buffer_free(m->tower_in_grad);
    fr_param_set_free(m->ps);
    free(m->field_offset);
    free(m->ids);
    free(m->host_num);
    free(m->host_logits);
    free(m->host_dlogits);
    free(m->host_labels);
    free(m->host_tmp);
    free(m);
}

/* ---- forward ----------------------------------------------------------------- */

/* Towers: task t's input tin[t] -> logit into column block t. */
static fr_status towers_forward(fr_msmt_model *m, fr_view *tin)
{
    for (size_t t = 0; t < m->n_tasks; t++) {
        fr_view y;
        FR_TRY(fr_mlp_forward(&m->tower[t], m->be, m->n, tin[t], m->step, m->training, &y));
        FR_TRY(fr_linear_forward(&m->head[t], m->be, m->n, y, fr_view_of(m->logits, t * m->n)));
    }
    return FR_OK;
}

/* PLE level l: inputs in[0..T] (tasks, then shared), outputs lv->out. */
static fr_status cgc_forward(fr_msmt_model *m, size_t l, const fr_view *in)
{
    cgc_level *lv = &m->level[l];
    size_t T = m->n_tasks, P = m->o.task_experts, S = m->o.experts, n = m->n, h = lv->h;
    fr_view bank_out[MAX_T + 1];
    for (size_t t = 0; t <= T; t++)
        FR_TRY(fr_expert_bank_forward(t == T ? &lv->shared_bank : &lv->task_bank[t], m->be, n, in[t], m->step,
                                      m->training, &bank_out[t]));
    for (size_t t = 0; t < T; t++) {
        fr_view g = whole(lv->gates[t]);
        FR_TRY(fr_softmax_gate_forward(&lv->task_gate[t], m->be, n, in[t], whole(lv->gate_logits[t]), g));
        FR_TRY(fr_mixture_forward(m->be, n, P, h, g, P + S, bank_out[t], 0.0f, whole(lv->out[t])));
        FR_TRY(fr_mixture_forward(m->be, n, S, h, fr_view_of(g.buf, P), P + S, bank_out[T], 1.0f,
                                  whole(lv->out[t])));
    }
    if (lv->has_shared_gate) {
        size_t G = T * P + S;
        fr_view g = whole(lv->gates[T]);
        FR_TRY(fr_softmax_gate_forward(&lv->shared_gate, m->be, n, in[T], whole(lv->gate_logits[T]), g));
        for (size_t t = 0; t <= T; t++)
            FR_TRY(fr_mixture_forward(m->be, n, t == T ? S : P, h, fr_view_of(g.buf, t * P), G, bank_out[t],
                                      t ? 1.0f : 0.0f, whole(lv->out[T])));
    }
    return FR_OK;
}

fr_status fr_msmt_forward(fr_msmt_model *m, const fr_table *tab, const uint32_t *rows, size_t n,
                          uint32_t step, int training, fr_view *logits)
{
    if (n == 0 || n > m->max_batch || (training && n < 2 && m->o.batch_norm && m->o.arch != FR_ARCH_LR))
        return fr_fail(FR_ERR_INVALID, "multi-task model: batch of %zu rows (1 to %zu; training with batch-norm needs 2)",
                       n, m->max_batch);
    m->n = n;
    m->step = step;
    m->training = training;
    size_t F = m->n_cat + 1, T = m->n_tasks;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        for (size_t f = 0; f < m->n_cat; f++)
            m->ids[i * F + f] = (int32_t)(m->field_offset[f] + (size_t)tab->cat[r * m->n_cat + f]);
        m->ids[i * F + m->n_cat] = (int32_t)(m->cat_offset_scen + (size_t)tab->scenario[r]);
        m->scen[i] = tab->scenario[r];
        if (m->n_num)
            memcpy(m->host_num + i * m->n_num, tab->num + r * m->n_num, m->n_num * sizeof(float));
        for (size_t t = 0; t < T; t++)
            m->host_labels[t * n + i] = tab->labels[r * T + t];
    }
    if (m->n_num)
        FR_TRY(fr_buffer_upload(m->numbers, 0, m->host_num, n * m->n_num * sizeof(float)));
    fr_view x = whole(m->emb);
    FR_TRY(fr_field_embedding_forward(&m->fe, m->be, n, m->ids, whole(m->numbers), x));
    fr_view tin[MAX_T];
    size_t h = m->o.expert[m->o.n_expert - 1];
    switch (m->o.arch) {
    case FR_ARCH_LR:
        /* logits (n x T) = tokens summed; written row-major then moved to
         * task-major on the host below. */
        FR_TRY(fr_gemm(m->be, FR_NO_TRANS, FR_NO_TRANS, n, T, m->width, 1.0f, x, m->width, whole(m->sum_matrix),
                       T, 0.0f, whole(m->dtmp), T));
        FR_TRY(fr_bias_add(m->be, n, T, whole(m->dtmp), whole(m->lr_bias->value)));
        FR_TRY(fr_buffer_download(m->dtmp, 0, m->host_dlogits, n * T * sizeof(float)));
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < T; t++)
                m->host_logits[t * n + i] = m->host_dlogits[i * T + t];
        FR_TRY(fr_buffer_upload(m->logits, 0, m->host_logits, n * T * sizeof(float)));
        *logits = whole(m->logits);
        return FR_OK;
    case FR_ARCH_AUTOIFS: {
        fr_view xs = x;
        if (m->ifs_retrain) {
            xs = whole(m->sel_x);
            FR_TRY(fr_field_embedding_forward(&m->sel_fe, m->be, n, m->ids, whole(m->numbers), xs));
        }
        FR_TRY(fr_autoifs_forward(m->ifs, n, x, xs, m->scen, step, training, m->host_logits));
        FR_TRY(fr_buffer_upload(m->logits, 0, m->host_logits, n * T * sizeof(float)));
        *logits = whole(m->logits);
        return FR_OK;
    }
    case FR_ARCH_SHARED_BOTTOM: {
        fr_view y;
        FR_TRY(fr_mlp_forward(&m->bottom, m->be, n, x, step, training, &y));
        for (size_t t = 0; t < T; t++)
            tin[t] = y;
        break;
    }
    case FR_ARCH_MMOE: {
        fr_view bank_out;
        FR_TRY(fr_expert_bank_forward(&m->bank, m->be, n, x, step, training, &bank_out));
        for (size_t t = 0; t < T; t++) {
            FR_TRY(fr_softmax_gate_forward(&m->gate[t], m->be, n, x, whole(m->gate_logits[t]),
                                           whole(m->gates[t])));
            FR_TRY(fr_mixture_forward(m->be, n, m->o.experts, h, whole(m->gates[t]), m->o.experts, bank_out,
                                      0.0f, whole(m->mixed[t])));
            tin[t] = whole(m->mixed[t]);
        }
        break;
    }
    case FR_ARCH_PLE: {
        fr_view in[MAX_T + 1];
        for (size_t t = 0; t <= T; t++)
            in[t] = x;
        for (size_t l = 0; l < m->o.levels; l++) {
            FR_TRY(cgc_forward(m, l, in));
            for (size_t t = 0; t <= T; t++)
                in[t] = whole(m->level[l].out[t]); /* top level: no shared output */
        }
        for (size_t t = 0; t < T; t++)
            tin[t] = in[t];
        break;
    }
    }
    FR_TRY(towers_forward(m, tin));
    FR_TRY(fr_buffer_download(m->logits, 0, m->host_logits, n * T * sizeof(float)));
    *logits = whole(m->logits);
    return FR_OK;
}

fr_status fr_msmt_probabilities(fr_msmt_model *m, float *out)
{
    size_t n = m->n;
    for (size_t k = 0; k < n * m->n_tasks; k++)
        out[k] = 1.0f / (1.0f + expf(-m->host_logits[k]));
    if (m->o.esmm)
        for (size_t i = 0; i < n; i++)
            out[n + i] *= out[i];
    return FR_OK;
}

/* ---- loss and backward ------------------------------------------------------- */

/* Sum over tasks of the mean BCE, and d/dlogits, on the host. ESMM: task 1
 * is trained on p = p0 * p1 against its label (CTCVR). */
static double host_loss(fr_msmt_model *m)
{
    size_t n = m->n, T = m->n_tasks;
    double loss = 0.0;
    for (size_t k = 0; k < n * T; k++) {
        float z = m->host_logits[k], y = m->host_labels[k];
        loss += (double)(fmaxf(z, 0.0f) - z * y + log1pf(expf(-fabsf(z))));
        m->host_dlogits[k] = (1.0f / (1.0f + expf(-z)) - y) / (float)n;
    }
    if (m->o.esmm) {
        /* Replace task 1's term: -[y log(p0 p1) + (1 - y) log(1 - p0 p1)]. */
        for (size_t i = 0; i < n; i++) {
            float z0 = m->host_logits[i], z1 = m->host_logits[n + i], y = m->host_labels[n + i];
            loss -= (double)(fmaxf(z1, 0.0f) - z1 * y + log1pf(expf(-fabsf(z1))));
            double p0 = 1.0 / (1.0 + exp(-(double)z0)), p1 = 1.0 / (1.0 + exp(-(double)z1));
            double p = p0 * p1, pc = fmin(fmax(p, 1e-7), 1.0 - 1e-7);
            loss += -(y * log(pc) + (1.0 - y) * log(1.0 - pc));
            /* dL/dp = (p - y) / (p (1 - p)); dp/dz0 = p (1 - p0), dp/dz1 = p (1 - p1). */
            double dp = (pc - y) / (pc * (1.0 - pc));
            m->host_dlogits[i] += (float)(dp * p * (1.0 - p0) / (double)n);
            m->host_dlogits[n + i] = (float)(dp * p * (1.0 - p1) / (double)n);
        }
    }
    return loss / (double)n;
}

/* Add src (n x w) into dst through the backend. */
static fr_status add_into(fr_msmt_model *m, size_t count, fr_view src, fr_view dst)
{
    return fr_axpy(m->be, count, 1.0f, src, dst);
}

/* Task t's tower backward from its logit gradient; d(tower input) into
 * dtin (overwritten). */
static fr_status towers_backward_one(fr_msmt_model *m, size_t t, fr_view tin, fr_view dtin)
{
    size_t n = m->n;
    fr_view y = fr_mlp_output(&m->tower[t]), dy = whole(m->tower_in_grad);
    FR_TRY(fr_linear_backward(&m->head[t], m->be, n, y, fr_view_of(m->dlogits, t * n), dy));
    return fr_mlp_backward(&m->tower[t], m->be, n, tin, dy, dtin, m->training);
}

static fr_status cgc_backward(fr_msmt_model *m, size_t l, const fr_view *in, fr_view *din)
{
    cgc_level *lv = &m->level[l];
    size_t T = m->n_tasks, P = m->o.task_experts, S = m->o.experts, n = m->n, h = lv->h, in_w = lv->in;
    fr_view bank_out[MAX_T + 1], dbank[MAX_T + 1];
    for (size_t t = 0; t <= T; t++) {
        fr_expert_bank *b = t == T ? &lv->shared_bank : &lv->task_bank[t];
        bank_out[t] = fr_expert_bank_output(b);
        dbank[t] = whole(m->ple_dbank[t]);
        FR_TRY(fr_fill(m->be, n * (t == T ? S : P) * h, 0.0f, dbank[t]));
    }
    fr_view dx = whole(m->dtmp);
    for (size_t t = 0; t <= T; t++)
        FR_TRY(fr_fill(m->be, n * in_w, 0.0f, din[t]));
    for (size_t t = 0; t < T; t++) {
        /* dg reuses gate_logits' buffer: the logits are not needed again. */
        fr_view g = whole(lv->gates[t]), dg = whole(lv->gate_logits[t]);
        FR_TRY(fr_mixture_backward(m->be, n, P, h, g, P + S, bank_out[t], whole(lv->dout[t]), dg, dbank[t]));
        FR_TRY(fr_mixture_backward(m->be, n, S, h, fr_view_of(g.buf, P), P + S, bank_out[T], whole(lv->dout[t]),
                                   fr_view_of(dg.buf, P), dbank[T]));
        FR_TRY(fr_softmax_gate_backward(&lv->task_gate[t], m->be, n, in[t], g, dg, whole(m->gscratch), dx));
        FR_TRY(add_into(m, n * in_w, dx, din[t]));
    }
    if (lv->has_shared_gate) {
        size_t G = T * P + S;
        fr_view g = whole(lv->gates[T]), dg = whole(lv->gate_logits[T]);
        for (size_t t = 0; t <= T; t++)
            FR_TRY(fr_mixture_backward(m->be, n, t == T ? S : P, h, fr_view_of(g.buf, t * P), G, bank_out[t],
                                       whole(lv->dout[T]), fr_view_of(dg.buf, t * P), dbank[t]));
        FR_TRY(fr_softmax_gate_backward(&lv->shared_gate, m->be, n, in[T], g, dg, whole(m->gscratch), dx));
        FR_TRY(add_into(m, n * in_w, dx, din[T]));
    }
    for (size_t t = 0; t <= T; t++) {
        FR_TRY(fr_expert_bank_backward(t == T ? &lv->shared_bank : &lv->task_bank[t], m->be, n, in[t], dbank[t], dx,
                                       m->training));
        FR_TRY(add_into(m, n * in_w, dx, din[t]));
    }
    return FR_OK;
}

fr_status fr_msmt_backward(fr_msmt_model *m, float *loss)
{
    size_t n = m->n, T = m->n_tasks, h = m->o.expert[m->o.n_expert - 1];
    *loss = (float)host_loss(m);
    fr_view x = whole(m->emb), dx = whole(m->demb);
    if (m->o.arch == FR_ARCH_LR) {
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < T; t++)
                m->host_tmp[i * T + t] = m->host_dlogits[t * n + i];
        FR_TRY(fr_buffer_upload(m->dlogits, 0, m->host_tmp, n * T * sizeof(float)));
        FR_TRY(fr_col_sum(m->be, n, T, whole(m->dlogits), 1.0f, whole(m->lr_bias->grad)));
        FR_TRY(fr_gemm(m->be, FR_NO_TRANS, FR_TRANS, n, m->width, T, 1.0f, whole(m->dlogits), T,
                       whole(m->sum_matrix), T, 0.0f, dx, m->width));
        return fr_field_embedding_backward(&m->fe, m->be, n, whole(m->numbers), dx);
    }
    if (m->o.arch == FR_ARCH_AUTOIFS) {
        fr_view xs = m->ifs_retrain ? whole(m->sel_x) : x;
        FR_TRY(fr_autoifs_backward(m->ifs, m->host_dlogits, x, xs, dx));
        return fr_field_embedding_backward(&m->fe, m->be, n, whole(m->numbers), dx);
    }
    FR_TRY(fr_buffer_upload(m->dlogits, 0, m->host_dlogits, n * T * sizeof(float)));
    fr_view tin[MAX_T], dtin[MAX_T];
    if (m->o.arch == FR_ARCH_SHARED_BOTTOM) {
        /* Every tower reads the bottom's output: their input gradients
         * add up in dacc. */
        fr_view y = fr_mlp_output(&m->bottom), acc = whole(m->dacc);
        for (size_t t = 0; t < T; t++) {
            tin[t] = y;
            dtin[t] = whole(m->dtmp);
            FR_TRY(towers_backward_one(m, t, tin[t], dtin[t]));
            if (t == 0)
                FR_TRY(fr_copy(m->be, n * h, dtin[t], acc));
            else
                FR_TRY(add_into(m, n * h, dtin[t], acc));
        }
        FR_TRY(fr_mlp_backward(&m->bottom, m->be, n, x, acc, dx, m->training));
    } else if (m->o.arch == FR_ARCH_MMOE) {
        fr_view bank_out = fr_expert_bank_output(&m->bank);
        FR_TRY(fr_fill(m->be, n * m->o.experts * h, 0.0f, whole(m->dbank)));
        FR_TRY(fr_fill(m->be, n * m->width, 0.0f, dx));
        for (size_t t = 0; t < T; t++) {
            FR_TRY(towers_backward_one(m, t, whole(m->mixed[t]), whole(m->dmixed[t])));
            fr_view g = whole(m->gates[t]), dg = whole(m->gate_logits[t]);
            FR_TRY(fr_mixture_backward(m->be, n, m->o.experts, h, g, m->o.experts, bank_out, whole(m->dmixed[t]),
                                       dg, whole(m->dbank)));
            FR_TRY(fr_softmax_gate_backward(&m->gate[t], m->be, n, x, g, dg, whole(m->gscratch), whole(m->dtmp)));
            FR_TRY(add_into(m, n * m->width, whole(m->dtmp), dx));
        }
        FR_TRY(fr_expert_bank_backward(&m->bank, m->be, n, x, whole(m->dbank), whole(m->dtmp), m->training));
        FR_TRY(add_into(m, n * m->width, whole(m->dtmp), dx));
    } else {
        size_t L = m->o.levels;
        cgc_level *top = &m->level[L - 1];
        for (size_t t = 0; t < T; t++)
            FR_TRY(towers_backward_one(m, t, whole(top->out[t]), whole(top->dout[t])));
        for (size_t l = L; l-- > 0;) {
            /* Level l reads level l - 1's outputs (their gradients go to
             * its dout), level 0 the embedding for every input (all its
             * input gradients add up in dx). */
            fr_view in[MAX_T + 1], din[MAX_T + 1];
            for (size_t t = 0; t <= T; t++) {
                in[t] = l ? whole(m->level[l - 1].out[t]) : x;
                din[t] = l ? whole(m->level[l - 1].dout[t]) : dx;
            }
            FR_TRY(cgc_backward(m, l, in, din));
        }
    }
    return fr_field_embedding_backward(&m->fe, m->be, n, whole(m->numbers), dx);
}
