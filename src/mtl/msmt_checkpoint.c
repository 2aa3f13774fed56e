/* msmt_checkpoint.c — checkpoints of the multi-scenario trainer (see
 * fedrec/msmt.h, "checkpoints"): one file in the shared container
 * (io/checkpoint_file.h) holding the trainer's state between two epochs
 * and every value of the model. Read back, it is checked whole (length,
 * checksum), then against this run (configuration, model, data) and
 * every size computed, before anything in the model or the state is
 * replaced.
 *
 * The payload, after the header:
 *   the job fingerprint's text (config_bytes);
 *   the caller's extra values (n_extra doubles);
 *   for each optimiser kept (the search's and the selector's in the
 *     search, the (re)training's after it; none once done): its step
 *     count (int64), its parameters (uint64) and one byte per parameter,
 *     1 where the parameter has Adam moments;
 *   every parameter's values, part by part (fr_msmt_model_parts: the
 *     model's set, then AutoIFS's selector and the selector's input), in
 *     each set's order, every role;
 *   the moments flagged above, m then v, optimiser by optimiser;
 *   the best epoch's parameters (n_values floats) when there is one;
 *   AutoIFS's rewound weights (n_values floats) in the search once taken. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "io/checkpoint_file.h"
#include "nn/params_checkpoint.h"
#include "mtl/msmt_internal.h"

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, arch;
    uint32_t phase, step;           /* fr_msmt_phase; batches trained */
    uint32_t rewound, n_opt;        /* optimisers kept (the phase's) */
    uint32_t optimizer, n_parts;    /* fr_optim_kind; model file parts */
    uint64_t epochs_run, phase_epochs, epochs, best_epoch, since_best;
    double best_auc;
    double gate_sums[4];
    uint64_t gate_count, samples;
    double train_seconds;
    uint64_t values[FR_MSMT_MAX_PARTS]; /* floats of each part */
    uint64_t seed, rows, data_fingerprint;
    uint64_t n_extra, config_bytes, payload_bytes;
} ckpt_header;

/* The optimisers a state keeps, in file order. */
static size_t optimizers_of(const fr_msmt_state *st, fr_optimizer *opts[2])
{
    if (st->phase == FR_MSMT_PHASE_SEARCH) {
        opts[0] = st->search_opt;
        opts[1] = st->selector_opt;
        return 2;
    }
    if (st->phase == FR_MSMT_PHASE_TRAIN) {
        opts[0] = st->train_opt;
        return 1;
    }
    return 0;
}

/* The parameter set of optimiser k of a phase. */
static fr_param_set *set_of(fr_msmt_model *m, fr_msmt_phase phase, size_t k)
{
    return phase == FR_MSMT_PHASE_SEARCH && k == 1 ? fr_msmt_model_selector_params(m) : fr_msmt_model_params(m);
}

static size_t largest_param(fr_model_part *parts, size_t n_parts)
{
    fr_param_set *sets[FR_MSMT_MAX_PARTS];
    for (size_t k = 0; k < n_parts; k++)
        sets[k] = parts[k].set;
    return fr_ckpt_largest_param(sets, n_parts);
}

/* ---- writing ---------------------------------------------------------- */

