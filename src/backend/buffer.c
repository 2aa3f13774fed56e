/* buffer.c — backend buffers as the rest of the library sees them, and
 * host views of them for the CPU ops (see the coherence protocol in
 * backend_impl.h). */
#include <string.h>

#include "backend/backend_impl.h"
#include "core/error_internal.h"

fr_status fr_buffer_alloc(fr_backend *be, size_t bytes, fr_buffer **out)
{
    *out = NULL;
    fr_status s = be->ops->buffer_alloc(be->ctx, bytes, out);
    if (s == FR_OK)
        (*out)->owner = be;
    return s;
}

fr_status fr_buffer_alloc_zero(fr_backend *be, size_t bytes, fr_buffer **out)
{
    FR_TRY(fr_buffer_alloc(be, bytes, out));
    if (bytes >= sizeof(float)) {
        fr_status s = fr_fill(be, bytes / sizeof(float), 0.0f, fr_view_of(*out, 0));
        if (s != FR_OK) {
            fr_buffer_free(*out);
            *out = NULL;
            return s;
        }
    }
    return FR_OK;
}

fr_status fr_buffer_reserve(fr_backend *be, fr_buffer **buf, size_t bytes)
{
    if (bytes < 4)
        bytes = 4;
    if (*buf && fr_buffer_size(*buf) >= bytes)
        return FR_OK;
    fr_buffer_free(*buf);
    *buf = NULL;
    return fr_buffer_alloc(be, bytes + bytes / 4, buf);
}

void fr_buffer_free(fr_buffer *buf)
{
    if (buf)
        buf->owner->ops->buffer_free(buf->owner->ctx, buf);
}

size_t fr_buffer_size(const fr_buffer *buf)
{
    return buf->bytes;
}

static fr_status check_range(const fr_buffer *buf, size_t off, size_t bytes,
                             const char *what)
{
    if (!buf)
        return fr_fail(FR_ERR_INVALID, "%s: buffer is NULL", what);
    if (off > buf->bytes || bytes > buf->bytes - off)
        return fr_fail(FR_ERR_INVALID, "%s: bytes [%zu, %zu) outside a buffer of %zu bytes",
                       what, off, off + bytes, buf->bytes);
    return FR_OK;
}

fr_status fr_buffer_upload(fr_buffer *dst, size_t off_bytes, const void *src,
                           size_t bytes)
{
    FR_TRY(check_range(dst, off_bytes, bytes, "buffer upload"));
    if (bytes == 0)
        return FR_OK;
    return dst->owner->ops->upload(dst->owner->ctx, dst, off_bytes, src, bytes);
}

fr_status fr_buffer_download(const fr_buffer *src, size_t off_bytes, void *dst,
                             size_t bytes)
{
    FR_TRY(check_range(src, off_bytes, bytes, "buffer download"));
    if (bytes == 0)
        return FR_OK;
    return src->owner->ops->download(src->owner->ctx, src, off_bytes, dst, bytes);
}

/* The first failed shadow sync since the last fr_view_host_status() on
 * this thread (per thread: backends are used from one thread each). */
static _Thread_local fr_status host_status = FR_OK;

fr_status fr_view_host_status(void)
{
    fr_status s = host_status;
    host_status = FR_OK;
    return s;
}

fr_status fr_buffer_sync_host(fr_buffer *buf)
{
    if (!buf || buf->host_valid || !buf->owner->ops->sync_to_host)
        return FR_OK;
    FR_TRY(buf->owner->ops->sync_to_host(buf->owner->ctx, buf));
    buf->host_valid = 1;
    return FR_OK;
}

static float *shadow(fr_buffer *buf)
{
    /* A failed sync leaves the shadow stale and not valid; the op runs on
     * it regardless (host views cannot fail), and whoever ran the op (the
     * dispatcher, a device backend) reports the failure from
     * fr_view_host_status() afterwards. */
    fr_status s = fr_buffer_sync_host(buf);
    if (s != FR_OK && host_status == FR_OK)
        host_status = s;
    return buf->host;
}

const float *fr_view_host_in(fr_view v)
{
    return shadow(v.buf) + v.off;
}

float *fr_view_host_out(fr_view v)
{
    float *p = shadow(v.buf);
    /* Only a shadow that held the device contents may go back down: one
     * whose sync failed would overwrite them with stale data. */
    if (v.buf->host_valid)
        v.buf->host_dirty = 1;
    return p + v.off;
}

const int32_t *fr_view_host_idx(fr_view v)
{
    return (const int32_t *)(const void *)shadow(v.buf) + v.off;
}
