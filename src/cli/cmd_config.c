/* cmd_config.c — `fedrec config`: list every key (--keys, --markdown),
 * print the effective configuration (--print), or check a file (--check). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_config.h"
#include "cli/job_check.h"
#include "cli/options.h"
#include "fedrec/config.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec config --keys [--job KIND] [--markdown]\n"
            "       fedrec config --print [CONFIG] [--set section.key=value]...\n"
            "       fedrec config --check CONFIG [--set section.key=value]...\n\n"
            "  --keys       list every key: default, type, allowed values, description and\n"
            "               the jobs that read it, wrapped to the terminal ($COLUMNS, else\n"
            "               the terminal's width, else 80 columns)\n"
            "  --job KIND   with --keys: only the keys job.kind = KIND reads, each with the\n"
            "               settings it needs, if any (mtrec.alpha: mtrec.combiner = pmtrec)\n"
            "  --markdown   with --keys: as a Markdown table (doc/CONFIG.md)\n"
            "  --print      print the effective configuration (defaults, then CONFIG,\n"
            "               then each --set) as an INI file that loads back to it\n"
            "  --check      check CONFIG and the overrides as 'fedrec train' does before it\n"
            "               reads any data (values, keys the job does not read, the job's\n"
            "               options, input files that exist, outputs that can be written);\n"
            "               print 'CONFIG: ok'\n");
}

/* KIND is one of job.kind's choices; else says which are. */
static int known_job(const char *kind)
{
    size_t n;
    const fr_config_key *keys = fr_config_schema(&n);
    for (size_t k = 0; k < n; k++) {
        if (strcmp(keys[k].section, "job") || strcmp(keys[k].name, "kind"))
            continue;
        const char *c = keys[k].choices;
        size_t len = strlen(kind);
        for (;;) {
            size_t m = strcspn(c, "|");
            if (m == len && !strncmp(c, kind, len))
                return 1;
            if (!c[m])
                break;
            c += m + 1;
        }
        char list[256];
        size_t at = 0;
        for (const char *p = keys[k].choices; *p && at + 3 < sizeof list; p++) {
            if (*p == '|') {
                list[at++] = ',';
                list[at++] = ' ';
            } else {
                list[at++] = *p;
            }
        }
        list[at] = '\0';
        fprintf(stderr, "fedrec config: --job %s: expected a job.kind, one of %s\n", kind, list);
        return 0;
    }
    return 0;
}

int fr_cli_config(int argc, char **argv)
{
    enum { NONE, KEYS, PRINT, CHECK } mode = NONE;
    int markdown = 0;
    const char *file = NULL, *job = NULL;
    fr_cli_sets sets = {0};
    for (int i = 1; i < argc; i++) {
        int took = fr_cli_take_set("config", argc, argv, &i, &sets);
        if (took < 0)
            return FR_EXIT_USAGE;
        if (took)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return FR_EXIT_OK;
        } else if (!strcmp(a, "--keys") || !strcmp(a, "--print") || !strcmp(a, "--check")) {
            if (mode != NONE) {
                fprintf(stderr, "fedrec config: give one of --keys, --print, --check\n");
                return FR_EXIT_USAGE;
            }
            mode = a[2] == 'k' ? KEYS : a[2] == 'p' ? PRINT : CHECK;
        } else if (!strcmp(a, "--markdown")) {
            markdown = 1;
        } else if (!strcmp(a, "--job")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "fedrec config: --job needs a job kind\n");
                return FR_EXIT_USAGE;
            }
            job = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fedrec config: unknown option '%s' (try --help)\n", a);
            return FR_EXIT_USAGE;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "fedrec config: more than one configuration file ('%s', '%s')\n", file, a);
            return FR_EXIT_USAGE;
        }
    }
    if (mode == NONE) {
        usage(stderr);
        return FR_EXIT_USAGE;
    }
    if ((job || markdown) && mode != KEYS) {
        fprintf(stderr, "fedrec config: %s goes with --keys\n", job ? "--job" : "--markdown");
        return FR_EXIT_USAGE;
    }
    if (mode == KEYS) {
        if (file || sets.count) {
            fprintf(stderr, "fedrec config: --keys takes no file or --set\n");
            return FR_EXIT_USAGE;
        }
        if (job && !known_job(job))
            return FR_EXIT_USAGE;
        fr_status s = fr_config_print_keys_for(stdout, job, markdown, fr_cli_text_width(stdout));
        return s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, "config");
    }
    if (mode == CHECK && !file) {
        fprintf(stderr, "fedrec config: --check needs a configuration file\n");
        return FR_EXIT_USAGE;
    }
    fr_config *cfg;
    fr_status s = fr_config_build(file, sets.items, sets.count, &cfg);
    if (s != FR_OK)
        return fr_cli_report(s, NULL);
    if (mode == PRINT) {
        s = fr_config_print(cfg, stdout);
    } else {
        /* What `fedrec train` checks before it reads data: the same
         * function, so the two refuse the same configurations. */
        fr_config *file_only = NULL;
        s = fr_config_build(file, NULL, 0, &file_only);
        fr_cli_check check = {file_only, NULL, 1, stderr};
        if (s == FR_OK)
            s = fr_cli_check_job(cfg, &check);
        fr_config_free(file_only);
        if (s != FR_OK) {
            fr_config_free(cfg);
            return fr_cli_report(s, NULL);
        }
        printf("%s: ok\n", file);
    }
    fr_config_free(cfg);
    return s == FR_OK ? FR_EXIT_OK : fr_cli_report(s, "config");
}
