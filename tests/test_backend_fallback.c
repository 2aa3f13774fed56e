/* test_backend_fallback.c — a mock device backend whose buffers keep their
 * contents in private "device" memory and whose op entries are all NULL:
 * the dispatcher must run the CPU ops on host shadows, following the
 * coherence protocol of backend_impl.h, and still give right answers. Also
 * the dispatcher's argument checks: out-of-range views, buffers of another
 * backend, bad index lists. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "core/error_internal.h"
#include "testutil.h"

typedef struct mock_buffer {
    fr_buffer base;
    float *device;
} mock_buffer;

static int syncs;
static int fail_syncs; /* nonzero: the next sync_to_host fails */

static fr_status mock_alloc(void *ctx, size_t bytes, fr_buffer **out)
{
    (void)ctx;
    mock_buffer *b = calloc(1, sizeof *b);
    b->device = calloc(bytes / 4 + 1, 4);
    b->base.host = calloc(bytes / 4 + 1, 4);
    b->base.bytes = bytes;
    *out = &b->base;
    return FR_OK;
}

static void mock_free(void *ctx, fr_buffer *buf)
{
    (void)ctx;
    mock_buffer *b = (mock_buffer *)buf;
    free(b->device);
    free(b->base.host);
    free(b);
}

/* Device ops first push a dirty shadow down, as a real device backend must. */
static void flush_shadow(fr_buffer *buf)
{
    mock_buffer *b = (mock_buffer *)buf;
    if (buf->host_dirty) {
        memcpy(b->device, buf->host, buf->bytes);
        buf->host_dirty = 0;
    }
}

static fr_status mock_upload(void *ctx, fr_buffer *dst, size_t off, const void *src, size_t n)
{
    (void)ctx;
    flush_shadow(dst);
    memcpy((char *)((mock_buffer *)dst)->device + off, src, n);
    dst->host_valid = 0;
    return FR_OK;
}

static fr_status mock_download(void *ctx, const fr_buffer *src, size_t off, void *dst, size_t n)
{
    (void)ctx;
    flush_shadow((fr_buffer *)src);
    memcpy(dst, (const char *)((const mock_buffer *)src)->device + off, n);
    return FR_OK;
}

static fr_status mock_sync(void *ctx, fr_buffer *buf)
{
    (void)ctx;
    syncs++;
    if (fail_syncs)
        return fr_fail(FR_ERR_BACKEND, "mock: device read failed");
    memcpy(buf->host, ((mock_buffer *)buf)->device, buf->bytes);
    return FR_OK;
}

static void mock_destroy(void *ctx)
{
    free(ctx);
}

static const fr_backend_ops mock_ops = {
    .name = "mock",
    .buffer_alloc = mock_alloc,
    .buffer_free = mock_free,
    .upload = mock_upload,
    .download = mock_download,
    .sync_to_host = mock_sync,
    .destroy = mock_destroy,
};

static fr_view put(fr_backend *be, const float *x, size_t n)
{
    fr_buffer *b;
    fr_buffer_alloc(be, n * 4, &b);
    fr_buffer_upload(b, 0, x, n * 4);
    return fr_view_of(b, 0);
}

