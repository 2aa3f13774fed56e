/* fedrec/backend.h — the compute backend interface.
 *
 * Everything that touches numbers in bulk goes through a backend: buffers
 * that live where the backend computes (host memory for the CPU backend,
 * device memory for OpenCL), dense BLAS-like ops, and the few non-BLAS
 * kernels the models need. Code above this layer (layers, optimisers, the
 * federation engine) never sees a device handle.
 *
 * Conventions
 * - Matrices are row-major. A view (fr_view) names a buffer and an offset
 *   counted in 4-byte elements; every buffer holds float32 or int32 values.
 * - Index lists (embedding rows) are int32 views of a buffer.
 * - "Activation" outputs are overwritten; parameter gradients (dgamma,
 *   dbeta, scatter-add targets, col_sum with beta = 1) accumulate.
 * - Ops run in issue order. Results read back with fr_buffer_download are
 *   complete when it returns.
 *
 * A backend is a table of function pointers (fr_backend_ops). Entries other
 * than the buffer ones may be NULL: the dispatcher then runs the CPU
 * implementation on host copies of the buffers, so a new backend can start
 * with GEMM alone and grow. */
#ifndef FEDREC_BACKEND_H
#define FEDREC_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "fedrec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fr_buffer fr_buffer;   /* memory owned by a backend */
typedef struct fr_backend fr_backend; /* an open backend instance */

/* A position inside a buffer, in 4-byte elements. */
typedef struct fr_view {
    fr_buffer *buf;
    size_t off;
} fr_view;

typedef enum fr_transpose { FR_NO_TRANS = 0, FR_TRANS = 1 } fr_transpose;

/* CPU instruction-set paths. */
typedef enum fr_cpu_isa {
    FR_ISA_AUTO = 0,  /* best the CPU supports among those built */
    FR_ISA_SCALAR,
    FR_ISA_AVX2,      /* AVX2 + FMA */
    FR_ISA_AVX512,    /* AVX-512 F/DQ/BW/VL */
    FR_ISA_NEON
} fr_cpu_isa;

typedef enum fr_backend_kind {
    FR_BACKEND_AUTO = 0,
    FR_BACKEND_CPU,
    FR_BACKEND_OPENCL
} fr_backend_kind;

typedef struct fr_backend_options {
    fr_backend_kind kind;
    fr_cpu_isa cpu_isa;  /* FR_ISA_AUTO: detect */
    int threads;         /* worker threads for CPU ops; <= 0: online cores */
    /* OpenCL device choice: a platform / device index ("0") or a
     * case-insensitive substring of its name ("nvidia"); NULL or "" takes
     * the first (kind OPENCL) or the first GPU (kind AUTO). */
    const char *opencl_platform;
    const char *opencl_device;
    /* Ops on fewer elements than this run on the CPU even with an OpenCL
     * device: a tiny op costs less there than a kernel launch. */
    size_t opencl_min_elements;
} fr_backend_options;

/* ------------------------------------------------------------------ */
/* OpenCL devices                                                      */

typedef struct fr_opencl_device_info {
    unsigned platform_index, device_index;
    char platform[128], name[128], vendor[128], version[64];
    int is_gpu;                /* CL_DEVICE_TYPE_GPU */
    const char *type;          /* "gpu", "cpu", "accelerator", "other" */
    unsigned compute_units;
    uint64_t global_mem_bytes;
    size_t max_work_group_size;
} fr_opencl_device_info;

/* Whether this build has the OpenCL backend. */
int fr_opencl_built(void);
/* Every OpenCL device of every platform (*out malloc'ed; free() it). No
 * platform is not an error: *count is 0. */
fr_status fr_opencl_list_devices(fr_opencl_device_info **out, size_t *count);
/* Index in the list of the device backend.kind = auto would use, or -1
 * when auto would use the CPU. */
long fr_opencl_auto_choice(const fr_opencl_device_info *list, size_t count);

