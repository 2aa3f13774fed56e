/* fed_ranks.c — the federation core's rounds over several ranks (see
 * fr_fed_set_comm): which rank trains a client, the exchange of the
 * trained clients' records, the aggregation of item changes split by item
 * range over the ranks.
 *
 * Why the result is the one-rank run's, bit for bit: every rank draws the
 * same sample; a client's training depends only on (seed, round, client)
 * and the round's global table; each item row is summed by the one rank
 * that owns it, over the participants in client-id order, with the same
 * scale and the same update rule as the one-rank aggregation (the per-row
 * mean: the same sum in client order, then the same server step); every other
 * sum (loss, figures, FedNCF's layers, the shared score) is taken in
 * client-id order from records every rank holds. No reduction is left to
 * MPI's order. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"

int fr_fed_owner(const fr_fed *p, size_t u)
{
    if (p->ranks <= 1)
        return 0;
    if (p->o.participation.placement == FR_PLACE_ROUND_ROBIN)
        return (int)(u % (size_t)p->ranks);
    int r = 0; /* the last block starting at or before u */
    while (r + 1 < p->ranks && p->block_start[r + 1] <= u)
        r++;
    return r;
}

/* First item row of rank r's aggregation range (r = ranks: n_items). */
static size_t range_start(const fr_fed *p, int r)
{
    return (size_t)r * p->st.n_rows / (size_t)p->ranks;
}

/* The rank whose range holds item row i. */
static int range_owner(const fr_fed *p, size_t i)
{
    int r = (int)(i * (size_t)p->ranks / p->st.n_rows);
    /* Integer division can put a boundary row one rank off: settle it. */
    while (r > 0 && i < range_start(p, r))
        r--;
    while (r + 1 < p->ranks && i >= range_start(p, r + 1))
        r++;
    return r;
}

/* ---- records ---------------------------------------------------------------- */

/* A trained client's record: this head, then ranks x uint32 row counts
 * (round-robin: its changed rows in each rank's range; contiguous: all of
 * them in the first), then (shared personal values) its personal values,
 * then its dense change, then the model's record of it. */
typedef struct rec_head {
    uint64_t k;          /* index into the round's sample */
    uint64_t samples;
    int32_t trained, late, rejected, unused;
    double loss_sum, t_negatives, t_train, t_eval;
} rec_head;

static size_t record_floats(const fr_fed *p)
{
    return (p->o.share_personal ? p->ops->n_personal : 0) + p->st.n_dense;
}

/* Whether the rows go by range (fr_fed_aggregate_ranks): round-robin
 * placement, and the per-row mean whatever the placement (each row's sum
 * and count are one rank's). */
static int by_range(const fr_fed *p)
{
    return p->o.participation.placement == FR_PLACE_ROUND_ROBIN || p->o.aggregator == FR_AGG_ROW_MEAN;
}

/* Row counts a record carries: one per rank's range (by range), or the
 * total (the chain needs no more). */
static size_t record_counts(const fr_fed *p)
{
    return by_range(p) ? (size_t)p->ranks : 1;
}

/* Where the model's record starts in a record. */
static size_t model_record_at(const fr_fed *p)
{
    size_t b = sizeof(rec_head) + record_counts(p) * sizeof(uint32_t) + record_floats(p) * sizeof(float);
    return (b + 7) / 8 * 8;
}

static size_t record_bytes(const fr_fed *p)
{
    return (model_record_at(p) + p->ops->record_bytes + 7) / 8 * 8;
}

static void pack_record(const fr_fed *p, size_t k, char *at)
{
    const fr_fed_upload *o = &p->outs[k];
    size_t u = (size_t)p->sampled[k];
    rec_head h = {k, o->samples, o->trained, o->late, o->rejected, 0, o->loss_sum, o->t_negatives, o->t_train, o->t_eval};
    memcpy(at, &h, sizeof h);
    uint32_t *counts = (uint32_t *)(void *)(at + sizeof h);
    memset(counts, 0, record_counts(p) * sizeof *counts);
    if (fr_fed_participates(o)) {
        if (!by_range(p)) /* the chain needs the total only */
            counts[0] = (uint32_t)o->n_rows;
        else
            for (size_t r = 0; r < o->n_rows; r++)
                counts[range_owner(p, (size_t)o->rows[r])]++;
    }
    float *f = (float *)(void *)(counts + record_counts(p));
    if (p->o.share_personal) {
        p->ops->personal_get(p->model, u, f);
        f += p->ops->n_personal;
    }
    if (p->st.n_dense) {
        if (o->trained && o->dense_delta)
            memcpy(f, o->dense_delta, p->st.n_dense * sizeof *f);
        else
            memset(f, 0, p->st.n_dense * sizeof *f);
    }
    if (p->ops->record_bytes)
        p->ops->record_pack(p->model, u, at + model_record_at(p));
}

