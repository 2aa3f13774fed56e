/* autoifs.c — AutoIFS above the embedding (see autoifs.h).
 *
 * Scenario layer, for a row of scenario k with bottom output y:
 *   h_sh = y W_s + b_s,  h_k = (y A_k) B_k + b_k,  a = ReLU(h_sh + h_k).
 * All scenarios' A_k side by side form A (D x K r); a row keeps only its
 * own scenario's r columns of y A (mask M), so h_k = (yA .* M) Bstack +
 * S b with Bstack (K r x H) the B_k stacked and S the one-hot scenario
 * matrix: every row's own adapter through plain GEMMs.
 * Task layer: Wc = [W_t | A_1 .. A_T] (H x (1 + T r)); for task m
 *   z_m = a W_t + b_t + (a A_m) B_m + b_m, and the four flows
 *   f_shsh = h_sh W_t + b_t, f_km = (h_k A_m) B_m + b_m,
 *   f_shm = (h_sh A_m) B_m + b_m, f_ksh = h_k W_t + b_t;
 *   logit_m = z_m - sum_q g_q f_q, g = sigmoid(tau w_m) (search) or
 *   1[w_m > 0] (retrain), w_m from the selector's head for task m. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/nn.h"
#include "mtl/autoifs.h"

struct fr_autoifs {
    fr_backend *be;
    size_t in, D, H, r, K, T, C, max_batch;   /* C = 1 + T r */
    fr_param_set *sel_ps;
    fr_mlp bottom, sel;
    fr_linear ws, sel_head;                   /* sel_head: D -> 4 T */
    fr_param *A, *Bstack, *bk, *Wc, *bt, *bm, *Bm;
    int retrain;
    float tau;
    int training;
    size_t n;
    /* Device buffers (max_batch rows). */
    fr_buffer *xa, *mask, *onehot, *u, *hsh, *hk, *sum, *act, *p3, *dp3, *w, *dw;
    fr_buffer *da, *dsum, *dh, *du, *dy;
    /* Host copies. */
    float *h_mask, *h_onehot, *h_p3, *h_dp3, *h_w, *h_dw, *h_g, *h_f;
    float *h_bt, *h_bm, *h_Bm;
    double gate_sum[4];
    size_t gate_count;
};

static fr_view whole(fr_buffer *b)
{
    return fr_view_of(b, 0);
}

static fr_status buf(fr_autoifs *a, size_t floats, fr_buffer **b)
{
    return fr_buffer_alloc_zero(a->be, (floats ? floats : 1) * sizeof(float), b);
}

static float xavier_std(size_t fan_in, size_t fan_out)
{
    return sqrtf(2.0f / (float)(fan_in + fan_out));
}

static fr_status xavier_normal(fr_param *p, uint64_t seed, size_t fan_in, size_t fan_out)
{
    return fr_param_init_normal(p, seed, xavier_std(fan_in, fan_out));
}

/* The task layer's Wc = [W_t | A_1 .. A_T]: the authors draw W_t (H x 1)
 * and the stacked A_m (a T x H x r tensor) each with Xavier-normal, and
 * PyTorch counts a 3-D tensor's fans as H r in and T r out; so column 0
 * and the other columns get different deviations. */
static fr_status init_task_weight(fr_param *wc, uint64_t seed, size_t H, size_t T, size_t r)
{
    size_t C = wc->cols, n = wc->rows * C;
    FR_TRY(fr_param_init_normal(wc, seed, 1.0f));
    float *v = malloc(n * sizeof *v);
    if (!v)
        return fr_fail_nomem("AutoIFS task weight", n * sizeof *v);
    fr_status s = fr_buffer_download(wc->value, 0, v, n * sizeof *v);
    float shared = xavier_std(H, 1), lora = xavier_std(H * r, T * r);
    for (size_t i = 0; s == FR_OK && i < n; i++)
        v[i] *= i % C == 0 ? shared : lora;
    if (s == FR_OK)
        s = fr_buffer_upload(wc->value, 0, v, n * sizeof *v);
    free(v);
    return s;
}

