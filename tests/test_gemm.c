/* test_gemm.c — the CPU engine, on every ISA path this build has and this
 * CPU supports, with 1, 2 and 3 threads:
 * - SGEMM: all four transposes, alpha / beta (beta = 0 must ignore NaN in
 *   C), padded leading dimensions whose padding holds NaN (it must never
 *   be read) and must come back untouched in C, sizes 0, 1, edges,
 *   non-multiples of the register blocks, several K slices and column
 *   blocks, the unblocked one-row / one-column paths, threaded shapes;
 *   against a double-precision reference.
 *   Tolerance per element: |C - ref| <= 1e-5 * (|alpha| sum_p |a_ip b_pj|
 *   + |beta c_ij|) + 1e-30, i.e. a relative error of 1e-5 of the sum of
 *   magnitudes (float rounding over K <= 1100 terms stays far below).
 * - bit-identical C for 1, 2 and 3 threads;
 * - strided-batched GEMM bit-identical to a loop of single GEMMs (both
 *   the one-thread-per-item and the threaded-item routes);
 * - the tiled product (fr_cpu_sgemm_tiles): every tile handed out once,
 *   its values bit-identical to fr_cpu_sgemm's, for 1, 2 and 3 threads;
 *   the scan kernel first_not_below against its definition (NaN, edges);
 * - level-1 ops against double references; the thread pool and scratch;
 *   the kernel tables' geometry; ISA names and refusals. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_engine.h"
#include "backend/cpu/cpu_gemm_impl.h"
#include "backend/cpu/cpu_kernels.h"
#include "fedrec/backend.h"
#include "fedrec/rng.h"
#include "testutil.h"

static void fill(float *x, size_t n, uint32_t stream)
{
    fr_rng r;
    fr_rng_init(&r, 7, 0, stream, FR_RNG_TEST);
    for (size_t i = 0; i < n; i++)
        x[i] = 2.0f * fr_rng_uniform(&r) - 1.0f;
}

/* A rows x cols matrix with row stride ld >= cols; the ld - cols padding
 * elements of each row (and one past the end) hold pad_value. */
static float *matrix(size_t rows, size_t cols, size_t ld, uint32_t stream, float pad_value)
{
    size_t n = rows * ld + 1;
    float *x = malloc(n * sizeof *x);
    fill(x, n, stream);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = cols; j < ld; j++)
            x[i * ld + j] = pad_value;
    x[n - 1] = pad_value;
    return x;
}

typedef struct gemm_case {
    fr_transpose ta, tb;
    size_t m, n, k, pad;
    float alpha, beta;
} gemm_case;

/* Worst error / tolerance over C (<= 1 passes; INFINITY for NaN), and
 * whether C's padding came back bit for bit. */
static double check_gemm(const gemm_case *g, const float *a, const float *b,
                         const float *c0, const float *c, int *pad_ok)
{
    size_t lda = (g->ta ? g->m : g->k) + g->pad, ldb = (g->tb ? g->k : g->n) + g->pad;
    size_t ldc = g->n + g->pad;
    double worst = 0;
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j++) {
            double s = 0, mag = 0;
            for (size_t p = 0; p < g->k; p++) {
                double av = g->ta ? a[p * lda + i] : a[i * lda + p];
                double bv = g->tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
                mag += fabs(av * bv);
            }
            double cv = g->beta == 0.0f ? 0.0 : (double)g->beta * c0[i * ldc + j];
            double ref = g->alpha * s + cv;
            double tol = 1e-5 * (fabs(g->alpha) * mag + fabs(cv)) + 1e-30;
            double err = fabs(c[i * ldc + j] - ref);
            if (!(err <= tol * 1e9))
                return INFINITY; /* NaN, or wildly off */
            if (err / tol > worst)
                worst = err / tol;
        }
    *pad_ok = 1;
    for (size_t i = 0; i < g->m; i++)
        if (memcmp(c + i * ldc + g->n, c0 + i * ldc + g->n, g->pad * sizeof *c))
            *pad_ok = 0;
    return worst;
}

