/* interrupt.h — stopping a run cleanly on Ctrl-C (SIGINT) or SIGTERM, in
 * one process or on the ranks of an MPI job. The first signal only asks:
 * the job stops at its next safe point (between batches, clients or
 * rounds, each job says which), keeps its report and checkpoint whole,
 * prints and writes the summary of what ran, and exits 128 + the signal
 * (130 after Ctrl-C). A second signal of the same kind ends the process
 * at once, as without fedrec's handler.
 *
 * On several ranks a signal may reach one rank, some or all, at different
 * moments: each rank's handler only notes it, and the ranks agree at each
 * round boundary (fr_cli_interrupt_agree, one small collective) whether
 * to stop and on which signal, so that every rank stops after the same
 * round and exits with the same code. */
#ifndef FR_CLI_INTERRUPT_H
#define FR_CLI_INTERRUPT_H

#include "fedrec/comm.h"

/* Catch SIGINT and SIGTERM (a signal the process was started with
 * ignored, as a shell does for a background job, stays ignored). With
 * several ranks in comm, only rank 0's handler writes its message, and a
 * stop is taken only as the ranks agree on it. */
void fr_cli_interrupt_arm(fr_comm *comm);
/* Back to the dispositions found by fr_cli_interrupt_arm. */
void fr_cli_interrupt_disarm(void);
/* The signal whose stop the job acts on, 0 while none: one process: the
 * first caught; several ranks: the one last agreed on. */
int fr_cli_interrupted(void);
/* The signal this process caught, whether or not the ranks have agreed
 * on it yet (a progress hook's stop request). */
int fr_cli_interrupt_requested(void);
/* Collective on several ranks (every rank at the same boundary): the
 * ranks agree whether a stop was asked of any of them, and on the signal
 * (the largest number caught: SIGTERM over SIGINT), which
 * fr_cli_interrupted then returns on every rank. One process: nothing to
 * agree. */
fr_status fr_cli_interrupt_agree(fr_comm *comm);
/* Rank 0 of several: a line the handler writes after its own (what is on
 * disk if the launcher kills the ranks before they stop: a checkpoint's
 * round). Copied; NULL clears it. Not to be called from a handler. */
void fr_cli_interrupt_note(const char *text);
/* "SIGINT", "SIGTERM" (NULL while none has come). */
const char *fr_cli_interrupt_name(void);
/* After a stop: say on stdout that the run was cut short after `done` of
 * `planned` units ("epoch", "round") and that what follows is of those. */
void fr_cli_interrupt_say(const char *unit, long long done, long long planned);
/* The exit code of a run that ended with `code`: 128 + the signal when a
 * stop was asked and the run otherwise succeeded, else code. */
int fr_cli_interrupt_exit_code(int code);

#endif
