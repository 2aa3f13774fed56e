/* fedmsmt_units.c — the parameter template of federated multi-scenario
 * multi-task training (see fedrec/fedmsmt.h): which pool experts each
 * client holds, how each kind of unit is aggregated under the chosen
 * method, and where each federated unit lies in a client's flat parameter
 * vector (the order fr_param_set_export writes).
 *
 * A client's experts live side by side in one expert bank (fedrec/nn.h):
 * local expert k owns columns [k w, (k + 1) w) of the first layer's weight
 * (in x E w), rows [k in_l, (k + 1) in_l) of a deeper layer's weight
 * (E in_l x w), and columns [k w, (k + 1) w) of every bias and batch-norm
 * vector; its unit is those slices. Towers, heads, gates and the
 * embedding are whole parameters found by name. */
#include <stdio.h>
#include <string.h>

#include "core/error_internal.h"
#include "job/fedmsmt_job.h"

fr_status fr_fedmsmt_template_make(const fr_fedmsmt_options *o, size_t clients, fed_template *tp)
{
    memset(tp, 0, sizeof *tp);
    if (clients < 1 || clients > FR_TABLE_MAX_SCENARIOS)
        return fr_fail(FR_ERR_INVALID, "federated training: %zu clients (scenarios), expected 1 to %d", clients,
                       FR_TABLE_MAX_SCENARIOS);
    tp->clients = clients;
    int pf = o->method == FR_FED_PFMSMTREC;
    if (o->n_pool > FR_FED_MAX_POOL || o->shared_experts > FR_FED_MAX_POOL ||
        o->private_experts > FR_FED_MAX_POOL)
        return fr_fail(FR_ERR_INVALID,
                       "parameter template: %zu pool, %zu shared and %zu private experts; each at most %d",
                       o->n_pool, o->shared_experts, o->private_experts, FR_FED_MAX_POOL);
    if (pf && o->n_pool > 0) {
        tp->pool = o->n_pool;
        for (size_t c = 0; c < clients; c++)
            memcpy(tp->member[c], o->member[c], o->n_pool);
    } else if (pf) {
        /* Shared experts first, then each client's private ones. */
        tp->pool = o->shared_experts + clients * o->private_experts;
        if (tp->pool > FR_FED_MAX_POOL)
            return fr_fail(FR_ERR_INVALID,
                           "parameter template: %zu shared + %zu clients x %zu private = %zu pool experts, at most %d",
                           o->shared_experts, clients, o->private_experts, tp->pool, FR_FED_MAX_POOL);
        for (size_t c = 0; c < clients; c++) {
            for (size_t g = 0; g < o->shared_experts; g++)
                tp->member[c][g] = 1;
            for (size_t p = 0; p < o->private_experts; p++)
                tp->member[c][o->shared_experts + c * o->private_experts + p] = 1;
        }
    } else {
        /* The baselines: as many experts per client, all shared. */
        tp->pool = o->shared_experts + o->private_experts;
        if (tp->pool > FR_FED_MAX_POOL)
            return fr_fail(FR_ERR_INVALID, "%zu experts per client, at most %d", tp->pool, FR_FED_MAX_POOL);
        for (size_t c = 0; c < clients; c++)
            memset(tp->member[c], 1, tp->pool);
    }
    for (size_t c = 0; c < clients; c++) {
        for (size_t g = 0; g < tp->pool; g++)
            if (tp->member[c][g]) {
                tp->local_of[c][g] = tp->held[c]++;
                tp->members[g]++;
            }
        if (tp->held[c] == 0)
            return fr_fail(FR_ERR_INVALID, "parameter template: client %zu holds no expert", c);
    }
    int local = o->method == FR_FED_LOCAL;
    tp->bn_local = local || o->method == FR_FED_FEDBN || (pf && o->fedbn);
    for (int k = 0; k <= UNIT_EMB_NUMERIC; k++) {
        tp->rule[k].federated = !local;
        tp->rule[k].agg = FR_FED_AGG_MEAN;
    }
    if (pf) {
        tp->rule[UNIT_EXPERT].coordinate = o->coordination;
        tp->rule[UNIT_EXPERT].agg = o->experts_agg;
        tp->rule[UNIT_TOWER].federated = o->towers_agg != FR_FED_AGG_LOCAL;
        tp->rule[UNIT_TOWER].agg = o->towers_agg;
        tp->rule[UNIT_TOWER].coordinate = o->tower_coordination;
        tp->rule[UNIT_GATE].federated = 0; /* gates stay local */
        tp->rule[UNIT_EMB_TABLE].federated = o->embedding_agg != FR_FED_AGG_LOCAL;
        tp->rule[UNIT_EMB_NUMERIC].federated = o->embedding_agg != FR_FED_AGG_LOCAL;
    }
    return FR_OK;
}

