/* clock.c — the monotonic clock every timing figure is read from (see
 * clock.h). */
#include <time.h>

#include "core/clock.h"

double fr_clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
