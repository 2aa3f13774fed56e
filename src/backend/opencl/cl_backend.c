/* cl_backend.c — the OpenCL backend: choosing the device, the context,
 * queue and program (built once per backend), buffers with host shadows,
 * and the coherence between them (see backend_impl.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/cl_internal.h"
#include "core/error_internal.h"

static const char *const kernel_names[FR_CLK_COUNT] = {
    "fr_fill", "fr_fill_matrix", "fr_copy", "fr_mul", "fr_bias_add", "fr_col_sum",
    "fr_relu", "fr_relu_backward", "fr_sigmoid", "fr_sigmoid_backward", "fr_softmax_rows",
    "fr_softmax_rows_backward", "fr_bce_with_logits", "fr_batchnorm_forward_train",
    "fr_batchnorm_forward_eval", "fr_batchnorm_backward", "fr_embedding_gather",
    "fr_embedding_scatter_add", "fr_sgd_rows", "fr_adam_rows", "fr_adam",
    "fr_rows_dot", "fr_segment_rows_axpy",
};

const char *fr_cl_error_name(cl_int err)
{
    switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    default: return NULL;
    }
}

fr_status fr_cl_fail(const fr_cl_backend *cl, const char *what, cl_int err)
{
    const char *name = fr_cl_error_name(err);
    return fr_fail(FR_ERR_BACKEND, "OpenCL %s on '%s' (%s): error %d%s%s%s", what,
                   cl ? cl->device_name : "?", cl ? cl->platform_name : "?", (int)err,
                   name ? " (" : "", name ? name : "", name ? ")" : "");
}

/* ---- transfers, launches and the faults tests inject into them ------------ */

fr_status fr_cl_test_fail_next(fr_backend *be, fr_cl_fault kind, unsigned count)
{
    if (!be || strcmp(fr_backend_name(be), "opencl") || (unsigned)kind >= FR_CL_FAULT_KINDS)
        return fr_fail(FR_ERR_INVALID, "fr_cl_test_fail_next: needs an OpenCL backend and a fault kind below %d",
                       (int)FR_CL_FAULT_KINDS);
    ((fr_cl_backend *)be->ctx)->faults[kind] = count;
    return FR_OK;
}

int fr_cl_fault_now(fr_cl_backend *cl, fr_cl_fault kind)
{
    if (!cl->faults[kind])
        return 0;
    cl->faults[kind]--;
    return 1;
}

