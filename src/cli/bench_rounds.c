/* bench_rounds.c — `fedrec bench rounds`: PFedRec's (or FedMF's) rounds
 * three ways side by side in one process — clients one by one on the
 * host's threads, as cohorts on the CPU backend, as cohorts on the OpenCL
 * device (every op on it) when there is one — with the seconds per round,
 * the backend ops (kernel launches on a device) per round, and the last
 * round's test HR of each, which must agree (doc/BENCHMARKS.md, "Cohorts";
 * doc/PFEDREC.md). The data: a MovieLens file, or synthetic implicit
 * feedback of a given shape (by default MovieLens-100K's: 943 users, 1682
 * items, about 106 ratings each). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/bench_util.h"
#include "cli/cli.h"
#include "fedrec/backend.h"
#include "fedrec/pfedrec.h"
#include "fedrec/ratings.h"

static void rounds_usage(FILE *out)
{
    fprintf(out, "Usage: fedrec bench rounds [--movielens FILE | --users U --items I --per-user N]\n"
                 "                           [--rounds R] [--cohort C] [--threads T] [--fedmf | --fedncf]\n"
                 "                           [--paths host,cpu,opencl]\n\n"
                 "Times PFedRec rounds (FedMF with --fedmf, FedNCF with --fedncf) three ways in\n"
                 "one run: clients one by one on the host's threads, cohorts of C clients\n"
                 "(default 1024, FedNCF 128) on the CPU\n"
                 "backend, and cohorts on the OpenCL device with every op there (skipped without\n"
                 "a device). Prints, for each, the median seconds per round after the first (the\n"
                 "first compiles kernels), the backend ops per round (kernel launches on a\n"
                 "device) and the last round's test HR@10. Data: a MovieLens u.data file, or\n"
                 "synthetic implicit feedback (default 943 users, 1682 items, 106 each: the\n"
                 "shape of MovieLens-100K). R rounds (default 5), T threads (default: all cores).\n"
                 "--paths: which of the three to run (default all).\n");
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_figures {
    double median_s, first_s;
    double ops_per_round;
    double test_hr;
} bench_figures;

static fr_status time_rounds(const fr_loo_split *split, const fr_pfedrec_options *base, fr_backend *be,
                             size_t cohort, long rounds, bench_figures *out)
{
    fr_pfedrec_options o = *base;
    o.backend = be;
    o.cohort = cohort;
    fr_pfedrec *p;
    fr_status cs = fr_pfedrec_create(split, &o, &p);
    if (cs != FR_OK)
        return cs;
    double *t = calloc((size_t)rounds, sizeof *t);
    if (!t) {
        fr_pfedrec_free(p);
        return fr_cli_fail(FR_ERR_NOMEM, "bench rounds: out of memory for %ld round times", rounds);
    }
    uint64_t ops0 = be ? fr_backend_ops_issued(be) : 0, ops1 = ops0;
    fr_status s = FR_OK;
    fr_pfedrec_round r;
    for (long k = 0; k < rounds && s == FR_OK; k++) {
        double t0 = fr_bench_now();
        s = fr_pfedrec_run_round(p, (unsigned)k, &r);
        t[k] = fr_bench_now() - t0;
        if (k == 0 && be)
            ops1 = fr_backend_ops_issued(be);
    }
    if (s == FR_OK) {
        out->first_s = t[0];
        out->test_hr = r.test_hr;
        out->ops_per_round = be && rounds > 1 ? (double)(fr_backend_ops_issued(be) - ops1) / (double)(rounds - 1)
                             : be ? (double)(ops1 - ops0)
                                  : 0;
        qsort(t + (rounds > 1), (size_t)rounds - (rounds > 1), sizeof *t, compare_double);
        size_t n = (size_t)rounds - (rounds > 1);
        out->median_s = t[(rounds > 1) + n / 2];
    }
    free(t);
    fr_pfedrec_free(p);
    return s;
}

int fr_cli_bench_rounds(int argc, char **argv)
{
    long rounds = 5, cohort = 0, threads = 0, users = 943, items = 1682, per_user = 106;
    const char *movielens = NULL;
    int fedmf = 0, fedncf = 0, want[3] = {1, 1, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *target = !strcmp(a, "--rounds")     ? &rounds
                       : !strcmp(a, "--cohort")   ? &cohort
                       : !strcmp(a, "--threads")  ? &threads
                       : !strcmp(a, "--users")    ? &users
                       : !strcmp(a, "--items")    ? &items
                       : !strcmp(a, "--per-user") ? &per_user
                                                  : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            rounds_usage(stdout);
            return FR_EXIT_OK;
        } else if (!strcmp(a, "--fedmf")) {
            fedmf = 1;
        } else if (!strcmp(a, "--fedncf")) {
            fedncf = 1;
        } else if (!strcmp(a, "--paths")) {
            if (!v) {
                fprintf(stderr, "fedrec bench rounds: --paths needs a list of host, cpu, opencl\n");
                return FR_EXIT_USAGE;
            }
            want[0] = want[1] = want[2] = 0;
            for (const char *c = v; *c;) {
                size_t len = strcspn(c, ",");
                int which = len == 4 && !strncmp(c, "host", 4)     ? 0
                            : len == 3 && !strncmp(c, "cpu", 3)    ? 1
                            : len == 6 && !strncmp(c, "opencl", 6) ? 2
                                                                   : -1;
                if (which < 0) {
                    fprintf(stderr, "fedrec bench rounds: --paths %s: '%.*s' is not host, cpu or opencl\n", v,
                            (int)len, c);
                    return FR_EXIT_USAGE;
                }
                want[which] = 1;
                c += len + (c[len] == ',');
            }
            i++;
        } else if (!strcmp(a, "--movielens")) {
            if (!v) {
                fprintf(stderr, "fedrec bench rounds: --movielens needs a file (MovieLens u.data)\n");
                return FR_EXIT_USAGE;
            }
            movielens = v;
            i++;
        } else if (target) {
            if (!fr_bench_parse_positive(a, v, 100000000, target))
                return FR_EXIT_USAGE;
            i++;
        } else {
            fprintf(stderr, "fedrec bench rounds: unknown option '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        }
    }
    if (fedmf && fedncf) {
        fprintf(stderr, "fedrec bench rounds: --fedmf and --fedncf: pick one algorithm\n");
        return FR_EXIT_USAGE;
    }
    fr_ratings r;
    fr_status s;
    if (movielens) {
        fr_ratings_spec spec;
        fr_ratings_spec_default(FR_RATINGS_MOVIELENS_TAB, &spec);
        s = fr_ratings_read(movielens, &spec, &r);
    } else {
        fr_implicit_spec gen = {0, (size_t)users, (size_t)items, (size_t)per_user};
        s = fr_implicit_generate(&gen, &r);
    }
    if (s != FR_OK)
        return fr_cli_report(s, "bench rounds");
    fr_loo_split split;
    s = fr_loo_split_make(&r, 0, 99, &split);
    fr_ratings_free(&r);
    if (s != FR_OK)
        return fr_cli_report(s, "bench rounds");
    fr_pfedrec_options o;
    fr_pfedrec_options_default(&o);
    o.algorithm = fedmf ? FR_ALGO_FEDMF : fedncf ? FR_ALGO_FEDNCF : FR_ALGO_PFEDREC;
    o.cohort = (size_t)cohort;
    o.threads = (int)threads;
    fr_backend *be[2] = {NULL, NULL};
    fr_backend_options bo;
    fr_backend_options_default(&bo);
    bo.kind = FR_BACKEND_CPU;
    bo.threads = (int)threads;
    s = fr_backend_open(&bo, &be[0]);
    if (s != FR_OK) {
        fr_loo_split_free(&split);
        return fr_cli_report(s, "bench rounds");
    }
    bo.kind = FR_BACKEND_OPENCL;
    bo.opencl_min_elements = 0;
    char cl_note[256] = "";
    if (want[2] && fr_backend_open(&bo, &be[1]) != FR_OK) {
        snprintf(cl_note, sizeof cl_note, "%s", fr_last_error());
        be[1] = NULL;
    }
    char cpu[160];
    fr_cli_cpu_model(cpu, sizeof cpu);
    printf("%s, %zu users, %zu items; %ld rounds; cohorts of %zu; CPU: %s\n",
           fedmf ? "FedMF" : fedncf ? "FedNCF" : "PFedRec", split.n_users, split.n_items, rounds,
           fr_pfedrec_cohort_clients(&o), cpu);
    printf("%-44s %10s %10s %12s %8s\n", "path", "s/round", "1st round", "ops/round", "test HR");
    const char *names[3] = {"clients one by one (host threads)", "cohorts on the CPU backend", "cohorts on OpenCL"};
    int code = FR_EXIT_OK;
    for (int path = 0; path < 3; path++) {
        if (!want[path])
            continue;
        fr_backend *b = path == 0 ? NULL : be[path - 1];
        const char *label = names[path];
        if (path == 2 && !b) {
            printf("%-44s skipped: %s\n", names[path], cl_note[0] ? cl_note : "no OpenCL device");
            continue;
        }
        bench_figures f = {0, 0, 0, 0};
        s = time_rounds(&split, &o, b, (size_t)cohort, rounds, &f);
        if (s != FR_OK) {
            code = fr_cli_report(s, "bench rounds");
            break;
        }
        if (path == 0)
            printf("%-44s %10.3f %10.3f %12s %8.4f\n", label, f.median_s, f.first_s, "-", f.test_hr);
        else
            printf("%-44s %10.3f %10.3f %12.0f %8.4f\n", label, f.median_s, f.first_s, f.ops_per_round, f.test_hr);
    }
    for (int b = 0; b < 2; b++)
        if (be[b])
            printf("%s: %s\n", b ? "OpenCL" : "CPU backend", fr_backend_describe(be[b]));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of the process %.1f MiB (all paths)\n", (double)ru.ru_maxrss / 1024.0);
    fr_backend_close(be[0]);
    fr_backend_close(be[1]);
    fr_loo_split_free(&split);
    return code;
}
