/* test_cl_coherence.c — the OpenCL backend keeps a buffer's host shadow and
 * device copy coherent when transfers and launches fail (the protocol of
 * backend_impl.h). Failures are injected with fr_cl_test_fail_next, which
 * makes the backend's own transfer and launch wrappers fail before they
 * reach OpenCL; everything else runs on a real device (PoCL on a CPU), so
 * the test skips where this build has no OpenCL backend or the machine no
 * device. For each failure: the op returns FR_ERR_BACKEND naming the
 * transfer, the buffer flags say what the documentation says, the newest
 * data survives (a failed upload never lets stale device data replace a
 * newer shadow; a failed download never lets a CPU op compute or write
 * from a stale shadow), and the op retried gives the right result. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fedrec/backend.h"
#include "fedrec/error.h"
#include "testutil.h"

#ifndef HAVE_FR_OPENCL
int main(void)
{
    TEST_SKIP("test_cl_coherence: this build has no OpenCL backend (configure found no OpenCL/CLBlast)");
}
#else
#include "backend/opencl/cl_internal.h"

enum { ROWS = 4, COLS = 16, N = ROWS * COLS };

static fr_backend *be;
static fr_cl_backend *cl;

/* Where the ops run: every op on the device, or every op on the CPU
 * through the host shadows (the backend's size threshold). */
static void ops_on_device(void)
{
    cl->min_elements = 0;
}

static void ops_on_cpu(void)
{
    cl->min_elements = SIZE_MAX;
}

static fr_buffer *put(const float *x, size_t n)
{
    fr_buffer *b = NULL;
    CHECK_OK(fr_buffer_alloc(be, n * sizeof(float), &b));
    CHECK_OK(fr_buffer_upload(b, 0, x, n * sizeof(float)));
    return b;
}

/* The buffer's contents as the library's user sees them. */
static void get(const fr_buffer *b, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = -12345.0f;
    CHECK_OK(fr_buffer_download(b, 0, x, n * sizeof(float)));
}

/* Index of the first element of got that differs from want, or -1. */
static long differs(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            return (long)i;
    return -1;
}

#define CHECK_SAME(got, want, n, ...)                                                  \
    do {                                                                               \
        long at_ = differs(got, want, n);                                              \
        CHECK(at_ < 0, __VA_ARGS__);                                                   \
        if (at_ >= 0)                                                                  \
            fprintf(stderr, "    element %ld is %g, expected %g\n", at_, (double)(got)[at_], \
                    (double)(want)[at_]);                                              \
    } while (0)

/* The op failed with the injected fault, reported with a message naming
 * `what`, and the fault was used up (the op did reach the transfer). */
static void check_failed(fr_status s, fr_cl_fault kind, const char *what, const char *op)
{
    const char *msg = fr_last_error();
    CHECK(s == FR_ERR_BACKEND, "%s with a failing %s returned %s", op, what, fr_status_name(s));
    CHECK(strstr(msg, what) && strstr(msg, "CL_OUT_OF_RESOURCES") && strstr(msg, cl->device_name),
          "%s: message does not name the failed %s: %s", op, what, msg);
    CHECK(cl->faults[kind] == 0, "%s never reached the %s it was to fail", op, what);
    cl->faults[kind] = 0;
}

static float x0[N], x1[N], bias[COLS], want[N], got[N];

/* A dirty shadow (written by a CPU op) whose upload fails before a kernel
 * that reads and writes the buffer: the shadow must stay the newest copy. */