/* Run one case on the three engines; returns the worst error ratio. */
static double run_case(fr_cpu_engine *const eng[3], const gemm_case *g, const char *path)
{
    size_t lda = (g->ta ? g->m : g->k) + g->pad, ldb = (g->tb ? g->k : g->n) + g->pad;
    size_t ldc = g->n + g->pad;
    float *a = matrix(g->ta ? g->k : g->m, g->ta ? g->m : g->k, lda, 1, NAN);
    float *b = matrix(g->tb ? g->n : g->k, g->tb ? g->k : g->n, ldb, 2, NAN);
    float *c0 = matrix(g->m, g->n, ldc, 3, -7.0f);
    if (g->beta == 0.0f)
        for (size_t i = 0; i < g->m; i++)
            for (size_t j = 0; j < g->n; j++)
                c0[i * ldc + j] = NAN;
    size_t nc = g->m * ldc + 1;
    float *c[3];
    for (int t = 0; t < 3; t++) {
        c[t] = malloc(nc * sizeof *c[t]);
        memcpy(c[t], c0, nc * sizeof *c[t]);
        fr_cpu_sgemm(eng[t], g->ta, g->tb, g->m, g->n, g->k, g->alpha, a, lda, b, ldb,
                     g->beta, c[t], ldc);
    }
    int pad_ok = 0;
    double v = check_gemm(g, a, b, c0, c[0], &pad_ok);
    CHECK(v <= 1.0, "%s %zux%zux%zu ta=%d tb=%d pad=%zu alpha=%g beta=%g: error %.3g x tolerance",
          path, g->m, g->n, g->k, g->ta, g->tb, g->pad, g->alpha, g->beta, v);
    CHECK(pad_ok, "%s %zux%zux%zu ta=%d tb=%d: C padding was written", path, g->m, g->n, g->k,
          g->ta, g->tb);
    for (int t = 1; t < 3; t++)
        CHECK(!memcmp(c[0], c[t], nc * sizeof *c[0]),
              "%s %zux%zux%zu ta=%d tb=%d: %d threads differ from 1", path, g->m, g->n, g->k,
              g->ta, g->tb, t + 1);
    for (int t = 0; t < 3; t++)
        free(c[t]);
    free(a);
    free(b);
    free(c0);
    return v;
}

static const size_t sizes[][3] = {
    /* empty, tiny, and edges around the 4x8 .. 12x32 register blocks */
    {0, 5, 3}, {4, 0, 3}, {3, 4, 0}, {1, 1, 1}, {2, 3, 4}, {7, 9, 5}, {13, 33, 17},
    {64, 64, 64}, {25, 17, 3}, {50, 13, 100}, {200, 16, 40}, {12, 32, 9},
    /* one row, one column (unblocked paths), and nearly so */
    {1, 70, 40}, {70, 1, 40}, {2, 70, 40}, {70, 2, 40},
    /* outer products (K = 1) and a row of dot products (a gated mixture's
     * gradients) */
    {40, 70, 1}, {8, 128, 1}, {1, 8, 128},
    /* several K slices (kc <= 512), column blocks (nc <= 4096), and runs
     * of K slices (packed B kept under 8 MiB) */
    {37, 65, 1100}, {3, 4200, 5}, {2, 4100, 1100},
    /* enough work to be threaded: row split, column split, narrow kernel */
    {300, 257, 129}, {145, 31, 513}, {12, 2000, 50}, {1000, 16, 70}, {64, 300, 100},
};

/* Cases per size: every combination for small sizes, a sample for large
 * ones (the double reference dominates the run time). */
