/* nn_internal.h — small helpers shared by the layer files (internal). */
#ifndef FR_NN_INTERNAL_H
#define FR_NN_INTERNAL_H

#include <stdio.h>
#include "fedrec/nn.h"

/* "<prefix>.<suffix>" into buf; parameter names are short. */
static inline const char *fr_nn_name(char *buf, size_t n, const char *prefix,
                                     const char *suffix)
{
    snprintf(buf, n, "%s.%s", prefix, suffix);
    return buf;
}

static inline fr_view fr_nn_whole(fr_buffer *b)
{
    return fr_view_of(b, 0);
}

/* Make *buf hold at least `floats` floats (contents are not kept). */
fr_status fr_nn_reserve(fr_backend *be, fr_buffer **buf, size_t *cap,
                        size_t floats);

#endif