/* Hyper-parameters of one Adam / AdamW step. */
typedef struct fr_adam_step {
    float lr, beta1, beta2, eps;
    float weight_decay;  /* L2 (Adam) or decoupled (AdamW) */
    int decoupled;       /* nonzero: AdamW */
    int64_t step;        /* 1-based step number, for bias correction */
} fr_adam_step;

/* ------------------------------------------------------------------ */
/* Opening a backend                                                   */

/* Fill *opt with the defaults (auto kind, auto ISA, all online cores). */
void fr_backend_options_default(fr_backend_options *opt);

fr_status fr_backend_open(const fr_backend_options *opt, fr_backend **out);
void fr_backend_close(fr_backend *be);

/* "cpu", "opencl". */
const char *fr_backend_name(const fr_backend *be);
/* Human-readable description ("cpu (avx512, 2 threads)"). */
const char *fr_backend_describe(const fr_backend *be);
/* The CPU path in use by this backend's CPU ops (never FR_ISA_AUTO). */
fr_cpu_isa fr_backend_cpu_isa(const fr_backend *be);
int fr_backend_threads(const fr_backend *be);

/* ISA helpers: names ("auto", "scalar", "avx2", "avx512", "neon"),
 * which paths this build has, which the running CPU supports, and which
 * one auto picks. */
const char *fr_cpu_isa_name(fr_cpu_isa isa);
fr_status fr_cpu_isa_parse(const char *name, fr_cpu_isa *out);
int fr_cpu_isa_built(fr_cpu_isa isa);
int fr_cpu_isa_supported(fr_cpu_isa isa);
fr_cpu_isa fr_cpu_isa_best(void);

/* ------------------------------------------------------------------ */
/* Buffers                                                             */

fr_status fr_buffer_alloc(fr_backend *be, size_t bytes, fr_buffer **out);
/* Allocate and zero. */
fr_status fr_buffer_alloc_zero(fr_backend *be, size_t bytes, fr_buffer **out);
void fr_buffer_free(fr_buffer *buf);
size_t fr_buffer_size(const fr_buffer *buf);
/* *buf (a buffer of be, or NULL) holds at least `bytes` (at least 4):
 * kept when it is large enough, else freed and allocated anew with a
 * quarter more room, so that a buffer growing step by step is not
 * reallocated each time. Contents are not kept. On failure *buf is NULL. */
fr_status fr_buffer_reserve(fr_backend *be, fr_buffer **buf, size_t bytes);
fr_status fr_buffer_upload(fr_buffer *dst, size_t off_bytes, const void *src,
                           size_t bytes);
fr_status fr_buffer_download(const fr_buffer *src, size_t off_bytes, void *dst,
                             size_t bytes);

static inline fr_view fr_view_of(fr_buffer *buf, size_t off)
{
    fr_view v;
    v.buf = buf;
    v.off = off;
    return v;
}

/* ------------------------------------------------------------------ */
/* Dense ops (BLAS)                                                    */

/* C = alpha * op(A) * op(B) + beta * C; op(A) is m x k, op(B) k x n.
 * lda/ldb/ldc are row strides in elements. beta == 0 ignores C's contents
 * (NaN in C does not propagate). */
fr_status fr_gemm(fr_backend *be, fr_transpose ta, fr_transpose tb,
                  size_t m, size_t n, size_t k, float alpha,
                  fr_view a, size_t lda, fr_view b, size_t ldb,
                  float beta, fr_view c, size_t ldc);

/* batch independent GEMMs; matrix i of A starts at a.off + i*stride_a. */
fr_status fr_gemm_strided_batched(fr_backend *be, fr_transpose ta,
                                  fr_transpose tb, size_t m, size_t n,
                                  size_t k, float alpha,
                                  fr_view a, size_t lda, size_t stride_a,
                                  fr_view b, size_t ldb, size_t stride_b,
                                  float beta,
                                  fr_view c, size_t ldc, size_t stride_c,
                                  size_t batch);

