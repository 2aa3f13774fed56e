/* ctr_job.c — the built-in click-through job (see fedrec/ctr_job.h).
 *
 * Model: field embedding (one table for all fields plus a numeric token)
 * -> MLP block (Linear, [BatchNorm], ReLU, [Dropout] per hidden layer)
 * -> Linear to one logit -> BCE. The last test_fraction of the rows is the
 * test set and the valid_fraction before it the validation set: slices,
 * not draws, as every generated row is an independent draw of its own
 * (synthetic_ctr.c), so a slice is a random sample and the test rows stay
 * those of runs before the validation set existed. Training visits the
 * first rows in an order drawn from stream (seed, epoch, 0, FR_RNG_SHUFFLE). */
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "fedrec/ctr_job.h"
#include "fedrec/loss.h"
#include "fedrec/metrics.h"
#include "fedrec/nn.h"
#include "fedrec/optim.h"
#include "fedrec/rng.h"
#include "fedrec/synthetic_ctr.h"

struct fr_ctr_job {
    fr_backend *be;
    uint64_t seed;
    size_t batch, train_rows, valid_rows, test_rows;
    fr_ctr_data data;
    fr_param_set *ps;
    fr_field_embedding fe;
    fr_mlp mlp;
    fr_linear head;
    fr_optimizer *opt;
    uint32_t step;
    /* Batch buffers on the backend. */
    fr_buffer *numbers, *labels, *emb, *demb, *logits, *dlogits, *scratch, *dh;
    /* Host staging. */
    int32_t *ids;
    float *host_numbers, *host_labels;
    uint32_t *order;
    /* fr_ctr_job_keep's copy of every parameter value. */
    float *kept;
    size_t n_values;
    int have_kept;
};

#define GET(kind, key, ...) FR_TRY(fr_config_get_##kind(cfg, key, __VA_ARGS__))

static fr_status build(fr_ctr_job *job, const fr_config *cfg)
{
    int64_t rows, fields, vocab, numeric, dim, batch;
    int bn;
    double test_fraction, valid_fraction, dropout, lr, wd;
    const int64_t *hidden;
    size_t n_hidden;
    const char *optimizer;
    GET(uint64, "run.seed", &job->seed);
    GET(int, "data.rows", &rows);
    GET(int, "data.fields", &fields);
    GET(int, "data.vocab", &vocab);
    GET(int, "data.numeric", &numeric);
    GET(float, "data.test_fraction", &test_fraction);
    GET(float, "data.valid_fraction", &valid_fraction);
    GET(int, "model.embed_dim", &dim);
    GET(int_list, "model.hidden", &hidden, &n_hidden);
    GET(bool, "model.batch_norm", &bn);
    GET(float, "model.dropout", &dropout);
    GET(int, "train.batch_size", &batch);
    GET(string, "train.optimizer", &optimizer);
    GET(float, "train.lr", &lr);
    GET(float, "train.weight_decay", &wd);
    if (n_hidden < 1 || n_hidden > FR_MLP_MAX_LAYERS)
        return fr_fail(FR_ERR_CONFIG, "model.hidden has %zu layers, expected 1 to %d", n_hidden,
                       FR_MLP_MAX_LAYERS);
    fr_ctr_spec spec = {job->seed, (size_t)rows, (size_t)fields, (size_t)vocab, (size_t)numeric};
    FR_TRY(fr_ctr_generate(&spec, &job->data));
    job->test_rows = (size_t)((double)rows * test_fraction);
    job->valid_rows = (size_t)((double)rows * valid_fraction);
    if (job->test_rows < 2 || job->valid_rows < 2 || job->test_rows + job->valid_rows + 2 > (size_t)rows)
        return fr_fail(FR_ERR_CONFIG, "data.rows = %lld with data.test_fraction = %g and data.valid_fraction = %g leaves %zu test, %zu validation and %lld training rows; need at least 2 of each",
                       (long long)rows, test_fraction, valid_fraction, job->test_rows, job->valid_rows,
                       (long long)rows - (long long)(job->test_rows + job->valid_rows));
    job->train_rows = (size_t)rows - job->test_rows - job->valid_rows;
    job->batch = (size_t)batch < job->train_rows ? (size_t)batch : job->train_rows;

    fr_backend *be = job->be;
    FR_TRY(fr_param_set_create(be, &job->ps));
    FR_TRY(fr_field_embedding_init(&job->fe, job->ps, "embedding", (size_t)fields,
                                   (size_t)(fields * vocab), (size_t)dim, (size_t)numeric,
                                   FR_ROLE_GLOBAL, job->seed));
    size_t widths[FR_MLP_MAX_LAYERS];
    for (size_t i = 0; i < n_hidden; i++)
        widths[i] = (size_t)hidden[i];
    size_t width = fr_field_embedding_width(&job->fe);
    FR_TRY(fr_mlp_init(&job->mlp, job->ps, "mlp", width, widths, n_hidden, (int)bn,
                       (float)dropout, job->batch, FR_ROLE_GLOBAL, job->seed));
    size_t last = fr_mlp_out_width(&job->mlp);
    FR_TRY(fr_linear_init(&job->head, job->ps, "head", last, 1, 1, FR_ROLE_GLOBAL, job->seed));
    fr_optim_kind kind;
    FR_TRY(fr_optim_kind_parse(optimizer, &kind));
    FR_TRY(fr_optimizer_create(job->ps, kind, (float)lr, (float)wd, &job->opt));

    size_t b = job->batch, f = sizeof(float);
    FR_TRY(fr_buffer_alloc_zero(be, (b * (size_t)numeric + 1) * f, &job->numbers));
    FR_TRY(fr_buffer_alloc_zero(be, b * f, &job->labels));
    FR_TRY(fr_buffer_alloc_zero(be, b * width * f, &job->emb));
    FR_TRY(fr_buffer_alloc_zero(be, b * width * f, &job->demb));
    FR_TRY(fr_buffer_alloc_zero(be, b * f, &job->logits));
    FR_TRY(fr_buffer_alloc_zero(be, b * f, &job->dlogits));
    FR_TRY(fr_buffer_alloc_zero(be, b * f, &job->scratch));
    FR_TRY(fr_buffer_alloc_zero(be, b * last * f, &job->dh));
    job->ids = malloc(b * (size_t)fields * sizeof *job->ids);
    job->host_numbers = malloc((b * (size_t)numeric + 1) * sizeof *job->host_numbers);
    job->host_labels = malloc(b * sizeof *job->host_labels);
    job->order = malloc(job->train_rows * sizeof *job->order);
    if (!job->ids || !job->host_numbers || !job->host_labels || !job->order)
        return fr_fail_nomem("batch staging", b * (size_t)(fields + numeric + 1) * 4);
    job->n_values = fr_param_set_numel(job->ps, FR_ROLES_ALL);
    job->kept = malloc((job->n_values ? job->n_values : 1) * sizeof *job->kept);
    if (!job->kept)
        return fr_fail_nomem("a copy of the parameters", job->n_values * sizeof *job->kept);
    return FR_OK;
}

