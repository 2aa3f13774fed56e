/* bench_mtrec.c — `fedrec bench mtrec CONFIG`: where an mtrec job's time
 * and memory go at real-world scale (doc/BENCHMARKS.md, "mtrec at scale";
 * bench/mtrec_scale.sh makes a PMTRec-sized data set and runs it). Each
 * phase prints its wall and process CPU seconds: data load, training
 * epochs, full ranking of the validation and the test users (the product
 * and the top-K selection timed apart, summed over the threads), then the
 * ranking's product alone (the same tiled GEMM, nothing reading it) and a
 * square SGEMM for the machine's GFLOP/s, the load average before and
 * after (the machine may be shared) and the peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend/cpu/cpu_engine.h"
#include "cli/bench_util.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "fedrec/config.h"
#include "fedrec/mtrec.h"

static void mtrec_usage(FILE *out)
{
    fprintf(out, "Usage: fedrec bench mtrec CONFIG [--set K=V ...] [--epochs N]\n\n"
                 "Times an mtrec job's phases on its data: load, N training epochs (default 1),\n"
                 "full ranking of the validation and test users (GEMM and top-K selection\n"
                 "apart), the ranking's product alone and a 1024^3 SGEMM for reference;\n"
                 "wall and process CPU seconds, load average, peak RSS.\n");
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct phase {
    double wall, cpu;
} phase;

static phase phase_start(void)
{
    phase p = {fr_bench_now(), cpu_seconds()};
    return p;
}

static void phase_print(const char *what, phase p0)
{
    printf("%-34s %8.3f s wall %8.3f s cpu\n", what, fr_bench_now() - p0.wall, cpu_seconds() - p0.cpu);
}

static void no_consumer(void *arg, int slot, size_t i0, size_t rows, size_t j0, size_t cols, const float *c,
                        size_t ldc)
{
    (void)arg, (void)slot, (void)i0, (void)rows, (void)j0, (void)cols, (void)c, (void)ldc;
}

static void print_load(const char *when)
{
    double load[3];
    if (getloadavg(load, 3) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
}

/* The machine's GEMM speed: the ranking's product alone (its shape and
 * tiles, no selection), and a square 1024^3 SGEMM. */
static fr_status reference_gemm(const fr_mtr_options *o, const fr_mtr_data *d, const float *table)
{
    fr_cpu_engine *e;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = o->threads > 0 ? o->threads : (int)(cores > 0 ? cores : 1);
    fr_status s = fr_cpu_engine_create(o->cpu_isa ? (fr_cpu_isa)o->cpu_isa : fr_cpu_isa_best(), threads, &e);
    if (s != FR_OK)
        return s;
    size_t dim = o->dim;
    phase p = phase_start();
    s = fr_cpu_sgemm_tiles(e, FR_TRANS, d->n_users, d->n_items, dim, table, dim,
                                     table + d->n_users * dim, dim, 96, 1024, NULL, no_consumer, NULL);
    double wall = fr_bench_now() - p.wall;
    double flop = 2.0 * (double)d->n_users * (double)d->n_items * (double)dim;
    double cpu = cpu_seconds() - p.cpu;
    if (s == FR_OK)
        printf("%-34s %8.3f s wall %8.3f s cpu  %.3f TFLOP: %.1f GFLOP/s, %.1f per CPU-second\n",
               "  the product alone (no top-K)", wall, cpu, flop * 1e-12, flop / wall * 1e-9, flop / cpu * 1e-9);
    size_t n = 1024;
    float *a = s == FR_OK ? malloc(3 * n * n * sizeof *a) : NULL;
    if (s == FR_OK && !a)
        s = fr_cli_fail(FR_ERR_NOMEM, "out of memory for the reference SGEMM");
    if (s == FR_OK) {
        for (size_t i = 0; i < 3 * n * n; i++)
            a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        fr_cpu_sgemm(e, FR_NO_TRANS, FR_NO_TRANS, n, n, n, 1.0f, a, n, a + n * n, n, 0.0f, a + 2 * n * n, n);
        int reps = 0;
        p = phase_start();
        do {
            fr_cpu_sgemm(e, FR_NO_TRANS, FR_NO_TRANS, n, n, n, 1.0f, a, n, a + n * n, n, 0.0f,
                         a + 2 * n * n, n);
            reps++;
        } while (fr_bench_now() - p.wall < 1.0);
        wall = (fr_bench_now() - p.wall) / reps;
        cpu = (cpu_seconds() - p.cpu) / reps;
        flop = 2.0 * (double)n * n * n;
        printf("%-34s %8.3f s wall %8.3f s cpu  per call: %.1f GFLOP/s, %.1f per CPU-second\n",
               "  sgemm 1024 x 1024 x 1024", wall, cpu, flop / wall * 1e-9, flop / cpu * 1e-9);
    }
    free(a);
    fr_cpu_engine_destroy(e);
    return s;
}

