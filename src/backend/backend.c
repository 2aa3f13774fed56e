/* backend.c — opening a backend from options, and what it says about
 * itself. `auto` takes the first OpenCL GPU when this build has the OpenCL
 * backend and the machine a GPU, else the CPU backend. */
#include "config.h"
#include <stdatomic.h>

#include <stdio.h>
#include <unistd.h>

#include "backend/backend_impl.h"
#include "core/error_internal.h"
#ifdef HAVE_FR_OPENCL
#include "backend/opencl/cl_internal.h"
#endif

void fr_backend_options_default(fr_backend_options *opt)
{
    opt->kind = FR_BACKEND_AUTO;
    opt->cpu_isa = FR_ISA_AUTO;
    opt->threads = 0;
    opt->opencl_platform = NULL;
    opt->opencl_device = NULL;
    opt->opencl_min_elements = 4096;
}

/* The CPU engine's limit on worker threads. */
#define FR_MAX_THREADS 1024

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > FR_MAX_THREADS ? FR_MAX_THREADS : (int)n;
}

fr_status fr_backend_open(const fr_backend_options *opt, fr_backend **out)
{
    *out = NULL;
    fr_backend_options def;
    if (!opt) {
        fr_backend_options_default(&def);
        opt = &def;
    }
    if (opt->kind != FR_BACKEND_AUTO && opt->kind != FR_BACKEND_CPU && opt->kind != FR_BACKEND_OPENCL)
        return fr_fail(FR_ERR_INVALID, "unknown backend kind %d", (int)opt->kind);
    /* A CPU path the machine lacks is an error whatever the backend: the
     * OpenCL backend runs small ops on it too. */
    if ((unsigned)opt->cpu_isa > (unsigned)FR_ISA_NEON)
        return fr_fail(FR_ERR_INVALID, "unknown CPU path %d (expected auto, scalar, avx2, avx512 or neon)",
                       (int)opt->cpu_isa);
    if (opt->cpu_isa != FR_ISA_AUTO && !fr_cpu_isa_built(opt->cpu_isa))
        return fr_fail(FR_ERR_UNSUPPORTED, "CPU path %s: this build has none (configure found no compiler support for it)",
                       fr_cpu_isa_name(opt->cpu_isa));
    if (opt->cpu_isa != FR_ISA_AUTO && !fr_cpu_isa_supported(opt->cpu_isa))
        return fr_fail(FR_ERR_UNSUPPORTED, "CPU path %s needs CPU features this CPU (or its OS) lacks; 'fedrec devices' lists the supported paths",
                       fr_cpu_isa_name(opt->cpu_isa));
    if (opt->threads > FR_MAX_THREADS)
        return fr_fail(FR_ERR_INVALID, "threads = %d, expected 1..%d (or 0 for every online core)",
                       opt->threads, FR_MAX_THREADS);
#ifdef HAVE_FR_OPENCL
    if (opt->kind != FR_BACKEND_CPU) {
        FR_TRY(fr_cl_backend_open(opt, out));
        if (*out)
            return FR_OK;
        /* auto and no GPU: the CPU backend. */
    }
#else
    if (opt->kind == FR_BACKEND_OPENCL)
        return fr_fail(FR_ERR_UNSUPPORTED, "backend 'opencl': this build has no OpenCL backend (reconfigure with the OpenCL ICD loader and CLBlast installed, or use backend.kind = cpu)");
#endif
    fr_cpu_isa isa = opt->cpu_isa == FR_ISA_AUTO ? fr_cpu_isa_best() : opt->cpu_isa;
    int threads = opt->threads > 0 ? opt->threads : online_cores();
    return fr_cpu_backend_open(isa, threads, out);
}

void fr_backend_close(fr_backend *be)
{
    if (!be)
        return;
    if (be->cpu && be->cpu != be)
        fr_backend_close(be->cpu);
    be->ops->destroy(be->ctx);
}

const char *fr_backend_name(const fr_backend *be)
{
    return be->ops->name;
}

const char *fr_backend_describe(const fr_backend *be)
{
    return be->description;
}

fr_cpu_isa fr_backend_cpu_isa(const fr_backend *be)
{
    return be->isa;
}

uint64_t fr_backend_ops_issued(const fr_backend *be)
{
    return atomic_load_explicit(&((fr_backend *)be)->ops_issued, memory_order_relaxed);
}

int fr_backend_threads(const fr_backend *be)
{
    return be->threads;
}

fr_status fr_backend_finish(fr_backend *be)
{
    return be->ops->finish ? be->ops->finish(be->ctx) : FR_OK;
}
