/* fedmsmt_state_ranks.c — checkpoints of a multi-rank fedmsmt run: each
 * client's whole state (what a checkpoint holds of it: every parameter,
 * what it last received, its kept model, its optimiser's step count and
 * moments, its batch counter) moved between ranks. Before a checkpoint
 * every rank sends the clients it runs to every other (rank 0 then writes
 * the one-process file, fedmsmt_checkpoint.c); after rank 0 read one, it
 * sends every client and the run's figures to the others. A checkpoint is
 * then the same file whatever the rank count, and any rank count resumes
 * it. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "job/fedmsmt_job.h"

/* A client's block: a tag (the exchange's), the optimiser's step count,
 * the batch counter, one flag byte per parameter (1: Adam moments follow),
 * padded to 8; the values (every role), received, kept (when the run
 * keeps models), then m and v of each flagged parameter. */
typedef struct state_ctx {
    fed_client *cl;
    size_t clients;
    float **kept;
    const fr_fed *f;         /* the rounds' placement */
    fr_status status;        /* the first failure packing or unpacking */
} state_ctx;

static size_t flags_bytes(const fed_client *k)
{
    return (fr_param_set_count(fr_msmt_model_params(k->m)) + 7) / 8 * 8;
}

/* Bytes of the largest block of the run's clients. */
static size_t block_bytes(const state_ctx *x)
{
    size_t most = 0;
    for (size_t c = 0; c < x->clients; c++) {
        size_t n = 24 + flags_bytes(&x->cl[c]) + (size_t)(x->kept ? 5 : 4) * x->cl[c].n_values * sizeof(float);
        if (n > most)
            most = n;
    }
    return most;
}

static fr_status pack(state_ctx *x, size_t c, char *block)
{
    fed_client *k = &x->cl[c];
    fr_param_set *ps = fr_msmt_model_params(k->m);
    size_t count = fr_param_set_count(ps), n = k->n_values;
    int64_t steps = fr_optimizer_steps(k->opt);
    uint32_t step = k->step;
    memcpy(block + 8, &steps, sizeof steps);
    memcpy(block + 16, &step, sizeof step);
    unsigned char *flags = (unsigned char *)block + 24;
    float *v = (float *)(void *)(block + 24 + flags_bytes(k));
    FR_TRY(fr_param_set_export(ps, FR_ROLES_ALL, v, n));
    memcpy(v + n, k->received, n * sizeof *v);
    float *at = v + 2 * n;
    if (x->kept) {
        memcpy(at, x->kept[c], n * sizeof *at);
        at += n;
    }
    for (size_t i = 0; i < count; i++) {
        fr_param *p = fr_param_set_at(ps, i);
        fr_buffer *mb, *vb;
        flags[i] = fr_optimizer_moments(k->opt, p, &mb, &vb) == FR_OK && mb != NULL;
        if (!flags[i])
            continue;
        size_t bytes = p->rows * p->cols * sizeof(float);
        FR_TRY(fr_buffer_download(mb, 0, at, bytes));
        FR_TRY(fr_buffer_download(vb, 0, at + p->rows * p->cols, bytes));
        at += 2 * p->rows * p->cols;
    }
    return FR_OK;
}

static fr_status unpack(state_ctx *x, size_t c, const char *block)
{
    fed_client *k = &x->cl[c];
    fr_param_set *ps = fr_msmt_model_params(k->m);
    size_t count = fr_param_set_count(ps), n = k->n_values;
    int64_t steps;
    uint32_t step;
    memcpy(&steps, block + 8, sizeof steps);
    memcpy(&step, block + 16, sizeof step);
    const unsigned char *flags = (const unsigned char *)block + 24;
    const float *v = (const float *)(const void *)(block + 24 + flags_bytes(k));
    FR_TRY(fr_param_set_import(ps, FR_ROLES_ALL, v, n));
    memcpy(k->received, v + n, n * sizeof *v);
    const float *at = v + 2 * n;
    if (x->kept) {
        memcpy(x->kept[c], at, n * sizeof *at);
        at += n;
    }
    FR_TRY(fr_optimizer_set_steps(k->opt, steps));
    for (size_t i = 0; i < count; i++) {
        if (!flags[i])
            continue;
        fr_param *p = fr_param_set_at(ps, i);
        fr_buffer *mb, *vb;
        size_t bytes = p->rows * p->cols * sizeof(float);
        FR_TRY(fr_optimizer_moments_alloc(k->opt, p, &mb, &vb));
        FR_TRY(fr_buffer_upload(mb, 0, at, bytes));
        FR_TRY(fr_buffer_upload(vb, 0, at + p->rows * p->cols, bytes));
        at += 2 * p->rows * p->cols;
    }
    k->step = step;
    return FR_OK;
}

