/* child_run.h — running the fedrec program itself as a child process, for
 * `fedrec tune`: started with fork and exec of /proc/self/exe (the program
 * now running, whatever its path), its standard output and error going to
 * a log file, its standard input closed. */
#ifndef FR_CLI_CHILD_RUN_H
#define FR_CLI_CHILD_RUN_H

#include <sys/types.h>

/* Start `fedrec ARGS...` (args[0] is the subcommand; NULL-terminated).
 * Returns the child's pid, or -1 with errno set. */
pid_t fr_child_start(char *const *args, const char *log_path);

/* Wait for any started child: its pid, and how it ended as text
 * ("ok", "failed (exit 3)", "killed (signal 9)") in status. *interrupted
 * is 1 when a signal, or exit 130 (fedrec train stopped by Ctrl-C), ended
 * it: a rerun runs it again. -1 when none is
 * left. */
pid_t fr_child_wait(char *status, size_t n, int *interrupted);

#endif
