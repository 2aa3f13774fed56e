/* mtr_checkpoint.c — saving and resuming the multi-task trainer between
 * epochs (see fedrec/mtrec.h, "Checkpoints"), in the checkpoint container
 * of io/checkpoint_file.h (kind fr_ckpt_mtrec). After the header
 * (ckpt_header), the payload, in order:
 *   job fingerprint  config_bytes of text (no NUL)
 *   shape            SHAPE_FIELDS uint64 values (below)
 *   table, adam_m, adam_v   (n_users + n_items) x dim floats each
 *   combiner state   fr_combiner_state_size doubles
 *   extra            n_extra doubles
 *   best table       (n_users + n_items) x dim floats, when has_best
 * Everything is checked (the container whole, the job's fingerprint, the
 * shape, the data's hash) before anything is read into the trainer. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "io/checkpoint_file.h"
#include "io/hash64.h"
#include "mtr/mtr_internal.h"

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, reserved; /* reserved: written 0 */
    uint64_t data_fingerprint;  /* data_hash */
    uint64_t config_bytes;      /* the job fingerprint's, first in the payload */
    uint64_t payload_bytes;     /* everything between the header and the CRC */
} ckpt_header;

/* At most this many caller values: the CLI keeps about a hundred. */
#define MAX_EXTRA 4096

enum {
    SH_USERS, SH_ITEMS, SH_TRAIN, SH_DIM, SH_TASKS, SH_METHOD, SH_DENSE_ADAM, SH_SEED, SH_EPOCHS,
    SH_ADAM_STEP, SH_COMBINER, SH_EXTRA, SH_BEST, SH_TASK0,
    SHAPE_FIELDS = SH_TASK0 + FR_COMBINE_MAX_TASKS
};

/* What the trainer learns from beyond fr_mtr_data_fingerprint (which
 * saved models keep, and which these do not change): the training
 * ratings and the side relations, each pair in its order (the tasks draw
 * pairs by their index). */
static uint64_t data_hash(const fr_mtr_data *d)
{
    uint64_t h = fr_mtr_data_fingerprint(d);
    h = fr_hash64(h, d->train_rating, d->n_train * sizeof *d->train_rating);
    const fr_mtr_relation *rel[2] = {&d->links, &d->pairs};
    for (int k = 0; k < 2; k++) {
        uint64_t n = rel[k]->n_pairs;
        h = fr_hash64(h, &n, sizeof n);
        h = fr_hash64(h, rel[k]->a, (size_t)n * sizeof *rel[k]->a);
        h = fr_hash64(h, rel[k]->b, (size_t)n * sizeof *rel[k]->b);
    }
    uint64_t nc = d->category_start ? d->n_categories : 0;
    h = fr_hash64(h, &nc, sizeof nc);
    if (nc) {
        size_t n_members = d->category_start[nc];
        for (size_t c = 0; c <= nc; c++) {
            uint64_t start = d->category_start[c];
            h = fr_hash64(h, &start, sizeof start);
        }
        h = fr_hash64(h, d->category_items, n_members * sizeof *d->category_items);
    }
    return h;
}

static void shape_of(const fr_mtr *m, unsigned epochs, size_t n_extra, int has_best, uint64_t *sh)
{
    memset(sh, 0, SHAPE_FIELDS * sizeof *sh);
    sh[SH_USERS] = m->data->n_users;
    sh[SH_ITEMS] = m->data->n_items;
    sh[SH_TRAIN] = m->data->n_train;
    sh[SH_DIM] = m->dim;
    sh[SH_TASKS] = m->o.n_tasks;
    sh[SH_METHOD] = (uint64_t)m->o.combine.method;
    sh[SH_DENSE_ADAM] = (uint64_t)(m->o.dense_adam != 0);
    sh[SH_SEED] = m->o.seed;
    sh[SH_EPOCHS] = epochs;
    sh[SH_ADAM_STEP] = m->adam_step;
    sh[SH_COMBINER] = fr_combiner_state_size(m->combiner);
    sh[SH_EXTRA] = n_extra;
    sh[SH_BEST] = (uint64_t)(has_best != 0);
    for (size_t t = 0; t < m->o.n_tasks; t++)
        sh[SH_TASK0 + t] = (uint64_t)m->o.tasks[t];
}

