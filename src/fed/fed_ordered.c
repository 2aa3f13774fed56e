/* fed_ordered.c — the plain mean folded in client order as uploads come.
 *
 * The mean applies every participant's change to the table in client
 * order, row += (1 / participants) * delta. Kept until the round's end,
 * the uploads are what a round's memory is (PFedRec on 100,000 clients:
 * 3 GB of changed rows). Here each upload is folded into a copy of the
 * table as soon as every client before it has been folded — whichever
 * thread finishes the next client in order folds it and any that were
 * waiting behind it — and its buffers go to a client still to train. The
 * rows then see the same additions in the same order as the mean at the
 * round's end: the results are bit for bit those of holding every upload.
 * A thread that finds another folding does not wait: it marks its upload
 * and trains its next client; the folding thread takes it in turn. A
 * thread more than fold_window uploads ahead of the fold waits for it, so
 * that a descheduled thread does not leave the others' uploads piling up.
 *
 * The scale 1 / participants must be known while folding: it is taken as
 * 1 / (the clients this round trains), which is what the participants are
 * unless an update is refused (not finite) — the fold is used only where
 * nothing else can drop a client mid-round (no wall-clock deadline, no
 * fault injection, one process, no secure aggregation: the simulated
 * deadline drops clients before the round starts). Should an update be
 * refused anyway, the folded change is rescaled by trained / participants
 * at the end: the same mean, rounded once more. DP-FedAvg's scale,
 * 1 / sampled, never needs it. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"

static void unlock_and_catch_up(fr_fed *p);

int fr_fed_ordered_applies(const fr_fed *p)
{
    const fr_participation *pa = &p->o.participation;
    return !p->keep_uploads && !p->per_client && p->o.aggregator == FR_AGG_MEAN && !p->o.weighted && !p->o.secure_agg && p->ranks <= 1 &&
           !(pa->deadline > 0 && !pa->deadline_simulated) && p->o.fault_nan == 0 && p->o.fault_huge == 0;
}

void fr_fed_keep_uploads(fr_fed *f, int keep)
{
    f->keep_uploads = keep != 0;
}

void fr_fed_set_fold_window(fr_fed *f, size_t uploads)
{
    f->fold_window_asked = uploads;
}

fr_status fr_fed_ordered_begin(fr_fed *p)
{
    size_t n = p->st.n_rows * p->st.width;
    if (!p->ordered_ready) {
        if (pthread_mutex_init(&p->fold_lock, NULL) != 0)
            return fr_fail(FR_ERR_NOMEM, "federation: cannot create the fold's lock");
        if (pthread_cond_init(&p->fold_moved, NULL) != 0) {
            pthread_mutex_destroy(&p->fold_lock);
            return fr_fail(FR_ERR_NOMEM, "federation: cannot create the fold's condition");
        }
        p->ordered_ready = 1;
    }
    p->fold_abort = 0;
    /* Uploads a thread may run ahead of the fold: a few chunks' worth per
     * thread, so that a slow or descheduled thread does not leave the
     * others' uploads piling up behind it. */
    p->fold_window = p->fold_window_asked ? p->fold_window_asked : 16 * (size_t)fr_pool_threads(p->pool) + 16;
    if (!p->ready) {
        p->acc = n ? malloc(n * sizeof *p->acc) : NULL;
        p->acc_dense = p->st.n_dense ? malloc(p->st.n_dense * sizeof *p->acc_dense) : NULL;
        p->ready = calloc(p->n_clients, sizeof *p->ready);
        p->workers = calloc((size_t)fr_pool_threads(p->pool) + 1, sizeof *p->workers);
        if ((n && !p->acc) || (p->st.n_dense && !p->acc_dense) || !p->ready || !p->workers) {
            free(p->acc);
            free(p->acc_dense);
            free(p->ready);
            free(p->workers);
            p->acc = p->acc_dense = NULL;
            p->ready = NULL;
            p->workers = NULL;
            return fr_fail_nomem("the fold's copy of the table", (n + p->st.n_dense) * sizeof(float));
        }
    }
    if (n)
        memcpy(p->acc, p->st.table, n * sizeof *p->acc);
    if (p->st.n_dense)
        memcpy(p->acc_dense, p->st.dense, p->st.n_dense * sizeof *p->acc_dense);
    for (size_t i = 0; i < p->n_todo; i++)
        atomic_store(&p->ready[i], 0);
    atomic_store(&p->fold_next, 0);
    return FR_OK;
}