static void fill_state(void *arg, size_t c, char *block)
{
    state_ctx *x = arg;
    fr_status s = pack(x, c, block);
    if (x->status == FR_OK)
        x->status = s;
}

static fr_status place_state(void *arg, size_t c, const char *block)
{
    state_ctx *x = arg;
    if (fr_fed_owner(x->f, c) == fr_fed_rank(x->f))
        return FR_OK; /* its own: already current */
    return unpack(x, c, block);
}

fr_status fr_fedmsmt_share_state(fr_fed *f, fed_client *cl, size_t clients, float **kept)
{
    state_ctx x = {cl, clients, kept, f, FR_OK};
    fr_status s = fr_fed_exchange_blocks(f, block_bytes(&x), fill_state, place_state, &x);
    return fr_comm_agree(fr_fed_comm(f), s != FR_OK ? s : x.status);
}

/* The run's figures a checkpoint holds, as rank 0 read them. */
typedef struct run_figures {
    uint64_t rounds, best_round, conflicts;
    double train_seconds, eval_seconds, aggregate_seconds, best;
    fr_msmt_eval valid, test;
    uint64_t upload_sum[FR_TABLE_MAX_SCENARIOS];
    double extra[FR_FEDMSMT_CHECKPOINT_MAX_EXTRA];
} run_figures;

fr_status fr_fedmsmt_broadcast_state(fr_fed *core, const fr_fedmsmt_options *o, fedmsmt_state *st, fr_status s)
{
    fr_comm *comm = fr_fed_comm(core);
    s = fr_comm_agree(comm, s); /* rank 0's read: every rank learns its verdict */
    if (s != FR_OK)
        return s;
    int me = fr_comm_rank(comm);
    fr_fedmsmt_result *out = st->out;
    const fr_fedmsmt_checkpoint *ck = &o->checkpoint;
    run_figures f;
    memset(&f, 0, sizeof f);
    if (me == 0) {
        f.rounds = out->rounds;
        f.best_round = out->best_round;
        f.conflicts = out->conflicts;
        f.train_seconds = out->train_seconds;
        f.eval_seconds = out->eval_seconds;
        f.aggregate_seconds = out->aggregate_seconds;
        f.best = st->best;
        f.valid = out->valid;
        f.test = out->test;
        memcpy(f.upload_sum, st->upload_sum, st->clients * sizeof *f.upload_sum);
        if (ck->n_extra)
            memcpy(f.extra, ck->extra, ck->n_extra * sizeof *f.extra);
    }
    FR_TRY(fr_comm_bcast(comm, 0, &f, sizeof f));
    out->rounds = (size_t)f.rounds;
    out->best_round = (size_t)f.best_round;
    out->conflicts = (size_t)f.conflicts;
    out->train_seconds = f.train_seconds;
    out->eval_seconds = f.eval_seconds;
    out->aggregate_seconds = f.aggregate_seconds;
    st->best = f.best;
    out->valid = f.valid;
    out->test = f.test;
    memcpy(st->upload_sum, f.upload_sum, st->clients * sizeof *f.upload_sum);
    if (ck->n_extra)
        memcpy(ck->extra, f.extra, ck->n_extra * sizeof *f.extra);
    state_ctx x = {st->cl, st->clients, st->kept, core, FR_OK};
    size_t each = block_bytes(&x);
    char *block = calloc(1, each);
    s = fr_comm_agree(comm, block ? FR_OK : fr_fail_nomem("a client's state", each));
    for (size_t c = 0; s == FR_OK && c < st->clients; c++) {
        fr_status local = me == 0 ? pack(&x, c, block) : FR_OK;
        s = fr_comm_agree(comm, local);
        if (s == FR_OK)
            s = fr_comm_bcast(comm, 0, block, each);
        if (s == FR_OK)
            s = fr_comm_agree(comm, me == 0 ? FR_OK : unpack(&x, c, block));
    }
    free(block);
    return s;
}