fr_status fr_msmt_checkpoint_write(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                                   const fr_msmt_state *st, uint64_t data_fingerprint)
{
    const fr_msmt_checkpoint *ck = &o->checkpoint;
    const char *config = ck->job_fingerprint ? ck->job_fingerprint : "";
    fr_model_part parts[FR_MSMT_MAX_PARTS];
    size_t n_parts = fr_msmt_model_parts(m, parts);
    fr_optimizer *opts[2];
    size_t n_opt = optimizers_of(st, opts);
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fr_ckpt_msmt.magic, sizeof h.magic);
    h.version = fr_ckpt_msmt.newest;
    h.arch = (uint32_t)fr_msmt_model_arch(m);
    h.phase = (uint32_t)st->phase;
    h.step = st->step;
    h.rewound = st->phase == FR_MSMT_PHASE_SEARCH && st->rewound; /* the rewind is the search's */
    h.n_opt = (uint32_t)n_opt;
    h.optimizer = (uint32_t)o->optimizer;
    h.n_parts = (uint32_t)n_parts;
    h.epochs_run = st->epochs_run;
    h.phase_epochs = st->phase_epochs;
    h.epochs = st->epochs;
    h.best_epoch = st->best_epoch;
    h.since_best = st->since_best;
    h.best_auc = st->best_auc;
    fr_msmt_gate_stats(m, h.gate_sums, &h.gate_count);
    h.samples = st->samples;
    h.train_seconds = st->train_seconds;
    for (size_t k = 0; k < n_parts; k++)
        h.values[k] = fr_param_set_numel(parts[k].set, FR_ROLES_ALL);
    h.seed = o->seed;
    h.rows = t->rows;
    h.data_fingerprint = data_fingerprint;
    h.n_extra = ck->n_extra;
    h.config_bytes = strlen(config);
    /* The payload's size, and the moments each optimiser has. */
    size_t most = largest_param(parts, n_parts);
    uint64_t payload = h.config_bytes + h.n_extra * sizeof(double);
    unsigned char *flags[2] = {NULL, NULL};
    fr_ckpt_opt_head heads[2];
    fr_status s = FR_OK;
    for (size_t k = 0; k < n_parts; k++)
        payload += h.values[k] * sizeof(float);
    for (size_t k = 0; s == FR_OK && k < n_opt; k++) {
        fr_param_set *set = set_of(m, st->phase, k);
        payload += sizeof heads[k] + fr_param_set_count(set);
        s = fr_ckpt_opt_measure(opts[k], set, &heads[k], &flags[k], &payload);
    }
    if (st->best_epoch)
        payload += st->n_values * sizeof(float);
    if (st->phase == FR_MSMT_PHASE_SEARCH && st->rewound)
        payload += st->n_values * sizeof(float);
    h.payload_bytes = payload;
    float *tmp = s == FR_OK ? malloc(most * sizeof *tmp) : NULL;
    if (s == FR_OK && !tmp)
        s = fr_fail_nomem("checkpoint", most * sizeof *tmp);
    fr_ckpt_writer w;
    if (s == FR_OK)
        s = fr_ckpt_write_open(&w, ck->path);
    if (s == FR_OK) {
        fr_ckpt_write(&w, &h, sizeof h);
        fr_ckpt_write(&w, config, (size_t)h.config_bytes);
        fr_ckpt_write(&w, ck->extra, ck->n_extra * sizeof *ck->extra);
        for (size_t k = 0; k < n_opt; k++) {
            fr_ckpt_write(&w, &heads[k], sizeof heads[k]);
            fr_ckpt_write(&w, flags[k], (size_t)heads[k].n_params);
        }
        for (size_t k = 0; s == FR_OK && k < n_parts; k++)
            s = fr_ckpt_write_values(&w, parts[k].set, tmp);
        for (size_t k = 0; s == FR_OK && k < n_opt; k++)
            s = fr_ckpt_write_moments(&w, opts[k], set_of(m, st->phase, k), flags[k], tmp);
        if (st->best_epoch)
            fr_ckpt_write(&w, st->best, st->n_values * sizeof *st->best);
        if (st->phase == FR_MSMT_PHASE_SEARCH && st->rewound)
            fr_ckpt_write(&w, st->rewind, st->n_values * sizeof *st->rewind);
        if (s == FR_OK)
            s = fr_ckpt_write_commit(&w);
        else
            fr_ckpt_write_abort(&w);
    }
    free(tmp);
    free(flags[0]);
    free(flags[1]);
    return s;
}

/* ---- reading ---------------------------------------------------------- */

static const char *phase_name(uint32_t phase)
{
    return phase == FR_MSMT_PHASE_SEARCH ? "search" : phase == FR_MSMT_PHASE_TRAIN ? "training" : "done";
}

/* The header against this run: the model, the run's options, the data,
 * and a state the trainer can be in. */