int main(void)
{
    fr_backend *cpu;
    CHECK_OK(fr_cpu_backend_open(FR_ISA_SCALAR, 1, &cpu));
    fr_backend *be = calloc(1, sizeof *be);
    be->ops = &mock_ops;
    be->ctx = be;
    be->cpu = cpu;
    be->isa = FR_ISA_SCALAR;
    be->threads = 1;

    /* GEMM through the fallback: [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]. */
    const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8}, zeros[4] = {0};
    fr_view va = put(be, a, 4), vb = put(be, b, 4), vc = put(be, zeros, 4);
    CHECK_OK(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 2, 2, 2, 1.0f, va, 2, vb, 2, 0.0f, vc, 2));
    float c[4];
    CHECK_OK(fr_buffer_download(vc.buf, 0, c, sizeof c));
    CHECK(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50, "fallback gemm gave %g %g %g %g",
          c[0], c[1], c[2], c[3]);
    CHECK(syncs >= 3, "the fallback did not read the device contents (%d syncs)", syncs);

    /* A second op on the result reads the shadow the first one wrote. */
    CHECK_OK(fr_scal(be, 4, -1.0f, vc));
    fr_view vr = put(be, zeros, 4);
    CHECK_OK(fr_relu(be, 4, vc, vr));
    CHECK_OK(fr_buffer_download(vc.buf, 0, c, sizeof c));
    CHECK(c[0] == -19 && c[3] == -50, "scal through the fallback: %g %g", c[0], c[3]);
    CHECK_OK(fr_buffer_download(vr.buf, 0, c, sizeof c));
    CHECK(c[0] == 0 && c[3] == 0, "relu of negatives: %g %g", c[0], c[3]);

    /* An upload after a fallback write must win over the stale shadow. */
    CHECK_OK(fr_buffer_upload(vc.buf, 0, a, sizeof a));
    CHECK_OK(fr_relu(be, 4, vc, vr));
    CHECK_OK(fr_buffer_download(vr.buf, 0, c, sizeof c));
    CHECK(c[0] == 1 && c[3] == 4, "stale shadow used after upload: %g %g", c[0], c[3]);

    /* Embedding gather with int32 ids through the fallback. */
    const float table[] = {0, 0, 1, 1, 2, 2};
    const int32_t ids[] = {2, 0};
    fr_view vt = put(be, table, 6), vi = put(be, (const float *)(const void *)ids, 2), vo = put(be, zeros, 4);
    CHECK_OK(fr_embedding_gather(be, 2, 2, vt, vi, vo));
    /* Only what the op wrote goes back down: outputs dirty, inputs not. */
    CHECK(vo.buf->host_dirty && !vt.buf->host_dirty && !vi.buf->host_dirty,
          "after gather: out dirty %d, table dirty %d, ids dirty %d", vo.buf->host_dirty,
          vt.buf->host_dirty, vi.buf->host_dirty);
    CHECK_OK(fr_buffer_download(vo.buf, 0, c, sizeof c));
    CHECK(c[0] == 2 && c[1] == 2 && c[2] == 0, "gather gave %g %g %g", c[0], c[1], c[2]);

    /* Scatter-add with a repeated id, then lazy Adam on one row: the other
     * rows and their moments stay as they were. */
    const float grads[] = {1, 2, 10, 20, 100, 200};
    const int32_t rep[] = {1, 2, 1};
    fr_view vg = put(be, grads, 6), vrep = put(be, (const float *)(const void *)rep, 3);
    fr_view vtab = put(be, table, 6);
    CHECK_OK(fr_embedding_scatter_add(be, 3, 2, vg, vrep, vtab));
    float t6[6];
    CHECK_OK(fr_buffer_download(vtab.buf, 0, t6, sizeof t6));
    CHECK(t6[0] == 0 && t6[1] == 0 && t6[2] == 102 && t6[3] == 203 && t6[4] == 12 && t6[5] == 22,
          "scatter-add gave %g %g %g %g %g %g", t6[0], t6[1], t6[2], t6[3], t6[4], t6[5]);
    const float ones[] = {1, 1, 1, 1, 1, 1};
    fr_view vm = put(be, ones, 6), vv = put(be, ones, 6), vrow = put(be, (const float *)(const void *)&rep[1], 1);
    fr_adam_step step1 = {0.5f, 0.5f, 0.5f, 1e-8f, 0, 0, 1};
    /* m = 0.5 + 0.5 g, v = 0.5 + 0.5 g^2 with g = 1: both 1, so the step
     * is lr * (1 / 0.5) / (sqrt(1 / 0.5) + eps) = sqrt(2) / 2. */
    CHECK_OK(fr_adam_rows(be, 1, 2, vrow, vg, vtab, vm, vv, &step1));
    CHECK_OK(fr_buffer_download(vtab.buf, 0, t6, sizeof t6));
    float m6[6], v6[6];
    CHECK_OK(fr_buffer_download(vm.buf, 0, m6, sizeof m6));
    CHECK_OK(fr_buffer_download(vv.buf, 0, v6, sizeof v6));
    CHECK_NEAR(t6[4], 12 - sqrtf(2) / 2, 1e-5);
    CHECK(t6[0] == 0 && t6[2] == 102 && t6[3] == 203 && m6[0] == 1 && m6[2] == 1 && v6[3] == 1,
          "lazy Adam moved rows it was not given: %g %g %g / %g %g / %g", t6[0], t6[2], t6[3],
          m6[0], m6[2], v6[3]);

    /* Argument checks. */
    CHECK(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 3, 2, 2, 1.0f, va, 2, vb, 2, 0.0f, vc, 2) == FR_ERR_INVALID,
          "gemm past the end of A accepted");
    CHECK(strstr(fr_last_error(), "gemm") && strstr(fr_last_error(), "A"), "message: %s", fr_last_error());
    CHECK(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 2, 2, 2, 1.0f, va, 1, vb, 2, 0.0f, vc, 2) == FR_ERR_INVALID,
          "leading dimension below the width accepted");
    CHECK(fr_axpy(be, 4, 1.0f, fr_view_of(va.buf, 1), vc) == FR_ERR_INVALID, "offset view past the end accepted");
    fr_buffer *foreign;
    CHECK_OK(fr_buffer_alloc_zero(cpu, 16, &foreign));
    CHECK(fr_axpy(be, 4, 1.0f, fr_view_of(foreign, 0), vc) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "another backend"),
          "buffer of another backend accepted: %s", fr_last_error());
    const int32_t bad_ids[] = {0, 3};
    fr_view vbad = put(be, (const float *)(const void *)bad_ids, 2);
    CHECK(fr_embedding_gather(be, 2, 2, vt, vbad, vo) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "index 1 is 3"),
          "out-of-range id accepted: %s", fr_last_error());
    fr_adam_step h = {0.1f, 0.9f, 0.999f, 1e-8f, 0, 0, 0};
    CHECK(fr_adam(be, 4, va, vb, vc, vr, &h) == FR_ERR_INVALID, "Adam step 0 accepted");

    /* Row products and segmented row sums: every id within its table, and
     * start[] nondecreasing within 0..n_contrib; a refused op writes
     * nothing. vt is the 3 x 2 table {0 0; 1 1; 2 2}, vi the ids {2, 0}. */
    fr_view none = fr_view_of(NULL, 0);
    CHECK_OK(fr_rows_dot(be, 2, 2, vt, 2, vi, vt, 2, vi, none, vo));
    CHECK_OK(fr_buffer_download(vo.buf, 0, c, 2 * sizeof *c));
    CHECK(c[0] == 8 && c[1] == 0, "rows_dot through the fallback gave %g %g", c[0], c[1]);
    CHECK(fr_rows_dot(be, 2, 2, vt, 2, vbad, vt, 2, vi, none, vo) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "xi") && strstr(fr_last_error(), "index 1 is 3"),
          "rows_dot with an out-of-range x id accepted: %s", fr_last_error());
    CHECK(fr_rows_dot(be, 2, 2, vt, 2, vi, vt, 2, vbad, none, vo) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "yi") && strstr(fr_last_error(), "index 1 is 3"),
          "rows_dot with an out-of-range y id accepted: %s", fr_last_error());
    /* A bias of 2 values bounds the x ids to 0..1, though x has 3 rows. */
    CHECK(fr_rows_dot(be, 2, 2, vt, 2, vi, vt, 2, vi, fr_view_of(va.buf, 2), vo) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "xi") && strstr(fr_last_error(), "index 0 is 2"),
          "rows_dot with an x id past the bias accepted: %s", fr_last_error());
    const int32_t seg_start[] = {0, 1, 3}, seg_x[] = {0, 1, 2}, seg_bad_x[] = {0, 3, 1};
    const int32_t start_down[] = {0, 2, 1}, start_past[] = {0, 1, 4}, start_neg[] = {-1, 1, 3};
    const int32_t coef_ids_bad[] = {0, 2, 1}, start4[] = {0, 4};
    const float coef2[] = {0.5f, 2.0f};
