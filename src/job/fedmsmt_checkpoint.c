/* fedmsmt_checkpoint.c — checkpoints of the federated multi-scenario
 * multi-task job (fedrec/fedmsmt.h, "Checkpoints"): one file in the shared
 * container (io/checkpoint_file.h) holding the run's state between two
 * rounds. Read back, it is checked whole (length, checksum), then against
 * this run (configuration, data, clients, every size) before anything in
 * the clients or the run's figures is replaced.
 *
 * The payload, after the header:
 *   the job fingerprint's text (config_bytes);
 *   the caller's extra values (n_extra doubles);
 *   the best round's validation and test figures (two fr_msmt_eval);
 *   each client's upload bytes summed over the rounds (uint64 each);
 *   per client: its head (values, step, optimiser head) and one byte per
 *     parameter, 1 where the parameter has Adam moments;
 *   per client: its parameters' values (every role, batch-norm statistics
 *     included), what it last received (n_values floats), its kept model
 *     (n_values floats, when the header says models are kept), its
 *     optimiser's moments (nn/params_checkpoint.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "io/checkpoint_file.h"
#include "nn/params_checkpoint.h"
#include "job/fedmsmt_job.h"

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, method;
    uint32_t keep, keep_last; /* kept models in the file; they are the last round's */
    uint64_t seed, clients, rounds, best_round, conflicts;
    double best, train_seconds, eval_seconds, aggregate_seconds;
    uint64_t rows, data_fingerprint;
    uint64_t n_extra, config_bytes, payload_bytes;
} ckpt_header;

typedef struct client_head {
    uint64_t n_values;
    uint32_t step, unused;
    fr_ckpt_opt_head opt;
} client_head;

/* Whether st holds kept models (filled by a round that was kept). */
static int has_kept(const fr_fedmsmt_options *o, const fedmsmt_state *st)
{
    return st->kept && (o->keep_last ? st->out->rounds > 0 : st->out->best_round > 0);
}

static size_t largest(const fedmsmt_state *st)
{
    size_t most = 1;
    for (size_t c = 0; c < st->clients; c++) {
        fr_param_set *ps = fr_msmt_model_params(st->cl[c].m);
        size_t n = fr_ckpt_largest_param(&ps, 1);
        if (n > most)
            most = n;
    }
    return most;
}

/* ---- writing ---------------------------------------------------------- */

fr_status fr_fedmsmt_checkpoint_write(const fr_fedmsmt_options *o, const fr_table *t, const fedmsmt_state *st)
{
    const fr_fedmsmt_checkpoint *ck = &o->checkpoint;
    const char *config = o->job_fingerprint ? o->job_fingerprint : "";
    const fr_fedmsmt_result *out = st->out;
    size_t C = st->clients;
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fr_ckpt_fedmsmt.magic, sizeof h.magic);
    h.version = fr_ckpt_fedmsmt.newest;
    h.method = (uint32_t)o->method;
    h.keep = (uint32_t)has_kept(o, st);
    h.keep_last = (uint32_t)(o->keep_last != 0);
    h.seed = o->seed;
    h.clients = C;
    h.rounds = out->rounds;
    h.best_round = out->best_round;
    h.conflicts = out->conflicts;
    h.best = st->best;
    h.train_seconds = out->train_seconds;
    h.eval_seconds = out->eval_seconds;
    h.aggregate_seconds = out->aggregate_seconds;
    h.rows = t->rows;
    h.data_fingerprint = fr_table_fingerprint(t);
    h.n_extra = ck->n_extra;
    h.config_bytes = strlen(config);
    uint64_t payload = h.config_bytes + h.n_extra * sizeof(double) + 2 * sizeof(fr_msmt_eval) + C * sizeof(uint64_t);
    client_head *heads = calloc(C ? C : 1, sizeof *heads);
    unsigned char **flags = calloc(C ? C : 1, sizeof *flags);
    fr_status s = heads && flags ? FR_OK : fr_fail_nomem("checkpoint", C * sizeof *heads);
    for (size_t c = 0; s == FR_OK && c < C; c++) {
        const fed_client *k = &st->cl[c];
        fr_param_set *ps = fr_msmt_model_params(k->m);
        heads[c].n_values = k->n_values;
        heads[c].step = k->step;
        payload += sizeof heads[c] + fr_param_set_count(ps) + (2 + h.keep) * (uint64_t)k->n_values * sizeof(float);
        s = fr_ckpt_opt_measure(k->opt, ps, &heads[c].opt, &flags[c], &payload);
    }
    h.payload_bytes = payload;
    float *tmp = s == FR_OK ? malloc(largest(st) * sizeof *tmp) : NULL;
    if (s == FR_OK && !tmp)
        s = fr_fail_nomem("checkpoint", largest(st) * sizeof *tmp);
    fr_ckpt_writer w;
    if (s == FR_OK)
        s = fr_ckpt_write_open(&w, ck->path);
    if (s == FR_OK) {
        fr_ckpt_write(&w, &h, sizeof h);
        fr_ckpt_write(&w, config, (size_t)h.config_bytes);
        fr_ckpt_write(&w, ck->extra, ck->n_extra * sizeof *ck->extra);
        fr_ckpt_write(&w, &out->valid, sizeof out->valid);
        fr_ckpt_write(&w, &out->test, sizeof out->test);
        fr_ckpt_write(&w, st->upload_sum, C * sizeof *st->upload_sum);
        for (size_t c = 0; c < C; c++) {
            fr_ckpt_write(&w, &heads[c], sizeof heads[c]);
            fr_ckpt_write(&w, flags[c], (size_t)heads[c].opt.n_params);
        }
        for (size_t c = 0; s == FR_OK && c < C; c++) {
            const fed_client *k = &st->cl[c];
            fr_param_set *ps = fr_msmt_model_params(k->m);
            s = fr_ckpt_write_values(&w, ps, tmp);
            fr_ckpt_write(&w, k->received, k->n_values * sizeof *k->received);
            if (h.keep)
                fr_ckpt_write(&w, st->kept[c], k->n_values * sizeof *st->kept[c]);
            if (s == FR_OK)
                s = fr_ckpt_write_moments(&w, k->opt, ps, flags[c], tmp);
        }
        if (s == FR_OK)
            s = fr_ckpt_write_commit(&w);
        else
            fr_ckpt_write_abort(&w);
    }
    for (size_t c = 0; flags && c < C; c++)
        free(flags[c]);
    free(flags);
    free(heads);
    free(tmp);
    return s;
}