fr_param_set *fr_autoifs_selector_params(fr_autoifs *a)
{
    return a->sel_ps;
}

void fr_autoifs_set_phase(fr_autoifs *a, int retrain, float tau)
{
    a->retrain = retrain;
    a->tau = tau;
}

void fr_autoifs_gate_means(const fr_autoifs *a, double means[4])
{
    for (int q = 0; q < 4; q++)
        means[q] = a->gate_count ? a->gate_sum[q] / (double)a->gate_count : NAN;
}

void fr_autoifs_gate_stats(const fr_autoifs *a, double sums[4], uint64_t *count)
{
    for (int q = 0; q < 4; q++)
        sums[q] = a->gate_sum[q];
    *count = a->gate_count;
}

void fr_autoifs_set_gate_stats(fr_autoifs *a, const double sums[4], uint64_t count)
{
    for (int q = 0; q < 4; q++)
        a->gate_sum[q] = sums[q];
    a->gate_count = (size_t)count;
}

fr_status fr_autoifs_create(fr_backend *be, fr_param_set *ps, const fr_msmt_options *o, size_t in,
                            size_t n_scenarios, size_t n_tasks, fr_autoifs **out)
{
    *out = NULL;
    if (o->n_ifs_bottom < 1 || o->n_ifs_bottom > FR_MSMT_MAX_LAYERS || o->ifs_width < 1 || o->ifs_rank < 1)
        return fr_fail(FR_ERR_INVALID, "AutoIFS: need 1 to %d bottom layers, a scenario width and a rank >= 1",
                       FR_MSMT_MAX_LAYERS);
    fr_autoifs *a = calloc(1, sizeof *a);
    if (!a)
        return fr_fail_nomem("AutoIFS", sizeof *a);
    a->be = be;
    a->in = in;
    a->D = o->ifs_bottom[o->n_ifs_bottom - 1];
    a->H = o->ifs_width;
    a->r = o->ifs_rank;
    a->K = n_scenarios;
    a->T = n_tasks;
    a->C = 1 + n_tasks * o->ifs_rank;
    a->max_batch = o->max_batch;
    a->tau = 1.0f;
    size_t B = a->max_batch, D = a->D, H = a->H, r = a->r, K = a->K, T = a->T, C = a->C;
    uint64_t seed = o->seed;
    fr_status s = fr_mlp_init(&a->bottom, ps, "ifs.bottom", in, o->ifs_bottom, o->n_ifs_bottom, o->batch_norm,
                              o->dropout, B, FR_ROLE_GLOBAL, seed);
    if (s == FR_OK)
        s = fr_linear_init(&a->ws, ps, "ifs.scenario.shared", D, H, 1, FR_ROLE_GLOBAL, seed);
    if (s == FR_OK)
        s = xavier_normal(a->ws.weight, seed, D, H);
    if (s == FR_OK)
        s = fr_param_add(ps, "ifs.scenario.lora_a", FR_ROLE_GLOBAL, D, K * r, 0, 1, &a->A);
    /* The authors' A is a K x D x r tensor: PyTorch's Xavier-normal counts
     * its fans as D r in and K r out. */
    if (s == FR_OK)
        s = xavier_normal(a->A, seed, D * r, K * r);
    if (s == FR_OK) /* B_k start at zero: training starts from the shared unit */
        s = fr_param_add(ps, "ifs.scenario.lora_b", FR_ROLE_GLOBAL, K * r, H, 0, 1, &a->Bstack);
    if (s == FR_OK)
        s = fr_param_add(ps, "ifs.scenario.bias", FR_ROLE_GLOBAL, K, H, 0, 1, &a->bk);
    if (s == FR_OK)
        s = fr_param_add(ps, "ifs.task.weight", FR_ROLE_GLOBAL, H, C, 0, 1, &a->Wc);
    if (s == FR_OK)
        s = init_task_weight(a->Wc, seed, H, T, r);
    if (s == FR_OK)
        s = fr_param_add(ps, "ifs.task.shared_bias", FR_ROLE_GLOBAL, 1, 1, 0, 1, &a->bt);
    if (s == FR_OK)
        s = fr_param_add(ps, "ifs.task.bias", FR_ROLE_GLOBAL, 1, T, 0, 1, &a->bm);
    if (s == FR_OK)
        s = fr_param_add(ps, "ifs.task.lora_b", FR_ROLE_GLOBAL, T, r, 0, 1, &a->Bm);
    if (s == FR_OK)
        s = fr_param_set_create(be, &a->sel_ps);
    if (s == FR_OK)
        s = fr_mlp_init(&a->sel, a->sel_ps, "ifs.selector", in, o->ifs_bottom, o->n_ifs_bottom, o->batch_norm,
                        0.0f, B, FR_ROLE_GLOBAL, seed);
    if (s == FR_OK)
        s = fr_linear_init(&a->sel_head, a->sel_ps, "ifs.selector.head", D, 4 * T, 1, FR_ROLE_GLOBAL, seed);
    /* The authors' code leaves PyTorch's default initialisation on these
     * (nn.Linear): the selector's head biases decide which flows its
     * nearly frozen gates start with, so it matters here. */
    if (s == FR_OK) {
        s = fr_mlp_init_fan_in(&a->bottom, seed);
        if (s == FR_OK)
            s = fr_mlp_init_fan_in(&a->sel, seed);
        if (s == FR_OK)
            s = fr_linear_init_fan_in(&a->sel_head, seed);
    }
    fr_buffer **bufs[] = {&a->xa, &a->mask, &a->u, &a->du, &a->da};
    for (size_t k = 0; s == FR_OK && k < 5; k++)
        s = buf(a, B * K * r, bufs[k]);
    fr_buffer **hbufs[] = {&a->hsh, &a->hk, &a->sum, &a->act, &a->dsum, &a->dh};
    for (size_t k = 0; s == FR_OK && k < 6; k++)
        s = buf(a, B * H, hbufs[k]);
    if (s == FR_OK)
        s = buf(a, B * K, &a->onehot);
    if (s == FR_OK)
        s = buf(a, 3 * B * C, &a->p3);
    if (s == FR_OK)
        s = buf(a, 3 * B * C, &a->dp3);
    if (s == FR_OK)
        s = buf(a, B * 4 * T, &a->w);
    if (s == FR_OK)
        s = buf(a, B * 4 * T, &a->dw);
    if (s == FR_OK)
        s = buf(a, B * (D > in ? D : in), &a->dy);
    a->h_mask = malloc(B * K * r * sizeof(float));
    a->h_onehot = malloc(B * K * sizeof(float));
    a->h_p3 = malloc(3 * B * C * sizeof(float));
    a->h_dp3 = malloc(3 * B * C * sizeof(float));
    a->h_w = malloc(B * 4 * T * sizeof(float));
    a->h_dw = malloc(B * 4 * T * sizeof(float));
    a->h_g = malloc(B * 4 * T * sizeof(float));
    a->h_f = malloc(B * 4 * T * sizeof(float));
    a->h_bt = malloc(sizeof(float));
    a->h_bm = malloc(T * sizeof(float));
    a->h_Bm = malloc(T * r * sizeof(float));
    if (s == FR_OK && (!a->h_mask || !a->h_onehot || !a->h_p3 || !a->h_dp3 || !a->h_w || !a->h_dw || !a->h_g ||
                       !a->h_f || !a->h_bt || !a->h_bm || !a->h_Bm))
        s = fr_fail_nomem("AutoIFS", B * C * 24);
    if (s != FR_OK) {
        fr_autoifs_free(a);
        return s;
    }
    *out = a;
    return FR_OK;
}

