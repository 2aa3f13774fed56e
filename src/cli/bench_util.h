/* bench_util.h — what the benchmark commands share: a monotonic clock and
 * checked parsing of a positive integer option. */
#ifndef FR_BENCH_UTIL_H
#define FR_BENCH_UTIL_H

/* Seconds on CLOCK_MONOTONIC. */
double fr_bench_now(void);
/* value as an integer in [1, max] into *out; else a message naming opt on
 * stderr and 0. */
int fr_bench_parse_positive(const char *opt, const char *value, long max, long *out);
/* The CPU's model name from /proc/cpuinfo ("unknown CPU" elsewhere;
 * cmd_devices.c), for benchmarks to print beside their figures. */
void fr_cli_cpu_model(char *out, size_t n);
/* `fedrec bench rounds` (bench_rounds.c). */
int fr_cli_bench_rounds(int argc, char **argv);
/* `fedrec bench launch` (bench_launch.c). */
int fr_cli_bench_launch(int argc, char **argv);
/* `fedrec bench mtrec` (bench_mtrec.c). */
int fr_cli_bench_mtrec(int argc, char **argv);

#endif