static fr_status unpack_record(fr_fed *p, const char *at)
{
    rec_head h;
    memcpy(&h, at, sizeof h);
    if (h.k >= p->n_sampled)
        return fr_fail(FR_ERR_COMM, "a rank sent a record of client %llu of a %zu-client round (ranks out of step?)",
                       (unsigned long long)h.k, p->n_sampled);
    size_t k = (size_t)h.k, u = (size_t)p->sampled[k];
    fr_fed_upload *o = &p->outs[k];
    o->samples = (size_t)h.samples;
    o->trained = h.trained;
    o->late = h.late;
    o->rejected = h.rejected;
    o->loss_sum = h.loss_sum;
    o->t_negatives = h.t_negatives;
    o->t_train = h.t_train;
    o->t_eval = h.t_eval;
    const uint32_t *counts = (const uint32_t *)(const void *)(at + sizeof h);
    size_t n_counts = record_counts(p), rows = 0;
    if (p->rows_to) /* by range: where each client's rows go */
        memcpy(p->rows_to + k * (size_t)p->ranks, counts, n_counts * sizeof *counts);
    for (size_t r = 0; r < n_counts; r++)
        rows += counts[r];
    o->n_rows = rows;
    const float *f = (const float *)(const void *)(counts + n_counts);
    if (p->o.share_personal) {
        p->ops->personal_set(p->model, u, f);
        f += p->ops->n_personal;
    }
    if (p->st.n_dense) {
        if (!o->dense_delta && !(o->dense_delta = malloc(p->st.n_dense * sizeof(float))))
            return fr_fail_nomem("dense update", p->st.n_dense * sizeof(float));
        memcpy(o->dense_delta, f, p->st.n_dense * sizeof *f);
    }
    if (p->ops->record_bytes)
        p->ops->record_unpack(p->model, u, at + model_record_at(p));
    return FR_OK;
}

fr_status fr_fed_exchange_records(fr_fed *p, fr_status local)
{
    FR_TRY(fr_comm_agree(p->comm, local));
    free(p->rows_to);
    p->rows_to = NULL;
    if (by_range(p))
        p->rows_to = calloc(p->n_sampled ? p->n_sampled * (size_t)p->ranks : 1, sizeof *p->rows_to);
    size_t rb = record_bytes(p);
    char *mine = calloc(p->n_todo ? p->n_todo : 1, rb);
    size_t *counts = malloc((size_t)p->ranks * sizeof *counts);
    if (!counts) { /* no collective entered: the program ends the job */
        free(mine);
        return fr_fail_nomem("client records", (size_t)p->ranks * sizeof *counts);
    }
    fr_status s = FR_OK;
    if ((by_range(p) && !p->rows_to) || !mine)
        s = fr_fail_nomem("client records", p->n_todo * rb);
    for (size_t i = 0; s == FR_OK && i < p->n_todo; i++)
        pack_record(p, p->todo[i], mine + i * rb);
    void *all = NULL;
    /* Collective: every rank reaches it (a local failure here is agreed
     * on just below, so no rank is left waiting in a later exchange). */
    fr_status sent = fr_comm_allgather(p->comm, mine, s == FR_OK ? p->n_todo * rb : 0, &all, counts);
    if (s == FR_OK)
        s = sent;
    size_t total = 0;
    for (int r = 0; s == FR_OK && r < p->ranks; r++)
        total += counts[r];
    if (s == FR_OK && total % rb)
        s = fr_fail(FR_ERR_COMM, "client records of %zu bytes do not divide into %zu-byte records (ranks built differently?)",
                    total, rb);
    for (size_t at = 0; s == FR_OK && at < total; at += rb)
        s = unpack_record(p, (const char *)all + at);
    free(all);
    free(mine);
    free(counts);
    return fr_comm_agree(p->comm, s);
}

