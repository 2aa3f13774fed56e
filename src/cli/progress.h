/* progress.h — the progress line of `fedrec train`'s jobs: on stderr, when
 * it is a terminal and --quiet is not given, one line redrawn in place
 * (at most 4 times a second, from one second into the run): the epoch or
 * round under way of those planned, the batches or clients done within
 * it, their rate and the time left to the last planned one. The line is
 * also the jobs' hook into the library (fedrec/progress.h), which carries
 * a Ctrl-C stop request (interrupt.h) whether or not a line is drawn. */
#ifndef FR_CLI_PROGRESS_H
#define FR_CLI_PROGRESS_H

#include <stddef.h>
#include "fedrec/progress.h"

typedef struct fr_cli_progress {
    int on;                  /* drawing: stderr a terminal, not quiet */
    const char *unit;        /* "epoch", "round" */
    long long current, last; /* the unit under way (1-based), the last planned */
    double t_run, t_unit;    /* when the run and the unit under way began */
    double unit_seconds;     /* the finished units' time, for the time left */
    long long units_timed;
    double delay, last_draw; /* no line before t_run + delay; redraw rate */
    size_t shown;            /* length of the line on screen (0: none) */
    int width;               /* of the terminal */
    fr_progress step;        /* the library's last word on the unit under way */
    int have_step;
} fr_cli_progress;

/* A run of units `first` to `last` (1-based; first > 1 after a resume). */
void fr_cli_progress_init(fr_cli_progress *p, int quiet, const char *unit, long long first, long long last);
/* The hook to put in the library's options: it draws, and returns the
 * stop request of interrupt.h. */
fr_progress_hook fr_cli_progress_hook(fr_cli_progress *p);
/* The unit under way is finished (its line on stdout printed); the next
 * begins. */
void fr_cli_progress_next(fr_cli_progress *p);
/* Draw the line now if due, for jobs whose units give the library no
 * hook (between units). */
void fr_cli_progress_tick(fr_cli_progress *p);
/* Erase the line (before printing on stdout, which may share the
 * terminal, and at the end). */
void fr_cli_progress_clear(fr_cli_progress *p);

#endif