static void test_gemm_path(fr_cpu_isa isa, fr_cpu_engine *const eng[3])
{
    const float alphas[] = {1.0f, -0.5f}, betas[] = {0.0f, 1.0f, 0.25f};
    const char *path = fr_cpu_isa_name(isa);
    double worst = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t m = sizes[si][0], n = sizes[si][1], k = sizes[si][2];
        int big = m * n * k > 200000;
        for (int tr = 0; tr < 4; tr++)
            for (size_t pad = 0; pad <= 3; pad += 3)
                for (size_t ai = 0; ai < 2; ai++)
                    for (size_t bi = 0; bi < 3; bi++) {
                        /* Large: every transpose, padded, with beta 0 and
                         * beta 0.25 and alpha varying. */
                        if (big && (pad == 0 || bi == 1 || ai != (size_t)(tr & 1)))
                            continue;
                        gemm_case g = {tr & 1 ? FR_TRANS : FR_NO_TRANS,
                                       tr & 2 ? FR_TRANS : FR_NO_TRANS, m, n, k, pad,
                                       alphas[ai], betas[bi]};
                        double v = run_case(eng, &g, path);
                        if (v > worst && v < INFINITY)
                            worst = v;
                    }
    }
    /* alpha = 0 scales C by beta and reads neither A nor B. */
    float c[6] = {1, 2, 3, 4, 8, 6}, nan_ab[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    fr_cpu_sgemm(eng[1], FR_NO_TRANS, FR_NO_TRANS, 2, 2, 3, 0.0f, nan_ab, 3, nan_ab, 2, 0.5f,
                 c, 3);
    CHECK(c[0] == 0.5f && c[1] == 1.0f && c[2] == 3.0f && c[3] == 2.0f && c[4] == 4.0f &&
              c[5] == 6.0f,
          "%s alpha = 0: got %g %g %g / %g %g %g", path, c[0], c[1], c[2], c[3], c[4], c[5]);
    fprintf(stderr, "path %-7s worst GEMM error %.3f x tolerance\n", path, worst);
}

/* Batched equals the loop bit for bit, for any thread count. */
static void test_batched(fr_cpu_isa isa, fr_cpu_engine *const eng[3])
{
    const size_t shapes[][3] = {{33, 20, 17}, {1, 9, 5}, {130, 90, 100}};
    for (size_t s = 0; s < 3; s++)
        for (int tr = 0; tr < 4; tr += 3) {
            fr_transpose ta = tr & 1 ? FR_TRANS : FR_NO_TRANS, tb = tr & 2 ? FR_TRANS : FR_NO_TRANS;
            size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], batch = 5;
            size_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
            size_t sa = (ta ? k : m) * lda + 3, sb = (tb ? n : k) * ldb + 2, sc = m * ldc + 5;
            float *a = malloc(sa * batch * 4), *b = malloc(sb * batch * 4);
            float *c0 = malloc(sc * batch * 4), *c[4];
            fill(a, sa * batch, 4);
            fill(b, sb * batch, 5);
            fill(c0, sc * batch, 6);
            for (int t = 0; t < 4; t++) {
                c[t] = malloc(sc * batch * 4);
                memcpy(c[t], c0, sc * batch * 4);
            }
            for (size_t i = 0; i < batch; i++)
                fr_cpu_sgemm(eng[0], ta, tb, m, n, k, 0.75f, a + i * sa, lda, b + i * sb, ldb,
                             0.5f, c[3] + i * sc, ldc);
            for (int t = 0; t < 3; t++)
                fr_cpu_sgemm_strided_batched(eng[t], ta, tb, m, n, k, 0.75f, a, lda, sa, b, ldb,
                                             sb, 0.5f, c[t], ldc, sc, batch);
            for (int t = 0; t < 3; t++)
                CHECK(!memcmp(c[t], c[3], sc * batch * 4),
                      "%s batched %zux%zux%zu ta=%d tb=%d with %d threads differs from a loop",
                      fr_cpu_isa_name(isa), m, n, k, ta, tb, t + 1);
            for (int t = 0; t < 4; t++)
                free(c[t]);
            free(a);
            free(b);
            free(c0);
        }
    float one = 1.0f;
    fr_cpu_sgemm_strided_batched(eng[2], FR_NO_TRANS, FR_NO_TRANS, 1, 1, 1, 1.0f, &one, 1, 1,
                                 &one, 1, 1, 0.0f, NULL, 1, 1, 0); /* batch 0: no access */
}