static void upload_fails_before_kernel(void)
{
    fr_buffer *x = put(x0, N), *b = put(bias, COLS);
    ops_on_cpu();
    CHECK_OK(fr_scal(be, N, 2.0f, fr_view_of(x, 0))); /* shadow 2 x0, device x0 */
    CHECK(x->host_dirty && x->host_valid, "setup: shadow not dirty after a CPU op");

    ops_on_device();
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_UPLOAD, 1));
    fr_status s = fr_bias_add(be, ROWS, COLS, fr_view_of(x, 0), fr_view_of(b, 0));
    check_failed(s, FR_CL_FAULT_UPLOAD, "shadow upload", "bias_add");
    /* Documented state: the shadow still valid, dirty and newest. */
    CHECK(x->host_valid && x->host_dirty,
          "after a failed upload the shadow is valid %d, dirty %d (expected 1, 1)", x->host_valid,
          x->host_dirty);
    get(x, got, N);
    CHECK_SAME(got, x1, N, "after a failed upload the buffer lost its newer host data");
    /* A CPU op reading it now must see the newer data, not the device's. */
    ops_on_cpu();
    float norm = 0, norm_want = 0;
    CHECK_OK(fr_nrm2(be, N, fr_view_of(x, 0), &norm));
    for (size_t i = 0; i < N; i++)
        norm_want += x1[i] * x1[i];
    CHECK_NEAR(norm, sqrtf(norm_want), 1e-3);

    /* Retried on the device: (2 x0) + bias. */
    ops_on_device();
    CHECK_OK(fr_bias_add(be, ROWS, COLS, fr_view_of(x, 0), fr_view_of(b, 0)));
    CHECK(!x->host_dirty && !x->host_valid, "after the kernel: dirty %d valid %d", x->host_dirty,
          x->host_valid);
    for (size_t i = 0; i < N; i++)
        want[i] = x1[i] + bias[i % COLS];
    get(x, got, N);
    CHECK_SAME(got, want, N, "bias_add retried after a failed upload");
    fr_buffer_free(x);
    fr_buffer_free(b);
}

/* The upload succeeds but the launch fails: nothing ran on the device, so
 * the shadow (now pushed down) is still the device's contents. */
static void launch_fails(void)
{
    fr_buffer *x = put(x0, N), *b = put(bias, COLS), *y = put(x0, N);
    ops_on_cpu();
    CHECK_OK(fr_scal(be, N, 2.0f, fr_view_of(x, 0)));
    ops_on_device();
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_LAUNCH, 1));
    fr_status s = fr_bias_add(be, ROWS, COLS, fr_view_of(x, 0), fr_view_of(b, 0));
    check_failed(s, FR_CL_FAULT_LAUNCH, "bias_add", "bias_add");
    CHECK(x->host_valid && !x->host_dirty,
          "after a failed launch the shadow is valid %d, dirty %d (expected 1, 0)", x->host_valid,
          x->host_dirty);
    get(x, got, N);
    CHECK_SAME(got, x1, N, "a failed launch changed the buffer");
    CHECK_OK(fr_bias_add(be, ROWS, COLS, fr_view_of(x, 0), fr_view_of(b, 0)));
    for (size_t i = 0; i < N; i++)
        want[i] = x1[i] + bias[i % COLS];
    get(x, got, N);
    CHECK_SAME(got, want, N, "bias_add retried after a failed launch");

    /* A CLBlast routine that fails: y's dirty shadow went down first, so
     * nothing newer is lost, and the retry is right. */
    ops_on_cpu();
    CHECK_OK(fr_scal(be, N, 2.0f, fr_view_of(y, 0)));
    ops_on_device();
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_LAUNCH, 1));
    s = fr_axpy(be, N, 1.0f, fr_view_of(x, 0), fr_view_of(y, 0));
    check_failed(s, FR_CL_FAULT_LAUNCH, "SAXPY", "axpy");
    CHECK(!y->host_dirty, "y still dirty after a routine that may have written it");
    get(y, got, N);
    CHECK_SAME(got, x1, N, "a failed SAXPY lost y's newer host data");
    CHECK_OK(fr_axpy(be, N, 1.0f, fr_view_of(x, 0), fr_view_of(y, 0)));
    for (size_t i = 0; i < N; i++)
        want[i] = x1[i] + (x1[i] + bias[i % COLS]);
    get(y, got, N);
    CHECK_SAME(got, want, N, "axpy retried after a failed SAXPY");
    fr_buffer_free(x);
    fr_buffer_free(b);
    fr_buffer_free(y);
}

/* fr_buffer_upload: a dirty shadow that cannot go down first keeps it all;
 * a failed write of the range itself forgets the (clean) shadow. */
