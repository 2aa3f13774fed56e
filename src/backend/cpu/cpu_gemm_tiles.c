/* cpu_gemm_tiles.c — C = A op(B) handed out tile by tile while each tile
 * is in cache, never stored whole (see fr_cpu_sgemm_tiles in
 * cpu_engine.h): full ranking needs every user's score of every item
 * once, and 22k users x 296k items of C would be 26 GB of memory traffic
 * written and read again.
 *
 * Tasks (in parallel) take column blocks of C (and, when those are too
 * few to share among the threads, groups of rows of them). A task packs
 * its block of op(B) once, in the main kernel's nr-wide panels, then for
 * each run of tile_rows rows: the micro-kernel fills the tile in the slot's buffer
 * (each mr x nr tile whole: the buffer is padded, so no edge copies),
 * and the consumer reads it. Each element is the main kernel's sum over
 * the same K slices in the same order as fr_cpu_sgemm's blocked path, so
 * the values are those fr_cpu_sgemm gives for the shape whenever it does
 * not take a small-shape path. A caller that knows some rows need only
 * the first column blocks (the norm-ordered ranking) gives each block's
 * row count, and the rest of the block is neither computed nor handed
 * out. */
#include <string.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_gemm_impl.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/error_internal.h"

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

typedef struct tiles_job {
    fr_cpu_engine *e;
    gemm_plan pl;              /* the whole product's arguments, kern and kc */
    size_t tile_rows, tile_cols;
    size_t col_blocks, rows_per_group;   /* tasks: column block x group of row tiles */
    size_t c_floats;           /* a slot's C tile (rows rounded to mr, cols to nr) */
    const size_t *row_limit;   /* per column block: rows [0, limit) computed; NULL: all */
    fr_cpu_tile_fn consume;
    void *arg;
} tiles_job;

static void tiles_task(void *arg, size_t task, int slot)
{
    const tiles_job *j = arg;
    const gemm_plan *pl = &j->pl;
    size_t mr = pl->kern.mr, nr = pl->kern.nr, kc = pl->kc;
    size_t j0 = task % j->col_blocks * j->tile_cols;
    size_t r0 = task / j->col_blocks * j->rows_per_group;
    size_t r1 = r0 + j->rows_per_group < pl->m ? r0 + j->rows_per_group : pl->m;
    if (j->row_limit && j->row_limit[task % j->col_blocks] < r1)
        r1 = j->row_limit[task % j->col_blocks];
    if (r0 >= r1)
        return; /* no row of this group needs the block */
    size_t cols = pl->n - j0 < j->tile_cols ? pl->n - j0 : j->tile_cols;
    size_t panels = ceil_div(cols, nr), ldc = panels * nr;
    /* Sized by the caller before the tasks: cannot fail here. */
    float *bpack = fr_cpu_engine_scratch(j->e, slot, 1, pl->k * ldc * sizeof(float));
    float *c = fr_cpu_engine_scratch(j->e, slot, 0, (j->c_floats + mr * kc) * sizeof(float));
    float *edge = c + j->c_floats; /* the last, partial row panel, packed */
    for (size_t p0 = 0; p0 < pl->k; p0 += kc) {
        size_t kcs = pl->k - p0 < kc ? pl->k - p0 : kc;
        float *slice = bpack + p0 * ldc;
        for (size_t jp = 0; jp < panels; jp++) {
            size_t w = cols - jp * nr < nr ? cols - jp * nr : nr;
            fr_gemm_pack_b(pl, p0, kcs, j0 + jp * nr, w, slice + jp * kcs * nr);
        }
    }
    for (size_t i0 = r0; i0 < r1; i0 += j->tile_rows) {
        size_t rows = r1 - i0 < j->tile_rows ? r1 - i0 : j->tile_rows;
        size_t full = rows / mr * mr;
        for (size_t p0 = 0; p0 < pl->k; p0 += kc) {
            size_t kcs = pl->k - p0 < kc ? pl->k - p0 : kc;
            float beta = p0 == 0 ? 0.0f : 1.0f;
            const float *slice = bpack + p0 * ldc;
            if (full < rows)
                fr_gemm_pack_a(pl, i0 + full, rows - full, p0, kcs, edge);
            for (size_t jp = 0; jp < panels; jp++) {
                const float *bp = slice + jp * kcs * nr;
                float *ct = c + jp * nr;
                for (size_t ir = 0; ir < full; ir += mr)
                    pl->kern.micro(kcs, pl->a + (i0 + ir) * pl->lda + p0, pl->lda, 1, bp, ct + ir * ldc,
                                   ldc, 1.0f, beta);
                if (full < rows)
                    pl->kern.micro(kcs, edge, 1, mr, bp, ct + full * ldc, ldc, 1.0f, beta);
            }
        }
        j->consume(j->arg, slot, i0, rows, j0, cols, c, ldc);
    }
}

