/* checkpoint_file.c — the container every checkpoint shares (see
 * checkpoint_file.h): the atomic write with its CRC and PATH.prev, and
 * the checks of a file read back before any of it is believed. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_internal.h"
#include "fedrec/config.h"
#include "io/checkpoint_file.h"
#include "io/crc32.h"

/* 2: the algorithm in the header; FedNCF's layers and centralised MF's
 * Adam state among the arrays. 3: the job fingerprint (the configuration
 * as text, then the arrays) and the hash of the split's contents. 4: the
 * header's `models` flags, and after the arrays the models they name (a
 * version 3 file, which has none, still loads). */
const fr_ckpt_kind fr_ckpt_pfedrec = {{'F', 'R', 'P', 'F', 'R', 'E', 'C', '\n'},
                                      "PFedRec",
                                      "the rating jobs (job.kind = pfedrec, fedmf, fedncf or central-mf)",
                                      3,
                                      4};
/* 1: the first. */
const fr_ckpt_kind fr_ckpt_msmt = {{'F', 'R', 'M', 'S', 'M', 'T', 'C', '\n'},
                                   "msmt",
                                   "the centralised multi-scenario job (job.kind = msmt)",
                                   1,
                                   1};

/* 1: the first. */
const fr_ckpt_kind fr_ckpt_mtrec = {{'F', 'R', 'M', 'T', 'R', 'E', 'C', '\n'},
                                    "mtrec",
                                    "the central multi-task job (job.kind = mtrec)",
                                    1,
                                    1};

/* 1: the first. */
const fr_ckpt_kind fr_ckpt_fedmsmt = {{'F', 'R', 'F', 'D', 'M', 'S', 'M', '\n'},
                                      "fedmsmt",
                                      "the federated multi-scenario multi-task job (job.kind = fedmsmt)",
                                      1,
                                      1};

static const fr_ckpt_kind *const kinds[] = {&fr_ckpt_pfedrec, &fr_ckpt_msmt, &fr_ckpt_mtrec, &fr_ckpt_fedmsmt};

/* A configuration fingerprint is a few kilobytes; more is a damaged file. */
#define MAX_CONFIG_BYTES (16u << 20)

/* ---- writing ---------------------------------------------------------- */

fr_status fr_ckpt_write_open(fr_ckpt_writer *w, const char *path)
{
    w->crc = 0;
    w->failed = 0;
    return fr_atomic_open(&w->af, path);
}

void fr_ckpt_write(fr_ckpt_writer *w, const void *data, size_t bytes)
{
    if (w->failed || bytes == 0)
        return;
    w->crc = fr_crc32(w->crc, data, bytes);
    if (fwrite(data, bytes, 1, w->af.f) != 1)
        w->failed = 1;
}

fr_status fr_ckpt_write_commit(fr_ckpt_writer *w)
{
    uint32_t crc = w->crc;
    fr_ckpt_write(w, &crc, sizeof crc);
    if (w->failed) {
        char *path = w->af.path;
        w->af.path = NULL; /* kept for the message */
        fr_atomic_abort(&w->af);
        fr_status s = fr_fail(FR_ERR_IO, "%s: cannot write the checkpoint (the previous one, if any, is kept)", path);
        free(path);
        return s;
    }
    /* The checkpoint it replaces stays beside it as PATH.prev. */
    size_t n = strlen(w->af.path) + 6;
    char *prev = malloc(n);
    if (!prev) {
        fr_atomic_abort(&w->af);
        return fr_fail_nomem("file name", n);
    }
    snprintf(prev, n, "%s.prev", w->af.path);
    fr_status s = fr_atomic_commit_keep(&w->af, prev);
    free(prev);
    return s;
}

void fr_ckpt_write_abort(fr_ckpt_writer *w)
{
    fr_atomic_abort(&w->af);
}

/* ---- reading ---------------------------------------------------------- */

const fr_ckpt_kind *fr_ckpt_kind_of(const void *start, size_t n)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (n >= sizeof kinds[k]->magic && !memcmp(start, kinds[k]->magic, sizeof kinds[k]->magic))
            return kinds[k];
    return NULL;
}

