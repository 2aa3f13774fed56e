/* backend_impl.h — what a backend implementation provides (internal).
 *
 * A backend is an fr_backend_ops table plus a private context. Buffers
 * start with the common fr_buffer header below, followed by whatever the
 * backend keeps. Every op entry except the buffer ones may be NULL; the
 * dispatcher (dispatch.c) then runs the CPU backend's op on host views of
 * the same buffers (fr_view_host_in / fr_view_host_out), which for a device
 * backend means a host shadow copy kept coherent by the flags below. */
#ifndef FR_BACKEND_IMPL_H
#define FR_BACKEND_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include "fedrec/backend.h"

struct fr_buffer {
    fr_backend *owner;
    size_t bytes;
    float *host;      /* CPU backend: the storage; device backends: shadow or NULL */
    int host_valid;   /* device backends: the shadow holds current contents */
    int host_dirty;   /* device backends: the shadow is newer than the device */
};

typedef struct fr_backend_ops {
    const char *name;

    /* Buffers (required). alloc fills the fr_buffer header's bytes. */
    fr_status (*buffer_alloc)(void *ctx, size_t bytes, fr_buffer **out);
    void (*buffer_free)(void *ctx, fr_buffer *buf);
    fr_status (*upload)(void *ctx, fr_buffer *dst, size_t off_bytes,
                        const void *src, size_t bytes);
    fr_status (*download)(void *ctx, const fr_buffer *src, size_t off_bytes,
                          void *dst, size_t bytes);
    /* Make buf->host current (device -> shadow). Required for device backends. */
    fr_status (*sync_to_host)(void *ctx, fr_buffer *buf);
    fr_status (*finish)(void *ctx);
    void (*destroy)(void *ctx);

    /* Dense ops. */
    fr_status (*gemm)(void *ctx, fr_transpose ta, fr_transpose tb, size_t m,
                      size_t n, size_t k, float alpha, fr_view a, size_t lda,
                      fr_view b, size_t ldb, float beta, fr_view c, size_t ldc);
    fr_status (*gemm_strided_batched)(void *ctx, fr_transpose ta,
                                      fr_transpose tb, size_t m, size_t n,
                                      size_t k, float alpha, fr_view a,
                                      size_t lda, size_t stride_a, fr_view b,
                                      size_t ldb, size_t stride_b, float beta,
                                      fr_view c, size_t ldc, size_t stride_c,
                                      size_t batch);
    fr_status (*axpy)(void *ctx, size_t n, float alpha, fr_view x, fr_view y);
    fr_status (*dot)(void *ctx, size_t n, fr_view x, fr_view y, float *result);
    fr_status (*nrm2)(void *ctx, size_t n, fr_view x, float *result);
    fr_status (*scal)(void *ctx, size_t n, float alpha, fr_view x);

    /* Element-wise and utility ops. */
    fr_status (*copy)(void *ctx, size_t n, fr_view x, fr_view y);
    fr_status (*fill)(void *ctx, size_t n, float value, fr_view x);
    fr_status (*mul)(void *ctx, size_t n, fr_view a, fr_view b, fr_view y);
    fr_status (*bias_add)(void *ctx, size_t rows, size_t cols, fr_view x,
                          fr_view bias);
    fr_status (*col_sum)(void *ctx, size_t rows, size_t cols, fr_view x,
                         float beta, fr_view out);
    fr_status (*relu)(void *ctx, size_t n, fr_view x, fr_view y);
    fr_status (*relu_backward)(void *ctx, size_t n, fr_view x, fr_view dy,
                               fr_view dx);
    fr_status (*sigmoid)(void *ctx, size_t n, fr_view x, fr_view y);
    fr_status (*sigmoid_backward)(void *ctx, size_t n, fr_view y, fr_view dy,
                                  fr_view dx);
    fr_status (*softmax_rows)(void *ctx, size_t rows, size_t cols, fr_view x,
                              fr_view y);
    fr_status (*softmax_rows_backward)(void *ctx, size_t rows, size_t cols,
                                       fr_view y, fr_view dy, fr_view dx);
    fr_status (*batchnorm_forward_train)(void *ctx, size_t rows, size_t cols,
                                         fr_view x, fr_view gamma, fr_view beta,
                                         float eps, float momentum,
                                         fr_bn_activation act, fr_view y,
                                         fr_view save_mean, fr_view save_invstd,
                                         fr_view running_mean,
                                         fr_view running_var);
    fr_status (*batchnorm_forward_eval)(void *ctx, size_t rows, size_t cols,
                                        fr_view x, fr_view gamma, fr_view beta,
                                        fr_view running_mean,
                                        fr_view running_var, float eps,
                                        fr_bn_activation act, fr_view y);
    fr_status (*batchnorm_backward)(void *ctx, size_t rows, size_t cols,
                                    fr_view x, fr_view gamma, fr_view beta,
                                    fr_view save_mean, fr_view save_invstd,
                                    fr_bn_activation act, fr_view dy, fr_view dx,
                                    fr_view dgamma, fr_view dbeta);
    fr_status (*embedding_gather)(void *ctx, size_t n_idx, size_t dim,
                                  fr_view table, fr_view idx, fr_view out);
    fr_status (*embedding_scatter_add)(void *ctx, size_t n_idx, size_t dim,
                                       fr_view dout, fr_view idx,
                                       fr_view dtable);
    fr_status (*sgd_rows)(void *ctx, size_t n_rows, size_t dim, fr_view rows,
                          fr_view grad, fr_view param, float lr,
                          float weight_decay);
    fr_status (*adam_rows)(void *ctx, size_t n_rows, size_t dim, fr_view rows,
                           fr_view grad, fr_view param, fr_view m, fr_view v,
                           const fr_adam_step *h);
    fr_status (*adam)(void *ctx, size_t n, fr_view grad, fr_view param,
                      fr_view m, fr_view v, const fr_adam_step *h);
    fr_status (*rows_dot)(void *ctx, size_t n, size_t dim, fr_view x, size_t ldx, fr_view xi,
                          fr_view y, size_t ldy, fr_view yi, fr_view bias, fr_view out);
    fr_status (*segment_rows_axpy)(void *ctx, size_t n_seg, size_t n_contrib, size_t dim,
                                   fr_view start, fr_view yi, float alpha, fr_view coef,
                                   fr_view ci, fr_view x, size_t ldx, fr_view xi, fr_view y,
                                   size_t ldy);
    fr_status (*bce_with_logits)(void *ctx, size_t n, fr_view logits,
                                 fr_view labels, fr_view loss, fr_view dlogits);
} fr_backend_ops;

