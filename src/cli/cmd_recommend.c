/* cmd_recommend.c — `fedrec recommend MODEL --user ID | --users FILE
 * [--top K] [--format text|csv|json] [--task NAME] [--scenario NAME]`:
 * the top-K items for each user, leaving out what the user interacted
 * with, from the user's own model where the job has one; the job kind's
 * row in saved_model.c scores. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/saved_model.h"

#define MAX_TOP 100000
#define MAX_ID_BYTES 4096

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: fedrec recommend MODEL (--user ID | --users FILE) [--top K]\n"
            "                        [--format text|csv|json] [--task NAME] [--scenario NAME]\n"
            "                        [--set backend.KEY=VALUE]...\n\n"
            "The top K items for each user (original ids, as in the training data),\n"
            "leaving out every item the user interacted with in the model's data,\n"
            "ranked by the user's own model where the job has one. Rating jobs\n"
            "(training, validation and test interactions left out): PFedRec the\n"
            "user's score function over its fine-tuned item rows (the global table\n"
            "for the others), FedMF, FedNCF and central-mf the user's embedding;\n"
            "mtrec the user's row. msmt and fedmsmt (the items of the user's rows\n"
            "of every part left out; the table must name its user and item fields:\n"
            "data.source = movielens-msmt, or 'fedrec data convert --user-field\n"
            "--item-field'):\n"
            "each item's row built from the user's user-side and the item's\n"
            "item-side fields, scored by the predicted probability of the task, by\n"
            "the scenario's client (fedmsmt) or the one model (msmt), in the user's\n"
            "scenario. Equal scores: the item with the smaller internal index first.\n\n"
            "  --user ID        one user (repeatable)\n"
            "  --users FILE     one user id per line ('#' comments and blank lines skipped)\n"
            "  --top K          items per user (default 10; 1 to %d)\n"
            "  --format F       text (default), csv (user,rank,item,score) or json\n"
            "  --task NAME      msmt, fedmsmt: the task whose probability ranks (default:\n"
            "                   the first)\n"
            "  --scenario NAME  msmt, fedmsmt: the scenario to rank in, needed (and only\n"
            "                   allowed) when a user's rows span several scenarios\n",
            MAX_TOP);
}

typedef struct id_list {
    char **ids;
    size_t *lines;
    size_t n, cap;
} id_list;

static int add_id(id_list *l, const char *id, size_t len, size_t line)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **ids = realloc(l->ids, cap * sizeof *ids);
        if (ids)
            l->ids = ids;
        size_t *lines = realloc(l->lines, cap * sizeof *lines);
        if (lines)
            l->lines = lines;
        if (!ids || !lines)
            return 0;
        l->cap = cap;
    }
    if (!(l->ids[l->n] = strndup(id, len)))
        return 0;
    l->lines[l->n++] = line;
    return 1;
}

static void free_ids(id_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    free(l->lines);
}

/* The users file: one id per line, trimmed of spaces and a CR; blank and
 * '#' lines skipped; a tab or NUL inside, or an over-long line, refused. */
static int read_users(const char *path, id_list *l)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fedrec recommend: %s: cannot open the users file: %s\n", path, strerror(errno));
        return FR_EXIT_FAILURE;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t number = 0;
    int code = FR_EXIT_OK;
    while (code == FR_EXIT_OK && (got = getline(&line, &cap, f)) >= 0) {
        number++;
        size_t len = (size_t)got;
        if (memchr(line, '\0', len)) {
            fprintf(stderr, "fedrec recommend: %s:%zu: a NUL byte inside the line, expected one user id per line (a text file)\n",
                    path, number);
            code = FR_EXIT_INPUT;
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        size_t start = 0;
        while (start < len && line[start] == ' ')
            start++;
        if (start == len || line[start] == '#')
            continue;
        const char *id = line + start;
        len -= start;
        if (memchr(id, '\t', len)) {
            fprintf(stderr, "fedrec recommend: %s:%zu: '%.*s' holds a tab, expected one user id per line (a file of several columns?)\n",
                    path, number, (int)(len > 60 ? 60 : len), id);
            code = FR_EXIT_INPUT;
        } else if (len > MAX_ID_BYTES) {
            fprintf(stderr, "fedrec recommend: %s:%zu: a line of %zu bytes, expected one user id (at most %d bytes)\n",
                    path, number, len, MAX_ID_BYTES);
            code = FR_EXIT_INPUT;
        } else if (!add_id(l, id, len, number)) {
            fprintf(stderr, "fedrec recommend: out of memory reading %s\n", path);
            code = FR_EXIT_FAILURE;
        }
    }
    int read_error = ferror(f), short_of_memory = !read_error && !feof(f); /* getline's ENOMEM */
    free(line);
    fclose(f);
    if (code == FR_EXIT_OK && read_error) {
        fprintf(stderr, "fedrec recommend: %s: read error\n", path);
        code = FR_EXIT_FAILURE;
    } else if (code == FR_EXIT_OK && short_of_memory) {
        fprintf(stderr, "fedrec recommend: %s: out of memory reading line %zu\n", path, number + 1);
        code = FR_EXIT_FAILURE;
    }
    if (code == FR_EXIT_OK && l->n == 0) {
        fprintf(stderr, "fedrec recommend: %s: no user ids (%zu line(s), all blank or comments)\n", path, number);
        code = FR_EXIT_INPUT;
    }
    return code;
}

