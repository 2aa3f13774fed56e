/* crash_hook.h — a test hook that kills the process at a named point of an
 * atomic file write, so that tests can crash a run inside a checkpoint
 * write deterministically instead of hoping a timed kill lands there.
 *
 * The environment variable FEDREC_TEST_CRASH_AT = POINT or POINT:N (read
 * once per process) makes the N-th time (default 1) any atomic write of
 * the process reaches POINT raise SIGKILL. The points, in write order
 * (doc/RELIABILITY.md, "Test hook"):
 *   created  the temporary file exists, empty;
 *   written  every byte handed to stdio, not yet flushed: the temporary
 *            file holds part of them;
 *   synced   the temporary file complete, fsynced and closed; the
 *            destination untouched;
 *   linked   PATH.prev names the file being replaced (checkpoints; other
 *            files keep no previous one), the rename not yet made;
 *   renamed  the new file in place, the folder not yet fsynced.
 * Unset or empty: nothing happens, at the cost of one test per point. */
#ifndef FR_CRASH_HOOK_H
#define FR_CRASH_HOOK_H

#include "fedrec/error.h"

/* FR_OK when FEDREC_TEST_CRASH_AT is unset, empty or well formed; else
 * FR_ERR_INVALID naming the variable and what it expects (so that a test's
 * typo fails loudly instead of never crashing). */
fr_status fr_crash_hook_check(void);

/* Called at each named point; raises SIGKILL when the hook asks for it. */
void fr_crash_point(const char *point);

#endif
