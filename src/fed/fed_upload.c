/* fed_upload.c — the helpers of the client interface (fedrec/fed_client.h)
 * that every model's client would otherwise write again: room in an
 * upload for its rows. */
#include <stdlib.h>

#include "core/error_internal.h"
#include "fedrec/fed_client.h"

fr_status fr_fed_upload_reserve(fr_fed_upload *up, size_t n_rows, size_t width)
{
    if (n_rows <= up->cap_rows && up->rows)
        return FR_OK;
    size_t cap = n_rows > 16 ? n_rows : 16;
    int32_t *rows = realloc(up->rows, cap * sizeof *rows);
    if (rows)
        up->rows = rows;
    float *delta = realloc(up->delta, cap * width * sizeof *delta);
    if (delta)
        up->delta = delta;
    if (!rows || !delta)
        return fr_fail_nomem("client upload", cap * (width * sizeof(float) + sizeof(int32_t)));
    up->cap_rows = cap;
    return FR_OK;
}