#define PUT_IDS(ids) put(be, (const float *)(const void *)(ids), sizeof(ids) / sizeof(ids)[0])
    fr_view vss = PUT_IDS(seg_start), vsx = PUT_IDS(seg_x), vsbx = PUT_IDS(seg_bad_x);
    fr_view vsd = PUT_IDS(start_down), vsp = PUT_IDS(start_past), vsn = PUT_IDS(start_neg);
    fr_view vcib = PUT_IDS(coef_ids_bad), vs4 = PUT_IDS(start4), vc2 = put(be, coef2, 2);
    fr_view vsy = put(be, table, 6);
#undef PUT_IDS
    /* Segment 0 = {x row 0} into y row 2, segment 1 = {rows 1, 2} into y
     * row 0, alpha 2: y = {0 + 2 * 3, ...; 1 1; 2 + 0, ...}. */
    CHECK_OK(fr_segment_rows_axpy(be, 2, 3, 2, vss, vi, 2.0f, none, none, vt, 2, vsx, vsy, 2));
    CHECK_OK(fr_buffer_download(vsy.buf, 0, t6, sizeof t6));
    CHECK(t6[0] == 6 && t6[1] == 6 && t6[2] == 1 && t6[4] == 2 && t6[5] == 2,
          "segment_rows_axpy through the fallback gave %g %g %g %g %g %g", t6[0], t6[1], t6[2],
          t6[3], t6[4], t6[5]);
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vsd, vi, 1.0f, none, none, vt, 2, vsx, vsy, 2) ==
                  FR_ERR_INVALID &&
              strstr(fr_last_error(), "start[2] is 1"),
          "segment_rows_axpy with a decreasing start accepted: %s", fr_last_error());
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vsp, vi, 1.0f, none, none, vt, 2, vsx, vsy, 2) ==
                  FR_ERR_INVALID &&
              strstr(fr_last_error(), "start[2] is 4") && strstr(fr_last_error(), "0..3"),
          "segment_rows_axpy with start past n_contrib accepted: %s", fr_last_error());
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vsn, vi, 1.0f, none, none, vt, 2, vsx, vsy, 2) ==
                  FR_ERR_INVALID &&
              strstr(fr_last_error(), "start[0] is -1"),
          "segment_rows_axpy with a negative start accepted: %s", fr_last_error());
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vss, vi, 1.0f, none, none, vt, 2, vsbx, vsy, 2) ==
                  FR_ERR_INVALID &&
              strstr(fr_last_error(), "xi") && strstr(fr_last_error(), "index 1 is 3"),
          "segment_rows_axpy with an out-of-range x id accepted: %s", fr_last_error());
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vss, vbad, 1.0f, none, none, vt, 2, vsx, vsy, 2) ==
                  FR_ERR_INVALID &&
              strstr(fr_last_error(), "yi") && strstr(fr_last_error(), "index 1 is 3"),
          "segment_rows_axpy with an out-of-range y id accepted: %s", fr_last_error());
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vss, vi, 1.0f, vc2, vcib, vt, 2, vsx, vsy, 2) ==
                  FR_ERR_INVALID &&
              strstr(fr_last_error(), "ci") && strstr(fr_last_error(), "index 1 is 2"),
          "segment_rows_axpy with an out-of-range coefficient id accepted: %s", fr_last_error());
    /* Without ci, x has 3 rows: 3 contributions fit, 4 do not. */
    CHECK(fr_segment_rows_axpy(be, 1, 4, 2, vs4, vi, 1.0f, none, none, vt, 2, none, vsy, 2) ==
              FR_ERR_INVALID,
          "segment_rows_axpy reading past x accepted: %s", fr_last_error());
    /* An output over its own inputs: refused (it would rewrite its ids
     * after they were checked). */
    CHECK(fr_rows_dot(be, 2, 2, vt, 2, vi, vt, 2, vi, none, vi) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "shares memory with"),
          "rows_dot writing over its ids accepted: %s", fr_last_error());
    CHECK(fr_segment_rows_axpy(be, 2, 3, 2, vss, vi, 1.0f, none, none, vsy, 2, vsx, vsy, 2) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "shares memory with x"),
          "segment_rows_axpy with y over x accepted: %s", fr_last_error());
    float t6_after[6];
    CHECK_OK(fr_buffer_download(vsy.buf, 0, t6_after, sizeof t6_after));
    CHECK(!memcmp(t6, t6_after, sizeof t6), "a refused segment_rows_axpy changed y");
    CHECK(fr_buffer_upload(va.buf, 8, a, 16) == FR_ERR_INVALID, "upload past the end accepted");

    /* Tables, parameters and moments must be checked like any view. */
    fr_buffer *ftable, *fids;
    CHECK_OK(fr_buffer_alloc_zero(cpu, 6 * 4, &ftable));
    CHECK_OK(fr_buffer_alloc_zero(cpu, 2 * 4, &fids));
    CHECK(fr_embedding_gather(be, 2, 2, fr_view_of(ftable, 0), vi, vo) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "table") && strstr(fr_last_error(), "another backend"),
          "gather from a table of another backend accepted: %s", fr_last_error());
    CHECK(fr_embedding_scatter_add(be, 2, 2, vo, vi, fr_view_of(ftable, 0)) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "dtable"),
          "scatter-add into a table of another backend accepted: %s", fr_last_error());
    CHECK(fr_sgd_rows(be, 2, 2, vi, vo, fr_view_of(ftable, 0), 0.1f, 0) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "param"),
          "SGD rows on a parameter of another backend accepted: %s", fr_last_error());
    fr_adam_step h1 = {0.1f, 0.9f, 0.999f, 1e-8f, 0, 0, 1};
    CHECK(fr_adam_rows(be, 2, 2, vi, vo, vt, fr_view_of(ftable, 0), vt, &h1) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "another backend"),
          "Adam rows with a moment of another backend accepted: %s", fr_last_error());
    CHECK(fr_embedding_gather(be, 2, 2, vt, fr_view_of(fids, 0), vo) == FR_ERR_INVALID &&
              strstr(fr_last_error(), "idx"),
          "index list of another backend accepted: %s", fr_last_error());
    /* Sizes whose extent overflows size_t: rows * cols wraps to 0, and a
     * huge leading dimension wraps (rows - 1) * ld + cols around. */
    const size_t big = (size_t)1 << (sizeof(size_t) * 4);
    CHECK(fr_softmax_rows(be, big, big, vc, vr) == FR_ERR_INVALID && strstr(fr_last_error(), "softmax_rows"),
          "softmax over %zu x %zu accepted: %s", big, big, fr_last_error());
    CHECK(fr_embedding_gather(be, big, big, vt, vi, vo) == FR_ERR_INVALID,
          "gather of %zu x %zu accepted", big, big);
    CHECK(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, 2, 1, 1, 1.0f, va, SIZE_MAX, vb, 1, 0.0f, vc, 1) ==
              FR_ERR_INVALID && strstr(fr_last_error(), "A"),
          "gemm with lda = SIZE_MAX accepted: %s", fr_last_error());
    CHECK(fr_gemm_strided_batched(be, FR_NO_TRANS, FR_NO_TRANS, 1, 1, 1, 1.0f, va, 1, SIZE_MAX / 2, vb, 1, 0,
                                  0.0f, vc, 1, 0, 3) == FR_ERR_INVALID,
          "batched gemm with a wrapping stride accepted");
    /* A failed shadow sync is an error of the op, and the stale shadow
     * never goes back down over the device contents. */
    fr_view vx = put(be, a, 4), vy = put(be, zeros, 4);
    fail_syncs = 1;
    fr_status fs = fr_relu(be, 4, vx, vy);
    fail_syncs = 0;
    CHECK(fs == FR_ERR_BACKEND && strstr(fr_last_error(), "device read failed"),
          "relu on unreadable buffers returned %s (%s)", fr_status_name(fs), fr_last_error());
    CHECK(!vy.buf->host_dirty, "a shadow whose sync failed was marked dirty");
    CHECK_OK(fr_buffer_download(vy.buf, 0, c, sizeof c));
    CHECK(c[0] == 0 && c[3] == 0, "device contents changed by a failed op: %g %g", c[0], c[3]);
    CHECK_OK(fr_relu(be, 4, vx, vy)); /* the failure does not stick */
    CHECK_OK(fr_buffer_download(vy.buf, 0, c, sizeof c));
    CHECK(c[0] == 1 && c[3] == 4, "relu after a failed sync: %g %g", c[0], c[3]);
    fr_view vi2 = put(be, (const float *)(const void *)ids, 2);
    fail_syncs = 1;
    fs = fr_embedding_gather(be, 2, 2, vt, vi2, vo);
    fail_syncs = 0;
    CHECK(fs == FR_ERR_BACKEND, "gather with an unreadable index list returned %s", fr_status_name(fs));
    fr_buffer_free(ftable);
    fr_buffer_free(fids);

    fr_view all[] = {va, vb, vc, vr, vt, vi, vo, vbad, vx, vy, vi2, vg, vrep, vtab, vm, vv, vrow,
                     vss, vsx, vsbx, vsd, vsp, vsn, vcib, vs4, vc2, vsy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        fr_buffer_free(all[i].buf);
    fr_buffer_free(foreign);
    fr_backend_close(be);
    return fr_test_finish("test_backend_fallback");
}
