/* interrupt.c — the first SIGINT or SIGTERM asks the job to stop at a safe
 * point; the second ends the process; the ranks of a multi-rank job agree
 * on the stop (see interrupt.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/interrupt.h"

static volatile sig_atomic_t stop_signal; /* what this process caught */
static volatile sig_atomic_t speak = 1;   /* the handler writes its message */
static int ranks = 1;                     /* several: the agreed stop counts */
static int agreed_signal;
static struct sigaction saved_int, saved_term;
static int armed;

/* Rank 0's note, written by the handler: prepared outside it. */
static char note[1024];
static volatile sig_atomic_t note_length;
static int fd_flags[2] = {-1, -1};         /* stdout's and stderr's, when armed */
static volatile sig_atomic_t fd_changed;   /* the handler made them non-blocking */

static void say(const char *text, size_t n)
{
    /* write(2) is safe in a handler; stdio is not. */
    ssize_t w = write(STDERR_FILENO, text, n);
    (void)w;
}

static void on_signal(int sig)
{
    static const char int_msg[] =
        "\nfedrec: interrupted: stopping at the next safe point and writing what ran (Ctrl-C again quits at once)\n";
    static const char term_msg[] =
        "\nfedrec: terminated (SIGTERM): stopping at the next safe point and writing what ran\n";
    static const char int_ranks[] =
        "\nfedrec: interrupted (SIGINT): every rank stops after the round under way and writes what ran (Ctrl-C again quits at once)\n";
    static const char term_ranks[] =
        "\nfedrec: terminated (SIGTERM): every rank stops after the round under way and writes what ran\n";
    int saved_errno = errno; /* the interrupted code may be about to read it */
    if (!stop_signal)
        stop_signal = sig;
    if (ranks > 1) {
        /* Open MPI's mpirun stops draining the ranks' output once it has a
         * signal itself (Ctrl-C), then passes SIGTERM on: a rank blocked in
         * writing its per-round line to that full pipe would never reach
         * the round boundary, and SIGKILL would follow. From here on the
         * terminal's output may be dropped instead (EAGAIN); the report,
         * checkpoint and summary files are what a stopped run keeps. */
        for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
            if (fd_flags[fd - STDOUT_FILENO] >= 0 && !(fd_flags[fd - STDOUT_FILENO] & O_NONBLOCK)) {
                fcntl(fd, F_SETFL, fd_flags[fd - STDOUT_FILENO] | O_NONBLOCK);
                fd_changed = 1;
            }
    }
    if (speak) {
        if (ranks > 1)
            sig == SIGINT ? say(int_ranks, sizeof int_ranks - 1) : say(term_ranks, sizeof term_ranks - 1);
        else
            sig == SIGINT ? say(int_msg, sizeof int_msg - 1) : say(term_msg, sizeof term_msg - 1);
        if (note_length > 0)
            say(note, (size_t)note_length);
    }
    errno = saved_errno;
}

static void catch_signal(int sig, struct sigaction *saved)
{
    sigaction(sig, NULL, saved);
    if (saved->sa_handler == SIG_IGN)
        return; /* ignored when we started (nohup, a shell's background job): left so */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* Restarted system calls (no EINTR surprises in the writers); the
     * handler is used once: the next signal of that kind ends the process. */
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(sig, &sa, NULL);
}

void fr_cli_interrupt_arm(fr_comm *comm)
{
    stop_signal = 0;
    agreed_signal = 0;
    note_length = 0;
    ranks = comm ? fr_comm_size(comm) : 1;
    speak = !comm || fr_comm_rank(comm) == 0;
    /* the descriptors' flags, restored by disarm if the handler changes them */
    fd_flags[0] = fcntl(STDOUT_FILENO, F_GETFL);
    fd_flags[1] = fcntl(STDERR_FILENO, F_GETFL);
    fd_changed = 0;
    catch_signal(SIGINT, &saved_int);
    catch_signal(SIGTERM, &saved_term);
    armed = 1;
}

void fr_cli_interrupt_disarm(void)
{
    if (!armed)
        return;
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    /* Blocking again, as found: the descriptions may be shared with a
     * terminal or shell that outlives this process. */
    if (fd_changed) {
        fcntl(STDOUT_FILENO, F_SETFL, fd_flags[0]);
        fcntl(STDERR_FILENO, F_SETFL, fd_flags[1]);
        fd_changed = 0;
    }
    armed = 0;
}

int fr_cli_interrupted(void)
{
    return ranks > 1 ? agreed_signal : stop_signal;
}

int fr_cli_interrupt_requested(void)
{
    return stop_signal;
}

fr_status fr_cli_interrupt_agree(fr_comm *comm)
{
    if (ranks <= 1 || !comm || fr_comm_size(comm) <= 1)
        return FR_OK;
    int any = 0;
    fr_status s = fr_comm_max_int(comm, (int)stop_signal, &any);
    if (s != FR_OK)
        return s; /* with MPI's message */
    if (any > agreed_signal) /* once agreed, a stop stays agreed */
        agreed_signal = any;
    return FR_OK;
}

void fr_cli_interrupt_note(const char *text)
{
    note_length = 0; /* the handler writes nothing while it changes */
    atomic_signal_fence(memory_order_seq_cst);
    if (!text)
        return;
    size_t n = strlen(text);
    if (n >= sizeof note)
        n = sizeof note - 1;
    memcpy(note, text, n);
    atomic_signal_fence(memory_order_seq_cst);
    note_length = (sig_atomic_t)n;
}

const char *fr_cli_interrupt_name(void)
{
    int sig = fr_cli_interrupted();
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : NULL;
}

void fr_cli_interrupt_say(const char *unit, long long done, long long planned)
{
    if (done)
        printf("\nstopped by %s after %lld of %lld %ss; the figures below are of %s\n", fr_cli_interrupt_name(), done,
               planned, unit, done == 1 ? "that one" : "those");
    else
        printf("\nstopped by %s after 0 of %lld %ss: no %s finished, no figures\n", fr_cli_interrupt_name(), planned,
               unit, unit);
    fflush(stdout);
}

int fr_cli_interrupt_exit_code(int code)
{
    int sig = fr_cli_interrupted();
    return sig && code == FR_EXIT_OK ? 128 + sig : code;
}
