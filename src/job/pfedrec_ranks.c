/* pfedrec_ranks.c — what the rating jobs gather from their ranks for
 * checkpoints and saved models: every user's score function and personal
 * rows from the rank that trained it, and rank 0's state for every rank
 * after a resume. (A round's own exchanges are the federation core's,
 * src/fed/fed_ranks.c.) */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "job/pfedrec_job.h"

/* ---- checkpoints: score functions and state ------------------------------ */

fr_status fr_pf_gather_personal(fr_pfedrec *p)
{
    if (fr_pf_ranks(p) <= 1)
        return FR_OK;
    size_t d = p->m->dim, per = (d + 1) * sizeof(float), n = 0;
    for (size_t u = 0; u < p->m->n_users; u++)
        n += fr_pf_owner(p, u) == fr_pf_rank(p);
    float *mine = malloc(n ? n * per : 1);
    size_t *counts = malloc((size_t)fr_pf_ranks(p) * sizeof *counts);
    if (!counts) { /* no collective entered: the program ends the job */
        free(mine);
        return fr_fail_nomem("score functions", (size_t)fr_pf_ranks(p) * sizeof *counts);
    }
    fr_status s = mine ? FR_OK : fr_fail_nomem("score functions", n * per);
    size_t j = 0;
    for (size_t u = 0; s == FR_OK && u < p->m->n_users; u++)
        if (fr_pf_owner(p, u) == fr_pf_rank(p)) {
            memcpy(mine + j * (d + 1), p->m->w + u * d, d * sizeof(float));
            mine[j * (d + 1) + d] = p->m->b[u];
            j++;
        }
    void *all = NULL;
    fr_status g = fr_comm_gather(fr_pf_comm(p), 0, mine, s == FR_OK ? n * per : 0, &all, counts);
    if (s == FR_OK)
        s = g;
    if (s == FR_OK && fr_pf_rank(p) == 0) {
        /* Rank r's users, in id order, one after another. */
        size_t *next = calloc((size_t)fr_pf_ranks(p), sizeof *next), *base = calloc((size_t)fr_pf_ranks(p), sizeof *base);
        if (!next || !base)
            s = fr_fail_nomem("score functions", (size_t)fr_pf_ranks(p) * 16);
        for (int r = 1; s == FR_OK && r < fr_pf_ranks(p); r++)
            base[r] = base[r - 1] + counts[r - 1] / per;
        for (size_t u = 0; s == FR_OK && u < p->m->n_users; u++) {
            int r = fr_pf_owner(p, u);
            if (next[r] * per >= counts[r]) {
                s = fr_fail(FR_ERR_COMM, "rank %d sent %zu score functions, fewer than it owns", r, counts[r] / per);
                break;
            }
            const float *f = (const float *)all + (base[r] + next[r]++) * (d + 1);
            memcpy(p->m->w + u * d, f, d * sizeof(float));
            p->m->b[u] = f[d];
        }
        free(next);
        free(base);
    }
    free(all);
    free(mine);
    free(counts);
    return fr_comm_agree(fr_pf_comm(p), s);
}

fr_status fr_pf_broadcast_state(fr_pfedrec *p, unsigned *rounds_done, double *extra, size_t n_extra)
{
    if (fr_pf_ranks(p) <= 1)
        return FR_OK;
    size_t nu = p->m->n_users, d = p->m->dim;
    struct {
        void *data;
        size_t bytes;
    } parts[] = {
        {p->m->items, p->m->n_items * d * sizeof(float)}, {p->m->w, nu * d * sizeof(float)},
        {p->m->b, nu * sizeof(float)},                 {p->m->val_hr, nu * sizeof(double)},
        {p->m->val_ndcg, nu * sizeof(double)},         {p->m->test_hr, nu * sizeof(double)},
        {p->m->test_ndcg, nu * sizeof(double)},        {p->m->shared, p->m->n_shared * sizeof(float)},
        {rounds_done, sizeof *rounds_done},         {extra, n_extra * sizeof *extra},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i].bytes)
            FR_TRY(fr_comm_bcast(fr_pf_comm(p), 0, parts[i].data, parts[i].bytes));
    return FR_OK;
}

/* ---- several ranks: each user's part from the rank that trained it ---------- */

/* This rank's users' parts of m, in user order: w (dim floats), b, the
 * row count (a uint32), the rows' items (int32) and values (floats). */
static fr_status pack_own(const fr_pfedrec *p, const fr_pfedrec_model *m, unsigned char **out, size_t *bytes)
{
    size_t d = m->dim, total = 0;
    for (size_t u = 0; u < m->n_users; u++)
        if (fr_pf_owner(p, u) == fr_pf_rank(p)) {
            size_t n = m->personal_start ? m->personal_start[u + 1] - m->personal_start[u] : 0;
            total += (d + 1) * sizeof(float) + sizeof(uint32_t) + n * (sizeof(int32_t) + d * sizeof(float));
        }
    unsigned char *buf = malloc(total ? total : 1), *at = buf;
    if (!buf)
        return fr_fail_nomem("personal models to gather", total);
    for (size_t u = 0; u < m->n_users; u++) {
        if (fr_pf_owner(p, u) != fr_pf_rank(p))
            continue;
        size_t first = m->personal_start ? m->personal_start[u] : 0;
        uint32_t n = m->personal_start ? (uint32_t)(m->personal_start[u + 1] - first) : 0;
        memcpy(at, m->w + u * d, d * sizeof(float));
        at += d * sizeof(float);
        memcpy(at, m->b + u, sizeof(float));
        at += sizeof(float);
        memcpy(at, &n, sizeof n);
        at += sizeof n;
        if (n) {
            memcpy(at, m->personal_items + first, n * sizeof(int32_t));
            at += n * sizeof(int32_t);
            memcpy(at, m->personal_rows + first * d, (size_t)n * d * sizeof(float));
            at += (size_t)n * d * sizeof(float);
        }
    }
    *out = buf;
    *bytes = total;
    return FR_OK;
}

