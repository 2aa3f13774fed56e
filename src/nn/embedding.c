/* embedding.c — embedding tables with row-sparse gradients, and the
 * multi-field embedding with a numeric-feature token (see fedrec/nn.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "nn/nn_internal.h"

fr_status fr_embedding_init(fr_embedding *e, fr_param_set *ps, const char *name,
                            size_t rows, size_t dim, fr_role role, uint64_t seed,
                            float std)
{
    memset(e, 0, sizeof *e);
    e->rows = rows;
    e->dim = dim;
    if (rows == 0 || dim == 0)
        return fr_fail(FR_ERR_INVALID, "embedding '%s': %zu rows of %zu values", name, rows, dim);
    FR_TRY(fr_param_add(ps, name, role, rows, dim, 1, 1, &e->table));
    return fr_param_init_normal(e->table, seed, std);
}

void fr_embedding_release(fr_embedding *e)
{
    fr_buffer_free(e->slots);
    e->slots = NULL;
    e->slots_cap = 0;
}

fr_status fr_embedding_forward(const fr_embedding *e, fr_backend *be, size_t n,
                               fr_view idx, fr_view out)
{
    return fr_embedding_gather(be, n, e->dim, fr_nn_whole(e->table->value), idx, out);
}

fr_status fr_embedding_backward(fr_embedding *e, fr_backend *be, size_t n,
                                const int32_t *ids_host, fr_view dout)
{
    if (n == 0 || !e->table->trainable)
        return FR_OK;
    int32_t *slots = malloc(n * sizeof *slots);
    if (!slots)
        return fr_fail_nomem("embedding slots", n * sizeof *slots);
    fr_status s = fr_param_touch_rows(e->table, be, ids_host, n, slots);
    if (s == FR_OK)
        s = fr_nn_reserve(be, &e->slots, &e->slots_cap, n);
    if (s == FR_OK)
        s = fr_buffer_upload(e->slots, 0, slots, n * sizeof *slots);
    if (s == FR_OK)
        s = fr_embedding_scatter_add(be, n, e->dim, dout, fr_nn_whole(e->slots),
                                     fr_nn_whole(e->table->grad));
    free(slots);
    return s;
}

/* ---- multi-field ------------------------------------------------------- */

static size_t tokens(const fr_field_embedding *fe)
{
    return fe->fields + (fe->n_numeric ? 1 : 0);
}

/* The padding row (the table's last) back to zero. */
static fr_status zero_padding_row(fr_field_embedding *fe)
{
    float *zero = calloc(fe->dim, sizeof *zero);
    if (!zero)
        return fr_fail_nomem("padding row", fe->dim * sizeof *zero);
    fr_status s = fr_buffer_upload(fe->emb.table->value, fe->vocab_total * fe->dim * sizeof *zero, zero,
                                   fe->dim * sizeof *zero);
    free(zero);
    return s;
}

fr_status fr_field_embedding_init(fr_field_embedding *fe, fr_param_set *ps,
                                  const char *name, size_t fields,
                                  size_t vocab_total, size_t dim,
                                  size_t n_numeric, fr_role role, uint64_t seed)
{
    char buf[256];
    memset(fe, 0, sizeof *fe);
    fe->fields = fields;
    fe->vocab_total = vocab_total;
    fe->dim = dim;
    fe->n_numeric = n_numeric;
    if (fields == 0)
        return fr_fail(FR_ERR_INVALID, "field embedding '%s': no fields", name);
    /* One extra row: the padding the numeric slot gathers (always zero:
     * backward never routes gradient to it). */
    FR_TRY(fr_embedding_init(&fe->emb, ps, fr_nn_name(buf, sizeof buf, name, "table"),
                             vocab_total + 1, dim, role, seed, 0.05f));
    FR_TRY(zero_padding_row(fe));
    if (n_numeric)
        FR_TRY(fr_linear_init(&fe->numeric, ps, fr_nn_name(buf, sizeof buf, name, "numeric"),
                              n_numeric, dim, 1, role, seed));
    return FR_OK;
}

void fr_field_embedding_release(fr_field_embedding *fe)
{
    fr_embedding_release(&fe->emb);
    fr_buffer_free(fe->ids_dev);
    fr_buffer_free(fe->ones);
    free(fe->gather_ids);
    fe->ids_dev = fe->ones = NULL;
    fe->gather_ids = NULL;
    fe->cap = 0;
}

size_t fr_field_embedding_width(const fr_field_embedding *fe)
{
    return tokens(fe) * fe->dim;
}

