/* msmt_train.c — training and evaluating the multi-scenario multi-task
 * models (see fedrec/msmt.h): block-shuffled epochs, Adam, early stopping
 * on the mean validation AUC with the best parameters kept, AUC and
 * logloss per scenario x task. Row order of epoch e comes from stream
 * (seed, e, 0, SHUFFLE) (with a fixed order, every epoch from that of
 * epoch 1), so a run repeats exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "core/clock.h"
#include "core/progress_call.h"
#include "fedrec/metrics.h"
#include "fedrec/msmt.h"
#include "fedrec/optim.h"
#include "fedrec/rng.h"
#include "mtl/msmt_internal.h"

void fr_msmt_train_options_default(fr_msmt_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 2048;
    o->max_epochs = 50;
    o->patience = 2;
    o->optimizer = FR_OPTIM_ADAM;
    o->lr = 1e-3f;
    o->weight_decay = 1e-6f;
    o->search_epochs = 10;
    o->rewind_epoch = 9;
    o->tau_final = 100.0f;
    o->search_lr = 3e-4f;
    o->search_weight_decay = 3e-5f;
    o->selector_lr = 3e-6f;
}


static double logloss_prob(const float *p, const float *y, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double q = fmin(fmax((double)p[i], 1e-7), 1.0 - 1e-7);
        sum -= y[i] >= 0.5f ? log(q) : log(1.0 - q);
    }
    return n ? sum / (double)n : NAN;
}

fr_status fr_msmt_evaluate(fr_msmt_model *m, const fr_table *t, int split, fr_msmt_eval *out)
{
    uint32_t *rows;
    size_t n_rows;
    FR_TRY(fr_table_split_rows(t, split, &rows, &n_rows));
    fr_status s = fr_msmt_evaluate_rows(m, t, rows, n_rows, out);
    free(rows);
    return s;
}

fr_status fr_msmt_evaluate_rows(fr_msmt_model *m, const fr_table *t, const uint32_t *rows, size_t n_rows,
                                fr_msmt_eval *out)
{
    memset(out, 0, sizeof *out);
    size_t T = t->n_tasks, S = t->n_scenarios;
    out->n_scenarios = S;
    out->n_tasks = T;
    size_t batch = fr_msmt_model_max_batch(m);
    float *probs = malloc((n_rows ? n_rows : 1) * T * sizeof *probs);
    float *bp = malloc(batch * T * sizeof *bp);
    /* Rows grouped by scenario for the per-scenario metrics. */
    size_t *start = calloc(S + 1, sizeof *start);
    uint32_t *order = malloc((n_rows ? n_rows : 1) * sizeof *order);
    float *sc = malloc((n_rows ? n_rows : 1) * sizeof *sc), *lab = malloc((n_rows ? n_rows : 1) * sizeof *lab);
    fr_status s = FR_OK;
    if (!probs || !bp || !start || !order || !sc || !lab)
        s = fr_fail_nomem("evaluation", n_rows * T * 4);
    for (size_t at = 0; s == FR_OK && at < n_rows; at += batch) {
        size_t n = n_rows - at < batch ? n_rows - at : batch;
        fr_view logits;
        s = fr_msmt_forward(m, t, rows + at, n, 0, 0, &logits);
        if (s == FR_OK)
            s = fr_msmt_probabilities(m, bp);
        for (size_t i = 0; s == FR_OK && i < n; i++)
            for (size_t k = 0; k < T; k++)
                probs[(at + i) * T + k] = bp[k * n + i];
        if (s == FR_OK) /* a mapped table: drop the pages just read */
            fr_table_release_rows(t, rows[at], (size_t)rows[at + n - 1] + 1);
    }
    if (s == FR_OK) {
        for (size_t i = 0; i < n_rows; i++)
            start[t->scenario[rows[i]] + 1]++;
        for (size_t k = 0; k < S; k++) {
            out->rows[k] = start[k + 1];
            start[k + 1] += start[k];
        }
        size_t *fill = calloc(S, sizeof *fill);
        if (!fill)
            s = fr_fail_nomem("evaluation", S * 8);
        for (size_t i = 0; s == FR_OK && i < n_rows; i++) {
            size_t sid = (size_t)t->scenario[rows[i]];
            order[start[sid] + fill[sid]++] = (uint32_t)i;
        }
        free(fill);
    }
    size_t cells = 0;
    for (size_t k = 0; s == FR_OK && k < S; k++)
        for (size_t task = 0; s == FR_OK && task < T; task++) {
            size_t n = start[k + 1] - start[k];
            for (size_t j = 0; j < n; j++) {
                size_t i = order[start[k] + j];
                sc[j] = probs[i * T + task];
                lab[j] = t->labels[(size_t)rows[i] * T + task];
            }
            double auc = NAN;
            if (n)
                s = fr_auc(sc, lab, n, &auc);
            out->auc[k][task] = auc;
            out->logloss[k][task] = logloss_prob(sc, lab, n);
            if (s == FR_OK && !isnan(auc)) {
                out->mean_auc += auc;
                out->mean_logloss += out->logloss[k][task];
                cells++;
            }
        }
    out->mean_auc = cells ? out->mean_auc / (double)cells : NAN;
    out->mean_logloss = cells ? out->mean_logloss / (double)cells : NAN;
    free(probs);
    free(bp);
    free(start);
    free(order);
    free(sc);
    free(lab);
    return s;
}