void fr_autoifs_free(fr_autoifs *a)
{
    if (!a)
        return;
    fr_mlp_release(&a->bottom);
    fr_mlp_release(&a->sel);
    fr_buffer *bufs[] = {a->xa, a->mask, a->onehot, a->u, a->hsh, a->hk, a->sum, a->act, a->p3, a->dp3,
                         a->w, a->dw, a->da, a->dsum, a->dh, a->du, a->dy};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
        fr_buffer_free(bufs[k]);
    fr_param_set_free(a->sel_ps);
    free(a->h_mask);
    free(a->h_onehot);
    free(a->h_p3);
    free(a->h_dp3);
    free(a->h_w);
    free(a->h_dw);
    free(a->h_g);
    free(a->h_f);
    free(a->h_bt);
    free(a->h_bm);
    free(a->h_Bm);
    free(a);
}

static float sigmoidf(float z)
{
    return 1.0f / (1.0f + expf(-z));
}

fr_status fr_autoifs_forward(fr_autoifs *a, size_t n, fr_view x, fr_view x_sel, const int32_t *scen,
                             uint32_t step, int training, float *logits)
{
    fr_backend *be = a->be;
    size_t K = a->K, r = a->r, H = a->H, D = a->D, T = a->T, C = a->C;
    a->n = n;
    a->training = training;
    /* Masks of each row's own scenario. */
    memset(a->h_mask, 0, n * K * r * sizeof(float));
    memset(a->h_onehot, 0, n * K * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)scen[i];
        a->h_onehot[i * K + k] = 1.0f;
        for (size_t j = 0; j < r; j++)
            a->h_mask[i * K * r + k * r + j] = 1.0f;
    }
    FR_TRY(fr_buffer_upload(a->mask, 0, a->h_mask, n * K * r * sizeof(float)));
    FR_TRY(fr_buffer_upload(a->onehot, 0, a->h_onehot, n * K * sizeof(float)));
    fr_view y;
    FR_TRY(fr_mlp_forward(&a->bottom, be, n, x, step, training, &y));
    FR_TRY(fr_linear_forward(&a->ws, be, n, y, whole(a->hsh)));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, n, K * r, D, 1.0f, y, D, whole(a->A->value), K * r, 0.0f,
                   whole(a->xa), K * r));
    FR_TRY(fr_mul(be, n * K * r, whole(a->xa), whole(a->mask), whole(a->u)));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, n, H, K * r, 1.0f, whole(a->u), K * r,
                   whole(a->Bstack->value), H, 0.0f, whole(a->hk), H));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, n, H, K, 1.0f, whole(a->onehot), K, whole(a->bk->value), H,
                   1.0f, whole(a->hk), H));
    FR_TRY(fr_copy(be, n * H, whole(a->hsh), whole(a->sum)));
    FR_TRY(fr_axpy(be, n * H, 1.0f, whole(a->hk), whole(a->sum)));
    FR_TRY(fr_relu(be, n * H, whole(a->sum), whole(a->act)));
    /* P3 = [act; h_sh; h_k] Wc, three n x C blocks. */
    fr_view srcs[3] = {whole(a->act), whole(a->hsh), whole(a->hk)};
    for (size_t q = 0; q < 3; q++)
        FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_NO_TRANS, n, C, H, 1.0f, srcs[q], H, whole(a->Wc->value), C, 0.0f,
                       fr_view_of(a->p3, q * n * C), C));
    /* Selector: in retrain frozen and in inference mode. */
    fr_view sy;
    FR_TRY(fr_mlp_forward(&a->sel, be, n, x_sel, step, training && !a->retrain, &sy));
    FR_TRY(fr_linear_forward(&a->sel_head, be, n, sy, whole(a->w)));
    FR_TRY(fr_buffer_download(a->p3, 0, a->h_p3, 3 * n * C * sizeof(float)));
    FR_TRY(fr_buffer_download(a->w, 0, a->h_w, n * 4 * T * sizeof(float)));
    FR_TRY(fr_buffer_download(a->bt->value, 0, a->h_bt, sizeof(float)));
    FR_TRY(fr_buffer_download(a->bm->value, 0, a->h_bm, T * sizeof(float)));
    FR_TRY(fr_buffer_download(a->Bm->value, 0, a->h_Bm, T * r * sizeof(float)));
    const float *pa = a->h_p3, *ps = a->h_p3 + n * C, *pk = a->h_p3 + 2 * n * C;
    float bt = a->h_bt[0];
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < T; m++) {
            size_t c = 1 + m * r;
            const float *bmr = a->h_Bm + m * r;
            float lora_a = 0, lora_s = 0, lora_k = 0;
            for (size_t j = 0; j < r; j++) {
                lora_a += pa[i * C + c + j] * bmr[j];
                lora_s += ps[i * C + c + j] * bmr[j];
                lora_k += pk[i * C + c + j] * bmr[j];
            }
            float z = pa[i * C] + bt + lora_a + a->h_bm[m];
            float *f = a->h_f + (i * T + m) * 4, *g = a->h_g + (i * T + m) * 4;
            f[0] = ps[i * C] + bt;
            f[1] = lora_k + a->h_bm[m];
            f[2] = lora_s + a->h_bm[m];
            f[3] = pk[i * C] + bt;
            float logit = z;
            for (size_t q = 0; q < 4; q++) {
                float w = a->h_w[i * 4 * T + m * 4 + q];
                g[q] = a->retrain ? (w > 0.0f ? 1.0f : 0.0f) : sigmoidf(a->tau * w);
                logit -= g[q] * f[q];
                a->gate_sum[q] += g[q];
            }
            logits[m * n + i] = logit;
        }
    a->gate_count += n * T;
    return FR_OK;
}

