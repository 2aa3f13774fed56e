/* ops_embedding.c — embedding gather and scatter-add on host pointers.
 * Gather splits the output rows into ranges. Scatter-add must sum repeated
 * ids in index order to be deterministic, so threads split it by owner: a
 * task adds the rows whose id it owns, walking the whole index list in
 * order (cheap next to the adds), and never writes another task's row. */
#include <string.h>

#include "backend/cpu/cpu_ops.h"

typedef struct emb_args {
    size_t n_idx, dim;
    const float *src;
    const int32_t *idx;
    float *dst;
} emb_args;

static void gather_range(void *p, size_t i0, size_t i1)
{
    const emb_args *o = p;
    for (size_t i = i0; i < i1; i++)
        memcpy(o->dst + i * o->dim, o->src + (size_t)o->idx[i] * o->dim, o->dim * sizeof(float));
}

void fr_cpu_embedding_gather(fr_cpu_engine *e, size_t n_idx, size_t dim, const float *table,
                             const int32_t *idx, float *out)
{
    emb_args o = {n_idx, dim, table, idx, out};
    fr_cpu_ops_ranges(e, n_idx, dim, FR_CPU_GRAIN_COPY, gather_range, &o);
}

static void scatter_owner(void *p, size_t task, size_t tasks)
{
    const emb_args *o = p;
    for (size_t i = 0; i < o->n_idx; i++) {
        size_t id = (size_t)o->idx[i];
        if (id % tasks != task)
            continue;
        float *row = o->dst + id * o->dim;
        const float *g = o->src + i * o->dim;
        for (size_t d = 0; d < o->dim; d++)
            row[d] += g[d];
    }
}

void fr_cpu_embedding_scatter_add(fr_cpu_engine *e, size_t n_idx, size_t dim, const float *dout,
                                  const int32_t *idx, float *dtable)
{
    emb_args o = {n_idx, dim, dout, idx, dtable};
    size_t work = dim && n_idx > (size_t)-1 / dim ? (size_t)-1 : n_idx * dim;
    fr_cpu_ops_owners(e, work, FR_CPU_GRAIN_LIGHT, scatter_owner, &o);
}