/* Offset of p in ps's flat export (every parameter, in order). */
static size_t offset_of(fr_param_set *ps, const fr_param *p)
{
    size_t off = 0;
    for (size_t i = 0; i < fr_param_set_count(ps); i++) {
        fr_param *q = fr_param_set_at(ps, i);
        if (q == p)
            break;
        off += q->rows * q->cols;
    }
    return off;
}

static fr_status add_seg(fed_unit *u, size_t off, size_t ld, size_t rows, size_t cols)
{
    if (u->n_seg == UNIT_MAX_SEGS)
        return fr_fail(FR_ERR_INVALID, "federated unit with more than %d parameter slices", UNIT_MAX_SEGS);
    u->seg[u->n_seg++] = (unit_seg){off, ld, rows, cols};
    u->numel += rows * cols;
    return FR_OK;
}

/* Columns [c0, c0 + w) of the 1 x n vector parameter `name`. */
static fr_status add_cols(fed_unit *u, fr_param_set *ps, const char *name, size_t c0, size_t w)
{
    fr_param *p = fr_param_set_find(ps, name);
    if (!p || c0 + w > p->cols)
        return fr_fail(FR_ERR_INVALID, "federated template: parameter '%s' missing or too narrow", name);
    return add_seg(u, offset_of(ps, p) + c0, p->cols, p->rows, w);
}

/* Every parameter whose name starts with prefix (batch-norm ones only if
 * with_bn); 0 found is an error. */
static fr_status add_prefix(fed_unit *u, fr_param_set *ps, const char *prefix, int with_bn)
{
    size_t found = 0, off = 0, len = strlen(prefix);
    for (size_t i = 0; i < fr_param_set_count(ps); i++) {
        fr_param *p = fr_param_set_at(ps, i);
        if (!strncmp(p->name, prefix, len) && (with_bn || !strstr(p->name, ".bn."))) {
            FR_TRY(add_seg(u, off, p->cols, p->rows, p->cols));
            found++;
        }
        off += p->rows * p->cols;
    }
    if (!found)
        return fr_fail(FR_ERR_INVALID, "federated template: no parameter named %s*", prefix);
    return FR_OK;
}

static fr_status expert_unit(const fed_template *tp, size_t c, size_t g, fr_param_set *ps,
                             const fr_msmt_options *model, fed_unit *u)
{
    size_t k = tp->local_of[c][g], E = tp->held[c];
    char name[64];
    static const char *const bn[] = {"gamma", "beta", "running_mean", "running_var"};
    for (size_t l = 0; l < model->n_expert; l++) {
        size_t w = model->expert[l];
        snprintf(name, sizeof name, "expert.%zu.weight", l);
        fr_param *p = fr_param_set_find(ps, name);
        if (!p)
            return fr_fail(FR_ERR_INVALID, "federated template: no parameter %s", name);
        size_t off = offset_of(ps, p);
        if (l == 0) {
            FR_TRY(add_seg(u, off + k * w, E * w, p->rows, w));
        } else {
            size_t prev = model->expert[l - 1];
            FR_TRY(add_seg(u, off + k * prev * w, w, prev, w));
        }
        snprintf(name, sizeof name, "expert.%zu.bias", l);
        FR_TRY(add_cols(u, ps, name, k * w, w));
        if (model->batch_norm && !tp->bn_local)
            for (size_t b = 0; b < 4; b++) {
                snprintf(name, sizeof name, "expert.%zu.bn.%s", l, bn[b]);
                FR_TRY(add_cols(u, ps, name, k * w, w));
            }
    }
    return FR_OK;
}