struct fr_backend {
    const fr_backend_ops *ops;
    void *ctx;
    fr_backend *cpu;         /* CPU backend for NULL entries (self for CPU) */
    fr_cpu_isa isa;          /* ISA of the CPU ops */
    int threads;
    _Atomic uint64_t ops_issued; /* fr_backend_ops_issued (ops may come from several threads) */
    char description[128];
};

/* Make buf's host shadow current now (a device backend's sync_to_host
 * when the shadow is not valid), returning a failure with its message;
 * FR_OK at once for NULL, a valid shadow or the CPU backend. Code that runs
 * CPU ops on a device backend's buffers calls it for each buffer first, so
 * a failed download fails the op before it computes anything. */
fr_status fr_buffer_sync_host(fr_buffer *buf);
/* Host pointer for reading view v (syncs a device buffer's shadow). */
const float *fr_view_host_in(fr_view v);
/* Host pointer for writing view v (marks a device buffer's shadow dirty). */
float *fr_view_host_out(fr_view v);
/* Host pointer for reading an int32 index view. */
const int32_t *fr_view_host_idx(fr_view v);
/* The first sync_to_host failure met by the host views above since the
 * last call on this thread (FR_OK if none); reading it clears it. The
 * dispatcher checks it after every fallback op and after reading index
 * lists; a backend that calls CPU ops directly must check it too. */
fr_status fr_view_host_status(void);

/* Coherence protocol for device backends (the CPU backend ignores it: its
 * host pointer is the storage and host_valid stays 1).
 * - host: the shadow, bytes long, owned and freed by the backend. It may be
 *   allocated lazily by sync_to_host, but must be non-NULL whenever
 *   sync_to_host returns, failure included (host views cannot fail).
 * - host_valid: the shadow equals the device contents (or, when dirty, is
 *   newer). fr_buffer_sync_host and the host views call ops->sync_to_host
 *   (device -> shadow) when it is not set, and set it when the sync
 *   succeeds. The device backend clears it when one of its own ops that
 *   writes the buffer has been enqueued, never before (an op that fails
 *   before reaching the device leaves the flags as they were).
 * - host_dirty: the shadow was written on the host by a fallback op
 *   (fr_view_host_out sets it, and only on a valid shadow) and is newer
 *   than the device. The device backend uploads the whole shadow and
 *   clears the flag before its own next op, upload or download touches
 *   the buffer; the shadow stays valid after that upload. A dirty shadow
 *   is always valid: a failed upload leaves both flags set (the shadow
 *   still holds the newest contents and the next op retries the upload),
 *   a device op clears host_valid only on buffers it pushed down first,
 *   and sync_to_host never reads the device over a dirty shadow.
 * - A failed sync leaves host_valid 0; fr_buffer_sync_host returns the
 *   failure, the host views report it through fr_view_host_status(). Code
 *   running CPU ops on device buffers syncs them with fr_buffer_sync_host
 *   first and does not run the op when that fails. (The dispatcher's
 *   fallback for NULL entries runs the op anyway: its output is then
 *   unspecified, and its stale shadow is never marked dirty, so the
 *   device contents survive.)
 * - A failed write to the device (an upload) leaves host_valid 0 and
 *   host_dirty 0: the device copy stands, the range written unspecified. */

/* The CPU backend: open with a given ISA and thread count. */
fr_status fr_cpu_backend_open(fr_cpu_isa isa, int threads, fr_backend **out);
extern const fr_backend_ops fr_cpu_backend_ops;

#endif
