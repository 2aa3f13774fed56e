/* cmd_bench.c — `fedrec bench gemm`: SGEMM speed in GFLOP/s over the
 * standard shapes, single- and multi-threaded, beside OpenBLAS when
 * libopenblas can be loaded at run time (dlopen: never a build or link
 * dependency). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset before
 * OpenBLAS loads, since some machines set them to values that slow it; the
 * benchmark says so (with the values they had), and prints the core and
 * build configuration OpenBLAS then reports. Later benchmarks add a
 * subcommand to the table at the bottom. `--backend opencl` times the OpenCL device
 * through the backend interface instead; `fedrec bench launch`
 * (bench_launch.c) measures the fixed cost per op call. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/cpu/cpu_engine.h"
#include "cli/cli.h"
#include "cli/bench_util.h"
#include "cli/cmd_bench.h"
#include "fedrec/backend.h"
#include "fedrec/rng.h"

/* ---- OpenBLAS, loaded at run time -------------------------------------- */

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111 };
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *,
                               int, const float *, int, float, float *, int);

typedef struct openblas {
    void *handle;
    const char *file;          /* the name dlopen accepted */
    cblas_sgemm_fn sgemm;
    void (*set_threads)(int);
    char *(*corename)(void);
    char *(*config)(void);
    char unset_note[256];      /* which variables were unset, and from what */
} openblas;

/* Unset an environment variable that would steer OpenBLAS, noting its
 * value in the report. */
static void unset_noting(openblas *ob, const char *name)
{
    const char *v = getenv(name);
    size_t len = strlen(ob->unset_note);
    snprintf(ob->unset_note + len, sizeof ob->unset_note - len, "%s%s %s", len ? ", " : "", name,
             v ? "(was set to '" : "(was not set)");
    if (v) {
        len = strlen(ob->unset_note);
        snprintf(ob->unset_note + len, sizeof ob->unset_note - len, "%.40s')", v);
    }
    unsetenv(name);
}

static int openblas_load(openblas *ob)
{
    memset(ob, 0, sizeof *ob);
    /* Before dlopen: OpenBLAS reads them when it initialises. */
    unset_noting(ob, "OPENBLAS_CORETYPE");
    unset_noting(ob, "OPENBLAS_L2_SIZE");
    const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
    for (size_t i = 0; i < 2 && !ob->handle; i++)
        if ((ob->handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL)) != NULL)
            ob->file = names[i];
    if (!ob->handle)
        return 0;
    *(void **)&ob->sgemm = dlsym(ob->handle, "cblas_sgemm");
    *(void **)&ob->set_threads = dlsym(ob->handle, "openblas_set_num_threads");
    *(void **)&ob->corename = dlsym(ob->handle, "openblas_get_corename");
    *(void **)&ob->config = dlsym(ob->handle, "openblas_get_config");
    if (!ob->sgemm) {
        dlclose(ob->handle);
        ob->handle = NULL;
        return 0;
    }
    return 1;
}

/* ---- timing -------------------------------------------------------------- */


typedef struct shape {
    size_t m, n, k;
} shape;

typedef struct gemm_case {
    const shape *s;
    const float *a, *b;
    float *c;
    fr_cpu_engine *engine;
    openblas *ob;
    fr_backend *be;           /* through the backend interface (OpenCL) */
    fr_view va, vb, vc;
} gemm_case;

static void run_once(const gemm_case *g)
{
    const shape *s = g->s;
    if (g->be) {
        fr_gemm(g->be, FR_NO_TRANS, FR_NO_TRANS, s->m, s->n, s->k, 1.0f, g->va, s->k, g->vb, s->n,
                0.0f, g->vc, s->n);
        fr_backend_finish(g->be);
    } else if (g->engine)
        fr_cpu_sgemm(g->engine, FR_NO_TRANS, FR_NO_TRANS, s->m, s->n, s->k, 1.0f, g->a,
                     s->k, g->b, s->n, 0.0f, g->c, s->n);
    else
        g->ob->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, (int)s->m, (int)s->n,
                     (int)s->k, 1.0f, g->a, (int)s->k, g->b, (int)s->n, 0.0f, g->c, (int)s->n);
}

/* Best GFLOP/s over `repeat` measurements of at least min_seconds each. */
static double measure(const gemm_case *g, int repeat, double min_seconds)
{
    double flops = 2.0 * (double)g->s->m * (double)g->s->n * (double)g->s->k;
    /* Warm-up: page faults, thread start-up, caches, clocks. */
    double w0 = fr_bench_now();
    do
        run_once(g);
    while (fr_bench_now() - w0 < min_seconds / 4);
    double best = 0;
    for (int r = 0; r < repeat; r++) {
        long calls = 0;
        double t0 = fr_bench_now(), t;
        do {
            run_once(g);
            calls++;
            t = fr_bench_now() - t0;
        } while (t < min_seconds);
        double gflops = flops * (double)calls / t * 1e-9;
        if (gflops > best)
            best = gflops;
    }
    return best;
}

