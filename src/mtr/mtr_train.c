/* mtr_train.c — the multi-task recommender's trainer (see fedrec/mtrec.h):
 * options, the embedding table and its Adam state, one epoch of steps
 * (samples, the tasks' row gradients, the combiner, Adam). Full-ranking
 * evaluation is in mtr_rank.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/big_alloc.h"
#include "core/clock.h"
#include "core/progress_call.h"
#include "core/error_internal.h"
#include "mtr/mtr_internal.h"

#define COMBINE_ROWS 1024 /* see combine_rows */

#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8f

void fr_mtr_options_default(fr_mtr_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 42;
    o->dim = 32;
    o->batch = 2048;
    o->lr = 0.001f;
    o->weight_decay = 0;
    o->dense_adam = 1;
    o->tasks[0] = FR_MTR_BPR;
    o->tasks[1] = FR_MTR_DIRECTAU;
    o->tasks[2] = FR_MTR_RATING;
    o->n_tasks = 3;
    fr_combine_options_default(&o->combine);
    o->gamma = 1.0;
    o->test_excludes_val = 1;
}

void fr_mtr_free(fr_mtr *m)
{
    if (!m)
        return;
    free(m->table);
    free(m->adam_m);
    free(m->adam_v);
    fr_combiner_free(m->combiner);
    fr_host_free(m->host);
    free(m->order);
    free(m->negative);
    free(m->slot_of);
    free(m->rows);
    free(m->step_user);
    free(m->step_item);
    free(m->step_rating);
    for (size_t k = 0; k < FR_COMBINE_MAX_TASKS; k++) {
        free(m->task_grad[k]);
        for (int j = 0; j < 3; j++)
            free(m->aux[k][j]);
    }
    free(m->combined);
    free(m->au_rows);
    free(m->au_occ);
    free(m->distinct_of_slot);
    free(m->au_count);
    free(m->au_y);
    free(m->au_x);
    free(m->au_norm);
    free(m->au_gram);
    free(m->au_prod);
    free(m->au_dx);
    fr_mtr_ranker_free(m->ranker);
    fr_mtr_federated_release(m);
    free(m);
}

static int is_pairwise(fr_mtr_task t)
{
    return t == FR_MTR_SOCIAL || t == FR_MTR_ITEMPAIR || t == FR_MTR_CATEGORY;
}

static fr_status check_options(const fr_mtr_data *d, const fr_mtr_options *o)
{
    if (o->dim < 1 || o->batch < 1 || !(o->lr > 0) || !(o->weight_decay >= 0) || !(o->gamma >= 0))
        return fr_fail(FR_ERR_INVALID, "multi-task trainer: dim %zu and batch %zu must be >= 1, lr %g > 0, weight decay %g and gamma %g >= 0",
                       o->dim, o->batch, (double)o->lr, (double)o->weight_decay, o->gamma);
    if (o->n_tasks < 1 || o->n_tasks > FR_COMBINE_MAX_TASKS || o->tasks[0] != FR_MTR_BPR)
        return fr_fail(FR_ERR_INVALID, "multi-task trainer: %zu tasks; expected 1 to %d, the first (main) bpr",
                       o->n_tasks, FR_COMBINE_MAX_TASKS);
    for (size_t k = 0; k < o->n_tasks; k++) {
        fr_mtr_task t = o->tasks[k];
        if ((unsigned)t >= FR_MTR_TASK_KINDS)
            return fr_fail(FR_ERR_INVALID, "multi-task trainer: task %zu has unknown kind %d", k, (int)t);
        for (size_t j = 0; j < k; j++)
            if (o->tasks[j] == t)
                return fr_fail(FR_ERR_INVALID, "multi-task trainer: task %s listed twice", fr_mtr_task_name(t));
        if (t == FR_MTR_BPR && k > 0)
            return fr_fail(FR_ERR_INVALID, "multi-task trainer: bpr is the main task, listed first only");
        if (t == FR_MTR_SOCIAL && d->links.n_pairs == 0)
            return fr_fail(FR_ERR_INVALID, "task social needs user links (none were loaded)");
        if (t == FR_MTR_ITEMPAIR && d->pairs.n_pairs == 0)
            return fr_fail(FR_ERR_INVALID, "task itempair needs item pairs (none were loaded)");
        if (t == FR_MTR_CATEGORY) {
            size_t pairs = 0; /* categories with two items or more */
            for (size_t c = 0; d->category_start && c < d->n_categories; c++)
                pairs += d->category_start[c + 1] - d->category_start[c] > 1;
            if (!d->category_start || d->n_categories < 2 || pairs == 0)
                return fr_fail(FR_ERR_INVALID, "task category needs item categories: at least two, one of them with two items or more");
        }
    }
    if (d->n_train == 0 || d->n_items < 2)
        return fr_fail(FR_ERR_INVALID, "multi-task trainer: no training interactions or fewer than 2 items");
    return FR_OK;
}