/* ---- item rows ---------------------------------------------------------------- */

/* Where client k's rows for this rank's range lie in the exchanged data. */
typedef struct segment {
    const int32_t *rows;
    const float *delta;
    size_t n;
} segment;

typedef struct range_job {
    fr_fed *p;
    const segment *seg;  /* per sampled client */
    size_t lo, hi, n_tasks, participants;
    double total_samples;
} range_job;

/* The per-row mean of rows [a, b): each row's changes summed over the
 * participants in client-id order, then the row moved by server_lr / its
 * uploaders times the sum — fr_fed_row_mean's float operations in its
 * order (fed_aggregate.c). */
static void row_mean_slice(fr_fed *p, const segment *seg, size_t a, size_t b)
{
    size_t d = p->st.width;
    for (size_t k = 0; k < p->n_sampled; k++) {
        if (!fr_fed_participates(&p->outs[k]))
            continue;
        for (size_t r = 0; r < seg[k].n; r++) {
            size_t item = (size_t)seg[k].rows[r];
            if (item < a || item >= b)
                continue;
            fr_fed_row_add(p, item, seg[k].delta + r * d);
        }
    }
    fr_fed_row_apply(p, a, b);
}

/* Task t applies the rows of its slice of [lo, hi) in client-id order. */
static void apply_slice(void *arg, size_t task)
{
    range_job *job = arg;
    fr_fed *p = job->p;
    size_t width = job->hi - job->lo, d = p->st.width;
    size_t a = job->lo + task * width / job->n_tasks, b = job->lo + (task + 1) * width / job->n_tasks;
    if (p->o.aggregator == FR_AGG_ROW_MEAN) {
        row_mean_slice(p, job->seg, a, b);
        return;
    }
    for (size_t k = 0; k < p->n_sampled; k++) {
        const fr_fed_upload *o = &p->outs[k];
        const segment *sg = &job->seg[k];
        if (!fr_fed_participates(o) || sg->n == 0)
            continue;
        float scale = fr_fed_scale(p, o, job->total_samples, job->participants);
        for (size_t r = 0; r < sg->n; r++) {
            size_t item = (size_t)sg->rows[r];
            if (item >= a && item < b)
                fr_fed_apply_row(p->st.table + item * d, scale, sg->delta + r * d, d);
        }
    }
}

/* Pack this rank's participants' rows by destination range: chunk r holds,
 * for each of this rank's clients in sample order, its rows_to[r] row ids
 * then their changes. */
static fr_status pack_deltas(const fr_fed *p, char **buf, size_t *chunk)
{
    size_t K = (size_t)p->ranks, d = p->st.width, total = 0;
    memset(chunk, 0, K * sizeof *chunk);
    for (size_t i = 0; i < p->n_todo; i++)
        for (size_t r = 0; r < K; r++)
            chunk[r] += (size_t)p->rows_to[p->todo[i] * K + r] * (sizeof(int32_t) + d * sizeof(float));
    for (size_t r = 0; r < K; r++)
        total += chunk[r];
    *buf = malloc(total ? total : 1);
    size_t *cursor = malloc(K * sizeof *cursor), *fill = malloc(K * sizeof *fill);
    if (!*buf || !cursor || !fill) {
        free(cursor);
        free(fill);
        return fr_fail_nomem("item changes", total);
    }
    for (size_t r = 0, at = 0; r < K; r++) {
        cursor[r] = at;
        at += chunk[r];
    }
    for (size_t i = 0; i < p->n_todo; i++) {
        size_t k = p->todo[i];
        const fr_fed_upload *o = &p->outs[k];
        if (!fr_fed_participates(o))
            continue;
        const uint32_t *n_to = p->rows_to + k * K;
        for (size_t r = 0; r < K; r++)
            fill[r] = 0;
        for (size_t j = 0; j < o->n_rows; j++) {
            size_t r = (size_t)range_owner(p, (size_t)o->rows[j]);
            char *seg = *buf + cursor[r];
            memcpy(seg + fill[r] * sizeof(int32_t), &o->rows[j], sizeof(int32_t));
            memcpy(seg + n_to[r] * sizeof(int32_t) + fill[r] * d * sizeof(float), o->delta + j * d,
                   d * sizeof(float));
            fill[r]++;
        }
        for (size_t r = 0; r < K; r++)
            cursor[r] += (size_t)n_to[r] * (sizeof(int32_t) + d * sizeof(float));
    }
    free(cursor);
    free(fill);
    return FR_OK;
}

