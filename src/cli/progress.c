/* progress.c — the progress line of `fedrec train` (see progress.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/interrupt.h"
#include "cli/progress.h"
#include "core/clock.h"

#define REDRAW_SECONDS 0.25

void fr_cli_progress_init(fr_cli_progress *p, int quiet, const char *unit, long long first, long long last)
{
    memset(p, 0, sizeof *p);
    p->on = !quiet && isatty(STDERR_FILENO);
    p->unit = unit;
    p->current = first;
    p->last = last;
    p->t_run = p->t_unit = fr_clock_seconds();
    p->last_draw = -1e9;
    /* FEDREC_PROGRESS_DELAY: seconds before the first line (1); a short
     * run never shows one. */
    const char *delay = getenv("FEDREC_PROGRESS_DELAY");
    char *end;
    p->delay = delay && *delay ? strtod(delay, &end) : 1.0;
    if (delay && *delay && (*end || !(p->delay >= 0)))
        p->delay = 1.0;
    struct winsize ws;
    p->width = p->on && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
}

/* "1h02m", "4m12s", "12s". */
static void duration(double s, char *buf, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%lds", t);
}

/* Seconds to the end of the last planned unit; < 0: not known yet. */
static double time_left(const fr_cli_progress *p, double now)
{
    double in_unit = now - p->t_unit, per_unit;
    if (p->units_timed > 0)
        per_unit = p->unit_seconds / (double)p->units_timed;
    else if (p->have_step && p->step.phase == FR_PROGRESS_TRAIN && p->step.done > 0 && p->step.total > 0)
        per_unit = in_unit * (double)p->step.total / (double)p->step.done; /* training only: a low bound */
    else
        return -1;
    double left = per_unit * (double)(p->last - p->current + 1) - in_unit;
    return left > 0 ? left : 0;
}

static void draw(fr_cli_progress *p, double now)
{
    char line[512], part[128];
    int n = snprintf(line, sizeof line, "  %s %lld/%lld", p->unit, p->current, p->last);
    if (p->have_step && p->step.phase == FR_PROGRESS_EVAL) {
        n += snprintf(line + n, sizeof line - (size_t)n, "  evaluating");
    } else if (p->have_step && p->step.total > 0) {
        double in_unit = now - p->t_unit;
        n += snprintf(line + n, sizeof line - (size_t)n, "  %s %zu/%zu", p->step.unit, p->step.done, p->step.total);
        if (in_unit > 0 && p->step.done > 0)
            n += snprintf(line + n, sizeof line - (size_t)n, "  %.1f %s/s", (double)p->step.done / in_unit,
                          p->step.unit);
    } else if (p->units_timed > 0 && p->unit_seconds > 0) {
        n += snprintf(line + n, sizeof line - (size_t)n, "  %.2f %ss/s", (double)p->units_timed / p->unit_seconds,
                      p->unit);
    }
    double left = time_left(p, now);
    if (left >= 0 && n < (int)sizeof line) {
        duration(left, part, sizeof part);
        n += snprintf(line + n, sizeof line - (size_t)n, "  ETA %s", part);
    }
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    if (n > p->width - 1) /* a wrapped line could not be redrawn in place */
        n = p->width - 1;
    int pad = p->shown > (size_t)n ? (int)p->shown - n : 0;
    fprintf(stderr, "\r%.*s%*s", n, line, pad, "");
    if (pad)
        fprintf(stderr, "\r%.*s", n, line);
    fflush(stderr);
    p->shown = (size_t)n;
    p->last_draw = now;
}

static void maybe_draw(fr_cli_progress *p)
{
    if (!p->on)
        return;
    double now = fr_clock_seconds();
    if (now - p->t_run >= p->delay && now - p->last_draw >= REDRAW_SECONDS)
        draw(p, now);
}

static int on_step(void *arg, const fr_progress *s)
{
    fr_cli_progress *p = arg;
    p->step = *s;
    p->step.unit = s->unit ? s->unit : "step";
    p->have_step = 1;
    maybe_draw(p);
    return fr_cli_interrupt_requested() != 0;
}

fr_progress_hook fr_cli_progress_hook(fr_cli_progress *p)
{
    fr_progress_hook h = {on_step, p};
    return h;
}

void fr_cli_progress_next(fr_cli_progress *p)
{
    double now = fr_clock_seconds();
    p->unit_seconds += now - p->t_unit;
    p->units_timed++;
    p->t_unit = now;
    p->have_step = 0;
    if (p->current < p->last)
        p->current++;
}

void fr_cli_progress_tick(fr_cli_progress *p)
{
    maybe_draw(p);
}

void fr_cli_progress_clear(fr_cli_progress *p)
{
    if (!p->shown)
        return;
    fprintf(stderr, "\r%*s\r", (int)p->shown, "");
    fflush(stderr);
    p->shown = 0;
    /* Redrawn at once when next due: the line does not blink. */
    p->last_draw = -1e9;
}
