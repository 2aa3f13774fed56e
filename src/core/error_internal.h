/* error_internal.h — how library code reports failures (internal). */
#ifndef FR_ERROR_INTERNAL_H
#define FR_ERROR_INTERNAL_H

#include <stddef.h>
#include "fedrec/error.h"

#if defined(__GNUC__)
#define FR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FR_PRINTF(f, a)
#endif

/* The longest message kept (with its terminating NUL): enough for an
 * OpenCL build log excerpt. */
#define FR_ERROR_MESSAGE_MAX 4096

/* Store a formatted message for this thread and return status. */
fr_status fr_fail(fr_status status, const char *fmt, ...) FR_PRINTF(2, 3);
/* Shorthand for an allocation failure of `bytes` bytes for `what`. */
fr_status fr_fail_nomem(const char *what, size_t bytes);

/* Propagate a failure: evaluate expr once, return its status if not FR_OK. */
#define FR_TRY(expr)                      \
    do {                                  \
        fr_status fr_try_s_ = (expr);     \
        if (fr_try_s_ != FR_OK)           \
            return fr_try_s_;             \
    } while (0)

#endif
