/* cpu_gemm.c — row-major SGEMM: packed, cache-blocked, multi-threaded
 * (the GotoBLAS / BLIS structure), with the arithmetic in the ISA path's
 * micro-kernels (cpu_kernels.h).
 *
 *   for each block of nc columns of C, and each run of K slices (all of K
 *   unless that would make packed B larger than B_BLOCK_MAX_FLOATS):
 *     pack op(B)[run, block] into nr-wide panels, in kc-deep slices
 *     for each task = (mc rows of C) x (a group of B panels), in parallel:
 *       for each K slice of the run, in order:
 *         pack op(A)[rows, slice] into mr-tall panels (or read A in place)
 *         for each B panel: for each mr-row panel: micro-kernel on the
 *           mr x nr tile of C, C = alpha * A*B + (first slice ? beta : 1) * C
 *
 * Packing puts both operands in the exact order the kernel reads them and
 * handles the transposes, so the kernel never sees a stride on B or an
 * edge. A row block that serves few B panels (narrow C: the common case
 * in models, batch x 16..512) is not packed: the kernel reads A in place
 * through its (rs_a, cs_a) strides, since packing it would cost about as
 * much as the arithmetic it feeds. A transposed A is always packed: in
 * place, each k step would read mr floats from a row lda apart from the
 * last (weight gradients x^T dy: 256 x 128 x 2048 with lda 2048 ran at
 * 106 GFLOP/s in place, 191 packed; 288 x 8 x 2048 at 30 and 36). Partial tiles at the right and bottom
 * edges run on a copy of C in a small tile buffer.
 *
 * Determinism: each element of C gets its K slices in increasing order and
 * each slice summed in increasing k by the kernel, whatever the thread
 * count or the split of C into tasks, and threads never split K. The shape
 * alone picks the kernel, the slices, and the small-shape paths, so
 * results are bit-identical for any number of threads, and a strided
 * batch equals the same GEMMs called one by one. */
#include <string.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_gemm_impl.h"
#include "backend/cpu/cpu_kernels.h"

/* Below this many multiply-adds a GEMM runs on one thread: splitting it
 * costs more than it saves (measured on 2 cores: 128 x 128 x 64 gains
 * from 2 threads, 128 x 64 x 64 and smaller lose). */
#define THREAD_MIN_FMAS ((size_t)1 << 20)
/* Packed B (a run of K slices x nc columns) holds at most this many
 * floats, or one slice if that is larger: 8 MiB, in the shared L3. */
#define B_BLOCK_MAX_FLOATS ((size_t)2 << 20)
/* A row block is packed when it serves more B panels than this; with
 * fewer, the kernel reads A in place. Measured with AVX-512 on Zen 4:
 * reading in place wins up to 8..16 panels (256 x 256 x 256: 108 against
 * 102 GFLOP/s), packing wins from 32 (2048 x 1024 x 1024: 102 against 93). */
#define PACK_A_MIN_PANELS 16
/* B is packed by several threads when it is at least this big. */
#define PARALLEL_PACK_MIN_FLOATS ((size_t)32 << 10)

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

static size_t round_up(size_t a, size_t b)
{
    return ceil_div(a, b) * b;
}

/* ---- planning ------------------------------------------------------------ */

/* Fix everything that depends on the shape only (kernel, K slices, column
 * blocks), and the row split, which may also depend on the thread count. */
static void plan_gemm(gemm_plan *pl, const fr_cpu_kernels *ks, int threads)
{
    pl->kern = ks->narrow.micro && pl->n <= ks->narrow.nr ? ks->narrow : ks->gemm;
    size_t mr = pl->kern.mr, nr = pl->kern.nr;
    /* K slices of (nearly) equal depth: k = 300 with kc = 256 is better
     * done as 150 + 150 than as 256 + 44. */
    pl->kc = ceil_div(pl->k, ceil_div(pl->k, ks->kc));
    /* Column blocks of (nearly) equal width, in whole panels. */
    pl->nc = round_up(ceil_div(pl->n, ceil_div(pl->n, ks->nc)), nr);
    /* K slices per packed B: as many as fit the budget, at least one. */
    size_t slices = B_BLOCK_MAX_FLOATS / pl->nc / pl->kc;
    pl->kb = slices < 1 ? pl->kc : slices * pl->kc;
    if (pl->kb > pl->k)
        pl->kb = pl->k;
    /* Rows per task: mc from the table, lowered so that the row blocks
     * come in a multiple of the thread count (even shares). */
    size_t blocks = ceil_div(pl->m, ks->mc);
    if (threads > 1)
        blocks = round_up(blocks, (size_t)threads);
    pl->mc = round_up(ceil_div(pl->m, blocks), mr);
    pl->threads = threads;
}