static void xavier(float *t, size_t rows, size_t dim, uint64_t seed, uint32_t which)
{
    fr_rng rng;
    fr_rng_init(&rng, seed, 0, which, FR_RNG_INIT);
    float bound = sqrtf(6.0f / (float)(rows + dim));
    for (size_t i = 0; i < rows * dim; i++)
        t[i] = (2.0f * fr_rng_uniform(&rng) - 1.0f) * bound;
}

fr_status fr_mtr_create(const fr_mtr_data *data, const fr_mtr_options *o, fr_mtr **out)
{
    *out = NULL;
    FR_TRY(check_options(data, o));
    fr_mtr *m = calloc(1, sizeof *m);
    if (!m)
        return fr_fail_nomem("multi-task trainer", sizeof *m);
    m->data = data;
    m->o = *o;
    m->o.combine.tasks = o->n_tasks;
    m->o.combine.seed = o->seed;
    m->dim = o->dim;
    m->n_rows = data->n_users + data->n_items;
    size_t d = m->dim, b = o->batch, nr = m->n_rows;
    size_t pairwise = 0;
    for (size_t k = 0; k < o->n_tasks; k++)
        pairwise += is_pairwise(o->tasks[k]);
    m->slot_cap = b * (3 + 3 * pairwise);
    m->combine_rows = COMBINE_ROWS;
    if (m->slot_cap > nr)
        m->slot_cap = nr;
    fr_status s = fr_combiner_create(&m->o.combine, &m->combiner);
    if (s == FR_OK) {
        s = fr_host_create((fr_cpu_isa)o->cpu_isa, o->threads, &m->host);
    }
    if (s != FR_OK) {
        fr_mtr_free(m);
        return s;
    }
    m->table = fr_big_alloc(nr * d * sizeof(float), 0);
    m->adam_m = fr_big_alloc(nr * d * sizeof(float), 1);
    m->adam_v = fr_big_alloc(nr * d * sizeof(float), 1);
    m->order = malloc(data->n_train * sizeof *m->order);
    m->negative = malloc(b * sizeof *m->negative);
    m->slot_of = malloc(nr * sizeof *m->slot_of);
    m->rows = malloc(m->slot_cap * sizeof *m->rows);
    m->step_user = malloc(b * sizeof *m->step_user);
    m->step_item = malloc(b * sizeof *m->step_item);
    m->step_rating = malloc(b * sizeof *m->step_rating);
    m->combined = malloc(m->slot_cap * d * sizeof(float));
    m->au_x = malloc(2 * b * d * sizeof(float));
    m->au_norm = malloc(4 * b * sizeof(float));
    m->au_gram = malloc(b * b * sizeof(float));
    m->au_rows = malloc(2 * b * sizeof(int32_t));
    m->au_occ = malloc(2 * b * sizeof(int32_t));
    m->au_count = malloc(2 * b * sizeof(float));
    m->distinct_of_slot = malloc(m->slot_cap * sizeof(int32_t));
    m->au_y = malloc(b * d * sizeof(float));
    m->au_prod = malloc(b * d * sizeof(float));
    m->au_dx = malloc(2 * b * d * sizeof(float));
    int ok = m->table && m->adam_m && m->adam_v && m->order && m->negative && m->slot_of && m->rows &&
             m->step_user && m->step_item && m->step_rating && m->combined && m->au_x && m->au_norm &&
             m->au_gram && m->au_prod && m->au_dx && m->au_rows &&
             m->au_occ && m->au_count && m->distinct_of_slot && m->au_y;
    for (size_t k = 0; ok && k < o->n_tasks; k++) {
        ok = (m->task_grad[k] = malloc(m->slot_cap * d * sizeof(float))) != NULL;
        for (int j = 0; ok && j < 3 && is_pairwise(o->tasks[k]); j++)
            ok = (m->aux[k][j] = malloc(b * sizeof(int32_t))) != NULL;
    }
    if (!ok) {
        fr_mtr_free(m);
        return fr_fail_nomem("multi-task trainer", nr * d * 12 + b * b * 4);
    }
    xavier(m->table, data->n_users, d, o->seed, 0);
    xavier(m->table + data->n_users * d, data->n_items, d, o->seed, 1);
    for (size_t r = 0; r < nr; r++)
        m->slot_of[r] = -1;
    for (size_t k = 0; k < m->slot_cap; k++)
        m->distinct_of_slot[k] = -1;
    *out = m;
    return FR_OK;
}

