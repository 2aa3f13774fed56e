/* options.c — shared command-line helpers (see options.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/options.h"

size_t fr_cli_text_width(FILE *out)
{
    const char *env = getenv("COLUMNS");
    char *end;
    long cols = env ? strtol(env, &end, 10) : 0;
    if (env && *env && !*end && cols > 0)
        return (size_t)cols;
    struct winsize ws;
    if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

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
