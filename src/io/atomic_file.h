/* atomic_file.h — write a file so that it is either old or complete.
 *
 * fr_atomic_open creates "<path>.tmp.<pid>" beside the destination; the
 * caller writes through f; fr_atomic_commit flushes, fsyncs, renames over
 * path and fsyncs the folder; fr_atomic_abort removes the temporary. If the
 * process dies in between, the destination is untouched. Tests kill the
 * process at named points of these steps with FEDREC_TEST_CRASH_AT
 * (io/crash_hook.h). */
#ifndef FR_ATOMIC_FILE_H
#define FR_ATOMIC_FILE_H

#include <stdio.h>
#include "fedrec/error.h"

typedef struct fr_atomic_file {
    FILE *f;
    char *path;
    char *tmp_path;
} fr_atomic_file;

fr_status fr_atomic_open(fr_atomic_file *af, const char *path);
fr_status fr_atomic_commit(fr_atomic_file *af);
/* The same, keeping the file it replaces as prev_path (a hard link made
 * before the rename, so that at every moment path holds a complete file;
 * where hard links are impossible the previous file is not kept). */
fr_status fr_atomic_commit_keep(fr_atomic_file *af, const char *prev_path);
void fr_atomic_abort(fr_atomic_file *af);

#endif