/* The rows of [lo, hi) marked in hit (indexed from lo), as a count, ids
 * and values. */
static fr_status pack_marked(const fr_fed *p, const unsigned char *hit, size_t lo, size_t hi, char **buf,
                             size_t *bytes)
{
    size_t d = p->st.width, n = 0;
    for (size_t i = lo; i < hi; i++)
        n += hit[i - lo];
    *bytes = sizeof(uint64_t) + n * (sizeof(int32_t) + d * sizeof(float));
    *buf = malloc(*bytes);
    if (!*buf)
        return fr_fail_nomem("changed rows", *bytes);
    uint64_t count = n;
    memcpy(*buf, &count, sizeof count);
    char *ids = *buf + sizeof count, *vals = ids + n * sizeof(int32_t);
    size_t j = 0;
    for (size_t i = lo; i < hi; i++)
        if (hit[i - lo]) {
            int32_t id = (int32_t)i;
            memcpy(ids + j * sizeof id, &id, sizeof id);
            memcpy(vals + j * d * sizeof(float), p->st.table + i * d, d * sizeof(float));
            j++;
        }
    return FR_OK;
}

/* Rows packed by pack_marked (bytes of them, from rank `from`) into the
 * table; marks them in hit (indexed from 0) when given. */
static fr_status unpack_rows(fr_fed *p, const char *at, size_t bytes, int from, unsigned char *hit)
{
    size_t d = p->st.width;
    uint64_t n;
    if (bytes < sizeof n)
        return fr_fail(FR_ERR_COMM, "rank %d sent a short list of changed rows", from);
    memcpy(&n, at, sizeof n);
    if (bytes != sizeof n + n * (sizeof(int32_t) + d * sizeof(float)))
        return fr_fail(FR_ERR_COMM, "rank %d sent %zu bytes for %llu changed rows", from, bytes,
                       (unsigned long long)n);
    const char *ids = at + sizeof n, *vals = ids + n * sizeof(int32_t);
    for (size_t j = 0; j < n; j++) {
        int32_t id;
        memcpy(&id, ids + j * sizeof id, sizeof id);
        if (id < 0 || (size_t)id >= p->st.n_rows)
            return fr_fail(FR_ERR_COMM, "rank %d sent item row %d of %zu", from, (int)id, p->st.n_rows);
        memcpy(p->st.table + (size_t)id * d, vals + j * d * sizeof(float), d * sizeof(float));
        if (hit)
            hit[id] = 1;
    }
    return FR_OK;
}

/* The rows of this rank's range that some participant changed. */
static fr_status pack_changed(const fr_fed *p, const segment *seg, size_t lo, size_t hi, char **buf,
                              size_t *bytes)
{
    unsigned char *hit = calloc(hi - lo ? hi - lo : 1, 1);
    if (!hit)
        return fr_fail_nomem("changed rows", hi - lo);
    for (size_t k = 0; k < p->n_sampled; k++)
        if (fr_fed_participates(&p->outs[k]))
            for (size_t r = 0; r < seg[k].n; r++)
                hit[(size_t)seg[k].rows[r] - lo] = 1;
    fr_status s = pack_marked(p, hit, lo, hi, buf, bytes);
    free(hit);
    return s;
}

/* Write the changed rows other ranks sent into the table. */
static fr_status unpack_changed(fr_fed *p, const char *all, const size_t *counts)
{
    const char *at = all;
    for (int r = 0; r < p->ranks; r++) {
        if (r != p->rank)
            FR_TRY(unpack_rows(p, at, counts[r], r, NULL));
        at += counts[r];
    }
    return FR_OK;
}

/* Locate each sampled client's segment in the exchanged data: rank r's
 * chunk lists r's clients in sample order. */