void fr_fed_ordered_take(fr_fed *p, fr_fed_upload *up)
{
    pthread_mutex_lock(&p->fold_lock);
    if (p->n_spares > 0) {
        fr_fed_upload *sp = &p->spares[--p->n_spares];
        free(up->delta); /* a delta without rows (a reserve that failed half way) */
        up->rows = sp->rows;
        up->delta = sp->delta;
        up->cap_rows = sp->cap_rows;
        if (!up->dense_delta)
            up->dense_delta = sp->dense_delta;
        else
            free(sp->dense_delta);
    }
    unlock_and_catch_up(p);
}

/* Upload o's buffers, kept for the clients still to train. Should the
 * list not grow, they stay with o: more memory, the same results. */
static void fr_fed_ordered_keep_buffers(fr_fed *p, fr_fed_upload *o)
{
    if (!o->rows && !o->delta && !o->dense_delta)
        return;
    if (p->n_spares == p->cap_spares) {
        size_t cap = p->cap_spares ? 2 * p->cap_spares : 16;
        fr_fed_upload *s = realloc(p->spares, cap * sizeof *s);
        if (!s)
            return;
        p->spares = s;
        p->cap_spares = cap;
    }
    fr_fed_upload *sp = &p->spares[p->n_spares++];
    memset(sp, 0, sizeof *sp);
    sp->rows = o->rows;
    sp->delta = o->delta;
    sp->cap_rows = o->cap_rows;
    sp->dense_delta = o->dense_delta;
    o->rows = NULL;
    o->delta = NULL;
    o->dense_delta = NULL;
    o->cap_rows = 0; /* n_rows stays: the round's traffic counts it */
}

/* Fold upload o (under the lock) and keep its buffers for the next. */
static void fold(fr_fed *p, fr_fed_upload *o)
{
    size_t d = p->st.width;
    if (fr_fed_participates(o)) {
        float scale = fr_fed_scale(p, o, 0.0, p->n_todo);
        for (size_t r = 0; r < o->n_rows; r++)
            fr_fed_apply_row(p->acc + (size_t)o->rows[r] * d, scale, o->delta + r * d, d);
        if (p->st.dense && o->dense_delta)
            fr_fed_apply_row(p->acc_dense, scale, o->dense_delta, p->st.n_dense);
    }
    fr_fed_ordered_keep_buffers(p, o);
}

/* Fold, in order, every upload ready at the head (the caller holds the
 * lock). */
static void drain(fr_fed *p)
{
    size_t next = atomic_load(&p->fold_next), first = next;
    while (next < p->n_todo && atomic_load(&p->ready[next])) {
        fold(p, &p->outs[p->todo[next]]);
        atomic_store(&p->ready[next], 0);
        atomic_store(&p->fold_next, ++next);
    }
    if (next != first) /* threads waiting to run ahead may go on */
        pthread_cond_broadcast(&p->fold_moved);
}

void fr_fed_ordered_wait(fr_fed *p, size_t i)
{
    if (i < atomic_load(&p->fold_next) + p->fold_window)
        return;
    pthread_mutex_lock(&p->fold_lock);
    /* Fold what is ready first: a waiting thread never leaves the head
     * ready and unfolded. The clients before i are on other threads (the
     * pool hands chunks out in order), so the fold moves on unless one of
     * them failed, which aborts the wait. */
    drain(p);
    while (!p->fold_abort && i >= atomic_load(&p->fold_next) + p->fold_window)
        pthread_cond_wait(&p->fold_moved, &p->fold_lock);
    unlock_and_catch_up(p);
}

void fr_fed_ordered_abort(fr_fed *p)
{
    pthread_mutex_lock(&p->fold_lock);
    p->fold_abort = 1;
    pthread_cond_broadcast(&p->fold_moved);
    unlock_and_catch_up(p);
}