fr_status fr_mtr_checkpoint_save(const fr_mtr *m, const char *path, const fr_mtr_checkpoint *c)
{
    if (c->n_extra > MAX_EXTRA || (c->n_extra && !c->extra))
        return fr_fail(FR_ERR_INVALID, "%s: a checkpoint keeps at most %d extra values (given %zu)", path, MAX_EXTRA,
                       c->n_extra);
    uint64_t sh[SHAPE_FIELDS];
    shape_of(m, c->epochs_done, c->n_extra, c->best_table != NULL, sh);
    size_t table_bytes = m->n_rows * m->dim * sizeof(float), n_state = (size_t)sh[SH_COMBINER];
    double *state = malloc((n_state ? n_state : 1) * sizeof *state);
    if (!state)
        return fr_fail_nomem("the combiner's state", n_state * sizeof *state);
    fr_combiner_state_get(m->combiner, state);
    const char *config = c->job_fingerprint ? c->job_fingerprint : "";
    const void *part[] = {config, sh, m->table, m->adam_m, m->adam_v, state, c->extra, c->best_table};
    size_t bytes[] = {strlen(config), sizeof sh, table_bytes, table_bytes, table_bytes, n_state * sizeof *state,
                      c->n_extra * sizeof *c->extra, c->best_table ? table_bytes : 0};
    size_t n_parts = sizeof bytes / sizeof bytes[0];
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fr_ckpt_mtrec.magic, sizeof h.magic);
    h.version = fr_ckpt_mtrec.newest;
    h.data_fingerprint = data_hash(m->data);
    h.config_bytes = bytes[0];
    for (size_t k = 0; k < n_parts; k++)
        h.payload_bytes += bytes[k];
    fr_ckpt_writer w;
    fr_status s = fr_ckpt_write_open(&w, path);
    if (s == FR_OK) {
        fr_ckpt_write(&w, &h, sizeof h);
        for (size_t k = 0; k < n_parts; k++)
            fr_ckpt_write(&w, part[k], bytes[k]);
        s = fr_ckpt_write_commit(&w);
    }
    free(state);
    return s;
}

/* The file's shape against this trainer's and the caller's: "of another
 * run" names both. */
static fr_status check_shape(const fr_mtr *m, const char *path, const uint64_t *got, const fr_mtr_checkpoint *c)
{
    uint64_t want[SHAPE_FIELDS];
    shape_of(m, 0, c->n_extra, 0, want);
    int same = 1;
    for (int k = 0; k < SHAPE_FIELDS; k++)
        if (k != SH_EPOCHS && k != SH_ADAM_STEP && k != SH_BEST)
            same &= got[k] == want[k];
    if (!same)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (%llu users, %llu items, %llu training interactions, dim %llu, %llu tasks, combiner %s, seed %llu; this run: %llu, %llu, %llu, %llu, %llu, %s, %llu)",
                       path, (unsigned long long)got[SH_USERS], (unsigned long long)got[SH_ITEMS],
                       (unsigned long long)got[SH_TRAIN], (unsigned long long)got[SH_DIM],
                       (unsigned long long)got[SH_TASKS], fr_combine_method_name((fr_combine_method)got[SH_METHOD]),
                       (unsigned long long)got[SH_SEED], (unsigned long long)want[SH_USERS],
                       (unsigned long long)want[SH_ITEMS], (unsigned long long)want[SH_TRAIN],
                       (unsigned long long)want[SH_DIM], (unsigned long long)want[SH_TASKS],
                       fr_combine_method_name((fr_combine_method)want[SH_METHOD]), (unsigned long long)want[SH_SEED]);
    if (got[SH_BEST] > 1 || got[SH_EPOCHS] > UINT32_MAX)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's header is damaged (best-table flag %llu, %llu epochs)", path,
                       (unsigned long long)got[SH_BEST], (unsigned long long)got[SH_EPOCHS]);
    return FR_OK;
}