fr_status fr_axpy(fr_backend *be, size_t n, float alpha, fr_view x, fr_view y);
fr_status fr_dot(fr_backend *be, size_t n, fr_view x, fr_view y, float *result);
fr_status fr_nrm2(fr_backend *be, size_t n, fr_view x, float *result);
fr_status fr_scal(fr_backend *be, size_t n, float alpha, fr_view x);

/* ------------------------------------------------------------------ */
/* Element-wise and utility ops                                        */

fr_status fr_copy(fr_backend *be, size_t n, fr_view x, fr_view y);       /* y = x */
fr_status fr_fill(fr_backend *be, size_t n, float value, fr_view x);     /* x = v */
fr_status fr_mul(fr_backend *be, size_t n, fr_view a, fr_view b, fr_view y); /* y = a .* b */

/* x[r, :] += bias for every row r. */
fr_status fr_bias_add(fr_backend *be, size_t rows, size_t cols, fr_view x,
                      fr_view bias);
/* out[c] = beta * out[c] + sum_r x[r, c]  (bias gradients). */
fr_status fr_col_sum(fr_backend *be, size_t rows, size_t cols, fr_view x,
                     float beta, fr_view out);

fr_status fr_relu(fr_backend *be, size_t n, fr_view x, fr_view y);
/* dx = dy where x > 0, else 0. */
fr_status fr_relu_backward(fr_backend *be, size_t n, fr_view x, fr_view dy,
                           fr_view dx);
fr_status fr_sigmoid(fr_backend *be, size_t n, fr_view x, fr_view y);
/* dx = dy * y * (1 - y), y the sigmoid output. */
fr_status fr_sigmoid_backward(fr_backend *be, size_t n, fr_view y, fr_view dy,
                              fr_view dx);

/* Row-wise softmax (max-subtracted). */
fr_status fr_softmax_rows(fr_backend *be, size_t rows, size_t cols, fr_view x,
                          fr_view y);
/* dx = y .* (dy - sum(dy .* y)) per row. */
fr_status fr_softmax_rows_backward(fr_backend *be, size_t rows, size_t cols,
                                   fr_view y, fr_view dy, fr_view dx);

/* What a batch-norm op applies to its output: y = act(gamma x-hat + beta).
 * FR_BN_RELU fuses the ReLU that follows batch-norm in an MLP layer: the
 * normalised values are never stored, and backward recomputes the ReLU's
 * mask from x and the saved statistics (one pass over memory fewer each
 * way, and no buffer for the normalised values). */
typedef enum fr_bn_activation {
    FR_BN_IDENTITY = 0,
    FR_BN_RELU = 1
} fr_bn_activation;

/* Batch-norm over the rows of a rows x cols matrix, per column, followed
 * by act. Training: uses batch statistics (biased variance), saves mean
 * and 1/sqrt(var + eps) for backward, and updates running statistics as
 * running = (1 - momentum) * running + momentum * batch (running_var takes
 * the unbiased batch variance). */
fr_status fr_batchnorm_forward_train(fr_backend *be, size_t rows, size_t cols,
                                     fr_view x, fr_view gamma, fr_view beta,
                                     float eps, float momentum,
                                     fr_bn_activation act, fr_view y,
                                     fr_view save_mean, fr_view save_invstd,
                                     fr_view running_mean,
                                     fr_view running_var);
fr_status fr_batchnorm_forward_eval(fr_backend *be, size_t rows, size_t cols,
                                    fr_view x, fr_view gamma, fr_view beta,
                                    fr_view running_mean, fr_view running_var,
                                    float eps, fr_bn_activation act, fr_view y);
/* Backward of a training forward with the same x, gamma, beta, saved
 * statistics and act; dy is the gradient of the op's output (after act).
 * dx overwritten; dgamma and dbeta accumulate. */
fr_status fr_batchnorm_backward(fr_backend *be, size_t rows, size_t cols,
                                fr_view x, fr_view gamma, fr_view beta,
                                fr_view save_mean, fr_view save_invstd,
                                fr_bn_activation act, fr_view dy, fr_view dx,
                                fr_view dgamma, fr_view dbeta);

