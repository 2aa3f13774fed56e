/* pfedrec_checkpoint.c — saving and resuming the rating engine (see
 * fedrec/pfedrec.h): one atomic file with a header, the job fingerprint,
 * the arrays and a CRC-32; checked whole (length, checksum), then against
 * this run (configuration, algorithm, sizes, data), then read into copies
 * before anything is replaced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "fed/pfedrec_internal.h"
#include "fedrec/config.h"
#include "io/atomic_file.h"
#include "io/crc32.h"



/* 2: the algorithm in the header; FedNCF's layers and centralised MF's
 * Adam state among the arrays. 3: the job fingerprint (the configuration
 * as text, then the arrays) and the hash of the split's contents. */
#define CKPT_VERSION 3u
static const char ckpt_magic[8] = {'F', 'R', 'P', 'F', 'R', 'E', 'C', '\n'};

/* A configuration fingerprint is a few kilobytes; more is a damaged file. */
#define CKPT_MAX_CONFIG_BYTES (16u << 20)

typedef struct ckpt_header {
    char magic[8];
    uint32_t version, rounds_done;
    uint32_t algorithm, reserved;
    uint64_t n_users, n_items, dim, n_ratings, seed, n_extra;
    uint64_t data_fingerprint;
    /* After the header: config_bytes of job fingerprint (no NUL), then the
     * arrays; payload_bytes is both; then the CRC-32 of all before it. */
    uint64_t config_bytes, payload_bytes;
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

static uint64_t bytes_of(const ckpt_part *parts, size_t n)
{
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += parts[k].bytes;
    return total;
}

static fr_status save_file(const fr_pfedrec *p, const char *path, unsigned rounds_done, const double *extra,
                           size_t n_extra)
{
    if (n_extra > 64)
        return fr_fail(FR_ERR_INVALID, "checkpoint: at most 64 extra values");
    const char *config = p->o.job_fingerprint ? p->o.job_fingerprint : "";
    ckpt_part parts[16];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){(void *)extra, n_extra * sizeof *extra};
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
    h.data_fingerprint = p->data_fingerprint;
    h.config_bytes = strlen(config);
    h.payload_bytes = h.config_bytes + bytes_of(parts, n);
    fr_atomic_file af;
    FR_TRY(fr_atomic_open(&af, path));
    /* Native byte order: checkpoints resume a run on the machine family
     * that wrote them; the header check refuses a foreign layout. */
    uint32_t crc = fr_crc32(0, &h, sizeof h);
    crc = fr_crc32(crc, config, (size_t)h.config_bytes);
    int ok = fwrite(&h, sizeof h, 1, af.f) == 1 &&
             (h.config_bytes == 0 || fwrite(config, (size_t)h.config_bytes, 1, af.f) == 1);
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

/* The header, then the file's length and checksum, before anything in it
 * is believed: a damaged file is called damaged, not another run's. */
static fr_status read_checked_header(FILE *f, const char *path, ckpt_header *h)
{
    if (fread(h, sizeof *h, 1, f) != 1 || memcmp(h->magic, ckpt_magic, sizeof h->magic) != 0) {
        /* A file shorter than a header may be a cut checkpoint. */
        if (!memcmp(h->magic, ckpt_magic, sizeof h->magic))
            return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        return fr_fail(FR_ERR_FORMAT, "%s: not a fedrec PFedRec checkpoint", path);
    }
    if (h->version != CKPT_VERSION)
        return fr_fail(FR_ERR_FORMAT, "%s: checkpoint version %u, this fedrec reads %u", path, h->version,
                       CKPT_VERSION);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return fr_fail(FR_ERR_IO, "%s: cannot read the checkpoint's size", path);
    uint64_t size = (uint64_t)sb.st_size, rest = size - sizeof *h;
    if (rest < 4 || h->payload_bytes > rest - 4)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (h->payload_bytes < rest - 4)
        return fr_fail(FR_ERR_FORMAT, "%s: unexpected bytes after the checkpoint", path);
    uint32_t crc = fr_crc32(0, h, sizeof *h), stored = 0;
    unsigned char buf[1 << 16];
    for (uint64_t left = h->payload_bytes; left > 0;) {
        size_t chunk = left < sizeof buf ? (size_t)left : sizeof buf;
        if (fread(buf, chunk, 1, f) != 1)
            return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
        crc = fr_crc32(crc, buf, chunk);
        left -= chunk;
    }
    if (fread(&stored, sizeof stored, 1, f) != 1)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (stored != crc)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is corrupt (checksum %08x, expected %08x)", path, crc,
                       stored);
    if (h->config_bytes > h->payload_bytes || h->config_bytes > CKPT_MAX_CONFIG_BYTES)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's configuration is %llu bytes long, expected at most %u",
                       path, (unsigned long long)h->config_bytes, CKPT_MAX_CONFIG_BYTES);
    if (fseek(f, (long)sizeof *h, SEEK_SET) != 0)
        return fr_fail(FR_ERR_IO, "%s: cannot read the checkpoint", path);
    return FR_OK;
}

