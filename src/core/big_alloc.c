/* big_alloc.c — large tables on huge pages where available (see
 * big_alloc.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/big_alloc.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *fr_big_alloc(size_t bytes, int zero)
{
    if (bytes < HUGE_PAGE) /* small: a page walk is cached anyway */
        return zero ? calloc(1, bytes ? bytes : 1) : malloc(bytes ? bytes : 1);
    void *p = NULL;
    if (bytes > SIZE_MAX - HUGE_PAGE) /* rounding up would wrap */
        return NULL;
    size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    if (posix_memalign(&p, HUGE_PAGE, rounded) != 0)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure leaves 4 KiB pages */
#endif
    if (zero)
        memset(p, 0, bytes);
    return p;
}