/* A thread that finds the fold busy leaves its upload to the folding
 * thread and trains on: folding never holds up training. The folding
 * thread looks again after letting go of the lock, so an upload marked
 * while it was folding is not left behind (and the round's end drains
 * whatever remains). */
/* Let go of the lock, then look at the head again: an upload marked
 * while this thread held the lock (its owner's trylock failed) is folded
 * now, by whichever thread gets the lock, rather than left waiting. Every
 * holder of the lock leaves through here. */
static void unlock_and_catch_up(fr_fed *p)
{
    pthread_mutex_unlock(&p->fold_lock);
    for (;;) {
        size_t next = atomic_load(&p->fold_next);
        if (!(next < p->n_todo && atomic_load(&p->ready[next])))
            return;
        if (pthread_mutex_trylock(&p->fold_lock) != 0)
            return; /* its holder will look again as it leaves */
        drain(p);
        pthread_mutex_unlock(&p->fold_lock);
    }
}

/* A thread that finds the lock taken leaves its upload to the thread that
 * holds it and trains on: folding never holds up training. */
void fr_fed_ordered_done(fr_fed *p, size_t i)
{
    atomic_store(&p->ready[i], 1);
    if (pthread_mutex_trylock(&p->fold_lock) != 0)
        return;
    drain(p);
    unlock_and_catch_up(p);
}

void fr_fed_ordered_finish(fr_fed *p)
{
    pthread_mutex_lock(&p->fold_lock);
    drain(p);
    pthread_mutex_unlock(&p->fold_lock);
}

fr_status fr_fed_ordered_worker(fr_fed *p, void **worker)
{
    *worker = NULL;
    pthread_mutex_lock(&p->fold_lock);
    if (p->n_workers > 0)
        *worker = p->workers[--p->n_workers];
    unlock_and_catch_up(p);
    return *worker ? FR_OK : p->ops->worker_create(p->model, worker);
}

void fr_fed_ordered_worker_back(fr_fed *p, void *worker)
{
    pthread_mutex_lock(&p->fold_lock);
    int kept = p->n_workers < (size_t)fr_pool_threads(p->pool) + 1;
    if (kept)
        p->workers[p->n_workers++] = worker;
    unlock_and_catch_up(p);
    if (!kept)
        p->ops->worker_destroy(p->model, worker);
}

void fr_fed_ordered_end_round(fr_fed *p)
{
    while (p->n_workers > 0)
        p->ops->worker_destroy(p->model, p->workers[--p->n_workers]);
}

void fr_fed_ordered_commit(fr_fed *p, size_t participants)
{
    size_t n = p->st.n_rows * p->st.width;
    if (participants == 0 && p->o.dp_noise <= 0) /* nothing arrived: the table stays */
        return;
    if (participants == p->n_todo || p->o.dp_noise > 0) {
        if (n)
            memcpy(p->st.table, p->acc, n * sizeof *p->acc);
        if (p->st.n_dense)
            memcpy(p->st.dense, p->acc_dense, p->st.n_dense * sizeof *p->acc_dense);
        return;
    }
    /* An update was refused: the fold's change, scaled to the mean over
     * the participants. */
    double ratio = (double)p->n_todo / (double)participants;
    for (size_t i = 0; i < n; i++)
        p->st.table[i] += (float)((double)(p->acc[i] - p->st.table[i]) * ratio);
    for (size_t i = 0; i < p->st.n_dense; i++)
        p->st.dense[i] += (float)((double)(p->acc_dense[i] - p->st.dense[i]) * ratio);
}

void fr_fed_ordered_free(fr_fed *p)
{
    if (p->ops)
        fr_fed_ordered_end_round(p);
    free(p->workers);
    for (size_t i = 0; i < p->n_spares; i++) {
        free(p->spares[i].rows);
        free(p->spares[i].delta);
        free(p->spares[i].dense_delta);
    }
    free(p->spares);
    free(p->acc);
    free(p->acc_dense);
    free(p->ready);
    if (p->ordered_ready) {
        pthread_cond_destroy(&p->fold_moved);
        pthread_mutex_destroy(&p->fold_lock);
    }
}