/* Rank 0: every user's part from its rank's chunk of all (counts bytes
 * each, in rank order) into m. */
static fr_status unpack_all(const fr_pfedrec *p, fr_pfedrec_model *m, const unsigned char *all, const size_t *counts)
{
    size_t d = m->dim, nu = m->n_users, ranks = (size_t)fr_pf_ranks(p);
    const unsigned char **at = malloc(ranks * sizeof *at), **end = malloc(ranks * sizeof *end);
    if (!at || !end) {
        free(at);
        free(end);
        return fr_fail_nomem("gathered models", ranks * 2 * sizeof *at);
    }
    const unsigned char *base = all;
    for (size_t r = 0; r < ranks; r++) {
        at[r] = base;
        end[r] = base + counts[r];
        base += counts[r];
    }
    /* First pass: the sizes; second: the values. */
    fr_status s = FR_OK;
    size_t total = 0;
    const unsigned char **cursor = malloc(ranks * sizeof *cursor);
    if (!cursor)
        s = fr_fail_nomem("gathered models", ranks * sizeof *cursor);
    for (int pass = 0; s == FR_OK && pass < 2; pass++) {
        memcpy(cursor, at, ranks * sizeof *cursor);
        if (pass == 1 && m->personal_start) {
            size_t cap_items = m->personal_cap, cap_rows = m->personal_cap;
            s = fr_pf_grow((void **)&m->personal_items, &cap_items, total, sizeof *m->personal_items);
            if (s == FR_OK)
                s = fr_pf_grow((void **)&m->personal_rows, &cap_rows, total * d, sizeof *m->personal_rows);
            if (s == FR_OK && total > m->personal_cap)
                m->personal_cap = total;
            total = 0;
        }
        for (size_t u = 0; s == FR_OK && u < nu; u++) {
            size_t r = (size_t)fr_pf_owner(p, u);
            const unsigned char *c = cursor[r];
            uint32_t n;
            size_t head = (d + 1) * sizeof(float) + sizeof n;
            if ((size_t)(end[r] - c) < head) {
                s = fr_fail(FR_ERR_COMM, "rank %zu sent fewer personal models than it owns", r);
                break;
            }
            memcpy(&n, c + (d + 1) * sizeof(float), sizeof n);
            size_t rest = (size_t)n * (sizeof(int32_t) + d * sizeof(float));
            if ((size_t)(end[r] - c) - head < rest || (n && !m->personal_start)) {
                s = fr_fail(FR_ERR_COMM, "rank %zu sent a damaged personal model of user %zu", r, u);
                break;
            }
            if (pass == 1) {
                memcpy(m->w + u * d, c, d * sizeof(float));
                memcpy(m->b + u, c + d * sizeof(float), sizeof(float));
                if (m->personal_start) {
                    m->personal_start[u] = total;
                    memcpy(m->personal_items + total, c + head, n * sizeof(int32_t));
                    memcpy(m->personal_rows + total * d, c + head + n * sizeof(int32_t),
                           (size_t)n * d * sizeof(float));
                }
            }
            total += n;
            cursor[r] = c + head + rest;
        }
    }
    if (s == FR_OK && m->personal_start)
        m->personal_start[nu] = total;
    free(cursor);
    free(at);
    free(end);
    return s;
}

fr_status fr_pfedrec_model_gather(fr_pfedrec *p, fr_pfedrec_model *m)
{
    if (fr_pf_ranks(p) <= 1)
        return FR_OK;
    size_t *counts = malloc((size_t)fr_pf_ranks(p) * sizeof *counts);
    if (!counts) /* no collective entered: the program ends the job */
        return fr_fail_nomem("gather counts", (size_t)fr_pf_ranks(p) * sizeof *counts);
    unsigned char *mine = NULL;
    size_t bytes = 0;
    fr_status s = pack_own(p, m, &mine, &bytes);
    /* Every rank enters the gather (a failed rank with nothing to send),
     * then the verdict is shared. */
    void *all = NULL;
    fr_status g = fr_comm_gather(fr_pf_comm(p), 0, mine, s == FR_OK ? bytes : 0, &all, counts);
    if (s == FR_OK)
        s = g;
    if (s == FR_OK && fr_pf_rank(p) == 0)
        s = unpack_all(p, m, all, counts);
    free(all);
    free(mine);
    free(counts);
    return fr_comm_agree(fr_pf_comm(p), s);
}