static fr_status locate(const fr_fed *p, const char *recv, const size_t *counts, segment *seg)
{
    size_t K = (size_t)p->ranks, d = p->st.width, me = (size_t)p->rank;
    size_t *cursor = malloc(K * sizeof *cursor);
    if (!cursor)
        return fr_fail_nomem("segments", K * sizeof *cursor);
    for (size_t r = 0, at = 0; r < K; r++) {
        cursor[r] = at;
        at += counts[r];
    }
    fr_status s = FR_OK;
    for (size_t k = 0; k < p->n_sampled; k++) {
        size_t from = (size_t)fr_fed_owner(p, (size_t)p->sampled[k]);
        size_t n = p->rows_to[k * K + me];
        seg[k].n = n;
        if (!n)
            continue;
        const char *at = recv + cursor[from];
        seg[k].rows = (const int32_t *)(const void *)at;
        seg[k].delta = (const float *)(const void *)(at + n * sizeof(int32_t));
        cursor[from] += n * (sizeof(int32_t) + d * sizeof(float));
    }
    for (size_t r = 0, at = 0; s == FR_OK && r < K; r++) {
        at += counts[r];
        if (cursor[r] != at)
            s = fr_fail(FR_ERR_COMM, "rank %zu sent %zu bytes of item changes, its records announce otherwise", r,
                        counts[r]);
    }
    free(cursor);
    return s;
}

fr_status fr_fed_aggregate_ranks(fr_fed *p, double total_samples, size_t participants)
{
    size_t K = (size_t)p->ranks;
    size_t *out_counts = malloc(K * sizeof *out_counts), *in_counts = malloc(K * sizeof *in_counts);
    size_t *changed_counts = malloc(K * sizeof *changed_counts);
    segment *seg = calloc(p->n_sampled ? p->n_sampled : 1, sizeof *seg);
    char *send = NULL, *changed = NULL;
    void *recv = NULL, *all_changed = NULL;
    size_t changed_bytes = 0;
    fr_status s = FR_OK;
    if (!out_counts || !in_counts || !changed_counts || !seg)
        s = fr_fail_nomem("aggregation plan", K * 24 + p->n_sampled * sizeof *seg);
    /* Payloads are 4-byte aligned (int32 ids, then floats) and each
     * segment's length a multiple of 4, so the views below are aligned. */
    if (s == FR_OK && p->o.aggregator == FR_AGG_ROW_MEAN)
        s = fr_fed_row_sums_ready(p);
    if (s == FR_OK)
        s = pack_deltas(p, &send, out_counts);
    /* Every rank enters each collective; a failure is agreed on after. */
    if (s != FR_OK && out_counts)
        memset(out_counts, 0, K * sizeof *out_counts);
    fr_status x = out_counts && in_counts ? fr_comm_alltoall(p->comm, send ? send : "", out_counts, &recv, in_counts)
                                          : FR_ERR_NOMEM;
    if (s == FR_OK)
        s = x;
    s = fr_comm_agree(p->comm, s);
    size_t lo = range_start(p, p->rank), hi = range_start(p, p->rank + 1);
    if (s == FR_OK)
        s = locate(p, recv, in_counts, seg);
    if (s == FR_OK) {
        range_job job = {p, seg, lo, hi, fr_fed_agg_tasks(p), participants, total_samples};
        if (job.n_tasks > hi - lo)
            job.n_tasks = hi - lo ? hi - lo : 1;
        fr_pool_for(p->pool, job.n_tasks, apply_slice, &job);
        s = pack_changed(p, seg, lo, hi, &changed, &changed_bytes);
    }
    s = fr_comm_agree(p->comm, s);
    if (s == FR_OK)
        s = fr_comm_allgather(p->comm, changed, changed_bytes, &all_changed, changed_counts);
    if (s == FR_OK)
        s = unpack_changed(p, all_changed, changed_counts);
    free(out_counts);
    free(in_counts);
    free(changed_counts);
    free(seg);
    free(send);
    free(changed);
    free(recv);
    free(all_changed);
    return fr_comm_agree(p->comm, s);
}

/* ---- contiguous placement: the chain ------------------------------------------ */

/* A message along the chain: pack_marked's rows, or this marker alone when
 * a rank before failed (so that no rank waits for a message never sent). */
static const uint64_t chain_failed = UINT64_MAX;

/* The chain runs in stages over item ranges (whole upload groups): rank r
 * works on range j + 1 while rank r + 1 works on range j, so the ranks'
 * additions overlap instead of queueing behind each other. */