/* Every cell NaN: a model that was not evaluated. */
static void undefined_eval(const fr_table *t, fr_msmt_eval *e)
{
    memset(e, 0, sizeof *e);
    e->n_scenarios = t->n_scenarios;
    e->n_tasks = t->n_tasks;
    for (size_t k = 0; k < t->n_scenarios; k++)
        for (size_t task = 0; task < t->n_tasks; task++)
            e->auc[k][task] = e->logloss[k][task] = NAN;
    e->mean_auc = e->mean_logloss = NAN;
}

static void shuffle(uint32_t *a, size_t n, fr_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = fr_rng_below(rng, (uint32_t)i);
        uint32_t x = a[i - 1];
        a[i - 1] = a[j];
        a[j] = x;
    }
}

/* Batches in rows of a block: a last batch of one row is skipped. */
static size_t block_batches(size_t rows, size_t batch)
{
    return rows / batch + (rows % batch >= 2);
}

size_t fr_msmt_pass_batches(size_t n_train, size_t batch, size_t block_rows)
{
    size_t block = block_rows ? block_rows : n_train;
    if (!n_train || !batch)
        return 0;
    size_t full = n_train / block, rest = n_train % block;
    return full * block_batches(block, batch) + block_batches(rest, batch);
}

/* One epoch: blocks of the training rows in random order, rows shuffled
 * within each block, from stream (seed, epoch, stream, SHUFFLE). The
 * progress hook (may be NULL) hears of every batch; on its stop request
 * the epoch ends after the batch under way, *stopped set. */
static fr_status run_epoch(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                           fr_optimizer *opt, fr_optimizer *sel_opt, const uint32_t *train, size_t n_train, uint32_t *work,
                           size_t epoch, uint32_t stream, fr_status (*before_step)(void *arg), void *arg,
                           const fr_progress_hook *progress, int *stopped, uint32_t *step, double *loss_out)
{
    size_t block = o->block_rows ? o->block_rows : n_train;
    size_t n_blocks = (n_train + block - 1) / block;
    size_t total_batches = fr_msmt_pass_batches(n_train, o->batch, o->block_rows);
    *stopped = 0;
    uint32_t *block_order = malloc((n_blocks ? n_blocks : 1) * sizeof *block_order);
    if (!block_order)
        return fr_fail_nomem("epoch", n_blocks * 4);
    fr_rng rng;
    /* Without reshuffling every epoch draws the order of the first. */
    fr_rng_init(&rng, o->seed, o->fixed_order ? 1u : (uint32_t)epoch, stream, FR_RNG_SHUFFLE);
    for (size_t b = 0; b < n_blocks; b++)
        block_order[b] = (uint32_t)b;
    shuffle(block_order, n_blocks, &rng);
    double loss_sum = 0.0;
    size_t batches = 0;
    fr_status s = FR_OK;
    fr_param_set *ps = fr_msmt_model_params(m);
    for (size_t bi = 0; s == FR_OK && !*stopped && bi < n_blocks; bi++) {
        size_t begin = (size_t)block_order[bi] * block, end = begin + block < n_train ? begin + block : n_train;
        size_t n = end - begin;
        memcpy(work, train + begin, n * sizeof *work);
        shuffle(work, n, &rng);
        for (size_t at = 0; s == FR_OK && !*stopped && at < n; at += o->batch) {
            size_t k = n - at < o->batch ? n - at : o->batch;
            if (k < 2)
                break; /* a last batch of one row: batch-norm cannot train on it */
            fr_view logits;
            float loss = 0.0f;
            s = fr_param_set_zero_grad(ps);
            if (s == FR_OK && sel_opt)
                s = fr_param_set_zero_grad(fr_msmt_model_selector_params(m));
            if (s == FR_OK)
                s = fr_msmt_forward(m, t, work + at, k, (*step)++, 1, &logits);
            if (s == FR_OK)
                s = fr_msmt_backward(m, &loss);
            if (s == FR_OK && before_step)
                s = before_step(arg);
            if (s == FR_OK)
                s = fr_optimizer_step(opt);
            if (s == FR_OK && sel_opt)
                s = fr_optimizer_step(sel_opt);
            if (s == FR_OK && !isfinite(loss))
                s = fr_fail(FR_ERR_NUMERIC, "training loss is %g at epoch %zu (learning rate too high?)",
                            (double)loss, epoch);
            loss_sum += loss;
            batches++;
            if (s == FR_OK)
                *stopped = fr_progress_call(progress, FR_PROGRESS_TRAIN, "batch", batches, total_batches);
        }
        if (n)
            fr_table_release_rows(t, train[begin], (size_t)train[end - 1] + 1);
    }
    free(block_order);
    *loss_out = batches ? loss_sum / (double)batches : 0.0;
    return s;
}

