/* crash_hook.c — FEDREC_TEST_CRASH_AT, the kill-at-a-named-point test hook
 * of atomic writes (see crash_hook.h). */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "io/crash_hook.h"

static const char *const crash_points[] = {"created", "written", "synced", "linked", "renamed"};
#define N_CRASH_POINTS (sizeof crash_points / sizeof crash_points[0])

static pthread_once_t hook_once = PTHREAD_ONCE_INIT;
static int hook_point = -1;     /* index into crash_points; -1: no hook */
static long hook_nth = 1;       /* the N of POINT:N */
static int hook_malformed;      /* set but not POINT or POINT:N */
static char hook_text[64];      /* the value, for the error message */
static atomic_long hook_reached;

static void read_hook(void)
{
    const char *v = getenv("FEDREC_TEST_CRASH_AT");
    if (!v || !*v)
        return;
    snprintf(hook_text, sizeof hook_text, "%s", v);
    const char *colon = strchr(v, ':');
    size_t name_len = colon ? (size_t)(colon - v) : strlen(v);
    for (size_t k = 0; k < N_CRASH_POINTS; k++)
        if (strlen(crash_points[k]) == name_len && !strncmp(v, crash_points[k], name_len))
            hook_point = (int)k;
    if (colon) {
        char *end = NULL;
        long n = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || n < 1 || n == LONG_MAX)
            hook_point = -1;
        else
            hook_nth = n;
    }
    hook_malformed = hook_point < 0;
}

fr_status fr_crash_hook_check(void)
{
    pthread_once(&hook_once, read_hook);
    if (!hook_malformed)
        return FR_OK;
    return fr_fail(FR_ERR_INVALID,
                   "FEDREC_TEST_CRASH_AT = '%s': expected created, written, synced, linked or renamed, "
                   "optionally followed by :N (N >= 1)",
                   hook_text);
}

void fr_crash_point(const char *point)
{
    pthread_once(&hook_once, read_hook);
    if (hook_point < 0 || strcmp(point, crash_points[hook_point]) != 0)
        return;
    if (atomic_fetch_add(&hook_reached, 1) + 1 == hook_nth)
        raise(SIGKILL);
}