static void buffer_upload_fails(void)
{
    fr_buffer *x = put(x0, N);
    ops_on_cpu();
    CHECK_OK(fr_scal(be, N, 2.0f, fr_view_of(x, 0)));
    const float four[4] = {-1, -2, -3, -4};
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_UPLOAD, 1));
    fr_status s = fr_buffer_upload(x, 0, four, sizeof four);
    check_failed(s, FR_CL_FAULT_UPLOAD, "shadow upload", "fr_buffer_upload");
    CHECK(x->host_valid && x->host_dirty, "after a failed shadow push: valid %d, dirty %d",
          x->host_valid, x->host_dirty);
    get(x, got, N);
    CHECK_SAME(got, x1, N, "a failed upload lost the newer host data");
    /* Retried, it pushes the shadow down; then a write of a range fails. */
    CHECK_OK(fr_buffer_upload(x, 0, x1, N * sizeof(float)));
    CHECK(x->host_valid && !x->host_dirty, "setup: shadow valid %d dirty %d", x->host_valid,
          x->host_dirty);
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_UPLOAD, 1));
    s = fr_buffer_upload(x, 0, four, sizeof four);
    check_failed(s, FR_CL_FAULT_UPLOAD, "upload of 16 bytes at byte 0", "fr_buffer_upload");
    CHECK(!x->host_valid && !x->host_dirty,
          "after a failed range write: valid %d, dirty %d (expected 0, 0)", x->host_valid,
          x->host_dirty);
    CHECK_OK(fr_buffer_upload(x, 0, four, sizeof four));
    memcpy(want, x1, sizeof want);
    memcpy(want, four, sizeof four);
    get(x, got, N);
    CHECK_SAME(got, want, N, "upload retried");
    fr_buffer_free(x);
}

/* A CPU op whose input's shadow cannot be brought up to date must fail
 * before computing: no output from the stale shadow, nothing marked dirty,
 * the device contents intact. */
static void download_fails_before_cpu_op(void)
{
    fr_buffer *x = put(x0, N), *y = put(x1, N);
    /* x's shadow holds x0, then the device gets 5s: a stale shadow. */
    ops_on_cpu();
    float norm;
    CHECK_OK(fr_nrm2(be, N, fr_view_of(x, 0), &norm));
    CHECK_OK(fr_nrm2(be, N, fr_view_of(y, 0), &norm)); /* y's shadow valid */
    ops_on_device();
    CHECK_OK(fr_fill(be, N, 5.0f, fr_view_of(x, 0)));
    CHECK(!x->host_valid && y->host_valid, "setup: x valid %d, y valid %d", x->host_valid,
          y->host_valid);

    ops_on_cpu();
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_DOWNLOAD, 1));
    fr_status s = fr_relu(be, N, fr_view_of(x, 0), fr_view_of(y, 0));
    check_failed(s, FR_CL_FAULT_DOWNLOAD, "shadow download", "relu on the CPU");
    CHECK(!x->host_valid, "x's shadow marked valid after its download failed");
    CHECK(!y->host_dirty, "relu wrote y from a stale x: y's shadow is dirty");
    get(y, got, N);
    CHECK_SAME(got, x1, N, "relu on the CPU changed y after its input's download failed");
    get(x, got, N);
    for (size_t i = 0; i < N; i++)
        want[i] = 5.0f;
    CHECK_SAME(got, want, N, "x's device contents lost");
    /* The failure does not stick to the next op, and the retry is right. */
    CHECK_OK(fr_relu(be, N, fr_view_of(x, 0), fr_view_of(y, 0)));
    get(y, got, N);
    CHECK_SAME(got, want, N, "relu retried after a failed download");
    fr_buffer_free(x);
    fr_buffer_free(y);
}

/* GEMM's C = beta C (alpha = 0) runs on the CPU even on the device path:
 * a failed download of C fails it (it used to succeed without scaling),
 * and leaves no failure behind for the next op. */