fr_status fr_msmt_pass(fr_msmt_model *m, const fr_table *t, const fr_msmt_pass_options *p,
                       const uint32_t *train, size_t n_train, uint32_t *step, double *loss_out)
{
    fr_msmt_train_options o;
    fr_msmt_train_options_default(&o);
    o.batch = p->batch;
    o.block_rows = p->block_rows;
    o.seed = p->seed;
    if (p->batch < 2 || p->batch > fr_msmt_model_max_batch(m))
        return fr_fail(FR_ERR_INVALID, "training pass: need 2 <= batch <= the model's max batch (%zu)",
                       fr_msmt_model_max_batch(m));
    size_t block = o.block_rows && o.block_rows < n_train ? o.block_rows : n_train;
    uint32_t *work = malloc((block ? block : 1) * sizeof *work);
    if (!work)
        return fr_fail_nomem("training pass", block * 4);
    int stopped;
    fr_status s = run_epoch(m, t, &o, p->opt, NULL, train, n_train, work, p->shuffle_key, p->shuffle_stream,
                            p->before_step, p->arg, &p->progress, &stopped, step, loss_out);
    free(work);
    return s;
}

/* State shared by the phases of one training run; what a checkpoint
 * keeps of it is in st. */
typedef struct trainer {
    fr_msmt_model *m;
    const fr_table *t;
    const fr_msmt_train_options *o;
    void (*on_epoch)(void *arg, const fr_msmt_epoch *e);
    void *arg;
    uint32_t *train, *work;
    size_t n_train;
    fr_msmt_epoch *e;
    fr_msmt_state st;
    int checkpoints;         /* o->checkpoint.path is set */
    uint64_t data_fingerprint; /* of the table, for checkpoints */
    double epoch_start;      /* clock at the start of the epoch under way */
    int stopped;             /* the progress hook asked for a stop */
} trainer;

/* Is epoch (1-based) of a phase of `last` epochs validated? */
static int eval_due(const fr_msmt_train_options *o, size_t epoch, size_t last)
{
    return o->eval_every <= 1 || epoch % o->eval_every == 0 || epoch == last;
}

/* One epoch and, when `evaluate`, its validation (otherwise NaN figures);
 * abandoned (tr->stopped set, no validation) on a stop request. */
