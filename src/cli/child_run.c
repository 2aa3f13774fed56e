/* child_run.c — the child processes of `fedrec tune` (see child_run.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/child_run.h"

/* The program to run: this one. /proc/self/exe names the binary even when
 * a wrapper script (libtool's, in the build tree) started it; the wrapper's
 * environment, which the child inherits, lets that binary find the
 * library. Without /proc, the name the shell found us by. */
static const char *self_path(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len > 0) {
        buf[len] = '\0';
        return buf;
    }
    return "fedrec";
}

pid_t fr_child_start(char *const *args, const char *log_path)
{
    char self[4096];
    const char *exe = self_path(self, sizeof self);
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return -1;
    argv[0] = (char *)"fedrec";
    memcpy(argv + 1, args, n * sizeof *argv);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
            _exit(126);
        execv(exe, argv);
        if (errno == ENOENT || exe[0] != '/')
            execvp("fedrec", argv);
        dprintf(2, "fedrec tune: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    int saved = errno;
    free(argv);
    errno = saved;
    return pid;
}

pid_t fr_child_wait(char *status, size_t n, int *interrupted)
{
    int st;
    pid_t pid;
    do
        pid = waitpid(-1, &st, 0);
    while (pid < 0 && errno == EINTR);
    if (pid < 0)
        return -1;
    *interrupted = 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        snprintf(status, n, "ok");
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 130) { /* stopped by Ctrl-C */
        snprintf(status, n, "killed (exit 130, interrupted)");
        *interrupted = 1;
    } else if (WIFEXITED(st))
        snprintf(status, n, "failed (exit %d)", WEXITSTATUS(st));
    else {
        snprintf(status, n, "killed (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        *interrupted = 1;
    }
    return pid;
}