/* ---- reading ---------------------------------------------------------- */

/* The header against this run: its method, seed, data, clients, rounds
 * and kept models. */
static fr_status check_header(const ckpt_header *h, const char *path, const fr_fedmsmt_options *o, const fr_table *t,
                              const fedmsmt_state *st)
{
    uint64_t fp = fr_table_fingerprint(t);
    if (h->data_fingerprint != fp)
        return fr_fail(FR_ERR_DATA, "%s: the checkpoint was written on other data: a table of %llu rows, contents fingerprint %016llx; this run's table has %zu rows, fingerprint %016llx (every column, the split marks and the names count)",
                       path, (unsigned long long)h->rows, (unsigned long long)h->data_fingerprint, t->rows,
                       (unsigned long long)fp);
    if (h->method != (uint32_t)o->method || h->seed != o->seed)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (method %s, seed %llu; this run: method %s, seed %llu)",
                       path, fr_fed_method_name((fr_fed_method)h->method), (unsigned long long)h->seed,
                       fr_fed_method_name(o->method), (unsigned long long)o->seed);
    if (h->clients != st->clients)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint holds %llu clients, this run %zu", path,
                       (unsigned long long)h->clients, st->clients);
    if (h->rounds > o->rounds)
        return fr_fail(FR_ERR_CONFIG, "%s: the checkpoint holds %llu finished rounds, more than this run's train.rounds = %zu: resume with train.rounds = %llu or more",
                       path, (unsigned long long)h->rounds, o->rounds, (unsigned long long)h->rounds);
    if (h->rounds < 1 || h->best_round > h->rounds || h->keep > 1 || h->keep_last > 1)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's state cannot be this run's (round %llu, best %llu; this run: %zu rounds)",
                       path, (unsigned long long)h->rounds, (unsigned long long)h->best_round, o->rounds);
    if (st->kept && h->keep_last != (uint32_t)(o->keep_last != 0))
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint keeps the %s round's models, this run the %s round's (output.model_from)",
                       path, h->keep_last ? "last" : "best", o->keep_last ? "last" : "best");
    if (st->kept && !h->keep && (o->keep_last || h->best_round))
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint was written without the kept models this run saves (output.model); resume without output.model, or start again",
                       path);
    if (h->n_extra != o->checkpoint.n_extra)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint keeps %llu of the caller's values, this run %zu", path,
                       (unsigned long long)h->n_extra, o->checkpoint.n_extra);
    return FR_OK;
}

/* The client heads and flags (after the header, the configuration and
 * the figures), each against its client; *bytes gets the payload's size
 * they imply. */
static fr_status read_heads(FILE *f, const char *path, const fr_fedmsmt_options *o, const ckpt_header *h,
                            const fedmsmt_state *st, client_head *heads, unsigned char **flags, uint64_t *bytes)
{
    for (size_t c = 0; c < st->clients; c++) {
        const fed_client *k = &st->cl[c];
        fr_param_set *ps = fr_msmt_model_params(k->m);
        size_t count = fr_param_set_count(ps);
        if (fread(&heads[c], sizeof heads[c], 1, f) != 1)
            return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        if (heads[c].n_values != k->n_values)
            return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's client %zu holds %llu values, this run's model %zu (another model or template)",
                           path, c + 1, (unsigned long long)heads[c].n_values, k->n_values);
        if (heads[c].opt.n_params == count) {
            if (!(flags[c] = malloc(count ? count : 1)))
                return fr_fail_nomem("checkpoint", count);
            if (count && fread(flags[c], count, 1, f) != 1)
                return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        }
        FR_TRY(fr_ckpt_opt_check(path, ps, c + 1, &heads[c].opt, flags[c], o->optimizer == FR_OPTIM_SGD, bytes));
        *bytes += sizeof heads[c] + count + (2 + h->keep) * (uint64_t)k->n_values * sizeof(float);
    }
    return FR_OK;
}