static void gemm_scale_download_fails(int batched)
{
    const char *op = batched ? "gemm_strided_batched (C = beta C)" : "gemm (C = beta C)";
    fr_buffer *a = put(x0, N), *b = put(x0, N), *c = put(x0, N);
    ops_on_cpu();
    float norm;
    CHECK_OK(fr_nrm2(be, N, fr_view_of(c, 0), &norm)); /* C's shadow: x0 */
    ops_on_device();
    CHECK_OK(fr_fill(be, N, 3.0f, fr_view_of(c, 0))); /* device: 3s; shadow stale */
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_DOWNLOAD, 1));
    /* 2 x 2 items of an 8 x 8 C with k = 8 (4 x 16 floats: ROWS x COLS). */
    fr_status s = batched
                      ? fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, 4, 8, 8, 0.0f,
                                                fr_view_of(a, 0), 8, 0, fr_view_of(b, 0), 8, 0,
                                                0.5f, fr_view_of(c, 0), 8, 32, 2)
                      : fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 8, 8, 8, 0.0f, fr_view_of(a, 0), 8,
                                fr_view_of(b, 0), 8, 0.5f, fr_view_of(c, 0), 8);
    check_failed(s, FR_CL_FAULT_DOWNLOAD, "shadow download", op);
    CHECK(!c->host_dirty, "%s: C's stale shadow was marked dirty", op);
    get(c, got, N);
    for (size_t i = 0; i < N; i++)
        want[i] = 3.0f;
    CHECK_SAME(got, want, N, "%s: C changed by the failed op", op);
    /* The next op (on host shadows) is not blamed for the old failure. */
    ops_on_cpu();
    s = fr_nrm2(be, N, fr_view_of(a, 0), &norm);
    CHECK(s == FR_OK, "%s: the next op failed with the old failure: %s", op, fr_last_error());
    ops_on_device();
    CHECK_OK(batched ? fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, 4, 8, 8, 0.0f,
                                               fr_view_of(a, 0), 8, 0, fr_view_of(b, 0), 8, 0,
                                               0.5f, fr_view_of(c, 0), 8, 32, 2)
                     : fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 8, 8, 8, 0.0f, fr_view_of(a, 0), 8,
                               fr_view_of(b, 0), 8, 0.5f, fr_view_of(c, 0), 8));
    for (size_t i = 0; i < N; i++)
        want[i] = 1.5f;
    get(c, got, N);
    CHECK_SAME(got, want, N, "%s retried", op);
    fr_buffer_free(a);
    fr_buffer_free(b);
    fr_buffer_free(c);
}

/* GEMM with k = 0 is an empty op, on the CPU without syncing anything
 * first; its C = beta C still fails when C's download does, leaving C's
 * stale shadow clean and the device copy intact. */
static void empty_gemm_download_fails(void)
{
    fr_buffer *c = put(x0, N);
    ops_on_cpu();
    float norm;
    CHECK_OK(fr_nrm2(be, N, fr_view_of(c, 0), &norm));
    ops_on_device();
    CHECK_OK(fr_fill(be, N, 3.0f, fr_view_of(c, 0)));
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_DOWNLOAD, 1));
    fr_view none = fr_view_of(NULL, 0);
    fr_status s = fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 8, 8, 0, 1.0f, none, 1, none, 8, 0.5f,
                          fr_view_of(c, 0), 8);
    check_failed(s, FR_CL_FAULT_DOWNLOAD, "shadow download", "gemm with k = 0");
    CHECK(!c->host_dirty, "gemm with k = 0: C's stale shadow was marked dirty");
    for (size_t i = 0; i < N; i++)
        want[i] = 3.0f;
    get(c, got, N);
    CHECK_SAME(got, want, N, "gemm with k = 0: C changed by the failed op");
    CHECK_OK(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 8, 8, 0, 1.0f, none, 1, none, 8, 0.5f,
                     fr_view_of(c, 0), 8));
    for (size_t i = 0; i < N; i++)
        want[i] = 1.5f;
    get(c, got, N);
    CHECK_SAME(got, want, N, "gemm with k = 0 retried");
    fr_buffer_free(c);
}

/* Guards behind the protocol, reached by breaking it on purpose: a sync
 * never reads the device over a dirty shadow, and a failure a host view
 * met outside any op is not blamed on the next op. */
