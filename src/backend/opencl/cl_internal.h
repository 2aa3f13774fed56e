/* cl_internal.h — the OpenCL backend's insides (internal).
 *
 * One context and one in-order queue per backend; buffers live on the
 * device (cl_mem) with a host shadow used only by CPU fallbacks (see the
 * coherence protocol in backend_impl.h); the kernels of cl/ are compiled
 * once when the backend opens. Transfers and launches pass through one
 * place each, where tests can make them fail (fr_cl_test_fail_next). */
#ifndef FR_CL_INTERNAL_H
#define FR_CL_INTERNAL_H

#include "config.h"

#include <CL/cl.h>

#include "backend/backend_impl.h"

enum fr_cl_kernel_id {
    FR_CLK_FILL, FR_CLK_FILL_MATRIX, FR_CLK_COPY, FR_CLK_MUL, FR_CLK_BIAS_ADD,
    FR_CLK_COL_SUM, FR_CLK_RELU, FR_CLK_RELU_BACKWARD, FR_CLK_SIGMOID,
    FR_CLK_SIGMOID_BACKWARD, FR_CLK_SOFTMAX_ROWS, FR_CLK_SOFTMAX_ROWS_BACKWARD,
    FR_CLK_BCE, FR_CLK_BN_TRAIN, FR_CLK_BN_EVAL, FR_CLK_BN_BACKWARD,
    FR_CLK_GATHER, FR_CLK_SCATTER_ADD, FR_CLK_SGD_ROWS, FR_CLK_ADAM_ROWS,
    FR_CLK_ADAM, FR_CLK_ROWS_DOT, FR_CLK_SEGMENT_ROWS_AXPY, FR_CLK_COUNT
};

/* Kinds of device operation a test can make fail (fr_cl_test_fail_next). */
typedef enum fr_cl_fault {
    FR_CL_FAULT_UPLOAD,   /* host -> device writes (fr_cl_write) */
    FR_CL_FAULT_DOWNLOAD, /* device -> host reads (fr_cl_read) */
    FR_CL_FAULT_LAUNCH,   /* kernel launches and CLBlast routines */
    FR_CL_FAULT_KINDS
} fr_cl_fault;

typedef struct fr_cl_buffer {
    fr_buffer base;
    cl_mem mem;
} fr_cl_buffer;

typedef struct fr_cl_backend {
    fr_backend be;            /* be.ctx points back here */
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[FR_CLK_COUNT];
    size_t min_elements;      /* smaller ops run on the CPU */
    cl_mem scalar;            /* one float: dot and nrm2 results */
    cl_mem gemm_temp;         /* CLBlast's GEMM scratch, reused */
    size_t gemm_temp_bytes;
    char device_name[128], platform_name[128];
    unsigned faults[FR_CL_FAULT_KINDS]; /* fr_cl_test_fail_next */
} fr_cl_backend;

/* Open on the device the options choose (fr_backend_options). */
fr_status fr_cl_backend_open(const fr_backend_options *opt, fr_backend **out);

/* Before a device op touches buf: push a host-written (dirty) shadow down.
 * A failed push leaves buf as it was: the shadow valid, dirty and the
 * newest copy, so the next op or upload tries again. */
fr_status fr_cl_to_device(fr_cl_backend *cl, fr_buffer *buf);
/* After a device op was enqueued that writes buf: the shadow is stale.
 * Only for buffers the op pushed down first (fr_cl_to_device succeeded),
 * so the shadow is never dirty here and forgetting it loses nothing. */
static inline void fr_cl_written(fr_buffer *buf)
{
    buf->host_valid = 0;
}
static inline cl_mem fr_cl_mem(fr_view v)
{
    return ((fr_cl_buffer *)v.buf)->mem;
}
/* The name of a code a transfer, launch or allocation may return (CLBlast
 * returns the same codes), or NULL. */
const char *fr_cl_error_name(cl_int err);
/* A failed OpenCL call as an FR_ERR_BACKEND message. */
fr_status fr_cl_fail(const fr_cl_backend *cl, const char *what, cl_int err);
/* Blocking transfers between host memory and mem, each checked: what
 * names the transfer in the message. */
fr_status fr_cl_write(fr_cl_backend *cl, cl_mem mem, size_t off, size_t bytes, const void *src,
                      const char *what);
fr_status fr_cl_read(fr_cl_backend *cl, cl_mem mem, size_t off, size_t bytes, void *dst,
                     const char *what);
/* Run kernel k over `global` work-items. */
fr_status fr_cl_launch(fr_cl_backend *cl, int k, size_t global, const char *what);

/* Fault injection, for tests (tests/test_cl_coherence.c): the next
 * `count` operations of a kind on backend be fail as if the device had
 * refused them (CL_OUT_OF_RESOURCES), without reaching OpenCL. Library
 * code never sets it. FR_ERR_INVALID when be is not an OpenCL backend. */
fr_status fr_cl_test_fail_next(fr_backend *be, fr_cl_fault kind, unsigned count);
/* Whether this operation of kind must fail (uses up one injected fault). */
int fr_cl_fault_now(fr_cl_backend *cl, fr_cl_fault kind);

/* Op entries, in cl_ops.c. */
void fr_cl_fill_ops(fr_backend_ops *ops);

extern const char fr_cl_kernel_source[];

#endif
