/* interrupt.c — the first SIGINT or SIGTERM asks the job to stop at a safe
 * point; the second ends the process (see interrupt.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/interrupt.h"

static volatile sig_atomic_t stop_signal;
static struct sigaction saved_int, saved_term;
static int armed;

static void on_signal(int sig)
{
    static const char int_msg[] =
        "\nfedrec: interrupted: stopping at the next safe point and writing what ran (Ctrl-C again quits at once)\n";
    static const char term_msg[] =
        "\nfedrec: terminated (SIGTERM): stopping at the next safe point and writing what ran\n";
    if (!stop_signal)
        stop_signal = sig;
    /* write(2) is safe in a handler; stdio is not. */
    ssize_t w = sig == SIGINT ? write(STDERR_FILENO, int_msg, sizeof int_msg - 1)
                              : write(STDERR_FILENO, term_msg, sizeof term_msg - 1);
    (void)w;
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

void fr_cli_interrupt_arm(void)
{
    stop_signal = 0;
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
    armed = 0;
}

int fr_cli_interrupted(void)
{
    return stop_signal;
}

const char *fr_cli_interrupt_name(void)
{
    return stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : NULL;
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
    return stop_signal && code == FR_EXIT_OK ? 128 + stop_signal : code;
}
