/* pfedrec_checkpoint.c — saving and resuming the rating engine (see
 * fedrec/pfedrec.h): one atomic file with a header, the arrays and a
 * CRC-32; read into copies and checked before anything is replaced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "fed/pfedrec_internal.h"
#include "io/atomic_file.h"
#include "io/crc32.h"



/* 2: the algorithm in the header; FedNCF's layers and centralised MF's
 * Adam state among the arrays. */
#define CKPT_VERSION 2u
static const char ckpt_magic[8] = {'F', 'R', 'P', 'F', 'R', 'E', 'C', '\n'};

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, rounds_done;
    uint32_t algorithm, reserved;
    uint64_t n_users, n_items, dim, n_ratings, seed, n_extra;
} ckpt_header;

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
    size_t nu = p->n_users, d = p->dim;
    parts[0] = (ckpt_part){p->items, p->n_items * d * sizeof(float)};
    parts[1] = (ckpt_part){p->w, nu * d * sizeof(float)};
    parts[2] = (ckpt_part){p->b, nu * sizeof(float)};
    parts[3] = (ckpt_part){p->val_hr, nu * sizeof(double)};
    parts[4] = (ckpt_part){p->val_ndcg, nu * sizeof(double)};
    parts[5] = (ckpt_part){p->test_hr, nu * sizeof(double)};
    parts[6] = (ckpt_part){p->test_ndcg, nu * sizeof(double)};
    parts[7] = (ckpt_part){p->shared, p->n_shared * sizeof(float)};
    if (!p->m_users)
        return 8;
    parts[8] = (ckpt_part){p->m_users, nu * d * sizeof(float)};
    parts[9] = (ckpt_part){p->v_users, nu * d * sizeof(float)};
    parts[10] = (ckpt_part){p->m_items, p->n_items * d * sizeof(float)};
    parts[11] = (ckpt_part){p->v_items, p->n_items * d * sizeof(float)};
    parts[12] = (ckpt_part){(void *)&p->adam_step, sizeof p->adam_step};
    return 13;
}

static fr_status save_file(const fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                           size_t n_extra)
{
    if (n_extra > 64)
        return fr_fail(FR_ERR_INVALID, "checkpoint: at most 64 extra values");
    ckpt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, ckpt_magic, sizeof h.magic);
    h.version = CKPT_VERSION;
    h.rounds_done = rounds_done;
    h.algorithm = (uint32_t)p->o.algorithm;
    h.n_users = p->n_users;
    h.n_items = p->n_items;
    h.dim = p->dim;
    h.n_ratings = n_ratings_of(p->split);
    h.seed = p->o.seed;
    h.n_extra = n_extra;
    fr_atomic_file af;
    FR_TRY(fr_atomic_open(&af, path));
    ckpt_part parts[16];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){(void *)extra, n_extra * sizeof *extra};
    /* Native byte order: checkpoints resume a run on the machine family
     * that wrote them; the header check refuses a foreign layout. */
    uint32_t crc = fr_crc32(0, &h, sizeof h);
    int ok = fwrite(&h, sizeof h, 1, af.f) == 1;
    for (size_t k = 0; ok && k < n; k++) {
        crc = fr_crc32(crc, parts[k].data, parts[k].bytes);
        ok = parts[k].bytes == 0 || fwrite(parts[k].data, parts[k].bytes, 1, af.f) == 1;
    }
    ok = ok && fwrite(&crc, sizeof crc, 1, af.f) == 1;
    if (!ok) {
        fr_atomic_abort(&af);
        return fr_fail(FR_ERR_IO, "%s: cannot write the checkpoint (the previous one, if any, is kept)", path);
    }
    /* The checkpoint it replaces stays beside it as PATH.prev. */
    char *prev = malloc(strlen(path) + 6);
    if (!prev) {
        fr_atomic_abort(&af);
        return fr_fail_nomem("file name", strlen(path) + 6);
    }
    sprintf(prev, "%s.prev", path);
    fr_status st = fr_atomic_commit_keep(&af, prev);
    free(prev);
    return st;
}

