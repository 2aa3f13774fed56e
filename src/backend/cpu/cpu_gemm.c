/* cpu_gemm.c — packed, blocked, multi-threaded SGEMM (GotoBLAS/BLIS shape).
 *
 *   for each NC-wide column block of B and C
 *     for each KC-deep slice of K: pack B[KC x NC] into NR-wide panels
 *       for each MC-tall row block of A (one task per block and thread):
 *         pack A[MC x KC] into MR-tall panels, then run the micro-kernel
 *         over every MR x NR tile of C, accumulating alpha * A*B.
 *
 * Packing copies the operands into the exact order the micro-kernel reads,
 * handling both transposes and zero-padding partial panels, so the kernel
 * never sees a stride or an edge. Tiles at the right and bottom edges are
 * computed into a small scratch tile and added to C.
 *
 * Determinism: every element of C receives its K-slices in the same order
 * and each slice's sum in the same order whatever the number of threads;
 * threads only split rows (and columns) of C. So results are bit-identical
 * for any thread count. beta is applied once up front (beta == 0 stores
 * zeros without reading C, so NaN in C does not propagate). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_kernels.h"

/* KC, MC and NC come from the path's kernel table (tuned per path). */
#define MAX_MR FR_GEMM_MAX_MR
#define MAX_NR FR_GEMM_MAX_NR

typedef struct gemm_args {
    const fr_cpu_kernels *k;
    fr_transpose ta, tb;
    size_t m, n, kk;
    float alpha;
    const float *a, *b;
    size_t lda, ldb;
    float *c;
    size_t ldc;
} gemm_args;

/* Element (i, p) of op(A) and (p, j) of op(B). */
static inline float a_at(const gemm_args *g, size_t i, size_t p)
{
    return g->ta == FR_NO_TRANS ? g->a[i * g->lda + p] : g->a[p * g->lda + i];
}

/* Pack rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels. */
static void pack_a(const gemm_args *g, size_t i0, size_t mc, size_t p0,
                   size_t kc, float *dst)
{
    size_t mr = g->k->mr;
    for (size_t ir = 0; ir < mc; ir += mr) {
        size_t rows = mc - ir < mr ? mc - ir : mr;
        if (g->ta == FR_NO_TRANS) {
            for (size_t p = 0; p < kc; p++) {
                size_t i = 0;
                for (; i < rows; i++)
                    dst[p * mr + i] = g->a[(i0 + ir + i) * g->lda + p0 + p];
                for (; i < mr; i++)
                    dst[p * mr + i] = 0.0f;
            }
        } else {
            for (size_t p = 0; p < kc; p++) {
                const float *src = g->a + (p0 + p) * g->lda + i0 + ir;
                size_t i = 0;
                for (; i < rows; i++)
                    dst[p * mr + i] = src[i];
                for (; i < mr; i++)
                    dst[p * mr + i] = 0.0f;
            }
        }
        dst += kc * mr;
    }
}

/* Pack rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column panels. */
static void pack_b(const gemm_args *g, size_t p0, size_t kc, size_t j0,
                   size_t nc, float *dst)
{
    size_t nr = g->k->nr;
    for (size_t jr = 0; jr < nc; jr += nr) {
        size_t cols = nc - jr < nr ? nc - jr : nr;
        for (size_t p = 0; p < kc; p++) {
            float *d = dst + p * nr;
            size_t j = 0;
            if (g->tb == FR_NO_TRANS) {
                const float *src = g->b + (p0 + p) * g->ldb + j0 + jr;
                for (; j < cols; j++)
                    d[j] = src[j];
            } else {
                for (; j < cols; j++)
                    d[j] = g->b[(j0 + jr + j) * g->ldb + p0 + p];
            }
            for (; j < nr; j++)
                d[j] = 0.0f;
        }
        dst += kc * nr;
    }
}

typedef struct block_job {
    const gemm_args *g;
    const float *bpack;   /* packed B slice: kc x nc */
    size_t p0, kc, j0, nc;
    size_t mc;            /* rows per task */
    size_t n_row_tasks, n_col_tasks, cols_per_task; /* cols in NR units */
    float **apack;        /* one A buffer per task slot */
} block_job;