fr_status fr_cpu_sgemm_tiles(fr_cpu_engine *e, fr_transpose tb, size_t m, size_t n, size_t k,
                             const float *a, size_t lda, const float *b, size_t ldb, size_t tile_rows,
                             size_t tile_cols, const size_t *row_limit, fr_cpu_tile_fn consume, void *arg)
{
    if (m == 0 || n == 0)
        return FR_OK;
    if (k == 0 || tile_rows == 0 || tile_cols == 0)
        return fr_fail(FR_ERR_INVALID, "tiled GEMM: k %zu, tile %zu x %zu must be >= 1", k, tile_rows, tile_cols);
    const fr_cpu_kernels *ks = fr_cpu_engine_kernels(e);
    tiles_job j;
    memset(&j, 0, sizeof j);
    j.e = e;
    j.pl.ta = FR_NO_TRANS;
    j.pl.tb = tb;
    j.pl.m = m;
    j.pl.n = n;
    j.pl.k = k;
    j.pl.alpha = 1.0f;
    j.pl.a = a;
    j.pl.b = b;
    j.pl.lda = lda;
    j.pl.ldb = ldb;
    /* the kernel and K slices fr_cpu_sgemm's planner picks for this shape */
    j.pl.kern = ks->narrow.micro && n <= ks->narrow.nr ? ks->narrow : ks->gemm;
    j.pl.kc = ceil_div(k, ceil_div(k, ks->kc));
    size_t mr = j.pl.kern.mr, nr = j.pl.kern.nr;
    j.tile_rows = tile_rows;
    j.tile_cols = tile_cols < n ? tile_cols : n;
    j.c_floats = ceil_div(tile_rows, mr) * mr * ceil_div(j.tile_cols, nr) * nr;
    j.row_limit = row_limit;
    j.consume = consume;
    j.arg = arg;
    int threads = fr_cpu_engine_threads(e);
    size_t b_bytes = k * ceil_div(j.tile_cols, nr) * nr * sizeof(float);
    size_t c_bytes = (j.c_floats + mr * j.pl.kc) * sizeof(float);
    for (int s = 0; s < threads; s++)
        if (!fr_cpu_engine_scratch(e, s, 0, c_bytes) || !fr_cpu_engine_scratch(e, s, 1, b_bytes))
            return fr_fail_nomem("tiled GEMM scratch", (size_t)threads * (b_bytes + c_bytes));
    /* Too few column blocks to share among the threads (few items): the
     * rows are split too, each task packing its own copy of its block. */
    j.col_blocks = ceil_div(n, j.tile_cols);
    size_t row_tiles = ceil_div(m, tile_rows), groups = 1;
    if (j.col_blocks < 4 * (size_t)threads)
        groups = ceil_div(4 * (size_t)threads, j.col_blocks);
    if (groups > row_tiles)
        groups = row_tiles;
    j.rows_per_group = ceil_div(row_tiles, groups) * tile_rows;
    groups = ceil_div(m, j.rows_per_group);
    fr_cpu_parallel_for_slot(e, j.col_blocks * groups, tiles_task, &j);
    return FR_OK;
}
