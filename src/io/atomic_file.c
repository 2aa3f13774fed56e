/* atomic_file.c — temporary file, fsync, rename (see atomic_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "io/atomic_file.h"
#include "io/crash_hook.h"

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

fr_status fr_atomic_open(fr_atomic_file *af, const char *path)
{
    af->f = NULL;
    af->path = af->tmp_path = NULL;
    FR_TRY(fr_crash_hook_check());
    af->path = dup_string(path);
    size_t n = strlen(path) + 32;
    af->tmp_path = malloc(n);
    if (!af->path || !af->tmp_path) {
        free(af->path);
        free(af->tmp_path);
        return fr_fail_nomem("file name", n);
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) {
        int err = errno;
        fr_status s = fr_fail(FR_ERR_IO, "%s: cannot create temporary file %s: %s",
                              path, af->tmp_path, strerror(err));
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return s;
    }
    fr_crash_point("created");
    return FR_OK;
}

/* Makes the rename itself durable. dir: room for path and its NUL (the
 * temporary file's name, no longer needed after the rename), so that this
 * step needs no memory and cannot be skipped for the want of it. Failing
 * here loses no data already written, so it is not reported. */
static void fsync_parent_dir(const char *path, char *dir)
{
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

fr_status fr_atomic_commit(fr_atomic_file *af)
{
    return fr_atomic_commit_keep(af, NULL);
}

fr_status fr_atomic_commit_keep(fr_atomic_file *af, const char *prev_path)
{
    int err = 0;
    fr_crash_point("written");
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        err = errno;
    if (fclose(af->f) != 0 && !err)
        err = errno;
    af->f = NULL;
    if (!err)
        fr_crash_point("synced");
    if (!err && prev_path && access(af->path, F_OK) == 0) {
        /* prev_path becomes a second name of the current file; path keeps
         * naming it until the rename below swaps in the new one. */
        if (unlink(prev_path) != 0 && errno != ENOENT)
            err = errno;
        else if (link(af->path, prev_path) != 0 && errno != EXDEV && errno != EPERM && errno != ENOTSUP)
            err = errno;
    }
    if (!err)
        fr_crash_point("linked");
    if (!err && rename(af->tmp_path, af->path) != 0)
        err = errno;
    fr_status s = FR_OK;
    if (err) {
        s = fr_fail(FR_ERR_IO, "%s: cannot write: %s (the previous file, if any, is unchanged)",
                    af->path, strerror(err));
        remove(af->tmp_path);
    } else {
        fr_crash_point("renamed");
        fsync_parent_dir(af->path, af->tmp_path); /* tmp_path: strlen(path) + 32 bytes */
    }
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    return s;
}

void fr_atomic_abort(fr_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp_path)
        remove(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    af->f = NULL;
    af->path = af->tmp_path = NULL;
}
