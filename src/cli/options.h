/* options.h — the command-line pieces every subcommand shares: collecting
 * `--set section.key=value` overrides and one optional positional file. */
#ifndef FR_CLI_OPTIONS_H
#define FR_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#define FR_CLI_MAX_SETS 256

typedef struct fr_cli_sets {
    char *items[FR_CLI_MAX_SETS];
    size_t count;
} fr_cli_sets;

/* If argv[*i] is --set (with its value next, or as --set=k=v), record it
 * and advance *i. Returns 1 if consumed, 0 if not --set, -1 on a usage
 * error (already reported on stderr with the command's name). */
int fr_cli_take_set(const char *command, int argc, char **argv, int *i,
                    fr_cli_sets *sets);

/* Columns to wrap text for out at: $COLUMNS when it holds a number, else
 * the terminal's width when out is one, else 80. */
size_t fr_cli_text_width(FILE *out);

#endif
