/* dropout.c — inverted dropout with masks from the counter-based generator
 * keyed by (seed, step, layer id), so a mask never depends on threads. */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/rng.h"
#include "nn/nn_internal.h"

fr_status fr_dropout_init(fr_dropout *d, float rate, uint64_t seed,
                          uint32_t layer_id)
{
    memset(d, 0, sizeof *d);
    if (!(rate >= 0.0f && rate < 1.0f))
        return fr_fail(FR_ERR_INVALID, "dropout rate %g, expected 0 <= rate < 1", rate);
    d->rate = rate;
    d->seed = seed;
    d->layer_id = layer_id;
    return FR_OK;
}

void fr_dropout_release(fr_dropout *d)
{
    fr_buffer_free(d->mask);
    free(d->host_mask);
    d->mask = NULL;
    d->host_mask = NULL;
    d->cap = 0;
}

/* The mask is drawn on the host a chunk at a time and uploaded, so the
 * host keeps one chunk per layer rather than a copy of the whole mask. */
#define MASK_CHUNK 65536

fr_status fr_dropout_forward(fr_dropout *d, fr_backend *be, size_t n,
                             uint32_t step, fr_view x, fr_view y, int training)
{
    if (!training || d->rate == 0.0f)
        return x.buf == y.buf && x.off == y.off ? FR_OK : fr_copy(be, n, x, y);
    if (!d->host_mask) {
        d->host_mask = malloc(MASK_CHUNK * sizeof *d->host_mask);
        if (!d->host_mask)
            return fr_fail_nomem("dropout mask", MASK_CHUNK * sizeof *d->host_mask);
    }
    if (n > d->cap)
        FR_TRY(fr_nn_reserve(be, &d->mask, &d->cap, n));
    fr_rng rng;
    fr_rng_init(&rng, d->seed, step, d->layer_id, FR_RNG_DROPOUT);
    float keep = 1.0f - d->rate, scale = 1.0f / keep;
    for (size_t done = 0; done < n; done += MASK_CHUNK) {
        size_t k = n - done < MASK_CHUNK ? n - done : MASK_CHUNK;
        for (size_t i = 0; i < k; i++)
            d->host_mask[i] = fr_rng_uniform(&rng) < keep ? scale : 0.0f;
        FR_TRY(fr_buffer_upload(d->mask, done * sizeof(float), d->host_mask, k * sizeof(float)));
    }
    return fr_mul(be, n, x, fr_nn_whole(d->mask), y);
}

fr_status fr_dropout_backward(fr_dropout *d, fr_backend *be, size_t n,
                              fr_view dy, fr_view dx, int training)
{
    if (!training || d->rate == 0.0f)
        return dy.buf == dx.buf && dy.off == dx.off ? FR_OK : fr_copy(be, n, dy, dx);
    return fr_mul(be, n, dy, fr_nn_whole(d->mask), dx);
}