fr_status fr_cl_write(fr_cl_backend *cl, cl_mem mem, size_t off, size_t bytes, const void *src,
                      const char *what)
{
    cl_int err = fr_cl_fault_now(cl, FR_CL_FAULT_UPLOAD)
                     ? CL_OUT_OF_RESOURCES
                     : clEnqueueWriteBuffer(cl->queue, mem, CL_TRUE, off, bytes, src, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        return FR_OK;
    char what_bytes[96];
    snprintf(what_bytes, sizeof what_bytes, "%s of %zu bytes at byte %zu", what, bytes, off);
    return fr_cl_fail(cl, what_bytes, err);
}

fr_status fr_cl_read(fr_cl_backend *cl, cl_mem mem, size_t off, size_t bytes, void *dst,
                     const char *what)
{
    cl_int err = fr_cl_fault_now(cl, FR_CL_FAULT_DOWNLOAD)
                     ? CL_OUT_OF_RESOURCES
                     : clEnqueueReadBuffer(cl->queue, mem, CL_TRUE, off, bytes, dst, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        return FR_OK;
    char what_bytes[96];
    snprintf(what_bytes, sizeof what_bytes, "%s of %zu bytes at byte %zu", what, bytes, off);
    return fr_cl_fail(cl, what_bytes, err);
}

fr_status fr_cl_launch(fr_cl_backend *cl, int k, size_t global, const char *what)
{
    if (global == 0)
        return FR_OK;
    cl_int err = fr_cl_fault_now(cl, FR_CL_FAULT_LAUNCH)
                     ? CL_OUT_OF_RESOURCES
                     : clEnqueueNDRangeKernel(cl->queue, cl->kernels[k], 1, NULL, &global, NULL, 0, NULL, NULL);
    return err == CL_SUCCESS ? FR_OK : fr_cl_fail(cl, what, err);
}

/* ---- buffers ------------------------------------------------------------ */

static fr_status cl_buffer_alloc(void *ctx, size_t bytes, fr_buffer **out)
{
    fr_cl_backend *cl = ctx;
    if (bytes / 4 > 0xFFFFFFFFu)
        return fr_fail(FR_ERR_UNSUPPORTED, "OpenCL buffer of %zu bytes: kernels address at most 2^32 floats", bytes);
    fr_cl_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return fr_fail_nomem("OpenCL buffer", sizeof *b);
    cl_int err;
    b->mem = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS) {
        free(b);
        return fr_cl_fail(cl, "buffer allocation", err);
    }
    b->base.bytes = bytes;
    *out = &b->base;
    return FR_OK;
}

static void cl_buffer_free(void *ctx, fr_buffer *buf)
{
    (void)ctx;
    fr_cl_buffer *b = (fr_cl_buffer *)buf;
    clReleaseMemObject(b->mem);
    free(b->base.host);
    free(b);
}

fr_status fr_cl_to_device(fr_cl_backend *cl, fr_buffer *buf)
{
    if (!buf || !buf->host_dirty)
        return FR_OK;
    FR_TRY(fr_cl_write(cl, ((fr_cl_buffer *)buf)->mem, 0, buf->bytes, buf->host, "shadow upload"));
    buf->host_dirty = 0;
    return FR_OK;
}

static fr_status cl_upload(void *ctx, fr_buffer *dst, size_t off, const void *src, size_t bytes)
{
    fr_cl_backend *cl = ctx;
    FR_TRY(fr_cl_to_device(cl, dst));
    fr_status s = fr_cl_write(cl, ((fr_cl_buffer *)dst)->mem, off, bytes, src, "upload");
    if (s != FR_OK) {
        /* The range on the device may be half written, so the shadow no
         * longer surely matches it: forget the shadow (not dirty: it went
         * down above). The device copy stands, with that range unspecified. */
        dst->host_valid = 0;
        return s;
    }
    if (dst->host && dst->host_valid)
        memcpy((char *)dst->host + off, src, bytes); /* keep a valid shadow valid */
    return FR_OK;
}

static fr_status cl_download(void *ctx, const fr_buffer *src, size_t off, void *dst, size_t bytes)
{
    fr_cl_backend *cl = ctx;
    if (src->host_valid && src->host) {
        memcpy(dst, (const char *)src->host + off, bytes);
        return FR_OK;
    }
    return fr_cl_read(cl, ((const fr_cl_buffer *)src)->mem, off, bytes, dst, "download");
}

static fr_status cl_sync_to_host(void *ctx, fr_buffer *buf)
{
    fr_cl_backend *cl = ctx;
    if (!buf->host && !(buf->host = malloc(buf->bytes ? buf->bytes : 4)))
        return fr_fail_nomem("OpenCL host shadow", buf->bytes);
    /* A dirty shadow is newer than the device: reading over it would put
     * stale device data in its place (the protocol keeps dirty shadows
     * valid, so this only guards against an op that forgot it). */
    if (!buf->host_dirty)
        FR_TRY(fr_cl_read(cl, ((fr_cl_buffer *)buf)->mem, 0, buf->bytes, buf->host, "shadow download"));
    buf->host_valid = 1;
    return FR_OK;
}

static fr_status cl_finish(void *ctx)
{
    fr_cl_backend *cl = ctx;
    cl_int err = clFinish(cl->queue);
    return err == CL_SUCCESS ? FR_OK : fr_cl_fail(cl, "finish", err);
}

static void cl_destroy(void *ctx)
{
    fr_cl_backend *cl = ctx;
    for (int k = 0; k < FR_CLK_COUNT; k++)
        if (cl->kernels[k])
            clReleaseKernel(cl->kernels[k]);
    if (cl->scalar)
        clReleaseMemObject(cl->scalar);
    if (cl->gemm_temp)
        clReleaseMemObject(cl->gemm_temp);
    if (cl->program)
        clReleaseProgram(cl->program);
    if (cl->queue)
        clReleaseCommandQueue(cl->queue);
    if (cl->context)
        clReleaseContext(cl->context);
    free(cl);
}

/* ---- choosing the device -------------------------------------------------- */

/* An index ("1") or a case-insensitive substring of name. */
static int matches(const char *selector, unsigned index, const char *name)
{
    if (!selector || !*selector)
        return 1;
    char *end;
    unsigned long v = strtoul(selector, &end, 10);
    if (!*end)
        return v == index;
    size_t ls = strlen(selector), ln = strlen(name);
    for (size_t i = 0; i + ls <= ln; i++) {
        size_t j = 0;
        while (j < ls && tolower((unsigned char)name[i + j]) == tolower((unsigned char)selector[j]))
            j++;
        if (j == ls)
            return 1;
    }
    return 0;
}

static fr_status choose(const fr_backend_options *opt, const fr_opencl_device_info *list,
                        size_t count, long *chosen)
{
    *chosen = -1;
    int explicit = (opt->opencl_platform && *opt->opencl_platform) ||
                   (opt->opencl_device && *opt->opencl_device);
    for (size_t i = 0; i < count && *chosen < 0; i++) {
        if (!matches(opt->opencl_platform, list[i].platform_index, list[i].platform) ||
            !matches(opt->opencl_device, list[i].device_index, list[i].name))
            continue;
        if (opt->kind == FR_BACKEND_AUTO && !explicit && !list[i].is_gpu)
            continue;
        *chosen = (long)i;
    }
    if (*chosen >= 0 || opt->kind == FR_BACKEND_AUTO)
        return FR_OK;
    if (count == 0)
        return fr_fail(FR_ERR_UNSUPPORTED, "backend 'opencl': no OpenCL device found (install a driver, e.g. pocl-opencl-icd for CPUs; 'fedrec devices' lists what is seen)");
    return fr_fail(FR_ERR_UNSUPPORTED, "backend 'opencl': no device matches opencl.platform = '%s' and opencl.device = '%s' ('fedrec devices' lists them)",
                   opt->opencl_platform ? opt->opencl_platform : "",
                   opt->opencl_device ? opt->opencl_device : "");
}

static fr_status build_program(fr_cl_backend *cl)
{
    cl_int err;
    const char *src = fr_cl_kernel_source;
    cl->program = clCreateProgramWithSource(cl->context, 1, &src, NULL, &err);
    if (err != CL_SUCCESS)
        return fr_cl_fail(cl, "program creation", err);
    err = clBuildProgram(cl->program, 1, &cl->device, "", NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[3000] = "";
        clGetProgramBuildInfo(cl->program, cl->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        return fr_fail(FR_ERR_BACKEND, "OpenCL: the kernels of cl/ do not build on device '%s' of platform '%s' (error %d); build log:\n%s",
                       cl->device_name, cl->platform_name, (int)err, log);
    }
    for (int k = 0; k < FR_CLK_COUNT; k++) {
        cl->kernels[k] = clCreateKernel(cl->program, kernel_names[k], &err);
        if (err != CL_SUCCESS)
            return fr_fail(FR_ERR_BACKEND, "OpenCL: kernel %s missing on '%s' (error %d)", kernel_names[k],
                           cl->device_name, (int)err);
    }
    return FR_OK;
}

static fr_backend_ops cl_ops;

static void init_ops(void)
{
    cl_ops.name = "opencl";
    cl_ops.buffer_alloc = cl_buffer_alloc;
    cl_ops.buffer_free = cl_buffer_free;
    cl_ops.upload = cl_upload;
    cl_ops.download = cl_download;
    cl_ops.sync_to_host = cl_sync_to_host;
    cl_ops.finish = cl_finish;
    cl_ops.destroy = cl_destroy;
    fr_cl_fill_ops(&cl_ops);
}

static fr_status open_device(fr_cl_backend *cl, const fr_opencl_device_info *info)
{
    cl_uint n_platforms = 0;
    clGetPlatformIDs(0, NULL, &n_platforms);
    cl_platform_id *platforms = calloc(n_platforms ? n_platforms : 1, sizeof *platforms);
    if (!platforms)
        return fr_fail_nomem("OpenCL platforms", n_platforms * sizeof *platforms);
    clGetPlatformIDs(n_platforms, platforms, NULL);
    cl->platform = platforms[info->platform_index];
    free(platforms);
    cl_uint n_devices = 0;
    clGetDeviceIDs(cl->platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n_devices);
    cl_device_id *devices = calloc(n_devices ? n_devices : 1, sizeof *devices);
    if (!devices)
        return fr_fail_nomem("OpenCL devices", n_devices * sizeof *devices);
    clGetDeviceIDs(cl->platform, CL_DEVICE_TYPE_ALL, n_devices, devices, NULL);
    cl->device = devices[info->device_index];
    free(devices);
    snprintf(cl->device_name, sizeof cl->device_name, "%s", info->name);
    snprintf(cl->platform_name, sizeof cl->platform_name, "%s", info->platform);
    cl_int err;
    cl->context = clCreateContext(NULL, 1, &cl->device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return fr_cl_fail(cl, "context creation", err);
    cl->queue = clCreateCommandQueue(cl->context, cl->device, 0, &err);
    if (err != CL_SUCCESS)
        return fr_cl_fail(cl, "queue creation", err);
    cl->scalar = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, sizeof(float), NULL, &err);
    if (err != CL_SUCCESS)
        return fr_cl_fail(cl, "buffer allocation", err);
    return build_program(cl);
}

fr_status fr_cl_backend_open(const fr_backend_options *opt, fr_backend **out)
{
    *out = NULL;
    fr_opencl_device_info *list;
    size_t count;
    FR_TRY(fr_opencl_list_devices(&list, &count));
    long chosen;
    fr_status s = choose(opt, list, count, &chosen);
    if (s != FR_OK || chosen < 0) {
        free(list);
        return s; /* FR_OK with *out NULL: auto found no GPU */
    }
    fr_cl_backend *cl = calloc(1, sizeof *cl);
    if (!cl) {
        free(list);
        return fr_fail_nomem("OpenCL backend", sizeof *cl);
    }
    static pthread_once_t ops_once = PTHREAD_ONCE_INIT;
    pthread_once(&ops_once, init_ops);
    cl->be.ops = &cl_ops;
    cl->be.ctx = cl;
    cl->min_elements = opt->opencl_min_elements;
    s = open_device(cl, &list[chosen]);
    if (s == FR_OK) {
        fr_cpu_isa isa = opt->cpu_isa == FR_ISA_AUTO ? fr_cpu_isa_best() : opt->cpu_isa;
        int threads = opt->threads > 0 ? opt->threads : 1;
        s = fr_cpu_backend_open(isa, threads, &cl->be.cpu);
        if (s == FR_OK) {
            cl->be.isa = isa;
            cl->be.threads = fr_backend_threads(cl->be.cpu);
            snprintf(cl->be.description, sizeof cl->be.description,
                     "opencl (%.40s on %.40s; ops under %zu elements on cpu %s)", cl->device_name,
                     cl->platform_name, cl->min_elements, fr_cpu_isa_name(isa));
        }
    }
    free(list);
    if (s != FR_OK) {
        if (cl->be.cpu)
            fr_backend_close(cl->be.cpu);
        cl_destroy(cl);
        return s;
    }
    *out = &cl->be;
    return FR_OK;
}