#define CHAIN_STAGES 8

fr_status fr_fed_aggregate_chain(fr_fed *p, double total_samples, size_t participants)
{
    int K = p->ranks, me = p->rank;
    unsigned char *hit = calloc(p->st.n_rows ? p->st.n_rows : 1, 1);
    fr_status s = hit ? FR_OK : fr_fail_nomem("changed rows", p->st.n_rows);
    int upstream_failed = 0;
    /* This rank's clients are sampled clients todo[0] .. todo[n - 1],
     * consecutive in client order. */
    size_t k_begin = p->n_todo ? p->todo[0] : 0, k_end = p->n_todo ? p->todo[p->n_todo - 1] + 1 : 0;
    for (size_t j = 0; j < CHAIN_STAGES; j++) {
        size_t g_lo = j * FR_FED_GROUPS / CHAIN_STAGES, g_hi = (j + 1) * FR_FED_GROUPS / CHAIN_STAGES;
        size_t i_lo = fr_fed_group_first(g_lo, p->st.n_rows), i_hi = fr_fed_group_first(g_hi, p->st.n_rows);
        if (me > 0) { /* the range as the ranks before this one left it */
            void *msg = NULL;
            size_t bytes = 0;
            fr_status r = fr_comm_recv(p->comm, me - 1, &msg, &bytes);
            if (r == FR_OK && bytes == sizeof chain_failed && !memcmp(msg, &chain_failed, sizeof chain_failed))
                upstream_failed = 1;
            else if (r == FR_OK && s == FR_OK)
                r = unpack_rows(p, msg, bytes, me - 1, hit);
            if (s == FR_OK)
                s = r;
            free(msg);
        }
        if (s == FR_OK && !upstream_failed && k_end > k_begin) {
            fr_fed_apply_clients(p, k_begin, k_end, g_lo, g_hi, total_samples, participants);
            for (size_t k = k_begin; k < k_end; k++) {
                const fr_fed_upload *o = &p->outs[k];
                if (fr_fed_participates(o))
                    for (size_t r = o->group_start[g_lo]; r < o->group_start[g_hi]; r++)
                        hit[o->rows[r]] = 1;
            }
        }
        if (me < K - 1) {
            char *out = NULL;
            size_t out_bytes = 0;
            fr_status r = FR_OK;
            if (s == FR_OK && !upstream_failed)
                r = pack_marked(p, hit + i_lo, i_lo, i_hi, &out, &out_bytes);
            if (s == FR_OK)
                s = r;
            r = s == FR_OK && !upstream_failed ? fr_comm_send(p->comm, me + 1, out, out_bytes)
                                               : fr_comm_send(p->comm, me + 1, &chain_failed, sizeof chain_failed);
            if (s == FR_OK)
                s = r;
            free(out);
        }
    }
    /* The last rank holds every changed row: to everyone. */
    char *out = NULL;
    size_t out_bytes = 0;
    if (me == K - 1 && s == FR_OK && !upstream_failed)
        s = pack_marked(p, hit, 0, p->st.n_rows, &out, &out_bytes);
    uint64_t n_bytes = me == K - 1 && s == FR_OK && !upstream_failed ? out_bytes : 0;
    fr_status b = fr_comm_bcast(p->comm, K - 1, &n_bytes, sizeof n_bytes);
    if (s == FR_OK)
        s = b;
    if (n_bytes > 0) {
        char *all = me == K - 1 ? out : malloc((size_t)n_bytes);
        if (!all) { /* cannot take part: the program ends the job (fr_comm_abort) */
            free(out);
            free(hit);
            return fr_fail_nomem("changed rows", (size_t)n_bytes);
        }
        b = fr_comm_bcast(p->comm, K - 1, all, (size_t)n_bytes);
        if (s == FR_OK)
            s = b;
        if (s == FR_OK && me != K - 1)
            s = unpack_rows(p, all, (size_t)n_bytes, K - 1, NULL);
        if (all != out)
            free(all);
    } else if (s == FR_OK && upstream_failed) {
        s = fr_fail(FR_ERR_COMM, "a rank before this one failed to aggregate");
    }
    free(out);
    free(hit);
    return fr_comm_agree(p->comm, s);
}
