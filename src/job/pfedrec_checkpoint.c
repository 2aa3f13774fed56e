/* pfedrec_checkpoint.c — saving and resuming the rating engine (see
 * fedrec/pfedrec.h): one atomic file with a header, the job fingerprint,
 * the arrays and a CRC-32; checked whole (length, checksum), then against
 * this run (configuration, algorithm, sizes, data), then read into copies
 * before anything is replaced. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "job/pfedrec_job.h"
#include "io/checkpoint_file.h"

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, rounds_done;
    uint32_t algorithm, models; /* models: CKPT_KEPT | CKPT_BEST (0 before version 4) */
    uint64_t n_users, n_items, dim, n_ratings, seed, n_extra;
    uint64_t data_fingerprint;
    /* After the header: config_bytes of job fingerprint (no NUL), then the
     * arrays, then the models `models` names (each a ckpt_model_head and
     * its arrays); payload_bytes is all of them; then the CRC-32 of all
     * before it. */
    uint64_t config_bytes, payload_bytes;
} ckpt_header;

/* The models a checkpoint may hold (fedrec/pfedrec.h, "The trained
 * model"): what the engine keeps (fr_pfedrec_model_take's model of the
 * checkpoint's round), so that a resumed run keeps exactly what the
 * uninterrupted run kept; and the caller's best-validation model. */
enum { CKPT_KEPT = 1u, CKPT_BEST = 2u };

typedef struct ckpt_model_head {
    uint32_t round, personal; /* personal: 1 when personal rows follow */
    uint64_t dim, n_shared, n_personal;
} ckpt_model_head;

static uint64_t n_ratings_of(const fr_loo_split *s)
{
    return (uint64_t)s->seen_start[s->n_users];
}

/* The arrays of a checkpoint, in file order. */
typedef struct ckpt_part {
    void *data;
    size_t bytes;
} ckpt_part;

static size_t parts_of(const fr_pfedrec *p, ckpt_part *parts)
{
    size_t nu = p->m->n_users, d = p->m->dim;
    parts[0] = (ckpt_part){p->m->items, p->m->n_items * d * sizeof(float)};
    parts[1] = (ckpt_part){p->m->w, nu * d * sizeof(float)};
    parts[2] = (ckpt_part){p->m->b, nu * sizeof(float)};
    parts[3] = (ckpt_part){p->m->val_hr, nu * sizeof(double)};
    parts[4] = (ckpt_part){p->m->val_ndcg, nu * sizeof(double)};
    parts[5] = (ckpt_part){p->m->test_hr, nu * sizeof(double)};
    parts[6] = (ckpt_part){p->m->test_ndcg, nu * sizeof(double)};
    parts[7] = (ckpt_part){p->m->shared, p->m->n_shared * sizeof(float)};
    if (!p->m->m_users)
        return 8;
    parts[8] = (ckpt_part){p->m->m_users, nu * d * sizeof(float)};
    parts[9] = (ckpt_part){p->m->v_users, nu * d * sizeof(float)};
    parts[10] = (ckpt_part){p->m->m_items, p->m->n_items * d * sizeof(float)};
    parts[11] = (ckpt_part){p->m->v_items, p->m->n_items * d * sizeof(float)};
    parts[12] = (ckpt_part){(void *)&p->m->adam_step, sizeof p->m->adam_step};
    return 13;
}

static uint64_t bytes_of(const ckpt_part *parts, size_t n)
{
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += parts[k].bytes;
    return total;
}

/* A model's arrays in file order after its head (start: its
 * personal_start as 64-bit offsets, n_users + 1 of them). */