fr_status fr_ckpt_read_header(FILE *f, const char *path, const fr_ckpt_kind *kind, void *header, size_t header_bytes,
                              size_t payload_offset)
{
    unsigned char *h = header;
    memset(h, 0, header_bytes);
    size_t got = fread(h, 1, header_bytes, f);
    const fr_ckpt_kind *found = fr_ckpt_kind_of(h, got);
    if (found && found != kind)
        return fr_fail(FR_ERR_FORMAT, "%s: a checkpoint of %s, not of %s: a run resumes only from its own job's checkpoints",
                       path, found->jobs, kind->jobs);
    if (!found)
        return fr_fail(FR_ERR_FORMAT, "%s: not a fedrec %s checkpoint", path, kind->name);
    /* A file shorter than a header may be a cut checkpoint. */
    if (got < header_bytes)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    uint32_t version;
    memcpy(&version, h + 8, sizeof version);
    if (version < kind->oldest || version > kind->newest) {
        if (kind->oldest == kind->newest)
            return fr_fail(FR_ERR_FORMAT, "%s: checkpoint version %u, this fedrec reads %u", path, version,
                           kind->newest);
        return fr_fail(FR_ERR_FORMAT, "%s: checkpoint version %u, this fedrec reads %u to %u", path, version,
                       kind->oldest, kind->newest);
    }
    uint64_t payload;
    memcpy(&payload, h + payload_offset, sizeof payload);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return fr_fail(FR_ERR_IO, "%s: cannot read the checkpoint's size", path);
    uint64_t size = (uint64_t)sb.st_size, rest = size - header_bytes;
    if (rest < 4 || payload > rest - 4)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    if (payload < rest - 4)
        return fr_fail(FR_ERR_FORMAT, "%s: unexpected bytes after the checkpoint", path);
    uint32_t crc = fr_crc32(0, h, header_bytes), stored = 0;
    unsigned char buf[1 << 16];
    for (uint64_t left = payload; left > 0;) {
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
    if (fseek(f, (long)header_bytes, SEEK_SET) != 0)
        return fr_fail(FR_ERR_IO, "%s: cannot read the checkpoint", path);
    return FR_OK;
}

fr_status fr_ckpt_read_config(FILE *f, const char *path, uint64_t config_bytes, uint64_t payload_bytes, char **out)
{
    *out = NULL;
    if (config_bytes > payload_bytes || config_bytes > MAX_CONFIG_BYTES)
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint's configuration is %llu bytes long, expected at most %u",
                       path, (unsigned long long)config_bytes, MAX_CONFIG_BYTES);
    char *text = malloc((size_t)config_bytes + 1);
    if (!text)
        return fr_fail_nomem("checkpoint configuration", (size_t)config_bytes + 1);
    if (config_bytes && fread(text, (size_t)config_bytes, 1, f) != 1) {
        free(text);
        return fr_fail(FR_ERR_FORMAT, "%s: the checkpoint is truncated", path);
    }
    text[config_bytes] = '\0';
    *out = text;
    return FR_OK;
}

fr_status fr_ckpt_check_config(const char *path, const char *stored, const char *now)
{
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

fr_status fr_ckpt_name_prev(fr_status s, const char *path)
{
    if (s != FR_ERR_FORMAT && s != FR_ERR_IO)
        return s;
    char prev[4096];
    if (snprintf(prev, sizeof prev, "%s.prev", path) >= (int)sizeof prev || access(prev, R_OK) != 0)
        return s;
    char why[1024];
    snprintf(why, sizeof why, "%s", fr_last_error());
    return fr_fail(s, "%s; the checkpoint before it is kept in %s: resume from it with --set output.checkpoint=%s",
                   why, prev, prev);
}

fr_status fr_ckpt_read_check_config(FILE *f, const char *path, uint64_t config_bytes, uint64_t payload_bytes,
                                    const char *now)
{
    char *config = NULL;
    FR_TRY(fr_ckpt_read_config(f, path, config_bytes, payload_bytes, &config));
    fr_status s = fr_ckpt_check_config(path, config, now);
    free(config);
    return s;
}