/* Bytes of scratch a task needs for A: the packed row block, or in
 * in-place mode one packed edge panel. */
static size_t a_scratch_bytes(const gemm_plan *pl)
{
    return (round_up(pl->mc, pl->kern.mr) + pl->kern.mr) * pl->kc * sizeof(float);
}

static size_t b_scratch_bytes(const gemm_plan *pl)
{
    return pl->kb * pl->nc * sizeof(float);
}

/* ---- one column block ------------------------------------------------------ */

typedef struct col_block {
    const gemm_plan *pl;
    fr_cpu_engine *e;
    size_t j0, ncols;         /* columns [j0, j0 + ncols) of C */
    size_t pb, pe;            /* the run of K slices: [pb, pe) */
    size_t panels;            /* ceil(ncols / nr) */
    float *bpack;             /* slice at p0: bpack + (p0 - pb) * panels * nr */
    size_t row_tasks, col_groups, panels_per_group;
    size_t pack_tasks;
} col_block;

static void pack_b_task(void *arg, size_t task, int slot)
{
    (void)slot;
    const col_block *cb = arg;
    const gemm_plan *pl = cb->pl;
    size_t nr = pl->kern.nr, per = ceil_div(cb->panels, cb->pack_tasks);
    size_t jp0 = task * per, jp1 = jp0 + per < cb->panels ? jp0 + per : cb->panels;
    for (size_t p0 = cb->pb; p0 < cb->pe; p0 += pl->kc) {
        size_t kcs = cb->pe - p0 < pl->kc ? cb->pe - p0 : pl->kc;
        float *slice = cb->bpack + (p0 - cb->pb) * cb->panels * nr;
        for (size_t jp = jp0; jp < jp1; jp++) {
            size_t cols = cb->ncols - jp * nr < nr ? cb->ncols - jp * nr : nr;
            fr_gemm_pack_b(pl, p0, kcs, cb->j0 + jp * nr, cols, slice + jp * kcs * nr);
        }
    }
}

/* One mr x nr tile of C at c, of which rows x cols lie inside C. */
static void run_tile(const gemm_plan *pl, size_t kcs, const float *ap, size_t rs,
                     size_t cs, const float *bp, float *c, size_t rows,
                     size_t cols, float beta)
{
    size_t mr = pl->kern.mr, nr = pl->kern.nr;
    if (rows == mr && cols == nr) {
        pl->kern.micro(kcs, ap, rs, cs, bp, c, pl->ldc, pl->alpha, beta);
        return;
    }
    /* Edge: run the full kernel on a copy, so the element formula (and
     * its rounding) is the same as inside. */
    _Alignas(64) float tile[FR_GEMM_MAX_MR * FR_GEMM_MAX_NR];
    if (beta != 0.0f) {
        memset(tile, 0, sizeof(float) * mr * nr);
        for (size_t i = 0; i < rows; i++)
            memcpy(tile + i * nr, c + i * pl->ldc, cols * sizeof(float));
    }
    pl->kern.micro(kcs, ap, rs, cs, bp, tile, nr, pl->alpha, beta);
    for (size_t i = 0; i < rows; i++)
        memcpy(c + i * pl->ldc, tile + i * nr, cols * sizeof(float));
}