static size_t model_parts(const fr_pfedrec_model *m, const ckpt_model_head *h, uint64_t *start, ckpt_part *parts)
{
    size_t nu = m->n_users, d = (size_t)h->dim, n = 0;
    parts[n++] = (ckpt_part){m->items, m->n_items * d * sizeof(float)};
    parts[n++] = (ckpt_part){m->w, nu * d * sizeof(float)};
    parts[n++] = (ckpt_part){m->b, nu * sizeof(float)};
    parts[n++] = (ckpt_part){m->shared, (size_t)h->n_shared * sizeof(float)};
    if (h->personal) {
        parts[n++] = (ckpt_part){start, (nu + 1) * sizeof(uint64_t)};
        parts[n++] = (ckpt_part){m->personal_items, (size_t)h->n_personal * sizeof(int32_t)};
        parts[n++] = (ckpt_part){m->personal_rows, (size_t)h->n_personal * d * sizeof(float)};
    }
    return n;
}

static ckpt_model_head model_head(const fr_pfedrec_model *m)
{
    ckpt_model_head h;
    memset(&h, 0, sizeof h);
    h.round = m->round;
    h.personal = m->personal_start != NULL;
    h.dim = m->dim;
    h.n_shared = m->shared ? m->n_shared : 0;
    h.n_personal = m->personal_start ? m->personal_start[m->n_users] : 0;
    return h;
}

/* Bytes a model takes in the file, its head included. */
static uint64_t model_bytes(const fr_pfedrec_model *m)
{
    ckpt_model_head h = model_head(m);
    ckpt_part parts[8];
    size_t n = model_parts(m, &h, NULL, parts);
    return sizeof h + bytes_of(parts, n);
}

/* Write m (head, arrays); 0 out of memory (*s says so). */
static int write_model(fr_ckpt_writer *w, const fr_pfedrec_model *m, fr_status *s)
{
    ckpt_model_head h = model_head(m);
    uint64_t *start = NULL;
    if (h.personal) {
        start = malloc((m->n_users + 1) * sizeof *start);
        if (!start) {
            *s = fr_fail_nomem("checkpoint model", (m->n_users + 1) * sizeof *start);
            return 0;
        }
        for (size_t u = 0; u <= m->n_users; u++)
            start[u] = m->personal_start[u];
    }
    ckpt_part parts[8];
    size_t n = model_parts(m, &h, start, parts);
    fr_ckpt_write(w, &h, sizeof h);
    for (size_t k = 0; k < n; k++)
        fr_ckpt_write(w, parts[k].data, parts[k].bytes);
    free(start);
    return 1;
}

static fr_status save_file(const fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                           size_t n_extra, const fr_pfedrec_model *kept, const fr_pfedrec_model *best)
{
    if (n_extra > 64)
        return fr_fail(FR_ERR_INVALID, "checkpoint: at most 64 extra values");
    const char *config = p->o.job_fingerprint ? p->o.job_fingerprint : "";
    ckpt_part parts[16];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){(void *)extra, n_extra * sizeof *extra};
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, fr_ckpt_pfedrec.magic, sizeof h.magic);
    h.version = fr_ckpt_pfedrec.newest; /* the versions: io/checkpoint_file.c */
    h.rounds_done = rounds_done;
    h.algorithm = (uint32_t)p->o.algorithm;
    h.n_users = p->m->n_users;
    h.n_items = p->m->n_items;
    h.dim = p->m->dim;
    h.n_ratings = n_ratings_of(p->split);
    h.seed = p->o.seed;
    h.n_extra = n_extra;
    h.data_fingerprint = p->data_fingerprint;
    h.models = (kept ? CKPT_KEPT : 0u) | (best ? CKPT_BEST : 0u);
    h.config_bytes = strlen(config);
    h.payload_bytes = h.config_bytes + bytes_of(parts, n) + (kept ? model_bytes(kept) : 0) +
                      (best ? model_bytes(best) : 0);
    fr_ckpt_writer w;
    FR_TRY(fr_ckpt_write_open(&w, path));
    fr_ckpt_write(&w, &h, sizeof h);
    fr_ckpt_write(&w, config, (size_t)h.config_bytes);
    for (size_t k = 0; k < n; k++)
        fr_ckpt_write(&w, parts[k].data, parts[k].bytes);
    fr_status model_status = FR_OK;
    if ((kept && !write_model(&w, kept, &model_status)) || (best && !write_model(&w, best, &model_status))) {
        fr_ckpt_write_abort(&w);
        return model_status;
    }
    return fr_ckpt_write_commit(&w); /* the one it replaces kept as PATH.prev */
}