static void test_level1(fr_cpu_isa isa, const fr_cpu_engine *e)
{
    const char *path = fr_cpu_isa_name(isa);
    enum { MAXN = 1100 };
    static float x[MAXN], y[MAXN], y0[MAXN];
    for (size_t n = 0; n <= MAXN; n += n < 70 ? 1 : 343) {
        fill(x, n, 6);
        fill(y0, n, 7);
        memcpy(y, y0, n * sizeof *y);
        fr_cpu_saxpy(e, n, 0.75f, x, y);
        double dot = 0, dotmag = 0, nrm = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK_NEAR(y[i], y0[i] + 0.75 * x[i], 2e-7 * (fabs(y0[i]) + 0.75 * fabs(x[i])));
            dot += (double)x[i] * y0[i];
            dotmag += fabs((double)x[i] * y0[i]);
            nrm += (double)x[i] * x[i];
        }
        /* The classic bound for a float sum of n products, n u sum |x y|. */
        CHECK_NEAR(fr_cpu_sdot(e, n, x, y0), dot, 1.2e-7 * (double)(n + 1) * dotmag + 1e-30);
        CHECK_NEAR(fr_cpu_snrm2(e, n, x), sqrt(nrm), 1e-6 * sqrt(nrm));
        fr_cpu_sscal(e, n, -2.0f, y);
        for (size_t i = 0; i < n; i++)
            CHECK_NEAR(y[i], -2.0 * (y0[i] + 0.75 * x[i]), 3e-7 * (fabs(y0[i]) + fabs(x[i])));
    }
    /* No overflow or underflow in the norm for any finite float, on the
     * vector body (40 values) as on the tail (2). */
    float big[40], small[40], huge[2] = {3e38f, 3e38f};
    for (int i = 0; i < 40; i++) {
        big[i] = i % 2 ? 4e30f : 3e30f;
        small[i] = i % 2 ? 4e-30f : 3e-30f;
    }
    CHECK_NEAR(fr_cpu_snrm2(e, 2, big) / 1e30, 5.0, 1e-6);
    CHECK_NEAR(fr_cpu_snrm2(e, 40, big) / 1e30, 5.0 * sqrt(20.0), 1e-5);
    CHECK_NEAR(fr_cpu_snrm2(e, 2, small) / 1e-30, 5.0, 1e-6);
    CHECK_NEAR(fr_cpu_snrm2(e, 40, small) / 1e-30, 5.0 * sqrt(20.0), 1e-5);
    CHECK(fr_cpu_snrm2(e, 0, big) == 0.0f, "%s: nrm2 of nothing", path);
    CHECK(isinf(fr_cpu_snrm2(e, 2, huge)), "%s: nrm2 above FLT_MAX must be inf", path);
}

/* What the tiled product handed out: C gathered, and how often each
 * element came (a slot writes only its own column block's elements). */
typedef struct tiles_seen {
    float *c;
    unsigned char *count;
    size_t n;
} tiles_seen;

static void gather_tile(void *arg, int slot, size_t i0, size_t rows, size_t j0, size_t cols, const float *c,
                        size_t ldc)
{
    (void)slot;
    tiles_seen *t = arg;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            t->c[(i0 + i) * t->n + j0 + j] = c[i * ldc + j];
            t->count[(i0 + i) * t->n + j0 + j]++;
        }
}

