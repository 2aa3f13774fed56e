/* job_check.h — what `fedrec train` checks in its configuration before it
 * reads any data or trains, and `fedrec config --check` with it, so that
 * the two refuse the same configurations. */
#ifndef FR_CLI_JOB_CHECK_H
#define FR_CLI_JOB_CHECK_H

#include <stdio.h>
#include "fedrec/config.h"

typedef struct fr_cli_check {
    /* The configuration of the file alone (defaults and the file, no
     * --set): a file's keys that an override of the job leaves unread are
     * notes, not errors (fr_config_check_reads). NULL: no file. */
    const fr_config *file_only;
    const char *summary; /* --summary FILE, checked writable; NULL: none */
    int check_outputs;   /* check the output.* files can be written (rank 0) */
    FILE *notes;         /* where notes go; NULL: not printed */
} fr_cli_check;

/* In order: output.checkpoint only for the jobs that write checkpoints;
 * no key set that the job does not read; data.source one the job reads
 * (fedmsmt: msmt.model = mmoe); the job's own option checks (the
 * functions its run calls); the input files (data.path, data.split_file,
 * mtrec's relation files) exist, a missing one named with its key, where
 * it was set and the folder a relative path was resolved against; the
 * output files can be written (without creating them). */
fr_status fr_cli_check_job(const fr_config *cfg, const fr_cli_check *c);

/* path can be written to (its folder exists and is writable; the file, if
 * it exists, is a writable file), checked without writing anything;
 * what names it in the error ("output.report = 'x' (--set)"). */
fr_status fr_cli_check_writable(const char *path, const char *what);

#endif