static fr_status load_file(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                           size_t n_extra)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path);
    ckpt_header h;
    fr_status s = FR_OK;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, ckpt_magic, sizeof h.magic) != 0)
        s = fr_fail(FR_ERR_FORMAT, "%s: not a fedrec PFedRec checkpoint", path);
    else if (h.version != CKPT_VERSION)
        s = fr_fail(FR_ERR_FORMAT, "%s: checkpoint version %u, this fedrec reads %u", path, h.version,
                    CKPT_VERSION);
    else if (h.algorithm != (uint32_t)p->o.algorithm)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another algorithm (%u; this run: %u)", path,
                    h.algorithm, (unsigned)p->o.algorithm);
    else if (h.n_users != p->n_users || h.n_items != p->n_items || h.dim != p->dim ||
             h.n_ratings != n_ratings_of(p->split) || h.seed != p->o.seed || h.n_extra != n_extra)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (%llu users, %llu items, %llu ratings, dim %llu, seed %llu; this run: %zu, %zu, %llu, %zu, %llu)",
                    path, (unsigned long long)h.n_users, (unsigned long long)h.n_items,
                    (unsigned long long)h.n_ratings, (unsigned long long)h.dim,
                    (unsigned long long)h.seed, p->n_users, p->n_items,
                    (unsigned long long)n_ratings_of(p->split), p->dim,
                    (unsigned long long)p->o.seed);
    /* Read everything into copies first: a bad file changes nothing. */
    ckpt_part parts[16], copies[16];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){extra, n_extra * sizeof *extra};
    memset(copies, 0, sizeof copies);
    uint32_t crc = fr_crc32(0, &h, sizeof h), stored = 0;
    for (size_t k = 0; s == FR_OK && k < n; k++) {
        copies[k].bytes = parts[k].bytes;
        copies[k].data = malloc(parts[k].bytes ? parts[k].bytes : 1);
        if (!copies[k].data)
            s = fr_fail_nomem("checkpoint", parts[k].bytes);
        else if (parts[k].bytes && fread(copies[k].data, parts[k].bytes, 1, f) != 1)
            s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        else
            crc = fr_crc32(crc, copies[k].data, parts[k].bytes);
    }
    if (s == FR_OK && fread(&stored, sizeof stored, 1, f) != 1)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (s == FR_OK && stored != crc)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is corrupt (checksum %08x, expected %08x)", path, crc, stored);
    if (s == FR_OK && fgetc(f) != EOF)
        s = fr_fail(FR_ERR_FORMAT, "%s: unexpected bytes after the checkpoint", path);
    fclose(f);
    for (size_t k = 0; k < n; k++) {
        if (s == FR_OK && parts[k].bytes)
            memcpy(parts[k].data, copies[k].data, parts[k].bytes);
        free(copies[k].data);
    }
    if (s == FR_OK)
        *rounds_done = h.rounds_done;
    return s;
}

/* load_file, and when the file is refused while PATH.prev exists, the
 * message says so (nothing is changed either way). */
static fr_status load_checked(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                              size_t n_extra)
{
    fr_status s = load_file(p, path, rounds_done, extra, n_extra);
    if (s == FR_OK || (s != FR_ERR_FORMAT && s != FR_ERR_IO))
        return s;
    char prev[4096];
    if (snprintf(prev, sizeof prev, "%s.prev", path) >= (int)sizeof prev || access(prev, R_OK) != 0)
        return s;
    char why[1024];
    snprintf(why, sizeof why, "%s", fr_last_error());
    return fr_fail(s, "%s; the checkpoint before it is kept in %s: resume from it with --set output.checkpoint=%s",
                   why, prev, prev);
}

fr_status fr_pfedrec_save(fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                          size_t n_extra)
{
    if (p->ranks <= 1)
        return save_file(p, path, rounds_done, extra, n_extra);
    /* Rank 0 collects every client's score function, then writes. */
    FR_TRY(fr_pf_gather_personal(p));
    fr_status s = p->rank == 0 ? save_file(p, path, rounds_done, extra, n_extra) : FR_OK;
    return fr_comm_agree(p->comm, s);
}

fr_status fr_pfedrec_load(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                          size_t n_extra)
{
    if (p->ranks <= 1)
        return load_checked(p, path, rounds_done, extra, n_extra);
    /* Rank 0 reads (the other ranks need not see the file), then every
     * rank takes its state: any rank count resumes any checkpoint. */
    fr_status s = p->rank == 0 ? load_checked(p, path, rounds_done, extra, n_extra) : FR_OK;
    FR_TRY(fr_comm_agree(p->comm, s));
    return fr_pf_broadcast_state(p, rounds_done, extra, n_extra);
}
