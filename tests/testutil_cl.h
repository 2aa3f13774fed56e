/* testutil_cl.h — opening the OpenCL backend for a test that compares it
 * with the CPU: a counted "SKIP: <part>: ..." line (testutil.h) instead of
 * the comparison where this build has no OpenCL backend or the machine no
 * device. */
#ifndef FR_TESTUTIL_CL_H
#define FR_TESTUTIL_CL_H

#include "fedrec/backend.h"
#include "testutil.h"

/* An OpenCL backend running every op on the device (min_elements 0), or
 * NULL after a SKIP line naming `part`. */
static inline fr_backend *fr_test_open_opencl(const char *part)
{
    if (!fr_opencl_built()) {
        TEST_SKIP_PART("%s: this build has no OpenCL backend", part);
        return NULL;
    }
    fr_opencl_device_info *devices = NULL;
    size_t n = 0;
    if (fr_opencl_list_devices(&devices, &n) != FR_OK || n == 0) {
        free(devices);
        TEST_SKIP_PART("%s: no OpenCL device here (pocl-opencl-icd gives one on any CPU)", part);
        return NULL;
    }
    free(devices);
    fr_backend_options bo;
    fr_backend_options_default(&bo);
    bo.kind = FR_BACKEND_OPENCL;
    bo.opencl_min_elements = 0; /* every op on the device */
    fr_backend *be = NULL;
    CHECK_OK(fr_backend_open(&bo, &be));
    return be;
}

#endif