/* The arrays, after every check: into the clients and the kept models. */
static fr_status read_arrays(FILE *f, const char *path, const ckpt_header *h, fedmsmt_state *st,
                             const client_head *heads, unsigned char **flags)
{
    float *tmp = malloc(largest(st) * sizeof *tmp);
    if (!tmp)
        return fr_fail_nomem("checkpoint", largest(st) * sizeof *tmp);
    fr_status s = FR_OK;
    for (size_t c = 0; s == FR_OK && c < st->clients; c++) {
        fed_client *k = &st->cl[c];
        fr_param_set *ps = fr_msmt_model_params(k->m);
        size_t bytes = k->n_values * sizeof(float);
        s = fr_ckpt_read_values(f, path, ps, tmp);
        if (s == FR_OK && bytes && fread(k->received, bytes, 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        if (s == FR_OK && h->keep && bytes) {
            if (st->kept) {
                if (fread(st->kept[c], bytes, 1, f) != 1)
                    s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
            } else if (fseek(f, (long)bytes, SEEK_CUR) != 0) { /* this run keeps none */
                s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
            }
        }
        if (s == FR_OK)
            s = fr_ckpt_read_moments(f, path, k->opt, ps, &heads[c].opt, flags[c], tmp);
        k->step = heads[c].step;
    }
    free(tmp);
    return s;
}

static fr_status read_file(FILE *f, const char *path, const fr_fedmsmt_options *o, const fr_table *t,
                           fedmsmt_state *st)
{
    const fr_fedmsmt_checkpoint *ck = &o->checkpoint;
    ckpt_header h;
    FR_TRY(fr_ckpt_read_header(f, path, &fr_ckpt_fedmsmt, &h, sizeof h, offsetof(ckpt_header, payload_bytes)));
    FR_TRY(fr_ckpt_read_check_config(f, path, h.config_bytes, h.payload_bytes, o->job_fingerprint));
    fr_status s = FR_OK;
    FR_TRY(check_header(&h, path, o, t, st));
    double extra[FR_FEDMSMT_CHECKPOINT_MAX_EXTRA];
    fr_msmt_eval valid, test;
    size_t C = st->clients;
    if ((h.n_extra && fread(extra, (size_t)h.n_extra * sizeof *extra, 1, f) != 1) ||
        fread(&valid, sizeof valid, 1, f) != 1 || fread(&test, sizeof test, 1, f) != 1)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    uint64_t *upload = malloc((C ? C : 1) * sizeof *upload);
    client_head *heads = calloc(C ? C : 1, sizeof *heads);
    unsigned char **flags = calloc(C ? C : 1, sizeof *flags);
    if (!upload || !heads || !flags)
        s = fr_fail_nomem("checkpoint", C * sizeof *heads);
    if (s == FR_OK && C && fread(upload, C * sizeof *upload, 1, f) != 1)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    uint64_t expected = h.config_bytes + h.n_extra * sizeof(double) + 2 * sizeof(fr_msmt_eval) + C * sizeof(uint64_t);
    if (s == FR_OK)
        s = read_heads(f, path, o, &h, st, heads, flags, &expected);
    if (s == FR_OK && expected != h.payload_bytes)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's arrays take %llu bytes, this run's clients %llu", path,
                    (unsigned long long)h.payload_bytes, (unsigned long long)expected);
    if (s == FR_OK)
        s = read_arrays(f, path, &h, st, heads, flags);
    if (s == FR_OK) {
        fr_fedmsmt_result *out = st->out;
        memcpy(st->upload_sum, upload, C * sizeof *upload);
        out->rounds = (size_t)h.rounds;
        out->best_round = (size_t)h.best_round;
        out->conflicts = (size_t)h.conflicts;
        out->train_seconds = h.train_seconds;
        out->eval_seconds = h.eval_seconds;
        out->aggregate_seconds = h.aggregate_seconds;
        out->valid = valid;
        out->test = test;
        st->best = h.best;
        if (h.n_extra)
            memcpy(ck->extra, extra, (size_t)h.n_extra * sizeof *extra);
    }
    for (size_t c = 0; flags && c < C; c++)
        free(flags[c]);
    free(flags);
    free(heads);
    free(upload);
    return s;
}

fr_status fr_fedmsmt_checkpoint_read(const fr_fedmsmt_options *o, const fr_table *t, fedmsmt_state *st)
{
    const char *path = o->checkpoint.path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path);
    fr_status s = read_file(f, path, o, t, st);
    fclose(f);
    return fr_ckpt_name_prev(s, path);
}