static void test_tiles(fr_cpu_isa isa, fr_cpu_engine *const eng[3])
{
    const char *path = fr_cpu_isa_name(isa);
    /* m x n x k, tile rows x cols: edges in both, k over several slices
     * (kc is 256..512), a tile wider than C, one row */
    static const size_t shapes[][5] = {{37, 301, 32, 24, 64}, {96, 1030, 32, 96, 1024}, {5, 70, 7, 4, 32},
                                       {13, 40, 600, 12, 16}, {50, 33, 32, 200, 4096}, {2, 260, 32, 1, 96}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        size_t m = shapes[sh][0], n = shapes[sh][1], k = shapes[sh][2];
        float *a = matrix(m, k, k, 11, 0), *b = matrix(n, k, k, 12, 0);
        float *want = malloc(m * n * sizeof *want), *got = malloc(m * n * sizeof *got);
        unsigned char *count = malloc(m * n);
        if (!a || !b || !want || !got || !count) {
            CHECK(0, "out of memory");
        } else {
            fr_cpu_sgemm(eng[0], FR_NO_TRANS, FR_TRANS, m, n, k, 1.0f, a, k, b, k, 0.0f, want, n);
            /* row limits per column block: all, none, and decreasing
             * (rows [0, limit) of each block only) */
            size_t tile_cols = shapes[sh][4] < n ? shapes[sh][4] : n, blocks = (n + tile_cols - 1) / tile_cols;
            size_t *limit = malloc(blocks * sizeof *limit);
            for (int t = 0; t < 3 * 2 && limit; t++) {
                int limited = t >= 3;
                for (size_t bl = 0; bl < blocks; bl++)
                    limit[bl] = bl == 0 ? m : m * (blocks - bl) / (blocks + 1);
                memset(count, 0, m * n);
                tiles_seen seen = {got, count, n};
                CHECK_OK(fr_cpu_sgemm_tiles(eng[t % 3], FR_TRANS, m, n, k, a, k, b, k, shapes[sh][3], shapes[sh][4],
                                            limited ? limit : NULL, gather_tile, &seen));
                size_t wrong = 0, miscounted = 0;
                for (size_t i = 0; i < m * n; i++) {
                    int wanted = !limited || i / n < limit[i % n / tile_cols];
                    wrong += wanted && memcmp(&got[i], &want[i], sizeof *got) != 0;
                    miscounted += count[i] != wanted;
                }
                CHECK(wrong == 0 && miscounted == 0,
                      "%s: tiles %zux%zux%zu (tile %zux%zu), %d threads%s: %zu values differ from sgemm, %zu not handed out as often as wanted",
                      path, m, n, k, shapes[sh][3], shapes[sh][4], t % 3 + 1, limited ? ", row limits" : "", wrong,
                      miscounted);
            }
            free(limit);
        }
        free(a);
        free(b);
        free(want);
        free(got);
        free(count);
    }
    CHECK(fr_cpu_sgemm_tiles(eng[0], FR_TRANS, 3, 3, 0, NULL, 1, NULL, 1, 1, 1, NULL, gather_tile, NULL) == FR_ERR_INVALID,
          "%s: k = 0 accepted", path);
    /* the scan: the first index not below the bar */
    const fr_cpu_kernels *ks = fr_cpu_engine_kernels(eng[0]);
    float x[300];
    for (size_t n = 0; n <= 300; n += n < 70 ? 1 : 23)
        for (size_t hit = 0; hit <= n; hit += 1 + hit / 8) {
            for (size_t i = 0; i < n; i++)
                x[i] = -1.0f - (float)i;
            if (hit < n)
                x[hit] = hit % 3 == 0 ? NAN : hit % 3 == 1 ? 0.5f : -0.5f; /* -0.5 is not below -0.5 */
            size_t want = n;
            for (size_t i = 0; i < n && want == n; i++)
                if (!(x[i] < -0.5f))
                    want = i;
            size_t got = ks->first_not_below(n, x, -0.5f);
            CHECK(got == want, "%s: first_not_below over %zu, hit at %zu: %zu, want %zu", path, n, hit, got, want);
        }
}

