/* fpenv.h — flush-to-zero for host threads that run numeric work. Denormal floats (below about
 * 1.2e-38) cost x86 cores a microcode assist per operation, a hundredfold
 * slowdown: Adam's second moments of rarely used embedding rows decay
 * into that range in long runs (an epoch went from 4 s to 76 s). The ops
 * therefore run with denormal inputs read as zero and denormal results
 * flushed to zero, as ML frameworks' CPU kernels commonly do; the caller's
 * own setting is restored after each op, and the engine's worker threads
 * keep it for good. Where the platform has no such control, nothing
 * changes. */
#ifndef FR_CORE_FPENV_H
#define FR_CORE_FPENV_H

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
typedef unsigned int fr_fpenv;
/* MXCSR: DAZ is bit 6, FTZ bit 15. */
static inline fr_fpenv fr_fpenv_flush_denormals(void)
{
    fr_fpenv old = _mm_getcsr();
    if ((old & 0x8040u) != 0x8040u)
        _mm_setcsr(old | 0x8040u);
    return old;
}
static inline void fr_fpenv_restore(fr_fpenv old)
{
    if ((old & 0x8040u) != 0x8040u)
        _mm_setcsr(old);
}
#elif defined(__aarch64__)
#include <stdint.h>
typedef uint64_t fr_fpenv;
/* FPCR: FZ is bit 24 (inputs and results). */
static inline fr_fpenv fr_fpenv_flush_denormals(void)
{
    uint64_t old;
    __asm__ volatile("mrs %0, fpcr" : "=r"(old));
    if (!(old & (1u << 24)))
        __asm__ volatile("msr fpcr, %0" : : "r"(old | (1u << 24)));
    return old;
}
static inline void fr_fpenv_restore(fr_fpenv old)
{
    if (!(old & (1u << 24)))
        __asm__ volatile("msr fpcr, %0" : : "r"(old));
}
#else
typedef int fr_fpenv;
static inline fr_fpenv fr_fpenv_flush_denormals(void)
{
    return 0;
}
static inline void fr_fpenv_restore(fr_fpenv old)
{
    (void)old;
}
#endif

#endif