static int bench_run(const fr_config *cfg, long epochs)
{
    fr_mtr_options o;
    int64_t patience, min_epochs, cfg_epochs;
    fr_status s = fr_cli_mtrec_options(cfg, &o, &patience, &min_epochs, &cfg_epochs);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    print_load("before");
    fr_mtr_data data;
    char what[1024];
    phase p = phase_start();
    s = fr_cli_mtrec_load_data(cfg, &data, what, sizeof what, 1);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    printf("data: %s: %zu users, %zu items, %zu training interactions, %zu links, %zu categories\n", what,
           data.n_users, data.n_items, data.n_train, data.links.n_pairs, data.n_categories);
    printf("tasks:");
    for (size_t t = 0; t < o.n_tasks; t++)
        printf(" %s", fr_mtr_task_name(o.tasks[t]));
    printf("; combiner %s; dim %zu; batch %zu; %s Adam\n\n", fr_combine_method_name(o.combine.method), o.dim,
           o.batch, o.dense_adam ? "dense" : "lazy");
    phase_print("data load", p);
    fr_mtr *m = NULL;
    p = phase_start();
    s = fr_mtr_create(&data, &o, &m);
    if (s == FR_OK)
        phase_print("trainer setup", p);
    for (long e = 0; s == FR_OK && e < epochs; e++) {
        fr_mtr_epoch ep;
        p = phase_start();
        s = fr_mtr_train_epoch(m, (unsigned)e, &ep);
        char label[64];
        snprintf(label, sizeof label, "training epoch %ld (bpr loss %.4f)", e + 1, ep.loss[0]);
        if (s == FR_OK)
            phase_print(label, p);
    }
    for (int test = 0; s == FR_OK && test < 2; test++) {
        fr_rank_metrics r;
        p = phase_start();
        s = fr_mtr_evaluate(m, test, &r);
        if (s != FR_OK)
            break;
        char label[96];
        snprintf(label, sizeof label, "full ranking, %s (%zu users)", test ? "test" : "validation", r.users);
        phase_print(label, p);
        fr_mtr_eval_profile pr;
        fr_mtr_last_eval_profile(m, &pr);
        printf("  GEMM (tiles, packing, waits)    %8.3f s cpu      top-K selection %8.3f s cpu\n"
               "  merge + figures                 %8.3f s wall     (%d threads; Recall@20 %.5f)\n"
               "  scores computed                 %8.1f %% of users x items (the norm bound spared the rest)\n",
               pr.gemm_cpu_seconds, pr.select_cpu_seconds, pr.merge_seconds, pr.threads, r.recall[2],
               100.0 * pr.computed_fraction);
    }
    if (s == FR_OK) {
        printf("reference, this machine:\n");
        s = reference_gemm(&o, &data, fr_mtr_embeddings(m));
    }
    fr_mtr_free(m);
    fr_mtr_data_free(&data);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    print_load("after");
    return FR_EXIT_OK;
}

int fr_cli_bench_mtrec(int argc, char **argv)
{
    const char *path = NULL;
    fr_cli_sets sets;
    memset(&sets, 0, sizeof sets);
    long epochs = 1;
    for (int i = 1; i < argc; i++) {
        int took = fr_cli_take_set("bench mtrec", argc, argv, &i, &sets);
        if (took < 0)
            return FR_EXIT_USAGE;
        if (took)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            mtrec_usage(stdout);
            return FR_EXIT_OK;
        } else if (!strcmp(argv[i], "--epochs")) {
            if (!fr_bench_parse_positive("--epochs", i + 1 < argc ? argv[++i] : NULL, 1000, &epochs))
                return FR_EXIT_USAGE;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "fedrec bench mtrec: unexpected argument '%s' (try --help)\n", argv[i]);
            return FR_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        mtrec_usage(stderr);
        return FR_EXIT_USAGE;
    }
    fr_config *cfg;
    fr_status s = fr_config_build(path, sets.items, sets.count, &cfg);
    if (s != FR_OK)
        return fr_cli_report(s, path);
    const char *kind;
    fr_config_get_string(cfg, "job.kind", &kind);
    int rc;
    if (strcmp(kind, "mtrec") != 0) {
        fprintf(stderr, "fedrec bench mtrec: %s: job.kind is '%s', expected mtrec\n", path, kind);
        rc = FR_EXIT_USAGE;
    } else {
        rc = bench_run(cfg, epochs);
    }
    fr_config_free(cfg);
    return rc;
}
