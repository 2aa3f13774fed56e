/* fed_clients_ranks.c — a multi-rank round over per-client state
 * (fed_clients.c): every rank gets, from the rank that runs it, each
 * sampled client's record — its mean loss, whether it was late, whether it
 * trained, its samples — and its trained vector, so that every rank screens
 * and combines the same vectors in client order (each rank keeps every
 * client's state). A block per client, fixed size (the widest vector),
 * tagged with the client's place in the sample and placed by it: arrival
 * order never matters. The same exchange of fixed-size blocks serves a
 * job's own per-client exchanges between rounds (fr_fed_exchange_blocks:
 * evaluation figures, checkpoints), placed as the rounds place clients. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fed/fed_internal.h"

/* Block: tag (sample index; the exchange writes it), loss, late and
 * trained (int32 each), samples, then the vector. */
#define BLOCK_HEAD 32

/* Allgather of fixed-size blocks (`each` bytes, the item's index as a
 * uint64 first) of n items, item i being client client_of[i] (NULL: i):
 * fill(ctx, i, block) for each item whose client this rank runs,
 * place(ctx, i, block) for every item's block of every rank (collective,
 * agreed). */
static fr_status allgather_items(fr_fed *p, size_t n, const int32_t *client_of, size_t each,
                                 void (*fill)(void *ctx, size_t i, char *block),
                                 fr_status (*place)(void *ctx, size_t i, const char *block), void *ctx)
{
    size_t mine = 0;
    for (size_t i = 0; i < n; i++)
        mine += fr_fed_owner(p, client_of ? (size_t)client_of[i] : i) == p->rank;
    char *buf = calloc(mine ? mine : 1, each);
    size_t *counts = malloc((size_t)p->ranks * sizeof *counts);
    if (!buf || !counts) { /* no collective entered: the program ends the job */
        free(buf);
        free(counts);
        return fr_fail_nomem("client exchange", mine * each);
    }
    for (size_t i = 0, j = 0; i < n; i++)
        if (fr_fed_owner(p, client_of ? (size_t)client_of[i] : i) == p->rank) {
            uint64_t tag = i;
            memcpy(buf + j * each, &tag, sizeof tag);
            fill(ctx, i, buf + j * each);
            j++;
        }
    void *all = NULL;
    fr_status s = fr_comm_allgather(p->comm, buf, mine * each, &all, counts);
    size_t total = 0;
    for (int r = 0; s == FR_OK && r < p->ranks; r++)
        total += counts[r];
    if (s == FR_OK && total != n * each)
        s = fr_fail(FR_ERR_COMM, "the ranks sent %zu bytes of client data, expected %zu (ranks configured differently?)",
                    total, n * each);
    for (size_t at = 0; s == FR_OK && at < total; at += each) {
        uint64_t tag;
        memcpy(&tag, (const char *)all + at, sizeof tag);
        s = tag < n ? place(ctx, (size_t)tag, (const char *)all + at)
                    : fr_fail(FR_ERR_COMM, "a rank sent data of client %llu of %zu (ranks out of step?)",
                              (unsigned long long)tag, n);
    }
    free(all);
    free(buf);
    free(counts);
    return fr_comm_agree(p->comm, s);
}

static void fill_block(void *ctx, size_t k, char *block)
{
    const fr_fed *p = ctx;
    const fr_fed_upload *o = &p->outs[k];
    uint64_t samples = o->samples;
    int32_t late = o->late, trained = o->trained;
    memcpy(block + 8, &o->loss_sum, sizeof(double));
    memcpy(block + 16, &late, sizeof late);
    memcpy(block + 20, &trained, sizeof trained);
    memcpy(block + 24, &samples, sizeof samples);
    if (o->trained) /* an untrained client's vector is never read */
        memcpy(block + BLOCK_HEAD, o->values, p->st.client_n[p->sampled[k]] * sizeof(float));
}

static fr_status place_block(void *ctx, size_t k, const char *block)
{
    fr_fed *p = ctx;
    fr_fed_upload *o = &p->outs[k];
    uint64_t samples;
    int32_t late, trained;
    memcpy(&o->loss_sum, block + 8, sizeof(double));
    memcpy(&late, block + 16, sizeof late);
    memcpy(&trained, block + 20, sizeof trained);
    memcpy(&samples, block + 24, sizeof samples);
    o->late = late;
    o->trained = trained;
    o->samples = (size_t)samples;
    memcpy(o->values, block + BLOCK_HEAD, p->st.client_n[p->sampled[k]] * sizeof(float));
    return FR_OK;
}

fr_status fr_fed_exchange_clients(fr_fed *p, fr_status local)
{
    FR_TRY(fr_comm_agree(p->comm, local));
    size_t widest = 0;
    for (size_t c = 0; c < p->n_clients; c++)
        if (p->st.client_n[c] > widest)
            widest = p->st.client_n[c];
    return allgather_items(p, p->n_sampled, p->sampled, BLOCK_HEAD + widest * sizeof(float), fill_block,
                           place_block, p);
}

fr_status fr_fed_exchange_blocks(fr_fed *p, size_t each, void (*fill)(void *ctx, size_t c, char *block),
                                 fr_status (*place)(void *ctx, size_t c, const char *block), void *ctx)
{
    return allgather_items(p, p->n_clients, NULL, each, fill, place, ctx);
}