fr_status fr_ctr_job_open(const fr_config *cfg, fr_backend *be, fr_ctr_job **out)
{
    *out = NULL;
    fr_ctr_job *job = calloc(1, sizeof *job);
    if (!job)
        return fr_fail_nomem("job", sizeof *job);
    job->be = be;
    fr_status s = build(job, cfg);
    if (s != FR_OK) {
        fr_ctr_job_close(job);
        return s;
    }
    *out = job;
    return FR_OK;
}

void fr_ctr_job_close(fr_ctr_job *job)
{
    if (!job)
        return;
    fr_buffer *bufs[] = {job->numbers, job->labels, job->emb, job->demb,
                         job->logits, job->dlogits, job->scratch, job->dh};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        fr_buffer_free(bufs[i]);
    if (job->ps) {
        fr_field_embedding_release(&job->fe);
        fr_mlp_release(&job->mlp);
    }
    fr_optimizer_free(job->opt);
    fr_param_set_free(job->ps);
    fr_ctr_free(&job->data);
    free(job->ids);
    free(job->host_numbers);
    free(job->host_labels);
    free(job->order);
    free(job->kept);
    free(job);
}

void fr_ctr_job_describe(const fr_ctr_job *job, fr_ctr_job_info *info)
{
    info->train_rows = job->train_rows;
    info->valid_rows = job->valid_rows;
    info->test_rows = job->test_rows;
    info->fields = job->data.fields;
    info->vocab = job->data.vocab;
    info->numeric = job->data.numeric;
    info->n_params = fr_param_set_numel(job->ps, FR_ROLES_ALL);
}

fr_param_set *fr_ctr_job_params(fr_ctr_job *job)
{
    return job->ps;
}

fr_status fr_ctr_job_keep(fr_ctr_job *job)
{
    FR_TRY(fr_param_set_export(job->ps, FR_ROLES_ALL, job->kept, job->n_values));
    job->have_kept = 1;
    return FR_OK;
}

fr_status fr_ctr_job_restore(fr_ctr_job *job)
{
    if (!job->have_kept)
        return fr_fail(FR_ERR_INVALID, "ctr job: no parameters kept to restore");
    return fr_param_set_import(job->ps, FR_ROLES_ALL, job->kept, job->n_values);
}

