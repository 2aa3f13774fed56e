/* cl_devices.c — listing OpenCL platforms and devices, and the choice
 * `backend.kind = auto` makes (the first GPU, else the CPU backend). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/cl_internal.h"
#include "core/error_internal.h"

int fr_opencl_built(void)
{
    return 1;
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "gpu";
    if (t & CL_DEVICE_TYPE_CPU)
        return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    return "other";
}

/* A string property, cut to fit dst (the query fails when dst is short). */
static void device_string(cl_device_id d, cl_device_info what, char *dst, size_t n)
{
    char buf[1024] = "";
    clGetDeviceInfo(d, what, sizeof buf - 1, buf, NULL);
    snprintf(dst, n, "%s", buf);
}

fr_status fr_opencl_list_devices(fr_opencl_device_info **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    cl_uint n_platforms = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n_platforms);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR (cl_ext.h) */ || n_platforms == 0)
        return FR_OK; /* an ICD loader without drivers: no devices */
    if (err != CL_SUCCESS)
        return fr_fail(FR_ERR_BACKEND, "OpenCL: cannot list platforms (error %d)", (int)err);
    cl_platform_id *platforms = calloc(n_platforms, sizeof *platforms);
    if (!platforms)
        return fr_fail_nomem("OpenCL platforms", n_platforms * sizeof *platforms);
    clGetPlatformIDs(n_platforms, platforms, NULL);
    fr_opencl_device_info *list = NULL;
    size_t n = 0;
    for (cl_uint p = 0; p < n_platforms; p++) {
        cl_uint n_devices = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n_devices) != CL_SUCCESS || !n_devices)
            continue;
        cl_device_id *devices = calloc(n_devices, sizeof *devices);
        fr_opencl_device_info *grown = realloc(list, (n + n_devices) * sizeof *list);
        if (!devices || !grown) {
            free(devices);
            free(grown ? grown : list);
            free(platforms);
            return fr_fail_nomem("OpenCL devices", n_devices * sizeof *list);
        }
        list = grown;
        clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n_devices, devices, NULL);
        for (cl_uint d = 0; d < n_devices; d++) {
            fr_opencl_device_info *info = &list[n++];
            memset(info, 0, sizeof *info);
            info->platform_index = p;
            info->device_index = d;
            char pname[1024] = "";
            clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof pname - 1, pname, NULL);
            snprintf(info->platform, sizeof info->platform, "%s", pname);
            device_string(devices[d], CL_DEVICE_NAME, info->name, sizeof info->name);
            device_string(devices[d], CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
            device_string(devices[d], CL_DEVICE_VERSION, info->version, sizeof info->version);
            cl_device_type type = 0;
            cl_uint units = 0;
            cl_ulong mem = 0;
            size_t wg = 0;
            clGetDeviceInfo(devices[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            clGetDeviceInfo(devices[d], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
            clGetDeviceInfo(devices[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
            clGetDeviceInfo(devices[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
            info->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
            info->type = type_name(type);
            info->compute_units = units;
            info->global_mem_bytes = mem;
            info->max_work_group_size = wg;
        }
        free(devices);
    }
    free(platforms);
    *out = list;
    *count = n;
    return FR_OK;
}

long fr_opencl_auto_choice(const fr_opencl_device_info *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (list[i].is_gpu)
            return (long)i;
    return -1;
}