static void run_block(void *arg, size_t task)
{
    const block_job *job = arg;
    const gemm_args *g = job->g;
    const fr_cpu_kernels *k = g->k;
    size_t mr = k->mr, nr = k->nr;
    size_t row_task = task / job->n_col_tasks, col_task = task % job->n_col_tasks;
    size_t i0 = row_task * job->mc;
    if (i0 >= g->m)
        return;
    size_t mc = g->m - i0 < job->mc ? g->m - i0 : job->mc;
    size_t jr_begin = col_task * job->cols_per_task * nr;
    size_t jr_end = jr_begin + job->cols_per_task * nr;
    if (jr_end > job->nc)
        jr_end = job->nc;
    if (jr_begin >= jr_end)
        return;
    float *apack = job->apack[task];
    pack_a(g, i0, mc, job->p0, job->kc, apack);
    float tile[MAX_MR * MAX_NR];
    for (size_t jr = jr_begin; jr < jr_end; jr += nr) {
        size_t cols = job->nc - jr < nr ? job->nc - jr : nr;
        const float *bp = job->bpack + (jr / nr) * job->kc * nr;
        for (size_t ir = 0; ir < mc; ir += mr) {
            size_t rows = mc - ir < mr ? mc - ir : mr;
            const float *ap = apack + (ir / mr) * job->kc * mr;
            float *c = g->c + (i0 + ir) * g->ldc + job->j0 + jr;
            if (rows == mr && cols == nr) {
                k->gemm_micro(job->kc, ap, bp, c, g->ldc, g->alpha);
            } else {
                memset(tile, 0, sizeof(float) * mr * nr);
                k->gemm_micro(job->kc, ap, bp, tile, nr, g->alpha);
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < cols; j++)
                        c[i * g->ldc + j] += tile[i * nr + j];
            }
        }
    }
}

static void *aligned_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* Scale C by beta once, so the kernels only accumulate. */
static void apply_beta(size_t m, size_t n, float beta, float *c, size_t ldc)
{
    if (beta == 1.0f)
        return;
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, n * sizeof *row);
        else
            for (size_t j = 0; j < n; j++)
                row[j] *= beta;
    }
}

/* Small products: packing costs more than it saves. A plain loop nest in a
 * fixed k order (deterministic, thread-free). */
static void gemm_small(const gemm_args *g)
{
    for (size_t i = 0; i < g->m; i++) {
        float *crow = g->c + i * g->ldc;
        for (size_t p = 0; p < g->kk; p++) {
            float av = g->alpha * a_at(g, i, p);
            if (g->tb == FR_NO_TRANS) {
                const float *brow = g->b + p * g->ldb;
                for (size_t j = 0; j < g->n; j++)
                    crow[j] += av * brow[j];
            } else {
                for (size_t j = 0; j < g->n; j++)
                    crow[j] += av * g->b[j * g->ldb + p];
            }
        }
    }
}

