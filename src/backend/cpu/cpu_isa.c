/* cpu_isa.c — which instruction-set paths exist: compiled into this build
 * (configure's HAVE_FR_* defines) and supported by the running CPU and OS
 * (cpuid and xgetbv on x86: the OS must save the wide registers too). This
 * file is built without -m flags, so it runs on any CPU. */
#include <string.h>

#include "config.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/error_internal.h"
#include "fedrec/backend.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int x86_has(fr_cpu_isa isa)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx)
        return 0;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) /* SSE and AVX state */
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    int avx2 = (b >> 5) & 1;
    if (isa == FR_ISA_AVX2)
        return avx2 && fma;
    if (isa == FR_ISA_AVX512) {
        int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
        return avx2 && fma && f && dq && bw && vl && (xcr0 & 0xE0) == 0xE0;
    }
    return 0;
}
#endif

static const char *const isa_names[] = {"auto", "scalar", "avx2", "avx512", "neon"};

const char *fr_cpu_isa_name(fr_cpu_isa isa)
{
    if ((unsigned)isa < sizeof isa_names / sizeof isa_names[0])
        return isa_names[isa];
    return "unknown";
}

fr_status fr_cpu_isa_parse(const char *name, fr_cpu_isa *out)
{
    for (unsigned i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++)
        if (name && !strcmp(name, isa_names[i])) {
            *out = (fr_cpu_isa)i;
            return FR_OK;
        }
    return fr_fail(FR_ERR_INVALID, "unknown CPU path '%s': expected one of auto, scalar, avx2, avx512, neon",
                   name ? name : "(null)");
}

const fr_cpu_kernels *fr_cpu_kernels_for(int isa)
{
    switch ((fr_cpu_isa)isa) {
    case FR_ISA_SCALAR: return &fr_cpu_kernels_scalar;
#ifdef HAVE_FR_AVX2
    case FR_ISA_AVX2: return &fr_cpu_kernels_avx2;
#endif
#ifdef HAVE_FR_AVX512
    case FR_ISA_AVX512: return &fr_cpu_kernels_avx512;
#endif
#ifdef HAVE_FR_NEON
    case FR_ISA_NEON: return &fr_cpu_kernels_neon;
#endif
    default: return NULL;
    }
}

int fr_cpu_isa_built(fr_cpu_isa isa)
{
    return fr_cpu_kernels_for(isa) != NULL;
}

int fr_cpu_isa_supported(fr_cpu_isa isa)
{
    switch (isa) {
    case FR_ISA_SCALAR: return 1;
#if defined(__x86_64__) || defined(__i386__)
    case FR_ISA_AVX2:
    case FR_ISA_AVX512: return x86_has(isa);
#endif
#if defined(__aarch64__)
    case FR_ISA_NEON: return 1;
#endif
    default: return 0;
    }
}

fr_cpu_isa fr_cpu_isa_best(void)
{
    const fr_cpu_isa order[] = {FR_ISA_AVX512, FR_ISA_AVX2, FR_ISA_NEON};
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++)
        if (fr_cpu_isa_built(order[i]) && fr_cpu_isa_supported(order[i]))
            return order[i];
    return FR_ISA_SCALAR;
}
