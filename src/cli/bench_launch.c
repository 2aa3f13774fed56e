/* bench_launch.c — `fedrec bench launch`: the fixed cost of one op call
 * (op + finish) on the CPU backend and on the OpenCL device, for tiny
 * inputs: what opencl.min_elements exists to avoid. */
#include <stdio.h>
#include <string.h>

#include "cli/bench_util.h"
#include "cli/cli.h"
#include "fedrec/backend.h"


static void launch_usage(FILE *out)
{
    fprintf(out, "Usage: fedrec bench launch [--repeat R]\n\n"
                 "Time per call of tiny ops (16 to 4096 elements) on the CPU backend and on\n"
                 "the OpenCL device (every op on the device), each followed by a finish: the\n"
                 "fixed cost that opencl.min_elements exists to avoid.\n");
}

static double op_seconds(fr_backend *be, fr_view x, fr_view y, size_t n, int which, long calls)
{
    double t0 = fr_bench_now();
    for (long i = 0; i < calls; i++) {
        if (which == 0)
            fr_relu(be, n, x, y);
        else if (which == 1)
            fr_axpy(be, n, 0.5f, x, y);
        else
            fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 4, 4, 4, 1.0f, x, 4, x, 4, 0.0f, y, 4);
        fr_backend_finish(be);
    }
    return (fr_bench_now() - t0) / (double)calls;
}

int fr_cli_bench_launch(int argc, char **argv)
{
    long repeat = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            launch_usage(stdout);
            return FR_EXIT_OK;
        } else if (!strcmp(argv[i], "--repeat")) {
            if (!fr_bench_parse_positive("--repeat", i + 1 < argc ? argv[i + 1] : NULL, 1000000, &repeat))
                return FR_EXIT_USAGE;
            i++;
        } else {
            fprintf(stderr, "fedrec bench launch: unknown option '%s' (try --help)\n", argv[i]);
            return FR_EXIT_USAGE;
        }
    }
    fr_backend *be[2] = {NULL, NULL};
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = FR_BACKEND_CPU;
    opt.threads = 1;
    fr_status s = fr_backend_open(&opt, &be[0]);
    if (s != FR_OK)
        return fr_cli_report(s, "bench launch");
    opt.kind = FR_BACKEND_OPENCL;
    opt.opencl_min_elements = 0;
    if (fr_backend_open(&opt, &be[1]) != FR_OK) {
        printf("OpenCL: %s\n", fr_last_error());
        be[1] = NULL;
    }
    printf("microseconds per call (op + finish), mean of %ld calls\n", repeat);
    printf("%-12s %8s | %10s %10s\n", "op", "elements", "cpu", be[1] ? "opencl" : "-");
    const char *names[] = {"relu", "axpy", "gemm 4x4x4"};
    const size_t sizes[] = {16, 256, 4096};
    for (int which = 0; which < 3; which++)
        for (size_t si = 0; si < (which == 2 ? 1u : 3u); si++) {
            size_t n = which == 2 ? 16 : sizes[si];
            double us[2] = {0, 0};
            for (int b = 0; b < 2 && be[b]; b++) {
                fr_buffer *x, *y;
                fr_buffer_alloc_zero(be[b], n * 4, &x);
                fr_buffer_alloc_zero(be[b], n * 4, &y);
                op_seconds(be[b], fr_view_of(x, 0), fr_view_of(y, 0), n, which, 5); /* warm-up */
                us[b] = 1e6 * op_seconds(be[b], fr_view_of(x, 0), fr_view_of(y, 0), n, which, repeat);
                fr_buffer_free(x);
                fr_buffer_free(y);
            }
            printf("%-12s %8zu | %10.2f %10.2f\n", names[which], n, us[0], us[1]);
        }
    fr_backend_close(be[0]);
    if (be[1])
        fr_backend_close(be[1]);
    return FR_EXIT_OK;
}
