/* job_check.c — what `fedrec train` and `fedrec config --check` check in a
 * configuration before any data is read (see job_check.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/job_check.h"

/* The rating jobs, msmt, mtrec and fedmsmt write checkpoints: asked of
 * another job, output.checkpoint would be left unwritten without a word.
 * (Said before the general refusal of keys a job does not read: this one
 * says why.) */
static fr_status checkpoint_supported(const fr_config *cfg)
{
    const char *kind, *path;
    FR_TRY_CLI(fr_config_get_string(cfg, "job.kind", &kind));
    FR_TRY_CLI(fr_config_get_string(cfg, "output.checkpoint", &path));
    if (!*path || !strcmp(kind, "pfedrec") || !strcmp(kind, "fedmf") || !strcmp(kind, "fedncf") ||
        !strcmp(kind, "central-mf") || !strcmp(kind, "msmt") || !strcmp(kind, "mtrec") || !strcmp(kind, "fedmsmt"))
        return FR_OK;
    return fr_cli_fail(FR_ERR_CONFIG, "output.checkpoint = '%s': job.kind = %s writes no checkpoints (the rating jobs, msmt, mtrec and fedmsmt do: pfedrec, fedmf, fedncf, central-mf, msmt, mtrec, fedmsmt); leave output.checkpoint empty",
                       path, kind);
}

/* The data sources each job reads. */
static fr_status source_supported(const fr_config *cfg, const char *kind)
{
    const char *source;
    FR_TRY_CLI(fr_config_get_string(cfg, "data.source", &source));
    const char *origin = fr_config_origin(cfg, "data.source");
    int table = !strcmp(source, "movielens-msmt") || !strcmp(source, "table");
    if (!strcmp(kind, "ctr") && strcmp(source, "synthetic"))
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s (%s): job.kind = ctr trains on click data it generates (data.source = synthetic)",
                           source, origin);
    if ((!strcmp(kind, "msmt") || !strcmp(kind, "fedmsmt")) && !table && strcmp(source, "synthetic"))
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s (%s): job.kind = %s reads a feature table: synthetic, movielens-msmt or table (convert text files with 'fedrec data convert')",
                           source, origin, kind);
    if (!strcmp(kind, "mtrec") && table)
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s (%s) is a feature table for the msmt jobs; job.kind = mtrec reads ratings (split, movielens, movielens-dat, delimited or synthetic)",
                           source, origin);
    int rating = !strcmp(kind, "pfedrec") || !strcmp(kind, "fedmf") || !strcmp(kind, "fedncf") ||
                 !strcmp(kind, "central-mf");
    if (rating && !strcmp(source, "split"))
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = split (three files) is for job.kind = mtrec; the rating engine reads one file and splits it leave-one-out");
    if (rating && table)
        return fr_cli_fail(FR_ERR_CONFIG, "data.source = %s (%s) is a feature table for the msmt jobs; job.kind = %s reads ratings (synthetic, movielens, movielens-dat or delimited)",
                           source, origin, kind);
    return FR_OK;
}

static fr_status job_options(const fr_config *cfg, const char *kind)
{
    if (!strcmp(kind, "msmt"))
        return fr_cli_msmt_check(cfg);
    if (!strcmp(kind, "fedmsmt"))
        return fr_cli_fedmsmt_check(cfg);
    if (!strcmp(kind, "mtrec"))
        return fr_cli_mtrec_check(cfg);
    if (!strcmp(kind, "ctr"))
        return FR_OK; /* its keys' ranges say it all */
    return fr_cli_pfedrec_check(cfg);
}

/* "/a/b" of "/a/b/c"; "." for "c". */
static void folder_of(const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash)
        snprintf(buf, n, ".");
    else if (slash == buf)
        buf[1] = '\0';
    else
        *slash = '\0';
}

/* An input file or folder that must exist: the error names the key, its
 * value and where it was set, and for a relative path the folder it was
 * resolved against, and the configuration file's folder when the path is
 * there instead. */
