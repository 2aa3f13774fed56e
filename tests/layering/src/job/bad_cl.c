/* Breaks: OpenCL outside its backend. */
#include <CL/cl.h>