static void compute_task(void *arg, size_t task, int slot)
{
    const col_block *cb = arg;
    const gemm_plan *pl = cb->pl;
    size_t mr = pl->kern.mr, nr = pl->kern.nr;
    size_t rb = task / cb->col_groups, cg = task % cb->col_groups;
    size_t i0 = rb * pl->mc;
    size_t jp0 = cg * cb->panels_per_group;
    if (i0 >= pl->m || jp0 >= cb->panels)
        return;
    size_t mrows = pl->m - i0 < pl->mc ? pl->m - i0 : pl->mc;
    size_t jp1 = jp0 + cb->panels_per_group;
    if (jp1 > cb->panels)
        jp1 = cb->panels;
    /* Sized by the caller beforehand: cannot fail here. */
    float *apack = fr_cpu_engine_scratch(cb->e, slot, 0, a_scratch_bytes(pl));
    int pack_a = jp1 - jp0 > PACK_A_MIN_PANELS || pl->ta == FR_TRANS; /* see the top */
    size_t full_rows = mrows / mr * mr;
    for (size_t p0 = cb->pb; p0 < cb->pe; p0 += pl->kc) {
        size_t kcs = cb->pe - p0 < pl->kc ? cb->pe - p0 : pl->kc;
        float beta = p0 == 0 ? pl->beta : 1.0f;
        const float *bslice = cb->bpack + (p0 - cb->pb) * cb->panels * nr;
        const float *edge = NULL; /* packed last panel when rows < mr */
        if (pack_a) {
            for (size_t ir = 0; ir < mrows; ir += mr)
                fr_gemm_pack_a(pl, i0 + ir, mrows - ir < mr ? mrows - ir : mr, p0, kcs,
                               apack + ir * kcs);
        } else if (full_rows < mrows) {
            fr_gemm_pack_a(pl, i0 + full_rows, mrows - full_rows, p0, kcs, apack);
            edge = apack;
        }
        for (size_t jp = jp0; jp < jp1; jp++) {
            size_t cols = cb->ncols - jp * nr < nr ? cb->ncols - jp * nr : nr;
            const float *bp = bslice + jp * kcs * nr;
            for (size_t ir = 0; ir < mrows; ir += mr) {
                size_t rows = mrows - ir < mr ? mrows - ir : mr;
                float *c = pl->c + (i0 + ir) * pl->ldc + cb->j0 + jp * nr;
                if (pack_a)
                    run_tile(pl, kcs, apack + ir * kcs, 1, mr, bp, c, rows, cols, beta);
                else if (rows < mr)
                    run_tile(pl, kcs, edge, 1, mr, bp, c, rows, cols, beta);
                else if (pl->ta == FR_NO_TRANS)
                    run_tile(pl, kcs, pl->a + (i0 + ir) * pl->lda + p0, pl->lda, 1, bp, c,
                             rows, cols, beta);
                else
                    run_tile(pl, kcs, pl->a + p0 * pl->lda + i0 + ir, 1, pl->lda, bp, c,
                             rows, cols, beta);
            }
        }
    }
}

/* Size every scratch buffer the plan will touch, before any task runs;
 * 0 if memory ran out. A threaded plan (only ever run from the calling
 * thread, slot 0) uses every slot's A buffer; a single-threaded one only
 * its own slot's. */
static int reserve_scratch(fr_cpu_engine *e, const gemm_plan *pl, int slot)
{
    int first = pl->threads > 1 ? 0 : slot, last = pl->threads > 1 ? pl->threads - 1 : slot;
    for (int s = first; s <= last; s++)
        if (!fr_cpu_engine_scratch(e, s, 0, a_scratch_bytes(pl)))
            return 0;
    return fr_cpu_engine_scratch(e, slot, 1, b_scratch_bytes(pl)) != NULL;
}

/* The blocked product. slot: the thread slot whose scratch this call uses
 * for B (and for A when single-threaded); pl->threads > 1 only from the
 * calling thread (slot 0). */
static void gemm_blocked(fr_cpu_engine *e, const gemm_plan *pl, int slot)
{
    size_t nr = pl->kern.nr;
    float *bpack = fr_cpu_engine_scratch(e, slot, 1, b_scratch_bytes(pl));
    for (size_t j0 = 0; j0 < pl->n; j0 += pl->nc) {
        for (size_t pb = 0; pb < pl->k; pb += pl->kb) {
            col_block cb;
            memset(&cb, 0, sizeof cb);
            cb.pl = pl;
            cb.e = e;
            cb.j0 = j0;
            cb.ncols = pl->n - j0 < pl->nc ? pl->n - j0 : pl->nc;
            cb.pb = pb;
            cb.pe = pl->k - pb < pl->kb ? pl->k : pb + pl->kb;
            cb.panels = ceil_div(cb.ncols, nr);
            cb.bpack = bpack;
            cb.row_tasks = ceil_div(pl->m, pl->mc);
            /* When the row blocks cannot feed every thread, split the
             * columns too. */
            cb.col_groups = 1;
            if (cb.row_tasks < (size_t)pl->threads)
                cb.col_groups = (size_t)pl->threads / cb.row_tasks;
            if (cb.col_groups > cb.panels)
                cb.col_groups = cb.panels;
            cb.panels_per_group = ceil_div(cb.panels, cb.col_groups);
            size_t tasks = cb.row_tasks * cb.col_groups;
            cb.pack_tasks = 1;
            if (pl->threads > 1 && (cb.pe - cb.pb) * cb.ncols >= PARALLEL_PACK_MIN_FLOATS)
                cb.pack_tasks = cb.panels < 4 * (size_t)pl->threads ? cb.panels
                                                                   : 4 * (size_t)pl->threads;
            if (pl->threads > 1) {
                fr_cpu_parallel_for_slot(e, cb.pack_tasks, pack_b_task, &cb);
                fr_cpu_parallel_for_slot(e, tasks, compute_task, &cb);
            } else {
                pack_b_task(&cb, 0, slot);
                for (size_t t = 0; t < tasks; t++)
                    compute_task(&cb, t, slot);
            }
        }
    }
}