static fr_status epoch_and_report(trainer *tr, fr_optimizer *opt, fr_optimizer *sel_opt, size_t epoch, int search,
                                  double tau, int evaluate, double *valid_auc)
{
    double te = fr_clock_seconds(), loss = 0.0;
    tr->epoch_start = te;
    FR_TRY(run_epoch(tr->m, tr->t, tr->o, opt, sel_opt, tr->train, tr->n_train, tr->work, tr->st.epochs_run + 1, 0,
                     NULL, NULL, &tr->o->progress, &tr->stopped, &tr->st.step, &loss));
    if (tr->stopped)
        return FR_OK;
    tr->st.epochs_run++;
    double trained = fr_clock_seconds() - te;
    tr->st.train_seconds += trained;
    tr->st.samples += tr->n_train;
    fr_msmt_epoch *e = tr->e;
    e->evaluated = evaluate;
    if (evaluate) {
        fr_progress_call(&tr->o->progress, FR_PROGRESS_EVAL, "epoch", 0, 1);
        FR_TRY(fr_msmt_evaluate(tr->m, tr->t, FR_SPLIT_VALID, &e->valid));
    } else {
        undefined_eval(tr->t, &e->valid);
    }
    e->epoch = epoch;
    e->search = search;
    e->tau = tau;
    e->train_loss = loss;
    e->seconds = fr_clock_seconds() - te;
    e->samples_per_second = trained > 0 ? (double)tr->n_train / trained : 0.0;
    *valid_auc = e->valid.mean_auc;
    return FR_OK;
}

/* After a finished epoch: the caller hears of it, then the checkpoint is
 * written (a run killed in between resumes from the one before, and the
 * caller's report of this epoch is rewritten). */
static fr_status epoch_done(trainer *tr)
{
    if (tr->on_epoch)
        tr->on_epoch(tr->arg, tr->e);
    if (!tr->checkpoints)
        return FR_OK;
    return fr_msmt_checkpoint_write(tr->m, tr->t, tr->o, &tr->st, tr->data_fingerprint);
}

/* The optimisers of each phase. */
static fr_status make_search_optimizers(trainer *tr)
{
    const fr_msmt_train_options *o = tr->o;
    FR_TRY(fr_optimizer_create(fr_msmt_model_params(tr->m), (fr_optim_kind)o->optimizer, o->search_lr,
                               o->search_weight_decay, &tr->st.search_opt));
    fr_optimizer_set_dense_rows(tr->st.search_opt, o->dense_embedding);
    return fr_optimizer_create(fr_msmt_model_selector_params(tr->m), (fr_optim_kind)o->optimizer, o->selector_lr,
                               0.0f, &tr->st.selector_opt);
}

static void free_search_optimizers(trainer *tr)
{
    fr_optimizer_free(tr->st.search_opt);
    fr_optimizer_free(tr->st.selector_opt);
    tr->st.search_opt = tr->st.selector_opt = NULL;
}

static fr_status make_train_optimizer(trainer *tr)
{
    const fr_msmt_train_options *o = tr->o;
    FR_TRY(fr_optimizer_create(fr_msmt_model_params(tr->m), (fr_optim_kind)o->optimizer, o->lr, o->weight_decay,
                               &tr->st.train_opt));
    fr_optimizer_set_dense_rows(tr->st.train_opt, o->dense_embedding);
    return FR_OK;
}

/* Training with early stopping on the mean validation AUC, from the
 * epoch after st.phase_epochs; the best epoch's parameters are kept in
 * st.best. */
static fr_status early_stopping(trainer *tr)
{
    fr_msmt_state *st = &tr->st;
    fr_param_set *ps = fr_msmt_model_params(tr->m);
    for (size_t epoch = st->phase_epochs + 1; epoch <= tr->o->max_epochs; epoch++) {
        double auc;
        int evaluate = eval_due(tr->o, epoch, tr->o->max_epochs);
        FR_TRY(epoch_and_report(tr, st->train_opt, NULL, epoch, 0, 0.0, evaluate, &auc));
        if (tr->stopped)
            break;
        tr->e->improved = evaluate && auc > st->best_auc;
        st->phase_epochs = st->epochs = epoch;
        if (tr->e->improved) {
            st->best_auc = auc;
            st->best_epoch = epoch;
            st->since_best = 0;
            FR_TRY(fr_param_set_export(ps, FR_ROLES_ALL, st->best, st->n_values));
            tr->e->seconds = fr_clock_seconds() - tr->epoch_start; /* the copy is the epoch's too */
        } else if (evaluate) {
            st->since_best++;
        }
        int last = epoch == tr->o->max_epochs ||
                   (evaluate && tr->o->patience > 0 && st->since_best >= tr->o->patience && epoch >= tr->o->min_epochs);
        if (last)
            st->phase = FR_MSMT_PHASE_DONE;
        FR_TRY(epoch_done(tr));
        if (last)
            break;
    }
    return FR_OK;
}

