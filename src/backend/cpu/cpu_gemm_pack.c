/* cpu_gemm_pack.c — the GEMM driver's data movement and small cases:
 * packing panels of op(A) and op(B) into the order the micro-kernels read
 * (this is where the transposes are handled), and the shapes that skip
 * blocking altogether (tiny products, one row or one column of C), where
 * packing would cost more than the arithmetic. Plain C, built without -m
 * flags; the level-1 kernels come from the engine's ISA table. */
#include <string.h>

#include "backend/cpu/cpu_gemm_impl.h"

static float a_at(const gemm_plan *pl, size_t i, size_t p)
{
    return pl->ta == FR_NO_TRANS ? pl->a[i * pl->lda + p] : pl->a[p * pl->lda + i];
}

static float b_at(const gemm_plan *pl, size_t p, size_t j)
{
    return pl->tb == FR_NO_TRANS ? pl->b[p * pl->ldb + j] : pl->b[j * pl->ldb + p];
}

void fr_gemm_pack_a(const gemm_plan *pl, size_t i0, size_t rows, size_t p0,
                    size_t kc, float *dst)
{
    size_t mr = pl->kern.mr;
    if (pl->ta == FR_NO_TRANS) {
        /* Row i of A is contiguous in p: read it once, scatter by mr
         * (the panel being written, kc x mr, stays in L1). */
        for (size_t i = 0; i < rows; i++) {
            const float *src = pl->a + (i0 + i) * pl->lda + p0;
            for (size_t p = 0; p < kc; p++)
                dst[p * mr + i] = src[p];
        }
    } else {
        /* Column i of op(A) is row p of A: a run of `rows` floats per p,
         * copied by a loop (a memcpy call per 48 bytes cost more than the
         * copy). */
        for (size_t p = 0; p < kc; p++) {
            const float *src = pl->a + (p0 + p) * pl->lda + i0;
            float *out = dst + p * mr;
            for (size_t i = 0; i < rows; i++)
                out[i] = src[i];
        }
    }
    if (rows < mr)
        for (size_t p = 0; p < kc; p++)
            memset(dst + p * mr + rows, 0, (mr - rows) * sizeof(float));
}

void fr_gemm_pack_b(const gemm_plan *pl, size_t p0, size_t kc, size_t j0,
                    size_t cols, float *dst)
{
    size_t nr = pl->kern.nr;
    if (pl->tb == FR_NO_TRANS) {
        for (size_t p = 0; p < kc; p++)
            memcpy(dst + p * nr, pl->b + (p0 + p) * pl->ldb + j0, cols * sizeof(float));
    } else {
        /* Column j of op(B) is row j of B: read it in runs of 16, which
         * keeps the lines being written few enough for L1. */
        for (size_t pb = 0; pb < kc; pb += 16) {
            size_t pe = kc - pb < 16 ? kc : pb + 16;
            for (size_t j = 0; j < cols; j++) {
                const float *src = pl->b + (j0 + j) * pl->ldb + p0;
                for (size_t p = pb; p < pe; p++)
                    dst[p * nr + j] = src[p];
            }
        }
    }
    if (cols < nr)
        for (size_t p = 0; p < kc; p++)
            memset(dst + p * nr + cols, 0, (nr - cols) * sizeof(float));
}

/* At most this many multiply-adds: the loop nest beats any setup. */
#define TINY_FMAS 512

static int tiny(const gemm_plan *pl)
{
    return pl->m <= TINY_FMAS && pl->n <= TINY_FMAS && pl->k <= TINY_FMAS &&
           pl->m * pl->n * pl->k <= TINY_FMAS;
}

/* One row of C with B not transposed: C row = beta C row + sum_p
 * (alpha A(0, p)) B row p, a sequence of AXPYs over contiguous rows. */
static int row_case(const gemm_plan *pl)
{
    return pl->m == 1 && pl->tb == FR_NO_TRANS;
}

/* One column of C with rows of A and the column of op(B) contiguous:
 * C(i, 0) = alpha dot(A row i, B column) + beta C(i, 0). */
static int column_case(const gemm_plan *pl)
{
    return pl->n == 1 && pl->ta == FR_NO_TRANS && (pl->tb == FR_TRANS || pl->ldb == 1);
}

/* One row of C with A not transposed and B transposed: each C(0, j) is
 * a dot product of two contiguous runs (a mixture's gate gradient, one
 * row of a batch at a time). */
static int dots_case(const gemm_plan *pl)
{
    return pl->m == 1 && pl->ta == FR_NO_TRANS && pl->tb == FR_TRANS;
}

/* K = 1 with B not transposed: an outer product, one AXPY per row of C
 * (a mixture's expert gradient). */
static int outer_case(const gemm_plan *pl)
{
    return pl->k == 1 && pl->tb == FR_NO_TRANS;
}

int fr_gemm_small_shape(const gemm_plan *pl, const fr_cpu_kernels *ks)
{
    (void)ks;
    return tiny(pl) || row_case(pl) || column_case(pl) || dots_case(pl) || outer_case(pl);
}

/* C = beta * C, not reading C when beta == 0. */
static void scale_row(size_t n, float beta, float *row)
{
    if (beta == 0.0f)
        memset(row, 0, n * sizeof *row);
    else if (beta != 1.0f)
        for (size_t j = 0; j < n; j++)
            row[j] *= beta;
}

void fr_gemm_naive(const gemm_plan *pl)
{
    for (size_t i = 0; i < pl->m; i++) {
        float *crow = pl->c + i * pl->ldc;
        scale_row(pl->n, pl->beta, crow);
        for (size_t p = 0; p < pl->k; p++) {
            float av = pl->alpha * a_at(pl, i, p);
            for (size_t j = 0; j < pl->n; j++)
                crow[j] += av * b_at(pl, p, j);
        }
    }
}

int fr_gemm_small(const gemm_plan *pl, const fr_cpu_kernels *ks)
{
    if (tiny(pl)) {
        fr_gemm_naive(pl);
    } else if (row_case(pl)) {
        scale_row(pl->n, pl->beta, pl->c);
        for (size_t p = 0; p < pl->k; p++)
            ks->axpy(pl->n, pl->alpha * a_at(pl, 0, p), pl->b + p * pl->ldb, pl->c);
    } else if (column_case(pl)) {
        for (size_t i = 0; i < pl->m; i++) {
            float *ci = pl->c + i * pl->ldc;
            float s = pl->alpha * ks->dot(pl->k, pl->a + i * pl->lda, pl->b);
            *ci = pl->beta == 0.0f ? s : s + pl->beta * *ci;
        }
    } else if (dots_case(pl)) {
        for (size_t j = 0; j < pl->n; j++) {
            float s = pl->alpha * ks->dot(pl->k, pl->a, pl->b + j * pl->ldb);
            pl->c[j] = pl->beta == 0.0f ? s : s + pl->beta * pl->c[j];
        }
    } else if (outer_case(pl)) {
        for (size_t i = 0; i < pl->m; i++) {
            float *crow = pl->c + i * pl->ldc;
            scale_row(pl->n, pl->beta, crow);
            ks->axpy(pl->n, pl->alpha * a_at(pl, i, 0), pl->b, crow);
        }
    } else {
        return 0;
    }
    return 1;
}
