/* fed_clients_ranks.c — a multi-rank round over per-client state
 * (fed_clients.c): every rank gets, from the rank that runs it, each
 * sampled client's record — its mean loss, whether it was late, whether it
 * trained, its samples — and its trained vector, so that every rank screens
 * and combines the same vectors in client order (each rank keeps every
 * client's state). A block per client, fixed size (the widest vector),
 * tagged with the client's place in the sample and placed by it: arrival
 * order never matters. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"

/* Block: tag (sample index), loss, late and trained (int32 each), samples,
 * then the vector. */
#define BLOCK_HEAD 32

static void fill_block(const fr_fed *p, size_t k, char *block)
{
    const fr_fed_upload *o = &p->outs[k];
    uint64_t tag = k, samples = o->samples;
    int32_t late = o->late, trained = o->trained;
    memcpy(block, &tag, sizeof tag);
    memcpy(block + 8, &o->loss_sum, sizeof(double));
    memcpy(block + 16, &late, sizeof late);
    memcpy(block + 20, &trained, sizeof trained);
    memcpy(block + 24, &samples, sizeof samples);
    if (o->trained) /* an untrained client's vector is never read */
        memcpy(block + BLOCK_HEAD, o->values, p->st.client_n[p->sampled[k]] * sizeof(float));
}

static fr_status place_block(fr_fed *p, const char *block)
{
    uint64_t tag, samples;
    int32_t late, trained;
    memcpy(&tag, block, sizeof tag);
    if (tag >= p->n_sampled)
        return fr_fail(FR_ERR_COMM, "a rank sent the vector of client %llu of a %zu-client round (ranks out of step?)",
                       (unsigned long long)tag, p->n_sampled);
    fr_fed_upload *o = &p->outs[tag];
    memcpy(&o->loss_sum, block + 8, sizeof(double));
    memcpy(&late, block + 16, sizeof late);
    memcpy(&trained, block + 20, sizeof trained);
    memcpy(&samples, block + 24, sizeof samples);
    o->late = late;
    o->trained = trained;
    o->samples = (size_t)samples;
    memcpy(o->values, block + BLOCK_HEAD, p->st.client_n[p->sampled[tag]] * sizeof(float));
    return FR_OK;
}

fr_status fr_fed_exchange_clients(fr_fed *p, fr_status local)
{
    FR_TRY(fr_comm_agree(p->comm, local));
    size_t widest = 0, mine = 0;
    for (size_t c = 0; c < p->n_clients; c++)
        if (p->st.client_n[c] > widest)
            widest = p->st.client_n[c];
    for (size_t k = 0; k < p->n_sampled; k++)
        mine += fr_fed_owner(p, (size_t)p->sampled[k]) == p->rank;
    size_t each = BLOCK_HEAD + widest * sizeof(float);
    char *buf = calloc(mine ? mine : 1, each);
    size_t *counts = malloc((size_t)p->ranks * sizeof *counts);
    if (!buf || !counts) { /* no collective entered: the program ends the job */
        free(buf);
        free(counts);
        return fr_fail_nomem("client vectors", mine * each);
    }
    for (size_t k = 0, j = 0; k < p->n_sampled; k++)
        if (fr_fed_owner(p, (size_t)p->sampled[k]) == p->rank)
            fill_block(p, k, buf + j++ * each);
    void *all = NULL;
    fr_status s = fr_comm_allgather(p->comm, buf, mine * each, &all, counts);
    size_t total = 0;
    for (int r = 0; s == FR_OK && r < p->ranks; r++)
        total += counts[r];
    if (s == FR_OK && total != p->n_sampled * each)
        s = fr_fail(FR_ERR_COMM, "the ranks sent %zu bytes of client vectors, expected %zu (ranks configured differently?)",
                    total, p->n_sampled * each);
    for (size_t at = 0; s == FR_OK && at < total; at += each)
        s = place_block(p, (const char *)all + at);
    free(all);
    free(buf);
    free(counts);
    return fr_comm_agree(p->comm, s);
}