/* C = beta * C, not reading C when beta == 0. */
static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
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

/* One GEMM with everything but threads decided. Returns after C is done. */
static void gemm_one(fr_cpu_engine *e, gemm_plan *pl, int slot, int threads)
{
    if (pl->m == 0 || pl->n == 0)
        return;
    if (pl->k == 0 || pl->alpha == 0.0f) {
        scale_c(pl->m, pl->n, pl->beta, pl->c, pl->ldc);
        return;
    }
    const fr_cpu_kernels *ks = fr_cpu_engine_kernels(e);
    if (fr_gemm_small(pl, ks))
        return;
    plan_gemm(pl, ks, pl->m * pl->n * pl->k < THREAD_MIN_FMAS ? 1 : threads);
    if (!reserve_scratch(e, pl, slot)) {
        /* No memory for packing: the loop nest gives the right answer
         * without any, only slower. */
        fr_gemm_naive(pl);
        return;
    }
    gemm_blocked(e, pl, slot);
}

static void init_plan(gemm_plan *pl, fr_transpose ta, fr_transpose tb, size_t m,
                      size_t n, size_t k, float alpha, const float *a, size_t lda,
                      const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    memset(pl, 0, sizeof *pl);
    pl->ta = ta;
    pl->tb = tb;
    pl->m = m;
    pl->n = n;
    pl->k = k;
    pl->alpha = alpha;
    pl->beta = beta;
    pl->a = a;
    pl->b = b;
    pl->c = c;
    pl->lda = lda;
    pl->ldb = ldb;
    pl->ldc = ldc;
}

void fr_cpu_sgemm(fr_cpu_engine *e, fr_transpose ta, fr_transpose tb,
                  size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb,
                  float beta, float *c, size_t ldc)
{
    gemm_plan pl;
    init_plan(&pl, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    gemm_one(e, &pl, 0, fr_cpu_engine_threads(e));
}

typedef struct batch_job {
    fr_cpu_engine *e;
    gemm_plan proto;
    size_t sa, sb, sc;
} batch_job;

static void batch_item(void *arg, size_t i, int slot)
{
    const batch_job *j = arg;
    gemm_plan pl = j->proto;
    pl.a += i * j->sa;
    pl.b += i * j->sb;
    pl.c += i * j->sc;
    gemm_one(j->e, &pl, slot, 1);
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
    int threads = fr_cpu_engine_threads(e);
    batch_job j = {e, {0}, stride_a, stride_b, stride_c};
    init_plan(&j.proto, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    /* One thread per item when the items are too small to be threaded
     * one by one, or when they share out evenly over the threads (no
     * barrier between an item's K slices; 8 experts' 256 x 128 x 2048
     * weight gradients ran 1.4x faster so). Each item's result is the
     * same either way (see the top). Every slot's scratch is sized here,
     * so the items cannot fail on it. */
    int small = m * n * k < THREAD_MIN_FMAS;
    int even = batch % (size_t)threads == 0 || batch >= 4 * (size_t)threads;
    if (threads > 1 && batch > 1 && (small || even)) {
        gemm_plan pl = j.proto;
        const fr_cpu_kernels *ks = fr_cpu_engine_kernels(e);
        int ok = 1;
        if (m && n && k && alpha != 0.0f && !fr_gemm_small_shape(&pl, ks)) {
            plan_gemm(&pl, ks, 1);
            for (int s = 0; s < threads && ok; s++)
                ok = reserve_scratch(e, &pl, s);
        }
        if (ok) {
            fr_cpu_parallel_for_slot(e, batch, batch_item, &j);
            return;
        }
    }
    for (size_t i = 0; i < batch; i++)
        fr_cpu_sgemm(e, ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
                     beta, c + i * stride_c, ldc);
}