/* The header, then the file's length and checksum, before anything in it
 * is believed: a damaged file is called damaged, not another run's. */
static fr_status read_checked_header(FILE *f, const char *path, ckpt_header *h)
{
    FR_TRY(fr_ckpt_read_header(f, path, &fr_ckpt_pfedrec, h, sizeof *h, offsetof(ckpt_header, payload_bytes)));
    if (h->version < 4)
        h->models = 0; /* the field was reserved, written 0 */
    return FR_OK;
}

/* One model of the file (head, arrays) into m, checked against the
 * engine; *left: the payload bytes not yet read, less what it took. */
static fr_status read_model(FILE *f, const char *path, const fr_pfedrec *p, const char *which, fr_pfedrec_model *m,
                            uint64_t *left)
{
    ckpt_model_head h;
    if (*left < sizeof h || fread(&h, sizeof h, 1, f) != 1)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model is truncated", path, which);
    *left -= sizeof h;
    size_t nu = p->m->n_users, d = p->m->dim;
    /* Sizes against the engine before any is believed (allocated). */
    uint64_t per_personal = sizeof(int32_t) + (uint64_t)d * sizeof(float);
    if (h.dim != d || h.n_shared != (p->m->shared ? p->m->n_shared : 0) || h.personal > 1 ||
        h.n_personal > *left / per_personal)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model does not fit this run (rows of %llu, %llu layer values, %llu personal rows)",
                       path, which, (unsigned long long)h.dim, (unsigned long long)h.n_shared,
                       (unsigned long long)h.n_personal);
    memset(m, 0, sizeof *m);
    m->algorithm = p->o.algorithm;
    m->n_users = nu;
    m->n_items = p->m->n_items;
    m->dim = d;
    m->round = h.round;
    m->n_shared = p->m->n_shared;
    size_t np = (size_t)h.n_personal;
    uint64_t *start = NULL;
    m->items = malloc(p->m->n_items * d * sizeof *m->items);
    m->w = malloc((nu ? nu : 1) * d * sizeof *m->w);
    m->b = malloc((nu ? nu : 1) * sizeof *m->b);
    if (p->m->shared)
        m->shared = malloc(p->m->n_shared * sizeof *m->shared);
    if (h.personal) {
        start = malloc((nu + 1) * sizeof *start);
        m->personal_start = malloc((nu + 1) * sizeof *m->personal_start);
        m->personal_items = malloc((np ? np : 1) * sizeof *m->personal_items);
        m->personal_rows = malloc((np ? np : 1) * d * sizeof *m->personal_rows);
        m->personal_cap = np;
    }
    fr_status s = FR_OK;
    if (!m->items || !m->w || !m->b || (p->m->shared && !m->shared) ||
        (h.personal && (!start || !m->personal_start || !m->personal_items || !m->personal_rows)))
        s = fr_fail_nomem("checkpoint model", (p->m->n_items + nu) * d * sizeof(float) + np * per_personal);
    ckpt_part parts[8];
    size_t n = model_parts(m, &h, start, parts);
    if (s == FR_OK && bytes_of(parts, n) > *left)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model is truncated", path, which);
    for (size_t k = 0; s == FR_OK && k < n; k++)
        if (parts[k].bytes && fread(parts[k].data, parts[k].bytes, 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model is truncated", path, which);
    if (s == FR_OK)
        *left -= bytes_of(parts, n);
    for (size_t u = 0; s == FR_OK && h.personal && u <= nu; u++) {
        if (start[u] > np)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model: user %zu's personal rows start at %llu of %zu",
                        path, which, u, (unsigned long long)start[u], np);
        else
            m->personal_start[u] = (size_t)start[u];
    }
    if (s == FR_OK && h.personal && m->personal_start[nu] != np)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model holds %zu personal rows, its offsets end at %zu",
                    path, which, np, m->personal_start[nu]);
    if (s == FR_OK && fr_pf_model_check(p->m, m) != FR_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", fr_last_error());
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's %s model: %s", path, which, why);
    }
    free(start);
    if (s != FR_OK)
        fr_pfedrec_model_free(m);
    return s;
}