const float *fr_mtr_embeddings(const fr_mtr *m)
{
    return m->table;
}

float *fr_mtr_embeddings_mut(fr_mtr *m)
{
    return m->table;
}

/* PyTorch's Adam on one row: g' = g + wd w, moments, bias-corrected step. */
static void adam_row(float *w, float *mo, float *ve, const float *g, size_t d, float wd, float lr_t,
                     float bias2_sqrt)
{
    for (size_t j = 0; j < d; j++) {
        float gj = (g ? g[j] : 0.0f) + wd * w[j];
        mo[j] = (float)ADAM_BETA1 * mo[j] + (float)(1 - ADAM_BETA1) * gj;
        ve[j] = (float)ADAM_BETA2 * ve[j] + (float)(1 - ADAM_BETA2) * gj * gj;
        w[j] -= lr_t * mo[j] / (sqrtf(ve[j]) / bias2_sqrt + ADAM_EPS);
    }
}

/* The rows Adam steps, split among the host's threads: each row's step
 * reads and writes that row alone, so the split cannot change a bit. The
 * rows are scattered over tables larger than the cache (at 300k items,
 * 3 x 40 MB), so each task fetches the rows a few slots ahead. */
typedef struct adam_job {
    fr_mtr *m;
    const fr_mtr_step *st;
    size_t n, chunk;          /* rows (dense) or slots (lazy); per task */
    float wd, lr_t, bias2_sqrt;
} adam_job;

#define ADAM_PREFETCH 8

static void prefetch_row(const fr_mtr *m, size_t r)
{
    size_t d = m->dim;
    for (size_t j = 0; j < d; j += 16) {
        __builtin_prefetch(m->table + r * d + j, 1);
        __builtin_prefetch(m->adam_m + r * d + j, 1);
        __builtin_prefetch(m->adam_v + r * d + j, 1);
    }
}

static void adam_rows(void *arg, size_t task)
{
    const adam_job *j = arg;
    fr_mtr *m = j->m;
    const fr_mtr_step *st = j->st;
    size_t d = m->dim, begin = task * j->chunk, end = begin + j->chunk < j->n ? begin + j->chunk : j->n;
    for (size_t k = begin; k < end; k++) {
        size_t r;
        const float *g;
        if (m->o.dense_adam) {
            r = k;
            int32_t slot = st->slot_of[r];
            g = slot >= 0 ? m->combined + (size_t)slot * d : NULL;
        } else {
            if (k + ADAM_PREFETCH < end)
                prefetch_row(m, (size_t)st->rows[k + ADAM_PREFETCH]);
            r = (size_t)st->rows[k];
            g = m->combined + k * d;
        }
        adam_row(m->table + r * d, m->adam_m + r * d, m->adam_v + r * d, g, d, j->wd, j->lr_t, j->bias2_sqrt);
    }
}