/* out[i, :] = table[idx[i], :] for i < n_idx; idx is int32. */
fr_status fr_embedding_gather(fr_backend *be, size_t n_idx, size_t dim,
                              fr_view table, fr_view idx, fr_view out);
/* dtable[idx[i], :] += dout[i, :], summed in order of i (deterministic). */
fr_status fr_embedding_scatter_add(fr_backend *be, size_t n_idx, size_t dim,
                                   fr_view dout, fr_view idx, fr_view dtable);

/* Sparse row updates: grad holds n_rows compact rows (n_rows x dim); row i
 * updates param row rows[i]. Row ids must be distinct. */
fr_status fr_sgd_rows(fr_backend *be, size_t n_rows, size_t dim, fr_view rows,
                      fr_view grad, fr_view param, float lr,
                      float weight_decay);
/* Lazy Adam: only the listed rows' moments move. */
fr_status fr_adam_rows(fr_backend *be, size_t n_rows, size_t dim, fr_view rows,
                       fr_view grad, fr_view param, fr_view m, fr_view v,
                       const fr_adam_step *h);
/* Dense Adam / AdamW over n values. */
fr_status fr_adam(fr_backend *be, size_t n, fr_view grad, fr_view param,
                  fr_view m, fr_view v, const fr_adam_step *h);

/* Gathered row products, for many small models at once (a round's
 * clients as one batch): for j < n,
 *   out[j] = sum_{c < dim} x[xi[j] * ldx + c] * y[yi[j] * ldy + c]
 *            (+ bias[xi[j]] when bias.buf is not NULL).
 * xi and yi are int32 row ids of x and y. out must not share memory with
 * x, y (from their offsets to their buffers' ends), xi, yi or bias: such
 * a call is refused (FR_ERR_INVALID). */
fr_status fr_rows_dot(fr_backend *be, size_t n, size_t dim, fr_view x, size_t ldx, fr_view xi,
                      fr_view y, size_t ldy, fr_view yi, fr_view bias, fr_view out);

/* Segmented row sums, scattered: for each segment s < n_seg, whose
 * contributions are k in [start[s], start[s + 1]) (start: n_seg + 1
 * nondecreasing int32 values, at most n_contrib),
 *   y[yi[s] * ldy + c] += alpha * sum_k coef[ci[k]] * x[xi[k] * ldx + c]
 * for c < dim, the sum formed in increasing k and added once, so results
 * do not depend on threads or devices' scheduling. A NULL ci.buf reads
 * coef[k], a NULL xi.buf row k of x, a NULL coef.buf a coefficient of 1.
 * The rows yi[s] must be distinct. y (from its offset to its buffer's
 * end) must not share memory with x or any index or coefficient view:
 * such a call is refused (FR_ERR_INVALID). */
fr_status fr_segment_rows_axpy(fr_backend *be, size_t n_seg, size_t n_contrib, size_t dim,
                               fr_view start, fr_view yi, float alpha, fr_view coef,
                               fr_view ci, fr_view x, size_t ldx, fr_view xi, fr_view y,
                               size_t ldy);

/* Binary cross-entropy on logits, per element:
 * loss = max(z, 0) - z*y + log(1 + exp(-|z|)), dz = sigmoid(z) - y. */
fr_status fr_bce_with_logits(fr_backend *be, size_t n, fr_view logits,
                             fr_view labels, fr_view loss, fr_view dlogits);

/* Ops issued on this backend since it was opened (each public op entry
 * counts one: on a device backend, about one kernel launch; ops it runs
 * on the CPU count too). For benchmarks' launches per round. */
uint64_t fr_backend_ops_issued(const fr_backend *be);

/* Wait until every issued op has completed. */
fr_status fr_backend_finish(fr_backend *be);

#ifdef __cplusplus
}
#endif
#endif