/* *models: the models the file held (CKPT_KEPT, CKPT_BEST), read into
 * kept and best (zeroed, or freed and zeroed on failure). */
static fr_status load_file(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                           size_t n_extra, fr_pfedrec_model *kept, fr_pfedrec_model *best, unsigned *models)
{
    memset(kept, 0, sizeof *kept);
    memset(best, 0, sizeof *best);
    *models = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path);
    ckpt_header h;
    memset(&h, 0, sizeof h);
    fr_status s = read_checked_header(f, path, &h);
    char *config = NULL;
    if (s == FR_OK)
        s = fr_ckpt_read_config(f, path, h.config_bytes, h.payload_bytes, &config);
    if (s == FR_OK)
        s = fr_ckpt_check_config(path, config, p->o.job_fingerprint);
    free(config);
    ckpt_part parts[16], copies[16];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){extra, n_extra * sizeof *extra};
    if (s == FR_OK && h.algorithm != (uint32_t)p->o.algorithm)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another algorithm (%u; this run: %u)", path,
                    h.algorithm, (unsigned)p->o.algorithm);
    else if (s == FR_OK && (h.n_users != p->m->n_users || h.n_items != p->m->n_items || h.dim != p->m->dim ||
             h.n_ratings != n_ratings_of(p->split) || h.seed != p->o.seed || h.n_extra != n_extra ||
             (h.models & ~(unsigned)(CKPT_KEPT | CKPT_BEST)) ||
             (h.models ? h.payload_bytes <= h.config_bytes + bytes_of(parts, n)
                       : h.payload_bytes != h.config_bytes + bytes_of(parts, n))))
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (%llu users, %llu items, %llu ratings, dim %llu, seed %llu; this run: %zu, %zu, %llu, %zu, %llu)",
                    path, (unsigned long long)h.n_users, (unsigned long long)h.n_items,
                    (unsigned long long)h.n_ratings, (unsigned long long)h.dim,
                    (unsigned long long)h.seed, p->m->n_users, p->m->n_items,
                    (unsigned long long)n_ratings_of(p->split), p->m->dim,
                    (unsigned long long)p->o.seed);
    else if (s == FR_OK && h.data_fingerprint != p->data_fingerprint)
        s = fr_fail(FR_ERR_DATA, "%s: the checkpoint was written on other data: the same %zu users, %zu items and %llu ratings, but other contents (training items, held-out items or evaluation negatives; contents fingerprint %016llx, this run's %016llx)",
                    path, p->m->n_users, p->m->n_items, (unsigned long long)n_ratings_of(p->split),
                    (unsigned long long)h.data_fingerprint, (unsigned long long)p->data_fingerprint);
    /* Read everything into copies first: a bad file changes nothing. */
    memset(copies, 0, sizeof copies);
    for (size_t k = 0; s == FR_OK && k < n; k++) {
        copies[k].bytes = parts[k].bytes;
        copies[k].data = malloc(parts[k].bytes ? parts[k].bytes : 1);
        if (!copies[k].data)
            s = fr_fail_nomem("checkpoint", parts[k].bytes);
        else if (parts[k].bytes && fread(copies[k].data, parts[k].bytes, 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    }
    uint64_t left = s == FR_OK ? h.payload_bytes - h.config_bytes - bytes_of(parts, n) : 0;
    if (s == FR_OK && (h.models & CKPT_KEPT))
        s = read_model(f, path, p, "kept", kept, &left);
    if (s == FR_OK && (h.models & CKPT_BEST))
        s = read_model(f, path, p, "best", best, &left);
    if (s == FR_OK && left != 0)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's models do not fill its %llu bytes (%llu left over)", path,
                    (unsigned long long)h.payload_bytes, (unsigned long long)left);
    fclose(f);
    for (size_t k = 0; k < n; k++) {
        if (s == FR_OK && parts[k].bytes)
            memcpy(parts[k].data, copies[k].data, parts[k].bytes);
        free(copies[k].data);
    }
    if (s == FR_OK) {
        *rounds_done = h.rounds_done;
        *models = h.models;
    } else {
        fr_pfedrec_model_free(kept);
        fr_pfedrec_model_free(best);
    }
    return s;
}

