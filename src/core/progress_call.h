/* progress_call.h — how trainers call a caller's progress hook
 * (fedrec/progress.h; internal). */
#ifndef FR_PROGRESS_CALL_H
#define FR_PROGRESS_CALL_H

#include <stddef.h>
#include "fedrec/progress.h"

/* Tell the hook (none: nothing) that done of total units of the current
 * epoch or round are through; returns its stop request (0: go on). */
static inline int fr_progress_call(const fr_progress_hook *h, fr_progress_phase phase, const char *unit,
                                   size_t done, size_t total)
{
    if (!h || !h->fn)
        return 0;
    fr_progress p = {phase, unit, done, total};
    return h->fn(h->arg, &p);
}

#endif
