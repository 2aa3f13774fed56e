/* fedrec/progress.h — a caller's window on a long computation, and its way
 * to end it early.
 *
 * The library never prints. A program that wants to show how far an epoch
 * or a round has gone, or to stop a run cleanly (on Ctrl-C), puts a hook
 * in the trainer's options (fr_msmt_train_options, fr_msmt_pass_options,
 * fr_fedmsmt_options, fr_mtr_options, fr_pfedrec_options: field
 * `progress`; all zero, the default, means no hook). The trainer calls it
 * every so often with the work done so far within the current epoch or
 * round; the hook returns nonzero to ask the trainer to stop at its next
 * safe point. Each trainer's header says what it then leaves and reports;
 * where it cannot stop inside a step (the rating engine's round, a
 * multi-rank run) it ignores the request, and the caller stops between
 * steps. The hook is called often (every batch, every client): it should
 * be cheap, and do its own rate limiting. Calls never overlap, but may come
 * from the library's worker threads (the rating engine's clients). */
#ifndef FEDREC_PROGRESS_H
#define FEDREC_PROGRESS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_progress_phase {
    FR_PROGRESS_TRAIN = 0, /* training steps of the epoch or round */
    FR_PROGRESS_EVAL       /* its evaluation (a stop request is then ignored) */
} fr_progress_phase;

typedef struct fr_progress {
    fr_progress_phase phase;
    const char *unit;   /* what done and total count: "batch", "client", "user" */
    size_t done, total; /* within the current epoch or round; total >= done */
} fr_progress;

typedef struct fr_progress_hook {
    /* NULL: no hook. Returns nonzero to ask for a stop. */
    int (*fn)(void *arg, const fr_progress *p);
    void *arg;
} fr_progress_hook;

#ifdef __cplusplus
}
#endif
#endif
