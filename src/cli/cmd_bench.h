/* cmd_bench.h — `fedrec bench`: benchmarks that print their figures. */
#ifndef FR_CMD_BENCH_H
#define FR_CMD_BENCH_H

int fr_cli_bench(int argc, char **argv);

#endif