static void adam_step(fr_mtr *m, const fr_mtr_step *st)
{
    m->adam_step++;
    double t = (double)m->adam_step;
    adam_job j = {m, st, m->o.dense_adam ? m->n_rows : st->n_slots, 0, m->o.weight_decay,
                  (float)(m->o.lr / (1 - pow(ADAM_BETA1, t))), (float)sqrt(1 - pow(ADAM_BETA2, t))};
    size_t tasks = (size_t)fr_host_threads(m->host) * 4;
    j.chunk = (j.n + tasks - 1) / tasks;
    if (j.chunk < 256) /* a small step is not worth waking the workers */
        j.chunk = 256;
    if (j.n)
        fr_host_parallel_for(m->host, (j.n + j.chunk - 1) / j.chunk, adam_rows, &j);
}

void fr_mtr_step_init(fr_mtr *m, fr_mtr_step *st, size_t n)
{
    memset(st, 0, sizeof *st);
    st->n = n;
    st->user = m->step_user;
    st->item = m->step_item;
    st->rating = m->step_rating;
    st->negative = m->negative;
    st->slot_of = m->slot_of;
    st->rows = m->rows;
}

/* A step's independent parts run on the host's threads when the batch is
 * large enough to pay for waking them (a federated client's step is
 * small): the BPR negatives and each pairwise task's samples come from
 * their own random streams, and each task writes its own gradient
 * buffer, so the results are those of running them in order. DirectAU
 * runs its GEMMs on the host itself, so a step with it stays serial. */
#define STEP_PARALLEL_MIN 256

typedef struct step_job {
    fr_mtr *m;
    fr_mtr_step *st;
    unsigned epoch;
    uint64_t step;
    size_t draws[FR_COMBINE_MAX_TASKS + 1]; /* 0: the negatives; else a pairwise task */
    double loss[FR_COMBINE_MAX_TASKS];
} step_job;

static void draw_negatives(fr_mtr *m, fr_mtr_step *st, unsigned epoch, uint64_t step)
{
    const fr_mtr_data *data = m->data;
    int32_t item_base = (int32_t)data->n_users;
    fr_rng rng;
    fr_rng_init(&rng, m->o.seed, epoch, (uint32_t)step, FR_RNG_NEGATIVES);
    for (size_t k = 0; k < st->n; k++) {
        size_t u = (size_t)st->user[k];
        int32_t j = 0;
        for (int tries = 0; tries < 64; tries++) {
            j = (int32_t)fr_rng_below(&rng, (uint32_t)data->n_items);
            if (!fr_mtr_list_contains(data->train_start, data->train_items, u, j))
                break;
        }
        m->negative[k] = j + item_base;
    }
}

static void draw_task(void *arg, size_t task)
{
    step_job *j = arg;
    size_t t = j->draws[task];
    if (t == 0)
        draw_negatives(j->m, j->st, j->epoch, j->step);
    else
        fr_mtr_task_draw(j->m, t, j->epoch, j->step, j->st->n);
}

static fr_status grad_task(void *arg, size_t t)
{
    step_job *j = arg;
    return fr_mtr_task_grad(j->m, j->st, t, j->epoch, j->step, &j->loss[t]);
}

/* A per-row combiner (PMTRec) on the threads: fixed ranges of
 * m->combine_rows rows (COMBINE_ROWS; a test changes it), each combined
 * alone, their statistics (means over the range) summed back in range
 * order, so nothing depends on the thread count. */
typedef struct combine_job {
    fr_mtr *m;
    float *const *grads;
    float *out;
    size_t n_rows;
    unsigned epoch;
    uint64_t step;
    fr_combine_stats *stats;    /* per range */
} combine_job;

static fr_status combine_range(void *arg, size_t range)
{
    combine_job *j = arg;
    fr_mtr *m = j->m;
    size_t per = m->combine_rows, r0 = range * per, rows = j->n_rows - r0 < per ? j->n_rows - r0 : per;
    const float *grads[FR_COMBINE_MAX_TASKS];
    for (size_t t = 0; t < m->o.n_tasks; t++)
        grads[t] = j->grads[t] + r0 * m->dim;
    return fr_combine(m->combiner, grads, rows, m->dim, j->epoch, j->step, j->out + r0 * m->dim,
                      &j->stats[range]);
}