/* ---- options ------------------------------------------------------------- */

static void gemm_usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec bench gemm [--threads N] [--isa NAME] [--repeat R] [--quick]\n"
            "                         [--shape MxNxK]... [--no-openblas]\n\n"
            "SGEMM speed (C = A*B, row-major, float32) in GFLOP/s for M in {256, 2048,\n"
            "4096} and N = K in {16, 64, 256, 512, 1024}, with 1 thread and with N\n"
            "threads (default: online cores), beside OpenBLAS when libopenblas.so.0 can be\n"
            "loaded (with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset).\n\n"
            "  --threads N     threads of the multi-threaded columns (default: online cores)\n"
            "  --isa NAME      CPU path: auto, scalar, avx2, avx512, neon (default: auto)\n"
            "  --repeat R      measurements per figure, best kept (default: 3)\n"
            "  --quick         shorter measurements, M in {256, 2048} only\n"
            "  --shape MxNxK   measure these shapes instead of the standard ones (repeatable)\n"
            "  --no-openblas   do not load OpenBLAS\n"
            "  --backend NAME  cpu (default) or opencl: time the first OpenCL device\n"
            "                  (opencl.device order) through the backend, beside the CPU\n");
}


static void fill_random(float *x, size_t n, uint32_t stream)
{
    fr_rng rng;
    fr_rng_init(&rng, 1, 0, stream, FR_RNG_TEST);
    for (size_t i = 0; i < n; i++)
        x[i] = fr_rng_uniform(&rng) - 0.5f;
}

/* The OpenCL device through the backend interface, beside the CPU engine
 * with all its threads. Data stays on the device; each measurement ends
 * with the queue finished. */
static int bench_gemm_opencl(const shape *shapes, size_t n_shapes, fr_cpu_engine *cpu,
                             int repeat, double min_seconds)
{
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = FR_BACKEND_OPENCL;
    opt.opencl_min_elements = 0;
    fr_backend *be;
    fr_status s = fr_backend_open(&opt, &be);
    if (s != FR_OK) {
        /* Exit codes of fr_cli_bench: 2 for what this build or machine
         * lacks (a bad --backend here), 1 for other failures. */
        fr_cli_report(s, "bench gemm --backend opencl");
        return s == FR_ERR_UNSUPPORTED ? FR_EXIT_USAGE : FR_EXIT_FAILURE;
    }
    printf("fedrec bench gemm: %s\nbeside the CPU engine (%s, %d threads)\n\n", fr_backend_describe(be),
           fr_cpu_isa_name(fr_cpu_engine_isa(cpu)), fr_cpu_engine_threads(cpu));
    printf("%6s %6s %6s | %10s %10s %7s\n", "M", "N", "K", "opencl", "cpu Nt", "ratio");
    int rc = FR_EXIT_OK;
    for (size_t i = 0; i < n_shapes && rc == FR_EXIT_OK; i++) {
        const shape *sh = &shapes[i];
        size_t na = sh->m * sh->k, nb = sh->k * sh->n, nc = sh->m * sh->n;
        float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4);
        fr_buffer *ba = NULL, *bb = NULL, *bc = NULL;
        if (!a || !b || !c || fr_buffer_alloc(be, na * 4, &ba) != FR_OK ||
            fr_buffer_alloc(be, nb * 4, &bb) != FR_OK || fr_buffer_alloc(be, nc * 4, &bc) != FR_OK) {
            fr_cli_report(FR_ERR_NOMEM, "bench gemm --backend opencl");
            rc = FR_EXIT_FAILURE;
        } else {
            fill_random(a, na, 1);
            fill_random(b, nb, 2);
            fr_buffer_upload(ba, 0, a, na * 4);
            fr_buffer_upload(bb, 0, b, nb * 4);
            gemm_case g = {.s = sh, .a = a, .b = b, .c = c, .be = be, .va = fr_view_of(ba, 0),
                           .vb = fr_view_of(bb, 0), .vc = fr_view_of(bc, 0)};
            double fo = measure(&g, repeat, min_seconds);
            gemm_case gc = {.s = sh, .a = a, .b = b, .c = c, .engine = cpu};
            double fcpu = measure(&gc, repeat, min_seconds);
            printf("%6zu %6zu %6zu | %10.2f %10.1f %6.2fx\n", sh->m, sh->n, sh->k, fo, fcpu, fo / fcpu);
            fflush(stdout);
        }
        fr_buffer_free(ba);
        fr_buffer_free(bb);
        fr_buffer_free(bc);
        free(a);
        free(b);
        free(c);
    }
    printf("\nGFLOP/s, best of %d; ratio = opencl / cpu. On PoCL (OpenCL on a CPU) this shows\n"
           "correctness and overheads, not what a GPU would do.\n", repeat);
    fr_backend_close(be);
    return rc;
}