static void guards(void)
{
    fr_buffer *x = put(x0, N), *y = put(x0, N);
    ops_on_cpu();
    CHECK_OK(fr_scal(be, N, 2.0f, fr_view_of(x, 0))); /* shadow 2 x0, dirty */
    x->host_valid = 0;                                 /* what no op may do */
    CHECK_OK(fr_buffer_sync_host(x));
    CHECK(x->host_valid && x->host_dirty, "sync over a dirty shadow: valid %d, dirty %d",
          x->host_valid, x->host_dirty);
    CHECK_SAME(x->host, x1, N, "a sync read the device over a dirty shadow");

    ops_on_device();
    CHECK_OK(fr_fill(be, N, 1.0f, fr_view_of(y, 0))); /* y's shadow not valid */
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_DOWNLOAD, 1));
    (void)fr_view_host_in(fr_view_of(y, 0)); /* fails; nobody asks */
    CHECK(cl->faults[FR_CL_FAULT_DOWNLOAD] == 0, "the host view did not try to sync");
    ops_on_cpu();
    float norm;
    fr_status s = fr_nrm2(be, N, fr_view_of(x, 0), &norm);
    CHECK(s == FR_OK, "nrm2 failed with an older failure: %s", fr_last_error());
    (void)fr_view_host_status();
    fr_buffer_free(x);
    fr_buffer_free(y);
}

/* A device result that cannot be read back. */
static void result_download_fails(void)
{
    fr_buffer *x = put(x0, N);
    ops_on_device();
    float dot = 0;
    CHECK_OK(fr_cl_test_fail_next(be, FR_CL_FAULT_DOWNLOAD, 1));
    fr_status s = fr_dot(be, N, fr_view_of(x, 0), fr_view_of(x, 0), &dot);
    check_failed(s, FR_CL_FAULT_DOWNLOAD, "reading a result", "dot");
    CHECK_OK(fr_dot(be, N, fr_view_of(x, 0), fr_view_of(x, 0), &dot));
    float dot_want = 0;
    for (size_t i = 0; i < N; i++)
        dot_want += x0[i] * x0[i];
    CHECK_NEAR(dot, dot_want, 1e-3 * dot_want);
    fr_buffer_free(x);
}

int main(void)
{
    fr_opencl_device_info *devices = NULL;
    size_t n_devices = 0;
    CHECK_OK(fr_opencl_list_devices(&devices, &n_devices));
    free(devices);
    if (n_devices == 0)
        TEST_SKIP("test_cl_coherence: no OpenCL device (install pocl-opencl-icd; 'fedrec devices' lists them)");
    fr_backend_options opt;
    fr_backend_options_default(&opt);
    opt.kind = FR_BACKEND_OPENCL;
    opt.threads = 1;
    fr_status s = fr_backend_open(&opt, &be);
    CHECK_OK(s);
    if (s != FR_OK)
        return fr_test_finish("test_cl_coherence");
    cl = be->ctx;
    fprintf(stderr, "OpenCL: %s\n", fr_backend_describe(be));

    /* The hook refuses what is not an OpenCL backend. */
    fr_backend *cpu;
    CHECK_OK(fr_cpu_backend_open(FR_ISA_SCALAR, 1, &cpu));
    CHECK(fr_cl_test_fail_next(cpu, FR_CL_FAULT_UPLOAD, 1) == FR_ERR_INVALID,
          "fault injection accepted a CPU backend");
    fr_backend_close(cpu);

    for (size_t i = 0; i < N; i++) {
        x0[i] = (float)((int)i % 7 - 3) * 0.5f; /* negatives too, for relu */
        x1[i] = 2.0f * x0[i];
    }
    for (size_t j = 0; j < COLS; j++)
        bias[j] = 0.25f * (float)j;

    upload_fails_before_kernel();
    launch_fails();
    buffer_upload_fails();
    download_fails_before_cpu_op();
    gemm_scale_download_fails(0);
    gemm_scale_download_fails(1);
    empty_gemm_download_fails();
    guards();
    result_download_fails();

    fr_backend_close(be);
    return fr_test_finish("test_cl_coherence");
}
#endif
