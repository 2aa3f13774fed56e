/* opencl_none.c — the OpenCL entry points of a build without the OpenCL
 * backend (configure --enable-opencl=no, or no ICD loader / CLBlast). */
#include <stdlib.h>

#include "fedrec/backend.h"

int fr_opencl_built(void)
{
    return 0;
}

fr_status fr_opencl_list_devices(fr_opencl_device_info **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    return FR_OK;
}

long fr_opencl_auto_choice(const fr_opencl_device_info *list, size_t count)
{
    (void)list;
    (void)count;
    return -1;
}
