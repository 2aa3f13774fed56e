/* test_gemm.c — the CPU engine: SGEMM on every ISA path built and supported
 * here, with 1, 2 and 3 threads, all transposes, alpha/beta (beta = 0 must
 * ignore NaN in C), padded leading dimensions and edge sizes, against a
 * double-precision reference; bit-identical results across thread counts;
 * strided-batched GEMM; level-1 ops; ISA names and refusals.
 * Tolerance: |C - ref| <= 1e-5 * sum_k |a||b| + 1e-6 per element. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_engine.h"
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

/* Returns the worst violation ratio (error / tolerance); <= 1 passes. */
static double check_gemm(fr_transpose ta, fr_transpose tb, size_t m, size_t n,
                         size_t k, float alpha, float beta, size_t pad,
                         const float *a, const float *b, const float *c0,
                         const float *c)
{
    size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    double worst = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
                mag += fabs(av * bv);
            }
            double ref = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)c0[i * ldc + j]);
            double cmag = beta == 0.0f ? 0.0 : fabs(beta) * fabs(c0[i * ldc + j]);
            double tol = 1e-5 * (fabs(alpha) * mag + cmag) + 1e-6;
            double err = fabs(c[i * ldc + j] - ref);
            if (!(err <= tol * 1e9))
                return INFINITY; /* NaN or wildly off */
            if (err / tol > worst)
                worst = err / tol;
        }
    return worst;
}

