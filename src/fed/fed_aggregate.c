/* fed_aggregate.c — the server's mean in one process: the participants'
 * row changes applied to the table in client order, split over item-row
 * ranges so that every row sums the same way whatever the number of
 * threads. */
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