/* The next `bytes` of the payload into dst (*left: what is left of it). */
static fr_status read_part(FILE *f, const char *path, void *dst, size_t bytes, uint64_t *left)
{
    if (bytes > *left)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's contents end %llu bytes early", path,
                       (unsigned long long)(bytes - *left));
    if (bytes && fread(dst, bytes, 1, f) != 1)
        return fr_fail(FR_ERR_IO, "%s: cannot read the checkpoint (it changed while read?)", path);
    *left -= bytes;
    return FR_OK;
}

static fr_status load_checked(fr_mtr *m, FILE *f, const char *path, fr_mtr_checkpoint *c)
{
    ckpt_header h;
    FR_TRY(fr_ckpt_read_header(f, path, &fr_ckpt_mtrec, &h, sizeof h, offsetof(ckpt_header, payload_bytes)));
    FR_TRY(fr_ckpt_read_check_config(f, path, h.config_bytes, h.payload_bytes, c->job_fingerprint));
    fr_status s = FR_OK;
    uint64_t left = h.payload_bytes - h.config_bytes;
    uint64_t sh[SHAPE_FIELDS];
    FR_TRY(read_part(f, path, sh, sizeof sh, &left));
    FR_TRY(check_shape(m, path, sh, c));
    uint64_t now = data_hash(m->data);
    if (h.data_fingerprint != now)
        return fr_fail(FR_ERR_DATA, "%s: the checkpoint was written on other data: the same %zu users, %zu items and %zu training interactions, but other contents (the interactions or their ratings, validation or test items, links, item pairs or categories; contents fingerprint %016llx, this run's %016llx)",
                       path, m->data->n_users, m->data->n_items, m->data->n_train,
                       (unsigned long long)h.data_fingerprint, (unsigned long long)now);
    size_t table_bytes = m->n_rows * m->dim * sizeof(float), n_state = (size_t)sh[SH_COMBINER];
    uint64_t want = 3 * (uint64_t)table_bytes + n_state * sizeof(double) + c->n_extra * sizeof(double) +
                    (sh[SH_BEST] ? table_bytes : 0);
    if (left != want)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint holds %llu bytes after its shape, expected %llu for it", path,
                       (unsigned long long)left, (unsigned long long)want);
    /* Checked: from here on only a read error can fail. */
    double *state = malloc((n_state ? n_state : 1) * sizeof *state);
    if (!state)
        return fr_fail_nomem("the combiner's state", n_state * sizeof *state);
    s = read_part(f, path, m->table, table_bytes, &left);
    if (s == FR_OK)
        s = read_part(f, path, m->adam_m, table_bytes, &left);
    if (s == FR_OK)
        s = read_part(f, path, m->adam_v, table_bytes, &left);
    if (s == FR_OK)
        s = read_part(f, path, state, n_state * sizeof *state, &left);
    if (s == FR_OK)
        fr_combiner_state_set(m->combiner, state);
    free(state);
    if (s == FR_OK)
        s = read_part(f, path, c->extra, c->n_extra * sizeof *c->extra, &left);
    if (s == FR_OK && sh[SH_BEST] && c->best_table)
        s = read_part(f, path, c->best_table, table_bytes, &left);
    if (s == FR_OK) {
        m->adam_step = sh[SH_ADAM_STEP];
        c->epochs_done = (unsigned)sh[SH_EPOCHS];
        c->has_best = sh[SH_BEST] && c->best_table;
    }
    return s;
}

fr_status fr_mtr_checkpoint_load(fr_mtr *m, const char *path, fr_mtr_checkpoint *c)
{
    if (c->n_extra > MAX_EXTRA || (c->n_extra && !c->extra))
        return fr_fail(FR_ERR_INVALID, "%s: a checkpoint keeps at most %d extra values (asked for %zu)", path,
                       MAX_EXTRA, c->n_extra);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_ckpt_name_prev(fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path), path);
    fr_status s = load_checked(m, f, path, c);
    fclose(f);
    return fr_ckpt_name_prev(s, path);
}