/* load_file, and when the file is refused while PATH.prev exists, the
 * message says so (nothing is changed either way). */
static fr_status load_checked(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                              size_t n_extra, fr_pfedrec_model *kept, fr_pfedrec_model *best, unsigned *models)
{
    return fr_ckpt_name_prev(load_file(p, path, rounds_done, extra, n_extra, kept, best, models), path);
}

/* Several ranks: rank 0's model m to every rank (a head, then the
 * arrays; the others allocate). Collective. */
static fr_status broadcast_model(fr_pfedrec *p, fr_pfedrec_model *m)
{
    ckpt_model_head h;
    memset(&h, 0, sizeof h);
    if (fr_pf_rank(p) == 0)
        h = model_head(m);
    FR_TRY(fr_comm_bcast(fr_pf_comm(p), 0, &h, sizeof h));
    size_t nu = p->m->n_users, np = (size_t)h.n_personal;
    fr_status s = FR_OK;
    if (fr_pf_rank(p) != 0) {
        memset(m, 0, sizeof *m);
        m->algorithm = p->o.algorithm;
        m->n_users = nu;
        m->n_items = p->m->n_items;
        m->dim = (size_t)h.dim;
        m->round = h.round;
        m->n_shared = p->m->n_shared;
        m->items = malloc(p->m->n_items * m->dim * sizeof *m->items);
        m->w = malloc((nu ? nu : 1) * m->dim * sizeof *m->w);
        m->b = malloc((nu ? nu : 1) * sizeof *m->b);
        if (h.n_shared)
            m->shared = malloc((size_t)h.n_shared * sizeof *m->shared);
        if (h.personal) {
            m->personal_start = malloc((nu + 1) * sizeof *m->personal_start);
            m->personal_items = malloc((np ? np : 1) * sizeof *m->personal_items);
            m->personal_rows = malloc((np ? np : 1) * m->dim * sizeof *m->personal_rows);
            m->personal_cap = np;
        }
        if (!m->items || !m->w || !m->b || (h.n_shared && !m->shared) ||
            (h.personal && (!m->personal_start || !m->personal_items || !m->personal_rows)))
            s = fr_fail_nomem("checkpoint model", (p->m->n_items + nu) * m->dim * sizeof(float));
    }
    uint64_t *start = NULL;
    if (s == FR_OK && h.personal && !(start = malloc((nu + 1) * sizeof *start)))
        s = fr_fail_nomem("checkpoint model", (nu + 1) * sizeof *start);
    /* Every rank learns whether all could allocate before any array
     * travels: a rank leaving alone would leave the others in a bcast. */
    s = fr_comm_agree(fr_pf_comm(p), s);
    if (s != FR_OK) {
        if (fr_pf_rank(p) != 0)
            fr_pfedrec_model_free(m);
        free(start);
        return s;
    }
    for (size_t u = 0; h.personal && fr_pf_rank(p) == 0 && u <= nu; u++)
        start[u] = m->personal_start[u];
    ckpt_part parts[8];
    size_t n = model_parts(m, &h, start, parts);
    for (size_t k = 0; s == FR_OK && k < n; k++)
        if (parts[k].bytes)
            s = fr_comm_bcast(fr_pf_comm(p), 0, parts[k].data, parts[k].bytes);
    for (size_t u = 0; s == FR_OK && h.personal && fr_pf_rank(p) != 0 && u <= nu; u++)
        m->personal_start[u] = (size_t)start[u];
    free(start);
    return s;
}