fr_status fr_field_embedding_forward(fr_field_embedding *fe, fr_backend *be,
                                     size_t batch, const int32_t *ids_host,
                                     fr_view numbers, fr_view out)
{
    size_t t = tokens(fe), d = fe->dim;
    if (batch > fe->cap) {
        int32_t *g = realloc(fe->gather_ids, batch * t * sizeof *g);
        if (!g)
            return fr_fail_nomem("field ids", batch * t * sizeof *g);
        fe->gather_ids = g;
        fe->cap = 0; /* until both buffers below exist */
        fr_buffer_free(fe->ids_dev);
        fr_buffer_free(fe->ones);
        fe->ids_dev = fe->ones = NULL;
        FR_TRY(fr_buffer_alloc(be, batch * t * sizeof *g, &fe->ids_dev));
        FR_TRY(fr_buffer_alloc(be, batch * sizeof(float), &fe->ones));
        FR_TRY(fr_fill(be, batch, 1.0f, fr_nn_whole(fe->ones)));
        fe->cap = batch;
    }
    for (size_t b = 0; b < batch; b++) {
        for (size_t f = 0; f < fe->fields; f++) {
            int32_t id = ids_host[b * fe->fields + f];
            if (id < 0 || (size_t)id >= fe->vocab_total)
                return fr_fail(FR_ERR_INVALID, "field embedding: example %zu field %zu has id %d, expected 0..%zu",
                               b, f, (int)id, fe->vocab_total - 1);
            fe->gather_ids[b * t + f] = id;
        }
        if (fe->n_numeric)
            fe->gather_ids[b * t + fe->fields] = (int32_t)fe->vocab_total;
    }
    FR_TRY(fr_buffer_upload(fe->ids_dev, 0, fe->gather_ids, batch * t * sizeof(int32_t)));
    FR_TRY(fr_embedding_forward(&fe->emb, be, batch * t, fr_nn_whole(fe->ids_dev), out));
    if (fe->n_numeric) {
        /* The numeric token lands in the zero padding slot of each row:
         * C = out[:, F*d : (F+1)*d] with row stride t*d, beta = 1. */
        fr_view slot = fr_view_of(out.buf, out.off + fe->fields * d);
        FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, batch, d, fe->n_numeric, 1.0f, numbers,
                       fe->n_numeric, fr_nn_whole(fe->numeric.weight->value), d, 1.0f, slot,
                       t * d));
        /* Bias: fr_bias_add has no row stride, so broadcast it with a
         * rank-1 GEMM (ones column x bias row) into the same strided slot:
         * one op for the whole batch instead of one per example. */
        FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, batch, d, 1, 1.0f, fr_nn_whole(fe->ones), 1,
                       fr_nn_whole(fe->numeric.bias->value), d, 1.0f, slot, t * d));
    }
    return FR_OK;
}

fr_status fr_field_embedding_backward(fr_field_embedding *fe, fr_backend *be,
                                      size_t batch, fr_view numbers,
                                      fr_view dout)
{
    size_t t = tokens(fe), d = fe->dim;
    if (batch > fe->cap)
        return fr_fail(FR_ERR_INVALID, "field embedding backward: batch %zu, but the last forward held %zu examples",
                       batch, fe->cap);
    if (fe->n_numeric) {
        fr_view dslot = fr_view_of(dout.buf, dout.off + fe->fields * d);
        if (fe->numeric.weight->trainable)
            FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, fe->n_numeric, d, batch, 1.0f, numbers,
                           fe->n_numeric, dslot, t * d, 1.0f,
                           fr_nn_whole(fe->numeric.weight->grad), d));
        /* db += ones^T dslot: the column sums of the strided slot. */
        if (fe->numeric.bias->trainable)
            FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, 1, d, batch, 1.0f, fr_nn_whole(fe->ones), 1,
                           dslot, t * d, 1.0f, fr_nn_whole(fe->numeric.bias->grad), d));
    }
    if (!fe->emb.table->trainable)
        return FR_OK;
    if (!fe->n_numeric)
        return fr_embedding_backward(&fe->emb, be, batch * t, fe->gather_ids, dout);
    /* Scatter every token's gradient row in one pass: categorical tokens
     * into their rows' compact slots, the numeric token into the discard
     * row of the compact buffer (it must not reach the padding row). */
    fr_param *table = fe->emb.table;
    int32_t *ids = malloc(batch * fe->fields * sizeof *ids);
    int32_t *slots = malloc(batch * fe->fields * sizeof *slots);
    int32_t *full = malloc(batch * t * sizeof *full);
    fr_status s = ids && slots && full ? FR_OK : fr_fail_nomem("field gradient slots", batch * t * 12);
    for (size_t b = 0; s == FR_OK && b < batch; b++)
        memcpy(ids + b * fe->fields, fe->gather_ids + b * t, fe->fields * sizeof *ids);
    if (s == FR_OK)
        s = fr_param_touch_rows(table, be, ids, batch * fe->fields, slots);
    if (s == FR_OK) {
        for (size_t b = 0; b < batch; b++) {
            memcpy(full + b * t, slots + b * fe->fields, fe->fields * sizeof *full);
            full[b * t + fe->fields] = (int32_t)table->touched_cap;
        }
        s = fr_nn_reserve(be, &fe->emb.slots, &fe->emb.slots_cap, batch * t);
    }
    if (s == FR_OK)
        s = fr_buffer_upload(fe->emb.slots, 0, full, batch * t * sizeof *full);
    if (s == FR_OK)
        s = fr_embedding_scatter_add(be, batch * t, d, dout, fr_nn_whole(fe->emb.slots),
                                     fr_nn_whole(table->grad));
    free(ids);
    free(slots);
    free(full);
    return s;
}

fr_status fr_field_embedding_backward_numbers(const fr_field_embedding *fe,
                                              fr_backend *be, size_t batch,
                                              fr_view dout, fr_view dnumbers)
{
    size_t t = tokens(fe), d = fe->dim;
    if (!fe->n_numeric)
        return fr_fail(FR_ERR_INVALID, "field embedding: no numeric features to differentiate");
    /* dnumbers = dtoken W_num^T, dtoken the strided numeric slot of dout. */
    return fr_gemm(be, FR_NO_TRANS, FR_TRANS, batch, fe->n_numeric, d, 1.0f,
                   fr_view_of(dout.buf, dout.off + fe->fields * d), t * d,
                   fr_nn_whole(fe->numeric.weight->value), d, 0.0f, dnumbers, fe->n_numeric);
}

fr_status fr_field_embedding_init_uniform(fr_field_embedding *fe, uint64_t seed, float bound)
{
    FR_TRY(fr_param_init_uniform(fe->emb.table, seed, bound));
    return zero_padding_row(fe);
}