/* Add host values into a parameter's gradient. */
static fr_status add_grad(fr_param *p, const float *g, size_t count)
{
    float tmp[64];
    if (count > 64)
        return fr_fail(FR_ERR_INVALID, "AutoIFS: small gradient of %zu values", count);
    FR_TRY(fr_buffer_download(p->grad, 0, tmp, count * sizeof(float)));
    for (size_t k = 0; k < count; k++)
        tmp[k] += g[k];
    return fr_buffer_upload(p->grad, 0, tmp, count * sizeof(float));
}

fr_status fr_autoifs_backward(fr_autoifs *a, const float *dlogits, fr_view x, fr_view x_sel, fr_view dx)
{
    fr_backend *be = a->be;
    size_t n = a->n, K = a->K, r = a->r, H = a->H, D = a->D, T = a->T, C = a->C;
    const float *pa = a->h_p3, *ps = a->h_p3 + n * C, *pk = a->h_p3 + 2 * n * C;
    float *da_ = a->h_dp3, *ds = a->h_dp3 + n * C, *dk = a->h_dp3 + 2 * n * C;
    memset(a->h_dp3, 0, 3 * n * C * sizeof(float));
    float dbt = 0, dbm[FR_TABLE_MAX_TASKS] = {0}, dBm[64] = {0};
    if (T * r > 64 || 4 * T > 64)
        return fr_fail(FR_ERR_INVALID, "AutoIFS: tasks x rank must be at most 64");
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < T; m++) {
            size_t c = 1 + m * r;
            const float *bmr = a->h_Bm + m * r;
            const float *f = a->h_f + (i * T + m) * 4, *g = a->h_g + (i * T + m) * 4;
            float dl = dlogits[m * n + i], df[4];
            for (size_t q = 0; q < 4; q++) {
                df[q] = -g[q] * dl;
                /* d/dw of -g f through g = sigmoid(tau w). */
                a->h_dw[i * 4 * T + m * 4 + q] = a->retrain ? 0.0f : -f[q] * dl * a->tau * g[q] * (1.0f - g[q]);
            }
            da_[i * C] += dl;
            ds[i * C] += df[0];
            dk[i * C] += df[3];
            for (size_t j = 0; j < r; j++) {
                da_[i * C + c + j] += dl * bmr[j];
                dk[i * C + c + j] += df[1] * bmr[j];
                ds[i * C + c + j] += df[2] * bmr[j];
                dBm[m * r + j] += dl * pa[i * C + c + j] + df[1] * pk[i * C + c + j] + df[2] * ps[i * C + c + j];
            }
            dbt += dl + df[0] + df[3];
            dbm[m] += dl + df[1] + df[2];
        }
    FR_TRY(add_grad(a->bt, &dbt, 1));
    FR_TRY(add_grad(a->bm, dbm, T));
    FR_TRY(add_grad(a->Bm, dBm, T * r));
    FR_TRY(fr_buffer_upload(a->dp3, 0, a->h_dp3, 3 * n * C * sizeof(float)));
    /* dWc += [act; h_sh; h_k]^T dP3; d of each source = dP3_q Wc^T. */
    fr_view srcs[3] = {whole(a->act), whole(a->hsh), whole(a->hk)};
    fr_view wc = whole(a->Wc->value);
    for (size_t q = 0; q < 3; q++)
        FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, H, C, n, 1.0f, srcs[q], H, fr_view_of(a->dp3, q * n * C), C,
                       1.0f, whole(a->Wc->grad), C));
    /* d(act) -> d(sum) through the ReLU. */
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, n, H, C, 1.0f, fr_view_of(a->dp3, 0), C, wc, C, 0.0f,
                   whole(a->dh), H));
    FR_TRY(fr_relu_backward(be, n * H, whole(a->sum), whole(a->dh), whole(a->dsum)));
    /* d(h_sh) = d(sum) + flows; reuse dh. */
    FR_TRY(fr_copy(be, n * H, whole(a->dsum), whole(a->dh)));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, n, H, C, 1.0f, fr_view_of(a->dp3, n * C), C, wc, C, 1.0f,
                   whole(a->dh), H));
    fr_view y = fr_mlp_output(&a->bottom), dy = whole(a->dy);
    FR_TRY(fr_linear_backward(&a->ws, be, n, y, whole(a->dh), dy));
    /* d(h_k) = d(sum) + flows, into dsum. */
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, n, H, C, 1.0f, fr_view_of(a->dp3, 2 * n * C), C, wc, C, 1.0f,
                   whole(a->dsum), H));
    fr_view dhk = whole(a->dsum);
    FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, K * r, H, n, 1.0f, whole(a->u), K * r, dhk, H, 1.0f,
                   whole(a->Bstack->grad), H));
    FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, K, H, n, 1.0f, whole(a->onehot), K, dhk, H, 1.0f,
                   whole(a->bk->grad), H));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, n, K * r, H, 1.0f, dhk, H, whole(a->Bstack->value), H, 0.0f,
                   whole(a->du), K * r));
    FR_TRY(fr_mul(be, n * K * r, whole(a->du), whole(a->mask), whole(a->da)));
    FR_TRY(fr_gemm(be, FR_TRANS, FR_NO_TRANS, D, K * r, n, 1.0f, y, D, whole(a->da), K * r, 1.0f,
                   whole(a->A->grad), K * r));
    FR_TRY(fr_gemm(be, FR_NO_TRANS, FR_TRANS, n, D, K * r, 1.0f, whole(a->da), K * r, whole(a->A->value), K * r,
                   1.0f, dy, D));
    FR_TRY(fr_mlp_backward(&a->bottom, be, n, x, dy, dx, a->training));
    if (!a->retrain) {
        /* The selector learns from its gates; its input is detached. */
        FR_TRY(fr_buffer_upload(a->dw, 0, a->h_dw, n * 4 * T * sizeof(float)));
        fr_view sy = fr_mlp_output(&a->sel);
        FR_TRY(fr_linear_backward(&a->sel_head, be, n, sy, whole(a->dw), whole(a->dy)));
        FR_TRY(fr_mlp_backward(&a->sel, be, n, x_sel, whole(a->dy), fr_view_of(NULL, 0), a->training));
    }
    return FR_OK;
}
