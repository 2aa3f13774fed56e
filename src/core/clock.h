/* clock.h — wall-clock time for progress and speed figures (internal). */
#ifndef FR_CORE_CLOCK_H
#define FR_CORE_CLOCK_H

/* Seconds on a monotonic clock (CLOCK_MONOTONIC): differences are
 * elapsed time; the origin means nothing. */
double fr_clock_seconds(void);

#endif
