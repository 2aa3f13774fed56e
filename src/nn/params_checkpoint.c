/* params_checkpoint.c — parameter values and optimiser state in a
 * checkpoint (see params_checkpoint.h). */
#include <stdlib.h>

#include "core/error_internal.h"
#include "nn/params_checkpoint.h"

size_t fr_ckpt_largest_param(fr_param_set *const *sets, size_t n)
{
    size_t most = 1;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < fr_param_set_count(sets[k]); i++) {
            fr_param *p = fr_param_set_at(sets[k], i);
            if (p->rows * p->cols > most)
                most = p->rows * p->cols;
        }
    return most;
}

/* n floats of a backend buffer through tmp into the file. */
static fr_status write_buffer(fr_ckpt_writer *w, fr_buffer *b, size_t n, float *tmp)
{
    if (n == 0)
        return FR_OK;
    FR_TRY(fr_buffer_download(b, 0, tmp, n * sizeof *tmp));
    fr_ckpt_write(w, tmp, n * sizeof *tmp);
    return FR_OK;
}

/* n floats from the file through tmp into a backend buffer. */
static fr_status read_buffer(FILE *f, const char *path, fr_buffer *b, size_t n, float *tmp)
{
    if (n == 0)
        return FR_OK;
    if (fread(tmp, n * sizeof *tmp, 1, f) != 1)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    return fr_buffer_upload(b, 0, tmp, n * sizeof *tmp);
}

fr_status fr_ckpt_opt_measure(fr_optimizer *opt, fr_param_set *set, fr_ckpt_opt_head *head, unsigned char **flags,
                              uint64_t *moment_bytes)
{
    size_t count = fr_param_set_count(set);
    *head = (fr_ckpt_opt_head){fr_optimizer_steps(opt), count};
    if (!(*flags = calloc(count ? count : 1, 1)))
        return fr_fail_nomem("checkpoint", count);
    for (size_t i = 0; i < count; i++) {
        fr_param *p = fr_param_set_at(set, i);
        fr_buffer *mb, *vb;
        (*flags)[i] = fr_optimizer_moments(opt, p, &mb, &vb) == FR_OK && mb != NULL;
        if ((*flags)[i])
            *moment_bytes += 2 * (uint64_t)p->rows * p->cols * sizeof(float);
    }
    return FR_OK;
}

fr_status fr_ckpt_write_values(fr_ckpt_writer *w, fr_param_set *set, float *tmp)
{
    for (size_t i = 0; i < fr_param_set_count(set); i++) {
        fr_param *p = fr_param_set_at(set, i);
        FR_TRY(write_buffer(w, p->value, p->rows * p->cols, tmp));
    }
    return FR_OK;
}

fr_status fr_ckpt_write_moments(fr_ckpt_writer *w, fr_optimizer *opt, fr_param_set *set,
                                const unsigned char *flags, float *tmp)
{
    for (size_t i = 0; i < fr_param_set_count(set); i++) {
        fr_param *p = fr_param_set_at(set, i);
        fr_buffer *mb, *vb;
        if (!flags[i])
            continue;
        FR_TRY(fr_optimizer_moments(opt, p, &mb, &vb));
        FR_TRY(write_buffer(w, mb, p->rows * p->cols, tmp));
        FR_TRY(write_buffer(w, vb, p->rows * p->cols, tmp));
    }
    return FR_OK;
}

fr_status fr_ckpt_opt_check(const char *path, fr_param_set *set, size_t which, const fr_ckpt_opt_head *head,
                            const unsigned char *flags, int sgd, uint64_t *moment_bytes)
{
    size_t count = fr_param_set_count(set);
    if (head->n_params != count || head->steps < 0 || !flags)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's optimiser %zu steps %llu parameters (%lld steps); this run's %zu",
                       path, which, (unsigned long long)head->n_params, (long long)head->steps, count);
    for (size_t i = 0; i < count; i++) {
        fr_param *p = fr_param_set_at(set, i);
        if (flags[i] > 1 || (flags[i] && (sgd || !p->trainable)))
            return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint holds optimiser moments for '%s', which has none", path,
                           p->name);
        if (flags[i])
            *moment_bytes += 2 * (uint64_t)p->rows * p->cols * sizeof(float);
    }
    return FR_OK;
}

fr_status fr_ckpt_read_values(FILE *f, const char *path, fr_param_set *set, float *tmp)
{
    for (size_t i = 0; i < fr_param_set_count(set); i++) {
        fr_param *p = fr_param_set_at(set, i);
        FR_TRY(read_buffer(f, path, p->value, p->rows * p->cols, tmp));
    }
    return FR_OK;
}

fr_status fr_ckpt_read_moments(FILE *f, const char *path, fr_optimizer *opt, fr_param_set *set,
                               const fr_ckpt_opt_head *head, const unsigned char *flags, float *tmp)
{
    FR_TRY(fr_optimizer_set_steps(opt, head->steps));
    for (size_t i = 0; i < fr_param_set_count(set); i++) {
        fr_param *p = fr_param_set_at(set, i);
        fr_buffer *mb, *vb;
        if (!flags[i])
            continue;
        FR_TRY(fr_optimizer_moments_alloc(opt, p, &mb, &vb));
        FR_TRY(read_buffer(f, path, mb, p->rows * p->cols, tmp));
        FR_TRY(read_buffer(f, path, vb, p->rows * p->cols, tmp));
    }
    return FR_OK;
}
