/* bench_util.c — helpers shared by the benchmark commands (see
 * bench_util.h). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/bench_util.h"
#include "core/clock.h"

double fr_bench_now(void)
{
    return fr_clock_seconds();
}

int fr_bench_parse_positive(const char *opt, const char *value, long max, long *out)
{
    char *end;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *end || v < 1 || v > max) {
        fprintf(stderr, "fedrec bench: %s needs an integer in [1, %ld], got '%s'\n",
                opt, max, value ? value : "");
        return 0;
    }
    *out = v;
    return 1;
}
