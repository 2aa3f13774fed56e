/* test_host.c — fedrec/host.h, the CPU backend's paths and threads on
 * host memory: every path this CPU runs against the double reference
 * (tests/ref_ops.c) for the vector kernels, SGEMM (both transposes, beta
 * 0 with NaN in C), the tiled SGEMM (every tile handed out once, its
 * values the full product's) and row-wise Adam; results bit-identical on
 * 1 and 3 threads; parallel_try reports the lowest failing task; and a
 * path the build or CPU lacks, or too many threads, is refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/host.h"
#include "fedrec/rng.h"
#include "ref_ops.h"
#include "testutil.h"

static fr_rng rng;

static float *random_floats(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x)
        abort();
    for (size_t i = 0; i < n; i++)
        x[i] = 2.0f * fr_rng_uniform(&rng) - 1.0f;
    return x;
}

/* |got - ref| within tol relative to mag. */
static int near(double got, double ref, double mag, double tol)
{
    return fabs(got - ref) <= tol * (mag > 1.0 ? mag : 1.0);
}

static void test_vec(const fr_host *h, const char *path)
{
    const fr_host_vec *v = fr_host_vec_of(h);
    const size_t lens[] = {1, 7, 33, 1000};
    for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
        size_t n = lens[t];
        float *x = random_floats(n), *y = random_floats(n);
        double ry[1000];
        for (size_t i = 0; i < n; i++)
            ry[i] = y[i];
        CHECK(near(v->dot(n, x, y), ref_dot(n, x, y), (double)n, 1e-6), "%s: dot of %zu", path, n);
        CHECK(near(v->nrm2(n, x), ref_nrm2(n, x), 1.0, 1e-6), "%s: nrm2 of %zu", path, n);
        ref_axpy(n, 0.5, x, ry);
        v->axpy(n, 0.5f, x, y);
        for (size_t i = 0; i < n; i++)
            CHECK(near(y[i], ry[i], 1.0, 1e-6), "%s: axpy of %zu at %zu: %g, expected %g", path, n, i, y[i], ry[i]);
        for (size_t i = 0; i < n; i++)
            ry[i] = -2.0 * y[i];
        v->scal(n, -2.0f, y);
        for (size_t i = 0; i < n; i++)
            CHECK(y[i] == (float)ry[i], "%s: scal of %zu at %zu", path, n, i);
        /* e^(scale x + shift) summed against w: arguments in [-87, 0.1]. */
        float *w = random_floats(n);
        double want = 0;
        for (size_t i = 0; i < n; i++)
            want += (double)w[i] * exp(2.0 * x[i] - 2.0);
        float got = v->exp_affine_dot(n, 2.0f, -2.0f, x, w);
        CHECK(near(got, want, (double)n, 1e-5), "%s: exp_affine_dot of %zu: %g, expected %g", path, n, got, want);
        free(x);
        free(y);
        free(w);
    }
}

/* C = op(A) op(B) on h, against the reference; C starts as NaN (beta 0). */
static float *gemm_on(fr_host *h, int ta, int tb, size_t m, size_t n, size_t k, const float *a, const float *b)
{
    float *c = malloc(m * n * sizeof *c);
    if (!c)
        abort();
    for (size_t i = 0; i < m * n; i++)
        c[i] = NAN;
    fr_host_sgemm(h, ta ? FR_TRANS : FR_NO_TRANS, tb ? FR_TRANS : FR_NO_TRANS, m, n, k, 1.0f, a, ta ? m : k, b,
                  tb ? k : n, 0.0f, c, n);
    return c;
}

typedef struct tiles_seen {
    const double *ref;
    size_t n, k;
    unsigned char *count; /* times each element was handed out */
    int bad;
} tiles_seen;

static void consume(void *arg, int slot, size_t i0, size_t rows, size_t j0, size_t cols, const float *c, size_t ldc)
{
    tiles_seen *t = arg;
    (void)slot;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            size_t at = (i0 + i) * t->n + j0 + j;
            t->count[at]++; /* tiles are disjoint: no two threads touch one element */
            if (!near(c[i * ldc + j], t->ref[at], (double)t->k, 1e-6))
                t->bad = 1;
        }
}

static void test_gemm(const char *path, fr_cpu_isa isa)
{
    fr_host *one = NULL, *three = NULL;
    CHECK_OK(fr_host_create(isa, 1, &one));
    CHECK_OK(fr_host_create(isa, 3, &three));
    if (!one || !three) {
        fr_host_free(one);
        fr_host_free(three);
        return;
    }
    CHECK(fr_host_threads(three) == 3 && fr_host_isa(one) == isa, "%s: threads %d, path %d", path,
          fr_host_threads(three), (int)fr_host_isa(one));
    const size_t shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {70, 130, 64}, {300, 33, 200}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++) {
            size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            int ta = t & 1, tb = t >> 1;
            float *a = random_floats(m * k), *b = random_floats(k * n);
            double *ref = calloc(m * n, sizeof *ref);
            ref_gemm(ta, tb, m, n, k, 1.0, a, ta ? m : k, b, tb ? k : n, 0.0, ref, n);
            float *c1 = gemm_on(one, ta, tb, m, n, k, a, b), *c3 = gemm_on(three, ta, tb, m, n, k, a, b);
            size_t worst = 0;
            for (size_t i = 0; i < m * n; i++)
                if (!near(c1[i], ref[i], (double)k, 1e-6))
                    worst++;
            CHECK(worst == 0, "%s: sgemm %zux%zux%zu (%d%d): %zu values off the reference", path, m, n, k, ta, tb,
                  worst);
            CHECK(!memcmp(c1, c3, m * n * sizeof *c1), "%s: sgemm %zux%zux%zu differs on 1 and 3 threads", path, m,
                  n, k);
            /* The tiled product of A B^T (tb = 1) or A B. */
            if (!ta) {
                tiles_seen seen = {ref, n, k, calloc(m * n, 1), 0};
                CHECK_OK(fr_host_sgemm_tiles(three, tb ? FR_TRANS : FR_NO_TRANS, m, n, k, a, k, b, tb ? k : n, 16,
                                             24, NULL, consume, &seen));
                size_t missed = 0;
                for (size_t i = 0; i < m * n; i++)
                    missed += seen.count[i] != 1;
                CHECK(!seen.bad && missed == 0, "%s: sgemm_tiles %zux%zux%zu: %zu values handed out not once%s",
                      path, m, n, k, missed, seen.bad ? ", some off the reference" : "");
                free(seen.count);
            }
            free(a);
            free(b);
            free(ref);
            free(c1);
            free(c3);
        }
    fr_host_free(one);
    fr_host_free(three);
}

