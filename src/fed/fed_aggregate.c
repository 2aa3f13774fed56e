/* fed_aggregate.c — the server's mean in one process: the participants'
 * row changes applied to the table in client order, split over item-row
 * ranges so that every row sums the same way whatever the number of
 * threads. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"

size_t fr_fed_agg_tasks(const fr_fed *p)
{
    size_t t = (size_t)fr_pool_threads(p->pool);
    return t > MAX_AGG_TASKS ? MAX_AGG_TASKS : t;
}

typedef struct agg_job {
    fr_fed *p;
    size_t n_tasks, participants, k_begin, k_end, g_begin, g_end;
    double total_samples;
} agg_job;

/* Task t applies the upload groups of its share of [g_begin, g_end). */
static void aggregate_range(void *arg, size_t task)
{
    agg_job *job = arg;
    fr_fed *p = job->p;
    size_t d = p->st.width, width = job->g_end - job->g_begin;
    size_t g_lo = job->g_begin + task * width / job->n_tasks;
    size_t g_hi = job->g_begin + (task + 1) * width / job->n_tasks;
    for (size_t k = job->k_begin; k < job->k_end; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (!fr_fed_participates(o))
            continue;
        float scale = fr_fed_scale(p, o, job->total_samples, job->participants);
        for (size_t r = o->group_start[g_lo]; r < o->group_start[g_hi]; r++)
            fr_fed_apply_row(p->st.table + (size_t)o->rows[r] * d, scale, o->delta + r * d, d);
    }
}

void fr_fed_apply_clients(fr_fed *p, size_t k_begin, size_t k_end, size_t g_begin, size_t g_end,
                          double total_samples, size_t participants)
{
    size_t tasks = fr_fed_agg_tasks(p);
    if (tasks > g_end - g_begin)
        tasks = g_end - g_begin;
    if (tasks == 0)
        return;
    agg_job aj = {p, tasks, participants, k_begin, k_end, g_begin, g_end, total_samples};
    fr_pool_for(p->pool, aj.n_tasks, aggregate_range, &aj);
}

/* FR_AGG_ROW_MEAN: tasks take ranges of upload groups; each sums its rows'
 * changes over the participants in client order (unless streaming did),
 * then moves each row by server_lr / (its uploaders) times the sum. */
typedef struct row_mean_job {
    fr_fed *p;
    size_t n_tasks;
} row_mean_job;

void fr_fed_row_add(fr_fed *p, size_t row, const float *delta)
{
    size_t d = p->st.width;
    float *acc = p->row_sum + row * d;
    for (size_t c = 0; c < d; c++)
        acc[c] += delta[c];
    p->row_count[row]++;
}

void fr_fed_row_apply(fr_fed *p, size_t i_lo, size_t i_hi)
{
    size_t d = p->st.width;
    for (size_t i = i_lo; i < i_hi; i++) {
        if (!p->row_count[i])
            continue;
        float *w = p->st.table + i * d, *acc = p->row_sum + i * d;
        float inv = p->o.server_lr / (float)p->row_count[i];
        for (size_t c = 0; c < d; c++) {
            w[c] += acc[c] * inv;
            acc[c] = 0.0f;
        }
        p->row_count[i] = 0;
    }
}

static void fold_rows(fr_fed *p, const fr_fed_upload *o, size_t r_lo, size_t r_hi)
{
    for (size_t r = r_lo; r < r_hi; r++)
        fr_fed_row_add(p, (size_t)o->rows[r], o->delta + r * p->st.width);
}

void fr_fed_row_fold(fr_fed *p, const fr_fed_upload *o)
{
    fold_rows(p, o, 0, o->n_rows);
}

static void row_mean_range(void *arg, size_t task)
{
    row_mean_job *job = arg;
    fr_fed *p = job->p;
    size_t g_lo = task * FR_FED_GROUPS / job->n_tasks, g_hi = (task + 1) * FR_FED_GROUPS / job->n_tasks;
    size_t i_lo = fr_fed_group_first(g_lo, p->st.n_rows), i_hi = fr_fed_group_first(g_hi, p->st.n_rows);
    for (size_t k = 0; !p->streaming && k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (fr_fed_participates(o))
            fold_rows(p, o, o->group_start[g_lo], o->group_start[g_hi]);
    }
    fr_fed_row_apply(p, i_lo, i_hi);
}

fr_status fr_fed_row_sums_ready(fr_fed *p)
{
    size_t n = p->st.n_rows, d = p->st.width;
    if (!p->row_sum) {
        p->row_sum = calloc(n * d > 0 ? n * d : 1, sizeof *p->row_sum);
        p->row_count = calloc(n ? n : 1, sizeof *p->row_count);
        if (!p->row_sum || !p->row_count)
            return fr_fail_nomem("row sums", n * d * sizeof(float));
    }
    return FR_OK;
}

void fr_fed_row_discard(fr_fed *p)
{
    if (!p->row_sum)
        return;
    memset(p->row_sum, 0, p->st.n_rows * p->st.width * sizeof *p->row_sum);
    memset(p->row_count, 0, p->st.n_rows * sizeof *p->row_count);
}

fr_status fr_fed_row_mean(fr_fed *p)
{
    FR_TRY(fr_fed_row_sums_ready(p));
    size_t tasks = fr_fed_agg_tasks(p);
    row_mean_job job = {p, tasks};
    fr_pool_for(p->pool, tasks, row_mean_range, &job);
    return FR_OK;
}
