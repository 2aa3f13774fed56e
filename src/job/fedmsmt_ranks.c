/* fedmsmt_ranks.c — the multi-scenario engine's exchanges between ranks
 * (see fr_fedmsmt_run_ranks): which rank runs a client, the trained
 * parameter vectors and losses every rank needs for the server's
 * arithmetic, and the clients' evaluation cells. Each client's payload is
 * tagged with its index and placed by it, so arrival order never matters;
 * every sum over clients is then taken in client order by the caller. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "job/fedmsmt_job.h"
#include "fedrec/participation.h"

int fr_fedmsmt_owner(const fr_fedmsmt_options *o, size_t c, size_t clients, int ranks)
{
    if (ranks <= 1)
        return 0;
    if (o->participation.placement == FR_PLACE_ROUND_ROBIN)
        return (int)(c % (size_t)ranks);
    return (int)(c * (size_t)ranks / clients);
}

/* Allgather of fixed-size per-client blocks (`each` bytes, a uint64 client
 * index first) of the clients this rank owns; calls place(block) for every
 * block of every rank. */
static fr_status exchange(fr_comm *comm, const fr_fedmsmt_options *o, size_t clients, size_t each,
                          void (*fill)(void *ctx, size_t c, char *block),
                          fr_status (*place)(void *ctx, size_t c, const char *block), void *ctx)
{
    int ranks = fr_comm_size(comm), me = fr_comm_rank(comm);
    size_t mine = 0;
    for (size_t c = 0; c < clients; c++)
        mine += fr_fedmsmt_owner(o, c, clients, ranks) == me;
    char *buf = calloc(mine ? mine : 1, each);
    size_t *counts = malloc((size_t)ranks * sizeof *counts);
    if (!buf || !counts) { /* no collective entered: the program ends the job */
        free(buf);
        free(counts);
        return fr_fail_nomem("client exchange", mine * each);
    }
    fr_status s = FR_OK;
    size_t j = 0;
    for (size_t c = 0; s == FR_OK && c < clients; c++)
        if (fr_fedmsmt_owner(o, c, clients, ranks) == me) {
            uint64_t tag = c;
            memcpy(buf + j * each, &tag, sizeof tag);
            fill(ctx, c, buf + j * each);
            j++;
        }
    void *all = NULL;
    fr_status x = fr_comm_allgather(comm, buf, mine * each, &all, counts);
    if (s == FR_OK)
        s = x;
    size_t total = 0;
    for (int r = 0; s == FR_OK && r < ranks; r++)
        total += counts[r];
    if (s == FR_OK && total != clients * each)
        s = fr_fail(FR_ERR_COMM, "the ranks sent %zu bytes of client data, expected %zu (ranks configured differently?)",
                    total, clients * each);
    for (size_t at = 0; s == FR_OK && at < total; at += each) {
        uint64_t tag;
        memcpy(&tag, (const char *)all + at, sizeof tag);
        s = tag < clients ? place(ctx, (size_t)tag, (const char *)all + at)
                          : fr_fail(FR_ERR_COMM, "a rank sent data of client %llu of %zu", (unsigned long long)tag,
                                    clients);
    }
    free(all);
    free(buf);
    free(counts);
    return fr_comm_agree(comm, s);
}

fr_status fr_fedmsmt_exchange_blocks(fr_comm *comm, const fr_fedmsmt_options *o, size_t clients, size_t each,
                                     void (*fill)(void *ctx, size_t c, char *block),
                                     fr_status (*place)(void *ctx, size_t c, const char *block), void *ctx)
{
    return exchange(comm, o, clients, each, fill, place, ctx);
}

/* ---- trained parameters and losses ------------------------------------------- */

typedef struct trained_ctx {
    float *const *after;
    const size_t *n_values;
    double *loss;
    int *late, *trained;
} trained_ctx;

/* Block: tag, loss, late, trained (as int64), then the vector. */
#define TRAINED_HEAD 32

static void fill_trained(void *arg, size_t c, char *block)
{
    trained_ctx *x = arg;
    int64_t late = x->late[c], trained = x->trained[c];
    memcpy(block + 8, &x->loss[c], sizeof(double));
    memcpy(block + 16, &late, sizeof late);
    memcpy(block + 24, &trained, sizeof trained);
    memcpy(block + TRAINED_HEAD, x->after[c], x->n_values[c] * sizeof(float));
}

static fr_status place_trained(void *arg, size_t c, const char *block)
{
    trained_ctx *x = arg;
    int64_t late, trained;
    memcpy(&x->loss[c], block + 8, sizeof(double));
    memcpy(&late, block + 16, sizeof late);
    memcpy(&trained, block + 24, sizeof trained);
    x->late[c] = (int)late;
    x->trained[c] = (int)trained;
    memcpy(x->after[c], block + TRAINED_HEAD, x->n_values[c] * sizeof(float));
    return FR_OK;
}

fr_status fr_fedmsmt_exchange_trained(fr_comm *comm, const fr_fedmsmt_options *o, size_t clients, float *const *after,
                                  const size_t *n_values, double *loss, int *late, int *trained)
{
    size_t widest = 0;
    for (size_t c = 0; c < clients; c++)
        if (n_values[c] > widest)
            widest = n_values[c];
    trained_ctx x = {after, n_values, loss, late, trained};
    return exchange(comm, o, clients, TRAINED_HEAD + widest * sizeof(float), fill_trained, place_trained, &x);
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

fr_status fr_fedmsmt_exchange_eval(fr_comm *comm, const fr_fedmsmt_options *o, size_t clients, size_t tasks,
                               fr_msmt_eval *valid, fr_msmt_eval *test)
{
    eval_ctx x = {valid, test, tasks};
    return exchange(comm, o, clients, 8 + 2 * (1 + 2 * tasks) * sizeof(double), fill_eval, place_eval, &x);
}