void fr_cpu_sgemm(fr_cpu_engine *e, fr_transpose ta, fr_transpose tb,
                  size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb,
                  float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    apply_beta(m, n, beta, c, ldc);
    if (k == 0 || alpha == 0.0f)
        return;
    const fr_cpu_kernels *kern = fr_cpu_engine_kernels(e);
    /* Narrow products use the path's narrow block when it has one: the
     * choice depends on the shape only, never on the thread count. */
    fr_cpu_kernels narrow;
    if (kern->nr_narrow && n <= kern->nr_narrow) {
        narrow = *kern;
        narrow.nr = kern->nr_narrow;
        narrow.gemm_micro = kern->gemm_micro_narrow;
        kern = &narrow;
    }
    gemm_args g = {kern, ta, tb, m, n, k, alpha, a, b, lda, ldb, c, ldc};
    if (m * n * k <= 8 * 8 * 8 || m < 2 || n < 4) {
        gemm_small(&g);
        return;
    }
    size_t mr = g.k->mr, nr = g.k->nr;
    const size_t kc_blk = g.k->kc, nc_blk = g.k->nc;
    /* Small products finish before extra threads would pay for waking. */
    int threads = m * n * k < (1u << 21) ? 1 : fr_cpu_engine_threads(e);
    /* Rows per task: the path's MC, or fewer so every thread gets work. */
    size_t mc = g.k->mc / mr * mr;
    size_t per_thread = (m + (size_t)threads - 1) / (size_t)threads;
    per_thread = (per_thread + mr - 1) / mr * mr;
    if (per_thread < mc)
        mc = per_thread;
    size_t n_row_tasks = (m + mc - 1) / mc;
    size_t nc_max = n < nc_blk ? n : nc_blk;
    size_t kc_max = k < kc_blk ? k : kc_blk;
    size_t panels_max = (nc_max + nr - 1) / nr;
    /* When rows alone cannot feed the threads, split the columns too. */
    size_t n_col_tasks = 1;
    if (n_row_tasks < (size_t)threads)
        n_col_tasks = (size_t)threads / n_row_tasks;
    if (n_col_tasks > panels_max)
        n_col_tasks = panels_max;
    size_t n_tasks = n_row_tasks * n_col_tasks;

    float *bpack = aligned_floats(kc_max * panels_max * nr);
    float **apack = calloc(n_tasks, sizeof *apack);
    int ok = bpack && apack;
    for (size_t t = 0; ok && t < n_tasks; t++)
        ok = (apack[t] = aligned_floats(kc_max * ((mc + mr - 1) / mr) * mr)) != NULL;
    if (!ok) {
        /* Out of memory for packing: the unpacked loop still gives the
         * right answer, only slower. */
        gemm_small(&g);
    } else {
        for (size_t j0 = 0; j0 < n; j0 += nc_blk) {
            size_t nc = n - j0 < nc_blk ? n - j0 : nc_blk;
            size_t panels = (nc + nr - 1) / nr;
            size_t col_tasks = n_col_tasks < panels ? n_col_tasks : panels;
            for (size_t p0 = 0; p0 < k; p0 += kc_blk) {
                size_t kc = k - p0 < kc_blk ? k - p0 : kc_blk;
                pack_b(&g, p0, kc, j0, nc, bpack);
                block_job job = {&g, bpack, p0, kc, j0, nc, mc, n_row_tasks,
                                 col_tasks, (panels + col_tasks - 1) / col_tasks, apack};
                if (threads == 1)
                    for (size_t t = 0; t < n_row_tasks * col_tasks; t++)
                        run_block(&job, t);
                else
                    fr_cpu_parallel_for(e, n_row_tasks * col_tasks, run_block, &job);
            }
        }
    }
    if (apack)
        for (size_t t = 0; t < n_tasks; t++)
            free(apack[t]);
    free(apack);
    free(bpack);
}

typedef struct batch_job {
    fr_transpose ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    size_t lda, ldb, ldc, sa, sb, sc;
    fr_cpu_engine *e;
} batch_job;

static void run_batch_item(void *arg, size_t i)
{
    const batch_job *j = arg;
    /* Each item runs single-threaded on the calling worker: the engine's
     * pool is busy with the batch itself. */
    gemm_args g = {fr_cpu_engine_kernels(j->e), j->ta, j->tb, j->m, j->n, j->k, j->alpha,
                   j->a + i * j->sa, j->b + i * j->sb, j->lda, j->ldb, j->c + i * j->sc, j->ldc};
    apply_beta(j->m, j->n, j->beta, g.c, j->ldc);
    if (j->k && j->alpha != 0.0f)
        gemm_small(&g);
}

void fr_cpu_sgemm_strided_batched(fr_cpu_engine *e, fr_transpose ta,
                                  fr_transpose tb, size_t m, size_t n,
                                  size_t k, float alpha,
                                  const float *a, size_t lda, size_t stride_a,
                                  const float *b, size_t ldb, size_t stride_b,
                                  float beta,
                                  float *c, size_t ldc, size_t stride_c,
                                  size_t batch)
{
    /* Small matrices in a batch (experts, towers): one task per matrix with
     * the unpacked loop. Large ones: each through the blocked GEMM, which
     * threads internally. The loop nest and the blocked kernel round
     * differently, so the choice depends only on the shape, never on the
     * thread count. */
    if (m * n * k <= 64 * 64 * 64) {
        batch_job j = {ta, tb, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc,
                       stride_a, stride_b, stride_c, e};
        fr_cpu_parallel_for(e, batch, run_batch_item, &j);
        return;
    }
    for (size_t i = 0; i < batch; i++)
        fr_cpu_sgemm(e, ta, tb, m, n, k, alpha, a + i * stride_a, lda,
                     b + i * stride_b, ldb, beta, c + i * stride_c, ldc);
}