static fr_status check_header(const ckpt_header *h, const char *path, fr_msmt_model *m, const fr_table *t,
                              const fr_msmt_train_options *o, uint64_t data_fingerprint, fr_model_part *parts,
                              size_t n_parts)
{
    fr_msmt_arch arch = fr_msmt_model_arch(m);
    if (h->arch != (uint32_t)arch)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another model (%s; this run: %s)", path,
                       fr_msmt_arch_name((fr_msmt_arch)h->arch), fr_msmt_arch_name(arch));
    if (h->seed != o->seed || h->optimizer != (uint32_t)o->optimizer)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (seed %llu, optimiser %s; this run: seed %llu, optimiser %s)",
                       path, (unsigned long long)h->seed, fr_optim_kind_name((fr_optim_kind)h->optimizer),
                       (unsigned long long)o->seed, fr_optim_kind_name((fr_optim_kind)o->optimizer));
    if (h->data_fingerprint != data_fingerprint)
        return fr_fail(FR_ERR_DATA, "%s: the checkpoint was written on other data: a table of %llu rows, contents fingerprint %016llx; this run's table has %zu rows, fingerprint %016llx (every column, the split marks and the names count)",
                       path, (unsigned long long)h->rows, (unsigned long long)h->data_fingerprint, t->rows,
                       (unsigned long long)data_fingerprint);
    if (h->n_parts != n_parts)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint holds %u parameter set(s), this run's model %zu", path,
                       h->n_parts, n_parts);
    for (size_t k = 0; k < n_parts; k++) {
        size_t values = fr_param_set_numel(parts[k].set, FR_ROLES_ALL);
        if (h->values[k] != values)
            return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's parameter set %zu ('%s') holds %llu values, this run's model %zu",
                           path, k + 1, parts[k].prefix && *parts[k].prefix ? parts[k].prefix : "model", (unsigned long long)h->values[k],
                           values);
    }
    int autoifs = n_parts > 1;
    uint32_t n_opt = h->phase == FR_MSMT_PHASE_SEARCH ? 2 : h->phase == FR_MSMT_PHASE_TRAIN ? 1 : 0;
    size_t phase_last = h->phase == FR_MSMT_PHASE_SEARCH ? o->search_epochs : o->max_epochs;
    if (h->phase > FR_MSMT_PHASE_DONE || (h->phase == FR_MSMT_PHASE_SEARCH && !autoifs) || h->n_opt != n_opt ||
        h->rewound > 1 || h->phase_epochs > phase_last || h->epochs > o->max_epochs ||
        h->best_epoch > h->epochs || h->epochs_run < h->phase_epochs ||
        (h->phase == FR_MSMT_PHASE_SEARCH && h->epochs) || (h->phase != FR_MSMT_PHASE_SEARCH && h->rewound) ||
        (h->phase == FR_MSMT_PHASE_DONE && !h->epochs))
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's training state cannot be this run's (phase %s, %llu epoch(s) of it, %llu in all, best %llu; this run: %zu epoch(s)%s)",
                       path, phase_name(h->phase), (unsigned long long)h->phase_epochs,
                       (unsigned long long)h->epochs_run, (unsigned long long)h->best_epoch, o->max_epochs,
                       autoifs ? " after its search" : "");
    if (h->n_extra != o->checkpoint.n_extra)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint keeps %llu of the caller's values, this run %zu", path,
                       (unsigned long long)h->n_extra, o->checkpoint.n_extra);
    return FR_OK;
}

/* The arrays, after every check: into the model, its optimisers and st. */
static fr_status read_arrays(FILE *f, const char *path, fr_msmt_model *m, const fr_msmt_train_options *o,
                             const ckpt_header *h, fr_model_part *parts, size_t n_parts, fr_optimizer *opts[2],
                             unsigned char *flags[2], const fr_ckpt_opt_head *heads, fr_msmt_state *st)
{
    /* The switch to hard gates copies the searched embedding into the
     * selector's input, which the file's values then replace. */
    if (n_parts > 1 && h->phase != FR_MSMT_PHASE_SEARCH)
        FR_TRY(fr_msmt_autoifs_phase(m, 1, o->tau_final));
    size_t most = largest_param(parts, n_parts);
    float *tmp = malloc(most * sizeof *tmp);
    if (!tmp)
        return fr_fail_nomem("checkpoint", most * sizeof *tmp);
    fr_status s = FR_OK;
    for (size_t k = 0; s == FR_OK && k < n_parts; k++)
        s = fr_ckpt_read_values(f, path, parts[k].set, tmp);
    for (size_t k = 0; s == FR_OK && k < h->n_opt; k++)
        s = fr_ckpt_read_moments(f, path, opts[k], set_of(m, (fr_msmt_phase)h->phase, k), &heads[k], flags[k], tmp);
    free(tmp);
    size_t bytes = st->n_values * sizeof(float);
    if (s == FR_OK && h->best_epoch && bytes && fread(st->best, bytes, 1, f) != 1)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (s == FR_OK && h->rewound && bytes && fread(st->rewind, bytes, 1, f) != 1)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    return s;
}