/* AutoIFS's search phase, from the epoch after st.phase_epochs: soft gates
 * with a rising temperature, the selector trained at its own rate; the
 * model's parameters after rewind_epoch search epochs (the authors'
 * --rewind, which counts epochs from 0: 9 keeps the weights at the start
 * of the last of 10) are kept in st.rewind. */
static fr_status autoifs_search(trainer *tr)
{
    const fr_msmt_train_options *o = tr->o;
    fr_msmt_state *st = &tr->st;
    fr_param_set *ps = fr_msmt_model_params(tr->m);
    fr_status s = FR_OK;
    for (size_t epoch = st->phase_epochs + 1; s == FR_OK && !tr->stopped && epoch <= o->search_epochs; epoch++) {
        if (epoch - 1 == o->rewind_epoch) {
            s = fr_param_set_export(ps, FR_ROLES_ALL, st->rewind, st->n_values);
            st->rewound = 1;
        }
        double tau = o->search_epochs > 1
                         ? pow((double)o->tau_final, (double)(epoch - 1) / (double)(o->search_epochs - 1))
                         : (double)o->tau_final;
        double auc;
        if (s == FR_OK)
            s = fr_msmt_autoifs_phase(tr->m, 0, (float)tau);
        if (s == FR_OK)
            s = epoch_and_report(tr, st->search_opt, st->selector_opt, epoch, 1, tau,
                                 eval_due(o, epoch, o->search_epochs), &auc);
        if (s == FR_OK && !tr->stopped) {
            st->phase_epochs = epoch;
            tr->e->improved = 0;
            s = epoch_done(tr);
        }
    }
    /* No rewind epoch inside the search: retrain from where it ended. */
    if (s == FR_OK && !st->rewound)
        s = fr_param_set_export(ps, FR_ROLES_ALL, st->rewind, st->n_values);
    return s;
}

/* Resuming: the optimisers of every phase the checkpoint may be in, the
 * file read into them, the model and st, then the caller told. */
static fr_status resume(trainer *tr, int autoifs)
{
    if (autoifs)
        FR_TRY(make_search_optimizers(tr));
    FR_TRY(make_train_optimizer(tr));
    FR_TRY(fr_msmt_checkpoint_read(tr->m, tr->t, tr->o, &tr->st, tr->data_fingerprint));
    if (tr->st.phase != FR_MSMT_PHASE_SEARCH)
        free_search_optimizers(tr);
    if (!tr->o->checkpoint.resumed)
        return FR_OK;
    fr_msmt_resume_info info = {tr->st.epochs_run, tr->st.epochs, tr->st.best_epoch,
                                tr->st.phase == FR_MSMT_PHASE_SEARCH, tr->st.phase == FR_MSMT_PHASE_DONE};
    return tr->o->checkpoint.resumed(tr->arg, &info);
}