static void test_adam(fr_host *h, const char *path)
{
    size_t rows_total = 50, dim = 9, n_rows = 4;
    int32_t rows[4] = {3, 17, 40, 0};
    float *param = random_floats(rows_total * dim), *grad = random_floats(n_rows * dim);
    float *m = calloc(rows_total * dim, sizeof *m), *v = calloc(rows_total * dim, sizeof *v);
    double *rp = malloc(rows_total * dim * sizeof *rp), *rm = calloc(rows_total * dim, sizeof *rm),
           *rv = calloc(rows_total * dim, sizeof *rv);
    for (size_t i = 0; i < rows_total * dim; i++)
        rp[i] = param[i];
    fr_adam_step step = {0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, 1};
    fr_host_adam_rows(h, n_rows, dim, rows, grad, param, m, v, &step);
    ref_adam_rows(n_rows, dim, rows, grad, rp, rm, rv, step.lr, step.beta1, step.beta2, step.eps, step.weight_decay,
                  step.decoupled, (long)step.step);
    size_t off = 0;
    for (size_t i = 0; i < rows_total * dim; i++)
        off += !near(param[i], rp[i], 1.0, 1e-6) || !near(m[i], rm[i], 1.0, 1e-6) || !near(v[i], rv[i], 1.0, 1e-6);
    CHECK(off == 0, "%s: adam_rows: %zu values off the reference", path, off);
    free(param);
    free(grad);
    free(m);
    free(v);
    free(rp);
    free(rm);
    free(rv);
}

static fr_status fail_from(void *arg, size_t t)
{
    size_t first_bad = *(const size_t *)arg;
    if (t >= first_bad)
        return fr_fail(FR_ERR_NUMERIC, "task %zu failed", t);
    return FR_OK;
}

static void count_task(void *arg, size_t t)
{
    ((unsigned char *)arg)[t]++;
}

int main(void)
{
    fr_rng_init(&rng, 5, 0, 0, FR_RNG_INIT);
    const fr_cpu_isa isas[] = {FR_ISA_SCALAR, FR_ISA_AVX2, FR_ISA_AVX512, FR_ISA_NEON};
    int ran = 0;
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++) {
        if (!fr_cpu_isa_built(isas[i]) || !fr_cpu_isa_supported(isas[i]))
            continue;
        const char *path = fr_cpu_isa_name(isas[i]);
        fr_host *h = NULL;
        CHECK_OK(fr_host_create(isas[i], 2, &h));
        if (!h)
            continue;
        test_vec(h, path);
        test_adam(h, path);
        fr_host_free(h);
        test_gemm(path, isas[i]);
        ran++;
        printf("%s: checked\n", path);
    }
    CHECK(ran > 0, "no CPU path ran");
    /* Parallel loops: every task once; the lowest failure reported. */
    fr_host *h = NULL;
    CHECK_OK(fr_host_create(FR_ISA_AUTO, 3, &h));
    if (h) {
        unsigned char hits[1000] = {0};
        fr_host_parallel_for(h, 1000, count_task, hits);
        size_t wrong = 0;
        for (size_t t = 0; t < 1000; t++)
            wrong += hits[t] != 1;
        CHECK(wrong == 0, "parallel_for: %zu tasks not run exactly once", wrong);
        size_t first_bad = 437;
        fr_status s = fr_host_parallel_try(h, 1000, fail_from, &first_bad);
        CHECK(s == FR_ERR_NUMERIC && strstr(fr_last_error(), "task 437 failed"),
              "parallel_try: status %d, message '%s' (expected task 437's)", (int)s, fr_last_error());
        first_bad = 1000;
        CHECK_OK(fr_host_parallel_try(h, 1000, fail_from, &first_bad));
        fr_host_free(h);
    }
    /* Refusals. */
    fr_host *none = NULL;
    CHECK(fr_host_create((fr_cpu_isa)99, 1, &none) == FR_ERR_INVALID && !none, "an unknown path was not refused");
    CHECK(fr_host_create(FR_ISA_AUTO, 5000, &none) == FR_ERR_INVALID && !none, "5000 threads were not refused");
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++)
        if (!fr_cpu_isa_built(isas[i]) || !fr_cpu_isa_supported(isas[i])) {
            CHECK(fr_host_create(isas[i], 1, &none) == FR_ERR_UNSUPPORTED && !none, "path %s was not refused",
                  fr_cpu_isa_name(isas[i]));
            CHECK(strstr(fr_last_error(), fr_cpu_isa_name(isas[i])) != NULL, "the refusal does not name %s: %s",
                  fr_cpu_isa_name(isas[i]), fr_last_error());
        }
    return fr_test_finish("test_host");
}
