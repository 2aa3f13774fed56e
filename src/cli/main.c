/* main.c — the fedrec program: global options and subcommand dispatch.
 * Each subcommand lives in its own cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_bench.h"
#include "cli/cmd_config.h"
#include "cli/commands.h"
#include "fedrec/version.h"

typedef struct command {
    const char *name;
    fr_cli_command run;
    const char *summary;
} command;

static const command commands[] = {
    {"train", fr_cli_train, "train a model from a configuration (default: PFedRec on synthetic ratings)"},
    {"eval", fr_cli_eval, "evaluate a saved model on its training data or new data"},
    {"recommend", fr_cli_recommend, "the top items for users from a saved model"},
    {"export", fr_cli_export, "write a saved model's embeddings and layers as .npy / CSV"},
    {"devices", fr_cli_devices, "show the CPU paths and compute devices fedrec can use"},
    {"config", fr_cli_config, "list configuration keys, check or print a configuration"},
    {"bench", fr_cli_bench, "run a benchmark (gemm, launch)"},
    {"plot", fr_cli_plot, "draw training reports as SVG learning curves, one or several overlaid"},
    {"compare", fr_cli_compare, "show run summaries side by side: method, differing keys, metrics, time"},
    {"tune", fr_cli_tune, "search hyper-parameters: grid or random trials, chosen on validation"},
    {"data", fr_cli_data, "convert text files to binary feature tables, generate or inspect them"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec COMMAND [OPTIONS]\n"
            "       fedrec --help | --version\n\n"
            "Personalized, federated, multi-scenario, multi-task recommenders.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n'fedrec COMMAND --help' describes a command. Exit codes: 0 success,\n"
            "1 run-time failure, 2 bad command line, 3 bad configuration,\n"
            "4 bad data, model or checkpoint file, 130 (143) a run stopped by\n"
            "Ctrl-C (SIGTERM). See fedrec(1).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return FR_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return FR_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("fedrec %s\n", fr_version());
        return FR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "fedrec: unknown command '%s' (try 'fedrec --help')\n", name);
    return FR_EXIT_USAGE;
}