/* Stage rows[0..n) of the data set and run the model forward to logits. */
static fr_status forward(fr_ctr_job *job, const uint32_t *rows, size_t first,
                         size_t n, int training)
{
    const fr_ctr_data *d = &job->data;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : first + i;
        memcpy(job->ids + i * d->fields, d->ids + r * d->fields, d->fields * sizeof *job->ids);
        memcpy(job->host_numbers + i * d->numeric, d->numbers + r * d->numeric,
               d->numeric * sizeof *job->host_numbers);
        job->host_labels[i] = d->labels[r];
    }
    FR_TRY(fr_buffer_upload(job->numbers, 0, job->host_numbers, n * d->numeric * sizeof(float)));
    FR_TRY(fr_buffer_upload(job->labels, 0, job->host_labels, n * sizeof(float)));
    fr_view emb = fr_view_of(job->emb, 0), h;
    FR_TRY(fr_field_embedding_forward(&job->fe, job->be, n, job->ids, fr_view_of(job->numbers, 0), emb));
    FR_TRY(fr_mlp_forward(&job->mlp, job->be, n, emb, job->step, training, &h));
    return fr_linear_forward(&job->head, job->be, n, h, fr_view_of(job->logits, 0));
}

static fr_status train_batch(fr_ctr_job *job, const uint32_t *rows, size_t n, float *loss)
{
    fr_backend *be = job->be;
    FR_TRY(fr_param_set_zero_grad(job->ps));
    FR_TRY(forward(job, rows, 0, n, 1));
    FR_TRY(fr_loss_bce(be, n, fr_view_of(job->logits, 0), fr_view_of(job->labels, 0),
                       fr_view_of(NULL, 0), fr_view_of(job->scratch, 0),
                       fr_view_of(job->dlogits, 0), loss));
    fr_view h = fr_mlp_output(&job->mlp);
    FR_TRY(fr_linear_backward(&job->head, be, n, h, fr_view_of(job->dlogits, 0),
                              fr_view_of(job->dh, 0)));
    FR_TRY(fr_mlp_backward(&job->mlp, be, n, fr_view_of(job->emb, 0), fr_view_of(job->dh, 0),
                           fr_view_of(job->demb, 0), 1));
    FR_TRY(fr_field_embedding_backward(&job->fe, be, n, fr_view_of(job->numbers, 0),
                                       fr_view_of(job->demb, 0)));
    FR_TRY(fr_optimizer_step(job->opt));
    job->step++;
    return FR_OK;
}

fr_status fr_ctr_job_train_epoch(fr_ctr_job *job, unsigned epoch, double *loss)
{
    fr_rng rng;
    fr_rng_init(&rng, job->seed, epoch, 0, FR_RNG_SHUFFLE);
    for (size_t i = 0; i < job->train_rows; i++)
        job->order[i] = (uint32_t)i;
    for (size_t i = job->train_rows; i > 1; i--) {
        size_t j = fr_rng_below(&rng, (uint32_t)i);
        uint32_t t = job->order[i - 1];
        job->order[i - 1] = job->order[j];
        job->order[j] = t;
    }
    double sum = 0;
    size_t batches = 0;
    /* A last batch of one example is skipped: batch-norm needs two. */
    for (size_t at = 0; at + 1 < job->train_rows; at += job->batch) {
        size_t n = job->train_rows - at < job->batch ? job->train_rows - at : job->batch;
        if (n < 2)
            break;
        float l;
        FR_TRY(train_batch(job, job->order + at, n, &l));
        if (!(l == l) || l > 1e30f)
            return fr_fail(FR_ERR_NUMERIC, "training diverged in epoch %u (loss %g): lower train.lr", epoch, l);
        sum += l;
        batches++;
    }
    *loss = batches ? sum / (double)batches : 0.0;
    return FR_OK;
}

/* Log loss and AUC on rows [first, first + count). */
static fr_status evaluate_rows(fr_ctr_job *job, size_t first, size_t count, double *logloss, double *auc)
{
    float *logits = malloc(count * sizeof *logits);
    if (!logits)
        return fr_fail_nomem("evaluation logits", count * sizeof *logits);
    fr_status s = FR_OK;
    for (size_t at = 0; s == FR_OK && at < count; at += job->batch) {
        size_t n = count - at < job->batch ? count - at : job->batch;
        s = forward(job, NULL, first + at, n, 0);
        if (s == FR_OK)
            s = fr_buffer_download(job->logits, 0, logits + at, n * sizeof *logits);
    }
    if (s == FR_OK) {
        const float *labels = job->data.labels + first;
        *logloss = fr_logloss_logits(logits, labels, count);
        s = fr_auc(logits, labels, count, auc);
    }
    free(logits);
    return s;
}

fr_status fr_ctr_job_evaluate(fr_ctr_job *job, double *logloss, double *auc)
{
    return evaluate_rows(job, job->train_rows + job->valid_rows, job->test_rows, logloss, auc);
}

fr_status fr_ctr_job_evaluate_valid(fr_ctr_job *job, double *logloss, double *auc)
{
    return evaluate_rows(job, job->train_rows, job->valid_rows, logloss, auc);
}