static fr_status read_file(FILE *f, const char *path, fr_msmt_model *m, const fr_table *t,
                           const fr_msmt_train_options *o, fr_msmt_state *st, uint64_t data_fingerprint)
{
    const fr_msmt_checkpoint *ck = &o->checkpoint;
    ckpt_header h;
    FR_TRY(fr_ckpt_read_header(f, path, &fr_ckpt_msmt, &h, sizeof h, offsetof(ckpt_header, payload_bytes)));
    FR_TRY(fr_ckpt_read_check_config(f, path, h.config_bytes, h.payload_bytes, ck->job_fingerprint));
    fr_status s = FR_OK;
    fr_model_part parts[FR_MSMT_MAX_PARTS];
    size_t n_parts = fr_msmt_model_parts(m, parts);
    FR_TRY(check_header(&h, path, m, t, o, data_fingerprint, parts, n_parts));
    double extra[FR_MSMT_CHECKPOINT_MAX_EXTRA];
    if (h.n_extra && fread(extra, (size_t)h.n_extra * sizeof *extra, 1, f) != 1)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    /* The optimisers' heads and flags, then every size, before any array. */
    fr_optimizer *opts[2] = {NULL, NULL};
    fr_msmt_state want = *st;
    want.phase = (fr_msmt_phase)h.phase;
    optimizers_of(&want, opts);
    fr_ckpt_opt_head heads[2];
    unsigned char *flags[2] = {NULL, NULL};
    uint64_t expected = h.config_bytes + h.n_extra * sizeof(double);
    for (size_t k = 0; k < n_parts; k++)
        expected += h.values[k] * sizeof(float);
    for (size_t k = 0; s == FR_OK && k < h.n_opt; k++) {
        size_t count = fr_param_set_count(set_of(m, want.phase, k));
        if (fread(&heads[k], sizeof heads[k], 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        else if (heads[k].n_params != count)
            s = fr_ckpt_opt_check(path, set_of(m, want.phase, k), k + 1, &heads[k], NULL, 0, &expected);
        else if (!(flags[k] = malloc(count ? count : 1)))
            s = fr_fail_nomem("checkpoint", count);
        else if (count && fread(flags[k], count, 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        else
            s = fr_ckpt_opt_check(path, set_of(m, want.phase, k), k + 1, &heads[k], flags[k],
                                  o->optimizer == FR_OPTIM_SGD, &expected);
        expected += sizeof heads[k] + count;
    }
    if (h.best_epoch)
        expected += st->n_values * sizeof(float);
    if (h.rewound)
        expected += st->n_values * sizeof(float);
    if (s == FR_OK && expected != h.payload_bytes)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's arrays take %llu bytes, this run's model and state %llu",
                    path, (unsigned long long)h.payload_bytes, (unsigned long long)expected);
    if (s == FR_OK)
        s = read_arrays(f, path, m, o, &h, parts, n_parts, opts, flags, heads, st);
    free(flags[0]);
    free(flags[1]);
    FR_TRY(s);
    fr_msmt_set_gate_stats(m, h.gate_sums, h.gate_count);
    st->phase = want.phase;
    st->step = h.step;
    st->rewound = (int)h.rewound;
    st->epochs_run = (size_t)h.epochs_run;
    st->phase_epochs = (size_t)h.phase_epochs;
    st->epochs = (size_t)h.epochs;
    st->best_epoch = (size_t)h.best_epoch;
    st->since_best = (size_t)h.since_best;
    st->best_auc = h.best_auc;
    st->samples = (size_t)h.samples;
    st->train_seconds = h.train_seconds;
    if (h.n_extra)
        memcpy(ck->extra, extra, (size_t)h.n_extra * sizeof *extra);
    return FR_OK;
}

fr_status fr_msmt_checkpoint_read(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                                  fr_msmt_state *st, uint64_t data_fingerprint)
{
    const char *path = o->checkpoint.path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path);
    fr_status s = read_file(f, path, m, t, o, st, data_fingerprint);
    fclose(f);
    return fr_ckpt_name_prev(s, path);
}