fr_status fr_msmt_train(fr_msmt_model *m, const fr_table *t, const fr_msmt_train_options *o,
                        void (*on_epoch)(void *arg, const fr_msmt_epoch *e), void *arg,
                        fr_msmt_result *out)
{
    memset(out, 0, sizeof *out);
    for (int q = 0; q < 4; q++)
        out->gates[q] = NAN;
    if (o->batch < 2 || o->max_epochs < 1 || !(o->lr > 0) || o->batch > fr_msmt_model_max_batch(m))
        return fr_fail(FR_ERR_INVALID, "training: need 2 <= batch <= the model's max batch (%zu), epochs >= 1, lr > 0",
                       fr_msmt_model_max_batch(m));
    int autoifs = fr_msmt_model_selector_params(m) != NULL;
    if (autoifs && (o->search_epochs < 1 || !(o->search_lr > 0) || !(o->selector_lr > 0) || !(o->tau_final > 0)))
        return fr_fail(FR_ERR_INVALID, "AutoIFS: need >= 1 search epoch, learning rates > 0, final temperature > 0");
    const fr_msmt_checkpoint *ck = &o->checkpoint;
    int checkpoints = ck->path && *ck->path;
    if (ck->resume && !checkpoints)
        return fr_fail(FR_ERR_INVALID, "training: resuming needs a checkpoint path");
    if (checkpoints && (ck->n_extra > FR_MSMT_CHECKPOINT_MAX_EXTRA || (ck->n_extra && !ck->extra)))
        return fr_fail(FR_ERR_INVALID, "checkpoint: at most %d extra values, and an array to hold them",
                       FR_MSMT_CHECKPOINT_MAX_EXTRA);
    trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.m = m;
    tr.t = t;
    tr.o = o;
    tr.on_epoch = on_epoch;
    tr.arg = arg;
    tr.checkpoints = checkpoints;
    fr_msmt_state *st = &tr.st;
    st->phase = autoifs ? FR_MSMT_PHASE_SEARCH : FR_MSMT_PHASE_TRAIN;
    st->best_auc = -1.0;
    FR_TRY(fr_table_split_rows(t, FR_SPLIT_TRAIN, &tr.train, &tr.n_train));
    fr_param_set *ps = fr_msmt_model_params(m);
    st->n_values = fr_param_set_numel(ps, FR_ROLES_ALL);
    size_t block = o->block_rows && o->block_rows < tr.n_train ? o->block_rows : tr.n_train;
    tr.work = malloc((block ? block : 1) * sizeof *tr.work);
    st->best = malloc((st->n_values ? st->n_values : 1) * sizeof *st->best);
    st->rewind = autoifs ? malloc((st->n_values ? st->n_values : 1) * sizeof *st->rewind) : NULL;
    tr.e = calloc(1, sizeof *tr.e);
    fr_status s = FR_OK;
    if (!tr.work || !st->best || !tr.e || (autoifs && !st->rewind))
        s = fr_fail_nomem("training", st->n_values * 8 + block * 4);
    if (s == FR_OK && tr.n_train < 2)
        s = fr_fail(FR_ERR_INVALID, "training: the data has %zu training rows", tr.n_train);
    if (s == FR_OK && checkpoints)
        tr.data_fingerprint = fr_table_fingerprint(t);
    double t0 = fr_clock_seconds();
    if (s == FR_OK && ck->resume)
        s = resume(&tr, autoifs);
    if (s == FR_OK && st->phase == FR_MSMT_PHASE_SEARCH) {
        if (!st->search_opt)
            s = make_search_optimizers(&tr);
        if (s == FR_OK)
            s = autoifs_search(&tr);
        /* Retrain from the rewound weights with hard gates. */
        if (s == FR_OK && !tr.stopped) {
            free_search_optimizers(&tr);
            st->phase = FR_MSMT_PHASE_TRAIN;
            st->phase_epochs = 0;
            s = fr_msmt_autoifs_phase(m, 1, o->tau_final);
        }
        if (s == FR_OK && !tr.stopped)
            s = fr_param_set_import(ps, FR_ROLES_ALL, st->rewind, st->n_values);
    }
    if (s == FR_OK && !tr.stopped && st->phase == FR_MSMT_PHASE_TRAIN) {
        if (!st->train_opt)
            s = make_train_optimizer(&tr);
        if (s == FR_OK)
            s = early_stopping(&tr);
    }
    if (s == FR_OK && st->best_epoch)
        s = fr_param_set_import(ps, FR_ROLES_ALL, st->best, st->n_values);
    out->epochs = st->epochs;
    out->best_epoch = st->best_epoch;
    out->stopped = tr.stopped;
    if (s == FR_OK && out->stopped && !out->best_epoch) {
        /* Nothing of the (re)training phase finished: no model to judge. */
        undefined_eval(t, &out->valid);
        undefined_eval(t, &out->test);
    } else {
        if (s == FR_OK)
            s = fr_msmt_evaluate(m, t, FR_SPLIT_VALID, &out->valid);
        if (s == FR_OK)
            s = fr_msmt_evaluate(m, t, FR_SPLIT_TEST, &out->test);
    }
    if (autoifs)
        fr_msmt_autoifs_gates(m, out->gates);
    out->seconds = fr_clock_seconds() - t0;
    out->train_samples_per_second = st->train_seconds > 0 ? (double)st->samples / st->train_seconds : 0.0;
    free_search_optimizers(&tr);
    fr_optimizer_free(st->train_opt);
    free(tr.e);
    free(tr.train);
    free(tr.work);
    free(st->best);
    free(st->rewind);
    return s;
}
