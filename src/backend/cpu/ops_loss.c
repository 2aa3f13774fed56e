/* ops_loss.c — binary cross-entropy on logits, per element, on host
 * pointers. The stable form never takes exp of a positive number, so
 * logits of any size give finite losses and gradients. */
#include <math.h>

#include "backend/cpu/cpu_ops.h"

typedef struct bce_args {
    const float *z, *label;
    float *loss, *dz;
} bce_args;

static void bce_range(void *p, size_t i0, size_t i1)
{
    const bce_args *o = p;
    for (size_t i = i0; i < i1; i++) {
        float z = o->z[i], y = o->label[i];
        float t = expf(-fabsf(z));
        float sig = z >= 0.0f ? 1.0f / (1.0f + t) : t / (1.0f + t);
        o->loss[i] = fmaxf(z, 0.0f) - z * y + log1pf(t);
        o->dz[i] = sig - y;
    }
}

void fr_cpu_bce_with_logits(fr_cpu_engine *e, size_t n, const float *z, const float *label,
                            float *loss, float *dz)
{
    bce_args o = {z, label, loss, dz};
    fr_cpu_ops_ranges(e, n, 1, FR_CPU_GRAIN_HEAVY, bce_range, &o);
}
