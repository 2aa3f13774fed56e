/* interrupt.h — stopping a one-process run cleanly on Ctrl-C (SIGINT) or
 * SIGTERM. The first signal only asks: the job stops at its next safe
 * point (between batches, clients or rounds, each job says which), keeps
 * its report and checkpoint whole, prints and writes the summary of what
 * ran, and exits 128 + the signal (130 after Ctrl-C). A second signal ends
 * the process at once, as without fedrec's handler. */
#ifndef FR_CLI_INTERRUPT_H
#define FR_CLI_INTERRUPT_H

/* Catch SIGINT and SIGTERM (a signal the process was started with
 * ignored, as a shell does for a background job, stays ignored). */
void fr_cli_interrupt_arm(void);
/* Back to the dispositions found by fr_cli_interrupt_arm. */
void fr_cli_interrupt_disarm(void);
/* The signal that asked for a stop, 0 while none has. */
int fr_cli_interrupted(void);
/* "SIGINT", "SIGTERM" (NULL while none has come). */
const char *fr_cli_interrupt_name(void);
/* After a stop: say on stdout that the run was cut short after `done` of
 * `planned` units ("epoch", "round") and that what follows is of those. */
void fr_cli_interrupt_say(const char *unit, long long done, long long planned);
/* The exit code of a run that ended with `code`: 128 + the signal when a
 * stop was asked and the run otherwise succeeded, else code. */
int fr_cli_interrupt_exit_code(int code);

#endif