/* The stored job fingerprint against this run's. */
static fr_status check_config(const fr_pfedrec *p, const char *path, const char *stored)
{
    const char *now = p->o.job_fingerprint;
    if (!now)
        return FR_OK; /* the caller gave none: only the data and sizes count */
    if (!*stored)
        return fr_fail(FR_ERR_CONFIG, "%s: the checkpoint holds no configuration to check this run's against (it was written without one)",
                       path);
    char differences[2048], may_change[512], per_rank[256];
    size_t n = fr_config_fingerprint_compare(stored, now, 1, "checkpoint", "now", differences, sizeof differences);
    if (n == 0)
        return FR_OK;
    if (n == FR_CONFIG_COMPARE_NOMEM)
        return fr_fail(FR_ERR_NOMEM, "%s: out of memory comparing the checkpoint's configuration with this run's", path);
    fr_config_rule_keys(FR_FP_RESUME_MAY_CHANGE, may_change, sizeof may_change);
    fr_config_rule_keys(FR_FP_PER_RANK, per_rank, sizeof per_rank);
    return fr_fail(FR_ERR_CONFIG, "%s: the checkpoint was written under another configuration, %zu key%s differ%s: %s (a resume may change only %s, %s: doc/RELIABILITY.md)",
                   path, n, n == 1 ? "" : "s", n == 1 ? "s" : "", differences, may_change, per_rank);
}

static fr_status load_file(fr_pfedrec *p, const char *path, unsigned *rounds_done, double *extra,
                           size_t n_extra)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fr_fail(FR_ERR_IO, "%s: cannot open the checkpoint", path);
    ckpt_header h;
    memset(&h, 0, sizeof h);
    fr_status s = read_checked_header(f, path, &h);
    char *config = NULL;
    if (s == FR_OK && !(config = malloc((size_t)h.config_bytes + 1)))
        s = fr_fail_nomem("checkpoint configuration", (size_t)h.config_bytes + 1);
    if (s == FR_OK && h.config_bytes && fread(config, (size_t)h.config_bytes, 1, f) != 1)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (s == FR_OK) {
        config[h.config_bytes] = '\0';
        s = check_config(p, path, config);
    }
    free(config);
    ckpt_part parts[16], copies[16];
    size_t n = parts_of(p, parts);
    parts[n++] = (ckpt_part){extra, n_extra * sizeof *extra};
    if (s == FR_OK && h.algorithm != (uint32_t)p->o.algorithm)
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another algorithm (%u; this run: %u)", path,
                    h.algorithm, (unsigned)p->o.algorithm);
    else if (s == FR_OK && (h.n_users != p->n_users || h.n_items != p->n_items || h.dim != p->dim ||
             h.n_ratings != n_ratings_of(p->split) || h.seed != p->o.seed || h.n_extra != n_extra ||
             h.payload_bytes != h.config_bytes + bytes_of(parts, n)))
        s = fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is of another run (%llu users, %llu items, %llu ratings, dim %llu, seed %llu; this run: %zu, %zu, %llu, %zu, %llu)",
                    path, (unsigned long long)h.n_users, (unsigned long long)h.n_items,
                    (unsigned long long)h.n_ratings, (unsigned long long)h.dim,
                    (unsigned long long)h.seed, p->n_users, p->n_items,
                    (unsigned long long)n_ratings_of(p->split), p->dim,
                    (unsigned long long)p->o.seed);
    else if (s == FR_OK && h.data_fingerprint != p->data_fingerprint)
        s = fr_fail(FR_ERR_DATA, "%s: the checkpoint was written on other data: the same %zu users, %zu items and %llu ratings, but other contents (training items, held-out items or evaluation negatives; contents fingerprint %016llx, this run's %016llx)",
                    path, p->n_users, p->n_items, (unsigned long long)n_ratings_of(p->split),
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
