/* loss_watch.h — 'not learning' said out loud (CLI, internal): every
 * job's driver hands its training loss here after each epoch or round;
 * when the loss stays where the first one left it, one warning goes to
 * standard error naming the likely causes. The library only reports the
 * losses; deciding and printing is the driver's (here). */
#ifndef FR_CLI_LOSS_WATCH_H
#define FR_CLI_LOSS_WATCH_H

#include <stdio.h>

/* After each epoch or round from the 20th on, the mean loss of the last
 * FR_CLI_LOSS_WINDOW (19) is compared with the first one's: it has not
 * moved when it lies within FR_CLI_LOSS_FLAT_REL (0.1 %) of it, or within
 * FR_CLI_LOSS_NOISE (4) times the loss's own epoch-to-epoch noise (its
 * random batches, negatives, dropout and batch statistics move a frozen
 * model's epoch loss: 0.05 % for BPR on 5000 interactions, 1 % for the
 * ctr demo on 2000 rows), estimated from the window's second differences
 * (a steady trend, a slow start, does not count as noise). Why these
 * numbers: doc/OUTPUTS.md, "Warnings". */
#define FR_CLI_LOSS_WINDOW 19
#define FR_CLI_LOSS_FLAT_REL 1e-3
#define FR_CLI_LOSS_NOISE 4.0

typedef struct fr_cli_loss_watch {
    const char *unit;    /* "epoch" or "round" */
    char hint[512];      /* the job's likeliest causes, said first ("" none) */
    const char *lr_key, *decay_key; /* the keys named in the message */
    double lr, weight_decay;
    double first;
    double window[FR_CLI_LOSS_WINDOW]; /* the last losses after the first, a ring */
    long long seen;      /* finite losses handed in */
    int warned, enabled;
    FILE *out;           /* stderr */
} fr_cli_loss_watch;

/* enabled 0 (a rank other than 0): never prints. The learning rate
 * (key lr_key) and the weight decay (key decay_key; NULL or a decay of 0:
 * not named) go into the message; hint (may be NULL) is said before the
 * generic causes. */
void fr_cli_loss_watch_init(fr_cli_loss_watch *w, int enabled, const char *unit, const char *lr_key, double lr,
                            const char *decay_key, double weight_decay, const char *hint);
/* The loss of the epoch or round just trained; returns 1 when this call
 * printed the warning. Losses that are not finite are ignored (the jobs
 * fail on those themselves). */
int fr_cli_loss_watch_step(fr_cli_loss_watch *w, double loss);
/* What a watch has seen, as FR_CLI_LOSS_WATCH_STATE numbers (for a
 * checkpoint), and a watch (initialised alike) given them back: it then
 * warns exactly when the watch that saved them would have. */
#define FR_CLI_LOSS_WATCH_STATE (FR_CLI_LOSS_WINDOW + 3)
void fr_cli_loss_watch_save(const fr_cli_loss_watch *w, double *state);
void fr_cli_loss_watch_restore(fr_cli_loss_watch *w, const double *state);

#endif
