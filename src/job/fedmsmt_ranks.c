/* fedmsmt_ranks.c — the multi-scenario job's own exchanges between ranks
 * (see fr_fedmsmt_run_ranks), over the federation core's exchange of
 * per-client blocks (fr_fed_exchange_blocks: the rounds' placement, each
 * client's block tagged with its index and placed by it, so arrival order
 * never matters): the kept parameter vectors at the end of a run, and the
 * clients' evaluation cells after each round. (A round's trained vectors
 * are the core's exchange.) Every sum over clients is then taken in client
 * order by the caller. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_core.h"
#include "job/fedmsmt_job.h"

/* ---- kept parameters ---------------------------------------------------------- */

typedef struct kept_ctx {
    float *const *kept;
    const size_t *n_values;
} kept_ctx;

/* Block: the tag, then the vector. */
#define KEPT_HEAD 8

static void fill_kept(void *arg, size_t c, char *block)
{
    kept_ctx *x = arg;
    memcpy(block + KEPT_HEAD, x->kept[c], x->n_values[c] * sizeof(float));
}

static fr_status place_kept(void *arg, size_t c, const char *block)
{
    kept_ctx *x = arg;
    memcpy(x->kept[c], block + KEPT_HEAD, x->n_values[c] * sizeof(float));
    return FR_OK;
}

fr_status fr_fedmsmt_exchange_kept(fr_fed *f, size_t clients, float *const *kept, const size_t *n_values)
{
    size_t widest = 0;
    for (size_t c = 0; c < clients; c++)
        if (n_values[c] > widest)
            widest = n_values[c];
    kept_ctx x = {kept, n_values};
    return fr_fed_exchange_blocks(f, KEPT_HEAD + widest * sizeof(float), fill_kept, place_kept, &x);
}

/* ---- evaluation cells ----------------------------------------------------------- */

typedef struct eval_ctx {
    fr_msmt_eval *valid, *test;
    size_t tasks;
} eval_ctx;

static void fill_eval(void *arg, size_t c, char *block)
{
    eval_ctx *x = arg;
    double *v = (double *)(void *)(block + 8);
    const fr_msmt_eval *e[2] = {x->valid, x->test};
    for (int k = 0; k < 2; k++) {
        *v++ = (double)e[k]->rows[c];
        for (size_t t = 0; t < x->tasks; t++) {
            *v++ = e[k]->auc[c][t];
            *v++ = e[k]->logloss[c][t];
        }
    }
}

static fr_status place_eval(void *arg, size_t c, const char *block)
{
    eval_ctx *x = arg;
    const double *v = (const double *)(const void *)(block + 8);
    fr_msmt_eval *e[2] = {x->valid, x->test};
    for (int k = 0; k < 2; k++) {
        e[k]->rows[c] = (size_t)*v++;
        for (size_t t = 0; t < x->tasks; t++) {
            e[k]->auc[c][t] = *v++;
            e[k]->logloss[c][t] = *v++;
        }
    }
    return FR_OK;
}

fr_status fr_fedmsmt_exchange_eval(fr_fed *f, size_t tasks, fr_msmt_eval *valid, fr_msmt_eval *test)
{
    eval_ctx x = {valid, test, tasks};
    return fr_fed_exchange_blocks(f, 8 + 2 * (1 + 2 * tasks) * sizeof(double), fill_eval, place_eval, &x);
}