static void count_task(void *arg, size_t task, int slot)
{
    (void)slot; /* checked by slot_task */
    int *hits = arg;
    hits[task]++; /* each task its own element */
}

typedef struct slot_probe {
    fr_cpu_engine *e;
    int *bad;
} slot_probe;

static void slot_task(void *arg, size_t task, int slot)
{
    slot_probe *p = arg;
    if (slot < 0 || slot >= fr_cpu_engine_threads(p->e)) {
        p->bad[task] = 1;
        return;
    }
    /* Scratch sized in advance: a task's request cannot fail, and it
     * is writable and aligned. */
    float *s = fr_cpu_engine_scratch(p->e, slot, 0, 4096);
    if (!s || ((uintptr_t)s & 63)) {
        p->bad[task] = 1;
        return;
    }
    for (size_t i = 0; i < 1024; i++)
        s[i] = (float)task;
}

static void test_pool(fr_cpu_engine *const eng[3])
{
    for (int t = 0; t < 3; t++) {
        int threads = fr_cpu_engine_threads(eng[t]);
        CHECK(threads == t + 1, "engine threads %d, expected %d", threads, t + 1);
        for (size_t n = 0; n <= 97; n += 1 + n / 3) {
            int hits[97] = {0};
            fr_cpu_parallel_for_slot(eng[t], n, count_task, hits);
            for (size_t i = 0; i < n; i++)
                CHECK(hits[i] == 1, "%d threads, %zu tasks: task %zu ran %d times", t + 1, n, i,
                      hits[i]);
        }
        for (int s = 0; s < threads; s++)
            CHECK(fr_cpu_engine_scratch(eng[t], s, 0, 4096) != NULL, "scratch of slot %d", s);
        int bad[64] = {0};
        slot_probe p = {eng[t], bad};
        fr_cpu_parallel_for_slot(eng[t], 64, slot_task, &p);
        for (int i = 0; i < 64; i++)
            CHECK(!bad[i], "%d threads: task %d saw a bad slot or scratch", t + 1, i);
        void *big = fr_cpu_engine_scratch(eng[t], 0, 1, 1 << 20);
        CHECK(big && !((uintptr_t)big & 63), "scratch growth to 1 MiB");
    }
}

static void test_tables(fr_cpu_isa isa, const fr_cpu_kernels *k)
{
    const fr_cpu_gemm_kernel *kern[2] = {&k->gemm, &k->narrow};
    CHECK(k->axpy && k->dot && k->nrm2 && k->scal && k->gemm.micro, "%s: table incomplete",
          fr_cpu_isa_name(isa));
    for (int i = 0; i < 2; i++) {
        if (!kern[i]->micro)
            continue;
        size_t mr = kern[i]->mr, nr = kern[i]->nr;
        CHECK(mr >= 1 && nr >= 1 && mr <= FR_GEMM_MAX_MR && nr <= FR_GEMM_MAX_NR,
              "%s: block %zux%zu out of range", fr_cpu_isa_name(isa), mr, nr);
        CHECK(k->mc % mr == 0 && k->nc % nr == 0 && k->kc >= 1,
              "%s: mc %zu / nc %zu not multiples of %zux%zu", fr_cpu_isa_name(isa), k->mc, k->nc,
              mr, nr);
    }
}