fr_status fr_mtr_combine(fr_mtr *m, float *const *grads, size_t n_rows, unsigned epoch, uint64_t step,
                         float *out, fr_combine_stats *stats)
{
    size_t ranges = (n_rows + m->combine_rows - 1) / m->combine_rows;
    if (ranges < 2 || !fr_combine_per_row(m->combiner)) {
        const float *in[FR_COMBINE_MAX_TASKS];
        for (size_t t = 0; t < m->o.n_tasks; t++)
            in[t] = grads[t];
        return fr_combine(m->combiner, in, n_rows, m->dim, epoch, step, out, stats);
    }
    fr_combine_stats *part = malloc(ranges * sizeof *part);
    if (!part)
        return fr_fail_nomem("the combiner's per-range statistics", ranges * sizeof *part);
    combine_job j = {m, grads, out, n_rows, epoch, step, part};
    fr_status s = FR_OK;
    if (fr_host_threads(m->host) > 1)
        s = fr_host_parallel_try(m->host, ranges, combine_range, &j);
    else
        for (size_t r = 0; s == FR_OK && r < ranges; r++)
            s = combine_range(&j, r);
    memset(stats, 0, sizeof *stats);
    for (size_t r = 0; s == FR_OK && r < ranges; r++) {
        size_t rows = n_rows - r * m->combine_rows < m->combine_rows ? n_rows - r * m->combine_rows : m->combine_rows;
        for (size_t t = 0; t < m->o.n_tasks; t++) {
            stats->weight[t] += part[r].weight[t] * (double)rows;
            stats->norm[t] += part[r].norm[t] * (double)rows;
        }
        stats->conflicts += part[r].conflicts;
    }
    for (size_t t = 0; s == FR_OK && t < m->o.n_tasks; t++) {
        stats->weight[t] /= (double)n_rows;
        stats->norm[t] /= (double)n_rows;
    }
    free(part);
    return s;
}

/* Whether a step's independent parts go to the host's threads (see
 * STEP_PARALLEL_MIN). */
static int step_parallel(const fr_mtr *m, size_t n)
{
    int parallel = n >= STEP_PARALLEL_MIN && fr_host_threads(m->host) > 1;
    for (size_t t = 1; t < m->o.n_tasks; t++)
        if (m->o.tasks[t] == FR_MTR_DIRECTAU)
            parallel = 0;
    return parallel;
}

/* The draws and the slots (fr_mtr_step_draw), the job set up for the
 * tasks' gradients. */
static void step_draw(fr_mtr *m, fr_mtr_step *st, unsigned epoch, uint64_t step, step_job *job)
{
    size_t n = st->n, tasks = m->o.n_tasks;
    memset(job, 0, sizeof *job);
    job->m = m;
    job->st = st;
    job->epoch = epoch;
    job->step = step;
    size_t n_draws = 1;
    for (size_t t = 1; t < tasks; t++)
        if (is_pairwise(m->o.tasks[t]))
            job->draws[n_draws++] = t;
    if (step_parallel(m, n))
        fr_host_parallel_for(m->host, n_draws, draw_task, job);
    else
        for (size_t k = 0; k < n_draws; k++)
            draw_task(job, k);
    st->n_slots = 0;
    for (size_t k = 0; k < n; k++) {
        fr_mtr_touch(m, st, st->user[k]);
        fr_mtr_touch(m, st, st->item[k]);
        fr_mtr_touch(m, st, m->negative[k]);
    }
    for (size_t d = 1; d < n_draws; d++) {
        size_t t = job->draws[d];
        for (size_t k = 0; k < n; k++)
            for (int j = 0; j < 3; j++)
                fr_mtr_touch(m, st, m->aux[t][j][k]);
    }
}

void fr_mtr_step_draw(fr_mtr *m, fr_mtr_step *st, unsigned epoch, uint64_t step)
{
    step_job job;
    step_draw(m, st, epoch, step, &job);
}