static fr_status input_exists(const fr_config *cfg, const char *key)
{
    const char *path;
    FR_TRY_CLI(fr_config_get_string(cfg, key, &path));
    if (!*path || fr_config_reads(cfg, key) != 1)
        return FR_OK;
    struct stat st;
    if (stat(path, &st) == 0)
        return FR_OK;
    int err = errno;
    const char *origin = fr_config_origin(cfg, key);
    if (path[0] == '/')
        return fr_cli_fail(FR_ERR_IO, "%s = '%s' (%s): %s: cannot open: %s", key, path, origin, path, strerror(err));
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "(the current folder)");
    /* Set in a file elsewhere: would the path be right from there? */
    char hint[3 * PATH_MAX + 200] = "";
    char file[PATH_MAX], there[2 * PATH_MAX + 2], dir[PATH_MAX];
    snprintf(file, sizeof file, "%s", origin);
    char *colon = strrchr(file, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
        *colon = '\0';
        folder_of(file, dir, sizeof dir);
        snprintf(there, sizeof there, "%s/%s", dir, path);
        if (strcmp(dir, ".") && stat(there, &st) == 0)
            snprintf(hint, sizeof hint, "; %s, beside the configuration file, exists: run from %s or give that path",
                     there, dir);
        else if (strcmp(dir, "."))
            snprintf(hint, sizeof hint, " (not against %s, the configuration file's folder)", dir);
    }
    return fr_cli_fail(FR_ERR_IO, "%s = '%s' (%s): %s: cannot open: %s; a relative path is resolved against the current folder, %s%s",
                       key, path, origin, path, strerror(err), cwd, hint);
}

fr_status fr_cli_check_writable(const char *path, const char *what)
{
    char dir[PATH_MAX];
    folder_of(path, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st) != 0)
        return fr_cli_fail(FR_ERR_IO, "%s: cannot write there: %s: %s", what, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fr_cli_fail(FR_ERR_IO, "%s: cannot write there: %s is not a folder", what, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return fr_cli_fail(FR_ERR_IO, "%s: cannot write there: %s: %s", what, dir, strerror(errno));
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return fr_cli_fail(FR_ERR_IO, "%s: cannot write there: %s is a folder", what, path);
        if (access(path, W_OK) != 0)
            return fr_cli_fail(FR_ERR_IO, "%s: cannot write there: %s: %s", what, path, strerror(errno));
    }
    return FR_OK;
}

static fr_status output_writable(const fr_config *cfg, const char *key)
{
    const char *path;
    FR_TRY_CLI(fr_config_get_string(cfg, key, &path));
    if (!*path || fr_config_reads(cfg, key) != 1)
        return FR_OK;
    char what[PATH_MAX + 200];
    snprintf(what, sizeof what, "%s = '%s' (%s)", key, path, fr_config_origin(cfg, key));
    return fr_cli_check_writable(path, what);
}

fr_status fr_cli_check_job(const fr_config *cfg, const fr_cli_check *c)
{
    const char *kind;
    FR_TRY_CLI(fr_config_get_string(cfg, "job.kind", &kind));
    FR_TRY_CLI(checkpoint_supported(cfg));
    char *notes = NULL;
    FR_TRY_CLI(fr_config_check_reads(cfg, c->file_only, &notes));
    if (notes && c->notes)
        fprintf(c->notes, "%s", notes);
    free(notes);
    FR_TRY_CLI(source_supported(cfg, kind));
    FR_TRY_CLI(job_options(cfg, kind));
    static const char *const inputs[] = {"data.path", "data.split_file", "mtrec.links", "mtrec.item_pairs",
                                         "mtrec.categories"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        FR_TRY_CLI(input_exists(cfg, inputs[i]));
    static const char *const outputs[] = {"output.report", "output.comm_report", "output.split",
                                          "output.checkpoint", "output.model"};
    for (size_t i = 0; c->check_outputs && i < sizeof outputs / sizeof outputs[0]; i++)
        FR_TRY_CLI(output_writable(cfg, outputs[i]));
    if (c->check_outputs && c->summary) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "--summary %s", c->summary);
        FR_TRY_CLI(fr_cli_check_writable(c->summary, what));
    }
    return FR_OK;
}
