/* options.c — shared command-line helpers (see options.h). */
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

int fr_cli_take_set(const char *command, int argc, char **argv, int *i,
                    fr_cli_sets *sets)
{
    const char *arg = argv[*i], *value;
    if (!strcmp(arg, "--set")) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "fedrec %s: --set needs section.key=value\n", command);
            return -1;
        }
        value = argv[++*i];
    } else if (!strncmp(arg, "--set=", 6)) {
        value = arg + 6;
    } else {
        return 0;
    }
    if (!strchr(value, '=')) {
        fprintf(stderr, "fedrec %s: --set '%s': expected section.key=value\n", command, value);
        return -1;
    }
    if (sets->count == FR_CLI_MAX_SETS) {
        fprintf(stderr, "fedrec %s: more than %d --set options\n", command, FR_CLI_MAX_SETS);
        return -1;
    }
    sets->items[sets->count++] = (char *)value;
    return 1;
}