fr_status fr_mtr_step_gradients(fr_mtr *m, fr_mtr_step *st, unsigned epoch, uint64_t step,
                                fr_mtr_epoch *out)
{
    size_t tasks = m->o.n_tasks;
    step_job job;
    step_draw(m, st, epoch, step, &job);
    int parallel = step_parallel(m, st->n);
    fr_status s = FR_OK;
    size_t done = tasks; /* tasks whose loss counts: up to the first failure */
    if (parallel) {
        s = fr_host_parallel_try(m->host, tasks, grad_task, &job);
        for (size_t t = 0; s != FR_OK && t < tasks; t++)
            if (!isfinite(job.loss[t])) { /* the failing task (the lowest) */
                done = t + 1;
                break;
            }
    } else {
        for (size_t t = 0; s == FR_OK && t < tasks; t++) {
            s = grad_task(&job, t);
            done = t + 1;
        }
    }
    for (size_t t = 0; t < done; t++)
        out->loss[t] += job.loss[t];
    fr_combine_stats stats;
    if (s == FR_OK)
        s = fr_mtr_combine(m, m->task_grad, st->n_slots, epoch, step, m->combined, &stats);
    if (s == FR_OK) {
        for (size_t t = 0; t < tasks; t++) {
            out->combine.weight[t] += stats.weight[t];
            out->combine.norm[t] += stats.norm[t];
        }
        out->combine.conflicts += stats.conflicts;
        out->steps++;
    }
    return s;
}

void fr_mtr_step_release(fr_mtr *m, fr_mtr_step *st)
{
    for (size_t k = 0; k < st->n_slots; k++)
        m->slot_of[m->rows[k]] = -1;
    st->n_slots = 0;
}

void fr_mtr_epoch_finish(const fr_mtr *m, fr_mtr_epoch *out, double t0)
{
    for (size_t t = 0; out->steps && t < m->o.n_tasks; t++) {
        out->loss[t] /= (double)out->steps;
        out->combine.weight[t] /= (double)out->steps;
        out->combine.norm[t] /= (double)out->steps;
    }
    out->t_train = fr_clock_seconds() - t0;
}

fr_status fr_mtr_train_epoch(fr_mtr *m, unsigned epoch, fr_mtr_epoch *out)
{
    const fr_mtr_data *data = m->data;
    double t0 = fr_clock_seconds();
    memset(out, 0, sizeof *out);
    size_t n_train = data->n_train;
    fr_rng rng;
    fr_rng_init(&rng, m->o.seed, epoch, 0, FR_RNG_SHUFFLE);
    for (size_t i = 0; i < n_train; i++)
        m->order[i] = (int32_t)i;
    for (size_t i = n_train; i > 1; i--) {
        size_t j = fr_rng_below(&rng, (uint32_t)i);
        int32_t x = m->order[i - 1];
        m->order[i - 1] = m->order[j];
        m->order[j] = x;
    }
    int32_t item_base = (int32_t)data->n_users;
    fr_status s = FR_OK;
    uint64_t step = 0, steps = (n_train + m->o.batch - 1) / m->o.batch;
    for (size_t begin = 0; s == FR_OK && begin < n_train; begin += m->o.batch, step++) {
        size_t n = n_train - begin < m->o.batch ? n_train - begin : m->o.batch;
        fr_mtr_step st;
        fr_mtr_step_init(m, &st, n);
        for (size_t k = 0; k < n; k++) {
            size_t i = (size_t)m->order[begin + k];
            m->step_user[k] = data->train_user[i];
            m->step_item[k] = data->train_item[i] + item_base;
            m->step_rating[k] = data->train_rating[i];
        }
        s = fr_mtr_step_gradients(m, &st, epoch, step, out);
        if (s == FR_OK)
            adam_step(m, &st);
        fr_mtr_step_release(m, &st);
        if (s == FR_OK && fr_progress_call(&m->o.progress, FR_PROGRESS_TRAIN, "batch", step + 1, steps)) {
            out->stopped = begin + n < n_train; /* the last step done: the epoch is whole */
            break;
        }
    }
    fr_mtr_epoch_finish(m, out, t0);
    return s;
}
