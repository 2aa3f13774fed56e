/* fed_robust.c — robust aggregation of the server's shared parameters (fed.aggregator = median | trimmed_mean): instead of the mean
 * of the participants' changes, a statistic that a few wild clients cannot
 * drag far.
 *
 * Table rows (item rows) are sparse: a client changes only the rows it trained on, and
 * the plain aggregate of a row is (1/P) sum over its uploaders U of their
 * changes = (|U|/P) mean_U. The robust aggregate keeps that form with the
 * mean over U replaced by the coordinate-wise median or trimmed mean over
 * U: taking the statistic over all P participants, most of them zero for a
 * row few clients touch, would erase the rare items' updates. The dense part
 * (FedNCF's layers) is dense (every participant uploads them), so there U is
 * everyone. The statistics sort each coordinate's values, so the result
 * does not depend on the order of clients or on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The statistic of v[0..m) (sorted in place): median, or the mean of what
 * is left after dropping ceil(trim m) values at each end (at most (m-1)/2,
 * so one value is left). Rounding up matters for rows few clients
 * changed: with floor, a row of 3 to 9 uploaders would drop nothing at
 * trim 0.1 (on MovieLens-100K with 5% of wild clients the table then
 * broke after 34 rounds instead of 87). */
static double robust_stat(float *v, size_t m, int median, double trim)
{
    qsort(v, m, sizeof *v, compare_float);
    if (median)
        return m % 2 ? (double)v[m / 2] : 0.5 * ((double)v[m / 2 - 1] + (double)v[m / 2]);
    size_t cut = (size_t)ceil(trim * (double)m);
    if (cut > (m - 1) / 2)
        cut = (m - 1) / 2;
    double sum = 0;
    for (size_t j = cut; j < m - cut; j++)
        sum += v[j];
    return sum / (double)(m - 2 * cut);
}

typedef struct robust_job {
    fr_fed *p;
    const size_t *start;       /* n_items + 1: a row's uploads in src */
    const float **src;         /* each upload's row of changes */
    size_t max_count, n_tasks, participants;
} robust_job;

static fr_status robust_rows(void *arg, size_t task)
{
    robust_job *job = arg;
    fr_fed *p = job->p;
    size_t d = p->st.width, lo = task * p->st.n_rows / job->n_tasks, hi = (task + 1) * p->st.n_rows / job->n_tasks;
    int median = p->o.aggregator == FR_AGG_MEDIAN;
    float *v = malloc((job->max_count ? job->max_count : 1) * sizeof *v);
    if (!v)
        return fr_fail_nomem("robust aggregation", job->max_count * 4);
    for (size_t i = lo; i < hi; i++) {
        size_t m = job->start[i + 1] - job->start[i];
        if (m == 0)
            continue;
        double share = (double)m / (double)job->participants;
        for (size_t c = 0; c < d; c++) {
            for (size_t j = 0; j < m; j++)
                v[j] = job->src[job->start[i] + j][c];
            p->st.table[i * d + c] += (float)(share * robust_stat(v, m, median, p->o.trim));
        }
    }
    free(v);
    return FR_OK;
}

fr_status fr_fed_robust_aggregate(fr_fed *p, size_t participants)
{
    size_t ni = p->st.n_rows, total = 0;
    size_t *start = calloc(ni + 2, sizeof *start);
    if (!start)
        return fr_fail_nomem("robust aggregation", ni * 8);
    for (size_t k = 0; k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (!fr_fed_participates(o))
            continue;
        for (size_t r = 0; r < o->n_rows; r++)
            start[(size_t)o->rows[r] + 2]++;
        total += o->n_rows;
    }
    size_t max_count = 0;
    for (size_t i = 0; i < ni; i++) {
        if (start[i + 2] > max_count)
            max_count = start[i + 2];
        start[i + 2] += start[i + 1]; /* start[i + 1]: where row i's uploads begin, for filling */
    }
    const float **src = malloc((total ? total : 1) * sizeof *src);
    size_t tasks = (size_t)fr_pool_threads(p->pool) * 4;
    if (tasks > ni)
        tasks = ni ? ni : 1;
    float *v = malloc((participants ? participants : 1) * sizeof *v);
    fr_status s = src && v ? FR_OK : fr_fail_nomem("robust aggregation", total * 8);
    /* Fill in client order; start[] then holds each row's first upload. */
    for (size_t k = 0; s == FR_OK && k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        if (!fr_fed_participates(o))
            continue;
        for (size_t r = 0; r < o->n_rows; r++)
            src[start[(size_t)o->rows[r] + 1]++] = o->delta + r * p->st.width;
    }
    if (s == FR_OK) {
        robust_job job = {p, start, src, max_count, tasks, participants};
        s = fr_pool_try(p->pool, tasks, robust_rows, &job);
    }
    /* FedNCF's layers: every participant's, the statistic over all. */
    for (size_t i = 0; s == FR_OK && p->st.dense && i < p->st.n_dense; i++) {
        size_t m = 0;
        for (size_t k = 0; k < p->n_sampled; k++)
            if (fr_fed_participates(&p->outs[k]))
                v[m++] = p->outs[k].dense_delta[i];
        if (m)
            p->st.dense[i] += (float)robust_stat(v, m, p->o.aggregator == FR_AGG_MEDIAN, p->o.trim);
    }
    free(start);
    free(src);
    free(v);
    return s;
}