/* The next unit of the list, empty, of the given kind and index. */
static fr_status new_unit(fed_unit *units, size_t cap, size_t n, unit_kind kind, size_t index)
{
    if (n == cap)
        return fr_fail(FR_ERR_INVALID, "federated template: more than %zu units", cap);
    memset(&units[n], 0, sizeof units[n]);
    units[n].kind = kind;
    units[n].index = index;
    return FR_OK;
}

fr_status fr_fedmsmt_units(const fed_template *tp, size_t c, fr_param_set *ps, const fr_msmt_options *model,
                       fed_unit *units, size_t cap, size_t *n)
{
    *n = 0;
    char prefix[64];
    size_t tasks = 0;
    while (tasks < FR_TABLE_MAX_TASKS) {
        snprintf(prefix, sizeof prefix, "head.%zu.weight", tasks);
        if (!fr_param_set_find(ps, prefix))
            break;
        tasks++;
    }
    if (tp->rule[UNIT_EXPERT].federated)
        for (size_t g = 0; g < tp->pool; g++)
            if (tp->member[c][g] && tp->members[g] > 1) {
                FR_TRY(new_unit(units, cap, *n, UNIT_EXPERT, g));
                FR_TRY(expert_unit(tp, c, g, ps, model, &units[*n]));
                (*n)++;
            }
    for (size_t t = 0; t < tasks; t++) {
        if (tp->rule[UNIT_TOWER].federated) {
            FR_TRY(new_unit(units, cap, *n, UNIT_TOWER, t));
            snprintf(prefix, sizeof prefix, "tower.%zu.", t);
            FR_TRY(add_prefix(&units[*n], ps, prefix, !tp->bn_local));
            snprintf(prefix, sizeof prefix, "head.%zu.", t);
            FR_TRY(add_prefix(&units[*n], ps, prefix, 1));
            (*n)++;
        }
        if (tp->rule[UNIT_GATE].federated) {
            FR_TRY(new_unit(units, cap, *n, UNIT_GATE, t));
            snprintf(prefix, sizeof prefix, "gate.%zu.", t);
            FR_TRY(add_prefix(&units[*n], ps, prefix, 1));
            (*n)++;
        }
    }
    if (tp->rule[UNIT_EMB_TABLE].federated) {
        FR_TRY(new_unit(units, cap, *n, UNIT_EMB_TABLE, 0));
        FR_TRY(add_prefix(&units[*n], ps, "emb.table", 1));
        (*n)++;
        if (fr_param_set_find(ps, "emb.numeric.weight")) {
            FR_TRY(new_unit(units, cap, *n, UNIT_EMB_NUMERIC, 0));
            FR_TRY(add_prefix(&units[*n], ps, "emb.numeric.", 1));
            (*n)++;
        }
    }
    return FR_OK;
}

void fr_fedmsmt_unit_gather(const fed_unit *u, const float *flat, float *out)
{
    for (size_t s = 0; s < u->n_seg; s++) {
        const unit_seg *g = &u->seg[s];
        for (size_t r = 0; r < g->rows; r++) {
            memcpy(out, flat + g->off + r * g->ld, g->cols * sizeof *out);
            out += g->cols;
        }
    }
}

void fr_fedmsmt_unit_scatter(const fed_unit *u, const float *in, float *flat)
{
    for (size_t s = 0; s < u->n_seg; s++) {
        const unit_seg *g = &u->seg[s];
        for (size_t r = 0; r < g->rows; r++) {
            memcpy(flat + g->off + r * g->ld, in, g->cols * sizeof *in);
            in += g->cols;
        }
    }
}