static int bench_gemm(int argc, char **argv)
{
    long threads = sysconf(_SC_NPROCESSORS_ONLN), repeat = 3;
    fr_cpu_isa isa = FR_ISA_AUTO;
    int quick = 0, use_openblas = 1, use_opencl = 0;
    shape custom[32];
    size_t n_custom = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            gemm_usage(stdout);
            return FR_EXIT_OK;
        } else if (!strcmp(o, "--threads")) {
            if (!fr_bench_parse_positive(o, v, 1024, &threads))
                return FR_EXIT_USAGE;
            i++;
        } else if (!strcmp(o, "--repeat")) {
            if (!fr_bench_parse_positive(o, v, 1000, &repeat))
                return FR_EXIT_USAGE;
            i++;
        } else if (!strcmp(o, "--isa")) {
            if (!v || fr_cpu_isa_parse(v, &isa) != FR_OK) {
                fprintf(stderr, "fedrec bench gemm: --isa: %s\n", v ? fr_last_error() : "needs a value");
                return FR_EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(o, "--shape")) {
            unsigned long m, n, k;
            char tail;
            if (!v || sscanf(v, "%lux%lux%lu%c", &m, &n, &k, &tail) != 3 || !m || !n || !k ||
                m > 65536 || n > 65536 || k > 65536) {
                fprintf(stderr, "fedrec bench gemm: --shape needs MxNxK with each in [1, 65536], got '%s'\n",
                        v ? v : "");
                return FR_EXIT_USAGE;
            }
            if (n_custom == sizeof custom / sizeof custom[0]) {
                fprintf(stderr, "fedrec bench gemm: at most 32 --shape options\n");
                return FR_EXIT_USAGE;
            }
            custom[n_custom++] = (shape){m, n, k};
            i++;
        } else if (!strcmp(o, "--backend")) {
            if (!v || (strcmp(v, "cpu") && strcmp(v, "opencl"))) {
                fprintf(stderr, "fedrec bench gemm: --backend needs cpu or opencl, got '%s'\n", v ? v : "");
                return FR_EXIT_USAGE;
            }
            use_opencl = !strcmp(v, "opencl");
            i++;
        } else if (!strcmp(o, "--quick")) {
            quick = 1;
        } else if (!strcmp(o, "--no-openblas")) {
            use_openblas = 0;
        } else {
            fprintf(stderr, "fedrec bench gemm: unknown option '%s' (try --help)\n", o);
            return FR_EXIT_USAGE;
        }
    }
    if (isa == FR_ISA_AUTO)
        isa = fr_cpu_isa_best();
    fr_cpu_engine *one, *many;
    fr_status st = fr_cpu_engine_create(isa, 1, &one);
    if (st == FR_ERR_UNSUPPORTED) {
        /* A path this build or CPU lacks: a bad value for --isa here. */
        fprintf(stderr, "fedrec bench gemm: --isa %s: %s; usable here:", fr_cpu_isa_name(isa),
                fr_last_error());
        for (int p = FR_ISA_SCALAR; p <= FR_ISA_NEON; p++)
            if (fr_cpu_isa_built((fr_cpu_isa)p) && fr_cpu_isa_supported((fr_cpu_isa)p))
                fprintf(stderr, " %s", fr_cpu_isa_name((fr_cpu_isa)p));
        fputc('\n', stderr);
        return FR_EXIT_USAGE;
    }
    if (st != FR_OK) {
        fr_cli_report(st, "bench gemm");
        return FR_EXIT_FAILURE;
    }
    st = fr_cpu_engine_create(isa, (int)threads, &many);
    if (st != FR_OK) {
        fr_cpu_engine_destroy(one);
        fr_cli_report(st, "bench gemm");
        return FR_EXIT_FAILURE;
    }
    shape shapes[32];
    size_t n_shapes = 0;
    if (n_custom) {
        memcpy(shapes, custom, n_custom * sizeof *shapes);
        n_shapes = n_custom;
    } else {
        const size_t ms[] = {256, 2048, 4096}, nks[] = {16, 64, 256, 512, 1024};
        for (size_t i = 0; i < (quick ? 2u : 3u); i++)
            for (size_t j = 0; j < 5; j++)
                shapes[n_shapes++] = (shape){ms[i], nks[j], nks[j]};
    }
    if (use_opencl) {
        int rc = bench_gemm_opencl(shapes, n_shapes, many, (int)repeat, quick ? 0.05 : 0.2);
        fr_cpu_engine_destroy(one);
        fr_cpu_engine_destroy(many);
        return rc;
    }
    openblas ob;
    int have_ob = use_openblas && openblas_load(&ob);
    printf("fedrec bench gemm: path %s, %ld thread%s for the multi-threaded columns\n",
           fr_cpu_isa_name(isa), threads, threads == 1 ? "" : "s");
    if (have_ob) {
        printf("OpenBLAS: %s loaded at run time; unset for the comparison: %s\n", ob.file,
               ob.unset_note);
        printf("OpenBLAS: core %s; config: %s\n", ob.corename ? ob.corename() : "(unknown)",
               ob.config ? ob.config() : "(unknown)");
    } else
        printf("OpenBLAS: %s\n", use_openblas ? "not found (install libopenblas0 to compare)" : "not loaded (--no-openblas)");
    printf("\n%6s %6s %6s | %10s %10s %6s | %10s %10s %6s\n", "M", "N", "K", "fedrec 1t",
           "openblas 1t", "ratio", "fedrec Nt", "openblas Nt", "ratio");
    double min_seconds = quick ? 0.05 : 0.2;
    for (size_t i = 0; i < n_shapes; i++) {
        const shape *s = &shapes[i];
        float *a = malloc(s->m * s->k * sizeof *a), *b = malloc(s->k * s->n * sizeof *b);
        float *c = malloc(s->m * s->n * sizeof *c);
        if (!a || !b || !c) {
            free(a); free(b); free(c);
            fprintf(stderr, "fedrec bench gemm: out of memory for %zux%zux%zu\n", s->m, s->n, s->k);
            break;
        }
        fill_random(a, s->m * s->k, 1);
        fill_random(b, s->k * s->n, 2);
        gemm_case g = {.s = s, .a = a, .b = b, .c = c, .engine = one};
        double f1 = measure(&g, (int)repeat, min_seconds);
        g.engine = many;
        double fn = measure(&g, (int)repeat, min_seconds);
        double o1 = 0, on = 0;
        if (have_ob) {
            gemm_case go = {.s = s, .a = a, .b = b, .c = c, .ob = &ob};
            if (ob.set_threads)
                ob.set_threads(1);
            o1 = measure(&go, (int)repeat, min_seconds);
            if (ob.set_threads)
                ob.set_threads((int)threads);
            on = measure(&go, (int)repeat, min_seconds);
        }
        if (have_ob)
            printf("%6zu %6zu %6zu | %10.1f %10.1f %5.0f%% | %10.1f %10.1f %5.0f%%\n", s->m, s->n,
                   s->k, f1, o1, 100 * f1 / o1, fn, on, 100 * fn / on);
        else
            printf("%6zu %6zu %6zu | %10.1f %10s %6s | %10.1f %10s %6s\n", s->m, s->n, s->k, f1,
                   "-", "-", fn, "-", "-");
        fflush(stdout);
        free(a);
        free(b);
        free(c);
    }
    printf("\nGFLOP/s, best of %ld; ratio = fedrec / OpenBLAS.\n", repeat);
    fr_cpu_engine_destroy(one);
    fr_cpu_engine_destroy(many);
    /* OpenBLAS stays loaded: its worker threads may still be winding down. */
    return FR_EXIT_OK;
}

/* ---- subcommands ----------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} benches[] = {
    {"gemm", bench_gemm, "SGEMM GFLOP/s, single- and multi-threaded, beside OpenBLAS (or OpenCL)"},
    {"launch", fr_cli_bench_launch, "time per call of tiny ops on the CPU and on OpenCL"},
    {"rounds", fr_cli_bench_rounds, "PFedRec rounds one by one, as cohorts on the CPU and on OpenCL: s/round, launches"},
    {"mtrec", fr_cli_bench_mtrec, "an mtrec job's phases: load, epoch, full ranking (GEMM, top-K), RSS"},
};

int fr_cli_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "Usage: fedrec bench NAME [OPTIONS]\n\nBenchmarks:\n");
        for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
            fprintf(out, "  %-6s %s\n", benches[i].name, benches[i].summary);
        fprintf(out, "\n'fedrec bench NAME --help' lists a benchmark's options.\n");
        return argc < 2 ? FR_EXIT_USAGE : FR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (!strcmp(argv[1], benches[i].name))
            return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "fedrec bench: unknown benchmark '%s' (try 'fedrec bench --help')\n", argv[1]);
    return FR_EXIT_USAGE;
}