int fr_cli_recommend(int argc, char **argv)
{
    const char *path = NULL, *users_file = NULL, *task = NULL, *scenario = NULL;
    fr_cli_sets sets = {0};
    id_list given = {0};
    long top = 10;
    int format = FR_OUT_TEXT, code = FR_EXIT_OK;
    for (int i = 1; i < argc && code == FR_EXIT_OK; i++) {
        int took = fr_cli_take_set("recommend", argc, argv, &i, &sets);
        if (took < 0) {
            code = FR_EXIT_USAGE;
            break;
        }
        if (took)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free_ids(&given);
            return FR_EXIT_OK;
        }
        int takes_value = !strcmp(a, "--user") || !strcmp(a, "--users") || !strcmp(a, "--top") ||
                          !strcmp(a, "--format") || !strcmp(a, "--task") || !strcmp(a, "--scenario");
        if (takes_value && (i + 1 >= argc || !*argv[i + 1])) {
            fprintf(stderr, "fedrec recommend: %s needs a value (try --help)\n", a);
            code = FR_EXIT_USAGE;
        } else if (!strcmp(a, "--user")) {
            const char *id = argv[++i];
            if (!add_id(&given, id, strlen(id), 0)) {
                fprintf(stderr, "fedrec recommend: out of memory allocating %zu bytes for --user '%s'\n",
                        strlen(id) + 1, id);
                code = FR_EXIT_FAILURE;
            }
        } else if (!strcmp(a, "--users")) {
            users_file = argv[++i];
        } else if (!strcmp(a, "--task")) {
            task = argv[++i];
        } else if (!strcmp(a, "--scenario")) {
            scenario = argv[++i];
        } else if (!strcmp(a, "--top")) {
            const char *v = argv[++i];
            char *end;
            errno = 0;
            top = strtol(v, &end, 10);
            if (end == v || *end || errno || top < 1 || top > MAX_TOP) {
                fprintf(stderr, "fedrec recommend: --top '%s': expected a whole number of items from 1 to %d\n", v,
                        MAX_TOP);
                code = FR_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--format")) {
            const char *v = argv[++i];
            if (!strcmp(v, "text"))
                format = FR_OUT_TEXT;
            else if (!strcmp(v, "csv"))
                format = FR_OUT_CSV;
            else if (!strcmp(v, "json"))
                format = FR_OUT_JSON;
            else {
                fprintf(stderr, "fedrec recommend: --format '%s': expected text, csv or json\n", v);
                code = FR_EXIT_USAGE;
            }
        } else if (a[0] == '-' || path) {
            fprintf(stderr, "fedrec recommend: unexpected argument '%s' (try --help)\n", a);
            code = FR_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (code == FR_EXIT_OK && !path) {
        usage(stderr);
        code = FR_EXIT_USAGE;
    }
    if (code == FR_EXIT_OK && (given.n > 0) == (users_file != NULL)) {
        fprintf(stderr, "fedrec recommend: give the users with --user ID or --users FILE (one of the two)\n");
        code = FR_EXIT_USAGE;
    }
    if (code == FR_EXIT_OK && users_file)
        code = read_users(users_file, &given);
    fr_saved_ctx ctx;
    const fr_saved_kind *row = NULL;
    if (code == FR_EXIT_OK)
        code = fr_saved_open("recommend", path, &sets, &ctx, &row);
    if (code != FR_EXIT_OK) {
        free_ids(&given);
        return code;
    }
    if (!row->recommend && row->no_recommend) {
        fprintf(stderr, "fedrec recommend: %s: a job.kind = %s model does not recommend: %s (recommend reads pfedrec, fedmf, fedncf, central-mf, mtrec, msmt and fedmsmt models)\n",
                path, ctx.kind, row->no_recommend);
        code = FR_EXIT_INPUT;
    } else if (!row->recommend) {
        fprintf(stderr, "fedrec recommend: %s: a model of job.kind = %s scores examples, it does not rank items for users (recommend reads pfedrec, fedmf, fedncf, central-mf, mtrec, msmt and fedmsmt models)\n",
                path, ctx.kind);
        code = FR_EXIT_INPUT;
    } else if ((task || scenario) && strcmp(ctx.kind, "msmt") != 0 && strcmp(ctx.kind, "fedmsmt") != 0) {
        fprintf(stderr, "fedrec recommend: %s %s: a job.kind = %s model has no tasks or scenarios to choose (--task and --scenario are for msmt and fedmsmt models)\n",
                task ? "--task" : "--scenario", task ? task : scenario, ctx.kind);
        code = FR_EXIT_USAGE;
    } else {
        fr_recommend_request rq = {(const char *const *)given.ids, given.lines, given.n, users_file,
                                   (size_t)top, format, stdout, task, scenario};
        code = row->recommend(&ctx, &rq);
    }
    fr_saved_close(&ctx);
    free_ids(&given);
    return code;
}
