/* fail_alloc.c — allocation-failure injection for the out-of-memory sweep
 * (tests/test_oom.sh, doc/RELIABILITY.md).
 *
 * tests/fedrec-oom is the fedrec program linked against the library's
 * static archive with -Wl,--wrap for every allocating function fedrec's
 * code calls: the linker sends those calls (the CLI's and the library's,
 * and only those) to the __wrap_ functions below, which count them and
 * fail the one asked for, else call the real function. Why not an
 * LD_PRELOAD shim: under AddressSanitizer, whose runtime must come first
 * and replaces malloc itself, a preloaded malloc either breaks ASan's
 * bookkeeping or never runs; the linker's wrapping sits in front of
 * whatever malloc the process has (ASan's included), so the same harness
 * runs under ASan with LeakSanitizer, and libc's or the loader's own
 * start-up allocations are never the target.
 *
 * Environment:
 *   FR_OOM_FAIL=N        fail the Nth counted call (from 1), once
 *   FR_OOM_PERSIST=1     fail every counted call from the Nth on, as when
 *                        memory stays short (the error paths then get
 *                        nothing either)
 *   FR_OOM_THREAD=worker count only calls on threads other than the main
 *                        one (the pool's workers)
 *   FR_OOM_REPORT=PATH   at exit, append "calls C sites S failed N" (the
 *                        calls counted, the distinct call sites among
 *                        them, the last call made to fail, or 0) and a line
 *                        "first K..." (the number of each site's first
 *                        call: failing those reaches every site)
 * A failed call returns what the real one returns when memory runs out
 * (NULL or -1 with errno ENOMEM, ENOMEM from posix_memalign), and the
 * wrapper tells stderr which call it failed and from where. */
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **out, size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
ssize_t __real_getline(char **line, size_t *cap, FILE *f);
ssize_t __real_getdelim(char **line, size_t *cap, int delim, FILE *f);
FILE *__real_open_memstream(char **buf, size_t *size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **out, size_t align, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
ssize_t __wrap_getline(char **line, size_t *cap, FILE *f);
ssize_t __wrap_getdelim(char **line, size_t *cap, int delim, FILE *f);
FILE *__wrap_open_memstream(char **buf, size_t *size);

/* Distinct call sites (return addresses) and the number of the first
 * call each made, kept without allocating. */
#define SITES 8192
static _Atomic uintptr_t sites[SITES];
static unsigned long site_first[SITES];
static atomic_ulong n_sites;

static atomic_ulong calls;
static unsigned long fail_at;
static int persist;
static int workers_only;
static pthread_t main_thread;
static const char *report_path;
static atomic_ulong failed;

static void note_site(uintptr_t site, unsigned long k)
{
    size_t h = (size_t)((site >> 2) * 0x9e3779b97f4a7c15ull) % SITES;
    for (size_t probe = 0; probe < SITES; probe++, h = (h + 1) % SITES) {
        uintptr_t seen = atomic_load(&sites[h]);
        if (seen == site)
            return;
        if (seen == 0) {
            uintptr_t empty = 0;
            if (atomic_compare_exchange_strong(&sites[h], &empty, site)) {
                site_first[h] = k;
                atomic_fetch_add(&n_sites, 1);
                return;
            }
            if (empty == site)
                return;
        }
    }
}

static void write_report(void)
{
    if (!report_path)
        return;
    FILE *f = fopen(report_path, "a"); /* libc's own allocation: not counted */
    if (!f)
        return;
    fprintf(f, "calls %lu sites %lu failed %lu\nfirst", atomic_load(&calls), atomic_load(&n_sites),
            atomic_load(&failed));
    for (size_t h = 0; h < SITES; h++)
        if (atomic_load(&sites[h]))
            fprintf(f, " %lu", site_first[h]);
    fputc('\n', f);
    fclose(f);
}

__attribute__((constructor)) static void arm(void)
{
    main_thread = pthread_self();
    const char *n = getenv("FR_OOM_FAIL");
    fail_at = n ? strtoul(n, NULL, 10) : 0;
    const char *p = getenv("FR_OOM_PERSIST");
    persist = p && *p && strcmp(p, "0");
    const char *t = getenv("FR_OOM_THREAD");
    workers_only = t && !strcmp(t, "worker");
    report_path = getenv("FR_OOM_REPORT");
    if (report_path && *report_path)
        atexit(write_report);
}

/* The program's first byte (GNU ld): a call site's offset from it is the
 * address addr2line -e tests/fedrec-oom takes, whatever the load address. */
extern const char __executable_start;
static const char program_name[] = "tests/fedrec-oom";

/* Whether this call is the one to fail. */
static int should_fail(const char *what, size_t bytes, void *site)
{
    if (workers_only && pthread_equal(pthread_self(), main_thread))
        return 0;
    unsigned long k = atomic_fetch_add(&calls, 1) + 1;
    note_site((uintptr_t)site, k);
    if (!fail_at || k < fail_at || (k > fail_at && !persist))
        return 0;
    atomic_store(&failed, k);
    fprintf(stderr, "fedrec-oom: failing allocation %lu: %s of %zu bytes called from %s+%#lx\n", k, what, bytes,
            program_name, (unsigned long)((uintptr_t)site - (uintptr_t)&__executable_start));
    /* The callers too, as offsets for addr2line (frames outside the
     * program, such as libc's, print as large numbers). */
    void *frames[12];
    int n = backtrace(frames, 12);
    fprintf(stderr, "fedrec-oom: stack:");
    for (int i = 1; i < n; i++)
        fprintf(stderr, " %#lx", (unsigned long)((uintptr_t)frames[i] - (uintptr_t)&__executable_start));
    fputc('\n', stderr);
    return 1;
}

#define CALLER __builtin_extract_return_addr(__builtin_return_address(0))

void *__wrap_malloc(size_t n)
{
    if (should_fail("malloc", n, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail("calloc", n * size, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees, and glibc shrinks a block in place, so neither
     * runs out of memory: only a call that may need more is a target. */
    if ((!p || n > malloc_usable_size(p)) && should_fail("realloc", n, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    if (should_fail("aligned_alloc", n, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **out, size_t align, size_t n)
{
    if (should_fail("posix_memalign", n, CALLER))
        return ENOMEM;
    return __real_posix_memalign(out, align, n);
}

char *__wrap_strdup(const char *s)
{
    if (should_fail("strdup", strlen(s) + 1, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    if (should_fail("strndup", n + 1, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strndup(s, n);
}

/* getline and getdelim grow the line with realloc inside libc; when that
 * fails they return -1 with errno ENOMEM and the stream neither at its end
 * nor in error, which a reader must not take for the end of the file. */
ssize_t __wrap_getline(char **line, size_t *cap, FILE *f)
{
    if (should_fail("getline", *cap, CALLER)) {
        errno = ENOMEM;
        return -1;
    }
    return __real_getline(line, cap, f);
}

ssize_t __wrap_getdelim(char **line, size_t *cap, int delim, FILE *f)
{
    if (should_fail("getdelim", *cap, CALLER)) {
        errno = ENOMEM;
        return -1;
    }
    return __real_getdelim(line, cap, delim, f);
}

FILE *__wrap_open_memstream(char **buf, size_t *size)
{
    if (should_fail("open_memstream", 0, CALLER)) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_open_memstream(buf, size);
}
