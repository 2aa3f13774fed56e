/* cpu_kernels.h — the table each instruction-set path provides (internal).
 *
 * A path is one file (cpu_isa_<name>.c) compiled with its own -m flags into
 * its own convenience library; it exports one fr_cpu_kernels table. The
 * engine picks a table at run time after checking the CPU supports it, so
 * code built with AVX-512 flags runs only on CPUs that have AVX-512. */
#ifndef FR_CPU_KERNELS_H
#define FR_CPU_KERNELS_H

#include <stddef.h>

struct fr_cpu_kernels {
    const char *name;
    /* GEMM register block: the micro-kernel computes an mr x nr tile. */
    size_t mr, nr;
    /* C[mr x nr] (row stride ldc) += alpha * sum_p a[p*mr + i] * b[p*nr + j]
     * for p < kc: a is a packed A panel (kc columns of mr values), b a packed
     * B panel (kc rows of nr values). */
    void (*gemm_micro)(size_t kc, const float *a, const float *b, float *c,
                       size_t ldc, float alpha);
    /* Optional narrower block (mr x nr_narrow) for products with few
     * columns, where a full-width panel would be mostly zero padding;
     * nr_narrow == 0 when the path has none. */
    size_t nr_narrow;
    void (*gemm_micro_narrow)(size_t kc, const float *a, const float *b,
                              float *c, size_t ldc, float alpha);
    /* Cache blocking, tuned per path (cpu_gemm.c): a kc x nr packed B
     * micro-panel stays in L1, an mc x kc packed A block in L2, a kc x nc
     * packed B slice in L3. mc is a multiple of mr, nc of nr. */
    size_t kc, mc, nc;
    void (*axpy)(size_t n, float alpha, const float *x, float *y);
    float (*dot)(size_t n, const float *x, const float *y);
    /* Euclidean norm with the squares summed in double: no overflow or
     * underflow for any finite float input, unlike sqrtf(dot(x, x)). */
    float (*nrm2)(size_t n, const float *x);
    void (*scal)(size_t n, float alpha, float *x);
};
typedef struct fr_cpu_kernels fr_cpu_kernels;

/* Bounds on mr and nr of every path (edge tiles use a scratch tile). */
#define FR_GEMM_MAX_MR 16
#define FR_GEMM_MAX_NR 32

extern const fr_cpu_kernels fr_cpu_kernels_scalar;
extern const fr_cpu_kernels fr_cpu_kernels_avx2;
extern const fr_cpu_kernels fr_cpu_kernels_avx512;
extern const fr_cpu_kernels fr_cpu_kernels_neon;

/* The table of a built path, or NULL. */
const fr_cpu_kernels *fr_cpu_kernels_for(int isa);

#endif
