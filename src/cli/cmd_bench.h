/* cmd_bench.h — `fedrec bench`: benchmarks that print their figures.
 *
 * fr_cli_bench(argc, argv): argv[0] is "bench", argv[1] names the
 * benchmark (gemm, launch; 'fedrec bench --help' lists them). Figures go
 * to stdout, errors to stderr. Returns the process exit code: 0 done,
 * 2 usage error (unknown benchmark or option, a bad option value, a CPU
 * path or backend this build or machine lacks), 1 any other failure. */
#ifndef FR_CMD_BENCH_H
#define FR_CMD_BENCH_H

int fr_cli_bench(int argc, char **argv);

#endif