int main(void)
{
    const fr_cpu_isa isas[] = {FR_ISA_SCALAR, FR_ISA_AVX2, FR_ISA_AVX512, FR_ISA_NEON};
    const size_t sizes[][3] = {{0, 5, 3}, {4, 0, 3}, {3, 4, 0}, {1, 1, 1},  {2, 3, 4},
                               {7, 9, 5}, {13, 33, 17}, {37, 65, 300}, {300, 257, 129},
                               {145, 31, 513}, {64, 64, 64}, {200, 16, 40}, {50, 13, 100}};
    const float alphas[] = {1.0f, -0.5f}, betas[] = {0.0f, 1.0f, 0.25f};
    int paths = 0;
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        fr_cpu_isa isa = isas[ii];
        if (!fr_cpu_isa_built(isa) || !fr_cpu_isa_supported(isa)) {
            fr_cpu_engine *e = NULL;
            CHECK(fr_cpu_engine_create(isa, 1, &e) == FR_ERR_UNSUPPORTED && !e,
                  "engine for missing path %s did not fail", fr_cpu_isa_name(isa));
            CHECK(strstr(fr_last_error(), fr_cpu_isa_name(isa)) != NULL,
                  "message does not name the path: %s", fr_last_error());
            continue;
        }
        paths++;
        fr_cpu_engine *eng[3];
        for (int t = 0; t < 3; t++)
            CHECK_OK(fr_cpu_engine_create(isa, t + 1, &eng[t]));
        double worst = 0;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t m = sizes[si][0], n = sizes[si][1], k = sizes[si][2];
            for (int tr = 0; tr < 4; tr++)
                for (size_t pad = 0; pad <= 3; pad += 3)
                    for (size_t ai = 0; ai < 2; ai++)
                        for (size_t bi = 0; bi < 3; bi++) {
                            fr_transpose ta = tr & 1 ? FR_TRANS : FR_NO_TRANS;
                            fr_transpose tb = tr & 2 ? FR_TRANS : FR_NO_TRANS;
                            size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
                            size_t na = (ta ? k : m) * lda + 1, nb = (tb ? n : k) * ldb + 1,
                                   nc = m * ldc + 1;
                            float *a = malloc(na * 4), *b = malloc(nb * 4), *c0 = malloc(nc * 4);
                            float *c[3];
                            fill(a, na, 1);
                            fill(b, nb, 2);
                            fill(c0, nc, 3);
                            if (betas[bi] == 0.0f)
                                for (size_t q = 0; q < nc; q++)
                                    c0[q] = NAN;
                            for (int t = 0; t < 3; t++) {
                                c[t] = malloc(nc * 4);
                                memcpy(c[t], c0, nc * 4);
                                fr_cpu_sgemm(eng[t], ta, tb, m, n, k, alphas[ai], a, lda, b, ldb,
                                             betas[bi], c[t], ldc);
                            }
                            double v = check_gemm(ta, tb, m, n, k, alphas[ai], betas[bi], pad, a,
                                                  b, c0, c[0]);
                            CHECK(v <= 1.0, "%s %zux%zux%zu ta=%d tb=%d pad=%zu alpha=%g beta=%g: error %.3g x tolerance",
                                  fr_cpu_isa_name(isa), m, n, k, ta, tb, pad, alphas[ai], betas[bi], v);
                            if (v > worst && v < INFINITY)
                                worst = v;
                            /* Padding columns and the guard element past C
                                 * are never written. */
                            int untouched = 1;
                            for (size_t q = 0; q < nc; q++)
                                if (q == nc - 1 || q % ldc >= n)
                                    untouched &= !memcmp(&c[0][q], &c0[q], 4);
                            CHECK(untouched, "%s %zux%zux%zu pad=%zu: GEMM wrote outside C",
                                  fr_cpu_isa_name(isa), m, n, k, pad);
                            for (int t = 1; t < 3; t++)
                                CHECK(!memcmp(c[0], c[t], nc * 4),
                                      "%s %zux%zux%zu: %d threads differ from 1", fr_cpu_isa_name(isa),
                                      m, n, k, t + 1);
                            for (int t = 0; t < 3; t++)
                                free(c[t]);
                            free(a);
                            free(b);
                            free(c0);
                        }
        }
        /* Strided batched equals a loop of single GEMMs within tolerance,
         * and is identical across thread counts. */
        {
            size_t m = 33, n = 20, k = 17, batch = 5, sa = m * k + 3, sb = k * n + 2, sc = m * n + 1;
            float *a = malloc(sa * batch * 4), *b = malloc(sb * batch * 4);
            float *c1 = calloc(sc * batch, 4), *c2 = calloc(sc * batch, 4), *c3 = calloc(sc * batch, 4);
            fill(a, sa * batch, 4);
            fill(b, sb * batch, 5);
            fr_cpu_sgemm_strided_batched(eng[0], FR_NO_TRANS, FR_NO_TRANS, m, n, k, 1.0f, a, k, sa,
                                         b, n, sb, 0.0f, c1, n, sc, batch);
            fr_cpu_sgemm_strided_batched(eng[1], FR_NO_TRANS, FR_NO_TRANS, m, n, k, 1.0f, a, k, sa,
                                         b, n, sb, 0.0f, c3, n, sc, batch);
            for (size_t i = 0; i < batch; i++)
                fr_cpu_sgemm(eng[0], FR_NO_TRANS, FR_NO_TRANS, m, n, k, 1.0f, a + i * sa, k,
                             b + i * sb, n, 0.0f, c2 + i * sc, n);
            double maxdiff = 0;
            for (size_t q = 0; q < sc * batch; q++)
                maxdiff = fmax(maxdiff, fabs(c1[q] - c2[q]));
            CHECK(maxdiff < 1e-4, "%s batched differs from loop by %g", fr_cpu_isa_name(isa), maxdiff);
            CHECK(!memcmp(c1, c3, sc * batch * 4), "%s batched differs across threads", fr_cpu_isa_name(isa));
            free(a); free(b); free(c1); free(c2); free(c3);
        }
        /* Level 1. */
        for (size_t n = 0; n < 70; n += 7) {
            float x[80], y[80], y0[80];
            fill(x, n, 6);
            fill(y0, n, 7);
            memcpy(y, y0, sizeof y);
            fr_cpu_saxpy(eng[0], n, 0.75f, x, y);
            double dot = 0, nrm = 0;
            for (size_t i = 0; i < n; i++) {
                CHECK_NEAR(y[i], y0[i] + 0.75 * x[i], 1e-6);
                dot += (double)x[i] * y0[i];
                nrm += (double)x[i] * x[i];
            }
            CHECK_NEAR(fr_cpu_sdot(eng[0], n, x, y0), dot, 1e-5 * (double)(n + 1));
            CHECK_NEAR(fr_cpu_snrm2(eng[0], n, x), sqrt(nrm), 1e-5 * (1 + sqrt(nrm)));
            fr_cpu_sscal(eng[0], n, -2.0f, y);
            for (size_t i = 0; i < n; i++)
                CHECK_NEAR(y[i], -2.0 * (y0[i] + 0.75 * x[i]), 1e-5);
        }
        /* nrm2 neither overflows nor underflows, on the vector body too. */
        float big[40], tiny[40];
        for (int i = 0; i < 40; i++) {
            big[i] = i % 2 ? 4e30f : 3e30f;
            tiny[i] = i % 2 ? 4e-30f : 3e-30f;
        }
        CHECK_NEAR(fr_cpu_snrm2(eng[0], 2, big) / 1e30, 5.0, 1e-5);
        CHECK_NEAR(fr_cpu_snrm2(eng[0], 40, big) / 1e30, 5.0 * sqrt(20.0), 1e-4);
        CHECK_NEAR(fr_cpu_snrm2(eng[0], 40, tiny) / 1e-30, 5.0 * sqrt(20.0), 1e-4);
        CHECK(fr_cpu_snrm2(eng[0], 0, big) == 0.0f, "nrm2 of nothing");
        fprintf(stderr, "path %-7s worst GEMM error %.3f x tolerance\n", fr_cpu_isa_name(isa), worst);
        for (int t = 0; t < 3; t++)
            fr_cpu_engine_destroy(eng[t]);
    }
    CHECK(paths >= 1, "no CPU path ran");

    /* auto is not a path an engine can run. */
    {
        fr_cpu_engine *e = NULL;
        CHECK(fr_cpu_engine_create(FR_ISA_AUTO, 1, &e) == FR_ERR_INVALID && !e,
              "engine accepted isa auto");
    }

    /* Names. */
    for (int i = 0; i <= FR_ISA_NEON; i++) {
        fr_cpu_isa back;
        CHECK_OK(fr_cpu_isa_parse(fr_cpu_isa_name((fr_cpu_isa)i), &back));
        CHECK(back == (fr_cpu_isa)i, "round trip of %s", fr_cpu_isa_name((fr_cpu_isa)i));
    }
    fr_cpu_isa dummy;
    CHECK(fr_cpu_isa_parse("sse9", &dummy) == FR_ERR_INVALID && strstr(fr_last_error(), "avx512"),
          "bad path name: %s", fr_last_error());
    CHECK(fr_cpu_isa_built(fr_cpu_isa_best()) && fr_cpu_isa_supported(fr_cpu_isa_best()),
          "best path not usable");
    return fr_test_finish("test_gemm");
}