fr_status fr_pfedrec_save_models(fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                                 size_t n_extra, fr_pfedrec_model *best)
{
    /* What the engine keeps for saving, as of its last round. */
    fr_pfedrec_model kept;
    memset(&kept, 0, sizeof kept);
    int with_kept = p->m->keep && p->m->kept_round > 0;
    fr_status s = with_kept ? fr_pfedrec_model_take(p, &kept) : FR_OK;
    if (fr_pf_ranks(p) <= 1) {
        if (s == FR_OK)
            s = save_file(p, path, rounds_done, extra, n_extra, with_kept ? &kept : NULL, best);
        fr_pfedrec_model_free(&kept);
        return s;
    }
    /* Rank 0 collects every client's part of the models and its score
     * function, then writes. */
    if (with_kept) {
        s = fr_comm_agree(fr_pf_comm(p), s);
        if (s == FR_OK)
            s = fr_pfedrec_model_gather(p, &kept);
    }
    if (s == FR_OK && best)
        s = fr_pfedrec_model_gather(p, best);
    if (s == FR_OK)
        s = fr_pf_gather_personal(p);
    if (s == FR_OK) {
        s = fr_pf_rank(p) == 0 ? save_file(p, path, rounds_done, extra, n_extra, with_kept ? &kept : NULL, best) : FR_OK;
        s = fr_comm_agree(fr_pf_comm(p), s);
    }
    fr_pfedrec_model_free(&kept);
    return s;
}

fr_status fr_pfedrec_save(fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                          size_t n_extra)
{
    return fr_pfedrec_save_models(p, path, rounds_done, extra, n_extra, NULL);
}

fr_status fr_pfedrec_load_models(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                                 size_t n_extra, fr_pfedrec_model *best, int *held)
{
    fr_pfedrec_model kept, got;
    unsigned models = 0;
    fr_status s;
    if (fr_pf_ranks(p) <= 1) {
        s = load_checked(p, path, rounds_done, extra, n_extra, &kept, &got, &models);
    } else {
        /* Rank 0 reads (the other ranks need not see the file), then
         * every rank takes its state: any rank count resumes any
         * checkpoint. */
        memset(&kept, 0, sizeof kept);
        memset(&got, 0, sizeof got);
        s = fr_pf_rank(p) == 0 ? load_checked(p, path, rounds_done, extra, n_extra, &kept, &got, &models) : FR_OK;
        FR_TRY(fr_comm_agree(fr_pf_comm(p), s));
        s = fr_pf_broadcast_state(p, rounds_done, extra, n_extra);
        if (s == FR_OK)
            s = fr_comm_bcast(fr_pf_comm(p), 0, &models, sizeof models);
        /* Every rank gets the models whole: each then holds its own
         * clients' parts, as after fr_pfedrec_model_take. */
        if (s == FR_OK && (models & CKPT_KEPT))
            s = broadcast_model(p, &kept);
        if (s == FR_OK && (models & CKPT_BEST))
            s = broadcast_model(p, &got);
        s = fr_comm_agree(fr_pf_comm(p), s);
    }
    if (s == FR_OK && (models & CKPT_KEPT))
        s = fr_pf_keep_restore(p->m, &kept);
    fr_pfedrec_model_free(&kept);
    if (s == FR_OK && best && (models & CKPT_BEST)) {
        fr_pfedrec_model_free(best);
        *best = got;
    } else {
        fr_pfedrec_model_free(&got);
    }
    if (held)
        *held = s == FR_OK ? (int)(((models & CKPT_KEPT) && p->m->keep ? FR_PFEDREC_HELD_KEPT : 0) |
                                   ((models & CKPT_BEST) && best ? FR_PFEDREC_HELD_BEST : 0))
                           : 0;
    return s;
}

fr_status fr_pfedrec_load(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                          size_t n_extra)
{
    return fr_pfedrec_load_models(p, path, rounds_done, extra, n_extra, NULL, NULL);
}