static void test_names_and_refusals(void)
{
    for (int i = 0; i <= FR_ISA_NEON; i++) {
        fr_cpu_isa back;
        CHECK_OK(fr_cpu_isa_parse(fr_cpu_isa_name((fr_cpu_isa)i), &back));
        CHECK(back == (fr_cpu_isa)i, "round trip of %s", fr_cpu_isa_name((fr_cpu_isa)i));
    }
    fr_cpu_isa dummy;
    CHECK(fr_cpu_isa_parse("sse9", &dummy) == FR_ERR_INVALID, "bad name accepted");
    const char *msg = fr_last_error();
    CHECK(strstr(msg, "sse9") && strstr(msg, "scalar") && strstr(msg, "avx2") &&
              strstr(msg, "avx512") && strstr(msg, "neon"),
          "bad path message should name the value and the valid ones: %s", msg);
    CHECK(fr_cpu_isa_built(FR_ISA_SCALAR) && fr_cpu_isa_supported(FR_ISA_SCALAR),
          "scalar must always be there");
    fr_cpu_isa best = fr_cpu_isa_best();
    CHECK(best != FR_ISA_AUTO && fr_cpu_isa_built(best) && fr_cpu_isa_supported(best),
          "best path %s not usable", fr_cpu_isa_name(best));
    fr_cpu_engine *e = NULL;
    CHECK(fr_cpu_engine_create(FR_ISA_AUTO, 1, &e) == FR_ERR_INVALID && !e,
          "auto must be resolved by the caller");
    CHECK(fr_cpu_engine_create((fr_cpu_isa)42, 1, &e) == FR_ERR_INVALID && !e,
          "out-of-range path accepted");
    CHECK(fr_cpu_engine_create(FR_ISA_SCALAR, 0, &e) == FR_ERR_INVALID && !e, "0 threads");
    int refused = 0;
    for (int i = FR_ISA_SCALAR; i <= FR_ISA_NEON; i++) {
        fr_cpu_isa isa = (fr_cpu_isa)i;
        if (fr_cpu_isa_built(isa) && fr_cpu_isa_supported(isa))
            continue;
        refused++;
        CHECK(fr_cpu_engine_create(isa, 1, &e) == FR_ERR_UNSUPPORTED && !e,
              "engine for missing path %s did not fail", fr_cpu_isa_name(isa));
        msg = fr_last_error();
        CHECK(strstr(msg, fr_cpu_isa_name(isa)) != NULL, "message does not name the path: %s", msg);
        if (!fr_cpu_isa_built(isa))
            CHECK(strstr(msg, "build") != NULL, "not-built message: %s", msg);
        else
            CHECK(strstr(msg, "CPU") != NULL, "unsupported message: %s", msg);
    }
    /* x86 builds lack NEON and Arm builds the x86 paths, so some path is
     * always refused; it must be refused with the status asked for. */
    CHECK(refused >= 1, "expected at least one refused path");
}

int main(void)
{
    const fr_cpu_isa isas[] = {FR_ISA_SCALAR, FR_ISA_AVX2, FR_ISA_AVX512, FR_ISA_NEON};
    int paths = 0;
    test_names_and_refusals();
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        fr_cpu_isa isa = isas[ii];
        if (!fr_cpu_isa_built(isa)) {
            /* Another architecture's path: there is no code to test. */
            fprintf(stderr, "path %-7s not built for this architecture\n", fr_cpu_isa_name(isa));
            continue;
        }
        if (!fr_cpu_isa_supported(isa)) {
            /* Built, so shipped, but this CPU cannot run it. */
            TEST_SKIP_PART("test_gemm: the %s path: built, but this CPU does not support it", fr_cpu_isa_name(isa));
            continue;
        }
        paths++;
        fr_cpu_engine *eng[3] = {NULL, NULL, NULL};
        int ok = 1;
        for (int t = 0; t < 3; t++) {
            CHECK_OK(fr_cpu_engine_create(isa, t + 1, &eng[t]));
            ok = ok && eng[t];
        }
        if (ok) {
            test_tables(isa, fr_cpu_engine_kernels(eng[0]));
            test_gemm_path(isa, eng);
            test_batched(isa, eng);
            test_tiles(isa, eng);
            test_level1(isa, eng[0]);
            test_pool(eng);
        }
        for (int t = 0; t < 3; t++)
            fr_cpu_engine_destroy(eng[t]);
    }
    CHECK(paths >= 1, "no CPU path ran");
    return fr_test_finish("test_gemm");
}
