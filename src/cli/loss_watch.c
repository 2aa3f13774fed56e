/* loss_watch.c — the 'not learning' warning every job's driver shares
 * (see loss_watch.h): the training loss of the last epochs compared with
 * the first epoch's, one message on standard error when it has not moved.
 * Standard error, not standard output, so --quiet (which keeps only the
 * final summary on standard output) does not hide it: a run that learns
 * nothing should say so however it was started. */
#include <math.h>
#include <string.h>

#include "cli/loss_watch.h"

void fr_cli_loss_watch_init(fr_cli_loss_watch *w, int enabled, const char *unit, const char *lr_key, double lr,
                            const char *decay_key, double weight_decay, const char *hint)
{
    memset(w, 0, sizeof *w);
    w->enabled = enabled;
    w->unit = unit;
    w->lr_key = lr_key;
    w->decay_key = decay_key && weight_decay > 0 ? decay_key : NULL;
    w->lr = lr;
    w->weight_decay = weight_decay;
    w->out = stderr;
    if (hint)
        snprintf(w->hint, sizeof w->hint, "%s", hint);
}

/* The window in order, oldest first. */
static void ordered(const fr_cli_loss_watch *w, double *x)
{
    size_t next = (size_t)((w->seen - 1) % FR_CLI_LOSS_WINDOW); /* the oldest's slot */
    for (size_t k = 0; k < FR_CLI_LOSS_WINDOW; k++)
        x[k] = w->window[(next + k) % FR_CLI_LOSS_WINDOW];
}

int fr_cli_loss_watch_step(fr_cli_loss_watch *w, double loss)
{
    if (!isfinite(loss))
        return 0;
    if (w->seen++ == 0) {
        w->first = loss;
        return 0;
    }
    w->window[(size_t)((w->seen - 2) % FR_CLI_LOSS_WINDOW)] = loss;
    if (w->seen < FR_CLI_LOSS_WINDOW + 1 || w->warned || !w->enabled)
        return 0;
    double x[FR_CLI_LOSS_WINDOW], mean = 0, d2 = 0;
    ordered(w, x);
    for (size_t k = 0; k < FR_CLI_LOSS_WINDOW; k++)
        mean += x[k] / FR_CLI_LOSS_WINDOW;
    /* Var(x[k] - 2 x[k-1] + x[k-2]) = 6 sigma^2 for independent noise;
     * a linear trend adds nothing to it. */
    for (size_t k = 2; k < FR_CLI_LOSS_WINDOW; k++) {
        double d = x[k] - 2 * x[k - 1] + x[k - 2];
        d2 += d * d;
    }
    double noise = sqrt(d2 / (6.0 * (FR_CLI_LOSS_WINDOW - 2)));
    double moved = fabs(mean - w->first), bar = fmax(FR_CLI_LOSS_FLAT_REL * fabs(w->first), FR_CLI_LOSS_NOISE * noise);
    if (moved > bar)
        return 0;
    w->warned = 1;
    /* ln 2 is BPR's (and a logistic loss's) value at scores of 0. */
    int ln2 = fabs(mean - log(2.0)) <= FR_CLI_LOSS_FLAT_REL * log(2.0);
    fprintf(w->out,
            "fedrec: warning: the training loss has not moved from the first %s's %.6g: the mean of the last %d "
            "%ss is %.6g, within %.2g of it (0.1 %%, or %g times the loss's own noise between %ss): the model is "
            "not learning%s. Likely causes: %s%s%s = %g too small to move it (or so large that it only "
            "oscillates); ",
            w->unit, w->first, FR_CLI_LOSS_WINDOW, w->unit, mean, bar, FR_CLI_LOSS_NOISE, w->unit,
            ln2 ? " (a loss of ln 2: every score is about 0)" : "", w->hint, *w->hint ? "; " : "", w->lr_key,
            w->lr);
    if (w->decay_key && !*w->hint) /* a hint says it more precisely */
        fprintf(w->out,
                "%s = %g pulling the parameters to zero faster than the gradients move them (dense Adam decays "
                "every row of a large table each step, the rows a batch did not touch included); ",
                w->decay_key, w->weight_decay);
    fprintf(w->out, "or too few %ss to see a change\n", w->unit);
    fflush(w->out);
    return 1;
}

void fr_cli_loss_watch_save(const fr_cli_loss_watch *w, double *state)
{
    state[0] = w->first;
    state[1] = (double)w->seen;
    state[2] = w->warned;
    memcpy(state + 3, w->window, sizeof w->window);
}

void fr_cli_loss_watch_restore(fr_cli_loss_watch *w, const double *state)
{
    w->first = state[0];
    w->seen = (long long)state[1];
    w->warned = state[2] != 0.0;
    memcpy(w->window, state + 3, sizeof w->window);
}
